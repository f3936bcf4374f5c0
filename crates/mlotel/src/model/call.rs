//! [`PredictionCall`]: one prediction call in progress, from its start to the outcome it
//! records. `#[instrument_ml]` expands to one; [`Model::start_call`](crate::Model::start_call)
//! gives one to hand-written code.

use std::fmt::Debug;

use opentelemetry::{Context, ContextGuard, Value};

use super::outcome::Outcome;
use super::state::{Ending, ModelState};
use super::stripes;
use crate::bounded_names;
use crate::features::{FeatureRow, FeatureRows};
use crate::ground_truth::PredictionId;
use crate::names::outcome;
use crate::output::{Label, Prediction, valid_confidence};
use crate::spans;

/// One prediction call in progress: timed from [`Model::start_call`](crate::Model::start_call),
/// counted in `ml.predictions.active`, with its span (unless the sampler drops it). Finish
/// it once with [`finish`](Self::finish) or one of the `finish_*` methods; dropped
/// unfinished (a panic, a cancelled future) it records that.
#[derive(Debug)]
#[must_use = "finish the call so it records its outcome; dropped, it counts as cancelled"]
pub struct PredictionCall<'m> {
    model: &'m ModelState,
    stripe: usize,
    started: quanta::Instant,
    span: Option<Context>,
    rows: u64,
    /// Rows of a batch already counted as successes, so a panic part-way through a batch
    /// counts only the rest as panicked.
    rows_recorded: u64,
    batch_confidence: (f64, u64),
    finished: bool,
}

impl<'m> PredictionCall<'m> {
    /// Starts a call of `model` whose span is named `span_name`.
    #[inline]
    pub(crate) fn start(model: &'m ModelState, span_name: &'static str) -> Self {
        let stripe = stripes::current();
        model.stripes.add_active(stripe, 1);
        // Built before the span, so a panic while starting the span (in a span processor
        // or sampler) still takes the active call back.
        let mut call = Self {
            model,
            stripe,
            span: None,
            rows: 1,
            rows_recorded: 0,
            batch_confidence: (0.0, 0),
            finished: false,
            started: quanta::Instant::now(),
        };
        call.span = start_span(model, span_name);
        call
    }

