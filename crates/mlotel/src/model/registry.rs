//! The process-wide directory behind `#[instrument_ml]`: model versions by name and
//! version, and the installed meter they record to. Models live for the whole process
//! (they are few and made at start-up), so call sites can keep a `&'static` to theirs.

use std::sync::{Arc, RwLock};

use opentelemetry::metrics::Meter;

use super::builder::ModelBuilder;
use super::handle::Model;
use super::state::{ModelSet, ModelState};
use crate::drift::reference::ReferenceError;
use crate::names::OTHER_LABEL;

struct Installed {
    meter: Meter,
    models: Arc<ModelSet>,
}

static MODELS: RwLock<Vec<&'static Arc<ModelState>>> = RwLock::new(Vec::new());
static INSTALLED: RwLock<Option<Installed>> = RwLock::new(None);
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

/// Makes `meter` the one every registered model records to. Holds the model list's lock
/// throughout, so a model registered meanwhile is bound to the new telemetry.
pub(crate) fn install(meter: Meter, models: Arc<ModelSet>) {
    let registered = write(&MODELS);
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

fn find_or_insert(builder: ModelBuilder) -> &'static Arc<ModelState> {
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

impl ModelBuilder {
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
            state: Arc::clone(find_or_insert(self.dropping_mismatched_reference())),
        }
    }

    /// Like [`register`](Self::register), but a drift reference that does not match the
    /// model's features is an error.
    pub fn try_register(mut self) -> Result<Model, ReferenceError> {
        self.check_reference()?;
        Ok(Model {
            state: Arc::clone(find_or_insert(self)),
        })
    }
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

const OVERFLOW_MODEL: &str = OTHER_LABEL;

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
    find_or_insert(builder)
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
