//! Throughput of `#[instrument_ml]` (metrics path: span not sampled, `features = row`) on 1
//! and 2 threads calling it at once, without and with a drift reference, next to the bare
//! function's, which shows what the machine itself allows.
//!
//! A plain program rather than a criterion bench: the machine is small and may be shared,
//! so it alternates 1-thread and 2-thread trials and reports the median of the paired
//! ratios and the best throughputs. Beside wall-clock throughput it reads each thread's
//! CPU time (Linux `/proc/thread-self/schedstat`): the CPU time per call shows contention
//! between the threads even when another process takes part of a core, and "overlap" says
//! how much of the 2-thread trial both threads were actually running.
//!
//! Run with: `cargo bench -p mlotel-benches --bench scaling`
//! (`-- --test` runs each trial once with few calls, as CI does.)

mod common;

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{install_mlotel, logistic};
use mlotel::{Sampler, instrument_ml};

#[inline(never)]
fn predict_bare(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[instrument_ml(model = "iris", version = "2.0.0", features = row)]
#[inline(never)]
fn predict_ml(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

/// The same with a drift reference: each call also bins its 4 features and its label and
/// confidence into the drift window.
#[instrument_ml(model = "iris_drift", version = "2.0.0", features = row)]
#[inline(never)]
fn predict_drift(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

/// CPU time of the calling thread so far, when the platform tells it.
fn thread_cpu_time() -> Option<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// One trial: `threads` threads making `calls` calls each, started together.
struct Trial {
    /// Calls per second of wall time, from the first thread's start to the last one's end.
    throughput: f64,
    /// CPU time per call in nanoseconds, averaged over the threads.
    cpu_per_call: Option<f64>,
    /// CPU time of all threads over `threads` times the wall time: 1 when every thread ran
    /// the whole time.
    overlap: Option<f64>,
}

fn trial(threads: usize, calls: u64, predict: fn(&[f64; 4]) -> [f64; 3]) -> Trial {
    let start = Barrier::new(threads);
    // Each thread times itself from the common start, so a descheduled main thread cannot
    // shorten the measured time.
    let runs: Vec<(Instant, Instant, Option<Duration>)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|worker| {
                let start = &start;
                scope.spawn(move || {
                    // Rows differ per thread so no call can be folded into another.
                    let row = [5.9 + worker as f64, 3.0, 4.2, 1.5];
                    // The thread's first calls pick its stripe and cache the tracing state.
                    for _ in 0..1_000 {
                        black_box(predict(black_box(&row)));
                    }
                    start.wait();
                    let cpu_before = thread_cpu_time();
                    let started = Instant::now();
                    for _ in 0..calls {
                        black_box(predict(black_box(&row)));
                    }
                    let ended = Instant::now();
                    let cpu = thread_cpu_time()
                        .zip(cpu_before)
                        .map(|(after, before)| after.saturating_sub(before));
                    (started, ended, cpu)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("bench thread does not panic"))
            .collect()
    });
    let first_start = runs.iter().map(|run| run.0).min().expect("a thread");
    let last_end = runs.iter().map(|run| run.1).max().expect("a thread");
    let wall = (last_end - first_start).as_secs_f64();
    let cpu: Option<Duration> = runs.iter().map(|run| run.2).sum();
    Trial {
        throughput: (threads as u64 * calls) as f64 / wall,
        cpu_per_call: cpu.map(|cpu| cpu.as_secs_f64() * 1e9 / (threads as u64 * calls) as f64),
        overlap: cpu.map(|cpu| cpu.as_secs_f64() / (threads as f64 * wall)),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn best(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NAN, f64::max)
}

/// Alternates 1-thread and 2-thread trials of about `length` each, `rounds` times.
fn compare(name: &str, predict: fn(&[f64; 4]) -> [f64; 3], rounds: usize, length: Duration) {
    let probe = 10_000;
    let rate = trial(1, probe, predict).throughput;
    let calls = ((rate * length.as_secs_f64()) as u64).max(probe);
    let trials: Vec<(Trial, Trial)> = (0..rounds)
        .map(|_| (trial(1, calls, predict), trial(2, calls, predict)))
        .collect();
    let one: Vec<f64> = trials.iter().map(|(one, _)| one.throughput).collect();
    let two: Vec<f64> = trials.iter().map(|(_, two)| two.throughput).collect();
    let ratios: Vec<f64> = trials
        .iter()
        .map(|(one, two)| two.throughput / one.throughput)
        .collect();
    let cpu_one = median(
        trials
            .iter()
            .map(|(one, _)| one.cpu_per_call.unwrap_or(f64::NAN))
            .collect(),
    );
    let cpu_two = median(
        trials
            .iter()
            .map(|(_, two)| two.cpu_per_call.unwrap_or(f64::NAN))
            .collect(),
    );
    let overlap = median(
        trials
            .iter()
            .map(|(_, two)| two.overlap.unwrap_or(f64::NAN))
            .collect(),
    );
    println!("{name} ({rounds} rounds of {calls} calls per thread)");
    println!(
        "  1 thread : median {:6.2} M calls/s, best {:6.2}; CPU {cpu_one:6.1} ns/call",
        median(one.clone()) / 1e6,
        best(&one) / 1e6,
    );
    println!(
        "  2 threads: median {:6.2} M calls/s, best {:6.2}; CPU {cpu_two:6.1} ns/call; \
         overlap {overlap:.2}",
        median(two.clone()) / 1e6,
        best(&two) / 1e6,
    );
    println!(
        "  2 vs 1   : throughput ratio median {:.2}, best/best {:.2}; \
         CPU-time ratio (2 x CPU/call at 1 / CPU/call at 2) {:.2}",
        median(ratios),
        best(&two) / best(&one),
        2.0 * cpu_one / cpu_two,
    );
}

fn main() {
    let quick = std::env::args().any(|arg| arg == "--test");
    let _telemetry = install_mlotel(Sampler::AlwaysOff, None);
    let (rounds, length) = if quick {
        (1, Duration::from_millis(1))
    } else {
        (15, Duration::from_millis(150))
    };
    println!(
        "scaling: {} cores available{}",
        std::thread::available_parallelism().map_or(0, usize::from),
        if quick {
            "; quick mode (--test): figures are not meaningful"
        } else {
            ""
        }
    );
    compare("bare", predict_bare, rounds, length);
    compare("instrument_ml_unsampled", predict_ml, rounds, length);
    mlotel::Model::builder("iris_drift")
        .version("2.0.0")
        .labels(common::LABELS)
        .reference(common::synthetic_reference(4))
        .register();
    compare(
        "instrument_ml_unsampled_drift",
        predict_drift,
        rounds,
        length,
    );
}
