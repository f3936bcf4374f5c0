//! Online drift: reference profiles fitted from training data ([`reference`](mod@reference)), sliding
//! windows of binned counts fed on the prediction path, and the statistics ([`stats`])
//! computed from them at collection time.

mod calibrate;
pub(crate) mod coarse_clock;
pub(crate) mod gauges;
pub(crate) mod measure;
pub(crate) mod monitor;
pub mod reference;
pub mod stats;
pub(crate) mod window;

pub use monitor::{Decision, DistributionDrift, DriftReport, DriftSettings};
pub use window::{DEFAULT_MIN_OBSERVATIONS, DEFAULT_WINDOW_LENGTH, DEFAULT_WINDOW_SLICES, Window};

/// [`crate::Model::drift_status`] of a model version without a drift reference.
pub const NOT_MONITORED: &str = "not_monitored";
