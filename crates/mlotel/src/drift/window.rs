//! Sliding windows of binned counts.
//!
//! Each recording thread counts into the [`SliceCounts`] of its own stripe (under the
//! stripe's lock, which it already holds for the prediction metrics). A stripe hands its
//! counts to the model's [`Ring`] when its time slice ends (time windows), when it has
//! counted a share of a slice (count windows), and at every collection. The ring keeps the
//! slices of the window and sums them when the statistics are computed.

use std::collections::VecDeque;
use std::time::Duration;

/// Default window length of a time window: five minutes.
pub const DEFAULT_WINDOW_LENGTH: Duration = Duration::from_secs(300);
/// Default number of slices a window is made of.
pub const DEFAULT_WINDOW_SLICES: u32 = 10;
/// Default least number of observations in a window before anything is reported for it.
pub const DEFAULT_MIN_OBSERVATIONS: u64 = 500;

/// Which observations the drift statistics compare with the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Window {
    /// The observations of the last `length`, kept in `slices` slices: the window slides
    /// one slice at a time, so it spans between `length - length / slices` and `length`.
    Time {
        /// How far back the window reaches.
        length: Duration,
        /// How many slices it is made of (at least 1).
        slices: u32,
    },
    /// The last `observations` observations (rows), kept in `slices` slices: the window
    /// holds between `observations` and `observations + observations / slices` of them.
    Count {
        /// How many observations the window holds.
        observations: u64,
        /// How many slices it is made of (at least 1).
        slices: u32,
    },
}

impl Default for Window {
    fn default() -> Self {
        Self::Time {
            length: DEFAULT_WINDOW_LENGTH,
            slices: DEFAULT_WINDOW_SLICES,
        }
    }
}

impl Window {
    /// A time window of `length` in [`DEFAULT_WINDOW_SLICES`] slices.
    pub fn time(length: Duration) -> Self {
        Self::Time {
            length,
            slices: DEFAULT_WINDOW_SLICES,
        }
    }

    /// A window of the last `observations` observations in [`DEFAULT_WINDOW_SLICES`] slices.
    pub fn count(observations: u64) -> Self {
        Self::Count {
            observations,
            slices: DEFAULT_WINDOW_SLICES,
        }
    }

    /// Nanoseconds per slice of a time window (at least 1 ms), `None` for a count window.
    pub(crate) fn slice_nanos(self) -> Option<u64> {
        match self {
            Self::Time { length, slices } => {
                let nanos = length.as_nanos() / u128::from(slices.max(1));
                Some(u64::try_from(nanos).unwrap_or(u64::MAX).max(1_000_000))
            }
            Self::Count { .. } => None,
        }
    }

    /// Observations per slice of a count window.
    fn slice_rows(self) -> u64 {
        match self {
            Self::Count {
                observations,
                slices,
            } => (observations.max(1) / u64::from(slices.max(1))).max(1),
            Self::Time { .. } => u64::MAX,
        }
    }

    /// After how many rows a stripe of a count window hands its counts over: a share of a
    /// slice, so the slices stay close to their size whichever threads count.
    pub(crate) fn stripe_hand_over_rows(self) -> u64 {
        match self {
            Self::Count { .. } => (self.slice_rows() / 4).max(1),
            Self::Time { .. } => u64::MAX,
        }
    }

    fn slices(self) -> u64 {
        match self {
            Self::Time { slices, .. } | Self::Count { slices, .. } => u64::from(slices.max(1)),
        }
    }
}

/// What one stripe counted since it last handed over: one flat counter per bin of every
/// tracked distribution, the rows (feature observations) and predictions it saw, and the
/// confidences' sum.
#[derive(Debug, Clone)]
pub(crate) struct SliceCounts {
    /// Time-slice id of the counts (time windows); 0 for count windows.
    pub(crate) slice: u64,
    /// When the counts' slice ends; `None` until the first observation.
    pub(crate) slice_end: Option<quanta::Instant>,
    pub(crate) rows: u64,
    pub(crate) predictions: u64,
    pub(crate) confidence_sum: f64,
    pub(crate) confidences: u64,
    pub(crate) bins: Box<[u32]>,
    /// A bin was bumped since the last clear (a row's first chunk may be counted before
    /// the row itself).
    touched: bool,
}

