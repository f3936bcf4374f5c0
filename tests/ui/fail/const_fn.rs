use mlotel::instrument_ml;

#[instrument_ml(model = "iris")]
const fn threshold(score: f64) -> bool {
    score > 0.5
}

fn main() {
    let _ = threshold(0.7);
}
