//! A model version's telemetry. [`ModelBuilder`] describes it; the registry
//! ([`registered_models`]) or [`Telemetry::model`](crate::Telemetry::model) makes its
//! [`ModelState`](state::ModelState): bounded label and feature names, per-thread stripes
//! of measurements handed to the SDK's instruments at each collection, its drift monitor
//! and its spans. Every recording goes through [`PredictionCall`] (what `#[instrument_ml]`
//! expands to) or [`Model`]'s methods, which share the state's one recording path.

mod builder;
mod call;
mod exemplars;
mod feedback;
mod handle;
mod instruments;
mod outcome;
pub(crate) mod registry;
pub(crate) mod state;
pub(crate) mod stripes;
#[cfg(test)]
mod tests;

pub use builder::ModelBuilder;
pub use call::PredictionCall;
pub use feedback::StoredPrediction;
pub use handle::{ActiveGuard, Model, PredictionSpan};
pub use outcome::Outcome;
pub use registry::registered_models;
pub use state::{ModelSnapshot, UNNAMED_FEATURE_CAP};
