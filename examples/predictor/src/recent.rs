//! The service's own recent history for `/api/summary`: a ring of 5-second slots, each with
//! the requests, the 5xx answers, a fixed-bucket histogram of the latency of prediction
//! routes and the confidences predicted. The last 10 minutes are kept; the request rate and
//! latency percentiles are read over the last 60 seconds.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Length of a slot.
pub(crate) const SLOT_SECONDS: u64 = 5;
/// Slots kept: 10 minutes.
const HISTORY_SLOTS: u64 = 120;
/// Window of `rate_per_second` and `latency_ms`.
pub(crate) const WINDOW_SECONDS: u64 = 60;
/// Latency buckets: upper bounds growing by 25 % from 10 µs; the last is unbounded.
const BUCKETS: usize = 64;
const FIRST_BOUND_MS: f64 = 0.01;
const GROWTH: f64 = 1.25;

fn upper_bound_ms(bucket: usize) -> f64 {
    FIRST_BOUND_MS * GROWTH.powi(bucket as i32)
}

fn bucket_of(latency_ms: f64) -> usize {
    if latency_ms.is_nan() || latency_ms <= FIRST_BOUND_MS {
        return 0;
    }
    let bucket = ((latency_ms / FIRST_BOUND_MS).ln() / GROWTH.ln()).ceil();
    (bucket as usize).min(BUCKETS - 1)
}

#[derive(Clone)]
struct Slot {
    /// Seconds since the epoch / 5; `u64::MAX` when never used.
    index: u64,
    requests: u64,
    server_errors: u64,
    latency: [u64; BUCKETS],
    latency_count: u64,
    confidence_sum: f64,
    confidence_count: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        index: u64::MAX,
        requests: 0,
        server_errors: 0,
        latency: [0; BUCKETS],
        latency_count: 0,
        confidence_sum: 0.0,
        confidence_count: 0,
    };
}

/// The ring of slots. One per service; shared by every worker.
pub(crate) struct Recent {
    started: SystemTime,
    slots: Mutex<Vec<Slot>>,
}

impl std::fmt::Debug for Recent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recent").finish_non_exhaustive()
    }
}

/// Latency percentiles over the window, milliseconds; `None` without predictions in it.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub(crate) struct Percentiles {
    pub(crate) p50: Option<f64>,
    pub(crate) p95: Option<f64>,
    pub(crate) p99: Option<f64>,
    pub(crate) window_seconds: u64,
}

/// One slot as `/api/summary` shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub(crate) struct HistoryPoint {
    /// Start of the slot, milliseconds since the epoch.
    pub(crate) t: u64,
    pub(crate) rate_per_second: f64,
    pub(crate) error_rate_percent: f64,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) mean_confidence: Option<f64>,
}

/// What the ring says now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecentSummary {
    pub(crate) rate_per_second: f64,
    pub(crate) latency: Percentiles,
    pub(crate) history: Vec<HistoryPoint>,
}

