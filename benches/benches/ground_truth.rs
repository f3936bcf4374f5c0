//! Cost of ground truth: a prediction call of a model with a prediction store against the
//! same call without one (the difference is handing out the id and storing the entry), a
//! prediction stored by hand, and one outcome recorded by id or directly, on one meter
//! provider. Store memory: 32 bytes per entry, by construction (`#[repr(align(32))]` slots
//! of four `u64`s; tests/tests/prediction_store_memory.rs shows a flood allocates nothing).
//!
//! Run with: `cargo bench -p mlotel-benches --bench ground_truth`

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mlotel::{Label, Model, Prediction, Telemetry};

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

fn ground_truth(criterion: &mut Criterion) {
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ])
        .build()
        .expect("telemetry builds");
    let plain = telemetry.model(Model::builder("iris").version("1.0.0").labels(LABELS));
    let stored = telemetry.model(
        Model::builder("iris")
            .version("2.0.0")
            .labels(LABELS)
            .prediction_store(1 << 16, Duration::from_secs(3600)),
    );
    let prediction = || Prediction {
        label: Some(Label::Index(black_box(1))),
        confidence: Some(black_box(0.93)),
    };

    let mut group = criterion.benchmark_group("ground_truth");
    // The two calls alternate in one session, so the machine's drift hits both alike.
    group.bench_function("call_without_store", |bench| {
        bench.iter(|| plain.start_call().finish_prediction(prediction()));
    });
    group.bench_function("call_with_store", |bench| {
        bench.iter(|| stored.start_call().finish_prediction(prediction()));
    });
    group.bench_function("remember_prediction", |bench| {
        bench.iter(|| stored.remember_prediction(Some(black_box("versicolor")), Some(0.93)));
    });
    group.bench_function("record_actual_label", |bench| {
        bench.iter_batched(
            || {
                stored
                    .remember_prediction(Some("versicolor"), Some(0.93))
                    .expect("a store")
            },
            |id| stored.record_actual_label(id, black_box("virginica")),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("record_classification", |bench| {
        bench.iter(|| {
            stored.record_classification(
                black_box("versicolor"),
                black_box("virginica"),
                Some(0.93),
                None,
            );
        });
    });
    group.finish();
    // Collections drain the stripes: keep the bench's telemetry alive to here.
    drop(telemetry);
}

criterion_group!(benches, ground_truth);
criterion_main!(benches);
