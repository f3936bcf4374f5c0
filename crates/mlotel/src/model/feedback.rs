//! Ground truth on the [`Model`] handle: predictions stored by hand, outcomes recorded by
//! prediction id or together with their prediction, and a stored prediction looked up.

use std::time::Duration;

use super::handle::Model;
use crate::bounded_names::{NO_LABEL, OTHER};
use crate::ground_truth::metrics::Classified;
use crate::ground_truth::store::{Found, Stored};
use crate::ground_truth::{OutcomeError, PredictionId};
use crate::output::Label;

/// A prediction found in the model's store ([`Model::find_prediction`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredPrediction {
    /// The predicted label as recorded (`__other__` for one outside the label set); `None`
    /// for a regression or a prediction without a label.
    pub label: Option<String>,
    /// The classification's confidence, when it had one.
    pub confidence: Option<f64>,
    /// The regression's predicted value.
    pub value: Option<f64>,
    /// How long ago the prediction was made.
    pub age: Duration,
}

impl Model {
    /// Stores a classification recorded by hand (with [`record_prediction`](Self::record_prediction))
    /// in the model's prediction store and returns its id; `None` when the model keeps no
    /// store. `#[instrument_ml]` and [`PredictionCall`](crate::PredictionCall) store theirs
    /// on their own.
    pub fn remember_prediction(
        &self,
        label: Option<&str>,
        confidence: Option<f64>,
    ) -> Option<PredictionId> {
        self.state.outcomes.remember(Stored::Class {
            label_slot: self.state.labels.slot(label.map(Label::Text)),
            confidence: crate::output::valid_confidence(confidence),
        })
    }

    /// Stores a regression's predicted value in the model's prediction store and returns
    /// its id; `None` when the model keeps no store.
    pub fn remember_value(&self, predicted: f64) -> Option<PredictionId> {
        self.state.outcomes.remember(Stored::Value(predicted))
    }

    /// Whether `id` was handed out by this model version's store (to route an outcome to
    /// the version that made the prediction).
    pub fn issued(&self, id: PredictionId) -> bool {
        self.state
            .outcomes
            .store
            .as_ref()
            .is_some_and(|store| store.issued(id))
    }

    /// The stored prediction `id`, without recording anything: whether an outcome for it
    /// would be accepted now.
    pub fn find_prediction(&self, id: PredictionId) -> Result<StoredPrediction, OutcomeError> {
        let store = self
            .state
            .outcomes
            .store
            .as_ref()
            .ok_or(OutcomeError::NoStore)?;
        let found = store.find(id, quanta::Instant::now())?;
        Ok(match found.stored {
            Stored::Class {
                label_slot,
                confidence,
            } => StoredPrediction {
                label: self
                    .state
                    .labels
                    .name(label_slot)
                    .map(|name| name.to_string()),
                confidence,
                value: None,
                age: found.age,
            },
            Stored::Value(value) => StoredPrediction {
                label: None,
                confidence: None,
                value: Some(value),
                age: found.age,
            },
        })
    }

    /// Records the true label of the stored classification `id`: the confusion matrix
    /// (`ml.outcomes`), calibration (`ml.outcome.calibration*`, when it had a confidence)
    /// and the label delay (`ml.outcome.delay`). A label outside the model's label set is
    /// recorded as `__other__`; a prediction and outcome both outside it count as wrong
    /// (the store keeps the label's slot, not its text).
    ///
    /// An id that finds no prediction is counted in `ml.outcomes.unmatched` and returned as
    /// the error; nothing else is recorded for it.
    pub fn record_actual_label(&self, id: PredictionId, actual: &str) -> Result<(), OutcomeError> {
        let outcomes = &self.state.outcomes;
        let model = &self.state.model_attributes;
        let found = self.take(id, |stored| matches!(stored, Stored::Class { .. }))?;
        let Stored::Class {
            label_slot,
            confidence,
        } = found.stored
        else {
            return Err(outcomes.unmatched(model, OutcomeError::KindMismatch));
        };
        let actual_slot = self.state.labels.slot(Some(Label::Text(actual)));
        outcomes.classification(
            model,
            &Classified {
                predicted: self.state.labels.name(label_slot),
                actual: self.state.labels.name(actual_slot),
                correct: label_slot == actual_slot && label_slot != OTHER && label_slot != NO_LABEL,
                confidence,
                delay_seconds: Some(found.age.as_secs_f64()),
            },
        );
        Ok(())
    }

    /// Records the true value of the stored regression `id`: its absolute and squared error
    /// and the label delay. Errors as for [`record_actual_label`](Self::record_actual_label).
    pub fn record_actual_value(&self, id: PredictionId, actual: f64) -> Result<(), OutcomeError> {
        let found = self.take(id, |stored| matches!(stored, Stored::Value(_)))?;
        let Stored::Value(predicted) = found.stored else {
            return Err(OutcomeError::KindMismatch);
        };
        self.state.outcomes.regression(
            &self.state.model_attributes,
            predicted,
            actual,
            Some(found.age.as_secs_f64()),
        );
        Ok(())
    }

    /// Takes `id` from the store if what it holds is of the kind `fits`, counting every
    /// failure.
    fn take(
        &self,
        id: PredictionId,
        fits: impl Fn(&Stored) -> bool,
    ) -> Result<Found, OutcomeError> {
        let outcomes = &self.state.outcomes;
        let model = &self.state.model_attributes;
        let store = outcomes
            .store
            .as_ref()
            .ok_or_else(|| outcomes.unmatched(model, OutcomeError::NoStore))?;
        let now = quanta::Instant::now();
        // Checked before taking, so a wrong-kind outcome leaves the prediction for a right one.
        let found = store
            .find(id, now)
            .map_err(|error| outcomes.unmatched(model, error))?;
        if !fits(&found.stored) {
            return Err(outcomes.unmatched(model, OutcomeError::KindMismatch));
        }
        store
            .take(id, now)
            .map_err(|error| outcomes.unmatched(model, error))
    }

    /// Records a classification's outcome together with its prediction, for services that
    /// join predictions and outcomes themselves (no store needed): the predicted and true
    /// labels (bounded by the label set), the prediction's confidence if it had one, and
    /// the time from prediction to outcome if known.
    pub fn record_classification(
        &self,
        predicted: &str,
        actual: &str,
        confidence: Option<f64>,
        delay: Option<Duration>,
    ) {
        let labels = &self.state.labels;
        let predicted_slot = labels.slot(Some(Label::Text(predicted)));
        let actual_slot = labels.slot(Some(Label::Text(actual)));
        self.state.outcomes.classification(
            &self.state.model_attributes,
            &Classified {
                predicted: labels.name(predicted_slot),
                actual: labels.name(actual_slot),
                correct: predicted == actual,
                confidence,
                delay_seconds: delay.map(|delay| delay.as_secs_f64()),
            },
        );
    }

    /// Records a regression's outcome together with its prediction (no store needed).
    pub fn record_regression(&self, predicted: f64, actual: f64, delay: Option<Duration>) {
        self.state.outcomes.regression(
            &self.state.model_attributes,
            predicted,
            actual,
            delay.map(|delay| delay.as_secs_f64()),
        );
    }
}
