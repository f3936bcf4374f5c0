//! Fitting a reference from a CSV file with a header row.

use std::collections::HashSet;
use std::path::Path;

use super::fit::{self, Column};
use super::{FitOptions, Reference, ReferenceError};

/// Cell texts (after trimming) read as missing values.
pub const CSV_MISSING: [&str; 6] = ["", "NA", "NaN", "nan", "null", "None"];

/// How [`Reference::from_csv_path`] reads a CSV file.
///
/// Every column is a feature, in file order, except `exclude`d ones and the prediction columns.
/// A column whose every non-missing cell parses as a number is numeric, any other categorical
/// (as are the `categorical` ones whatever they hold). A column with no values at all is
/// numeric, with every value missing. Cells are trimmed; [`CSV_MISSING`] cells are missing.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Bins and categories kept.
    pub fit: FitOptions,
    /// Columns read as categorical even if they hold numbers (e.g. integer codes).
    pub categorical: Vec<String>,
    /// Column of predicted labels: fits [`Reference::label`], is not a feature.
    pub label_column: Option<String>,
    /// Column of prediction confidences: fits [`Reference::confidence`], is not a feature.
    pub confidence_column: Option<String>,
    /// Columns that are not features (ids, targets, timestamps…).
    pub exclude: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Feature,
    Label,
    Confidence,
    Excluded,
}

impl Reference {
    /// Fits a reference from a CSV file; see [`CsvOptions`] for how columns are read.
    pub fn from_csv_path(
        path: impl AsRef<Path>,
        options: CsvOptions,
    ) -> Result<Reference, ReferenceError> {
        let path = path.as_ref();
        let with_path = |source| ReferenceError::Io {
            path: Some(path.to_path_buf()),
            source,
        };
        let file = std::fs::File::open(path).map_err(with_path)?;
        Self::from_csv_reader(std::io::BufReader::new(file), options).map_err(|error| match error {
            ReferenceError::Io { path: None, source } => with_path(source),
            other => other,
        })
    }

    /// Fits a reference from CSV text; see [`CsvOptions`] for how columns are read. The whole
    /// input is held in memory while fitting.
    pub fn from_csv_reader(
        reader: impl std::io::Read,
        options: CsvOptions,
    ) -> Result<Reference, ReferenceError> {
        fit::check_options(options.fit)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(reader);
        let header = reader.headers().map_err(csv_error)?.clone();
        if header.is_empty() {
            return Err(ReferenceError::Empty {
                what: "the CSV has no header row".to_owned(),
            });
        }
        let header_error = |column: &str, message: String| ReferenceError::Csv {
            line: Some(1),
            column: Some(column.to_owned()),
            message,
        };
        let mut seen = HashSet::new();
        for (index, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(ReferenceError::Csv {
                    line: Some(1),
                    column: None,
                    message: format!("column {} has an empty name", index + 1),
                });
            }
            if !seen.insert(name) {
                return Err(header_error(name, "duplicate column name".to_owned()));
            }
        }
        let named = |what: &str, name: &str| {
            if seen.contains(name) {
                Ok(())
            } else {
                Err(header_error(
                    name,
                    format!("{what} column is not in the header"),
                ))
            }
        };
        for name in &options.categorical {
            named("categorical", name)?;
        }
        for name in &options.exclude {
            named("excluded", name)?;
        }
        if let Some(name) = &options.label_column {
            named("label", name)?;
        }
        if let Some(name) = &options.confidence_column {
            named("confidence", name)?;
            if options.label_column.as_ref() == Some(name) {
                return Err(header_error(
                    name,
                    "both the label and the confidence column".into(),
                ));
            }
        }

        let mut records = Vec::new();
        for record in reader.records() {
            records.push(record.map_err(csv_error)?);
        }
        if records.is_empty() {
            return Err(ReferenceError::Empty {
                what: "the CSV has no data rows".to_owned(),
            });
        }
        let line = |row: usize| records[row].position().map(|p| p.line());

        let mut features = Vec::new();
        let mut label = None;
        let mut confidence = None;
        for (index, name) in header.iter().enumerate() {
            let role = if options.label_column.as_deref() == Some(name) {
                Role::Label
            } else if options.confidence_column.as_deref() == Some(name) {
                Role::Confidence
            } else if options.exclude.iter().any(|e| e == name) {
                Role::Excluded
            } else {
                Role::Feature
            };
            if role == Role::Excluded {
                continue;
            }
            let cells = records.iter().map(|record| cell(record.get(index)));
            let forced = role == Role::Label || options.categorical.iter().any(|c| c == name);
            let mut column = if forced {
                None
            } else {
                numeric_column(cells.clone())
            };
            if let Some((row, value)) = column
                .as_ref()
                .and_then(|values| values.iter().enumerate().find(|(_, x)| x.is_infinite()))
            {
                return Err(ReferenceError::Csv {
                    line: line(row),
                    column: Some(name.to_owned()),
                    message: format!("infinite value {value} in a numeric column"),
                });
            }
            match role {
                Role::Confidence => {
                    let Some(values) = column.take() else {
                        let row = cells
                            .clone()
                            .position(|c| c.is_some_and(|c| c.parse::<f64>().is_err()))
                            .unwrap_or(0);
                        return Err(ReferenceError::Csv {
                            line: line(row),
                            column: Some(name.to_owned()),
                            message: format!(
                                "confidence `{}` is not a number",
                                cells.clone().nth(row).flatten().unwrap_or_default()
                            ),
                        });
                    };
                    confidence = Some(fit::fit_numeric(name, &values, options.fit.bins));
                }
                Role::Label => {
                    let values: Vec<Option<&str>> = cells.collect();
                    label = Some(fit::fit_categorical(
                        name,
                        &values,
                        options.fit.top_categories,
                    ));
                }
                Role::Feature => match column {
                    Some(values) => features.push((name, Column::Numeric(values))),
                    None => features.push((name, Column::Categorical(cells.collect()))),
                },
                Role::Excluded => {}
            }
        }
        let mut reference = fit::from_columns(features, records.len() as u64, options.fit)?;
        reference.label = label;
        reference.confidence = confidence;
        reference.validate()?;
        Ok(reference)
    }
}

/// A trimmed cell, `None` if missing (or absent).
fn cell(text: Option<&str>) -> Option<&str> {
    text.filter(|text| !CSV_MISSING.contains(text))
}

/// The column as numbers (NaN = missing) if every non-missing cell parses as one.
fn numeric_column<'a>(cells: impl Iterator<Item = Option<&'a str>>) -> Option<Vec<f64>> {
    cells
        .map(|cell| cell.map_or(Ok(f64::NAN), str::parse::<f64>).ok())
        .collect()
}

fn csv_error(error: csv::Error) -> ReferenceError {
    let line = error.position().map(csv::Position::line);
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(source) => ReferenceError::Io { path: None, source },
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ReferenceError::Csv {
            line,
            column: None,
            message: format!("expected {expected_len} fields (as in the header), found {len}"),
        },
        _ => ReferenceError::Csv {
            line,
            column: None,
            message,
        },
    }
}
