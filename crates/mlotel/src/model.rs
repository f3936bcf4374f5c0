//! The per-model handle: every prediction instrument created once, with the model's fixed
//! attributes (name, version) bound once, so recording a successful prediction with a
//! declared label does no allocation, no attribute-set hashing and no instrument lookup.
//! Errors, panics and cancellations, and labels when none were declared, take the SDK's
//! ordinary (hashed) path.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, BoundUpDownCounter, Counter, Gauge, Histogram, Meter,
};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use crate::names::{self, InstrumentSpec, attr, outcome};

/// How a prediction call ended, with what the runtime learned from its output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome<'a> {
    /// The call returned a prediction.
    Ok {
        /// Predicted label; labels outside the model's declared set are recorded as
        /// [`names::OTHER_LABEL`].
        label: Option<&'a str>,
        /// Confidence in `0..=1`, when the model gives one.
        confidence: Option<f64>,
    },
    /// The call returned an error of this class (a short, bounded name: the error type).
    Error {
        /// Value of the `error.type` attribute.
        error_type: &'a str,
    },
    /// The call panicked.
    Panic,
    /// The call's future was dropped before it completed.
    Cancelled,
}

impl Outcome<'_> {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Ok { .. } => outcome::OK,
            Self::Error { .. } => outcome::ERROR,
            Self::Panic => outcome::PANIC,
            Self::Cancelled => outcome::CANCELLED,
        }
    }
}

/// Builder of a [`ModelInstruments`]: see [`crate::Telemetry::model`].
#[derive(Debug, Clone)]
pub struct ModelInstrumentsBuilder {
    name: String,
    version: String,
    labels: Vec<String>,
}

impl ModelInstrumentsBuilder {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: "unversioned".to_owned(),
            labels: Vec::new(),
        }
    }

    /// The model version (`ml.model.version`), e.g. `2.0.0`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The labels the model can predict. Declaring them bounds the `ml.prediction.label`
    /// attribute: any other label is recorded as `__other__`. Without a declaration labels
    /// are recorded as given, up to the SDK's cardinality limit.
    pub fn labels<I, L>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn build(self, meter: &Meter, tracer: SdkTracer) -> ModelInstruments {
        ModelInstruments {
            inner: Arc::new(Inner::new(self, meter, tracer)),
        }
    }
}

/// Instruments of one model version. Cheap to clone; create it once at start-up.
#[derive(Debug, Clone)]
pub struct ModelInstruments {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    name: String,
    version: String,
    /// `predict {model}`, built once and leaked: one small string per registered model,
    /// so starting a span does not copy it.
    span_name: &'static str,
    model_attributes: [KeyValue; 2],
    tracer: SdkTracer,
    duration_ok: BoundHistogram<f64>,
    duration: Histogram<f64>,
    /// One bound counter per declared label, then one for `__other__`.
    predictions_ok_by_label: Vec<(String, BoundCounter<u64>)>,
    predictions_ok_without_label: BoundCounter<u64>,
    predictions: Counter<u64>,
    confidence: BoundHistogram<f64>,
    active: BoundUpDownCounter<i64>,
    loaded: Gauge<u64>,
    load_duration: Gauge<f64>,
    missing: Counter<u64>,
    out_of_range: Counter<u64>,
}

impl Inner {
    fn new(builder: ModelInstrumentsBuilder, meter: &Meter, tracer: SdkTracer) -> Self {
        let ModelInstrumentsBuilder {
            name,
            version,
            labels,
        } = builder;
        // Reference-counted values: cloning these attributes bumps a count, not a copy.
        let shared = |text: &str| Value::String(StringValue::from(Arc::<str>::from(text)));
        let model_attributes = [
            KeyValue::new(attr::MODEL_NAME, shared(&name)),
            KeyValue::new(attr::MODEL_VERSION, shared(&version)),
        ];
        let with = |extra: &[KeyValue]| -> Vec<KeyValue> {
            model_attributes.iter().chain(extra).cloned().collect()
        };
        let ok = KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK);

        let duration = histogram(meter, names::PREDICTION_DURATION);
        let predictions = counter(meter, names::PREDICTIONS);
        let bind_label = |label: &str| {
            predictions.bind(&with(&[
                ok.clone(),
                KeyValue::new(attr::PREDICTION_LABEL, label.to_owned()),
            ]))
        };
        let mut predictions_ok_by_label: Vec<_> = labels
            .iter()
            .map(|label| (label.clone(), bind_label(label)))
            .collect();
        if !labels.is_empty() {
            predictions_ok_by_label.push((
                names::OTHER_LABEL.to_owned(),
                bind_label(names::OTHER_LABEL),
            ));
        }

