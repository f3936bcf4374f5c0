//! `stage = "..."`: a sub-step of a prediction, a child span with no prediction metrics;
//! any output type is fine, with or without a model.
#![deny(warnings)]

use mlotel::instrument_ml;

#[instrument_ml(stage = "preprocess")]
fn scale(row: [f64; 3]) -> [f64; 3] {
    row.map(|value| value / 10.0)
}

/// A stage of a named model, with its own span name and a recorded argument.
#[instrument_ml(stage = "tokenize", model = "bert", version = "1", name = "split words", record = [text])]
fn tokenize(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// A stage returning nothing, and one returning a `Result` (an `Err` marks the span).
#[derive(Debug, PartialEq)]
struct NotFound;

#[instrument_ml(stage = "load")]
fn load(cache: &mut Vec<String>, key: &str) {
    cache.push(key.to_owned());
}

#[instrument_ml(stage = "lookup")]
fn lookup(cache: &[String], key: &str) -> Result<usize, NotFound> {
    cache.iter().position(|entry| entry == key).ok_or(NotFound)
}

/// An async stage whose model is an expression.
struct Pipeline {
    model: String,
}

impl Pipeline {
    #[instrument_ml(stage = "postprocess", model = self.model.clone(), version = "1")]
    async fn postprocess(&self, scores: Vec<f64>) -> Option<f64> {
        tokio::task::yield_now().await;
        scores.into_iter().reduce(f64::max)
    }

    #[instrument_ml(model = "pipeline", version = "1")]
    async fn predict(&self, row: [f64; 3]) -> Option<f64> {
        let scaled = scale(row);
        self.postprocess(scaled.to_vec()).await
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(scale([10.0, 20.0, 30.0]), [1.0, 2.0, 3.0]);
    assert_eq!(tokenize("a b  c"), ["a", "b", "c"]);
    let mut cache = Vec::new();
    load(&mut cache, "x");
    assert_eq!(lookup(&cache, "x"), Ok(0));
    assert_eq!(lookup(&cache, "y"), Err(NotFound));
    let pipeline = Pipeline {
        model: "pipeline".to_owned(),
    };
    assert_eq!(pipeline.predict([10.0, 30.0, 20.0]).await, Some(3.0));
    assert_eq!(pipeline.postprocess(vec![]).await, None);
}
