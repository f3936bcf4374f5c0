use mlotel::instrument_ml;

#[instrument_ml(stage = "preprocess", features = row)]
fn scale(row: [f64; 3]) -> [f64; 3] {
    row.map(|value| value / 10.0)
}

#[instrument_ml(model = "iris", skip_output, label = |out| out.len())]
fn predict(row: &[f64]) -> Vec<f64> {
    row.to_vec()
}

fn main() {
    let _ = scale([1.0; 3]);
    let _ = predict(&[]);
}
