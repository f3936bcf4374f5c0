//! Ground truth: outcomes recorded when the true label or value arrives, joined to their
//! prediction by id through a bounded store ([`store`]) or given directly, and the counters
//! that let the metrics backend compute realised accuracy, F1, calibration error and
//! regression error over the whole fleet ([`metrics`]).
//!
//! A model version's [`Outcomes`] lives in its state; the model's handle records through
//! it (`model/feedback.rs`), and `#[instrument_ml]` calls store their predictions in it
//! when the model has a store.

pub(crate) mod id;
pub(crate) mod metrics;
pub(crate) mod store;

use std::sync::{Arc, RwLock};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

pub use id::{ParsePredictionIdError, PredictionId, last_prediction_id, take_prediction_ids};
use metrics::{Classified, OutcomeInstruments};
use store::{PredictionStore, StoreSettings, Stored};

/// Why an outcome could not be joined to its prediction. Each one is also counted in
/// `ml.outcomes.unmatched` with its [`reason`](Self::reason); none of them is a fault of
/// the service, so log or answer them, never retry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutcomeError {
    /// The model version keeps no prediction store
    /// ([`ModelBuilder::prediction_store`](crate::ModelBuilder::prediction_store)); record
    /// the outcome with its prediction instead (`Model::record_classification`).
    #[error("this model version keeps no prediction store")]
    NoStore,
    /// No prediction of this store has this id: it comes from another replica or model
    /// version, or was never handed out.
    #[error("no prediction of this model version has this id")]
    UnknownId,
    /// The prediction was pushed out of the store by newer ones before its outcome came: the
    /// store is too small for the traffic and the label delay.
    #[error("the prediction was evicted from the store by newer predictions")]
    Evicted,
    /// The prediction is older than the store's maximum age.
    #[error("the prediction is older than the store's maximum age")]
    Expired,
    /// An outcome was already recorded for this prediction.
    #[error("an outcome was already recorded for this prediction")]
    Duplicate,
    /// A label for a regression's prediction, or a value for a classification's.
    #[error(
        "the outcome is of another kind than the prediction (a label for a value or a value for a label)"
    )]
    KindMismatch,
}

impl OutcomeError {
    /// The `ml.outcome.unmatched_reason` value: `no_store`, `unknown_id`, `evicted`,
    /// `expired`, `duplicate` or `kind_mismatch`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NoStore => "no_store",
            Self::UnknownId => "unknown_id",
            Self::Evicted => "evicted",
            Self::Expired => "expired",
            Self::Duplicate => "duplicate",
            Self::KindMismatch => "kind_mismatch",
        }
    }
}

/// A model version's outcome recording: its prediction store (if it keeps one) and the
/// instruments of the telemetry it is bound to.
#[derive(Debug)]
pub(crate) struct Outcomes {
    pub(crate) store: Option<PredictionStore>,
    /// Hold-out accuracy, reported as `ml.model.reference_accuracy` on each binding.
    reference_accuracy: Option<f64>,
    instruments: RwLock<Option<Arc<OutcomeInstruments>>>,
}

impl Outcomes {
    pub(crate) fn new(store: Option<StoreSettings>, reference_accuracy: Option<f64>) -> Self {
        Self {
            store: store.map(PredictionStore::new),
            reference_accuracy,
            instruments: RwLock::new(None),
        }
    }

    /// Records on the instruments of `meter` from now on (and reports the reference
    /// accuracy on it).
    pub(crate) fn bind(&self, meter: &Meter, model: &[KeyValue; 2]) {
        if let Some(accuracy) = self.reference_accuracy {
            let spec = crate::names::MODEL_REFERENCE_ACCURACY;
            meter
                .f64_gauge(spec.name)
                .with_unit(spec.unit)
                .with_description(spec.description)
                .build()
                .record(accuracy, model);
        }
        *self
            .instruments
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some(Arc::new(OutcomeInstruments::new(meter)));
    }

    fn instruments(&self) -> Option<Arc<OutcomeInstruments>> {
        self.instruments
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Stores the prediction of a finished call (when the model keeps a store) and makes
    /// its id the current thread's last one; `first_row` starts a new call's ids.
    #[inline]
    pub(crate) fn remember_call(
        &self,
        label_slot: usize,
        confidence: Option<f64>,
        at: quanta::Instant,
        first_row: bool,
    ) -> Option<PredictionId> {
        let store = self.store.as_ref()?;
        let id = store.remember(
            Stored::Class {
                label_slot,
                confidence: crate::output::valid_confidence(confidence),
            },
            at,
        );
        if first_row {
            id::set_last(id);
        } else {
            id::push_last(id);
        }
        Some(id)
    }

    /// Stores a prediction recorded by hand; `None` without a store.
    pub(crate) fn remember(&self, stored: Stored) -> Option<PredictionId> {
        let store = self.store.as_ref()?;
        Some(store.remember(stored, quanta::Instant::now()))
    }

    pub(crate) fn classification(&self, model: &[KeyValue; 2], outcome: &Classified) {
        if let Some(instruments) = self.instruments() {
            instruments.classification(model, outcome);
        }
    }

    pub(crate) fn regression(
        &self,
        model: &[KeyValue; 2],
        predicted: f64,
        actual: f64,
        delay_seconds: Option<f64>,
    ) {
        if let Some(instruments) = self.instruments() {
            instruments.regression(model, predicted, actual, delay_seconds);
        }
    }

    /// Counts an outcome that found no prediction, and hands the error back.
    pub(crate) fn unmatched(&self, model: &[KeyValue; 2], error: OutcomeError) -> OutcomeError {
        if let Some(instruments) = self.instruments() {
            instruments.unmatched(model, error.reason());
        }
        error
    }
}
