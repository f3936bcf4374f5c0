//! The exemplars of a model version's histograms: `ml.prediction.duration` per outcome and
//! `ml.prediction.confidence`, offered by sampled calls only. Each series is looked up on
//! its first sampled call, so a model that is never sampled keeps none. The entry points
//! are out of line and cold: they run for sampled calls only, whose span costs far more,
//! and must not grow the unsampled path they branch off.

use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::exemplars::{ExemplarSeries, histogram_exemplars, unix_now};
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

    /// A successful call's duration in the `ok` series and, if it has one, its confidence.
    #[cold]
    #[inline(never)]
    pub(crate) fn success(&self, span: &Context, seconds: f64, confidence: Option<f64>) {
        let now = unix_now();
        let span = span.span();
        let context = span.span_context();
        self.ok_duration_series().offer_at(seconds, context, now);
        if let Some(confidence) = valid_confidence(confidence) {
            self.confidence_series().offer_at(confidence, context, now);
        }
    }

    /// The duration of a successful call whose output is not read, or of a batch.
    #[cold]
    #[inline(never)]
    pub(crate) fn ok_duration(&self, span: &Context, seconds: f64) {
        self.success(span, seconds, None);
    }

    /// One prediction's confidence (a row of a batch), as the histogram records it.
    #[cold]
    #[inline(never)]
    pub(crate) fn confidence(&self, span: &Context, confidence: Option<f64>) {
        if let Some(confidence) = valid_confidence(confidence) {
            self.confidence_series()
                .offer(confidence, span.span().span_context());
        }
    }

    fn ok_duration_series(&self) -> &ExemplarSeries {
        self.ok_duration.get_or_init(|| {
            let attributes = self.with([KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK)]);
            histogram_exemplars(&names::PREDICTION_DURATION, &attributes)
        })
    }

    fn confidence_series(&self) -> &ExemplarSeries {
        self.confidence.get_or_init(|| {
            histogram_exemplars(&names::PREDICTION_CONFIDENCE, &self.model_attributes)
        })
    }

    /// A failed call's duration, in its outcome's and error type's series.
    #[cold]
    #[inline(never)]
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
