//! What the collecting thread pays for `#[instrument_ml]`'s deferred histogram values: the
//! time of one Prometheus render after N unsampled calls, per call. Request threads only
//! aggregate per bucket; the collection replays the values into the SDK.
//!
//! A plain program: it prints the figures. Run with:
//! `cargo bench -p mlotel-benches --bench collection` (`-- --test` runs a few calls only).

mod common;

use std::hint::black_box;
use std::time::Instant;

use common::{ROW, install_mlotel, logistic};
use mlotel::{Sampler, instrument_ml};

#[instrument_ml(model = "iris", version = "2.0.0", features = row)]
#[inline(never)]
fn predict_ml(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

fn main() {
    let quick = std::env::args().any(|argument| argument == "--test");
    let telemetry = install_mlotel(Sampler::AlwaysOff, None);
    let prometheus = telemetry
        .prometheus()
        .expect("the bench installs a prometheus reader");
    let render = || prometheus.render().expect("renders");
    render();
    let counts: &[u64] = if quick {
        &[1_000]
    } else {
        &[100_000, 1_000_000]
    };
    for &calls in counts {
        for call in 0..calls {
            let mut row = ROW;
            // Spread the durations and confidences over a few buckets.
            row[0] += (call % 7) as f64 * 0.3;
            black_box(predict_ml(black_box(&row)));
        }
        let started = Instant::now();
        let exposition = render();
        let elapsed = started.elapsed();
        println!(
            "render after {calls} calls: {:.2} ms, {:.1} ns per call ({} bytes)",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_nanos() as f64 / calls as f64,
            exposition.len()
        );
    }
    let started = Instant::now();
    render();
    println!(
        "render with nothing new: {:.3} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}
