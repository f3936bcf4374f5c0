//! Methods taking `&self`, `&mut self` and `self`, and an associated function.
#![deny(warnings)]

use mlotel::instrument_ml;

#[derive(Debug, Clone, PartialEq)]
struct Classifier {
    threshold: f64,
    calls: u32,
}

const CLASSES: [&str; 2] = ["negative", "positive"];

impl Classifier {
    /// A constructor is no prediction: `skip_output`.
    #[instrument_ml(model = "classifier", version = "1", skip_output)]
    fn new(threshold: f64) -> Self {
        Self {
            threshold,
            calls: 0,
        }
    }

    /// `self` can be recorded like any argument.
    #[instrument_ml(model = "classifier", version = "1", record = [self, score])]
    fn predict(&self, score: f64) -> bool {
        score >= self.threshold
    }

    #[instrument_ml(model = "classifier", version = "1")]
    fn predict_counted(&mut self, score: f64) -> bool {
        self.calls += 1;
        score >= self.threshold
    }

    /// The label closure reads `self` too.
    #[instrument_ml(model = "classifier", version = "1", label = |out| self.class_name(*out))]
    fn predict_index(&self, score: f64) -> usize {
        usize::from(score >= self.threshold)
    }

    fn class_name(&self, index: usize) -> &str {
        let _ = self;
        CLASSES[index]
    }

    /// Borrows the output from `self`.
    #[instrument_ml(model = "classifier", version = "1", skip_output)]
    fn threshold(&self) -> &f64 {
        &self.threshold
    }

    /// Consumes the model.
    #[instrument_ml(model = "classifier", version = "1")]
    fn into_last(self, scores: Vec<f64>) -> Option<bool> {
        let last = scores.last()?;
        Some(*last >= self.threshold)
    }

    /// `mut self` by value.
    #[instrument_ml(model = "classifier", version = "1", skip_output)]
    fn with_threshold(mut self, threshold: f64) -> Self {
        self.threshold = threshold;
        self
    }
}

trait Predict {
    fn predict(&self, row: &[f64]) -> Vec<f64>;
}

/// A trait method in an `impl Trait for Type` block.
impl Predict for Classifier {
    #[instrument_ml(model = "classifier", version = "1", features = row)]
    fn predict(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .map(|value| f64::from(u8::from(*value >= self.threshold)))
            .collect()
    }
}

fn main() {
    let mut classifier = Classifier::new(0.5);
    assert_eq!(
        classifier,
        Classifier {
            threshold: 0.5,
            calls: 0
        }
    );
    assert!(classifier.predict(0.7));
    assert!(!classifier.predict(0.2));
    assert!(classifier.predict_counted(0.9));
    assert!(!classifier.predict_counted(0.1));
    assert_eq!(classifier.calls, 2);
    assert_eq!(classifier.predict_index(0.75), 1);
    assert_eq!(*classifier.threshold(), 0.5);
    assert_eq!(Predict::predict(&classifier, &[0.1, 0.9]), vec![0.0, 1.0]);
    let stricter = classifier.clone().with_threshold(0.95);
    assert_eq!(stricter.threshold, 0.95);
    assert_eq!(stricter.into_last(vec![0.1, 0.9]), Some(false));
    assert_eq!(classifier.clone().into_last(vec![]), None);
    assert_eq!(classifier.into_last(vec![0.6]), Some(true));
}
