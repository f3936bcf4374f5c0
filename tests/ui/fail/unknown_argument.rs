use mlotel::instrument_ml;

#[instrument_ml(model = "iris", featurs = row)]
fn predict(row: &[f64; 4]) -> Vec<f64> {
    row.to_vec()
}

#[instrument_ml(model = "iris", threshold = 0.5)]
fn classify(score: f64) -> bool {
    score > 0.5
}

fn main() {
    let _ = predict(&[0.0; 4]);
    let _ = classify(0.7);
}
