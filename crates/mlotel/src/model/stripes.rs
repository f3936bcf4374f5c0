//! Per-thread stripes that take a model's measurements on the hot path. Each thread writes
//! to its own stripe (a mutex nobody else touches until collection). Histogram values are
//! aggregated per bucket on the spot (count, sum, min, max) and handed to the SDK's
//! instruments at every collection (OTLP export or Prometheus scrape), by the collecting
//! thread. The SDK's own instruments share one lock per series between all threads and cost
//! ~22 ns per value under it, which kept two threads from recording much more than one.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::drift::monitor::DriftMonitor;
use crate::drift::window::SliceCounts;
use crate::names;

/// Number of stripes per model; threads beyond it share stripes round-robin.
const STRIPES: usize = 16;
/// Failed calls a stripe holds at most; it hands them over from half full on, when no other
/// stripe of the model is doing so, and waits its turn only when full.
const BUFFERED_FAILURES: usize = 32;

/// One failed call, waiting to be handed to the SDK.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    pub(crate) seconds: f64,
    pub(crate) rows: u64,
    pub(crate) outcome: &'static str,
    pub(crate) error_type: &'static str,
}

#[derive(Debug)]
pub(crate) struct Stripe {
    pub(crate) ok_durations: BucketedValues,
    pub(crate) confidences: BucketedValues,
    /// Successful predictions per label slot (see `labels`).
    pub(crate) ok_counts: Box<[u64]>,
    pub(crate) failures: Vec<Failure>,
    /// Per feature index.
    pub(crate) missing: Box<[u64]>,
    pub(crate) out_of_range: Box<[u64]>,
    /// Drift counts of the current window slice, for a model with a drift reference.
    pub(crate) drift: Option<SliceCounts>,
    /// Running totals since the model was created: carried into the empty stripe that
    /// replaces this one at a hand-over, so a snapshot never misses what is in transit.
    pub(crate) lifetime: Lifetime,
}

/// Predictions (rows, every outcome) and the confidences of the successful ones.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Lifetime {
    pub(crate) predictions: u64,
    pub(crate) confidences: u64,
    pub(crate) confidence_sum: f64,
}

impl Lifetime {
    pub(crate) fn add(&mut self, rows: u64, confidence: Option<f64>) {
        self.predictions += rows;
        if let Some(confidence) = confidence {
            self.confidences += rows;
            self.confidence_sum += confidence * rows as f64;
        }
    }

    pub(crate) fn plus(self, other: Self) -> Self {
        Self {
            predictions: self.predictions + other.predictions,
            confidences: self.confidences + other.confidences,
            confidence_sum: self.confidence_sum + other.confidence_sum,
        }
    }
}

impl Stripe {
    pub(crate) fn new(label_slots: usize, features: usize, drift: Option<SliceCounts>) -> Self {
        Self {
            ok_durations: BucketedValues::new(names::PREDICTION_DURATION_BUCKETS),
            confidences: BucketedValues::new(names::CONFIDENCE_BUCKETS),
            ok_counts: vec![0; label_slots].into_boxed_slice(),
            failures: Vec::with_capacity(BUFFERED_FAILURES),
            missing: vec![0; features].into_boxed_slice(),
            out_of_range: vec![0; features].into_boxed_slice(),
            drift,
            lifetime: Lifetime::default(),
        }
    }

    /// An empty stripe of the same shape, with the same running totals.
    pub(crate) fn empty_like(&self) -> Self {
        let mut empty = Self::new(
            self.ok_counts.len(),
            self.missing.len(),
            self.drift
                .as_ref()
                .map(|counts| SliceCounts::new(counts.bins.len())),
        );
        empty.lifetime = self.lifetime;
        empty
    }

    /// Whether nothing was recorded since the stripe was last handed over.
    pub(crate) fn is_empty(&self) -> bool {
        self.ok_durations.is_empty()
            && self.confidences.is_empty()
            && self.failures.is_empty()
            && self.drift.as_ref().is_none_or(SliceCounts::is_empty)
            && [&self.ok_counts, &self.missing, &self.out_of_range]
                .iter()
                .all(|counts| counts.iter().all(|&count| count == 0))
    }

    /// Whether the next failure could outgrow its buffer (which would allocate).
    pub(crate) fn is_full(&self) -> bool {
        self.failures.len() >= BUFFERED_FAILURES
    }

    /// Whether it is time to hand the failures over, if no other stripe is doing so.
    pub(crate) fn is_half_full(&self) -> bool {
        self.failures.len() >= BUFFERED_FAILURES / 2
    }
}

