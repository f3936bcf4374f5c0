//! A prediction store under a flood of predictions with no feedback: memory stays at its
//! capacity. Once warm, storing a prediction and handing out its id allocate nothing on the
//! calling thread (the store is one ring allocated with the model, the thread's id list is
//! reused), so 100 times the capacity in predictions leaves the heap where it was; the
//! predictions pushed out are counted as evictions, exactly.
//!
//! Counting needs a `#[global_allocator]`, and implementing `GlobalAlloc` needs `unsafe`
//! (see tests/hot_path_allocations.rs, whose counter this copies).
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use mlotel::{Label, Model, Prediction, Telemetry};

struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<i64> = const { Cell::new(0) };
}

fn count(bytes: i64, allocation: bool) {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + u64::from(allocation)));
    let _ = BYTES.try_with(|total| total.set(total.get() + bytes));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only thread-local `Cell`s.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64, true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64, true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64), false);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

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
    let (allocations_before, bytes_before) = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    for index in 0..FLOOD {
        std::hint::black_box(predict(index));
    }
    let allocations = ALLOCATIONS.with(Cell::get) - allocations_before;
    let bytes = BYTES.with(Cell::get) - bytes_before;
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
