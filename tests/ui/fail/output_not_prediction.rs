use mlotel::instrument_ml;

struct Scored {
    class: String,
    probability: f64,
}

#[instrument_ml(model = "spam", version = "1")]
fn predict(text: &str) -> Scored {
    Scored {
        class: text.to_owned(),
        probability: 0.5,
    }
}

fn main() {
    let scored = predict("hello");
    let _ = (scored.class, scored.probability);
}
