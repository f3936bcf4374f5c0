use mlotel::instrument_ml;

#[instrument_ml(version = "2.0.0", features = row)]
fn predict(row: &[f64; 4]) -> Vec<f64> {
    row.to_vec()
}

fn main() {
    let _ = predict(&[0.0; 4]);
}
