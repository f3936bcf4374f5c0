//! [`DriftMonitor`]: one model version's drift state: its [`Binning`], the window's
//! slices that the stripes' counts are handed to, and the cached report of the window.

use std::sync::{Arc, Mutex, MutexGuard};

use super::binning::Binning;
use super::decision::DriftSettings;
use super::fleet::{self, ExportedBin};
use super::reference::Reference;
use super::report::{self, DriftReport};
use super::window::{Ring, SliceCounts, WindowTotals};

/// How long a hand-over serves the drift gauges of a collection (they are read one after
/// the other within a millisecond or so).
const HAND_OVER_REUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// One model version's drift state.
#[derive(Debug)]
pub(crate) struct DriftMonitor {
    reference: Arc<Reference>,
    settings: DriftSettings,
    binning: Binning,
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
    /// The bins exported for fleet-wide drift, in the counters' order (empty when
    /// `DriftSettings::bin_counters` is off).
    exported_bins: Vec<ExportedBin>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DriftMonitor {
    pub(crate) fn new(reference: Arc<Reference>, settings: DriftSettings) -> Self {
        let binning = Binning::new(&reference);
        let epoch = quanta::Instant::now();
        if settings.window.slice_nanos().is_some() {
            super::coarse_clock::start();
        }
        Self {
            slice_nanos: settings.window.slice_nanos(),
            hand_over_rows: settings.window.stripe_hand_over_rows(),
            ring: Mutex::new(Ring::keeping_totals(
                settings.window,
                binning.bins(),
                settings.bin_counters,
            )),
            epoch,
            far_future: epoch
                .checked_add(std::time::Duration::from_secs(100 * 365 * 86_400))
                .unwrap_or(epoch),
            report: Mutex::new(None),
            handed_over_at: Mutex::new(None),
            exported_bins: if settings.bin_counters {
                fleet::exported_bins(&reference)
            } else {
                Vec::new()
            },
            reference,
            settings,
            binning,
        }
    }

    pub(crate) fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Where observations are counted.
    #[inline]
    pub(crate) fn binning(&self) -> &Binning {
        &self.binning
    }

    /// Counters a stripe needs.
    pub(crate) fn new_counts(&self) -> SliceCounts {
        SliceCounts::new(self.binning.bins())
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
        self.hand_over_for_collection(hand_over);
        self.report_of_window()
    }

    /// Hands the stripes over unless a gauge of this collection already did.
    fn hand_over_for_collection(&self, hand_over: impl FnOnce()) {
        let mut handed_over_at = lock(&self.handed_over_at);
        if handed_over_at.is_some_and(|at| at.elapsed() < HAND_OVER_REUSE) {
            return;
        }
        hand_over();
        *handed_over_at = Some(std::time::Instant::now());
    }

    /// The exported bins with every count absorbed so far (each bin's running total),
    /// after the stripes are handed over for this collection; nothing when the bin
    /// counters are off.
    pub(crate) fn bin_totals_for_collection(
        &self,
        hand_over: impl FnOnce(),
    ) -> Option<(&[ExportedBin], Vec<u64>)> {
        if self.exported_bins.is_empty() {
            return None;
        }
        self.hand_over_for_collection(hand_over);
        let totals = lock(&self.ring).cumulative();
        Some((&self.exported_bins, totals))
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

    fn compute(&self, totals: &WindowTotals) -> DriftReport {
        report::compute(&self.reference, &self.binning, &self.settings, totals)
    }
}

#[cfg(test)]
mod tests;
