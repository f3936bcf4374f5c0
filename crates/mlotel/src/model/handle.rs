//! [`Model`]: the handle of one model version, for code that records by hand, with the
//! span ([`PredictionSpan`]) and active-call ([`ActiveGuard`]) pieces it hands out.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::{Context, Value};

use super::builder::ModelBuilder;
use super::call::PredictionCall;
use super::outcome::Outcome;
use super::state::{ModelSnapshot, ModelState};
use super::stripes;
use crate::drift::coarse_clock;
use crate::drift::monitor::DriftMonitor;
use crate::drift::reference::{FeatureValue, Reference};
use crate::drift::{DriftReport, NOT_MONITORED};
use crate::features::FeatureRow;
use crate::spans;

/// The telemetry of one model version. Cheap to clone; create it once at start-up.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) state: Arc<ModelState>,
}

impl Model {
    /// Starts describing a model version.
    pub fn builder(name: impl Into<String>) -> ModelBuilder {
        ModelBuilder::new(name.into())
    }

    /// The model name (`ml.model.name`).
    pub fn name(&self) -> &str {
        self.state.name()
    }

    /// The model version (`ml.model.version`).
    pub fn version(&self) -> &str {
        self.state.version()
    }

    /// Records one finished prediction call: its duration and outcome, and for a success
    /// its label and confidence. `rows` is the number of predictions the call made (1, or
    /// the batch size): the duration is recorded once, the prediction count `rows` times.
    /// For a call you can wrap, [`start_call`](Self::start_call) also times it, counts it
    /// as active and gives it a span.
    pub fn record_prediction(&self, duration: Duration, rows: u64, outcome: Outcome<'_>) {
        self.state.record_call(
            stripes::current(),
            duration.as_secs_f64(),
            rows,
            self.state.ending_of(&outcome),
            None,
        );
    }

