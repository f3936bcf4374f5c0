//! A model version's telemetry: its bounded label set, its per-thread stripes of
//! measurements, the SDK instruments they are handed to, and its prediction spans.
//! `#[instrument_ml]` records through this; [`Model`] is the same for hand-written code.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use opentelemetry::metrics::{BoundHistogram, Counter, Gauge, Histogram, Meter};
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::SdkTracer;

use crate::config::Sampler;
use crate::drift::monitor::{Binned, Decision, DriftMonitor, DriftReport, DriftSettings};
use crate::drift::reference::{FeatureValue, Reference, ReferenceError};
use crate::drift::stats::DriftMethod;
use crate::drift::window::Window;
use crate::labels::LabelTable;
use crate::names::{self, InstrumentSpec, attr, outcome};
use crate::output::Label;
use crate::registry;
use crate::stripes::{self, Failure, Lifetime, Padded, Stripe, Stripes};

/// Features tracked by index for a model that did not name its features.
pub const UNNAMED_FEATURE_CAP: usize = 64;

/// How a prediction call ended, with what the runtime learned from its output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome<'a> {
    /// The call returned a prediction.
    Ok {
        /// Predicted label; labels outside the model's label set are recorded as
        /// [`names::OTHER_LABEL`].
        label: Option<&'a str>,
        /// Confidence in `0..=1`, when the model gives one.
        confidence: Option<f64>,
    },
    /// The call returned an error of this class (a short, bounded name: the error type).
    Error {
        /// Value of the `error.type` attribute.
        error_type: &'static str,
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

/// Describes a model version: pass it to [`register`](Self::register) (for
/// `#[instrument_ml]` and the installed telemetry) or to
/// [`Telemetry::model`](crate::Telemetry::model).
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) labels: Vec<String>,
    pub(crate) features: Vec<String>,
    /// Registered by a call, not by the user: default settings.
    pub(crate) automatic: bool,
    pub(crate) reference: Option<Arc<Reference>>,
    pub(crate) drift: DriftSettings,
}

impl ModelBuilder {
    /// The model version (`ml.model.version`), e.g. `2.0.0`. Default `unversioned`.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// The labels the model can predict. They bound the `ml.prediction.label` attribute:
    /// any other label is recorded as `__other__`, and a class index `i` (e.g. the argmax
    /// of class probabilities) is recorded as the `i`-th label. Without a declaration the
    /// first 32 distinct labels seen are kept and later ones are `__other__`.
    pub fn labels<I, L>(mut self, labels: I) -> Self
    where
        I: IntoIterator<Item = L>,
        L: Into<String>,
    {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// The model's input features, in input order: they name `ml.feature.name`, and other
    /// names are counted as `__other__`. Without them features are named by their index in
    /// the row (`0`, `1`, ...) or the name given to [`Model::record_missing_feature`], the
    /// first 64 distinct ones, then `__other__`.
    pub fn features<I, F>(mut self, features: I) -> Self
    where
        I: IntoIterator<Item = F>,
        F: Into<String>,
    {
        self.features = features.into_iter().map(Into::into).collect();
        self
    }

    /// The drift reference of this model version (`Reference::fit`, `Reference::load`):
    /// its features are tracked for drift, and its prediction profiles (if any) for
    /// prediction drift. Without [`features`](Self::features) the reference names them;
    /// with them, the two must list the same names in the same order.
    pub fn reference(mut self, reference: Reference) -> Self {
        self.reference = Some(Arc::new(reference));
        self
    }

    /// The observations compared with the reference (default: the last 5 minutes, in 10
    /// slices).
    pub fn drift_window(mut self, window: Window) -> Self {
        self.drift.window = window;
        self
    }

    /// Below this many observations in the window no drift is reported (default 500).
    pub fn drift_min_observations(mut self, observations: u64) -> Self {
        self.drift.min_observations = observations;
        self
    }

    /// The statistic and threshold deciding whether a feature drifted (default PSI ≥ 0.1).
    pub fn drift_threshold(mut self, method: DriftMethod, threshold: f64) -> Self {
        self.drift.decision = Decision::with_threshold(method, threshold);
        self
    }

    /// The drift decision of every feature, e.g. `Decision::calibrated(DriftMethod::Psi)`
    /// for the thresholds the reference was calibrated with (`Reference::calibrate`).
    pub fn drift_decision(mut self, decision: Decision) -> Self {
        self.drift.decision = decision;
        self
    }

    /// A feature's (or `label`'s / `confidence`'s) decision, overriding
    /// [`drift_decision`](Self::drift_decision).
    pub fn feature_drift_decision(
        mut self,
        feature: impl Into<String>,
        decision: Decision,
    ) -> Self {
        let feature = feature.into();
        self.drift
            .feature_decisions
            .retain(|(name, _)| *name != feature);
        self.drift.feature_decisions.push((feature, decision));
        self
    }

    /// A feature is also reported as drifted when its window's share of missing values
    /// exceeds the reference's by at least `threshold` (default 0.1; the `missing_share`
    /// value of `ml.feature.drift`).
    pub fn drift_missing_share_threshold(mut self, threshold: f64) -> Self {
        self.drift.missing_share_threshold = threshold;
        self
    }

    /// The statistic and threshold for one feature (or `label` / `confidence` for
    /// prediction drift), overriding [`drift_threshold`](Self::drift_threshold).
    pub fn feature_drift_threshold(
        mut self,
        feature: impl Into<String>,
        method: DriftMethod,
        threshold: f64,
    ) -> Self {
        let feature = feature.into();
        self.drift
            .feature_decisions
            .retain(|(name, _)| *name != feature);
        self.drift
            .feature_decisions
            .push((feature, Decision::with_threshold(method, threshold)));
        self
    }

    /// Registers the model version for `#[instrument_ml(model = .., version = ..)]` and
    /// binds it to the installed telemetry (now, or when
    /// [`install`](crate::TelemetryBuilder::install) runs later). Registering the same
    /// name and version again returns the first registration.
    ///
    /// A drift reference whose features differ from [`features`](Self::features) is
    /// logged as an error and left out (the model is registered without drift);
    /// [`try_register`](Self::try_register) returns that error instead.
    pub fn register(self) -> Model {
        Model {
            state: Arc::clone(registry::register(self.dropping_mismatched_reference())),
        }
    }

    /// Like [`register`](Self::register), but a drift reference that does not match the
    /// model's features is an error.
    pub fn try_register(mut self) -> Result<Model, ReferenceError> {
        self.check_reference()?;
        Ok(Model {
            state: Arc::clone(registry::register(self)),
        })
    }

    /// Leaves out (and logs) a drift reference whose features differ from the model's.
    pub(crate) fn dropping_mismatched_reference(mut self) -> Self {
        if let Err(error) = self.check_reference() {
            tracing::error!(
                target: "mlotel",
                model = %self.name,
                version = %self.version,
                error = %error,
                "drift reference does not match the model; the model goes without drift"
            );
            self.reference = None;
        }
        self
    }

    /// Checks the reference against the declared features; takes the reference's feature
    /// names when none are declared.
    ///
    /// Without declared labels the reference's label categories become the label set, so
    /// the label window and the reference share their bins; declared labels that miss a
    /// reference category are logged (that category's predictions would look like drift).
    pub(crate) fn check_reference(&mut self) -> Result<(), ReferenceError> {
        let Some(reference) = &self.reference else {
            return Ok(());
        };
        reference.validate()?;
        if let Some(label) = &reference.label {
            if self.labels.is_empty() {
                self.labels = label.categories.clone();
            } else if let Some(absent) = label
                .categories
                .iter()
                .find(|category| !self.labels.contains(category))
            {
                tracing::warn!(
                    target: "mlotel",
                    model = %self.name,
                    version = %self.version,
                    label = %absent,
                    "the drift reference has a label the model does not declare: its \
                     predictions are counted as other and look like label drift"
                );
            }
        }
        if self.features.is_empty() {
            self.features = reference.feature_names().map(str::to_owned).collect();
            return Ok(());
        }
        let expected: Vec<&str> = self.features.iter().map(String::as_str).collect();
        reference.check_features(&expected)
    }
}

/// A read-only summary of one model version, for health endpoints
/// ([`Model::snapshot`]). Counts are since the model was created.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelSnapshot {
    /// The model name (`ml.model.name`).
    pub name: String,
    /// The model version (`ml.model.version`).
    pub version: String,
    /// Whether [`Model::set_loaded`]`(true)` was the last report.
    pub loaded: bool,
    /// What [`Model::set_load_duration`] reported, in seconds.
    pub load_duration_seconds: Option<f64>,
    /// Predictions recorded (rows, every outcome).
    pub predictions: u64,
    /// Mean confidence of the successful predictions (rows) that had one.
    pub mean_confidence: Option<f64>,
    /// Registered by `#[instrument_ml]` on first use rather than with
    /// [`ModelBuilder::register`]: nobody reports its load state, so readiness ignores it.
    pub registered_on_first_use: bool,
}

