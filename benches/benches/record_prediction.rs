//! Cost of recording one prediction's metrics on the recording thread: `Model::record_prediction`
//! (the calling thread's stripe; the SDK gets the values at the next collection) against the
//! same three instruments written by hand with per-call attributes, on one meter provider.
//!
//! Run with: `cargo bench -p mlotel-benches --bench record_prediction`

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use mlotel::names::{self, attr};
use mlotel::{Model, Outcome, Telemetry};
use opentelemetry::KeyValue;

fn record_prediction(criterion: &mut Criterion) {
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
        ])
        .build()
        .expect("telemetry builds");
    let model = telemetry.model(Model::builder("iris").version("2.0.0").labels([
        "setosa",
        "versicolor",
        "virginica",
    ]));
    let meter = telemetry.meter();
    let duration = meter
        .f64_histogram("hand.prediction.duration")
        .with_boundaries(names::PREDICTION_DURATION_BUCKETS.to_vec())
        .build();
    let predictions = meter.u64_counter("hand.predictions").build();
    let confidence = meter
        .f64_histogram("hand.prediction.confidence")
        .with_boundaries(names::CONFIDENCE_BUCKETS.to_vec())
        .build();
    let model_name = KeyValue::new(attr::MODEL_NAME, "iris");
    let model_version = KeyValue::new(attr::MODEL_VERSION, "2.0.0");
    let elapsed = Duration::from_micros(42);

    let mut group = criterion.benchmark_group("record_prediction");
    group.bench_function("mlotel_model", |bench| {
        bench.iter(|| {
            model.record_prediction(
                black_box(elapsed),
                1,
                Outcome::Ok {
                    label: Some(black_box("versicolor")),
                    confidence: Some(0.93),
                },
            );
        });
    });
    group.bench_function("hand_written_attributes_per_call", |bench| {
        bench.iter(|| {
            let outcome = KeyValue::new(attr::PREDICTION_OUTCOME, "ok");
            duration.record(
                black_box(elapsed).as_secs_f64(),
                &[model_name.clone(), model_version.clone(), outcome.clone()],
            );
            predictions.add(
                1,
                &[
                    model_name.clone(),
                    model_version.clone(),
                    outcome,
                    KeyValue::new(attr::PREDICTION_LABEL, black_box("versicolor")),
                ],
            );
            confidence.record(0.93, &[model_name.clone(), model_version.clone()]);
        });
    });
    group.finish();
}

criterion_group!(benches, record_prediction);
criterion_main!(benches);
