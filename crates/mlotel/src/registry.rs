//! The process-wide registry behind `#[instrument_ml]`: model versions by name and version,
//! and the installed telemetry they record to. Models live for the whole process (they are
//! few and made at start-up), so call sites can keep a `&'static` to theirs.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use opentelemetry::metrics::Meter;

use crate::model::{Model, ModelBuilder, ModelSet, ModelState, SpanPolicy, TracingState};

struct Installed {
    meter: Meter,
    models: Arc<ModelSet>,
}

static MODELS: RwLock<Vec<&'static Arc<ModelState>>> = RwLock::new(Vec::new());
static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);
static TRACING: RwLock<Option<Arc<TracingState>>> = RwLock::new(None);
/// The installed telemetry's [`SpanPolicy`], readable without the per-thread cache.
static SPAN_POLICY: AtomicU8 = AtomicU8::new(0);
/// Bumped by each installation, so threads know to refresh their cached tracing state.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static CACHED_TRACING: RefCell<(u64, Option<Arc<TracingState>>)> =
        const { RefCell::new((0, None)) };
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Models registered on first use at most; later names share one `__other__` model, so a
/// model name taken from requests cannot grow memory and series without bound.
const AUTO_REGISTERED_CAP: usize = 64;

/// Makes `meter` and `tracing` the ones every registered model records to. Holds the model
/// list's lock throughout, so a model registered meanwhile is bound to the new telemetry.
pub(crate) fn install(meter: Meter, models: Arc<ModelSet>, tracing: Arc<TracingState>) {
    let registered = write(&MODELS);
    SPAN_POLICY.store(tracing.policy.to_u8(), Ordering::Release);
    *write(&TRACING) = Some(tracing);
    GENERATION.fetch_add(1, Ordering::Release);
    *write(&INSTALLED) = Some(Installed {
        meter: meter.clone(),
        models: Arc::clone(&models),
    });
    for model in registered.iter() {
        model.bind(&meter, &models);
    }
}

fn find(
    models: &[&'static Arc<ModelState>],
    name: &str,
    version: &str,
) -> Option<&'static Arc<ModelState>> {
    models
        .iter()
        .find(|model| model.name() == name && model.version() == version)
        .copied()
}

pub(crate) fn register(builder: ModelBuilder) -> &'static Arc<ModelState> {
    let mut models = write(&MODELS);
    if let Some(known) = find(&models, &builder.name, &builder.version) {
        if known.registered_on_first_use() && !builder.automatic {
            if !builder.labels.is_empty()
                || !builder.features.is_empty()
                || builder.reference.is_some()
            {
                tracing::warn!(
                    target: "mlotel",
                    model = %builder.name,
                    version = %builder.version,
                    "model version registered after its first prediction: its labels, \
                     features and drift reference are ignored; register models before the \
                     first call"
                );
            }
            known.registered_explicitly();
        }
        return known;
    }
    if builder.automatic
        && models
            .iter()
            .filter(|model| model.registered_on_first_use())
            .count()
            >= AUTO_REGISTERED_CAP
    {
        if let Some(overflow) = find(&models, OVERFLOW_MODEL, OVERFLOW_MODEL) {
            return overflow;
        }
        tracing::warn!(
            target: "mlotel",
            model = %builder.name,
            "more than {AUTO_REGISTERED_CAP} model versions used without registration; \
             further ones are recorded as model {OVERFLOW_MODEL}"
        );
        let mut overflow = Model::builder(OVERFLOW_MODEL).version(OVERFLOW_MODEL);
        overflow.automatic = true;
        return insert(&mut models, overflow);
    }
    insert(&mut models, builder)
}

fn insert(
    models: &mut Vec<&'static Arc<ModelState>>,
    builder: ModelBuilder,
) -> &'static Arc<ModelState> {
    let model: &'static Arc<ModelState> =
        Box::leak(Box::new(Arc::new(ModelState::new(builder, None))));
    if let Some(installed) = &*read(&INSTALLED) {
        model.bind(&installed.meter, &installed.models);
    }
    models.push(model);
    model
}

/// Every model version registered with [`ModelBuilder::register`] or on first use by
/// `#[instrument_ml]`, in registration order.
pub fn registered_models() -> Vec<Model> {
    read(&MODELS)
        .iter()
        .map(|state| Model {
            state: Arc::clone(state),
        })
        .collect()
}

const OVERFLOW_MODEL: &str = crate::names::OTHER_LABEL;

/// The registered model version, registered with default settings on first use.
pub(crate) fn model(name: &str, version: &str) -> &'static Arc<ModelState> {
    if let Some(known) = find(&read(&MODELS), name, version) {
        return known;
    }
    let other_versions: Vec<String> = read(&MODELS)
        .iter()
        .filter(|model| model.name() == name)
        .map(|model| model.version().to_owned())
        .collect();
    if other_versions.is_empty() {
        tracing::info!(
            target: "mlotel",
            model = name,
            version,
            "model version used before it was registered; registering it with default \
             settings (no declared labels or features)"
        );
    } else {
        tracing::warn!(
            target: "mlotel",
            model = name,
            version,
            registered = ?other_versions,
            "model used with a version that was not registered; recording it as a new model \
             version with default settings"
        );
    }
    let mut builder = Model::builder(name).version(version);
    builder.automatic = true;
    register(builder)
}

/// The model of an attribute that gave no version: the one registered version of `name`
/// when there is exactly one, else `name` at the crate's version.
pub(crate) fn model_with_default_version(
    name: &str,
    crate_version: &str,
) -> &'static Arc<ModelState> {
    let registered = read(&MODELS);
    let mut versions = registered.iter().filter(|model| model.name() == name);
    if let (Some(only), None) = (versions.next(), versions.next()) {
        return only;
    }
    drop(registered);
    model(name, crate_version)
}

pub(crate) fn span_policy() -> SpanPolicy {
    SpanPolicy::from_u8(SPAN_POLICY.load(Ordering::Acquire))
}

/// Runs `use_it` with the installed tracing state, read from a per-thread copy so the hot
/// path touches no shared lock or reference count. `None` before any installation.
pub(crate) fn with_tracing<R>(use_it: impl FnOnce(&TracingState) -> Option<R>) -> Option<R> {
    let generation = GENERATION.load(Ordering::Acquire);
    let mut use_it = Some(use_it);
    let from_cache = CACHED_TRACING.try_with(|cached| {
        let stale = cached.borrow().0 != generation;
        if let (true, Ok(mut cached)) = (stale, cached.try_borrow_mut()) {
            *cached = (generation, read(&TRACING).clone());
        }
        let cached = cached.borrow();
        let tracing = cached.1.as_deref()?;
        use_it.take().and_then(|use_it| use_it(tracing))
    });
    match (from_cache, use_it) {
        (Ok(output), _) => output,
        // The thread is exiting and its cache is gone: read the shared state instead.
        (Err(_), Some(use_it)) => use_it(read(&TRACING).as_deref()?),
        (Err(_), None) => None,
    }
}
