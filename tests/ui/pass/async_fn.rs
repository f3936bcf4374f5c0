//! `async fn`: the body runs as a future with the prediction span current; the output is
//! returned unchanged, `?` converts errors, and early `return` works.
#![deny(warnings)]

use std::fmt::Display;

use mlotel::instrument_ml;

#[instrument_ml(model = "iris", version = "2.0.0", features = row)]
async fn predict(row: [f64; 4]) -> Vec<f64> {
    tokio::task::yield_now().await;
    let total: f64 = row.iter().sum();
    row.iter().map(|value| value / total).collect()
}

#[derive(Debug, PartialEq)]
struct ParseFailed(String);

impl From<std::num::ParseFloatError> for ParseFailed {
    fn from(error: std::num::ParseFloatError) -> Self {
        Self(error.to_string())
    }
}

/// `?` needs the body's error type: the function's own `Result`.
#[instrument_ml(model = "parser", version = "1")]
async fn parse_score(text: &str) -> Result<f64, ParseFailed> {
    if text.is_empty() {
        return Ok(0.0);
    }
    tokio::task::yield_now().await;
    let value: f64 = text.trim().parse()?;
    Ok(value)
}

/// Returns nothing.
#[instrument_ml(model = "sink", version = "1", skip_output)]
async fn store(into: &mut Vec<f64>, value: f64) {
    tokio::task::yield_now().await;
    into.push(value);
}

/// An `impl Trait` output, borrowed from an argument.
#[instrument_ml(model = "names", version = "1", label = |name| name.to_string().len())]
async fn name_of<'a>(names: &'a [&'a str], index: usize) -> impl Display + 'a {
    tokio::task::yield_now().await;
    names[index]
}

struct Model {
    weights: Vec<f64>,
}

impl Model {
    #[instrument_ml(model = "linear", version = "1", features = row)]
    async fn score(&self, row: &[f64]) -> f64 {
        tokio::task::yield_now().await;
        self.weights.iter().zip(row).map(|(w, x)| w * x).sum()
    }

    #[instrument_ml(model = "linear", version = "1")]
    async fn retrain(&mut self, scale: f64) -> Option<f64> {
        if scale == 0.0 {
            return None;
        }
        for weight in &mut self.weights {
            *weight *= scale;
        }
        Some(scale)
    }
}

/// The future stays `Send`: it can be spawned on a multi-threaded runtime.
fn assert_send<F: std::future::Future + Send>(future: F) -> F {
    future
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(predict([1.0, 1.0, 1.0, 1.0]).await, vec![0.25; 4]);
    assert_eq!(parse_score(" 0.5 ").await, Ok(0.5));
    assert_eq!(parse_score("").await, Ok(0.0));
    assert_eq!(
        parse_score("x").await,
        Err(ParseFailed("invalid float literal".to_owned()))
    );
    let mut stored = Vec::new();
    store(&mut stored, 1.0).await;
    assert_eq!(stored, [1.0]);
    assert_eq!(name_of(&["a", "bc"], 1).await.to_string(), "bc");

    let mut model = Model {
        weights: vec![1.0, 2.0],
    };
    assert_eq!(assert_send(model.score(&[3.0, 4.0])).await, 11.0);
    assert_eq!(assert_send(model.retrain(0.0)).await, None);
    assert_eq!(model.retrain(2.0).await, Some(2.0));
    assert_eq!(model.weights, [2.0, 4.0]);
    let spawned = tokio::spawn(async { predict([2.0, 2.0, 0.0, 0.0]).await });
    assert_eq!(spawned.await.expect("task"), vec![0.5, 0.5, 0.0, 0.0]);
}
