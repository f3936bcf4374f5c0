//! What drift reports for one window ([`DriftReport`]), and how it is worked out from the
//! window's counts: each profile's statistics ([`measure`]) and the decision applied to them.

use super::binning::Binning;
use super::decision::{Decision, DriftSettings};
use super::measure::{self, Measured};
use super::reference::{
    Calibration, CategoricalProfile, FeatureProfile, NumericProfile, Reference,
};
use super::stats::DriftMethod;
use super::window::WindowTotals;

/// Drift of one distribution: each method's value, and the decision.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DistributionDrift {
    /// The feature name, or `label` / `confidence` for prediction drift.
    pub name: String,
    /// Observations in the window, missing ones included.
    pub observations: u64,
    /// Non-missing observations in the window (what KS and Wasserstein compare; they are
    /// reported only from the minimum window count of them on).
    pub present: u64,
    /// Each applicable method's value.
    pub values: Vec<(DriftMethod, f64)>,
    /// The decision applied.
    pub decision: Decision,
    /// The threshold the decision compared with (a calibrated one carried to this window's
    /// size, or the decision's own).
    pub threshold: f64,
    /// Whether the missing share rose by the settings' `missing_share_threshold` or more.
    pub missing_detected: bool,
    /// Whether it drifted: the decision's method crossed its threshold, or the missing share
    /// rose past its own.
    pub detected: bool,
}

impl DistributionDrift {
    /// The value of `method`, if it applies.
    pub fn value(&self, method: DriftMethod) -> Option<f64> {
        self.values
            .iter()
            .find(|(candidate, _)| *candidate == method)
            .map(|&(_, value)| value)
    }
}

/// Everything drift reports for one window.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DriftReport {
    /// Feature rows in the window.
    pub rows: u64,
    /// Predictions in the window.
    pub predictions: u64,
    /// The least number of observations before anything is reported.
    pub min_observations: u64,
    /// Per feature, in the reference's order; empty below `min_observations` rows.
    pub features: Vec<DistributionDrift>,
    /// Drifted features / features; `None` below `min_observations` rows.
    pub drift_share: Option<f64>,
    /// Drift of the predicted labels; `None` without a label reference or below
    /// `min_observations` predictions.
    pub label: Option<DistributionDrift>,
    /// Drift of the confidence; as `label`.
    pub confidence: Option<DistributionDrift>,
    /// Mean confidence in the window (`None` below `min_observations` confidences).
    pub confidence_mean: Option<f64>,
    /// Window mean confidence minus the reference's (`None` without a confidence reference).
    pub confidence_mean_change: Option<f64>,
}

impl DriftReport {
    /// `drift` when a feature or the prediction drifted, `ok` when none did,
    /// `insufficient_data` below the minimum window.
    pub fn status(&self) -> &'static str {
        let evaluated =
            !self.features.is_empty() || self.label.is_some() || self.confidence.is_some();
        if !evaluated {
            "insufficient_data"
        } else if self
            .features
            .iter()
            .chain(&self.label)
            .chain(&self.confidence)
            .any(|drift| drift.detected)
        {
            "drift"
        } else {
            "ok"
        }
    }
}

/// The decision for `feature` (or `label` / `confidence`): its own, else the settings'.
fn decision_for(settings: &DriftSettings, feature: &str) -> Decision {
    settings
        .feature_decisions
        .iter()
        .find(|(name, _)| name == feature)
        .map_or(settings.decision, |&(_, decision)| decision)
}

