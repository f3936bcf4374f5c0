use mlotel::instrument_ml;

#[instrument_ml(model = "iris")]
unsafe fn predict(row: *const f64) -> f64 {
    unsafe { *row }
}

fn main() {
    let value = 1.0;
    let _ = unsafe { predict(&value) };
}