impl SliceCounts {
    pub(crate) fn new(bins: usize) -> Self {
        Self {
            slice: 0,
            slice_end: None,
            rows: 0,
            predictions: 0,
            confidence_sum: 0.0,
            confidences: 0,
            bins: vec![0; bins].into_boxed_slice(),
            touched: false,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0 && self.predictions == 0 && !self.touched
    }

    pub(crate) fn clear(&mut self) {
        self.rows = 0;
        self.predictions = 0;
        self.confidence_sum = 0.0;
        self.confidences = 0;
        self.bins.fill(0);
        self.touched = false;
    }

    /// Bumps bin `index` (an index past the end is ignored: never a panic on the hot path).
    #[inline]
    pub(crate) fn bump(&mut self, index: usize) {
        self.bump_by(index, 1);
    }

    /// Adds `count` to bin `index`.
    #[inline]
    pub(crate) fn bump_by(&mut self, index: usize, count: u32) {
        if let Some(total) = self.bins.get_mut(index) {
            *total = total.saturating_add(count);
            self.touched = true;
        }
    }
}

/// One slice of a window.
#[derive(Debug, Clone)]
struct Slice {
    id: u64,
    rows: u64,
    predictions: u64,
    confidence_sum: f64,
    confidences: u64,
    bins: Box<[u64]>,
}

impl Slice {
    fn empty(id: u64, bins: usize) -> Self {
        Self {
            id,
            rows: 0,
            predictions: 0,
            confidence_sum: 0.0,
            confidences: 0,
            bins: vec![0; bins].into_boxed_slice(),
        }
    }

    fn add(&mut self, counts: &SliceCounts) {
        self.rows += counts.rows;
        self.predictions += counts.predictions;
        self.confidence_sum += counts.confidence_sum;
        self.confidences += counts.confidences;
        for (total, &count) in self.bins.iter_mut().zip(counts.bins.iter()) {
            *total += u64::from(count);
        }
    }
}

/// The sums of a window's slices.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WindowTotals {
    pub(crate) rows: u64,
    pub(crate) predictions: u64,
    pub(crate) confidence_sum: f64,
    pub(crate) confidences: u64,
    pub(crate) bins: Vec<u64>,
}

/// The slices of one model's window, oldest first.
#[derive(Debug)]
pub(crate) struct Ring {
    window: Window,
    bins: usize,
    slices: VecDeque<Slice>,
    /// Changes whenever the window's contents do, so a report can be reused until then.
    version: u64,
    /// Per bin, every count that is no longer in a slice: the slices that left the window
    /// and counts that arrived too old for it. With the slices' own counts it gives the
    /// running totals ([`Ring::cumulative`]), the monotonic bin counters a metrics backend
    /// sums over replicas; kept as slices leave rather than as counts arrive, so a stripe's
    /// hand-over costs nothing more and a slice is added once.
    departed: Box<[u64]>,
}

impl Ring {
    #[cfg(test)]
    pub(crate) fn new(window: Window, bins: usize) -> Self {
        Self::keeping_totals(window, bins, true)
    }

    /// A ring that keeps the running totals of its bins only when `keep_totals` (the bin
    /// counters are exported); without them [`Ring::cumulative`] counts the window alone.
    pub(crate) fn keeping_totals(window: Window, bins: usize, keep_totals: bool) -> Self {
        Self {
            window,
            bins,
            slices: VecDeque::new(),
            version: 0,
            departed: vec![0; if keep_totals { bins } else { 0 }].into_boxed_slice(),
        }
    }

    /// Every count absorbed so far, per bin: those that left plus those in the window.
    pub(crate) fn cumulative(&self) -> Vec<u64> {
        let mut totals = vec![0; self.bins];
        Self::depart(&mut totals, self.departed.iter().copied());
        for slice in &self.slices {
            for (total, &count) in totals.iter_mut().zip(slice.bins.iter()) {
                *total = total.saturating_add(count);
            }
        }
        totals
    }

