//! Methods in `impl` blocks of generic types, using the type's parameters and `Self`.
#![deny(warnings)]

use std::fmt::Debug;

use mlotel::instrument_ml;

#[derive(Debug, Clone, PartialEq)]
struct Model<T> {
    name: String,
    classes: Vec<T>,
}

impl<T: Clone> Model<T> {
    #[instrument_ml(model = "generic-model", version = "1", skip_output)]
    fn predict(&self, scores: &[f64]) -> Option<T> {
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?
            .0;
        self.classes.get(best).cloned()
    }

    #[instrument_ml(model = "generic-model", version = "1", skip_output)]
    fn with_class(mut self, class: T) -> Self {
        self.classes.push(class);
        self
    }

    #[instrument_ml(model = "generic-model", version = "1", skip_output)]
    async fn predict_later(&self, scores: Vec<f64>) -> Option<T> {
        tokio::task::yield_now().await;
        self.predict(&scores)
    }
}

impl<T> Model<T>
where
    T: Clone + Debug + AsRef<str>,
{
    /// The label comes from the generic class through a closure.
    #[instrument_ml(model = self.name.as_str(), version = "1", label = |class| class.as_ref(), record = [scores])]
    fn predict_named(&self, scores: &[f64]) -> T {
        let index = usize::from(scores[1] > scores[0]);
        self.classes[index].clone()
    }
}

/// A generic trait implemented for a generic type.
trait Classify<Input> {
    fn classify(&self, input: Input) -> usize;
}

impl<T, Input> Classify<Input> for Model<T>
where
    Input: IntoIterator<Item = f64>,
{
    #[instrument_ml(model = "generic-model", version = "1")]
    fn classify(&self, input: Input) -> usize {
        input.into_iter().filter(|value| *value > 0.5).count() % self.classes.len().max(1)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let model = Model {
        name: "generic-model".to_owned(),
        classes: vec!["cat", "dog"],
    };
    assert_eq!(model.predict(&[0.2, 0.8]), Some("dog"));
    assert_eq!(model.predict(&[]), None);
    assert_eq!(model.predict_later(vec![0.9, 0.1]).await, Some("cat"));
    assert_eq!(model.predict_named(&[0.9, 0.1]), "cat");
    assert_eq!(model.classify(vec![0.9, 0.7, 0.1]), 0);
    let bigger = model.clone().with_class("bird");
    assert_eq!(bigger.classes, ["cat", "dog", "bird"]);

    let numbers = Model {
        name: "numbers".to_owned(),
        classes: vec![10_u8, 20],
    };
    assert_eq!(numbers.predict(&[0.9, 0.1]), Some(10));
}
