//! A prediction store under a flood of predictions with no feedback: memory stays at its
//! capacity. Once warm, storing a prediction and handing out its id allocate nothing on the
//! calling thread (the store is one ring allocated with the model, the thread's id list is
//! reused), so 100 times the capacity in predictions leaves the heap where it was; the
//! predictions pushed out are counted as evictions, exactly.
//!
//! Counting: the `#[global_allocator]` is mlotel-testkit's `CountingAllocator`.

use std::time::Duration;

use mlotel::{Label, Model, Prediction, Telemetry};
use mlotel_testkit::{CountingAllocator, heap_change_in};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const CAPACITY: usize = 4096;
const FLOOD: usize = 100 * CAPACITY;

#[test]
fn a_flood_without_feedback_keeps_memory_at_the_capacity_and_counts_every_eviction() {
    let telemetry = Telemetry::builder()
        .service_name("prediction-store-memory")
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .build()
        .expect("telemetry builds");
    let model = telemetry.model(
        Model::builder("flood")
            .labels(["cat", "dog"])
            .prediction_store(CAPACITY, Duration::from_secs(60)),
    );
    let predict = |index: usize| {
        model.start_call().finish_prediction(Prediction {
            label: Some(Label::Index(index % 2)),
            confidence: Some(0.75),
        })
    };
    // Warm: the thread's stripe and id list exist.
    let first = predict(0).expect("a store hands out ids");
    let (allocations, bytes) = heap_change_in(|| {
        for index in 0..FLOOD {
            std::hint::black_box(predict(index));
        }
    });
    assert_eq!(allocations, 0, "{FLOOD} stored predictions allocated");
    assert_eq!(bytes, 0, "the heap grew by {bytes} bytes");

    assert_eq!(
        model.record_actual_label(first, "cat"),
        Err(mlotel::OutcomeError::Evicted)
    );
    let exposition = telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("renders");
    let evictions = exposition
        .lines()
        .find(|line| line.starts_with("ml_prediction_store_evictions_total{"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no evictions in:\n{exposition}"));
    assert_eq!(
        evictions as usize,
        FLOOD + 1 - CAPACITY,
        "every overwrite without outcome"
    );
}