    /// Starts one prediction call, as `#[instrument_ml]` does: it is timed, counted in
    /// `ml.predictions.active`, and gets the span `predict {model}` under the current
    /// context unless the sampler would drop it. Finish it with one of its `finish`
    /// methods; dropped unfinished it is recorded as a panic (while panicking) or a
    /// cancellation.
    pub fn start_call(&self) -> PredictionCall<'_> {
        PredictionCall::start(&self.state, self.state.span_name)
    }

    /// Marks one prediction call as in progress until the guard is dropped
    /// (`ml.predictions.active`).
    pub fn track_active(&self) -> ActiveGuard<'_> {
        let stripe = stripes::current();
        self.state.stripes.add_active(stripe, 1);
        ActiveGuard {
            model: &self.state,
            stripe,
        }
    }

    /// Starts the span of a prediction, `predict {model}`, as a child of the current
    /// OpenTelemetry context (which includes the current `tracing` span).
    pub fn start_span(&self) -> PredictionSpan {
        let parent = Context::current();
        match self.state.start_span(self.state.span_name, &parent) {
            Some(context) => PredictionSpan {
                context,
                owned: true,
            },
            None => PredictionSpan {
                context: parent,
                owned: false,
            },
        }
    }

    /// Runs `body` inside a new prediction span made current, so that `tracing` spans and
    /// further mlotel spans opened by `body` become its children. End the returned span
    /// with [`PredictionSpan::end`].
    pub fn in_span<T>(&self, body: impl FnOnce() -> T) -> (T, PredictionSpan) {
        let span = self.start_span();
        let output = {
            let _attached = span.context.clone().attach();
            body()
        };
        (output, span)
    }

    /// Reports whether the model version is loaded and serving (`ml.model.loaded`).
    pub fn set_loaded(&self, loaded: bool) {
        self.state.set_loaded(loaded);
    }

    /// Whether [`set_loaded(true)`](Self::set_loaded) was the last report.
    pub fn is_loaded(&self) -> bool {
        self.state.is_loaded()
    }

    /// Load state, load time, prediction count and mean confidence, for health endpoints.
    /// Reads each stripe under its lock: cheap, but not for the hot path.
    pub fn snapshot(&self) -> ModelSnapshot {
        self.state.snapshot()
    }

    /// Whether `#[instrument_ml]` registered this version on its first use (nobody reports
    /// its load state) rather than [`ModelBuilder::register`].
    pub fn registered_on_first_use(&self) -> bool {
        self.state.registered_on_first_use()
    }

    /// Reports how long the model version took to load (`ml.model.load.duration`).
    pub fn set_load_duration(&self, duration: Duration) {
        self.state.set_load_seconds(duration.as_secs_f64());
    }

    /// Counts an input value of `feature` that was missing or NaN (`ml.feature.missing`).
    /// A name outside the model's declared features is counted as `__other__`.
    pub fn record_missing_feature(&self, feature: &str) {
        self.state
            .count_missing_feature(stripes::current(), feature);
    }

    /// Counts an input value of `feature` outside its reference range
    /// (`ml.feature.out_of_range`). A name outside the model's declared features is
    /// counted as `__other__`.
    pub fn record_out_of_range_feature(&self, feature: &str) {
        self.state
            .count_out_of_range_feature(stripes::current(), feature);
    }

    /// Hands every buffered measurement to the SDK now. Collections do this on their own;
    /// call it before reading the SDK's state yourself.
    pub fn flush(&self) {
        self.state.flush();
    }

    /// Feeds one input row to the drift window (and counts its missing and out-of-range
    /// values), as `#[instrument_ml(features = ..)]` does. Without a drift reference only
    /// missing values are counted.
    pub fn observe_features<R: FeatureRow + ?Sized>(&self, row: &R) {
        self.state
            .observe_row(stripes::current(), row, coarse_clock::recent);
    }

    /// Feeds one input row whose values may be categories (`FeatureValue::Category`) to the
    /// drift window, for models with categorical features.
    pub fn observe_values(&self, values: &[FeatureValue<'_>]) {
        self.state
            .observe_values(stripes::current(), values, coarse_clock::recent);
    }

    /// The drift statistics of the current window, with everything recorded so far;
    /// `None` without a drift reference. Computed again only when the window changed.
    pub fn drift_report(&self) -> Option<Arc<DriftReport>> {
        self.state.drift_report()
    }

    /// `not_monitored` without a drift reference; else `insufficient_data`, `ok` or
    /// `drift` ([`DriftReport::status`]).
    pub fn drift_status(&self) -> &'static str {
        self.drift_report()
            .map_or(NOT_MONITORED, |report| report.status())
    }

    /// The drift reference, if the model version has one.
    pub fn reference(&self) -> Option<&Reference> {
        self.state.drift.as_ref().map(DriftMonitor::reference)
    }
}

/// A started prediction span. Make [`context`](Self::context) current around the work
/// (`attach()` for sync code, `FutureExt::with_context` for futures), then [`end`](Self::end) it.
#[derive(Debug)]
#[must_use = "end the span with end() so it carries the outcome"]
pub struct PredictionSpan {
    context: Context,
    /// False when the sampler dropped the span and `context` is the caller's: ending it
    /// must not end the caller's span.
    owned: bool,
}

impl PredictionSpan {
    /// The context holding this span: children started while it is current nest under it.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Sets the attributes and status that describe `outcome`, then ends the span.
    pub fn end(self, rows: u64, outcome: Outcome<'_>) {
        if !self.owned {
            return;
        }
        let (label, confidence) = match outcome {
            Outcome::Ok { label, confidence } => (label, confidence),
            _ => (None, None),
        };
        spans::end_prediction_span(
            &self.context,
            rows,
            outcome.as_str(),
            label.map(|label| Value::from(label.to_owned())),
            confidence,
            outcome.error_type(),
        );
    }
}

/// Keeps one prediction counted in `ml.predictions.active` until dropped (also on panic or
/// when a future is cancelled, since drop runs then too).
#[derive(Debug)]
#[must_use = "the call counts as active only while the guard is alive"]
pub struct ActiveGuard<'a> {
    model: &'a ModelState,
    stripe: usize,
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.model.stripes.add_active(self.stripe, -1);
    }
}
