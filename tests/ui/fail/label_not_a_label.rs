use mlotel::instrument_ml;

struct Scored {
    class: String,
    probability: f64,
}

#[instrument_ml(model = "spam", version = "1", label = |out| out.probability)]
fn predict(text: &str) -> Scored {
    Scored {
        class: text.to_owned(),
        probability: 0.5,
    }
}

#[instrument_ml(model = "spam", version = "1", confidence = |out| out.class.as_str())]
fn predict_confidence(text: &str) -> Scored {
    Scored {
        class: text.to_owned(),
        probability: 0.5,
    }
}

fn main() {
    let _ = predict("hello");
    let _ = predict_confidence("hello");
}
