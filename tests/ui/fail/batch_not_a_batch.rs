use mlotel::instrument_ml;

#[instrument_ml(model = "churn", batch, features = rows)]
fn store(rows: &[[f64; 3]]) {
    let _ = rows;
}

#[instrument_ml(model = "churn", batch, features = rows)]
fn mean(rows: &[[f64; 3]]) -> f64 {
    rows.iter().map(|row| row[0]).sum::<f64>() / rows.len() as f64
}

/// Not a scalar, so only the `BatchOutput` bound can reject it.
#[instrument_ml(model = "churn", batch, features = rows)]
fn by_index(rows: &[[f64; 3]]) -> std::collections::HashMap<usize, f64> {
    rows.iter().map(|row| row[0]).enumerate().collect()
}

fn main() {
    store(&[]);
    let _ = mean(&[[1.0; 3]]);
    let _ = by_index(&[[1.0; 3]]);
}