fn seconds_since_epoch(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

impl Recent {
    /// An empty ring; the service starts now.
    pub(crate) fn new() -> Self {
        Self::started_at(SystemTime::now())
    }

    fn started_at(started: SystemTime) -> Self {
        Self {
            started,
            slots: Mutex::new(vec![Slot::EMPTY; HISTORY_SLOTS as usize]),
        }
    }

    /// Runs `change` on the slot of `now`, emptying it first if it held an older slot.
    fn with_slot(&self, now: SystemTime, change: impl FnOnce(&mut Slot)) {
        let index = seconds_since_epoch(now) as u64 / SLOT_SECONDS;
        let mut slots = match self.slots.lock() {
            Ok(slots) => slots,
            Err(poisoned) => poisoned.into_inner(),
        };
        let position = (index % HISTORY_SLOTS) as usize;
        if let Some(slot) = slots.get_mut(position) {
            if slot.index != index {
                *slot = Slot::EMPTY;
                slot.index = index;
            }
            change(slot);
        }
    }

    /// Counts a finished request; `prediction_latency` for the prediction routes.
    pub(crate) fn record_request(&self, status: u16, prediction_latency: Option<Duration>) {
        self.record_request_at(SystemTime::now(), status, prediction_latency);
    }

    fn record_request_at(&self, now: SystemTime, status: u16, latency: Option<Duration>) {
        self.with_slot(now, |slot| {
            slot.requests += 1;
            if status >= 500 {
                slot.server_errors += 1;
            }
            if let Some(latency) = latency {
                slot.latency[bucket_of(latency.as_secs_f64() * 1000.0)] += 1;
                slot.latency_count += 1;
            }
        });
    }

    /// Adds the confidences of one answered request.
    pub(crate) fn record_confidences(&self, sum: f64, count: u64) {
        self.record_confidences_at(SystemTime::now(), sum, count);
    }

    fn record_confidences_at(&self, now: SystemTime, sum: f64, count: u64) {
        self.with_slot(now, |slot| {
            slot.confidence_sum += sum;
            slot.confidence_count += count;
        });
    }

    /// Rate and percentiles over the last minute, and the last 10 minutes slot by slot.
    pub(crate) fn summary(&self) -> RecentSummary {
        self.summary_at(SystemTime::now())
    }

    fn summary_at(&self, now: SystemTime) -> RecentSummary {
        let now_seconds = seconds_since_epoch(now);
        let started = seconds_since_epoch(self.started).min(now_seconds);
        let current = now_seconds as u64 / SLOT_SECONDS;
        let first = current.saturating_sub(HISTORY_SLOTS - 1);
        let first_since_start = (started as u64 / SLOT_SECONDS).max(first);
        let slots: Vec<Slot> = match self.slots.lock() {
            Ok(slots) => slots.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let slot_of = |index: u64| {
            slots
                .get((index % HISTORY_SLOTS) as usize)
                .filter(|slot| slot.index == index)
        };
        // Seconds of slot `index` that have passed since the service started.
        let covered = |index: u64| {
            let start = ((index * SLOT_SECONDS) as f64).max(started);
            let end = (((index + 1) * SLOT_SECONDS) as f64).min(now_seconds);
            (end - start).max(0.0)
        };

        let window_slots = WINDOW_SECONDS / SLOT_SECONDS;
        let window_first = current
            .saturating_sub(window_slots - 1)
            .max(first_since_start);
        let mut requests = 0;
        let mut seconds = 0.0;
        let mut latency = [0u64; BUCKETS];
        for index in window_first..=current {
            seconds += covered(index);
            if let Some(slot) = slot_of(index) {
                requests += slot.requests;
                for (total, count) in latency.iter_mut().zip(slot.latency) {
                    *total += count;
                }
            }
        }
        let rate_per_second = round(requests as f64 / seconds.max(1.0), 3);
        let latency = Percentiles {
            p50: percentile(&latency, 0.50),
            p95: percentile(&latency, 0.95),
            p99: percentile(&latency, 0.99),
            window_seconds: WINDOW_SECONDS,
        };

        let history = (first_since_start..=current)
            .map(|index| {
                let empty = Slot::EMPTY;
                let slot = slot_of(index).unwrap_or(&empty);
                HistoryPoint {
                    t: index * SLOT_SECONDS * 1000,
                    rate_per_second: round(slot.requests as f64 / covered(index).max(1.0), 3),
                    error_rate_percent: if slot.requests == 0 {
                        0.0
                    } else {
                        round(slot.server_errors as f64 * 100.0 / slot.requests as f64, 3)
                    },
                    p50_ms: percentile(&slot.latency, 0.50),
                    p99_ms: percentile(&slot.latency, 0.99),
                    mean_confidence: (slot.confidence_count > 0)
                        .then(|| round(slot.confidence_sum / slot.confidence_count as f64, 4)),
                }
            })
            .collect();
        RecentSummary {
            rate_per_second,
            latency,
            history,
        }
    }
}

/// The `q` quantile of a bucketed sample, interpolated linearly inside its bucket; `None`
/// for an empty sample.
fn percentile(buckets: &[u64; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (bucket, &count) in buckets.iter().enumerate() {
        if count == 0 {
            continue;
        }
        if (below + count) as f64 >= rank {
            let lower = if bucket == 0 {
                0.0
            } else {
                upper_bound_ms(bucket - 1)
            };
            let upper = upper_bound_ms(bucket);
            let within = ((rank - below as f64) / count as f64).clamp(0.0, 1.0);
            return Some(round(lower + (upper - lower) * within, 4));
        }
        below += count;
    }
    Some(round(upper_bound_ms(BUCKETS - 1), 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(seconds)
    }

    #[test]
    fn buckets_hold_their_values() {
        for latency in [0.005, 0.01, 0.2, 1.0, 3.7, 250.0, 1900.0] {
            let bucket = bucket_of(latency);
            assert!(
                latency <= upper_bound_ms(bucket) * (1.0 + 1e-9),
                "{latency}"
            );
            if bucket > 0 {
                assert!(latency > upper_bound_ms(bucket - 1), "{latency}");
            }
        }
        assert_eq!(bucket_of(1e12), BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let mut buckets = [0u64; BUCKETS];
        for i in 1..=1000 {
            buckets[bucket_of(i as f64 / 100.0)] += 1; // 0.01 .. 10 ms
        }
        for (q, truth) in [(0.5, 5.0), (0.95, 9.5), (0.99, 9.9)] {
            let estimate = percentile(&buckets, q).expect("a sample");
            assert!((estimate / truth - 1.0).abs() < 0.25, "{q}: {estimate}");
        }
        assert_eq!(percentile(&[0; BUCKETS], 0.5), None);
    }

    #[test]
    fn rate_history_and_expiry() {
        let start = 1_000_000.0; // a multiple of 5
        let recent = Recent::started_at(at(start));
        for i in 0..100 {
            let status = if i % 10 == 0 { 503 } else { 200 };
            recent.record_request_at(
                at(start + 1.0 + i as f64 * 0.09),
                status,
                Some(Duration::from_millis(2)),
            );
        }
        recent.record_confidences_at(at(start + 2.0), 9.0, 10);
        let summary = recent.summary_at(at(start + 10.0));
        assert_eq!(summary.rate_per_second, 10.0);
        assert_eq!(summary.history.len(), 3);
        assert_eq!(summary.history[0].t, 1_000_000_000);
        // The first slot holds requests 0..=44 (before 5 s), 5 of them 503s.
        assert_eq!(summary.history[0].error_rate_percent, 11.111);
        assert_eq!(summary.history[0].mean_confidence, Some(0.9));
        let p50 = summary.latency.p50.expect("predictions");
        assert!((1.5..=2.5).contains(&p50), "{p50}");
        // Ten minutes later the slots are gone from the window and the history.
        let later = recent.summary_at(at(start + 700.0));
        assert_eq!(later.rate_per_second, 0.0);
        assert_eq!(later.latency.p50, None);
        assert_eq!(later.history.len(), HISTORY_SLOTS as usize);
        assert!(
            later
                .history
                .iter()
                .all(|point| point.rate_per_second == 0.0)
        );
    }
}
