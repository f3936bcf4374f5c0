//! What `#[instrument_ml]` expands to: a guard started before the body and finished with
//! its output, and the probes that read the output. Not a public API: names and
//! signatures change without notice.

use std::fmt::Debug;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, ContextGuard, KeyValue, Value};

pub use opentelemetry::context::FutureExt;

use crate::features::{FeatureRow, FeatureRows};
use crate::model::{self, ModelState};
use crate::names::{attr, outcome};
use crate::output::{
    BatchOutput, ErrorType, IntoConfidence, IntoLabel, Label, Prediction, PredictionOutput,
    short_type_name,
};
use crate::stripes::{self, Failure};
use crate::{labels, registry};

/// A registered model version, as generated code holds it.
#[derive(Debug, Clone, Copy)]
pub struct SiteModel(&'static ModelState);

/// The model of a call site whose model and version are literals, looked up once.
#[derive(Debug)]
pub struct CallSite {
    name: &'static str,
    version: &'static str,
    version_defaulted: bool,
    model: OnceLock<SiteModel>,
}

impl CallSite {
    #[allow(missing_docs)]
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self {
            name,
            version,
            version_defaulted: false,
            model: OnceLock::new(),
        }
    }

    /// A call site that gave no version: see [`model_with_default_version`].
    pub const fn with_default_version(name: &'static str, crate_version: &'static str) -> Self {
        Self {
            name,
            version: crate_version,
            version_defaulted: true,
            model: OnceLock::new(),
        }
    }

    #[allow(missing_docs)]
    pub fn model(&self) -> SiteModel {
        *self.model.get_or_init(|| {
            SiteModel(if self.version_defaulted {
                registry::model_with_default_version(self.name, self.version)
            } else {
                registry::model(self.name, self.version)
            })
        })
    }
}

/// The model of a call site whose model or version is an expression, looked up per call.
pub fn model<N, V>(name: &N, version: &V) -> SiteModel
where
    N: AsRef<str> + ?Sized,
    V: AsRef<str> + ?Sized,
{
    SiteModel(registry::model(name.as_ref(), version.as_ref()))
}

/// The model of a call site that gave no version, looked up per call: the one registered
/// version of the model when there is exactly one, else the model at the crate's version.
pub fn model_with_default_version<N: AsRef<str> + ?Sized>(
    name: &N,
    crate_version: &'static str,
) -> SiteModel {
    SiteModel(registry::model_with_default_version(
        name.as_ref(),
        crate_version,
    ))
}

/// Started before the body of a prediction function; records the call when finished, or
/// as a panic or cancellation when dropped unfinished.
#[derive(Debug)]
#[must_use]
pub struct Guard {
    model: &'static ModelState,
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

/// Starts a span under the current context, unless the sampler would drop it. The decision
/// borrows the current context; building the span does not, because span processors run
/// then and may make contexts current themselves.
fn start_span(model: Option<&'static ModelState>, span_name: &'static str) -> Option<Context> {
    let dropped = Context::map_current(|parent| match model {
        Some(model) => model.drops_child_of(parent),
        None => registry::span_policy().drops_child_of(parent),
    });
    if dropped {
        return None;
    }
    let parent = Context::current();
    match model {
        Some(model) => model.start_span(span_name, &parent),
        None => registry::with_tracing(|tracing| tracing.start_span(span_name, &parent)),
    }
}

impl Guard {
    #[allow(missing_docs)]
    pub fn start(SiteModel(model): SiteModel, span_name: Option<&'static str>) -> Self {
        let stripe = stripes::current();
        model.add_active(stripe, 1);
        // Built before the span, so a panic while starting the span (in a span processor
        // or sampler) still takes the active call back.
        let mut guard = Self {
            model,
            stripe,
            span: None,
            rows: 1,
            rows_recorded: 0,
            batch_confidence: (0.0, 0),
            finished: false,
            started: quanta::Instant::now(),
        };
        guard.span = start_span(Some(model), span_name.unwrap_or(model.span_name));
        guard
    }

