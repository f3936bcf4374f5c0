//! A row's observation, end to end: its values binned outside the stripe's lock into
//! [`PendingBins`], then counted under it into the stripe's slice counts (and the model's
//! missing and out-of-range counters) in one go. Predictions' label and confidence bins
//! likewise ([`DriftMonitor::count_prediction`]).

use super::monitor::DriftMonitor;
use super::reference::FeatureValue;
use super::window::SliceCounts;
use crate::features::FeatureRow;

/// What one row adds, found outside the stripe's lock and counted under it in one go: drift
/// bins, and the feature slots (`ml.feature.name`) of missing and out-of-range values.
///
/// Small on purpose: it is initialised for every row, so a row of many features (or with
/// many missing or out-of-range values) is counted in a few chunks instead.
pub(crate) struct PendingBins {
    bins: [u32; PENDING_BINS],
    len: usize,
    missing: [u32; PENDING_FLAGS],
    missing_len: usize,
    out_of_range: [u32; PENDING_FLAGS],
    out_of_range_len: usize,
}

const PENDING_BINS: usize = 16;
const PENDING_FLAGS: usize = 4;

impl Default for PendingBins {
    fn default() -> Self {
        Self {
            bins: [0; PENDING_BINS],
            len: 0,
            missing: [0; PENDING_FLAGS],
            missing_len: 0,
            out_of_range: [0; PENDING_FLAGS],
            out_of_range_len: 0,
        }
    }
}

impl PendingBins {
    /// Adds one feature's contributions; true when a buffer is full and must be counted now.
    #[inline]
    fn push(
        &mut self,
        bin: Option<usize>,
        missing_slot: Option<usize>,
        out_of_range_slot: Option<usize>,
    ) -> bool {
        fn add(buffer: &mut [u32], len: &mut usize, value: Option<usize>) {
            if let (Some(value), Some(slot)) = (value, buffer.get_mut(*len)) {
                *slot = u32::try_from(value).unwrap_or(u32::MAX);
                *len += 1;
            }
        }
        if let Some(bin) = bin {
            self.push_bin(bin);
        }
        add(&mut self.missing, &mut self.missing_len, missing_slot);
        add(
            &mut self.out_of_range,
            &mut self.out_of_range_len,
            out_of_range_slot,
        );
        self.len == PENDING_BINS
            || self.missing_len == PENDING_FLAGS
            || self.out_of_range_len == PENDING_FLAGS
    }

    /// Adds a bin alone (a value neither missing nor out of range); true when the buffer
    /// is full and must be counted now.
    #[inline]
    fn push_bin(&mut self, bin: usize) -> bool {
        if let Some(slot) = self.bins.get_mut(self.len) {
            *slot = u32::try_from(bin).unwrap_or(u32::MAX);
            self.len += 1;
        }
        self.len == PENDING_BINS
    }

    fn clear(&mut self) {
        self.len = 0;
        self.missing_len = 0;
        self.out_of_range_len = 0;
    }
}

impl PendingBins {
    /// Counts what is pending into a stripe (and the row, at its end): the drift bins into
    /// `counts`, the missing and out-of-range feature slots into `flags` (in that order).
    /// Called under the stripe's lock; empties `self`.
    #[inline]
    pub(crate) fn count_into(
        &mut self,
        drift: &DriftMonitor,
        counts: Option<&mut SliceCounts>,
        now: quanta::Instant,
        row_ends: bool,
        flags: [&mut [u64]; 2],
    ) {
        if let Some(counts) = counts {
            drift.before_counting(counts, now);
            for &bin in &self.bins[..self.len] {
                counts.bump(bin as usize);
            }
            if row_ends {
                counts.rows += 1;
            }
        }
        let [missing, out_of_range] = flags;
        for (slots, counters) in [
            (&self.missing[..self.missing_len], missing),
            (&self.out_of_range[..self.out_of_range_len], out_of_range),
        ] {
            for &slot in slots {
                if let Some(count) = counters.get_mut(slot as usize) {
                    *count += 1;
                }
            }
        }
        self.clear();
    }
}

/// Where one prediction goes in the drift counts, found before the stripe's lock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PredictionBins {
    /// When the prediction was made.
    pub(crate) at: quanta::Instant,
    pub(crate) label: Option<usize>,
    pub(crate) confidence: Option<usize>,
}

/// Whether a value given as text or number is missing.
pub(crate) fn is_missing(value: &FeatureValue<'_>) -> bool {
    match value {
        FeatureValue::Missing => true,
        FeatureValue::Number(number) => number.is_nan(),
        FeatureValue::Category(_) => false,
    }
}

impl DriftMonitor {
    /// The time a count is made at: `now()` for time windows, nothing read for count
    /// windows, which do not look at it.
    #[inline]
    pub(crate) fn time_of_count(&self, now: impl FnOnce() -> quanta::Instant) -> quanta::Instant {
        if self.needs_time() {
            now()
        } else {
            self.epoch()
        }
    }

    /// Bins one row: each value's bin, and the feature slots (`feature_slot(index)`) of its
    /// missing and out-of-range values, handed to `count` in chunks (`true` with the last).
    #[inline]
    pub(crate) fn observe_row<R: FeatureRow + ?Sized>(
        &self,
        row: &R,
        feature_slot: impl Fn(usize) -> usize,
        mut count: impl FnMut(&mut PendingBins, bool),
    ) {
        let binning = self.binning();
        let mut pending = PendingBins::default();
        row.for_each_feature(|feature, value| {
            if let Some(index) = value.and_then(|value| binning.hot_bin(feature, value)) {
                if pending.push_bin(index) {
                    count(&mut pending, false);
                }
                return;
            }
            let binned = binning.bin_of_feature(feature, value);
            if pending.push(
                binned.map(|binned| binned.index),
                value.is_none().then(|| feature_slot(feature)),
                binned
                    .filter(|binned| binned.out_of_range)
                    .map(|_| feature_slot(feature)),
            ) {
                count(&mut pending, false);
            }
        });
        count(&mut pending, true);
    }

    /// Like [`observe_row`](Self::observe_row) for values that may be categories.
    pub(crate) fn observe_values(
        &self,
        values: &[FeatureValue<'_>],
        feature_slot: impl Fn(usize) -> usize,
        mut count: impl FnMut(&mut PendingBins, bool),
    ) {
        let binning = self.binning();
        let mut pending = PendingBins::default();
        for (feature, value) in values.iter().enumerate() {
            let binned = binning.bin_of_value(feature, value);
            if pending.push(
                binned.map(|binned| binned.index),
                is_missing(value).then(|| feature_slot(feature)),
                binned
                    .filter(|binned| binned.out_of_range)
                    .map(|_| feature_slot(feature)),
            ) {
                count(&mut pending, false);
            }
        }
        count(&mut pending, true);
    }

    /// Counts `rows` predictions into a stripe's counts; `confidence` is already valid.
    #[inline]
    pub(crate) fn count_prediction(
        &self,
        counts: &mut SliceCounts,
        bins: PredictionBins,
        rows: u64,
        confidence: Option<f64>,
    ) {
        self.before_counting(counts, bins.at);
        counts.predictions += rows;
        let rows_u32 = u32::try_from(rows).unwrap_or(u32::MAX);
        for bin in [bins.label, bins.confidence].into_iter().flatten() {
            counts.bump_by(bin, rows_u32);
        }
        if let Some(confidence) = confidence {
            counts.confidence_sum += confidence * rows as f64;
            counts.confidences += rows;
        }
    }
}
