//! Drift on the hot path and at collection time:
//!
//! - feeding one 4-feature row to a model's drift window (`Model::observe_features`: 4 bin
//!   lookups, one stripe lock, 4 counter bumps), with a quarter of the values out of range
//!   and with all in range, next to the same call for a model without a reference
//!   (missing-value checks only);
//! - the same with the fleet-wide bin counters off (`drift_bin_counters(false)`), on the
//!   default time window and on a count window of 500 rows (a slice leaves it every 50 rows,
//!   which is when the running totals take its counts);
//! - the same through `#[instrument_ml(features = row)]`, with and without a reference;
//! - computing every statistic for a model of 50 features from a full window
//!   (`Model::drift_report` after one new row, so the report is not reused).
//!
//! Two threads feeding at once are measured by the `scaling` bench
//! (`instrument_ml_unsampled_drift`).
//!
//! Run with: `cargo bench -p mlotel-benches --bench drift`

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{LABELS, install_mlotel, logistic, synthetic_reference};
use criterion::{Criterion, criterion_group, criterion_main};
use mlotel::{Model, Sampler, instrument_ml};

#[instrument_ml(model = "drift_bench_macro", version = "1", features = row)]
#[inline(never)]
fn predict_drift(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[instrument_ml(model = "drift_bench_macro_plain", version = "1", features = row)]
#[inline(never)]
fn predict_plain(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

/// The real path: `#[instrument_ml(features = row)]` (span not sampled) on a model with a
/// drift reference and on one without: the difference is what drift adds to a prediction
/// (4 feature bins, the label and confidence bins; the clock is read once either way).
fn instrumented(c: &mut Criterion) {
    let _telemetry = install_mlotel(Sampler::AlwaysOff, None);
    Model::builder("drift_bench_macro")
        .version("1")
        .labels(LABELS)
        .reference(synthetic_reference(4))
        .register();
    Model::builder("drift_bench_macro_plain")
        .version("1")
        .labels(LABELS)
        .features(["f0", "f1", "f2", "f3"])
        .register();
    let rows = rows();
    let mut group = c.benchmark_group("drift/instrument_ml_4_features");
    for (name, predict) in [
        ("reference", predict_drift as fn(&[f64; 4]) -> [f64; 3]),
        ("no_reference", predict_plain),
    ] {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                next = (next + 1) % rows.len();
                black_box(predict(black_box(&rows[next])))
            });
        });
    }
    group.finish();
}

/// Rows spread over the reference's range, a quarter of the values just below its minimum
/// (counted as out of range: the general lookup).
fn rows() -> Vec<[f64; 4]> {
    (0..64)
        .map(|row| std::array::from_fn(|feature| feature as f64 + (row as f64 % 4.0)))
        .collect()
}

/// Rows whose values all lie within the reference's range, as most production traffic:
/// every value takes the fixed-size lookup.
fn rows_in_range() -> Vec<[f64; 4]> {
    (0..64)
        .map(|row| std::array::from_fn(|feature| feature as f64 + 0.5 + 0.9 * (row as f64 % 4.0)))
        .collect()
}

fn observe(c: &mut Criterion) {
    let with_reference = Model::builder("drift_bench_4")
        .version("1")
        .labels(LABELS)
        .reference(synthetic_reference(4))
        .register();
    let counters_off = Model::builder("drift_bench_4_counters_off")
        .version("1")
        .labels(LABELS)
        .reference(synthetic_reference(4))
        .drift_bin_counters(false)
        .register();
    let counted = |name: &str, on: bool| {
        Model::builder(name)
            .version("1")
            .labels(LABELS)
            .reference(synthetic_reference(4))
            .drift_window(mlotel::drift::Window::count(500))
            .drift_bin_counters(on)
            .register()
    };
    let (count_window, count_window_off) = (
        counted("drift_bench_4_count", true),
        counted("drift_bench_4_count_off", false),
    );
    let without_reference = Model::builder("drift_bench_plain")
        .version("1")
        .features(["f0", "f1", "f2", "f3"])
        .register();
    let (rows, rows_in_range) = (rows(), rows_in_range());
    let mut group = c.benchmark_group("drift/observe_4_features");
    for (name, model, rows) in [
        ("reference", &with_reference, &rows),
        ("reference_in_range", &with_reference, &rows_in_range),
        (
            "reference_in_range_counters_off",
            &counters_off,
            &rows_in_range,
        ),
        ("count_window_in_range", &count_window, &rows_in_range),
        (
            "count_window_in_range_counters_off",
            &count_window_off,
            &rows_in_range,
        ),
        ("no_reference", &without_reference, &rows),
    ] {
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                next = (next + 1) % rows.len();
                model.observe_features(black_box(&rows[next]));
            });
        });
    }
    group.finish();
}

fn report(c: &mut Criterion) {
    let model = Model::builder("drift_bench_50")
        .version("1")
        .labels(LABELS)
        .reference(synthetic_reference(50))
        .drift_window(mlotel::drift::Window::count(10_000))
        .register();
    let row: Vec<f64> = (0..50).map(|feature| feature as f64 + 1.5).collect();
    for _ in 0..10_000 {
        model.observe_features(&row);
    }
    c.bench_function("drift/report_50_features", |b| {
        b.iter(|| {
            model.observe_features(black_box(&row));
            black_box(model.drift_report())
        });
    });
}

criterion_group!(benches, observe, instrumented, report);
criterion_main!(benches);