        let info = gauge_u64(meter, names::MODEL_INFO);
        info.record(1, &model_attributes);
        let loaded = gauge_u64(meter, names::MODEL_LOADED);
        loaded.record(0, &model_attributes);

        Self {
            span_name: Box::leak(names::prediction_span_name(&name).into_boxed_str()),
            duration_ok: duration.bind(&with(std::slice::from_ref(&ok))),
            predictions_ok_without_label: predictions.bind(&with(&[ok])),
            predictions_ok_by_label,
            confidence: histogram(meter, names::PREDICTION_CONFIDENCE).bind(&model_attributes),
            active: meter
                .i64_up_down_counter(names::PREDICTIONS_ACTIVE.name)
                .with_unit(names::PREDICTIONS_ACTIVE.unit)
                .with_description(names::PREDICTIONS_ACTIVE.description)
                .build()
                .bind(&model_attributes),
            load_duration: meter
                .f64_gauge(names::MODEL_LOAD_DURATION.name)
                .with_unit(names::MODEL_LOAD_DURATION.unit)
                .with_description(names::MODEL_LOAD_DURATION.description)
                .build(),
            missing: counter(meter, names::FEATURE_MISSING),
            out_of_range: counter(meter, names::FEATURE_OUT_OF_RANGE),
            duration,
            predictions,
            loaded,
            tracer,
            model_attributes,
            name,
            version,
        }
    }
}

fn histogram(meter: &Meter, spec: InstrumentSpec) -> Histogram<f64> {
    meter
        .f64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_boundaries(spec.buckets.to_vec())
        .build()
}