    fn depart(departed: &mut [u64], bins: impl Iterator<Item = u64>) {
        for (total, count) in departed.iter_mut().zip(bins) {
            *total = total.saturating_add(count);
        }
    }

    /// Changes whenever the window's contents do.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// Adds a stripe's counts: to the slice of their time (time windows; counts older than
    /// the window are dropped), or to the newest slice until it is full (count windows).
    pub(crate) fn absorb(&mut self, counts: &SliceCounts, now_slice: u64) {
        if counts.is_empty() {
            return;
        }
        self.version += 1;
        match self.window {
            Window::Time { .. } => {
                let oldest_kept = now_slice.saturating_sub(self.window.slices() - 1);
                if counts.slice < oldest_kept {
                    Self::depart(
                        &mut self.departed,
                        counts.bins.iter().map(|&c| u64::from(c)),
                    );
                    return;
                }
                // Stripes hand over in about time order: look from the newest slice back.
                let position = self
                    .slices
                    .iter()
                    .rposition(|slice| slice.id <= counts.slice);
                match position {
                    Some(index) if self.slices[index].id == counts.slice => {
                        self.slices[index].add(counts);
                    }
                    Some(index) => {
                        let mut slice = Slice::empty(counts.slice, self.bins);
                        slice.add(counts);
                        self.slices.insert(index + 1, slice);
                    }
                    None => {
                        let mut slice = Slice::empty(counts.slice, self.bins);
                        slice.add(counts);
                        self.slices.push_front(slice);
                    }
                }
            }
            Window::Count { .. } => {
                let slice_rows = self.window.slice_rows();
                let full = self
                    .slices
                    .back()
                    .is_none_or(|slice| slice.rows.max(slice.predictions) >= slice_rows);
                if full {
                    let id = self.slices.back().map_or(0, |slice| slice.id + 1);
                    self.slices.push_back(Slice::empty(id, self.bins));
                }
                if let Some(slice) = self.slices.back_mut() {
                    slice.add(counts);
                }
            }
        }
        self.evict(now_slice);
    }

    /// Drops the slices that left the window.
    pub(crate) fn evict(&mut self, now_slice: u64) {
        match self.window {
            Window::Time { .. } => {
                let oldest_kept = now_slice.saturating_sub(self.window.slices() - 1);
                while self
                    .slices
                    .front()
                    .is_some_and(|slice| slice.id < oldest_kept)
                {
                    if let Some(slice) = self.slices.pop_front() {
                        Self::depart(&mut self.departed, slice.bins.iter().copied());
                    }
                    self.version += 1;
                }
            }
            Window::Count { observations, .. } => {
                let observations = observations.max(1);
                // Keep the oldest slice while the others alone hold fewer than the window.
                loop {
                    let total =
                        |field: fn(&Slice) -> u64| -> u64 { self.slices.iter().map(field).sum() };
                    let Some(front) = self.slices.front() else {
                        break;
                    };
                    let rows_without = total(|slice| slice.rows) - front.rows;
                    let predictions_without = total(|slice| slice.predictions) - front.predictions;
                    if rows_without.max(predictions_without) >= observations {
                        if let Some(slice) = self.slices.pop_front() {
                            Self::depart(&mut self.departed, slice.bins.iter().copied());
                        }
                        self.version += 1;
                    } else {
                        break;
                    }
                }
            }
        }
    }

