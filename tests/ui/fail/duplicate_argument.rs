use mlotel::instrument_ml;

#[instrument_ml(model = "iris", version = "1", model = "iris-v2")]
fn predict(row: &[f64; 4]) -> Vec<f64> {
    row.to_vec()
}

fn main() {
    let _ = predict(&[0.0; 4]);
}
