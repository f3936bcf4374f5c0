use mlotel::instrument_ml;

#[instrument_ml(model = "iris")]
struct Iris {
    weights: Vec<f64>,
}

fn main() {
    let iris = Iris { weights: vec![] };
    assert!(iris.weights.is_empty());
}