    /// The sums of the slices in the window.
    pub(crate) fn totals(&self) -> WindowTotals {
        let mut totals = WindowTotals {
            rows: 0,
            predictions: 0,
            confidence_sum: 0.0,
            confidences: 0,
            bins: vec![0; self.bins],
        };
        for slice in &self.slices {
            totals.rows += slice.rows;
            totals.predictions += slice.predictions;
            totals.confidence_sum += slice.confidence_sum;
            totals.confidences += slice.confidences;
            for (total, &count) in totals.bins.iter_mut().zip(slice.bins.iter()) {
                *total += count;
            }
        }
        totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(slice: u64, rows: u64, bins: &[u32]) -> SliceCounts {
        SliceCounts {
            slice,
            slice_end: None,
            rows,
            predictions: 0,
            confidence_sum: 0.0,
            confidences: 0,
            bins: bins.to_vec().into_boxed_slice(),
            touched: true,
        }
    }

    #[test]
    fn a_time_window_sums_the_slices_it_spans_and_forgets_older_ones() {
        let window = Window::Time {
            length: Duration::from_secs(10),
            slices: 5,
        };
        assert_eq!(window.slice_nanos(), Some(2_000_000_000));
        let mut ring = Ring::new(window, 2);
        ring.absorb(&counts(0, 1, &[1, 0]), 0);
        ring.absorb(&counts(2, 2, &[0, 2]), 2);
        // A late stripe handing over an older slice still inside the window.
        ring.absorb(&counts(1, 3, &[3, 0]), 2);
        ring.absorb(&counts(2, 1, &[1, 0]), 2);
        let totals = ring.totals();
        assert_eq!((totals.rows, totals.bins), (7, vec![5, 2]));

        // At slice 5 the window spans slices 1..=5: slice 0 is gone.
        ring.evict(5);
        assert_eq!(ring.totals().bins, vec![4, 2]);
        // Counts of a slice already out of the window are dropped.
        ring.absorb(&counts(0, 9, &[9, 9]), 5);
        assert_eq!(ring.totals().rows, 6);
        ring.evict(100);
        assert_eq!(ring.totals().rows, 0);
    }

    #[test]
    fn a_count_window_keeps_at_least_the_last_n_observations_and_not_much_more() {
        let window = Window::Count {
            observations: 100,
            slices: 4,
        };
        assert_eq!(window.stripe_hand_over_rows(), 6);
        let mut ring = Ring::new(window, 1);
        for _ in 0..100 {
            ring.absorb(&counts(0, 5, &[5]), 0);
        }
        let totals = ring.totals();
        assert!(
            (100..=125).contains(&totals.rows),
            "window holds {} rows",
            totals.rows
        );
        assert_eq!(totals.bins, vec![totals.rows]);
    }

    #[test]
    fn empty_counts_and_bins_past_the_end_change_nothing() {
        let mut ring = Ring::new(Window::default(), 2);
        ring.absorb(&SliceCounts::new(2), 0);
        assert_eq!(ring.totals().rows, 0);
        let mut counts = SliceCounts::new(2);
        counts.bump(7);
        counts.bump(1);
        assert_eq!(&*counts.bins, &[0, 1]);
    }

    #[test]
    fn cumulative_counts_keep_what_left_the_window_and_what_came_too_late() {
        let window = Window::Time {
            length: Duration::from_secs(10),
            slices: 10,
        };
        let mut ring = Ring::new(window, 3);
        let mut counts = SliceCounts::new(3);
        counts.rows = 2;
        counts.bump(0);
        counts.bump(2);
        ring.absorb(&counts, 0);
        // A slice far later evicts the first; a stripe whose slice is already past the
        // window still adds to the running totals.
        counts.slice = 50;
        ring.absorb(&counts, 50);
        counts.slice = 1;
        ring.absorb(&counts, 50);
        assert_eq!(ring.totals().bins, vec![1, 0, 1]);
        assert_eq!(ring.cumulative(), vec![3, 0, 3]);

        // A count window drops its oldest slices as rows arrive; the running totals keep them.
        let mut ring = Ring::new(
            Window::Count {
                observations: 4,
                slices: 2,
            },
            2,
        );
        let mut counts = SliceCounts::new(2);
        counts.rows = 1;
        counts.bump(1);
        for _ in 0..25 {
            ring.absorb(&counts, 0);
        }
        assert!(ring.totals().bins[1] < 10, "the window holds a few rows");
        assert_eq!(ring.cumulative(), vec![0, 25]);
    }
}
