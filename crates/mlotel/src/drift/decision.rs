//! How a model version decides drift: [`DriftSettings`] (window, minimum observations,
//! per-feature [`Decision`]s, the missing-share threshold).

use super::stats::DriftMethod;
use super::window::{DEFAULT_MIN_OBSERVATIONS, Window};

/// Drift settings of a model version (see `ModelBuilder::reference`).
#[derive(Debug, Clone, PartialEq)]
pub struct DriftSettings {
    /// The observations compared with the reference.
    pub window: Window,
    /// Below this many observations in the window nothing is reported for it.
    pub min_observations: u64,
    /// The method and threshold that decide whether a feature drifted.
    pub decision: Decision,
    /// Per-feature decisions overriding [`DriftSettings::decision`].
    pub feature_decisions: Vec<(String, Decision)>,
    /// A feature (or the label, or the confidence) is also detected as drifted when its
    /// window's share of missing values exceeds the reference's by at least this much
    /// (`missing_share`, default 0.1).
    pub missing_share_threshold: f64,
    /// Export each bin's running count (`ml.feature.bin.observations`,
    /// `ml.prediction.bin.observations`) and the reference's shares
    /// (`ml.feature.bin.reference`, `ml.prediction.bin.reference`), so that a metrics backend
    /// can compute drift over every replica (default on; see docs/drift.md).
    pub bin_counters: bool,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            window: Window::default(),
            min_observations: DEFAULT_MIN_OBSERVATIONS,
            decision: Decision::default(),
            feature_decisions: Vec::new(),
            missing_share_threshold: DriftMethod::MissingShare.default_threshold(),
            bin_counters: true,
        }
    }
}

/// A drift decision: the feature drifted when `method`'s value crosses `threshold` (a
/// p-value below it, any other statistic at or above it; see [`DriftMethod::is_drift`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The statistic compared.
    pub method: DriftMethod,
    /// Its threshold (with `calibrated`, the one used where the reference has none).
    pub threshold: f64,
    /// Use the threshold the reference's profile was calibrated with for `method`
    /// (`Reference::calibrate`), carried to the window's size, where it has one.
    pub calibrated: bool,
}

impl Decision {
    /// `method` at its default threshold.
    pub fn new(method: DriftMethod) -> Self {
        Self::with_threshold(method, method.default_threshold())
    }

    /// `method` at `threshold`.
    pub fn with_threshold(method: DriftMethod, threshold: f64) -> Self {
        Self {
            method,
            threshold,
            calibrated: false,
        }
    }

    /// `method` at the threshold calibrated with each profile of the reference
    /// (`Reference::calibrate`: a chosen false-alarm rate at the window's size); at its
    /// default threshold for a profile without one.
    pub fn calibrated(method: DriftMethod) -> Self {
        Self {
            calibrated: true,
            ..Self::new(method)
        }
    }
}

impl Default for Decision {
    /// PSI at 0.1: defined for numeric and categorical features alike, and the most widely
    /// read drift score in model monitoring.
    fn default() -> Self {
        Self::new(DriftMethod::Psi)
    }
}
