//! `batch` with `features`: the input is a batch of rows and the output one prediction
//! per row, in the shapes the docs list.
#![deny(warnings)]

use mlotel::instrument_ml;

#[instrument_ml(model = "churn", version = "1", batch, features = rows)]
fn scores(rows: &[[f64; 3]]) -> Vec<f64> {
    rows.iter()
        .map(|row| row.iter().sum::<f64>() / 3.0)
        .collect()
}

/// Rows as `Vec<Vec<f64>>`, class probabilities per row, inside a `Result`.
#[instrument_ml(model = "churn", version = "1", batch, features = rows)]
fn probabilities(rows: Vec<Vec<f64>>) -> Result<Vec<[f64; 2]>, String> {
    if rows.is_empty() {
        return Err("empty batch".to_owned());
    }
    Ok(rows
        .iter()
        .map(|row| {
            let p = row.iter().sum::<f64>().clamp(0.0, 1.0);
            [1.0 - p, p]
        })
        .collect())
}

/// A fixed-size batch returning an array; `Option<f64>` features with missing values.
#[instrument_ml(model = "churn", version = "1", batch, features = rows)]
fn pair(rows: [Vec<Option<f64>>; 2]) -> [usize; 2] {
    rows.map(|row| row.iter().flatten().count())
}

/// A boxed slice of labelled rows, with closures reading each row.
#[instrument_ml(
    model = "churn",
    version = "1",
    batch,
    features = rows,
    label = |row| row.0,
    confidence = |row| row.1,
)]
fn labelled(rows: &[Vec<f32>]) -> Box<[(bool, f32)]> {
    rows.iter()
        .map(|row| {
            let score = row.iter().sum::<f32>() / row.len().max(1) as f32;
            (score > 0.5, score)
        })
        .collect()
}

/// A batch output borrowed from `self`, in an async method.
struct Cache {
    answers: Vec<String>,
}

impl Cache {
    #[instrument_ml(model = "churn", version = "1", batch, features = rows)]
    async fn lookup(&self, rows: &[[f32; 1]]) -> &[String] {
        tokio::task::yield_now().await;
        &self.answers[..rows.len()]
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(scores(&[[3.0, 3.0, 3.0], [0.0, 0.0, 3.0]]), vec![3.0, 1.0]);
    assert_eq!(
        probabilities(vec![vec![0.25], vec![2.0]]),
        Ok(vec![[0.75, 0.25], [0.0, 1.0]])
    );
    assert_eq!(probabilities(vec![]), Err("empty batch".to_owned()));
    assert_eq!(
        pair([vec![Some(1.0), None], vec![Some(f64::NAN), Some(2.0)]]),
        [1, 2]
    );
    assert_eq!(
        &*labelled(&[vec![1.0, 0.5], vec![0.0]]),
        &[(true, 0.75), (false, 0.0)]
    );
    let cache = Cache {
        answers: vec!["a".to_owned(), "b".to_owned(), "c".to_owned()],
    };
    assert_eq!(cache.lookup(&[[1.0], [2.0]]).await, ["a", "b"]);
}