/// The telemetry of one model version. Cheap to clone; create it once at start-up.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) state: Arc<ModelState>,
}

/// Where a model's spans come from: the installed telemetry, or one built without
/// installing it.
#[derive(Debug)]
enum Tracing {
    Installed,
    Fixed(Arc<TracingState>),
}

/// What deciding on and starting a span needs.
#[derive(Debug)]
pub(crate) struct TracingState {
    pub(crate) tracer: SdkTracer,
    pub(crate) policy: SpanPolicy,
}

/// When a span would be dropped by the sampler anyway, decided from the sampler's kind and
/// the parent alone, so an unsampled call builds nothing (the SDK builds a non-recording
/// span and its attribute list first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SpanPolicy {
    /// No span is ever exported: no span processor, or the `always_off` sampler.
    Never,
    /// A parent-based sampler whose root decision may keep a span: a child of an
    /// unsampled parent is dropped.
    FollowParent,
    /// `parentbased_always_off`: only children of sampled parents are kept.
    OnlySampledParent,
    /// The SDK's sampler decides (`always_on`, `traceidratio`).
    Sdk,
}

impl SpanPolicy {
    pub(crate) fn new(exporting: bool, sampler: Sampler) -> Self {
        match sampler {
            _ if !exporting => Self::Never,
            Sampler::AlwaysOff => Self::Never,
            Sampler::ParentBasedAlwaysOn | Sampler::ParentBasedTraceIdRatio(_) => {
                Self::FollowParent
            }
            Sampler::ParentBasedAlwaysOff => Self::OnlySampledParent,
            Sampler::AlwaysOn | Sampler::TraceIdRatio(_) => Self::Sdk,
        }
    }

    pub(crate) fn drops_child_of(self, parent: &Context) -> bool {
        let parent_sampled = || {
            let span = parent.span();
            let context = span.span_context();
            context.is_valid().then_some(context.is_sampled())
        };
        match self {
            Self::Never => true,
            Self::Sdk => false,
            Self::FollowParent => parent_sampled() == Some(false),
            Self::OnlySampledParent => parent_sampled() != Some(true),
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        match self {
            Self::Never => 0,
            Self::FollowParent => 1,
            Self::OnlySampledParent => 2,
            Self::Sdk => 3,
        }
    }

    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::FollowParent,
            2 => Self::OnlySampledParent,
            3 => Self::Sdk,
            _ => Self::Never,
        }
    }
}

impl TracingState {
    /// Starts a span under `parent`, unless the sampler would drop it.
    pub(crate) fn start_span(&self, span_name: &'static str, parent: &Context) -> Option<Context> {
        self.start_span_with(span_name, parent, [])
    }

    fn start_span_with(
        &self,
        span_name: &'static str,
        parent: &Context,
        attributes: impl IntoIterator<Item = KeyValue>,
    ) -> Option<Context> {
        if self.policy.drops_child_of(parent) {
            return None;
        }
        // Room for the attributes set when the span ends, so they do not grow the list.
        let mut all_attributes = Vec::with_capacity(SPAN_ATTRIBUTES);
        all_attributes.extend(attributes);
        let span = self
            .tracer
            .span_builder(span_name)
            .with_kind(SpanKind::Internal)
            .with_attributes(all_attributes)
            .start_with_context(&self.tracer, parent);
        Some(parent.with_span(span))
    }
}

/// The SDK instruments a model's stripes are handed to; rebuilt when telemetry is installed.
#[derive(Debug)]
pub(crate) struct SdkInstruments {
    duration: Histogram<f64>,
    duration_ok: BoundHistogram<f64>,
    predictions: Counter<u64>,
    confidence: BoundHistogram<f64>,
    missing: Counter<u64>,
    out_of_range: Counter<u64>,
    loaded: Gauge<u64>,
    load_duration: Gauge<f64>,
}