    /// Makes the prediction span current for a synchronous body.
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.clone().map(Context::attach)
    }

    /// The prediction span's context, to make current around an asynchronous body.
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    #[allow(missing_docs)]
    pub fn observe_features<R: FeatureRow + ?Sized>(&mut self, row: &R) {
        self.model.observe_row(self.stripe, row, || self.started);
    }

    #[allow(missing_docs)]
    pub fn observe_feature_rows<B: FeatureRows + ?Sized>(&mut self, rows: &B) {
        let rows = rows.feature_rows();
        for row in rows {
            self.model.observe_row(self.stripe, row, || self.started);
        }
        self.rows = rows.len() as u64;
    }

    /// Records an argument on the span (`record = [..]`), only when the span is sampled.
    pub fn record_arg(&self, key: &'static str, value: &dyn Debug) {
        record_arg(self.span.as_ref(), key, value);
    }

    fn seconds(&self) -> f64 {
        quanta::Instant::now()
            .duration_since(self.started)
            .as_secs_f64()
    }

    #[allow(missing_docs)]
    pub fn finish_error(mut self, error_type: &'static str) {
        self.fail(outcome::ERROR, error_type);
    }

    fn fail(&mut self, outcome: &'static str, error_type: &'static str) {
        self.finished = true;
        let failure = Failure {
            seconds: self.seconds(),
            rows: self.rows.saturating_sub(self.rows_recorded).max(1),
            outcome,
            error_type,
        };
        // The current thread's stripe, not the one of the first poll: an async call may
        // finish on another worker thread.
        self.model.record_failure(stripes::current(), failure);
        if let Some(span) = &self.span {
            model::end_span(span, self.rows, outcome, None, None, Some(error_type));
        }
    }

    #[allow(missing_docs)]
    pub fn finish_prediction(mut self, prediction: Prediction<'_>) {
        self.finished = true;
        let seconds = self.seconds();
        let slot = self.model.labels.slot(prediction.label);
        self.model.record_success(
            stripes::current(),
            seconds,
            1,
            slot,
            prediction.confidence,
            Some(self.started),
        );
        if let Some(span) = &self.span {
            let label = prediction.label.map(|label| self.span_label(slot, label));
            model::end_span(span, 1, outcome::OK, label, prediction.confidence, None);
        }
    }

    /// A success whose output is not read (`skip_output`).
    pub fn finish_unread(mut self) {
        self.finished = true;
        let seconds = self.seconds();
        self.model.record_success(
            stripes::current(),
            seconds,
            self.rows,
            labels::NO_LABEL,
            None,
            Some(self.started),
        );
        if let Some(span) = &self.span {
            model::end_span(span, self.rows, outcome::OK, None, None, None);
        }
    }

    /// One row of a batch's output.
    pub fn record_row(&mut self, prediction: Prediction<'_>) {
        let slot = self.model.labels.slot(prediction.label);
        self.model.record_row(
            stripes::current(),
            slot,
            prediction.confidence,
            Some(self.started),
        );
        self.rows_recorded += 1;
        // The value the histogram records, so the span's mean agrees with it (a finite
        // -1e308 would otherwise swamp the mean of the others).
        if let Some(confidence) = model::valid_confidence(prediction.confidence) {
            self.batch_confidence.0 += confidence;
            self.batch_confidence.1 += 1;
        }
    }

    /// Ends a batch of `rows` predictions (one duration for the call).
    pub fn finish_batch(mut self, rows: usize) {
        self.finished = true;
        self.rows = rows as u64;
        self.model
            .record_batch_end(stripes::current(), self.seconds());
        if let Some(span) = &self.span {
            let (sum, count) = self.batch_confidence;
            let mean = (count > 0).then(|| sum / count as f64);
            model::end_span(span, self.rows, outcome::OK, None, mean, None);
        }
    }

