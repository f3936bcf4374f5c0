//! `skip_output`: the output is not read, so its type need not be a `PredictionOutput`;
//! an `Err` still counts as an error.
#![deny(warnings)]

use std::collections::HashMap;

use mlotel::instrument_ml;

#[derive(Debug, PartialEq)]
struct Embedding(Vec<f32>);

#[instrument_ml(model = "embedder", version = "1", skip_output)]
fn embed(text: &str) -> Embedding {
    Embedding(text.bytes().map(f32::from).collect())
}

#[instrument_ml(model = "embedder", version = "1", features = row, skip_output)]
fn embed_all(row: &[f32]) -> Result<HashMap<usize, f32>, String> {
    if row.is_empty() {
        return Err("nothing to embed".to_owned());
    }
    Ok(row.iter().copied().enumerate().collect())
}

#[instrument_ml(model = "embedder", version = "1", batch, skip_output)]
async fn embed_batch(texts: Vec<String>) -> Vec<Embedding> {
    tokio::task::yield_now().await;
    texts.iter().map(|text| embed(text)).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(embed("ab"), Embedding(vec![97.0, 98.0]));
    assert_eq!(embed_all(&[]), Err("nothing to embed".to_owned()));
    assert_eq!(embed_all(&[0.5]).expect("embedded").get(&0), Some(&0.5));
    assert_eq!(
        embed_batch(vec!["a".to_owned()]).await,
        vec![Embedding(vec![97.0])]
    );
}
