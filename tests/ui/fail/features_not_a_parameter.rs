use mlotel::instrument_ml;

#[instrument_ml(model = "iris", features = input)]
fn predict(row: &[f64; 4], scale: f64) -> Vec<f64> {
    row.iter().map(|value| value * scale).collect()
}

#[instrument_ml(model = "iris", record = [row, user])]
fn classify(row: &[f64]) -> usize {
    row.len()
}

fn main() {
    let _ = predict(&[0.0; 4], 1.0);
    let _ = classify(&[]);
}
