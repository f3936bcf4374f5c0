use mlotel::instrument_ml;

#[instrument_ml(model = "spam", version = "1", features = text)]
fn predict(text: &str) -> f64 {
    text.len() as f64
}

#[instrument_ml(model = "spam", version = "1", batch, features = rows)]
fn predict_all(rows: &[f64]) -> Vec<f64> {
    rows.to_vec()
}

fn main() {
    let _ = predict("hello");
    let _ = predict_all(&[1.0]);
}
