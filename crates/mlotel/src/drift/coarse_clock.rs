//! The time used to put a row in a drift window's time slice when the caller has none at
//! hand (`Model::observe_features`, `observe_values`, `record_prediction`).
//!
//! Slices last at least 100 ms (a 1 s window in 10 slices) and usually 30 s, so a time a few
//! milliseconds old places a row in the right slice all but at the edges, where a row lands in
//! the slice next to it. Reading the clock costs about a quarter of a 4-feature observation
//! on a virtual machine (12 ns of ~55 ns); reading a time a ticker thread stores every
//! [`TICK`] costs a load. The ticker is started by the first time-windowed drift monitor and
//! runs for the life of the process; until it has ticked, [`recent`] reads the clock.
//!
//! `#[instrument_ml]` does not use this: it reuses the clock reading it takes for latency.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the ticker stores the time: the most a [`recent`] time lags behind the clock
/// (plus the ticker's scheduling delay).
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// When the ticker started; [`ELAPSED_NANOS`] counts from here.
static EPOCH: OnceLock<quanta::Instant> = OnceLock::new();
/// Nanoseconds from [`EPOCH`] at the ticker's last tick; 0 before its first.
static ELAPSED_NANOS: AtomicU64 = AtomicU64::new(0);

/// Starts the ticker thread once per process. If the thread cannot be spawned, [`recent`]
/// keeps reading the clock (slower, never wrong) and the failure is logged.
pub(crate) fn start() {
    EPOCH.get_or_init(|| {
        let epoch = quanta::Instant::now();
        let spawned = std::thread::Builder::new()
            .name("mlotel-drift-clock".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    let elapsed = quanta::Instant::now().saturating_duration_since(epoch);
                    // At least 1: 0 means "not ticking".
                    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1);
                    ELAPSED_NANOS.store(nanos, Ordering::Relaxed);
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(
                %error,
                "could not start the drift window's clock thread; observations read the clock instead"
            );
        }
        epoch
    });
}

/// The time at the last tick, or the clock's time when the ticker is not running.
#[inline]
pub(crate) fn recent() -> quanta::Instant {
    let nanos = ELAPSED_NANOS.load(Ordering::Relaxed);
    match EPOCH.get() {
        Some(epoch) if nanos != 0 => *epoch + Duration::from_nanos(nanos),
        _ => quanta::Instant::now(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_follows_the_clock_within_a_few_ticks() {
        start();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while ELAPSED_NANOS.load(Ordering::Relaxed) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the ticker never ticked"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let first = recent();
        let later = loop {
            let later = recent();
            if later > first {
                break later;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the ticker stopped ticking"
            );
            std::thread::sleep(TICK);
        };
        // Never ahead of the clock, and behind it by little more than a tick. The bound is
        // loose because a loaded machine may not schedule the ticker on time.
        let now = quanta::Instant::now();
        assert!(later <= now);
        assert!(now.duration_since(later) < Duration::from_secs(2));
    }
}