    /// The label as predicted: the label set's shared value when it is in the set.
    fn span_label(&self, slot: usize, label: Label<'_>) -> Value {
        let predicted = match (slot, label) {
            (labels::OTHER, Label::Text(text)) => text.to_owned(),
            (labels::OTHER, Label::Index(index)) => index.to_string(),
            (labels::OTHER, Label::Integer(number)) => number.to_string(),
            (labels::OTHER, Label::Bool(value)) => value.to_string(),
            (slot, _) => match self.model.labels.name(slot) {
                Some(name) => return Value::String(name.into()),
                None => String::new(),
            },
        };
        Value::from(predicted)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            let kind = if std::thread::panicking() {
                outcome::PANIC
            } else {
                outcome::CANCELLED
            };
            self.fail(kind, kind);
        }
        self.model.add_active(self.stripe, -1);
    }
}

const MAX_RECORDED_ARG: usize = 256;

fn record_arg(span: Option<&Context>, key: &'static str, value: &dyn Debug) {
    if let Some(span) = span {
        let span = span.span();
        if span.is_recording() {
            let mut text = format!("{value:?}");
            truncate(&mut text, MAX_RECORDED_ARG);
            span.set_attribute(KeyValue::new(key, text));
        }
    }
}

fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// The span of a sub-step (`#[instrument_ml(stage = "...")]`): no metrics, a child span.
#[derive(Debug)]
#[must_use]
pub struct StageGuard {
    span: Option<Context>,
    finished: bool,
}

impl StageGuard {
    #[allow(missing_docs)]
    pub fn start(model: Option<SiteModel>, span_name: &'static str, stage: &'static str) -> Self {
        let span = start_span(model.map(|SiteModel(model)| model), span_name);
        if let Some(span) = &span {
            span.span().set_attribute(KeyValue::new(attr::STAGE, stage));
        }
        Self {
            span,
            finished: false,
        }
    }

    #[allow(missing_docs)]
    pub fn attach(&self) -> Option<ContextGuard> {
        self.span.clone().map(Context::attach)
    }

    #[allow(missing_docs)]
    pub fn context(&self) -> Option<Context> {
        self.span.clone()
    }

    /// Records an argument on the span (`record = [..]`), only when the span is sampled.
    pub fn record_arg(&self, key: &'static str, value: &dyn Debug) {
        record_arg(self.span.as_ref(), key, value);
    }

    #[allow(missing_docs)]
    pub fn finish(mut self, error_type: Option<&'static str>) {
        self.finished = true;
        self.end(error_type);
    }

    fn end(&self, error_type: Option<&'static str>) {
        if let Some(span) = &self.span {
            let span = span.span();
            if let Some(error_type) = error_type {
                span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type));
                span.set_status(opentelemetry::trace::Status::error(error_type));
            }
            span.end();
        }
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.end(Some(if std::thread::panicking() {
                outcome::PANIC
            } else {
                outcome::CANCELLED
            }));
        }
    }
}

/// The label and confidence of an output, through [`PredictionOutput`].
pub fn prediction_of<T: PredictionOutput + ?Sized>(output: &T) -> Prediction<'_> {
    output.prediction()
}

/// Returns `future` unchanged. Passing an `async` body through it gives the body its
/// output type before the body is checked, so that `?` inside knows what to convert into.
pub fn typed_future<T, F: Future<Output = T>>(future: F) -> F {
    future
}

/// The rows of a batch output, through [`BatchOutput`].
pub fn batch_rows<B: BatchOutput + ?Sized>(output: &B) -> &[B::Row] {
    output.rows()
}

/// Applies a `label = |output| ...` closure; the closure's argument type is inferred from
/// `success`.
pub fn label_with<'a, S: ?Sized, L: IntoLabel<'a>>(
    success: &'a S,
    label: impl FnOnce(&'a S) -> L,
) -> Option<Label<'a>> {
    label(success).into_label()
}

/// Applies a `confidence = |output| ...` closure.
pub fn confidence_with<'a, S: ?Sized, C: IntoConfidence>(
    success: &'a S,
    confidence: impl FnOnce(&'a S) -> C,
) -> Option<f64> {
    confidence(success).into_confidence()
}

