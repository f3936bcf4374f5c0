//! [`DriftMonitor`]: one model version's drift state: where each observation's bin lies in
//! the flat counters, the window's slices, and the statistics computed from them.

use std::sync::{Arc, Mutex, MutexGuard};

use super::reference::{
    CategoricalProfile, FeatureProfile, FeatureValue, NumericProfile, Reference,
};
use super::stats::{self, DriftMethod};
use super::window::{DEFAULT_MIN_OBSERVATIONS, Ring, SliceCounts, Window, WindowTotals};

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
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            window: Window::default(),
            min_observations: DEFAULT_MIN_OBSERVATIONS,
            decision: Decision::default(),
            feature_decisions: Vec::new(),
        }
    }
}

/// A drift decision: the feature drifted when `method`'s value crosses `threshold` (a
/// p-value below it, any other statistic at or above it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The statistic compared.
    pub method: DriftMethod,
    /// Its threshold.
    pub threshold: f64,
}

impl Decision {
    /// `method` at its default threshold.
    pub fn new(method: DriftMethod) -> Self {
        Self {
            method,
            threshold: method.default_threshold(),
        }
    }

    /// `method` at `threshold`.
    pub fn with_threshold(method: DriftMethod, threshold: f64) -> Self {
        Self { method, threshold }
    }
}

impl Default for Decision {
    /// PSI at 0.1: defined for numeric and categorical features alike, and the most widely
    /// read drift score in model monitoring.
    fn default() -> Self {
        Self::new(DriftMethod::Psi)
    }
}

/// Where one feature's bins lie in the flat counters, and how to find a value's bin.
#[derive(Debug)]
struct FeatureSlot {
    offset: usize,
    lookup: Lookup,
}

#[derive(Debug)]
enum Lookup {
    Numeric(NumericProfile),
    /// Categories whose names are numbers, sorted by value, for values that arrive as
    /// numbers (`#[instrument_ml(features = ...)]` reads numbers); others go to "other".
    Categorical {
        by_value: Vec<(f64, usize)>,
        profile: CategoricalProfile,
    },
}

/// Where an observation of one feature goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Binned {
    pub(crate) index: usize,
    pub(crate) out_of_range: bool,
}

/// Drift of one distribution: each method's value, and the decision.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DistributionDrift {
    /// The feature name, or `label` / `confidence` for prediction drift.
    pub name: String,
    /// Observations (non-missing ones for KS and Wasserstein) in the window.
    pub observations: u64,
    /// Each applicable method's value.
    pub values: Vec<(DriftMethod, f64)>,
    /// The decision applied.
    pub decision: Decision,
    /// Whether it drifted.
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
    /// Mean confidence in the window (`None` below `min_observations` predictions).
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

