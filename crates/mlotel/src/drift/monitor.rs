//! [`DriftMonitor`]: one model version's drift state: where each observation's bin lies in
//! the flat counters, the window's slices, and the statistics computed from them.

use std::sync::{Arc, Mutex, MutexGuard};

use super::measure::{self, Measured};
use super::reference::{
    Calibration, CategoricalProfile, FeatureProfile, FeatureValue, NumericProfile, Reference,
};
use super::stats::DriftMethod;
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
    /// A feature (or the label, or the confidence) is also detected as drifted when its
    /// window's share of missing values exceeds the reference's by at least this much
    /// (`missing_share`, default 0.1).
    pub missing_share_threshold: f64,
}

impl Default for DriftSettings {
    fn default() -> Self {
        Self {
            window: Window::default(),
            min_observations: DEFAULT_MIN_OBSERVATIONS,
            decision: Decision::default(),
            feature_decisions: Vec::new(),
            missing_share_threshold: DriftMethod::MissingShare.default_threshold(),
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

/// How long a hand-over serves the drift gauges of a collection (they are read one after
/// the other within a millisecond or so).
const HAND_OVER_REUSE: std::time::Duration = std::time::Duration::from_millis(100);

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

/// What binning a value of a numeric feature with few edges needs, in one fixed-size
/// block: the common case of an observation takes this path ([`DriftMonitor::hot_bin`]).
#[derive(Debug, Clone, Copy)]
struct HotNumeric {
    /// The edges, padded with NaN (never `<=` anything), so that counting them is a fixed
    /// number of vector compares with no loop tail.
    edges: [f64; HOT_EDGES],
    min: f64,
    max: f64,
    offset: usize,
}

/// Edges a [`HotNumeric`] holds: the default 10 bins have 9.
const HOT_EDGES: usize = 12;

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

/// One model version's drift state.
#[derive(Debug)]
pub(crate) struct DriftMonitor {
    reference: Arc<Reference>,
    settings: DriftSettings,
    features: Vec<FeatureSlot>,
    /// Per feature, the fixed-size lookup of numeric features with up to [`HOT_EDGES`]
    /// edges.
    hot: Vec<Option<HotNumeric>>,
    label: Option<(usize, CategoricalProfile)>,
    confidence: Option<(usize, NumericProfile)>,
    bins: usize,
    slice_nanos: Option<u64>,
    hand_over_rows: u64,
    epoch: quanta::Instant,
    /// The end of a slice that never ends (count windows).
    far_future: quanta::Instant,
    ring: Mutex<Ring>,
    /// The last report and the window version it was computed from: the gauges of one
    /// collection read it one after the other, and it is reused until the window changes.
    report: Mutex<Option<(u64, Arc<DriftReport>)>>,
    /// When the stripes were last handed over for a report.
    handed_over_at: Mutex<Option<std::time::Instant>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DriftMonitor {
    pub(crate) fn new(reference: Arc<Reference>, settings: DriftSettings) -> Self {
        let mut bins = 0;
        let features: Vec<FeatureSlot> = reference
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
        let hot = features
            .iter()
            .map(|slot| match &slot.lookup {
                Lookup::Numeric(profile) if profile.edges.len() <= HOT_EDGES => {
                    let mut edges = [f64::NAN; HOT_EDGES];
                    edges[..profile.edges.len()].copy_from_slice(&profile.edges);
                    Some(HotNumeric {
                        edges,
                        min: profile.min,
                        max: profile.max,
                        offset: slot.offset,
                    })
                }
                _ => None,
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
        let epoch = quanta::Instant::now();
        if settings.window.slice_nanos().is_some() {
            super::coarse_clock::start();
        }
        Self {
            slice_nanos: settings.window.slice_nanos(),
            hand_over_rows: settings.window.stripe_hand_over_rows(),
            ring: Mutex::new(Ring::new(settings.window, bins)),
            epoch,
            far_future: epoch
                .checked_add(std::time::Duration::from_secs(100 * 365 * 86_400))
                .unwrap_or(epoch),
            report: Mutex::new(None),
            handed_over_at: Mutex::new(None),
            reference,
            settings,
            features,
            hot,
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

    /// Whether counting needs the time (time windows); count windows have one slice of
    /// unbounded time.
    #[inline]
    pub(crate) fn needs_time(&self) -> bool {
        self.slice_nanos.is_some()
    }

    /// A time for count windows, which never compare it with anything that changes.
    #[inline]
    pub(crate) fn epoch(&self) -> quanta::Instant {
        self.epoch
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
            Lookup::Categorical { by_value, profile } => match value.filter(|v| !v.is_nan()) {
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

    /// The bin of `value` of feature `feature` when that is the common case: a numeric
    /// feature with up to [`HOT_EDGES`] edges and a value within the reference's range
    /// (so neither missing nor out of range). `None` otherwise: ask
    /// [`bin_of_feature`](Self::bin_of_feature). Same answer as `bin_of_feature` where both
    /// answer.
    #[inline]
    pub(crate) fn hot_bin(&self, feature: usize, value: f64) -> Option<usize> {
        let hot = self.hot.get(feature)?.as_ref()?;
        // False for NaN and for values outside min..=max (±∞ included).
        if !(value >= hot.min && value <= hot.max) {
            return None;
        }
        let bin: usize = hot
            .edges
            .iter()
            .map(|edge| usize::from(*edge <= value))
            .sum();
        Some(hot.offset + bin)
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

    /// Where a confidence is counted (a prediction without one is not).
    #[inline]
    pub(crate) fn bin_of_confidence(&self, confidence: Option<f64>) -> Option<usize> {
        let (offset, profile) = self.confidence.as_ref()?;
        Some(offset + profile.bin(confidence?))
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
        // Count windows (and slices ending past what the clock can hold): one slice of
        // unbounded time.
        let end = self
            .slice_nanos
            .map(|nanos| slice.saturating_add(1).saturating_mul(nanos))
            .and_then(|end| self.epoch.checked_add(std::time::Duration::from_nanos(end)));
        counts.slice_end = end.or(Some(self.far_future));
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
        *lock(&self.handed_over_at) = Some(std::time::Instant::now());
        self.report_of_window()
    }

    /// The report for a collection: its drift gauges are read one after the other, so the
    /// stripes are handed over by the first of them only (within [`HAND_OVER_REUSE`]) and
    /// every gauge of the collection reports the same window.
    pub(crate) fn report_for_collection(&self, hand_over: impl FnOnce()) -> Arc<DriftReport> {
        let recent = lock(&self.handed_over_at).is_some_and(|at| at.elapsed() < HAND_OVER_REUSE);
        if recent {
            self.report_of_window()
        } else {
            self.report(hand_over)
        }
    }

    fn report_of_window(&self) -> Arc<DriftReport> {
        self.report_at(quanta::Instant::now())
    }

    /// The report of the window as it stands at `now`.
    fn report_at(&self, now: quanta::Instant) -> Arc<DriftReport> {
        let mut cached = lock(&self.report);
        let (version, totals) = {
            let mut ring = lock(&self.ring);
            ring.evict(self.slice_at(now));
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
        // Each feature needs the minimum on its own: rows shorter than the reference leave
        // their last features unobserved, and a few values say nothing.
        let features: Vec<DistributionDrift> = self
            .reference
            .features
            .iter()
            .zip(&self.features)
            .filter_map(|(profile, slot)| {
                let counts = &totals.bins[slot.offset..slot.offset + profile.bins()];
                if counts.iter().sum::<u64>() < min.max(1) {
                    return None;
                }
                let decision = self.decision_for(profile.name());
                Some(match profile {
                    FeatureProfile::Numeric(numeric) => {
                        numeric_drift(numeric, counts, decision, &self.settings)
                    }
                    FeatureProfile::Categorical(categorical) => {
                        categorical_drift(categorical, counts, decision, &self.settings)
                    }
                })
            })
            .collect();
        let drift_share = (!features.is_empty()).then(|| {
            features.iter().filter(|drift| drift.detected).count() as f64 / features.len() as f64
        });
        let enough = |counts: &[u64]| counts.iter().sum::<u64>() >= min.max(1);
        let label = self
            .label
            .as_ref()
            .map(|(offset, profile)| (profile, &totals.bins[*offset..offset + profile.bins()]))
            .filter(|(_, counts)| enough(counts))
            .map(|(profile, counts)| {
                let mut drift =
                    categorical_drift(profile, counts, self.decision_for("label"), &self.settings);
                drift.name = "label".to_owned();
                drift
            });
        let confidence = self
            .confidence
            .as_ref()
            .map(|(offset, profile)| (profile, &totals.bins[*offset..offset + profile.bins()]))
            .filter(|(_, counts)| enough(counts))
            .map(|(profile, counts)| {
                let mut drift = numeric_drift(
                    profile,
                    counts,
                    self.decision_for("confidence"),
                    &self.settings,
                );
                drift.name = "confidence".to_owned();
                drift
            });
        let confidence_mean = (totals.confidences >= min.max(1))
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
fn decide(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::measure::{proportions, reference_counts, renormalised};
    use crate::drift::reference::FitOptions;
    use crate::drift::stats;
    use std::time::Duration;

    /// Two numeric features: `a` uniform over 0..100, `b` uniform over 0..10.
    fn reference() -> Arc<Reference> {
        let rows: Vec<[f64; 2]> = (0..1_000)
            .map(|row| [f64::from(row % 100), f64::from(row % 10)])
            .collect();
        Arc::new(Reference::fit_numeric(&rows, &["a", "b"], FitOptions::default()).expect("fits"))
    }

    fn monitor(window: Window, min_observations: u64) -> DriftMonitor {
        DriftMonitor::new(
            reference(),
            DriftSettings {
                window,
                min_observations,
                ..DriftSettings::default()
            },
        )
    }

    /// The fixed-size path answers exactly where `bin_of_feature` says "this bin, in range",
    /// and leaves every other case (NaN, ±∞, out of range, too many edges) to it.
    #[test]
    fn the_hot_path_agrees_with_the_general_lookup() {
        let rows: Vec<[f64; 3]> = (0..1_000)
            .map(|row| {
                [
                    f64::from(row % 100),
                    f64::from(row % 10),
                    f64::from(row) / 7.0,
                ]
            })
            .collect();
        let mut monitors = vec![monitor(Window::default(), 1)];
        for bins in [1, 4, 13, 40] {
            let reference = Reference::fit_numeric(
                &rows,
                &["a", "b", "c"],
                FitOptions {
                    bins,
                    ..FitOptions::default()
                },
            )
            .expect("fits");
            monitors.push(DriftMonitor::new(
                Arc::new(reference),
                DriftSettings::default(),
            ));
        }
        let mut values = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            1e300,
            -1e300,
        ];
        values.extend((-200..1_600).map(|step| f64::from(step) / 10.0));
        for monitor in &monitors {
            for feature in 0..monitor.features.len() {
                let Lookup::Numeric(profile) = &monitor.features[feature].lookup else {
                    unreachable!("numeric reference")
                };
                values.extend(profile.edges.iter().copied());
                values.extend([profile.min, profile.max]);
                for &value in &values {
                    let general = monitor.bin_of_feature(feature, Some(value));
                    let in_range = general.is_some_and(|binned| !binned.out_of_range)
                        && value >= profile.min
                        && value <= profile.max;
                    let expected = (in_range && profile.edges.len() <= HOT_EDGES)
                        .then(|| general.map(|binned| binned.index))
                        .flatten();
                    assert_eq!(
                        monitor.hot_bin(feature, value),
                        expected,
                        "feature {feature}, {} edges, value {value}",
                        profile.edges.len()
                    );
                }
            }
        }
    }

    /// Counts one row at `now` as the recording path does, handing over finished slices.
    fn count_row(
        monitor: &DriftMonitor,
        counts: &mut SliceCounts,
        row: &[Option<f64>],
        now: quanta::Instant,
    ) {
        monitor.before_counting(counts, now);
        for (feature, value) in row.iter().enumerate() {
            if let Some(binned) = monitor.bin_of_feature(feature, *value) {
                counts.bump(binned.index);
            }
        }
        counts.rows += 1;
    }

    #[test]
    fn a_time_window_slides_through_the_monitor() {
        let monitor = monitor(
            Window::Time {
                length: Duration::from_secs(10),
                slices: 10,
            },
            1,
        );
        let mut counts = monitor.new_counts();
        // One row in each of the slices 0..=12 (the middle of each second).
        for second in 0..13u64 {
            let at = monitor.epoch + Duration::from_millis(second * 1_000 + 500);
            count_row(&monitor, &mut counts, &[Some(1.0), Some(1.0)], at);
        }
        let now = monitor.epoch + Duration::from_millis(12_600);
        lock(&monitor.ring).absorb(&counts, monitor.slice_at(now));
        // At 12.6 s the window spans slices 3..=12: ten rows.
        assert_eq!(monitor.report_at(now).rows, 10);
        let later = monitor.epoch + Duration::from_millis(20_100);
        assert_eq!(monitor.report_at(later).rows, 2, "slices 11 and 12 remain");
    }

    #[test]
    fn the_engine_composes_the_statistics_over_the_right_bins() {
        let monitor = monitor(Window::count(10_000), 1);
        let mut counts = monitor.new_counts();
        let now = quanta::Instant::now();
        // `a` shifted up by 30 with a few missing values; `b` as in the reference.
        let profile = reference().features[0]
            .as_numeric()
            .cloned()
            .expect("numeric");
        let mut expected_a = vec![0u64; profile.bins()];
        for row in 0..600u32 {
            let a = (row % 7 != 0).then(|| f64::from(row % 100) + 30.0);
            expected_a[a.map_or(profile.missing_bin(), |a| profile.bin(a))] += 1;
            count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
        }
        lock(&monitor.ring).absorb(&counts, 0);
        let report = monitor.report_at(now);
        let a = &report.features[0];
        assert_eq!(a.observations, 600);
        let (current, _) = proportions(&expected_a);
        assert_eq!(
            a.value(DriftMethod::Psi),
            Some(stats::psi(&profile.proportions, &current))
        );
        // KS and Wasserstein over the value bins only, both sides renormalised.
        let values = profile.value_bins();
        let present: u64 = expected_a[..values].iter().sum();
        let (value_current, _) = proportions(&expected_a[..values]);
        let value_reference = renormalised(&profile.proportions[..values]);
        let ks =
            stats::kolmogorov_smirnov(&value_reference, &value_current, profile.count, present);
        assert_eq!(a.value(DriftMethod::KolmogorovSmirnov), Some(ks.statistic));
        assert_eq!(
            a.value(DriftMethod::KolmogorovSmirnovPValue),
            Some(ks.p_value)
        );
        assert_eq!(
            a.value(DriftMethod::Wasserstein),
            Some(stats::wasserstein_interpolated_normed(
                &profile.edges,
                profile.tail_means(),
                &value_reference,
                &value_current,
                profile.std
            ))
        );
        // Chi-square: the two-sample test against the reference's own counts, all bins.
        let chi = stats::chi_square_two_sample(
            &reference_counts(&profile.proportions, profile.count + profile.missing),
            &expected_a,
        );
        assert_eq!(a.value(DriftMethod::ChiSquare), Some(chi.statistic));
        assert_eq!(a.value(DriftMethod::ChiSquarePValue), Some(chi.p_value));
        let missing = expected_a[profile.missing_bin()] as f64 / 600.0;
        assert_eq!(a.value(DriftMethod::MissingShare), Some(missing));
        assert_eq!(a.present, present);
        assert!(a.detected);
        assert!(!report.features[1].detected, "{:?}", report.features[1]);
    }

    #[test]
    fn a_feature_left_out_of_short_rows_is_not_reported() {
        let monitor = monitor(Window::count(10_000), 500);
        let mut counts = monitor.new_counts();
        let now = quanta::Instant::now();
        for row in 0..600u32 {
            count_row(&monitor, &mut counts, &[Some(f64::from(row % 100))], now);
        }
        lock(&monitor.ring).absorb(&counts, 0);
        let report = monitor.report_at(now);
        assert_eq!(report.features.len(), 1, "only `a` was observed");
        assert_eq!(report.features[0].name, "a");
        assert!(!report.features[0].detected);
        assert_eq!(report.drift_share, Some(0.0));
    }

    #[test]
    fn one_missing_value_does_not_make_chi_square_fire() {
        let monitor = monitor(Window::count(10_000), 1);
        let mut counts = monitor.new_counts();
        let now = quanta::Instant::now();
        for row in 0..500u32 {
            let a = (row != 0).then(|| f64::from(row % 100));
            count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
        }
        lock(&monitor.ring).absorb(&counts, 0);
        let report = monitor.report_at(now);
        let p = report.features[0]
            .value(DriftMethod::ChiSquarePValue)
            .unwrap_or(0.0);
        assert!(
            p > 0.05,
            "chi-square p-value {p} with one missing value in 500"
        );
    }

    /// Issue 20, item 2: a window whose values all fall in bins the reference never used
    /// (every value missing) is drift for chi-square, not "no evidence".
    #[test]
    fn chi_square_flags_a_window_of_values_the_reference_never_had() {
        let monitor = monitor(Window::count(10_000), 500);
        let mut counts = monitor.new_counts();
        let now = quanta::Instant::now();
        for row in 0..600u32 {
            count_row(
                &monitor,
                &mut counts,
                &[None, Some(f64::from(row % 10))],
                now,
            );
        }
        lock(&monitor.ring).absorb(&counts, 0);
        let report = monitor.report_at(now);
        let a = &report.features[0];
        let p = a
            .value(DriftMethod::ChiSquarePValue)
            .expect("chi-square applies");
        assert!(
            p < 1e-10,
            "chi-square p-value {p} for an all-missing window"
        );
        assert!(a.value(DriftMethod::ChiSquare).is_some_and(|x2| x2 > 100.0));
        assert_eq!(a.value(DriftMethod::MissingShare), Some(1.0));
        assert!(a.missing_detected && a.detected, "{a:?}");
        let profile = reference().features[0]
            .as_numeric()
            .cloned()
            .expect("numeric");
        let chi_decision = decide(
            "a".to_owned(),
            measure::numeric(&profile, &totals_of(&monitor)[..profile.bins()], 500),
            Decision::new(DriftMethod::ChiSquare),
            None,
            1_000,
            f64::INFINITY,
        );
        assert!(chi_decision.detected, "{chi_decision:?}");
    }

    fn totals_of(monitor: &DriftMonitor) -> Vec<u64> {
        lock(&monitor.ring).totals().bins
    }

    /// Issue 20, item 6: KS and Wasserstein need the minimum window count of non-missing
    /// values, not of rows; the missing share is reported on its own.
    #[test]
    fn ks_and_wasserstein_need_the_minimum_of_present_values() {
        let monitor = monitor(Window::count(10_000), 500);
        let mut counts = monitor.new_counts();
        let now = quanta::Instant::now();
        // 600 rows of `a`, 10 of them present: enough rows, too few values.
        for row in 0..600u32 {
            let a = (row % 60 == 0).then(|| f64::from(row % 100));
            count_row(&monitor, &mut counts, &[a, Some(f64::from(row % 10))], now);
        }
        lock(&monitor.ring).absorb(&counts, 0);
        let report = monitor.report_at(now);
        let a = &report.features[0];
        assert_eq!((a.observations, a.present), (600, 10));
        for method in [
            DriftMethod::KolmogorovSmirnov,
            DriftMethod::KolmogorovSmirnovPValue,
            DriftMethod::Wasserstein,
        ] {
            assert_eq!(a.value(method), None, "{} on 10 values", method.name());
        }
        let share = a.value(DriftMethod::MissingShare).expect("always reported");
        assert!((share - 590.0 / 600.0).abs() < 1e-12, "{share}");
        assert!(a.missing_detected);
        // `b`, complete, keeps every method.
        let b = &report.features[1];
        assert!(b.value(DriftMethod::KolmogorovSmirnov).is_some());
        assert_eq!(b.value(DriftMethod::MissingShare), Some(0.0));
        assert!(!b.missing_detected && !b.detected, "{b:?}");
    }

    #[test]
    fn degenerate_windows_neither_panic_nor_lose_rows() {
        let now = quanta::Instant::now();
        for window in [
            Window::count(0),
            Window::Time {
                length: Duration::MAX,
                slices: 1,
            },
            Window::Time {
                length: Duration::ZERO,
                slices: 0,
            },
        ] {
            let monitor = monitor(window, 1);
            let mut counts = monitor.new_counts();
            count_row(&monitor, &mut counts, &[Some(1.0), Some(2.0)], now);
            lock(&monitor.ring).absorb(&counts, monitor.slice_at(now));
            assert_eq!(monitor.report_at(now).rows, 1, "{window:?}");
        }
    }

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