impl SdkInstruments {
    fn new(meter: &Meter, model_attributes: &[KeyValue; 2]) -> Self {
        let duration = histogram(meter, names::PREDICTION_DURATION);
        let with_ok: Vec<KeyValue> = model_attributes
            .iter()
            .cloned()
            .chain([KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK)])
            .collect();
        meter
            .u64_gauge(names::MODEL_INFO.name)
            .with_unit(names::MODEL_INFO.unit)
            .with_description(names::MODEL_INFO.description)
            .build()
            .record(1, model_attributes);
        Self {
            duration_ok: duration.bind(&with_ok),
            duration,
            predictions: counter(meter, names::PREDICTIONS),
            confidence: histogram(meter, names::PREDICTION_CONFIDENCE).bind(model_attributes),
            missing: counter(meter, names::FEATURE_MISSING),
            out_of_range: counter(meter, names::FEATURE_OUT_OF_RANGE),
            loaded: meter
                .u64_gauge(names::MODEL_LOADED.name)
                .with_unit(names::MODEL_LOADED.unit)
                .with_description(names::MODEL_LOADED.description)
                .build(),
            load_duration: meter
                .f64_gauge(names::MODEL_LOAD_DURATION.name)
                .with_unit(names::MODEL_LOAD_DURATION.unit)
                .with_description(names::MODEL_LOAD_DURATION.description)
                .build(),
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

/// The models bound to one meter provider; its collection hands their stripes over.
#[derive(Debug, Default)]
pub(crate) struct ModelSet {
    models: Mutex<Vec<Weak<ModelState>>>,
}

impl ModelSet {
    pub(crate) fn add(&self, model: &Arc<ModelState>) {
        let mut models = lock(&self.models);
        models.retain(|known| known.strong_count() > 0);
        if !models
            .iter()
            .any(|known| known.as_ptr() == Arc::as_ptr(model))
        {
            models.push(Arc::downgrade(model));
        }
    }

    pub(crate) fn remove(&self, model: &Arc<ModelState>) {
        lock(&self.models).retain(|known| known.as_ptr() != Arc::as_ptr(model));
    }

    pub(crate) fn live(&self) -> Vec<Arc<ModelState>> {
        lock(&self.models)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Registers `ml.predictions.active` on `meter`. Its callback runs at the start of
    /// every collection, so it is also where the stripes are handed to the SDK: the
    /// values collected next then include everything recorded so far.
    pub(crate) fn register_collection(self: &Arc<Self>, meter: &Meter) {
        let models = Arc::clone(self);
        let spec = names::PREDICTIONS_ACTIVE;
        let _observable = meter
            .i64_observable_up_down_counter(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_callback(move |observer| {
                for model in models.live() {
                    model.flush();
                    observer.observe(model.active(), &model.model_attributes);
                }
            })
            .build();
        crate::drift::gauges::register(meter, self);
    }
}

/// What one row adds, found outside the stripe's lock and counted under it in one go: drift
/// bins, and the feature slots (`ml.feature.name`) of missing and out-of-range values.
///
/// Small on purpose: it is initialised for every row, so a row of many features (or with
/// many missing or out-of-range values) is counted in a few chunks instead.
struct PendingBins {
    bins: [u32; PENDING_BINS],
    len: usize,
    missing: [u32; PENDING_FLAGS],
    missing_len: usize,
    out_of_range: [u32; PENDING_FLAGS],
    out_of_range_len: usize,
}

const PENDING_BINS: usize = 16;
const PENDING_FLAGS: usize = 4;

impl Default for PendingBins {
    fn default() -> Self {
        Self {
            bins: [0; PENDING_BINS],
            len: 0,
            missing: [0; PENDING_FLAGS],
            missing_len: 0,
            out_of_range: [0; PENDING_FLAGS],
            out_of_range_len: 0,
        }
    }
}

impl PendingBins {
    /// Adds one feature's contributions; true when a buffer is full and must be counted now.
    #[inline]
    fn push(
        &mut self,
        bin: Option<usize>,
        missing_slot: Option<usize>,
        out_of_range_slot: Option<usize>,
    ) -> bool {
        fn add(buffer: &mut [u32], len: &mut usize, value: Option<usize>) {
            if let (Some(value), Some(slot)) = (value, buffer.get_mut(*len)) {
                *slot = u32::try_from(value).unwrap_or(u32::MAX);
                *len += 1;
            }
        }
        if let Some(bin) = bin {
            self.push_bin(bin);
        }
        add(&mut self.missing, &mut self.missing_len, missing_slot);
        add(
            &mut self.out_of_range,
            &mut self.out_of_range_len,
            out_of_range_slot,
        );
        self.len == PENDING_BINS
            || self.missing_len == PENDING_FLAGS
            || self.out_of_range_len == PENDING_FLAGS
    }

    /// Adds a bin alone (a value neither missing nor out of range); true when the buffer
    /// is full and must be counted now.
    #[inline]
    fn push_bin(&mut self, bin: usize) -> bool {
        if let Some(slot) = self.bins.get_mut(self.len) {
            *slot = u32::try_from(bin).unwrap_or(u32::MAX);
            self.len += 1;
        }
        self.len == PENDING_BINS
    }

    fn clear(&mut self) {
        self.len = 0;
        self.missing_len = 0;
        self.out_of_range_len = 0;
    }
}

/// The time a drift count is made at: `now()` for time windows, nothing read for count
/// windows, which do not look at it.
#[inline]
fn drift_time(drift: &DriftMonitor, now: impl FnOnce() -> quanta::Instant) -> quanta::Instant {
    if drift.needs_time() {
        now()
    } else {
        drift.epoch()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

const LOADED_UNKNOWN: u8 = u8::MAX;

/// Everything of one model version that outlives a telemetry installation.
#[derive(Debug)]
pub(crate) struct ModelState {
    name: String,
    version: String,
    /// `predict {model}`, built once and leaked: one short string per model version.
    pub(crate) span_name: &'static str,
    pub(crate) model_attributes: [KeyValue; 2],
    pub(crate) labels: LabelTable,
    features: LabelTable,
    stripes: Stripes,
    /// Held by the one stripe being handed to the SDK.
    handing_over: Mutex<()>,
    active: Box<[Padded<AtomicI64>]>,
    binding: RwLock<Option<Arc<SdkInstruments>>>,
    tracing: Tracing,
    loaded: AtomicU8,
    load_seconds: Mutex<Option<f64>>,
    /// Cleared when the model version is registered explicitly after its first use.
    registered_on_first_use: AtomicBool,
    /// The model set of the telemetry it is bound to, to leave it when bound elsewhere.
    bound_to: Mutex<Weak<ModelSet>>,
    /// The drift state, for a model version with a drift reference.
    pub(crate) drift: Option<DriftMonitor>,
    /// The drift bin of each label slot, found on the slot's first use
    /// ([`NO_LABEL_BIN`] until then).
    label_bins: Box<[AtomicUsize]>,
}

/// A label slot whose drift bin is not known yet.
const NO_LABEL_BIN: usize = usize::MAX;

impl ModelState {
    pub(crate) fn new(builder: ModelBuilder, tracing: Option<Arc<TracingState>>) -> Self {
        let ModelBuilder {
            name,
            version,
            labels,
            features,
            automatic,
            reference,
            drift,
        } = builder;
        let drift = reference.map(|reference| DriftMonitor::new(reference, drift));
        // Reference-counted values: cloning these attributes bumps a count, not a copy.
        let model_attributes = [
            KeyValue::new(attr::MODEL_NAME, shared(&name)),
            KeyValue::new(attr::MODEL_VERSION, shared(&version)),
        ];
        let features = LabelTable::new(&features, UNNAMED_FEATURE_CAP);
        let labels = LabelTable::new(&labels, crate::UNDECLARED_LABEL_CAP);
        Self {
            span_name: Box::leak(names::prediction_span_name(&name).into_boxed_str()),
            stripes: stripes::new_stripes(
                labels.slot_count(),
                features.slot_count(),
                drift.as_ref(),
            ),
            label_bins: (0..labels.slot_count())
                .map(|_| AtomicUsize::new(NO_LABEL_BIN))
                .collect(),
            drift,
            handing_over: Mutex::new(()),
            active: (0..stripes::STRIPES)
                .map(|_| Padded(AtomicI64::new(0)))
                .collect(),
            labels,
            features,
            model_attributes,
            binding: RwLock::new(None),
            tracing: tracing.map_or(Tracing::Installed, Tracing::Fixed),
            loaded: AtomicU8::new(LOADED_UNKNOWN),
            load_seconds: Mutex::new(None),
            registered_on_first_use: AtomicBool::new(automatic),
            bound_to: Mutex::new(Weak::new()),
            name,
            version,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn version(&self) -> &str {
        &self.version
    }

    pub(crate) fn registered_on_first_use(&self) -> bool {
        self.registered_on_first_use.load(Ordering::Relaxed)
    }

    /// An explicit registration of a version first registered on first use: its load
    /// state is reported from now on, so readiness waits for it.
    pub(crate) fn registered_explicitly(&self) {
        self.registered_on_first_use.store(false, Ordering::Relaxed);
    }

    /// Hands what is buffered to the current instruments, then makes the instruments of
    /// `meter` current and reports the model's info, load state and load time on them.
    pub(crate) fn bind(self: &Arc<Self>, meter: &Meter, models: &Arc<ModelSet>) {
        self.flush();
        let instruments = Arc::new(SdkInstruments::new(meter, &self.model_attributes));
        let loaded = self.loaded.load(Ordering::Relaxed);
        instruments
            .loaded
            .record(u64::from(loaded == 1), &self.model_attributes);
        if let Some(seconds) = *lock(&self.load_seconds) {
            instruments
                .load_duration
                .record(seconds, &self.model_attributes);
        }
        *self
            .binding
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(instruments);
        let previous = std::mem::replace(&mut *lock(&self.bound_to), Arc::downgrade(models));
        if let Some(previous) = previous.upgrade().filter(|set| !Arc::ptr_eq(set, models)) {
            previous.remove(self);
        }
        models.add(self);
    }

    fn instruments(&self) -> Option<Arc<SdkInstruments>> {
        self.binding
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Runs `record` on the calling thread's stripe. Only failures are buffered as they
    /// come; their buffer is handed over when half full and no other stripe is being
    /// handed over (the SDK takes a lock per value), or when full.
    pub(crate) fn with_stripe<R>(&self, stripe: usize, record: impl FnOnce(&mut Stripe) -> R) -> R {
        let mut guard = lock(&self.stripes[stripe % stripes::STRIPES].0);
        if guard.is_full() {
            let _turn = lock(&self.handing_over);
            self.drain_failures(&mut guard);
        } else if guard.is_half_full() {
            let turn = match self.handing_over.try_lock() {
                Ok(turn) => Some(turn),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            };
            if turn.is_some() {
                self.drain_failures(&mut guard);
            }
        }
        record(&mut guard)
    }

    /// Hands everything recorded to the SDK. Each stripe is swapped for an empty one under
    /// its lock and replayed after, so a recording thread never waits for a replay (which
    /// costs the SDK's ~22 ns per histogram value recorded since the last collection).
    pub(crate) fn flush(&self) {
        for stripe in &self.stripes {
            let mut taken = {
                let mut stripe = lock(&stripe.0);
                if stripe.is_empty() {
                    continue;
                }
                let empty = stripe.empty_like();
                std::mem::replace(&mut *stripe, empty)
            };
            if let (Some(drift), Some(counts)) = (&self.drift, &taken.drift) {
                drift.absorb(counts);
            }
            // The turn only for the failures, which recording threads may be handing over
            // too; a recording thread never waits for the histogram replay.
            {
                let _turn = lock(&self.handing_over);
                self.drain_failures(&mut taken);
            }
            self.drain(&mut taken);
        }
    }

    /// Hands a stripe's failures to the SDK: the only hand-over on a recording thread.
    fn drain_failures(&self, stripe: &mut Stripe) {
        let Some(sdk) = self.instruments() else {
            stripe.failures.clear();
            return;
        };
        let [name, version] = &self.model_attributes;
        for failure in stripe.failures.drain(..) {
            let attributes = [
                name.clone(),
                version.clone(),
                KeyValue::new(attr::PREDICTION_OUTCOME, failure.outcome),
                KeyValue::new(attr::ERROR_TYPE, failure.error_type),
            ];
            sdk.duration.record(failure.seconds, &attributes);
            sdk.predictions.add(failure.rows, &attributes);
        }
    }

    fn drain(&self, stripe: &mut Stripe) {
        self.drain_failures(stripe);
        let Some(sdk) = self.instruments() else {
            // Nothing installed yet: like the OpenTelemetry API without an SDK, drop it.
            *stripe = stripe.empty_like();
            return;
        };
        stripe
            .ok_durations
            .drain_into(|seconds| sdk.duration_ok.record(seconds));
        stripe
            .confidences
            .drain_into(|confidence| sdk.confidence.record(confidence));
        let [name, version] = &self.model_attributes;
        for (slot, count) in stripe.ok_counts.iter_mut().enumerate() {
            if *count == 0 {
                continue;
            }
            let ok = KeyValue::new(attr::PREDICTION_OUTCOME, outcome::OK);
            match self.labels.name(slot) {
                Some(label) => sdk.predictions.add(
                    *count,
                    &[
                        name.clone(),
                        version.clone(),
                        ok,
                        KeyValue::new(attr::PREDICTION_LABEL, Value::String(label.into())),
                    ],
                ),
                None => sdk
                    .predictions
                    .add(*count, &[name.clone(), version.clone(), ok]),
            }
            *count = 0;
        }
        for (counts, counter) in [
            (&mut stripe.missing, &sdk.missing),
            (&mut stripe.out_of_range, &sdk.out_of_range),
        ] {
            for (slot, count) in counts.iter_mut().enumerate() {
                if let (true, Some(feature)) = (*count > 0, self.features.name(slot)) {
                    counter.add(
                        *count,
                        &[
                            name.clone(),
                            version.clone(),
                            KeyValue::new(attr::FEATURE_NAME, Value::String(feature.into())),
                        ],
                    );
                }
                *count = 0;
            }
        }
    }

    pub(crate) fn active(&self) -> i64 {
        self.active
            .iter()
            .map(|count| count.0.load(Ordering::Relaxed))
            .sum()
    }

    pub(crate) fn add_active(&self, stripe: usize, delta: i64) {
        self.active[stripe % stripes::STRIPES]
            .0
            .fetch_add(delta, Ordering::Relaxed);
    }

    /// Records one successful call: its duration, and `rows` predictions with one label
    /// and confidence.
    pub(crate) fn record_success(
        &self,
        stripe: usize,
        seconds: f64,
        rows: u64,
        label_slot: usize,
        confidence: Option<f64>,
        at: Option<quanta::Instant>,
    ) {
        let drift = self.prediction_bins(label_slot, confidence, at);
        self.with_stripe(stripe, |stripe| {
            stripe.ok_durations.record(seconds);
            stripe.ok_counts[label_slot] += rows;
            stripe.lifetime.add(rows, valid_confidence(confidence));
            if let Some(confidence) = valid_confidence(confidence) {
                stripe.confidences.record(confidence);
            }
            self.count_prediction(stripe, drift, rows, confidence);
        });
    }

    /// Where a prediction goes in the drift counts, worked out before the stripe's lock.
    /// `at` is when the prediction was made, read from the clock when not given. A
    /// prediction without label and confidence (`skip_output`) is not counted.
    fn prediction_bins(
        &self,
        label_slot: usize,
        confidence: Option<f64>,
        at: Option<quanta::Instant>,
    ) -> Option<(quanta::Instant, Option<usize>, Option<usize>)> {
        let drift = self.drift.as_ref()?;
        let confidence = valid_confidence(confidence);
        if label_slot == crate::labels::NO_LABEL && confidence.is_none() {
            return None;
        }
        // A prediction without a label says nothing about the label mix.
        let labelled = label_slot != crate::labels::NO_LABEL;
        let label = self
            .label_bins
            .get(label_slot)
            .filter(|_| labelled)
            .and_then(|cached| match cached.load(Ordering::Relaxed) {
                NO_LABEL_BIN => {
                    let name = self.labels.name(label_slot);
                    let bin = drift.bin_of_label(name.as_deref())?;
                    cached.store(bin, Ordering::Relaxed);
                    Some(bin)
                }
                bin => Some(bin),
            });
        let confidence = drift.bin_of_confidence(confidence);
        let at = match at {
            Some(at) => at,
            None => drift_time(drift, crate::drift::coarse_clock::recent),
        };
        Some((at, label, confidence))
    }

    /// Counts `rows` predictions into the stripe's drift counts.
    fn count_prediction(
        &self,
        stripe: &mut Stripe,
        bins: Option<(quanta::Instant, Option<usize>, Option<usize>)>,
        rows: u64,
        confidence: Option<f64>,
    ) {
        let (Some(drift), Some(counts), Some((now, label, confidence_bin))) =
            (&self.drift, stripe.drift.as_mut(), bins)
        else {
            return;
        };
        drift.before_counting(counts, now);
        counts.predictions += rows;
        let rows_u32 = u32::try_from(rows).unwrap_or(u32::MAX);
        for bin in [label, confidence_bin].into_iter().flatten() {
            counts.bump_by(bin, rows_u32);
        }
        if let Some(confidence) = valid_confidence(confidence) {
            counts.confidence_sum += confidence * rows as f64;
            counts.confidences += rows;
        }
    }

    /// Records one row of a batch (its duration is recorded once, by `record_batch_end`).
    pub(crate) fn record_row(
        &self,
        stripe: usize,
        label_slot: usize,
        confidence: Option<f64>,
        at: Option<quanta::Instant>,
    ) {
        let drift = self.prediction_bins(label_slot, confidence, at);
        self.with_stripe(stripe, |stripe| {
            stripe.ok_counts[label_slot] += 1;
            stripe.lifetime.add(1, valid_confidence(confidence));
            if let Some(confidence) = valid_confidence(confidence) {
                stripe.confidences.record(confidence);
            }
            self.count_prediction(stripe, drift, 1, confidence);
        });
    }

    pub(crate) fn record_batch_end(&self, stripe: usize, seconds: f64) {
        self.with_stripe(stripe, |stripe| stripe.ok_durations.record(seconds));
    }

    pub(crate) fn record_failure(&self, stripe: usize, failure: Failure) {
        self.with_stripe(stripe, |stripe| {
            stripe.lifetime.add(failure.rows, None);
            stripe.failures.push(failure);
        });
    }

    /// Counts the missing values of one input row (`ml.feature.missing`), and with a drift
    /// reference its values' bins and the values outside the reference range
    /// (`ml.feature.out_of_range`). The row's code (a user's `FeatureRow` impl) runs
    /// outside the stripe's lock: it may record to this model itself. Bins are found
    /// outside the lock too and counted under it once per row (per 16 features).
    pub(crate) fn observe_row<R: crate::FeatureRow + ?Sized>(
        &self,
        stripe: usize,
        row: &R,
        now: impl FnOnce() -> quanta::Instant,
    ) {
        let Some(drift) = &self.drift else {
            row.for_each_feature(|feature, value| {
                if value.is_none() {
                    self.count_missing(stripe, feature);
                }
            });
            return;
        };
        let now = drift_time(drift, now);
        let mut pending = PendingBins::default();
        row.for_each_feature(|feature, value| {
            if let Some(index) = value.and_then(|value| drift.hot_bin(feature, value)) {
                if pending.push_bin(index) {
                    self.count_pending(stripe, now, &mut pending, false);
                }
                return;
            }
            let binned = drift.bin_of_feature(feature, value);
            if self.pend(&mut pending, feature, value.is_none(), binned) {
                self.count_pending(stripe, now, &mut pending, false);
            }
        });
        self.count_pending(stripe, now, &mut pending, true);
    }

    /// Like [`observe_row`](Self::observe_row) for values that may be categories.
    pub(crate) fn observe_values(
        &self,
        stripe: usize,
        values: &[FeatureValue<'_>],
        now: impl FnOnce() -> quanta::Instant,
    ) {
        let missing = |value: &FeatureValue<'_>| match value {
            FeatureValue::Missing => true,
            FeatureValue::Number(number) => number.is_nan(),
            FeatureValue::Category(_) => false,
        };
        let Some(drift) = &self.drift else {
            for (feature, value) in values.iter().enumerate() {
                if missing(value) {
                    self.count_missing(stripe, feature);
                }
            }
            return;
        };
        let now = drift_time(drift, now);
        let mut pending = PendingBins::default();
        for (feature, value) in values.iter().enumerate() {
            let binned = drift.bin_of_value(feature, value);
            if self.pend(&mut pending, feature, missing(value), binned) {
                self.count_pending(stripe, now, &mut pending, false);
            }
        }
        self.count_pending(stripe, now, &mut pending, true);
    }

    /// Adds one feature's value to `pending`; true when it must be counted now.
    #[inline]
    fn pend(
        &self,
        pending: &mut PendingBins,
        feature: usize,
        missing: bool,
        binned: Option<Binned>,
    ) -> bool {
        let slot = || self.features.slot(Some(Label::Index(feature)));
        pending.push(
            binned.map(|binned| binned.index),
            missing.then(slot),
            binned.filter(|binned| binned.out_of_range).map(|_| slot()),
        )
    }

    fn count_missing(&self, stripe: usize, feature: usize) {
        let slot = self.features.slot(Some(Label::Index(feature)));
        self.with_stripe(stripe, |stripe| {
            if let Some(count) = stripe.missing.get_mut(slot) {
                *count += 1;
            }
        });
    }

    /// Counts what is pending (and the row, at its end) under the stripe's lock: the one
    /// lock a row takes for its features.
    fn count_pending(
        &self,
        stripe: usize,
        now: quanta::Instant,
        pending: &mut PendingBins,
        row_ends: bool,
    ) {
        let Some(drift) = &self.drift else {
            return;
        };
        self.with_stripe(stripe, |stripe| {
            if let Some(counts) = stripe.drift.as_mut() {
                drift.before_counting(counts, now);
                for &bin in &pending.bins[..pending.len] {
                    counts.bump(bin as usize);
                }
                if row_ends {
                    counts.rows += 1;
                }
            }
            for (slots, counters) in [
                (&pending.missing[..pending.missing_len], &mut stripe.missing),
                (
                    &pending.out_of_range[..pending.out_of_range_len],
                    &mut stripe.out_of_range,
                ),
            ] {
                for &slot in slots {
                    if let Some(count) = counters.get_mut(slot as usize) {
                        *count += 1;
                    }
                }
            }
        });
        pending.clear();
    }

    /// The drift report of the current window, `None` without a drift reference.
    pub(crate) fn drift_report(&self) -> Option<Arc<DriftReport>> {
        let drift = self.drift.as_ref()?;
        Some(drift.report(|| self.flush()))
    }

    /// The drift report for the gauges of one collection (one hand-over serves them all).
    pub(crate) fn drift_report_for_collection(&self) -> Option<Arc<DriftReport>> {
        let drift = self.drift.as_ref()?;
        Some(drift.report_for_collection(|| self.flush()))
    }

    fn feature_slot(&self, feature: &str) -> usize {
        self.features.slot(Some(Label::Text(feature)))
    }

    pub(crate) fn set_loaded(&self, loaded: bool) {
        self.loaded.store(u8::from(loaded), Ordering::Relaxed);
        if let Some(sdk) = self.instruments() {
            sdk.loaded.record(u64::from(loaded), &self.model_attributes);
        }
    }

    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Relaxed) == 1
    }

    /// The running totals every stripe keeps (they survive hand-overs), read one stripe
    /// at a time under its lock (the recording path is unchanged).
    pub(crate) fn snapshot(&self) -> ModelSnapshot {
        let totals = self
            .stripes
            .iter()
            .map(|stripe| lock(&stripe.0).lifetime)
            .fold(Lifetime::default(), Lifetime::plus);
        ModelSnapshot {
            name: self.name.clone(),
            version: self.version.clone(),
            loaded: self.is_loaded(),
            load_duration_seconds: *lock(&self.load_seconds),
            predictions: totals.predictions,
            mean_confidence: (totals.confidences > 0)
                .then(|| totals.confidence_sum / totals.confidences as f64),
            registered_on_first_use: self.registered_on_first_use(),
        }
    }

    /// Whether the sampler would drop a span of this model started under `parent`.
    pub(crate) fn drops_child_of(&self, parent: &Context) -> bool {
        match &self.tracing {
            Tracing::Fixed(tracing) => tracing.policy.drops_child_of(parent),
            Tracing::Installed => registry::span_policy().drops_child_of(parent),
        }
    }

    /// Starts the span of a prediction under `parent`, unless the sampler would drop it.
    pub(crate) fn start_span(&self, span_name: &'static str, parent: &Context) -> Option<Context> {
        let start = |tracing: &TracingState| {
            tracing.start_span_with(span_name, parent, self.model_attributes.iter().cloned())
        };
        match &self.tracing {
            Tracing::Fixed(tracing) => start(tracing),
            Tracing::Installed => {
                // Decided from a shared atomic, before touching the per-thread state.
                if registry::span_policy().drops_child_of(parent) {
                    return None;
                }
                registry::with_tracing(start)
            }
        }
    }
}

impl Drop for ModelState {
    /// A model handle dropped before the next collection still delivers what it recorded.
    fn drop(&mut self) {
        self.flush();
    }
}

fn shared(text: &str) -> Value {
    Value::String(StringValue::from(Arc::<str>::from(text)))
}

/// A confidence as recorded anywhere: NaN and ±∞ are no confidence, finite values are
/// clamped into `0..=1` (docs/metrics.md).
pub(crate) fn valid_confidence(confidence: Option<f64>) -> Option<f64> {
    confidence
        .filter(|value| value.is_finite())
        .map(|value| value.clamp(0.0, 1.0))
}

/// Attributes a prediction span can carry: the model's two, then up to five at its end.
const SPAN_ATTRIBUTES: usize = 7;

/// Sets the attributes and status that describe how the call ended, then ends the span.
/// Takes the label as a ready attribute value so a declared label is shared, not copied.
pub(crate) fn end_span(
    context: &Context,
    rows: u64,
    outcome: &'static str,
    label: Option<Value>,
    confidence: Option<f64>,
    error_type: Option<&'static str>,
) {
    let span = context.span();
    if span.is_recording() {
        let ending = [
            Some(KeyValue::new(attr::PREDICTION_OUTCOME, outcome)),
            Some(KeyValue::new(
                attr::PREDICTION_BATCH_SIZE,
                i64::try_from(rows).unwrap_or(i64::MAX),
            )),
            label.map(|label| KeyValue::new(attr::PREDICTION_LABEL, label)),
            valid_confidence(confidence)
                .map(|confidence| KeyValue::new(attr::PREDICTION_CONFIDENCE, confidence)),
            error_type.map(|error_type| KeyValue::new(attr::ERROR_TYPE, error_type)),
        ];
        if let Some(error_type) = error_type {
            span.set_status(Status::error(error_type));
        }
        span.set_attributes(ending.into_iter().flatten());
    }
    span.end();
}

impl Model {
    /// Starts describing a model version.
    pub fn builder(name: impl Into<String>) -> ModelBuilder {
        ModelBuilder {
            name: name.into(),
            version: "unversioned".to_owned(),
            labels: Vec::new(),
            features: Vec::new(),
            automatic: false,
            reference: None,
            drift: DriftSettings::default(),
        }
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
    pub fn record_prediction(&self, duration: Duration, rows: u64, outcome: Outcome<'_>) {
        let stripe = stripes::current();
        let seconds = duration.as_secs_f64();
        match outcome {
            Outcome::Ok { label, confidence } => {
                let slot = self.state.labels.slot(label.map(Label::Text));
                self.state
                    .record_success(stripe, seconds, rows, slot, confidence, None);
            }
            Outcome::Error { error_type } => self.state.record_failure(
                stripe,
                Failure {
                    seconds,
                    rows,
                    outcome: outcome::ERROR,
                    error_type,
                },
            ),
            Outcome::Panic | Outcome::Cancelled => {
                let kind = outcome.as_str();
                self.state.record_failure(
                    stripe,
                    Failure {
                        seconds,
                        rows,
                        outcome: kind,
                        error_type: kind,
                    },
                );
            }
        }
    }

    /// Marks one prediction call as in progress until the guard is dropped
    /// (`ml.predictions.active`).
    pub fn track_active(&self) -> ActiveGuard<'_> {
        let stripe = stripes::current();
        self.state.add_active(stripe, 1);
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
        let seconds = duration.as_secs_f64();
        *lock(&self.state.load_seconds) = Some(seconds);
        if let Some(sdk) = self.state.instruments() {
            sdk.load_duration
                .record(seconds, &self.state.model_attributes);
        }
    }

    /// Counts an input value of `feature` that was missing or NaN (`ml.feature.missing`).
    /// A name outside the model's declared features is counted as `__other__`.
    pub fn record_missing_feature(&self, feature: &str) {
        let slot = self.state.feature_slot(feature);
        self.state
            .with_stripe(stripes::current(), |stripe| stripe.missing[slot] += 1);
    }

    /// Counts an input value of `feature` outside its reference range
    /// (`ml.feature.out_of_range`). A name outside the model's declared features is
    /// counted as `__other__`.
    pub fn record_out_of_range_feature(&self, feature: &str) {
        let slot = self.state.feature_slot(feature);
        self.state
            .with_stripe(stripes::current(), |stripe| stripe.out_of_range[slot] += 1);
    }

    /// Hands every buffered measurement to the SDK now. Collections do this on their own;
    /// call it before reading the SDK's state yourself.
    pub fn flush(&self) {
        self.state.flush();
    }

    /// Feeds one input row to the drift window (and counts its missing and out-of-range
    /// values), as `#[instrument_ml(features = ..)]` does. Without a drift reference only
    /// missing values are counted.
    pub fn observe_features<R: crate::FeatureRow + ?Sized>(&self, row: &R) {
        self.state
            .observe_row(stripes::current(), row, crate::drift::coarse_clock::recent);
    }

    /// Feeds one input row whose values may be categories (`FeatureValue::Category`) to the
    /// drift window, for models with categorical features.
    pub fn observe_values(&self, values: &[FeatureValue<'_>]) {
        self.state.observe_values(
            stripes::current(),
            values,
            crate::drift::coarse_clock::recent,
        );
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
            .map_or(crate::drift::NOT_MONITORED, |report| report.status())
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
        let (label, confidence, error_type) = match outcome {
            Outcome::Ok { label, confidence } => (label, confidence, None),
            Outcome::Error { error_type } => (None, None, Some(error_type)),
            Outcome::Panic | Outcome::Cancelled => (None, None, Some(outcome.as_str())),
        };
        end_span(
            &self.context,
            rows,
            outcome.as_str(),
            label.map(|label| Value::from(label.to_owned())),
            confidence,
            error_type,
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
        self.model.add_active(self.stripe, -1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unbound(name: &str) -> Model {
        Model {
            state: Arc::new(ModelState::new(Model::builder(name).version("1"), None)),
        }
    }

    #[test]
    fn snapshot_counts_predictions_and_mean_confidence_across_hand_overs() {
        let model = unbound("snapshot");
        let empty = model.snapshot();
        assert_eq!(
            (empty.name.as_str(), empty.version.as_str()),
            ("snapshot", "1")
        );
        assert_eq!(empty.predictions, 0);
        assert_eq!(empty.mean_confidence, None);
        assert!(!empty.loaded);
        assert_eq!(empty.load_duration_seconds, None);

        let ms = Duration::from_millis(1);
        model.record_prediction(
            ms,
            1,
            Outcome::Ok {
                label: Some("a"),
                confidence: Some(0.8),
            },
        );
        model.record_prediction(
            ms,
            3,
            Outcome::Ok {
                label: None,
                confidence: Some(0.4),
            },
        );
        model.record_prediction(ms, 2, Outcome::Error { error_type: "bad" });
        let before = model.snapshot();
        assert_eq!(before.predictions, 6);
        // Per row: (0.8 × 1 + 0.4 × 3) / 4.
        let mean = before.mean_confidence.unwrap_or_default();
        assert!((mean - 0.5).abs() < 1e-9, "mean {mean}");

        // Handed over (here dropped: nothing is bound), the totals stay.
        model.flush();
        let after = model.snapshot();
        assert_eq!(after.predictions, 6);
        assert_eq!(after.mean_confidence, before.mean_confidence);

        model.set_loaded(true);
        model.set_load_duration(Duration::from_secs(2));
        let loaded = model.snapshot();
        assert!(loaded.loaded);
        assert_eq!(loaded.load_duration_seconds, Some(2.0));
    }

    fn categorical_reference() -> Reference {
        use crate::drift::reference::{FitOptions, Schema};
        let schema = Schema::new().categorical("color").numeric("size");
        let colors = ["red", "green", "blue", "red"];
        let rows: Vec<[FeatureValue<'_>; 2]> = (0..2_000)
            .map(|row| {
                [
                    FeatureValue::Category(colors[row % colors.len()]),
                    FeatureValue::Number((row % 50) as f64),
                ]
            })
            .collect();
        Reference::fit(&rows, &schema, FitOptions::default()).expect("fits")
    }

    #[test]
    fn categorical_values_drift_when_their_mix_changes() {
        let mut builder = Model::builder("categorical").reference(categorical_reference());
        builder.check_reference().expect("matches");
        let model = Model {
            state: Arc::new(ModelState::new(builder, None)),
        };
        assert_eq!(model.drift_status(), "insufficient_data");
        // Only blue now (a quarter of the reference), and sizes as before.
        for row in 0..1_000 {
            model.observe_values(&[
                FeatureValue::Category("blue"),
                FeatureValue::Number((row % 50) as f64),
            ]);
        }
        let report = model.drift_report().expect("has a reference");
        assert_eq!(report.rows, 1_000);
        let color = &report.features[0];
        let size = &report.features[1];
        assert!(color.detected, "{color:?}");
        assert!(!size.detected, "{size:?}");
        assert_eq!(
            color.value(DriftMethod::KolmogorovSmirnov),
            None,
            "not for categories"
        );
        assert_eq!(report.drift_share, Some(0.5));
        assert_eq!(model.drift_status(), "drift");
    }

    #[test]
    fn a_reference_whose_features_differ_from_the_models_is_an_error_naming_them() {
        let error = Model::builder("mismatch")
            .features(["colour", "size"])
            .reference(categorical_reference())
            .try_register()
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("colour") && error.contains("color"),
            "{error}"
        );
        // register() keeps the model, without drift.
        let model = Model::builder("mismatch")
            .features(["colour", "size"])
            .reference(categorical_reference())
            .register();
        assert!(model.reference().is_none());
        assert_eq!(model.drift_status(), crate::drift::NOT_MONITORED);
    }

    #[test]
    fn odd_rows_never_panic_and_count_missing_and_out_of_range_values() {
        use crate::drift::reference::FitOptions;
        let rows: Vec<[f64; 2]> = (0..100).map(|row| [f64::from(row), 1.0]).collect();
        let reference =
            Reference::fit_numeric(&rows, &["a", "b"], FitOptions::default()).expect("fits");
        let mut builder = Model::builder("odd_rows").reference(reference);
        builder.check_reference().expect("matches");
        let model = Model {
            state: Arc::new(ModelState::new(builder, None)),
        };
        model.observe_features(&[f64::NAN, f64::INFINITY]);
        model.observe_features(&[f64::NEG_INFINITY, 1e300]);
        model.observe_features(&[-5.0]); // shorter than the reference
        model.observe_features(&[1.0, 1.0, 7.0, 8.0]); // longer: the extra values are ignored
        model.observe_features(&[Some(3.0), None]);
        let (missing, out_of_range) = model
            .state
            .stripes
            .iter()
            .map(|stripe| {
                let stripe = lock(&stripe.0);
                (
                    stripe.missing.iter().sum::<u64>(),
                    stripe.out_of_range.iter().sum::<u64>(),
                )
            })
            .fold((0, 0), |(m, o), (a, b)| (m + a, o + b));
        // NaN and None are missing; 1e300 and -5 lie outside the reference range (infinities
        // are not judged).
        assert_eq!((missing, out_of_range), (2, 2));
        let report = model
            .state
            .drift
            .as_ref()
            .map(|drift| drift.report(|| model.flush()))
            .expect("has a reference");
        assert_eq!(report.rows, 5);
    }

    fn with_reference(name: &str, reference: Reference) -> Model {
        let mut builder = Model::builder(name).reference(reference);
        builder.check_reference().expect("matches");
        Model {
            state: Arc::new(ModelState::new(builder, None)),
        }
    }

    /// A reference of `features` numeric features and `classes` equally frequent labels.
    fn wide_reference(features: usize, classes: usize) -> (Reference, Vec<String>) {
        use crate::drift::reference::FitOptions;
        let names: Vec<String> = (0..features).map(|feature| format!("f{feature}")).collect();
        let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
        let rows: Vec<Vec<f64>> = (0..2_000)
            .map(|row| {
                (0..features)
                    .map(|feature| ((row + feature) % 20) as f64)
                    .collect()
            })
            .collect();
        let labels: Vec<String> = (0..classes).map(|class| format!("class{class}")).collect();
        let options = FitOptions {
            top_categories: classes,
            ..FitOptions::default()
        };
        let reference = Reference::fit_numeric(&rows, &names_ref, options)
            .and_then(|reference| {
                reference.with_predictions(
                    (0..2_000).map(|row| labels[row % classes].as_str()),
                    (0..2_000).map(|row| 0.5 + (row % 50) as f64 / 100.0),
                    options,
                )
            })
            .expect("fits");
        (reference, labels)
    }

    #[test]
    fn undeclared_labels_come_from_the_reference_so_many_classes_do_not_look_like_drift() {
        let (reference, labels) = wide_reference(2, 40);
        let model = with_reference("forty_classes", reference);
        for row in 0..4_000 {
            model.record_prediction(
                Duration::from_micros(10),
                1,
                Outcome::Ok {
                    label: Some(&labels[row % labels.len()]),
                    confidence: Some(0.5 + (row % 50) as f64 / 100.0),
                },
            );
        }
        let report = model.drift_report().expect("has a reference");
        let label = report.label.as_ref().expect("label drift is reported");
        assert!(!label.detected, "{label:?}");
        assert!(
            label.value(DriftMethod::Psi).unwrap_or(1.0) < 0.05,
            "{label:?}"
        );
    }

    #[test]
    fn predictions_without_a_label_are_not_label_drift() {
        let (reference, _) = wide_reference(2, 3);
        let model = with_reference("unlabelled", reference);
        for row in 0..600 {
            model.record_prediction(
                Duration::from_micros(10),
                1,
                Outcome::Ok {
                    label: None,
                    confidence: Some(0.5 + (row % 50) as f64 / 100.0),
                },
            );
        }
        let report = model.drift_report().expect("has a reference");
        assert!(report.label.is_none(), "{:?}", report.label);
        let confidence = report
            .confidence
            .as_ref()
            .expect("confidence drift is reported");
        assert!(!confidence.detected, "{confidence:?}");
        assert_eq!(model.drift_status(), "ok");
    }

    #[test]
    fn rows_of_more_than_32_features_are_counted_whole_across_hand_overs() {
        let (reference, _) = wide_reference(40, 3);
        let model = with_reference("forty_features", reference);
        for row in 0..600 {
            let values: Vec<f64> = (0..40)
                .map(|feature| ((row + feature) % 20) as f64)
                .collect();
            model.observe_features(&values);
            if row % 7 == 0 {
                model.flush();
            }
        }
        let report = model.drift_report().expect("has a reference");
        assert_eq!(report.features.len(), 40);
        for feature in &report.features {
            assert_eq!(feature.observations, 600, "{}", feature.name);
            assert!(!feature.detected, "{feature:?}");
        }
    }

    #[test]
    fn registered_models_lists_registrations() {
        let model = Model::builder("snapshot_registered")
            .version("7")
            .register();
        model.set_loaded(true);
        let found = crate::registered_models()
            .into_iter()
            .find(|model| model.name() == "snapshot_registered")
            .map(|model| model.snapshot());
        assert_eq!(
            found.map(|s| (s.version, s.loaded)),
            Some(("7".to_owned(), true))
        );
    }
}