fn counter(meter: &Meter, spec: InstrumentSpec) -> Counter<u64> {
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

fn gauge_u64(meter: &Meter, spec: InstrumentSpec) -> Gauge<u64> {
    meter
        .u64_gauge(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

impl ModelInstruments {
    /// Starts describing a model version's instruments; pass it to
    /// [`Telemetry::model`](crate::Telemetry::model).
    pub fn builder(name: impl Into<String>) -> ModelInstrumentsBuilder {
        ModelInstrumentsBuilder::new(name)
    }

    /// The model name (`ml.model.name`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The model version (`ml.model.version`).
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// Records one finished prediction call: its duration and outcome, and for a success
    /// its label and confidence. `rows` is the number of predictions the call made (1, or
    /// the batch size): the duration is recorded once, the prediction count `rows` times.
    pub fn record_prediction(&self, duration: Duration, rows: u64, outcome: Outcome<'_>) {
        let inner = &*self.inner;
        let seconds = duration.as_secs_f64();
        match outcome {
            Outcome::Ok { label, confidence } => {
                inner.duration_ok.record(seconds);
                self.count_ok(label, rows);
                if let Some(confidence) = confidence.filter(|value| value.is_finite()) {
                    inner.confidence.record(confidence.clamp(0.0, 1.0));
                }
            }
            Outcome::Error { error_type } => {
                self.record_failure(seconds, rows, outcome.as_str(), error_type);
            }
            Outcome::Panic | Outcome::Cancelled => {
                let kind = outcome.as_str();
                self.record_failure(seconds, rows, kind, kind);
            }
        }
    }

    fn count_ok(&self, label: Option<&str>, rows: u64) {
        let inner = &*self.inner;
        match label {
            None => inner.predictions_ok_without_label.add(rows),
            Some(label) if inner.predictions_ok_by_label.is_empty() => {
                let [name, version] = &inner.model_attributes;
                inner.predictions.add(
                    rows,
                    &[
                        name.clone(),
                        version.clone(),
                        KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK),
                        KeyValue::new(attr::PREDICTION_LABEL, label.to_owned()),
                    ],
                );
            }
            Some(label) => {
                let by_label = &inner.predictions_ok_by_label;
                let counter = by_label
                    .iter()
                    .find(|(declared, _)| declared == label)
                    .or_else(|| by_label.last())
                    .map(|(_, counter)| counter);
                if let Some(counter) = counter {
                    counter.add(rows);
                }
            }
        }
    }

    /// Errors are the slow path: their `error.type` is only known at the call.
    fn record_failure(&self, seconds: f64, rows: u64, outcome: &'static str, error_type: &str) {
        let [name, version] = &self.inner.model_attributes;
        let attributes = [
            name.clone(),
            version.clone(),
            KeyValue::new(attr::PREDICTION_OUTCOME, outcome),
            KeyValue::new(attr::ERROR_TYPE, error_type.to_owned()),
        ];
        self.inner.duration.record(seconds, &attributes);
        self.inner.predictions.add(rows, &attributes);
    }

    /// Marks one prediction call as in progress until the guard is dropped
    /// (`ml.predictions.active`).
    pub fn track_active(&self) -> ActiveGuard {
        self.inner.active.add(1);
        ActiveGuard {
            model: Arc::clone(&self.inner),
        }
    }

    /// Starts the span of a prediction, `predict {model}`, as a child of the current
    /// OpenTelemetry context (which includes the current `tracing` span).
    pub fn start_span(&self) -> PredictionSpan {
        let inner = &*self.inner;
        let parent = Context::current();
        let span = inner
            .tracer
            .span_builder(inner.span_name)
            .with_kind(SpanKind::Internal)
            .with_attributes(inner.model_attributes.iter().cloned())
            .start_with_context(&inner.tracer, &parent);
        PredictionSpan {
            context: parent.with_span(span),
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
        self.inner
            .loaded
            .record(u64::from(loaded), &self.inner.model_attributes);
    }

    /// Reports how long the model version took to load (`ml.model.load.duration`).
    pub fn set_load_duration(&self, duration: Duration) {
        self.inner
            .load_duration
            .record(duration.as_secs_f64(), &self.inner.model_attributes);
    }

    /// Counts an input value of `feature` that was missing or NaN (`ml.feature.missing`).
    pub fn record_missing_feature(&self, feature: &str) {
        self.count_feature(&self.inner.missing, feature);
    }

    /// Counts an input value of `feature` outside its reference range
    /// (`ml.feature.out_of_range`).
    pub fn record_out_of_range_feature(&self, feature: &str) {
        self.count_feature(&self.inner.out_of_range, feature);
    }

    fn count_feature(&self, counter: &Counter<u64>, feature: &str) {
        let [name, version] = &self.inner.model_attributes;
        counter.add(
            1,
            &[
                name.clone(),
                version.clone(),
                KeyValue::new(attr::FEATURE_NAME, feature.to_owned()),
            ],
        );
    }
}

/// A started prediction span. Make [`context`](Self::context) current around the work
/// (`attach()` for sync code, `FutureExt::with_context` for futures), then [`end`](Self::end) it.
#[derive(Debug)]
#[must_use = "end the span with end() so it carries the outcome"]
pub struct PredictionSpan {
    context: Context,
}

impl PredictionSpan {
    /// The context holding this span: children started while it is current nest under it.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Sets the attributes and status that describe `outcome`, then ends the span.
    pub fn end(self, rows: u64, outcome: Outcome<'_>) {
        let span = self.context.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new(attr::PREDICTION_OUTCOME, outcome.as_str()));
            span.set_attribute(KeyValue::new(attr::PREDICTION_BATCH_SIZE, rows as i64));
            match outcome {
                Outcome::Ok { label, confidence } => {
                    if let Some(label) = label {
                        span.set_attribute(KeyValue::new(attr::PREDICTION_LABEL, label.to_owned()));
                    }
                    if let Some(confidence) = confidence.filter(|value| value.is_finite()) {
                        span.set_attribute(KeyValue::new(
                            attr::PREDICTION_CONFIDENCE,
                            confidence.clamp(0.0, 1.0),
                        ));
                    }
                }
                Outcome::Error { error_type } => {
                    span.set_attribute(KeyValue::new(attr::ERROR_TYPE, error_type.to_owned()));
                    span.set_status(Status::error(error_type.to_owned()));
                }
                Outcome::Panic | Outcome::Cancelled => {
                    let kind = outcome.as_str();
                    span.set_attribute(KeyValue::new(attr::ERROR_TYPE, kind));
                    span.set_status(Status::error(kind));
                }
            }
        }
        span.end();
    }
}

/// Keeps one prediction counted in `ml.predictions.active` until dropped (also on panic or
/// when a future is cancelled, since drop runs then too).
#[derive(Debug)]
#[must_use = "the call counts as active only while the guard is alive"]
pub struct ActiveGuard {
    model: Arc<Inner>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.model.active.add(-1);
    }
}