/// Wraps an output so that `(&&&ErrorProbe(&output)).mlotel_error_type()` picks, by
/// auto-ref precedence, the most specific way to name an `Err`: the error's
/// [`ErrorType`], else its type name; anything that is not a `Result` has no error.
#[derive(Debug)]
pub struct ErrorProbe<'a, T: ?Sized>(pub &'a T);

#[allow(missing_docs)]
pub trait ErrorTypeFromTrait {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T, E: ErrorType> ErrorTypeFromTrait for &&ErrorProbe<'_, Result<T, E>> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        self.0.as_ref().err().map(ErrorType::error_type)
    }
}

#[allow(missing_docs)]
pub trait ErrorTypeFromName {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T, E> ErrorTypeFromName for &ErrorProbe<'_, Result<T, E>> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        self.0.as_ref().err().map(|_| short_type_name::<E>())
    }
}

#[allow(missing_docs)]
pub trait NoErrorType {
    fn mlotel_error_type(&self) -> Option<&'static str>;
}
impl<T: ?Sized> NoErrorType for ErrorProbe<'_, T> {
    fn mlotel_error_type(&self) -> Option<&'static str> {
        None
    }
}

/// Wraps an output so that `(&&SuccessProbe(&output)).mlotel_success()` gives the value a
/// prediction is read from: the `Ok` value of a `Result`, else the output itself.
#[derive(Debug)]
pub struct SuccessProbe<'a, T: ?Sized>(pub &'a T);

#[allow(missing_docs)]
pub trait SuccessOfResult<'a> {
    type Success: ?Sized;
    fn mlotel_success(&self) -> Option<&'a Self::Success>;
}
impl<'a, T, E> SuccessOfResult<'a> for &SuccessProbe<'a, Result<T, E>> {
    type Success = T;
    fn mlotel_success(&self) -> Option<&'a T> {
        self.0.as_ref().ok()
    }
}

#[allow(missing_docs)]
pub trait SuccessOfAny<'a> {
    type Success: ?Sized;
    fn mlotel_success(&self) -> Option<&'a Self::Success>;
}
impl<'a, T: ?Sized> SuccessOfAny<'a> for SuccessProbe<'a, T> {
    type Success = T;
    fn mlotel_success(&self) -> Option<&'a T> {
        Some(self.0)
    }
}

#[cfg(test)]
#[allow(clippy::needless_borrow)] // the probes' extra borrows are how they choose
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Timeout;
    impl ErrorType for Timeout {
        fn error_type(&self) -> &'static str {
            "timeout"
        }
    }
    #[derive(Debug)]
    struct BadShape;

    #[test]
    fn error_probe_prefers_the_error_type_trait_then_the_type_name() {
        let classified: Result<f64, Timeout> = Err(Timeout);
        assert_eq!(
            (&&&ErrorProbe(&classified)).mlotel_error_type(),
            Some("timeout")
        );
        let named: Result<f64, BadShape> = Err(BadShape);
        assert_eq!(
            (&&&ErrorProbe(&named)).mlotel_error_type(),
            Some("BadShape")
        );
        let fine: Result<f64, BadShape> = Ok(1.0);
        assert_eq!((&&&ErrorProbe(&fine)).mlotel_error_type(), None);
        assert_eq!((&&&ErrorProbe(&0.5)).mlotel_error_type(), None);
    }

    #[test]
    fn success_probe_unwraps_results_only() {
        let ok: Result<[f64; 2], BadShape> = Ok([0.3, 0.7]);
        assert_eq!((&&SuccessProbe(&ok)).mlotel_success(), Some(&[0.3, 0.7]));
        let some = Some(2_u32);
        assert_eq!((&&SuccessProbe(&some)).mlotel_success(), Some(&Some(2)));
    }

    #[test]
    fn long_arguments_are_cut_at_a_char_boundary() {
        let mut text = "é".repeat(200);
        truncate(&mut text, 5);
        assert_eq!(text, "éé…");
    }
}