    /// Makes the call's span current for a synchronous body (`None` when unsampled).
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.clone().map(Context::attach)
    }

    /// The call's span context, to make current around an asynchronous body
    /// (`FutureExt::with_context`); `None` when unsampled.
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    /// Feeds the call's input row to drift (and counts its missing and out-of-range
    /// values), at the call's start time.
    pub fn observe_features<R: FeatureRow + ?Sized>(&mut self, row: &R) {
        self.model.observe_row(self.stripe, row, || self.started);
    }

    /// Feeds a batch's rows to drift; the call then counts as that many predictions.
    pub fn observe_feature_rows<B: FeatureRows + ?Sized>(&mut self, rows: &B) {
        let rows = rows.feature_rows();
        for row in rows {
            self.model.observe_row(self.stripe, row, || self.started);
        }
        self.rows = rows.len() as u64;
    }

    /// Records an argument on the span as `key` (`record = [..]` of the attribute), cut to
    /// 256 bytes; only when the span is sampled.
    pub fn record_arg(&self, key: &'static str, value: &dyn Debug) {
        spans::record_arg(self.span.as_ref(), key, value);
    }

    fn seconds(&self) -> f64 {
        quanta::Instant::now()
            .duration_since(self.started)
            .as_secs_f64()
    }

    /// Finishes the call with `outcome`.
    pub fn finish(self, outcome: Outcome<'_>) {
        match outcome {
            Outcome::Ok { label, confidence } => {
                self.finish_prediction(Prediction {
                    label: label.map(Label::Text),
                    confidence,
                });
            }
            Outcome::Error { error_type } => self.finish_error(error_type),
            Outcome::Panic | Outcome::Cancelled => {
                let mut call = self;
                call.fail(outcome.as_str(), outcome.as_str());
            }
        }
    }

    /// Finishes the call as failed with `error_type` (the `error.type` attribute).
    pub fn finish_error(mut self, error_type: &'static str) {
        self.fail(outcome::ERROR, error_type);
    }

    fn fail(&mut self, outcome: &'static str, error_type: &'static str) {
        self.finished = true;
        let rows = self.rows.saturating_sub(self.rows_recorded).max(1);
        let seconds = self.seconds();
        // The current thread's stripe, not the one of the first poll: an async call may
        // finish on another worker thread.
        self.model.record_call(
            stripes::current(),
            seconds,
            rows,
            Ending::Failure {
                outcome,
                error_type,
            },
            None,
        );
        if let Some(span) = &self.span {
            let exemplars = &self.model.exemplars;
            exemplars.failed_duration(span, seconds, outcome, error_type);
            spans::end_prediction_span(span, self.rows, outcome, None, None, Some(error_type));
        }
    }

    /// Finishes the call with one prediction. When the model keeps a prediction store
    /// ([`ModelBuilder::prediction_store`](crate::ModelBuilder::prediction_store)) the
    /// prediction is stored and its id returned (and kept as the thread's
    /// [`last_prediction_id`](crate::last_prediction_id)); else `None`.
    pub fn finish_prediction(mut self, prediction: Prediction<'_>) -> Option<PredictionId> {
        self.finished = true;
        let seconds = self.seconds();
        let label_slot = self.model.labels.slot(prediction.label);
        self.model.record_call(
            stripes::current(),
            seconds,
            1,
            Ending::Success {
                label_slot,
                confidence: prediction.confidence,
            },
            Some(self.started),
        );
        if let Some(span) = &self.span {
            let exemplars = &self.model.exemplars;
            exemplars.success(span, seconds, prediction.confidence);
            let label = prediction
                .label
                .map(|label| self.span_label(label_slot, label));
            spans::end_prediction_span(span, 1, outcome::OK, label, prediction.confidence, None);
        }
        self.model
            .outcomes
            .remember_call(label_slot, prediction.confidence, self.started, true)
    }

    /// Finishes a successful call whose output is not read (`skip_output`).
    pub fn finish_unread(mut self) {
        self.finished = true;
        let seconds = self.seconds();
        self.model.record_call(
            stripes::current(),
            seconds,
            self.rows,
            Ending::Success {
                label_slot: bounded_names::NO_LABEL,
                confidence: None,
            },
            Some(self.started),
        );
        if let Some(span) = &self.span {
            self.model.exemplars.ok_duration(span, seconds);
            spans::end_prediction_span(span, self.rows, outcome::OK, None, None, None);
        }
    }

    /// Records one row of a batch's output; end the batch with
    /// [`finish_batch`](Self::finish_batch). With a prediction store the row is stored and
    /// its id returned (the batch's ids, in row order, are the thread's
    /// [`take_prediction_ids`](crate::take_prediction_ids) once it is finished).
    pub fn record_row(&mut self, prediction: Prediction<'_>) -> Option<PredictionId> {
        let slot = self.model.labels.slot(prediction.label);
        self.model.record_row(
            stripes::current(),
            slot,
            prediction.confidence,
            Some(self.started),
        );
        self.rows_recorded += 1;
        if let Some(span) = &self.span {
            self.model.exemplars.confidence(span, prediction.confidence);
        }
        // The value the histogram records, so the span's mean agrees with it (a finite
        // -1e308 would otherwise swamp the mean of the others).
        if let Some(confidence) = valid_confidence(prediction.confidence) {
            self.batch_confidence.0 += confidence;
            self.batch_confidence.1 += 1;
        }
        self.model.outcomes.remember_call(
            slot,
            prediction.confidence,
            self.started,
            self.rows_recorded == 1,
        )
    }

    /// Ends a batch of `rows` predictions (one duration for the call).
    pub fn finish_batch(mut self, rows: usize) {
        self.finished = true;
        self.rows = rows as u64;
        let seconds = self.seconds();
        self.model.record_batch_end(stripes::current(), seconds);
        if let Some(span) = &self.span {
            self.model.exemplars.ok_duration(span, seconds);
            let (sum, count) = self.batch_confidence;
            let mean = (count > 0).then(|| sum / count as f64);
            spans::end_prediction_span(span, self.rows, outcome::OK, None, mean, None);
        }
    }

    /// The label as predicted: the label set's shared value when it is in the set.
    fn span_label(&self, slot: usize, label: Label<'_>) -> Value {
        let predicted = match (slot, label) {
            (bounded_names::OTHER, Label::Text(text)) => text.to_owned(),
            (bounded_names::OTHER, Label::Index(index)) => index.to_string(),
            (bounded_names::OTHER, Label::Integer(number)) => number.to_string(),
            (bounded_names::OTHER, Label::Bool(value)) => value.to_string(),
            (slot, _) => match self.model.labels.name(slot) {
                Some(name) => return Value::String(name.into()),
                None => String::new(),
            },
        };
        Value::from(predicted)
    }
}

impl Drop for PredictionCall<'_> {
    fn drop(&mut self) {
        if !self.finished {
            let kind = if std::thread::panicking() {
                outcome::PANIC
            } else {
                outcome::CANCELLED
            };
            self.fail(kind, kind);
        }
        self.model.stripes.add_active(self.stripe, -1);
    }
}

/// Starts a span under the current context, unless the sampler would drop it. The decision
/// borrows the current context; building the span does not, because span processors run
/// then and may make contexts current themselves.
#[inline]
pub(crate) fn start_span(model: &ModelState, span_name: &'static str) -> Option<Context> {
    if Context::map_current(|parent| model.drops_child_of(parent)) {
        return None;
    }
    model.start_span(span_name, &Context::current())
}
