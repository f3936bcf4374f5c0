//! [`ModelState`]: everything of one model version that outlives a telemetry installation:
//! its identity, bounded label and feature names, stripes, drift monitor, load state and
//! where its spans come from. Every way of recording (the call guard, [`Model`]'s methods)
//! ends in [`ModelState::record_call`] and the observation methods here.
//!
//! [`Model`]: super::Model

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};

use opentelemetry::metrics::Meter;
use opentelemetry::{Context, KeyValue, StringValue, Value};

use super::builder::ModelBuilder;
use super::exemplars::ModelExemplars;
use super::instruments::{HandOver, SdkInstruments};
use super::outcome::Outcome;
use super::stripes::{Failure, Stripe, StripeSet};
use crate::bounded_names::{self, BoundedNames, UNDECLARED_LABEL_CAP};
use crate::drift::DriftReport;
use crate::drift::coarse_clock;
use crate::drift::gauges::{BinTotals, DriftSources, ReportedDrift};
use crate::drift::monitor::DriftMonitor;
use crate::drift::observe::{self, PendingBins};
use crate::drift::reference::FeatureValue;
use crate::features::FeatureRow;
use crate::ground_truth::Outcomes;
use crate::ground_truth::metrics::StoreSources;
use crate::ground_truth::store::PredictionStore;
use crate::names::{self, attr};
use crate::output::{Label, valid_confidence};
use crate::spans::{self, TracingState};

/// Features tracked by index for a model that did not name its features.
pub const UNNAMED_FEATURE_CAP: usize = 64;

/// A read-only summary of one model version, for health endpoints
/// ([`Model::snapshot`](crate::Model::snapshot)). Counts are since the model was created.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelSnapshot {
    /// The model name (`ml.model.name`).
    pub name: String,
    /// The model version (`ml.model.version`).
    pub version: String,
    /// Whether [`Model::set_loaded`](crate::Model::set_loaded)`(true)` was the last report.
    pub loaded: bool,
    /// What [`Model::set_load_duration`](crate::Model::set_load_duration) reported, in
    /// seconds.
    pub load_duration_seconds: Option<f64>,
    /// Predictions recorded (rows, every outcome).
    pub predictions: u64,
    /// Mean confidence of the successful predictions (rows) that had one.
    pub mean_confidence: Option<f64>,
    /// Registered by `#[instrument_ml]` on first use rather than with
    /// [`ModelBuilder::register`]: nobody reports its load state, so readiness ignores it.
    pub registered_on_first_use: bool,
}

/// How a call ended, as it is recorded: a success with its label slot and confidence, or a
/// failure with its outcome and `error.type`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ending {
    Success {
        label_slot: usize,
        confidence: Option<f64>,
    },
    Failure {
        outcome: &'static str,
        error_type: &'static str,
    },
}

/// Where a model's spans come from: the installed telemetry, or one built without
/// installing it.
#[derive(Debug)]
enum Tracing {
    Installed,
    Fixed(Arc<TracingState>),
}

/// The models bound to one meter provider; its collection hands their stripes over.
#[derive(Debug, Default)]
pub(crate) struct ModelSet {
    models: Mutex<Vec<Weak<ModelState>>>,
}

impl ModelSet {
    fn add(&self, model: &Arc<ModelState>) {
        let mut models = lock(&self.models);
        models.retain(|known| known.strong_count() > 0);
        if !models
            .iter()
            .any(|known| known.as_ptr() == Arc::as_ptr(model))
        {
            models.push(Arc::downgrade(model));
        }
    }

    fn remove(&self, model: &Arc<ModelState>) {
        lock(&self.models).retain(|known| known.as_ptr() != Arc::as_ptr(model));
    }

    fn live(&self) -> Vec<Arc<ModelState>> {
        lock(&self.models)
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }

    /// Registers `ml.predictions.active` on `meter`. Its callback runs at the start of
    /// every collection, so it is also where the stripes are handed to the SDK: the
    /// values collected next then include everything recorded so far. Then the drift
    /// gauges, which read the models through [`DriftSources`].
    pub(crate) fn observe_on(self: &Arc<Self>, meter: &Meter) {
        let models = Arc::clone(self);
        let spec = names::PREDICTIONS_ACTIVE;
        let _observable = meter
            .i64_observable_up_down_counter(spec.name)
            .with_unit(spec.unit)
            .with_description(spec.description)
            .with_callback(move |observer| {
                for model in models.live() {
                    model.flush();
                    observer.observe(model.stripes.active(), &model.model_attributes);
                }
            })
            .build();
        crate::drift::gauges::observe_on(meter, Arc::clone(self) as Arc<dyn DriftSources>);
        crate::ground_truth::metrics::observe_stores_on(
            meter,
            Arc::clone(self) as Arc<dyn StoreSources>,
        );
    }
}

