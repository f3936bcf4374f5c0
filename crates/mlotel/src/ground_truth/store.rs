//! [`PredictionStore`]: the recent predictions of one model version, kept so that an
//! outcome arriving later can be joined to its prediction by id alone.
//!
//! A ring of fixed capacity, allocated once: a prediction's sequence number picks its slot,
//! so storing one is a counter bump and four atomic stores, and memory never grows. A slot
//! is overwritten when the ring comes round again (the prediction is *evicted* if no
//! outcome came for it); an outcome older than the store's maximum age is refused as
//! *expired*. Each slot is a small seqlock: the writer marks it busy before writing and
//! publishes the id last, and a reader checks that the id did not change while it read.

use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::Duration;

use super::OutcomeError;
use super::id::PredictionId;

/// The least capacity a store is given: below it a burst of concurrent predictions could
/// come round the ring while one of them is still being written.
pub(crate) const MIN_CAPACITY: usize = 1024;
/// The most: 2^26 slots of 32 bytes are 2 GiB.
pub(crate) const MAX_CAPACITY: usize = 1 << 26;

/// What a store keeps, as [`ModelBuilder::prediction_store`](crate::ModelBuilder::prediction_store)
/// asked for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct StoreSettings {
    pub(crate) capacity: usize,
    pub(crate) max_age: Duration,
}

/// What a stored prediction said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stored {
    /// A classification: its label's slot in the model's label set, and its confidence.
    Class {
        label_slot: usize,
        confidence: Option<f64>,
    },
    /// A regression: the predicted value.
    Value(f64),
}

/// A prediction found in the store, with how long ago it was made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Found {
    pub(crate) stored: Stored,
    pub(crate) age: Duration,
}

/// A slot being written: never a sequence number (they stay below 2^63).
const WRITING: u64 = u64::MAX;
/// Set on a slot's id once an outcome was recorded for it.
const CONSUMED: u64 = 1 << 63;
/// The kind of what a slot holds, in the top bits of its time.
const KIND_SHIFT: u32 = 62;
const KIND_CLASS: u64 = 0;
const KIND_CLASS_CONFIDENT: u64 = 1;
const KIND_VALUE: u64 = 2;
const NANOS_MASK: u64 = (1 << KIND_SHIFT) - 1;

/// One stored prediction: 32 bytes, two to a cache line.
#[derive(Debug, Default)]
#[repr(align(32))]
struct Slot {
    /// The prediction's sequence number (0: never written), `WRITING`, or with `CONSUMED`.
    id: AtomicU64,
    /// Nanoseconds from the store's epoch to the prediction, with the kind on top.
    at: AtomicU64,
    /// The label slot of a classification.
    label: AtomicU64,
    /// The confidence of a classification, or the value of a regression (`f64` bits).
    value: AtomicU64,
}

/// Keeps the counter that hands out sequence numbers off the slots' cache lines.
#[derive(Debug)]
#[repr(align(128))]
struct Padded(AtomicU64);

#[derive(Debug)]
pub(crate) struct PredictionStore {
    /// Random per store: the first part of its ids.
    tag: u32,
    mask: u64,
    max_age: Duration,
    epoch: quanta::Instant,
    /// The next sequence number; they start at 1.
    next: Padded,
    slots: Box<[Slot]>,
    /// Overwritten slots that had their outcome: evictions are the other overwrites.
    overwritten_with_outcome: AtomicU64,
}

