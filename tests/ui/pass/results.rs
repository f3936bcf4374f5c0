//! `Result` outputs: the `Ok` value is the prediction; an `Err`'s `error.type` comes from
//! `mlotel::ErrorType` when implemented, else from its type name. Either way the output
//! is returned unchanged.
#![deny(warnings)]

use mlotel::{ErrorType, instrument_ml};

#[derive(Debug, PartialEq)]
enum PredictError {
    BadShape(usize),
    Timeout,
}

impl ErrorType for PredictError {
    fn error_type(&self) -> &'static str {
        match self {
            Self::BadShape(_) => "invalid_input",
            Self::Timeout => "timeout",
        }
    }
}

/// An error with an `ErrorType`.
#[instrument_ml(model = "results", version = "1", features = row)]
fn classified(row: &[f64]) -> Result<[f64; 2], PredictError> {
    match row.len() {
        2 => Ok([row[0], row[1]]),
        0 => Err(PredictError::Timeout),
        other => Err(PredictError::BadShape(other)),
    }
}

#[derive(Debug, PartialEq)]
struct Unclassified;

/// An error without one (named `Unclassified`).
#[instrument_ml(model = "results", version = "1")]
fn unclassified(score: f64) -> Result<(&'static str, f64), Unclassified> {
    if score.is_nan() {
        return Err(Unclassified);
    }
    Ok(("positive", score))
}

/// A std error type through a type alias.
#[instrument_ml(model = "results", version = "1")]
fn io_like(ok: bool) -> std::io::Result<String> {
    if ok {
        Ok("setosa".to_owned())
    } else {
        Err(std::io::Error::other("no model file"))
    }
}

/// A generic error bounded by `ErrorType`.
#[instrument_ml(model = "results", version = "1")]
fn generic_error<E: ErrorType>(outcome: Result<u32, E>) -> Result<u32, E> {
    outcome
}

/// `Result` of `Option`.
#[instrument_ml(model = "results", version = "1")]
fn nested(value: Option<f64>) -> Result<Option<f64>, String> {
    Ok(value)
}

/// `Result<(), E>`: no output to read, but an `Err` is still an error.
#[instrument_ml(model = "results", version = "1", skip_output)]
fn unit_ok(fail: bool) -> Result<(), PredictError> {
    if fail {
        Err(PredictError::Timeout)
    } else {
        Ok(())
    }
}

/// In an async function, with `?` through `From`.
#[instrument_ml(model = "results", version = "1")]
async fn async_result(row: Vec<f64>) -> Result<[f64; 2], PredictError> {
    tokio::task::yield_now().await;
    let pair = classified(&row)?;
    Ok([pair[1], pair[0]])
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(classified(&[0.1, 0.9]), Ok([0.1, 0.9]));
    assert_eq!(classified(&[]), Err(PredictError::Timeout));
    assert_eq!(classified(&[1.0]), Err(PredictError::BadShape(1)));
    assert_eq!(unclassified(0.5), Ok(("positive", 0.5)));
    assert_eq!(unclassified(f64::NAN), Err(Unclassified));
    assert_eq!(io_like(true).expect("ok"), "setosa");
    assert_eq!(
        io_like(false).map_err(|error| error.to_string()),
        Err("no model file".to_owned())
    );
    assert_eq!(generic_error::<PredictError>(Ok(3)), Ok(3));
    assert_eq!(
        generic_error(Err(PredictError::Timeout)),
        Err(PredictError::Timeout)
    );
    assert_eq!(nested(Some(0.5)), Ok(Some(0.5)));
    assert_eq!(nested(None), Ok(None));
    assert_eq!(unit_ok(false), Ok(()));
    assert_eq!(unit_ok(true), Err(PredictError::Timeout));
    assert_eq!(async_result(vec![0.1, 0.9]).await, Ok([0.9, 0.1]));
    assert_eq!(async_result(vec![]).await, Err(PredictError::Timeout));
}
