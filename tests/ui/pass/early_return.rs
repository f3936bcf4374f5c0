//! `?` and early `return` inside the body leave the instrumented function (not some inner
//! closure of the macro's) with the right value, and the output is still recorded.
#![deny(warnings)]

use mlotel::instrument_ml;

#[derive(Debug, PartialEq)]
enum PredictError {
    Empty,
    Parse(std::num::ParseFloatError),
}

impl From<std::num::ParseFloatError> for PredictError {
    fn from(error: std::num::ParseFloatError) -> Self {
        Self::Parse(error)
    }
}

#[instrument_ml(model = "parser", version = "1")]
fn parse_row(text: &str) -> Result<Vec<f64>, PredictError> {
    if text.is_empty() {
        return Err(PredictError::Empty);
    }
    let mut row = Vec::new();
    for field in text.split(',') {
        if field == "stop" {
            return Ok(row);
        }
        row.push(field.trim().parse::<f64>()?);
    }
    Ok(row)
}

/// `?` on an `Option`.
#[instrument_ml(model = "parser", version = "1")]
fn second(values: &[f64]) -> Option<f64> {
    let value = values.get(1)?;
    Some(*value)
}

/// `return` from inside a loop and a closure's own `return` stay what they were.
#[instrument_ml(model = "parser", version = "1")]
fn first_negative(values: &[f64]) -> usize {
    let negative = |value: f64| {
        if value < 0.0 {
            return true;
        }
        false
    };
    for (index, value) in values.iter().enumerate() {
        if negative(*value) {
            return index;
        }
    }
    values.len()
}

/// `?` with a boxed error and `From` conversion.
#[instrument_ml(model = "parser", version = "1")]
fn boxed(text: &str) -> Result<f64, Box<dyn std::error::Error + Send + Sync>> {
    let value: f64 = text.parse()?;
    if value < 0.0 {
        return Err("negative".into());
    }
    Ok(value)
}

/// A labelled block and `break` with a value.
#[instrument_ml(model = "parser", version = "1")]
fn clamp(value: f64) -> f64 {
    'out: {
        if value > 1.0 {
            break 'out 1.0;
        }
        value.max(0.0)
    }
}

fn main() {
    assert_eq!(parse_row(""), Err(PredictError::Empty));
    assert_eq!(parse_row("1,2"), Ok(vec![1.0, 2.0]));
    assert_eq!(parse_row("1,stop,x"), Ok(vec![1.0]));
    assert!(matches!(parse_row("1,x"), Err(PredictError::Parse(_))));
    assert_eq!(second(&[1.0]), None);
    assert_eq!(second(&[1.0, 2.0]), Some(2.0));
    assert_eq!(first_negative(&[1.0, -1.0]), 1);
    assert_eq!(first_negative(&[1.0]), 1);
    assert_eq!(boxed("2").ok(), Some(2.0));
    assert_eq!(
        boxed("-2").map_err(|error| error.to_string()),
        Err("negative".to_owned())
    );
    assert!(boxed("x").is_err());
    assert_eq!(clamp(3.0), 1.0);
    assert_eq!(clamp(-3.0), 0.0);
}
