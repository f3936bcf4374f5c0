//! The model of an `#[instrument_ml]` call site, looked up once per site when its model and
//! version are literals, and the call it starts. Not a public API (`mlotel::__private`).

use std::sync::OnceLock;

use crate::model::PredictionCall;
use crate::model::registry;
use crate::model::state::ModelState;

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

/// Starts the call of a prediction function; `span_name` is the attribute's `name`, or
/// `predict {model}` for a literal model (else the model's own, built at registration).
#[inline]
pub fn start_call(
    SiteModel(model): SiteModel,
    span_name: Option<&'static str>,
) -> PredictionCall<'static> {
    PredictionCall::start(model, span_name.unwrap_or(model.span_name))
}

impl SiteModel {
    pub(crate) fn state(self) -> &'static ModelState {
        self.0
    }
}
