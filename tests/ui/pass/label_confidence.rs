//! `label = |out| ..` and `confidence = |out| ..` read the output (or the `Ok` value) when
//! its type has no `PredictionOutput` of its own.
#![deny(warnings)]

use mlotel::{Label, instrument_ml};

#[derive(Debug, Clone, PartialEq)]
struct Scored {
    class: String,
    probability: f64,
}

/// Both closures, typed.
#[instrument_ml(
    model = "closures",
    version = "1",
    label = |out: &Scored| out.class.clone().len(),
    confidence = |out: &Scored| out.probability,
)]
fn typed(probability: f64) -> Scored {
    Scored {
        class: "spam".to_owned(),
        probability,
    }
}

/// Untyped closures borrowing from the output, through a `Result`.
#[instrument_ml(
    model = "closures",
    version = "1",
    label = |out| out.class.as_str(),
    confidence = |out| Some(out.probability as f32),
)]
fn borrowed(probability: f64) -> Result<Scored, String> {
    if probability > 1.0 {
        return Err("not a probability".to_owned());
    }
    Ok(Scored {
        class: "ham".to_owned(),
        probability,
    })
}

/// Only a label (no confidence), from a `Label`; an `Option` label.
#[instrument_ml(model = "closures", version = "1", label = |out| Label::Index(out.0))]
fn index_label(index: usize) -> (usize, Vec<u8>) {
    (index, vec![1, 2])
}

#[instrument_ml(model = "closures", version = "1", label = |out| out.first().copied())]
fn optional_label(values: Vec<i32>) -> Vec<i32> {
    values
}

/// Only a confidence, overriding the output's own `PredictionOutput`.
#[instrument_ml(model = "closures", version = "1", confidence = |out| out[0])]
fn confidence_only(value: f64) -> [f64; 2] {
    [value, 1.0 - value]
}

/// A closure naming a function, in an async method.
fn label_of(out: &Scored) -> bool {
    out.probability > 0.5
}

struct Model;

impl Model {
    #[instrument_ml(model = "closures", version = "1", label = label_of)]
    async fn predict(&self, probability: f64) -> Scored {
        tokio::task::yield_now().await;
        Scored {
            class: "spam".to_owned(),
            probability,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let spam = Scored {
        class: "spam".to_owned(),
        probability: 0.75,
    };
    assert_eq!(typed(0.75), spam);
    assert_eq!(borrowed(0.5).map(|out| out.class), Ok("ham".to_owned()));
    assert_eq!(borrowed(2.0), Err("not a probability".to_owned()));
    assert_eq!(index_label(2), (2, vec![1, 2]));
    assert_eq!(optional_label(vec![]), Vec::<i32>::new());
    assert_eq!(optional_label(vec![3]), vec![3]);
    assert_eq!(confidence_only(0.25), [0.25, 0.75]);
    assert_eq!(Model.predict(0.75).await, spam);
}