/// Values of one histogram, aggregated per bucket of the SDK histogram they will go to.
///
/// The SDK takes values one at a time, so handing over replays them: per bucket the
/// smallest, the largest, and the rest at the mean of the rest, which lies between them and
/// so in the same bucket. The exported point (count, sum, min, max, bucket counts) is the
/// one the original values would have given, up to float rounding of the sum; only the
/// collecting thread pays the SDK's cost per value.
#[derive(Debug)]
pub(crate) struct BucketedValues {
    bounds: &'static [f64],
    buckets: Box<[Bucket]>,
    /// The bucket of the previous value: a call's duration or confidence is usually in the
    /// same bucket as the last one, and checking it is two predictable comparisons where
    /// the binary search is a chain of dependent loads.
    last: usize,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

const EMPTY: Bucket = Bucket {
    count: 0,
    sum: 0.0,
    min: f64::INFINITY,
    max: f64::NEG_INFINITY,
};

impl BucketedValues {
    pub(crate) fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: vec![EMPTY; bounds.len() + 1].into_boxed_slice(),
            last: 0,
        }
    }

    /// The SDK's rule: bucket `i` holds values above `bounds[i - 1]` up to and including
    /// `bounds[i]`.
    fn bucket_of(&mut self, value: f64) -> usize {
        let last = self.last;
        let above_lower = last == 0 || self.bounds.get(last - 1).is_some_and(|&b| b < value);
        let within_upper = self.bounds.get(last).is_none_or(|&bound| value <= bound);
        if above_lower && within_upper {
            return last;
        }
        self.last = self.bounds.partition_point(|&bound| bound < value);
        self.last
    }

    /// Adds a finite value; others are ignored, as the SDK ignores them.
    pub(crate) fn record(&mut self, value: f64) {
        if !value.is_finite() {
            return;
        }
        let index = self.bucket_of(value);
        if let Some(bucket) = self.buckets.get_mut(index) {
            bucket.count += 1;
            bucket.sum += value;
            bucket.min = bucket.min.min(value);
            bucket.max = bucket.max.max(value);
        }
    }

    /// Replays the values into `record` (see the type's docs) and empties the buckets.
    pub(crate) fn drain_into(&mut self, mut record: impl FnMut(f64)) {
        for bucket in self.buckets.iter_mut().filter(|bucket| bucket.count > 0) {
            let Bucket {
                count,
                sum,
                min,
                max,
            } = std::mem::replace(bucket, EMPTY);
            record(min);
            if count >= 2 {
                record(max);
            }
            if count >= 3 {
                let rest = count - 2;
                let mean_of_rest = ((sum - min - max) / rest as f64).clamp(min, max);
                for _ in 0..rest {
                    record(mean_of_rest);
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.buckets.iter().all(|bucket| bucket.count == 0)
    }

    #[cfg(test)]
    fn count(&self) -> u64 {
        self.buckets.iter().map(|bucket| bucket.count).sum()
    }
}

/// Aligned to two cache lines so neighbouring stripes never share one (adjacent-line
/// prefetch pulls pairs of lines on x86).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// A model version's stripes, the turn for handing failures over, and its active calls.
#[derive(Debug)]
pub(crate) struct StripeSet {
    stripes: Box<[Padded<Mutex<Stripe>>]>,
    /// Held by the one stripe being handed to the SDK.
    handing_over: Mutex<()>,
    active: Box<[Padded<AtomicI64>]>,
}

impl StripeSet {
    pub(crate) fn new(label_slots: usize, features: usize, drift: Option<&DriftMonitor>) -> Self {
        Self {
            stripes: (0..STRIPES)
                .map(|_| {
                    let counts = drift.map(DriftMonitor::new_counts);
                    Padded(Mutex::new(Stripe::new(label_slots, features, counts)))
                })
                .collect(),
            handing_over: Mutex::new(()),
            active: (0..STRIPES).map(|_| Padded(AtomicI64::new(0))).collect(),
        }
    }

    /// Runs `record` on stripe `stripe`. Only failures are buffered as they come; their
    /// buffer is handed over (`hand_over_failures`) when half full and no other stripe is
    /// being handed over (the SDK takes a lock per value), or when full.
    #[inline]
    pub(crate) fn with_stripe<R>(
        &self,
        stripe: usize,
        hand_over_failures: impl FnOnce(&mut Stripe),
        record: impl FnOnce(&mut Stripe) -> R,
    ) -> R {
        let mut guard = lock(&self.stripes[stripe % STRIPES].0);
        if guard.is_full() {
            let _turn = lock(&self.handing_over);
            hand_over_failures(&mut guard);
        } else if guard.is_half_full() {
            let turn = match self.handing_over.try_lock() {
                Ok(turn) => Some(turn),
                Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            };
            if turn.is_some() {
                hand_over_failures(&mut guard);
            }
        }
        record(&mut guard)
    }

    /// Hands everything recorded over. Each stripe is swapped for an empty one under its
    /// lock and given to `take_failures` (under the hand-over turn, which recording threads
    /// may hold for their failures) and then `take_rest` (with no lock held), so a
    /// recording thread never waits for a replay (which costs the SDK's ~22 ns per histogram
    /// value recorded since the last collection).
    pub(crate) fn take_each(
        &self,
        mut take_failures: impl FnMut(&mut Stripe),
        mut take_rest: impl FnMut(&mut Stripe),
    ) {
        for stripe in &self.stripes {
            let mut taken = {
                let mut stripe = lock(&stripe.0);
                if stripe.is_empty() {
                    continue;
                }
                let empty = stripe.empty_like();
                std::mem::replace(&mut *stripe, empty)
            };
            {
                let _turn = lock(&self.handing_over);
                take_failures(&mut taken);
            }
            take_rest(&mut taken);
        }
    }

    /// The running totals every stripe keeps (they survive hand-overs), read one stripe
    /// at a time under its lock.
    pub(crate) fn lifetime(&self) -> Lifetime {
        self.stripes
            .iter()
            .map(|stripe| lock(&stripe.0).lifetime)
            .fold(Lifetime::default(), Lifetime::plus)
    }

    /// The sum of `count` over the stripes, as they stand (for tests).
    #[cfg(test)]
    pub(crate) fn sum(&self, count: impl Fn(&Stripe) -> u64) -> u64 {
        self.stripes
            .iter()
            .map(|stripe| count(&lock(&stripe.0)))
            .sum()
    }

    /// Calls in progress (`ml.predictions.active`).
    pub(crate) fn active(&self) -> i64 {
        self.active
            .iter()
            .map(|count| count.0.load(Ordering::Relaxed))
            .sum()
    }

    #[inline]
    pub(crate) fn add_active(&self, stripe: usize, delta: i64) {
        self.active[stripe % STRIPES]
            .0
            .fetch_add(delta, Ordering::Relaxed);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THIS_THREAD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The stripe of the calling thread: assigned round-robin on the thread's first call.
pub(crate) fn current() -> usize {
    THIS_THREAD
        .try_with(|index| {
            if index.get() == usize::MAX {
                index.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            index.get()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the SDK keeps of a histogram: count, sum, min, max and bucket counts.
    fn summary(bounds: &[f64], values: &[f64]) -> (u64, f64, f64, f64, Vec<u64>) {
        let mut buckets = vec![0; bounds.len() + 1];
        for &value in values {
            buckets[bounds.partition_point(|&bound| bound < value)] += 1;
        }
        (
            values.len() as u64,
            values.iter().sum(),
            values.iter().copied().fold(f64::INFINITY, f64::min),
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            buckets,
        )
    }

    #[test]
    fn the_remembered_bucket_is_used_only_when_the_value_is_in_it() {
        let bounds = names::CONFIDENCE_BUCKETS;
        let mut bucketed = BucketedValues::new(bounds);
        let values = [
            0.95, 0.95, 0.1, 0.1000001, 0.99, 1.0, 0.0, -1.0, 0.2, 0.95, 7.0, 0.9,
        ];
        for value in values {
            let expected = bounds.partition_point(|&bound| bound < value);
            assert_eq!(bucketed.bucket_of(value), expected, "bucket of {value}");
        }
    }

    #[test]
    fn replayed_values_summarise_like_the_originals() {
        let bounds = names::PREDICTION_DURATION_BUCKETS;
        let values: Vec<f64> = (0..1000)
            .map(|step| 0.0001 * f64::from(step % 97) * f64::from(step % 13 + 1))
            .chain([bounds[0], bounds[3], 1e6])
            .collect();
        let mut bucketed = BucketedValues::new(bounds);
        for &value in &values {
            bucketed.record(value);
        }
        bucketed.record(f64::NAN);
        assert_eq!(bucketed.count(), values.len() as u64);
        let mut replayed = Vec::new();
        bucketed.drain_into(|value| replayed.push(value));
        let (count, sum, min, max, buckets) = summary(bounds, &values);
        let (replayed_count, replayed_sum, replayed_min, replayed_max, replayed_buckets) =
            summary(bounds, &replayed);
        assert_eq!(replayed_count, count);
        assert!(
            (replayed_sum - sum).abs() <= 1e-9 * sum.abs(),
            "{replayed_sum} vs {sum}"
        );
        assert_eq!((replayed_min, replayed_max), (min, max));
        assert_eq!(replayed_buckets, buckets, "every value stays in its bucket");
        assert_eq!(bucketed.count(), 0, "draining empties the buckets");
    }
}
