//! Online drift: reference profiles fitted from training data ([`reference`](mod@reference)),
//! observations binned on the prediction path (`binning`, `observe`) into sliding windows
//! of counts (`window`, `monitor`), and the statistics ([`stats`]) and decisions
//! (`report`, `decision`) worked out from them at collection time, exposed as gauges.

pub(crate) mod binning;
mod calibrate;
pub(crate) mod coarse_clock;
pub(crate) mod decision;
pub(crate) mod fleet;
pub(crate) mod gauges;
pub(crate) mod measure;
pub(crate) mod monitor;
pub(crate) mod observe;
pub mod reference;
pub(crate) mod report;
pub mod stats;
pub(crate) mod window;

pub use decision::{Decision, DriftSettings};
pub use report::{DistributionDrift, DriftReport};
pub use window::{DEFAULT_MIN_OBSERVATIONS, DEFAULT_WINDOW_LENGTH, DEFAULT_WINDOW_SLICES, Window};

/// [`crate::Model::drift_status`] of a model version without a drift reference.
pub const NOT_MONITORED: &str = "not_monitored";