/// The report of a window with `totals`, binned by `binning` against `reference`.
pub(crate) fn compute(
    reference: &Reference,
    binning: &Binning,
    settings: &DriftSettings,
    totals: &WindowTotals,
) -> DriftReport {
    let min = settings.min_observations;
    // Each feature needs the minimum on its own: rows shorter than the reference leave
    // their last features unobserved, and a few values say nothing.
    let features: Vec<DistributionDrift> = reference
        .features
        .iter()
        .enumerate()
        .filter_map(|(index, profile)| {
            let offset = binning.feature_offset(index)?;
            let counts = &totals.bins[offset..offset + profile.bins()];
            if counts.iter().sum::<u64>() < min.max(1) {
                return None;
            }
            let decision = decision_for(settings, profile.name());
            Some(match profile {
                FeatureProfile::Numeric(numeric) => {
                    numeric_drift(numeric, counts, decision, settings)
                }
                FeatureProfile::Categorical(categorical) => {
                    categorical_drift(categorical, counts, decision, settings)
                }
            })
        })
        .collect();
    let drift_share = (!features.is_empty()).then(|| {
        features.iter().filter(|drift| drift.detected).count() as f64 / features.len() as f64
    });
    let enough = |counts: &[u64]| counts.iter().sum::<u64>() >= min.max(1);
    let label = binning
        .label()
        .map(|(offset, profile)| (profile, &totals.bins[*offset..offset + profile.bins()]))
        .filter(|(_, counts)| enough(counts))
        .map(|(profile, counts)| {
            let mut drift =
                categorical_drift(profile, counts, decision_for(settings, "label"), settings);
            drift.name = "label".to_owned();
            drift
        });
    let confidence = binning
        .confidence()
        .map(|(offset, profile)| (profile, &totals.bins[*offset..offset + profile.bins()]))
        .filter(|(_, counts)| enough(counts))
        .map(|(profile, counts)| {
            let mut drift = numeric_drift(
                profile,
                counts,
                decision_for(settings, "confidence"),
                settings,
            );
            drift.name = "confidence".to_owned();
            drift
        });
    let confidence_mean = (totals.confidences >= min.max(1))
        .then(|| totals.confidence_sum / totals.confidences as f64);
    let confidence_mean_change = confidence_mean
        .and_then(|mean| binning.confidence().map(|(_, profile)| mean - profile.mean));
    DriftReport {
        rows: totals.rows,
        predictions: totals.predictions,
        min_observations: min,
        features,
        drift_share,
        label,
        confidence,
        confidence_mean,
        confidence_mean_change,
    }
}

fn numeric_drift(
    profile: &NumericProfile,
    counts: &[u64],
    decision: Decision,
    settings: &DriftSettings,
) -> DistributionDrift {
    let measured = measure::numeric(profile, counts, settings.min_observations);
    decide(
        profile.name.clone(),
        measured,
        decision,
        profile.calibration.as_ref(),
        profile.count + profile.missing,
        settings.missing_share_threshold,
    )
}

fn categorical_drift(
    profile: &CategoricalProfile,
    counts: &[u64],
    decision: Decision,
    settings: &DriftSettings,
) -> DistributionDrift {
    let measured = measure::categorical(profile, counts);
    decide(
        profile.name.clone(),
        measured,
        decision,
        profile.calibration.as_ref(),
        profile.count + profile.missing,
        settings.missing_share_threshold,
    )
}

/// Applies `decision` (and the missing-share threshold) to what was measured.
/// `reference_rows` carries a calibrated threshold to the window's size.
pub(crate) fn decide(
    name: String,
    measured: Measured,
    decision: Decision,
    calibration: Option<&Calibration>,
    reference_rows: u64,
    missing_share_threshold: f64,
) -> DistributionDrift {
    let Measured {
        observations,
        present,
        values,
    } = measured;
    let value_of = |method: DriftMethod| {
        values
            .iter()
            .find(|(candidate, _)| *candidate == method)
            .map(|&(_, value)| value)
    };
    // A method that does not apply (KS on a categorical feature, or on too few non-missing
    // values) falls back to PSI.
    let decision = if value_of(decision.method).is_some() {
        decision
    } else {
        Decision {
            calibrated: decision.calibrated,
            ..Decision::default()
        }
    };
    let method = decision.method;
    // Calibrated on windows of rows (missing values included) and carried by them.
    let threshold = calibration
        .filter(|_| decision.calibrated)
        .and_then(|calibration| calibration.threshold(method, observations, reference_rows))
        .unwrap_or(decision.threshold);
    // `chisquare` at a significance level is decided on its p-value.
    let compared = if method.decides_by_p_value(threshold) {
        value_of(DriftMethod::ChiSquarePValue)
    } else {
        value_of(method)
    };
    let distribution = compared.is_some_and(|value| method.is_drift(value, threshold));
    let missing_detected = value_of(DriftMethod::MissingShare)
        .is_some_and(|value| DriftMethod::MissingShare.is_drift(value, missing_share_threshold));
    DistributionDrift {
        name,
        observations,
        present,
        values,
        decision,
        threshold,
        missing_detected,
        detected: distribution || missing_detected,
    }
}