impl PredictionStore {
    /// A store of `settings.capacity` slots rounded up to a power of two (within
    /// [`MIN_CAPACITY`]..=[`MAX_CAPACITY`]).
    pub(crate) fn new(settings: StoreSettings) -> Self {
        let capacity = settings
            .capacity
            .clamp(MIN_CAPACITY, MAX_CAPACITY)
            .next_power_of_two();
        Self {
            tag: random_tag(),
            mask: capacity as u64 - 1,
            max_age: settings.max_age,
            epoch: quanta::Instant::now(),
            next: Padded(AtomicU64::new(1)),
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            overwritten_with_outcome: AtomicU64::new(0),
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether `id` was handed out by this store (now or earlier).
    pub(crate) fn issued(&self, id: PredictionId) -> bool {
        id.store == self.tag && id.sequence > 0 && id.sequence < self.next.0.load(Ordering::Acquire)
    }

    /// Stores a prediction made at `at` and returns its id. Overwrites the slot's previous
    /// prediction, whose outcome can no longer be recorded.
    #[inline]
    pub(crate) fn remember(&self, stored: Stored, at: quanta::Instant) -> PredictionId {
        let sequence = self.next.0.fetch_add(1, Ordering::Relaxed);
        let slot = &self.slots[(sequence & self.mask) as usize];
        let previous = slot.id.swap(WRITING, Ordering::Relaxed);
        // Readers that see any of the stores below also see `WRITING` (or later).
        fence(Ordering::Release);
        let nanos = u64::try_from(at.duration_since(self.epoch).as_nanos())
            .unwrap_or(NANOS_MASK)
            .min(NANOS_MASK);
        let (kind, label, value) = match stored {
            Stored::Class {
                label_slot,
                confidence: Some(confidence),
            } => (
                KIND_CLASS_CONFIDENT,
                label_slot as u64,
                confidence.to_bits(),
            ),
            Stored::Class {
                label_slot,
                confidence: None,
            } => (KIND_CLASS, label_slot as u64, 0),
            Stored::Value(value) => (KIND_VALUE, 0, value.to_bits()),
        };
        slot.at
            .store(nanos | (kind << KIND_SHIFT), Ordering::Relaxed);
        slot.label.store(label, Ordering::Relaxed);
        slot.value.store(value, Ordering::Relaxed);
        slot.id.store(sequence, Ordering::Release);
        if previous != WRITING && previous & CONSUMED != 0 {
            self.overwritten_with_outcome
                .fetch_add(1, Ordering::Relaxed);
        }
        PredictionId {
            store: self.tag,
            sequence,
        }
    }

    /// Predictions overwritten before an outcome was recorded for them, since the start.
    pub(crate) fn evictions(&self) -> u64 {
        let written = self.next.0.load(Ordering::Acquire) - 1;
        let overwritten = written.saturating_sub(self.slots.len() as u64);
        overwritten.saturating_sub(self.overwritten_with_outcome.load(Ordering::Relaxed))
    }

    /// The prediction `id`, without taking it.
    pub(crate) fn find(
        &self,
        id: PredictionId,
        now: quanta::Instant,
    ) -> Result<Found, OutcomeError> {
        self.read(id, now, false)
    }

    /// Takes the prediction `id` for its outcome: a second outcome for it is a duplicate.
    pub(crate) fn take(
        &self,
        id: PredictionId,
        now: quanta::Instant,
    ) -> Result<Found, OutcomeError> {
        self.read(id, now, true)
    }

    fn read(
        &self,
        id: PredictionId,
        now: quanta::Instant,
        take: bool,
    ) -> Result<Found, OutcomeError> {
        if !self.issued(id) {
            return Err(OutcomeError::UnknownId);
        }
        let slot = &self.slots[(id.sequence & self.mask) as usize];
        let current = slot.id.load(Ordering::Acquire);
        if current != id.sequence {
            return Err(self.missing(id, current));
        }
        let at = slot.at.load(Ordering::Relaxed);
        let label = slot.label.load(Ordering::Relaxed);
        let value = slot.value.load(Ordering::Relaxed);
        // Pairs with the writer's release fence: if any value above is a newer
        // prediction's, the id check below sees that writer's `WRITING` or later.
        fence(Ordering::Acquire);
        let made = self.epoch + Duration::from_nanos(at & NANOS_MASK);
        let age = now.saturating_duration_since(made);
        if take {
            if age > self.max_age {
                // Checked first, so the outcome is not taken: it stays expired.
                let still = slot.id.load(Ordering::Acquire);
                return Err(if still == id.sequence {
                    OutcomeError::Expired
                } else {
                    self.missing(id, still)
                });
            }
            if let Err(now_there) = slot.id.compare_exchange(
                id.sequence,
                id.sequence | CONSUMED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                return Err(self.missing(id, now_there));
            }
        } else {
            let still = slot.id.load(Ordering::Acquire);
            if still != id.sequence {
                return Err(self.missing(id, still));
            }
            if age > self.max_age {
                return Err(OutcomeError::Expired);
            }
        }
        let stored = match at >> KIND_SHIFT {
            KIND_VALUE => Stored::Value(f64::from_bits(value)),
            kind => Stored::Class {
                label_slot: usize::try_from(label).unwrap_or(usize::MAX),
                confidence: (kind == KIND_CLASS_CONFIDENT).then(|| f64::from_bits(value)),
            },
        };
        Ok(Found { stored, age })
    }

    /// Why the issued `id` is not in its slot, which holds `current`.
    fn missing(&self, id: PredictionId, current: u64) -> OutcomeError {
        if current == id.sequence | CONSUMED {
            OutcomeError::Duplicate
        } else if current == WRITING || current & !CONSUMED > id.sequence {
            OutcomeError::Evicted
        } else {
            // An older prediction still holds the slot: `id` was handed out but is still
            // being written (it takes nanoseconds), so it cannot be found yet.
            OutcomeError::UnknownId
        }
    }
}

/// 32 random bits from the standard library's per-process hash keys and the clock.
fn random_tag() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos()),
    );
    let hash = hasher.finish();
    (hash ^ (hash >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(capacity: usize, max_age: Duration) -> PredictionStore {
        PredictionStore::new(StoreSettings { capacity, max_age })
    }

    fn class(label_slot: usize, confidence: f64) -> Stored {
        Stored::Class {
            label_slot,
            confidence: Some(confidence),
        }
    }

    #[test]
    fn a_prediction_is_found_once_then_its_second_outcome_is_a_duplicate() {
        let store = store(1, Duration::from_secs(60));
        assert_eq!(store.capacity(), MIN_CAPACITY);
        let now = quanta::Instant::now();
        let id = store.remember(class(3, 0.3), now);
        let found = store.find(id, now).expect("found");
        assert_eq!(found.stored, class(3, 0.3));
        assert_eq!(store.take(id, now).expect("taken").stored, class(3, 0.3));
        assert_eq!(store.take(id, now), Err(OutcomeError::Duplicate));
        assert_eq!(store.find(id, now), Err(OutcomeError::Duplicate));
        let value = store.remember(Stored::Value(-2.5), now);
        assert_eq!(
            store.take(value, now).expect("taken").stored,
            Stored::Value(-2.5)
        );
    }

    #[test]
    fn ids_of_other_stores_and_ids_not_handed_out_are_unknown() {
        let first = store(MIN_CAPACITY, Duration::from_secs(60));
        let second = store(MIN_CAPACITY, Duration::from_secs(60));
        let now = quanta::Instant::now();
        let id = first.remember(class(2, 0.9), now);
        assert_ne!(first.tag, second.tag, "random tags");
        assert_eq!(second.take(id, now), Err(OutcomeError::UnknownId));
        let later = PredictionId {
            sequence: id.sequence + 1,
            ..id
        };
        assert_eq!(first.take(later, now), Err(OutcomeError::UnknownId));
        let zero = PredictionId { sequence: 0, ..id };
        assert_eq!(first.take(zero, now), Err(OutcomeError::UnknownId));
    }

    #[test]
    fn a_full_ring_evicts_the_oldest_and_counts_only_those_without_outcome() {
        let store = store(MIN_CAPACITY, Duration::from_secs(60));
        let now = quanta::Instant::now();
        let first = store.remember(class(2, 0.5), now);
        let second = store.remember(class(2, 0.5), now);
        store.take(second, now).expect("taken");
        for _ in 2..MIN_CAPACITY {
            store.remember(class(2, 0.5), now);
        }
        assert_eq!(store.evictions(), 0);
        let newest = store.remember(class(4, 0.5), now);
        store.remember(class(4, 0.5), now);
        assert_eq!(store.take(first, now), Err(OutcomeError::Evicted));
        assert_eq!(store.take(second, now), Err(OutcomeError::Evicted));
        assert_eq!(store.evictions(), 1, "the second had its outcome");
        assert!(store.take(newest, now).is_ok());
    }

    #[test]
    fn an_outcome_after_the_maximum_age_is_expired_and_stays_so() {
        let store = store(MIN_CAPACITY, Duration::from_secs(10));
        let made = quanta::Instant::now();
        let id = store.remember(class(2, 0.5), made);
        let late = made + Duration::from_secs(11);
        assert_eq!(store.take(id, late), Err(OutcomeError::Expired));
        assert_eq!(store.take(id, late), Err(OutcomeError::Expired));
        let found = store
            .take(id, made + Duration::from_secs(9))
            .expect("in time");
        assert_eq!(found.age, Duration::from_secs(9));
    }

    #[test]
    fn concurrent_writers_and_takers_lose_nothing() {
        let store = store(1 << 16, Duration::from_secs(60));
        let now = quanta::Instant::now();
        let ids: Vec<Vec<PredictionId>> = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..4)
                .map(|thread| {
                    let store = &store;
                    scope.spawn(move || {
                        (0..10_000)
                            .map(|row| store.remember(class(thread + 2, row as f64 / 1e4), now))
                            .collect()
                    })
                })
                .collect();
            writers
                .into_iter()
                .map(|w| w.join().expect("joins"))
                .collect()
        });
        let taken = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|scope| {
            for (thread, ids) in ids.iter().enumerate() {
                let (store, taken) = (&store, &taken);
                scope.spawn(move || {
                    for (row, id) in ids.iter().enumerate() {
                        let found = store.take(*id, now).expect("stored");
                        assert_eq!(found.stored, class(thread + 2, row as f64 / 1e4));
                        taken.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(taken.into_inner(), 40_000);
        assert_eq!(store.evictions(), 0);
    }
}