/// One model version's drift state.
#[derive(Debug)]
pub(crate) struct DriftMonitor {
    reference: Arc<Reference>,
    settings: DriftSettings,
    features: Vec<FeatureSlot>,
    label: Option<(usize, CategoricalProfile)>,
    confidence: Option<(usize, NumericProfile)>,
    bins: usize,
    slice_nanos: Option<u64>,
    hand_over_rows: u64,
    epoch: quanta::Instant,
    ring: Mutex<Ring>,
    /// The last report and the window version it was computed from: the gauges of one
    /// collection read it one after the other, and it is reused until the window changes.
    report: Mutex<Option<(u64, Arc<DriftReport>)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DriftMonitor {
    pub(crate) fn new(reference: Arc<Reference>, settings: DriftSettings) -> Self {
        let mut bins = 0;
        let features = reference
            .features
            .iter()
            .map(|profile| {
                let offset = bins;
                bins += profile.bins();
                let lookup = match profile {
                    FeatureProfile::Numeric(numeric) => Lookup::Numeric(numeric.clone()),
                    FeatureProfile::Categorical(categorical) => {
                        let mut by_value: Vec<(f64, usize)> = categorical
                            .categories
                            .iter()
                            .enumerate()
                            .filter_map(|(bin, name)| {
                                name.trim().parse::<f64>().ok().map(|value| (value, bin))
                            })
                            .collect();
                        by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
                        Lookup::Categorical {
                            by_value,
                            profile: categorical.clone(),
                        }
                    }
                };
                FeatureSlot { offset, lookup }
            })
            .collect();
        let label = reference.label.clone().map(|profile| {
            let offset = bins;
            bins += profile.bins();
            (offset, profile)
        });
        let confidence = reference.confidence.clone().map(|profile| {
            let offset = bins;
            bins += profile.bins();
            (offset, profile)
        });
        Self {
            slice_nanos: settings.window.slice_nanos(),
            hand_over_rows: settings.window.stripe_hand_over_rows(),
            ring: Mutex::new(Ring::new(settings.window, bins)),
            epoch: quanta::Instant::now(),
            report: Mutex::new(None),
            reference,
            settings,
            features,
            label,
            confidence,
            bins,
        }
    }

    pub(crate) fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Counters a stripe needs.
    pub(crate) fn new_counts(&self) -> SliceCounts {
        SliceCounts::new(self.bins)
    }

    /// The time slice `now` falls in (0 for count windows).
    #[inline]
    pub(crate) fn slice_at(&self, now: quanta::Instant) -> u64 {
        match self.slice_nanos {
            Some(nanos) => {
                let elapsed = now.saturating_duration_since(self.epoch);
                let elapsed = elapsed
                    .as_secs()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(u64::from(elapsed.subsec_nanos()));
                elapsed / nanos
            }
            None => 0,
        }
    }

    /// Where value `value` of feature `feature` is counted; `None` for a feature the
    /// reference does not have.
    #[inline]
    pub(crate) fn bin_of_feature(&self, feature: usize, value: Option<f64>) -> Option<Binned> {
        let slot = self.features.get(feature)?;
        let (bin, out_of_range) = match &slot.lookup {
            Lookup::Numeric(profile) => match value {
                Some(value) if !value.is_nan() => (
                    value_bin(&profile.edges, value),
                    profile.is_out_of_range(value),
                ),
                _ => (profile.missing_bin(), false),
            },
            Lookup::Categorical { by_value, profile } => match value {
                None => (profile.missing_bin(), false),
                Some(value) => {
                    let found = by_value
                        .binary_search_by(|(category, _)| category.total_cmp(&value))
                        .ok()
                        .map(|index| by_value[index].1);
                    (found.unwrap_or(profile.other_bin()), false)
                }
            },
        };
        Some(Binned {
            index: slot.offset + bin,
            out_of_range,
        })
    }

    /// Where a value given as text is counted: its category for a categorical feature, its
    /// number for a numeric one (text that is not a number is missing there).
    pub(crate) fn bin_of_value(&self, feature: usize, value: &FeatureValue<'_>) -> Option<Binned> {
        let slot = self.features.get(feature)?;
        match (&slot.lookup, value) {
            (Lookup::Categorical { profile, .. }, FeatureValue::Category(category)) => {
                Some(Binned {
                    index: slot.offset + profile.bin(Some(category)),
                    out_of_range: false,
                })
            }
            (_, FeatureValue::Number(number)) => {
                self.bin_of_feature(feature, Some(*number).filter(|number| !number.is_nan()))
            }
            (_, FeatureValue::Category(text)) => {
                self.bin_of_feature(feature, text.trim().parse::<f64>().ok())
            }
            (_, FeatureValue::Missing) => self.bin_of_feature(feature, None),
        }
    }

    /// Where a predicted label is counted.
    #[inline]
    pub(crate) fn bin_of_label(&self, label: Option<&str>) -> Option<usize> {
        let (offset, profile) = self.label.as_ref()?;
        Some(offset + profile.bin(label))
    }

    /// Where a confidence is counted.
    #[inline]
    pub(crate) fn bin_of_confidence(&self, confidence: Option<f64>) -> Option<usize> {
        let (offset, profile) = self.confidence.as_ref()?;
        Some(offset + profile.bin(confidence.unwrap_or(f64::NAN)))
    }

    /// Prepares a stripe's counts for an observation at `now`: hands them over first if
    /// their slice is over (time windows) or they hold their share of a slice (count
    /// windows). Called under the stripe's lock; takes the ring's lock only to hand over.
    /// Within a slice this is two comparisons: the slice is worked out (a division) only
    /// when `now` passes the end of the counts' slice.
    #[inline]
    pub(crate) fn before_counting(&self, counts: &mut SliceCounts, now: quanta::Instant) {
        let in_slice = counts.slice_end.is_some_and(|end| now < end);
        if in_slice && counts.rows.max(counts.predictions) < self.hand_over_rows {
            return;
        }
        let slice = self.slice_at(now);
        if !counts.is_empty() {
            lock(&self.ring).absorb(counts, slice);
            counts.clear();
        }
        counts.slice = slice;
        counts.slice_end = Some(match self.slice_nanos {
            Some(nanos) => {
                let end = slice.saturating_add(1).saturating_mul(nanos);
                self.epoch + std::time::Duration::from_nanos(end)
            }
            // Count windows: one slice of unbounded time.
            None => self.epoch + std::time::Duration::from_secs(u64::from(u32::MAX)),
        });
    }

    /// Takes in the counts of a stripe swapped out at collection.
    pub(crate) fn absorb(&self, counts: &SliceCounts) {
        let now = self.slice_at(quanta::Instant::now());
        lock(&self.ring).absorb(counts, now);
    }

    /// The report of the current window, after `hand_over` has moved what the stripes
    /// counted into the window (`ModelState::flush`). Computed again only when the
    /// window changed since the last report.
    pub(crate) fn report(&self, hand_over: impl FnOnce()) -> Arc<DriftReport> {
        hand_over();
        let mut cached = lock(&self.report);
        let (version, totals) = {
            let mut ring = lock(&self.ring);
            ring.evict(self.slice_at(quanta::Instant::now()));
            let version = ring.version();
            match cached.as_ref() {
                Some((seen, report)) if *seen == version => return Arc::clone(report),
                _ => (version, ring.totals()),
            }
        };
        let report = Arc::new(self.compute(&totals));
        *cached = Some((version, Arc::clone(&report)));
        report
    }

    fn decision_for(&self, feature: &str) -> Decision {
        self.settings
            .feature_decisions
            .iter()
            .find(|(name, _)| name == feature)
            .map_or(self.settings.decision, |&(_, decision)| decision)
    }

    fn compute(&self, totals: &WindowTotals) -> DriftReport {
        let min = self.settings.min_observations;
        let features: Vec<DistributionDrift> = if totals.rows >= min.max(1) {
            self.reference
                .features
                .iter()
                .zip(&self.features)
                .map(|(profile, slot)| {
                    let counts = &totals.bins[slot.offset..slot.offset + profile.bins()];
                    let decision = self.decision_for(profile.name());
                    match profile {
                        FeatureProfile::Numeric(numeric) => {
                            numeric_drift(numeric, counts, decision)
                        }
                        FeatureProfile::Categorical(categorical) => {
                            categorical_drift(categorical, counts, decision)
                        }
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let drift_share = (!features.is_empty()).then(|| {
            features.iter().filter(|drift| drift.detected).count() as f64 / features.len() as f64
        });
        let enough_predictions = totals.predictions >= min.max(1);
        let label = self
            .label
            .as_ref()
            .filter(|_| enough_predictions)
            .map(|(offset, profile)| {
                let counts = &totals.bins[*offset..offset + profile.bins()];
                let mut drift = categorical_drift(profile, counts, self.decision_for("label"));
                drift.name = "label".to_owned();
                drift
            });
        let confidence =
            self.confidence
                .as_ref()
                .filter(|_| enough_predictions)
                .map(|(offset, profile)| {
                    let counts = &totals.bins[*offset..offset + profile.bins()];
                    let mut drift = numeric_drift(profile, counts, self.decision_for("confidence"));
                    drift.name = "confidence".to_owned();
                    drift
                });
        let confidence_mean = (enough_predictions && totals.confidences > 0)
            .then(|| totals.confidence_sum / totals.confidences as f64);
        let confidence_mean_change = confidence_mean.and_then(|mean| {
            self.confidence
                .as_ref()
                .map(|(_, profile)| mean - profile.mean)
        });
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
}

/// Edges up to which counting beats a binary search.
const COUNTED_EDGES: usize = 32;

/// The value bin of a non-NaN `value`: the number of edges at or below it, which for sorted
/// edges is their `partition_point`. Up to [`COUNTED_EDGES`] edges are counted with
/// independent comparisons the compiler turns into vector code, with no chain of dependent
/// loads as in a binary search (about 3 ns against 12 ns for 9 edges here); more are
/// searched.
#[inline]
fn value_bin(edges: &[f64], value: f64) -> usize {
    if edges.len() <= COUNTED_EDGES {
        edges.iter().map(|edge| usize::from(*edge <= value)).sum()
    } else {
        edges.partition_point(|edge| *edge <= value)
    }
}

/// Proportions of `counts`; all zero when they sum to zero.
fn proportions(counts: &[u64]) -> (Vec<f64>, u64) {
    let total: u64 = counts.iter().sum();
    let proportions = counts
        .iter()
        .map(|&count| {
            if total == 0 {
                0.0
            } else {
                count as f64 / total as f64
            }
        })
        .collect();
    (proportions, total)
}

/// `values` scaled to sum to 1 (unchanged when they sum to 0).
fn renormalised(values: &[f64]) -> Vec<f64> {
    let total: f64 = values.iter().sum();
    if total > 0.0 {
        values.iter().map(|value| value / total).collect()
    } else {
        values.to_vec()
    }
}

fn numeric_drift(
    profile: &NumericProfile,
    counts: &[u64],
    decision: Decision,
) -> DistributionDrift {
    let reference = &profile.proportions;
    let (current, observations) = proportions(counts);
    let chi_square = stats::chi_square(reference, counts);
    let mut values = vec![
        (DriftMethod::Psi, stats::psi(reference, &current)),
        (
            DriftMethod::JensenShannon,
            stats::jensen_shannon_distance(reference, &current),
        ),
        (DriftMethod::ChiSquare, chi_square.statistic),
        (DriftMethod::ChiSquarePValue, chi_square.p_value),
    ];
    // KS and Wasserstein compare the ordered values: the missing bin stays out.
    let value_bins = profile.value_bins();
    let (value_current, present) = proportions(&counts[..value_bins.min(counts.len())]);
    if present > 0 && profile.count > 0 {
        let value_reference = renormalised(&reference[..value_bins.min(reference.len())]);
        let ks =
            stats::kolmogorov_smirnov(&value_reference, &value_current, profile.count, present);
        values.push((DriftMethod::KolmogorovSmirnov, ks.statistic));
        values.push((DriftMethod::KolmogorovSmirnovPValue, ks.p_value));
        values.push((
            DriftMethod::Wasserstein,
            stats::wasserstein_normed(
                &profile.centres(),
                &value_reference,
                &value_current,
                profile.std,
            ),
        ));
    }
    decide(profile.name.clone(), observations, values, decision)
}

fn categorical_drift(
    profile: &CategoricalProfile,
    counts: &[u64],
    decision: Decision,
) -> DistributionDrift {
    let reference = &profile.proportions;
    let (current, observations) = proportions(counts);
    let chi_square = stats::chi_square(reference, counts);
    let values = vec![
        (DriftMethod::Psi, stats::psi(reference, &current)),
        (
            DriftMethod::JensenShannon,
            stats::jensen_shannon_distance(reference, &current),
        ),
        (DriftMethod::ChiSquare, chi_square.statistic),
        (DriftMethod::ChiSquarePValue, chi_square.p_value),
    ];
    decide(profile.name.clone(), observations, values, decision)
}

fn decide(
    name: String,
    observations: u64,
    values: Vec<(DriftMethod, f64)>,
    decision: Decision,
) -> DistributionDrift {
    // A method that does not apply (KS on a categorical feature) falls back to PSI.
    let decision = if values.iter().any(|(method, _)| *method == decision.method) {
        decision
    } else {
        Decision::default()
    };
    let detected = values
        .iter()
        .find(|(method, _)| *method == decision.method)
        .is_some_and(|&(method, value)| method.is_drift(value, decision.threshold));
    DistributionDrift {
        name,
        observations,
        values,
        decision,
        detected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_edges_finds_the_same_bin_as_searching_them() {
        for edges in [
            vec![],
            vec![1.0],
            vec![-2.0, 0.0, 0.5, 3.0],
            (0..40).map(f64::from).collect::<Vec<_>>(),
        ] {
            for value in [
                -10.0,
                -2.0,
                -1.0,
                0.0,
                0.25,
                0.5,
                3.0,
                3.5,
                39.0,
                100.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ] {
                assert_eq!(
                    value_bin(&edges, value),
                    edges.partition_point(|edge| *edge <= value),
                    "{value} in {edges:?}"
                );
            }
        }
    }
}