impl StoreSources for ModelSet {
    fn for_each_store(&self, visit: &mut dyn FnMut(&[KeyValue; 2], &PredictionStore)) {
        for model in self.live() {
            if let Some(store) = &model.outcomes.store {
                visit(&model.model_attributes, store);
            }
        }
    }
}

impl DriftSources for ModelSet {
    fn for_each_report(&self, visit: &mut dyn FnMut(ReportedDrift<'_>)) {
        for model in self.live() {
            if let Some(report) = model.drift_report_for_collection() {
                visit(ReportedDrift {
                    model_attributes: &model.model_attributes,
                    report: &report,
                });
            }
        }
    }

    fn for_each_bin_totals(&self, visit: &mut dyn FnMut(BinTotals<'_>)) {
        for model in self.live() {
            let Some(drift) = &model.drift else {
                continue;
            };
            if let Some((bins, totals)) = drift.bin_totals_for_collection(|| model.flush()) {
                visit(BinTotals {
                    model_attributes: &model.model_attributes,
                    bins,
                    totals: &totals,
                });
            }
        }
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
    pub(crate) labels: BoundedNames,
    features: BoundedNames,
    pub(crate) stripes: StripeSet,
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
    /// Outcomes: the prediction store (when kept) and the instruments outcomes go to.
    pub(crate) outcomes: Outcomes,
    /// The latest sampled measurement per histogram bucket, for the OpenMetrics exposition.
    pub(crate) exemplars: ModelExemplars,
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
            prediction_store,
            reference_accuracy,
        } = builder;
        let drift = reference.map(|reference| DriftMonitor::new(reference, drift));
        // Reference-counted values: cloning these attributes bumps a count, not a copy.
        let model_attributes = [
            KeyValue::new(attr::MODEL_NAME, shared(&name)),
            KeyValue::new(attr::MODEL_VERSION, shared(&version)),
        ];
        let features = BoundedNames::new(&features, UNNAMED_FEATURE_CAP);
        let labels = BoundedNames::new(&labels, UNDECLARED_LABEL_CAP);
        Self {
            span_name: Box::leak(names::prediction_span_name(&name).into_boxed_str()),
            stripes: StripeSet::new(labels.slot_count(), features.slot_count(), drift.as_ref()),
            label_bins: (0..labels.slot_count())
                .map(|_| AtomicUsize::new(NO_LABEL_BIN))
                .collect(),
            drift,
            labels,
            features,
            exemplars: ModelExemplars::new(&model_attributes),
            model_attributes,
            binding: RwLock::new(None),
            tracing: tracing.map_or(Tracing::Installed, Tracing::Fixed),
            loaded: AtomicU8::new(LOADED_UNKNOWN),
            load_seconds: Mutex::new(None),
            registered_on_first_use: AtomicBool::new(automatic),
            bound_to: Mutex::new(Weak::new()),
            outcomes: Outcomes::new(prediction_store, reference_accuracy),
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
        self.outcomes.bind(meter, &self.model_attributes);
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

    fn hand_over<R>(&self, hand: impl FnOnce(&HandOver<'_>) -> R) -> R {
        let sdk = self.instruments();
        hand(&HandOver {
            sdk: sdk.as_deref(),
            model_attributes: &self.model_attributes,
            labels: &self.labels,
            features: &self.features,
        })
    }

    /// Runs `record` on the stripe `stripe`, handing its failures over when they pile up.
    #[inline]
    fn with_stripe<R>(&self, stripe: usize, record: impl FnOnce(&mut Stripe) -> R) -> R {
        self.stripes.with_stripe(
            stripe,
            |full| self.hand_over(|to| to.failures(full)),
            record,
        )
    }

    /// Hands everything recorded to the SDK (and the drift counts to the drift window).
    pub(crate) fn flush(&self) {
        self.hand_over(|to| {
            self.stripes.take_each(
                |taken| to.failures(taken),
                |taken| {
                    if let (Some(drift), Some(counts)) = (&self.drift, &taken.drift) {
                        drift.absorb(counts);
                    }
                    to.everything(taken);
                },
            );
        });
    }

    /// How `outcome` is recorded: its label's slot in the label set, or its failure.
    pub(crate) fn ending_of(&self, outcome: &Outcome<'_>) -> Ending {
        match *outcome {
            Outcome::Ok { label, confidence } => Ending::Success {
                label_slot: self.labels.slot(label.map(Label::Text)),
                confidence,
            },
            Outcome::Error { error_type } => Ending::Failure {
                outcome: outcome.as_str(),
                error_type,
            },
            Outcome::Panic | Outcome::Cancelled => Ending::Failure {
                outcome: outcome.as_str(),
                error_type: outcome.as_str(),
            },
        }
    }

    /// Records one finished call: its duration once, `rows` predictions with its ending.
    /// `at` is when the call started (read from the clock when not given), for drift.
    #[inline]
    pub(crate) fn record_call(
        &self,
        stripe: usize,
        seconds: f64,
        rows: u64,
        ending: Ending,
        at: Option<quanta::Instant>,
    ) {
        match ending {
            Ending::Success {
                label_slot,
                confidence,
            } => {
                let drift = self.prediction_bins(label_slot, confidence, at);
                self.with_stripe(stripe, |stripe| {
                    stripe.ok_durations.record(seconds);
                    count_success(stripe, rows, label_slot, confidence);
                    self.count_prediction(stripe, drift, rows, confidence);
                });
            }
            Ending::Failure {
                outcome,
                error_type,
            } => self.with_stripe(stripe, |stripe| {
                stripe.lifetime.add(rows, None);
                stripe.failures.push(Failure {
                    seconds,
                    rows,
                    outcome,
                    error_type,
                });
            }),
        }
    }

    /// Records one row of a batch (its duration is recorded once, by
    /// [`record_batch_end`](Self::record_batch_end)).
    #[inline]
    pub(crate) fn record_row(
        &self,
        stripe: usize,
        label_slot: usize,
        confidence: Option<f64>,
        at: Option<quanta::Instant>,
    ) {
        let drift = self.prediction_bins(label_slot, confidence, at);
        self.with_stripe(stripe, |stripe| {
            count_success(stripe, 1, label_slot, confidence);
            self.count_prediction(stripe, drift, 1, confidence);
        });
    }

    pub(crate) fn record_batch_end(&self, stripe: usize, seconds: f64) {
        self.with_stripe(stripe, |stripe| stripe.ok_durations.record(seconds));
    }

    /// Where a prediction goes in the drift counts, worked out before the stripe's lock.
    /// A prediction without label and confidence (`skip_output`) is not counted.
    #[inline]
    fn prediction_bins(
        &self,
        label_slot: usize,
        confidence: Option<f64>,
        at: Option<quanta::Instant>,
    ) -> Option<observe::PredictionBins> {
        let drift = self.drift.as_ref()?;
        let confidence = valid_confidence(confidence);
        if label_slot == bounded_names::NO_LABEL && confidence.is_none() {
            return None;
        }
        // A prediction without a label says nothing about the label mix.
        let labelled = label_slot != bounded_names::NO_LABEL;
        let label = self
            .label_bins
            .get(label_slot)
            .filter(|_| labelled)
            .and_then(|cached| match cached.load(Ordering::Relaxed) {
                NO_LABEL_BIN => {
                    let name = self.labels.name(label_slot);
                    let bin = drift.binning().bin_of_label(name.as_deref())?;
                    cached.store(bin, Ordering::Relaxed);
                    Some(bin)
                }
                bin => Some(bin),
            });
        Some(observe::PredictionBins {
            at: at.unwrap_or_else(|| drift.time_of_count(coarse_clock::recent)),
            label,
            confidence: drift.binning().bin_of_confidence(confidence),
        })
    }

    fn count_prediction(
        &self,
        stripe: &mut Stripe,
        bins: Option<observe::PredictionBins>,
        rows: u64,
        confidence: Option<f64>,
    ) {
        if let (Some(drift), Some(counts), Some(bins)) = (&self.drift, stripe.drift.as_mut(), bins)
        {
            drift.count_prediction(counts, bins, rows, valid_confidence(confidence));
        }
    }

    /// Counts the missing values of one input row (`ml.feature.missing`), and with a drift
    /// reference its values' bins and the values outside the reference range
    /// (`ml.feature.out_of_range`). The row's code (a user's `FeatureRow` impl) runs
    /// outside the stripe's lock: it may record to this model itself.
    #[inline]
    pub(crate) fn observe_row<R: FeatureRow + ?Sized>(
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
        let now = drift.time_of_count(now);
        drift.observe_row(
            row,
            |feature| self.features.slot(Some(Label::Index(feature))),
            |pending, row_ends| self.count_pending(stripe, drift, now, pending, row_ends),
        );
    }

    /// Like [`observe_row`](Self::observe_row) for values that may be categories.
    pub(crate) fn observe_values(
        &self,
        stripe: usize,
        values: &[FeatureValue<'_>],
        now: impl FnOnce() -> quanta::Instant,
    ) {
        let Some(drift) = &self.drift else {
            for (feature, value) in values.iter().enumerate() {
                if observe::is_missing(value) {
                    self.count_missing(stripe, feature);
                }
            }
            return;
        };
        let now = drift.time_of_count(now);
        drift.observe_values(
            values,
            |feature| self.features.slot(Some(Label::Index(feature))),
            |pending, row_ends| self.count_pending(stripe, drift, now, pending, row_ends),
        );
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
    #[inline]
    fn count_pending(
        &self,
        stripe: usize,
        drift: &DriftMonitor,
        now: quanta::Instant,
        pending: &mut PendingBins,
        row_ends: bool,
    ) {
        self.with_stripe(stripe, |stripe| {
            pending.count_into(
                drift,
                stripe.drift.as_mut(),
                now,
                row_ends,
                [&mut stripe.missing, &mut stripe.out_of_range],
            );
        });
    }

    pub(crate) fn count_missing_feature(&self, stripe: usize, feature: &str) {
        let slot = self.features.slot(Some(Label::Text(feature)));
        self.with_stripe(stripe, |stripe| stripe.missing[slot] += 1);
    }

    pub(crate) fn count_out_of_range_feature(&self, stripe: usize, feature: &str) {
        let slot = self.features.slot(Some(Label::Text(feature)));
        self.with_stripe(stripe, |stripe| stripe.out_of_range[slot] += 1);
    }

    /// The drift report of the current window, `None` without a drift reference.
    pub(crate) fn drift_report(&self) -> Option<Arc<DriftReport>> {
        let drift = self.drift.as_ref()?;
        Some(drift.report(|| self.flush()))
    }

    /// The drift report for the gauges of one collection (one hand-over serves them all).
    fn drift_report_for_collection(&self) -> Option<Arc<DriftReport>> {
        let drift = self.drift.as_ref()?;
        Some(drift.report_for_collection(|| self.flush()))
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

    pub(crate) fn set_load_seconds(&self, seconds: f64) {
        *lock(&self.load_seconds) = Some(seconds);
        if let Some(sdk) = self.instruments() {
            sdk.load_duration.record(seconds, &self.model_attributes);
        }
    }

    /// The running totals every stripe keeps (the recording path is unchanged).
    pub(crate) fn snapshot(&self) -> ModelSnapshot {
        let totals = self.stripes.lifetime();
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
    #[inline]
    pub(crate) fn drops_child_of(&self, parent: &Context) -> bool {
        match &self.tracing {
            Tracing::Fixed(tracing) => tracing.policy.drops_child_of(parent),
            Tracing::Installed => spans::installed_policy().drops_child_of(parent),
        }
    }

    /// Starts the span of a prediction under `parent`, unless the sampler would drop it.
    pub(crate) fn start_span(&self, span_name: &'static str, parent: &Context) -> Option<Context> {
        let start = |tracing: &TracingState| {
            tracing.start_span(span_name, parent, self.model_attributes.iter().cloned())
        };
        match &self.tracing {
            Tracing::Fixed(tracing) => start(tracing),
            Tracing::Installed => {
                // Decided from a shared atomic, before touching the per-thread state.
                if spans::installed_policy().drops_child_of(parent) {
                    return None;
                }
                spans::with_installed(start)
            }
        }
    }
}

/// Counts `rows` successful predictions of one label and confidence in a stripe.
#[inline]
fn count_success(stripe: &mut Stripe, rows: u64, label_slot: usize, confidence: Option<f64>) {
    stripe.ok_counts[label_slot] += rows;
    let confidence = valid_confidence(confidence);
    stripe.lifetime.add(rows, confidence);
    if let Some(confidence) = confidence {
        stripe.confidences.record(confidence);
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
