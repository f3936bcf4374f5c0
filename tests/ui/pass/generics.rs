//! Generic functions, `impl Trait` arguments and returns, lifetimes, const generics and
//! `where` clauses.
#![deny(warnings)]

use std::fmt::{Debug, Display};

use mlotel::{PredictionOutput, instrument_ml};

/// Type parameters with bounds in a `where` clause.
#[instrument_ml(model = "generic", version = "1")]
fn first<T, I>(values: I) -> Option<T>
where
    I: IntoIterator<Item = T>,
    T: PredictionOutput + Copy,
{
    values.into_iter().next()
}

/// `impl Trait` arguments, one of them recorded.
#[instrument_ml(model = "generic", version = "1", record = [factor])]
fn scaled(
    values: impl IntoIterator<Item = f64>,
    factor: impl Into<f64> + Debug + Copy,
    then: impl Fn(f64) -> f64,
) -> Vec<f64> {
    values
        .into_iter()
        .map(|value| then(value * factor.into()))
        .collect()
}

/// `impl Trait` return: an opaque `Display` has no label of its own, so give one.
#[instrument_ml(model = "generic", version = "1", label = |text| text.to_string().len())]
fn describe(score: f64) -> impl Display {
    format!("score {score:.1}")
}

/// `impl Trait` return that is itself a prediction output.
#[instrument_ml(model = "generic", version = "1")]
fn probabilities(logits: &[f64]) -> impl PredictionOutput + Debug + PartialEq<Vec<f64>> {
    let total: f64 = logits.iter().map(|value| value.exp()).sum();
    logits
        .iter()
        .map(|value| value.exp() / total)
        .collect::<Vec<f64>>()
}

/// A trait object output.
#[instrument_ml(model = "generic", version = "1", skip_output)]
fn evens(limit: u32) -> Box<dyn Iterator<Item = u32>> {
    Box::new((0..limit).filter(|value| value % 2 == 0))
}

/// A `Result` around an `impl Trait`, with `?` inside.
#[instrument_ml(model = "generic", version = "1", label = |text| text.to_string().len())]
fn parsed(text: &str) -> Result<impl Display, std::num::ParseIntError> {
    let value: i64 = text.parse()?;
    Ok(value * 2)
}

/// Lifetimes and const generics.
#[instrument_ml(model = "generic", version = "1", skip_output)]
fn heaviest<'a, const N: usize>(rows: &'a [[f64; N]]) -> Option<&'a [f64; N]> {
    rows.iter()
        .max_by(|a, b| a.iter().sum::<f64>().total_cmp(&b.iter().sum::<f64>()))
}

/// A generic error type with no `ErrorType`: named by its type.
#[instrument_ml(model = "generic", version = "1")]
fn checked<E: Debug>(value: Result<f64, E>) -> Result<f64, E> {
    let value = value?;
    Ok(value + 1.0)
}

fn main() {
    assert_eq!(first(vec![0.2_f64, 0.3]), Some(0.2));
    assert_eq!(first::<u32, _>([]), None);
    assert_eq!(
        scaled([1.0, 2.0], 2.0_f32, |value| value + 1.0),
        vec![3.0, 5.0]
    );
    assert_eq!(describe(0.25).to_string(), "score 0.2");
    assert_eq!(probabilities(&[0.0, 0.0]), vec![0.5, 0.5]);
    assert_eq!(evens(7).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(
        parsed("21").map(|value| value.to_string()),
        Ok("42".to_owned())
    );
    assert!(parsed("x").is_err());
    assert_eq!(heaviest(&[[1.0, 2.0], [3.0, 4.0]]), Some(&[3.0, 4.0]));
    assert_eq!(heaviest::<2>(&[]), None);
    assert_eq!(checked::<String>(Ok(1.0)), Ok(2.0));
    assert_eq!(checked(Err("bad")), Err("bad"));
}
