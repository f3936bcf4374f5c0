//! The price table: per model, US dollars per million input and output tokens, set in code
//! or loaded from a JSON file. A model the table does not list is unpriced: its tokens are
//! counted as such, never priced by a guess (no prefix or family matching).

use std::collections::HashMap;
use std::path::Path;

/// Prices of one model, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Dollars per million input (prompt) tokens.
    pub input_per_million_usd: f64,
    /// Dollars per million output (completion) tokens.
    pub output_per_million_usd: f64,
}

/// Prices by exact model name.
///
/// ```
/// use mlotel::genai::PriceTable;
/// let prices = PriceTable::from_json_str(
///     r#"{"models": {"gpt-4o": {"input_per_million_usd": 2.5, "output_per_million_usd": 10.0}}}"#,
/// )?;
/// assert_eq!(prices.cost("gpt-4o", 1_000_000, 0), Some(2.5));
/// assert_eq!(prices.cost("gpt-4o-mini", 10, 10), None); // unpriced, not guessed
/// # Ok::<(), mlotel::genai::PriceTableError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    models: HashMap<String, Price>,
}

/// Why a price table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PriceTableError {
    /// The file could not be read; check the path and its permissions.
    #[error("cannot read price table {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The reason.
        source: std::io::Error,
    },
    /// The JSON does not have the table's shape; the message names the field.
    #[error("price table is not valid: {0}")]
    Json(String),
    /// A price is negative or not a finite number.
    #[error("price of model {model:?} is not a finite, non-negative number: {value}")]
    BadPrice {
        /// The model.
        model: String,
        /// The offending value.
        value: f64,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    models: HashMap<String, Price>,
}

impl PriceTable {
    /// An empty table: every model is unpriced.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a model's prices.
    pub fn with(
        mut self,
        model: impl Into<String>,
        input_per_million_usd: f64,
        output_per_million_usd: f64,
    ) -> Result<Self, PriceTableError> {
        let model = model.into();
        let price = Price {
            input_per_million_usd,
            output_per_million_usd,
        };
        check(&model, &price)?;
        self.models.insert(model, price);
        Ok(self)
    }

    /// Reads `{"models": {"name": {"input_per_million_usd": .., "output_per_million_usd": ..}}}`.
    pub fn from_json_str(json: &str) -> Result<Self, PriceTableError> {
        let deserializer = &mut serde_json::Deserializer::from_str(json);
        let file: PriceFile = serde_path_to_error::deserialize(deserializer)
            .map_err(|error| PriceTableError::Json(error.to_string()))?;
        for (model, price) in &file.models {
            check(model, price)?;
        }
        Ok(Self {
            models: file.models,
        })
    }

    /// Reads the table from a JSON file (see [`from_json_str`](Self::from_json_str)).
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self, PriceTableError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PriceTableError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json_str(&text)
    }

    /// The prices of `model`, exactly as named.
    pub fn price(&self, model: &str) -> Option<Price> {
        self.models.get(model).copied()
    }

    /// Dollars for these tokens of `model`; `None` when the model is unpriced.
    pub fn cost(&self, model: &str, input_tokens: u64, output_tokens: u64) -> Option<f64> {
        self.price(model).map(|price| {
            (input_tokens as f64 * price.input_per_million_usd
                + output_tokens as f64 * price.output_per_million_usd)
                / 1e6
        })
    }

    /// Number of priced models.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether no model is priced.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

fn check(model: &str, price: &Price) -> Result<(), PriceTableError> {
    for value in [price.input_per_million_usd, price.output_per_million_usd] {
        if !value.is_finite() || value < 0.0 {
            return Err(PriceTableError::BadPrice {
                model: model.to_owned(),
                value,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens_of_each_type() {
        let table = PriceTable::new().with("m", 2.0, 8.0).expect("valid");
        let cost = table.cost("m", 500_000, 250_000).expect("priced");
        assert!((cost - 3.0).abs() < 1e-12, "{cost}");
        assert_eq!(table.cost("M", 1, 1), None, "exact names only");
    }

    #[test]
    fn bad_tables_name_their_fault() {
        let unknown_field = PriceTable::from_json_str(
            r#"{"models": {"m": {"input_per_million_usd": 1, "output_usd": 2}}}"#,
        )
        .expect_err("unknown field");
        assert!(
            unknown_field.to_string().contains("models.m"),
            "{unknown_field}"
        );
        let negative = PriceTable::from_json_str(
            r#"{"models": {"m": {"input_per_million_usd": -1, "output_per_million_usd": 2}}}"#,
        )
        .expect_err("negative");
        assert!(negative.to_string().contains("\"m\""), "{negative}");
        assert!(PriceTable::new().with("m", f64::NAN, 1.0).is_err());
        let missing = PriceTable::from_json_file("/nonexistent/prices.json").expect_err("no file");
        assert!(missing.to_string().contains("/nonexistent/prices.json"));
    }
}
