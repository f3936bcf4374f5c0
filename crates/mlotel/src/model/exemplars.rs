//! The exemplars of a model version's histograms: `ml.prediction.duration` per outcome and
//! `ml.prediction.confidence`, offered by sampled calls only. Each series is looked up on
//! its first sampled call, so a model that is never sampled keeps none.

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::exemplars::{ExemplarSeries, histogram_exemplars};
use crate::names::{self, attr, outcome};
use crate::output::valid_confidence;

/// The exemplar series of one model version.
#[derive(Debug)]
pub(crate) struct ModelExemplars {
    model_attributes: [KeyValue; 2],
    ok_duration: OnceLock<Arc<ExemplarSeries>>,
    confidence: OnceLock<Arc<ExemplarSeries>>,
    /// Per (outcome, error type): few, since error types are static strings.
    failed_durations: Mutex<Vec<(FailureKey, Arc<ExemplarSeries>)>>,
}

type FailureKey = (&'static str, &'static str);

impl ModelExemplars {
    pub(crate) fn new(model_attributes: &[KeyValue; 2]) -> Self {
        Self {
            model_attributes: model_attributes.clone(),
            ok_duration: OnceLock::new(),
            confidence: OnceLock::new(),
            failed_durations: Mutex::new(Vec::new()),
        }
    }

    /// A successful call's duration, in the `ok` series.
    pub(crate) fn ok_duration(&self, span: &Context, seconds: f64) {
        let series = self.ok_duration.get_or_init(|| {
            let attributes = self.with([KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK)]);
            histogram_exemplars(&names::PREDICTION_DURATION, &attributes)
        });
        series.offer(seconds, span.span().span_context());
    }

    /// A prediction's confidence, as the histogram records it (clamped to [0, 1]).
    pub(crate) fn confidence(&self, span: &Context, confidence: Option<f64>) {
        let Some(confidence) = valid_confidence(confidence) else {
            return;
        };
        let series = self.confidence.get_or_init(|| {
            histogram_exemplars(&names::PREDICTION_CONFIDENCE, &self.model_attributes)
        });
        series.offer(confidence, span.span().span_context());
    }

    /// A failed call's duration, in its outcome's and error type's series.
    pub(crate) fn failed_duration(
        &self,
        span: &Context,
        seconds: f64,
        outcome: &'static str,
        error_type: &'static str,
    ) {
        let key = (outcome, error_type);
        let series = {
            let mut failed = self
                .failed_durations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match failed.iter().find(|(known, _)| *known == key) {
                Some((_, series)) => series.clone(),
                None => {
                    let attributes = self.with([
                        KeyValue::new(attr::PREDICTION_OUTCOME, outcome),
                        KeyValue::new(attr::ERROR_TYPE, error_type),
                    ]);
                    let series = histogram_exemplars(&names::PREDICTION_DURATION, &attributes);
                    failed.push((key, series.clone()));
                    series
                }
            }
        };
        series.offer(seconds, span.span().span_context());
    }

    fn with<const N: usize>(&self, extra: [KeyValue; N]) -> Vec<KeyValue> {
        self.model_attributes.iter().cloned().chain(extra).collect()
    }
}
