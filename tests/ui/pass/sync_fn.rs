//! Plain synchronous functions: the output is returned unchanged, attributes, doc comments
//! and visibility are kept.
#![deny(warnings)]

use mlotel::instrument_ml;

/// Class probabilities of one iris flower.
#[instrument_ml(model = "iris", version = "2.0.0")]
fn predict(row: [f64; 4]) -> Vec<f64> {
    let total: f64 = row.iter().sum();
    row.iter().map(|value| value / total).collect()
}

/// Kept attributes: a doc comment, `#[must_use]`, `#[inline]` and `pub(crate)`.
#[must_use = "the prediction is the point"]
#[inline]
#[instrument_ml(model = "iris", version = "2.0.0")]
pub(crate) fn predict_class(row: &[f64]) -> usize {
    usize::from(row[0] > 5.0)
}

/// A `mut` parameter the body changes.
#[instrument_ml(model = "iris", version = "2.0.0")]
fn normalized(mut row: Vec<f64>) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::MIN, f64::max);
    for value in &mut row {
        *value /= max;
    }
    row
}

/// A reference borrowed from an argument is returned (the output's lifetime is the
/// argument's).
#[instrument_ml(model = "names", version = "1")]
fn first_name(names: &[String]) -> &str {
    names.first().map_or("", String::as_str)
}

/// The crate's own version when `version` is not given.
#[instrument_ml(model = "default-version")]
fn default_version(score: f64) -> f64 {
    score * 2.0
}

/// A function that only predicts for its side effect and returns nothing (no output to
/// read: counted without label).
#[instrument_ml(model = "sink", version = "1", skip_output)]
fn returns_unit(seen: &mut Vec<f64>, value: f64) {
    seen.push(value);
}

/// An inner attribute at the top of the body stays there.
#[instrument_ml(model = "iris", version = "2.0.0")]
fn exact(score: f64) -> bool {
    #![allow(clippy::float_cmp)]
    score == 0.5
}

mod nested {
    use mlotel::instrument_ml;

    /// Visible to the parent module only through `pub(super)`.
    #[instrument_ml(model = "nested", version = "1")]
    pub(super) fn predict(value: f64) -> (&'static str, f64) {
        if value > 0.5 {
            ("yes", value)
        } else {
            ("no", 1.0 - value)
        }
    }
}

fn main() {
    assert_eq!(predict([1.0, 1.0, 1.0, 1.0]), vec![0.25, 0.25, 0.25, 0.25]);
    assert_eq!(predict_class(&[5.1, 3.5]), 1);
    assert_eq!(predict_class(&[4.9, 3.0]), 0);
    assert_eq!(normalized(vec![1.0, 2.0, 4.0]), vec![0.25, 0.5, 1.0]);
    let names = vec!["setosa".to_owned(), "virginica".to_owned()];
    assert_eq!(first_name(&names), "setosa");
    assert_eq!(first_name(&[]), "");
    assert_eq!(default_version(0.25), 0.5);
    let mut seen = Vec::new();
    returns_unit(&mut seen, 1.5);
    returns_unit(&mut seen, 2.5);
    assert_eq!(seen, [1.5, 2.5]);
    assert!(exact(0.5));
    assert!(!exact(0.25));
    assert_eq!(nested::predict(0.75), ("yes", 0.75));
    assert_eq!(nested::predict(0.25), ("no", 0.75));
}
