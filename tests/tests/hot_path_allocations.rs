//! `#[instrument_ml]` does not allocate on the hot path: after the first call (which looks
//! the model up and registers the thread's stripe), calls with the span not sampled make no
//! heap allocation on the calling thread, whatever drops the span (sampler off, no span
//! pipeline, unsampled parent). With a sampled span the call allocates (the span's
//! context and attributes): that figure is measured and printed (`--nocapture`), not
//! asserted. Allocations of other threads (the batch span processor's) are not counted.
//!
//! Counting: the `#[global_allocator]` is mlotel-testkit's `CountingAllocator`.

use std::hint::black_box;
use std::sync::{Mutex, MutexGuard};

use mlotel::{Model, Sampler, Telemetry, instrument_ml};
use mlotel_testkit::{CountingAllocator, allocations_in};
use mlotel_tests::DiscardSpans;
use opentelemetry::Context;
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Calls in the measured window, and the one call before it.
const CALLS: u64 = 10_000;
const WARM_UP_CALLS: u64 = 1;

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

#[instrument_ml(model = "iris", version = "2.0.0", features = row)]
fn predict(row: &[f64; 4]) -> [f64; 3] {
    let score = row.iter().filter(|value| !value.is_nan()).sum::<f64>();
    let first = 1.0 / (1.0 + score.exp());
    [first, (1.0 - first) * 0.75, (1.0 - first) * 0.25]
}

#[instrument_ml(model = "iris", version = "2.0.0")]
fn classify(row: &[f64; 4]) -> Result<&'static str, String> {
    if row[0].is_nan() {
        return Err("NaN".to_owned());
    }
    Ok(LABELS[usize::from(row[2] > 2.0)])
}

/// Rows to call with: one with a missing value every other call, so that the
/// missing-feature counting runs too.
fn row(index: u64) -> &'static [f64; 4] {
    static ROWS: [[f64; 4]; 2] = [[5.1, 3.5, 1.4, 0.2], [5.9, f64::NAN, 4.2, 1.5]];
    black_box(&ROWS[(index % 2) as usize])
}

fn call_predict(calls: u64) {
    for index in 0..calls {
        black_box(predict(row(index)));
    }
}

fn call_classify(calls: u64) {
    for index in 0..calls {
        black_box(classify(row(index))).expect("no NaN in the first feature");
    }
}

/// Calls both instrumented functions `calls` times each.
fn call(calls: u64) {
    call_predict(calls);
    call_classify(calls);
}

/// Installs telemetry: metrics to a Prometheus reader only, spans through a batch
/// processor to `exporter` when given. The attribute records to the newest installation.
fn install(sampler: Sampler, exporter: Option<&DiscardSpans>) -> Telemetry {
    let mut builder = Telemetry::builder()
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .sampler(sampler);
    if let Some(exporter) = exporter {
        builder = builder.span_processor(BatchSpanProcessor::builder(exporter.clone()).build());
    }
    let telemetry = builder.install().expect("telemetry installs");
    Model::builder("iris")
        .version("2.0.0")
        .labels(LABELS)
        .features(["sepal_length", "sepal_width", "petal_length", "petal_width"])
        .register();
    telemetry
}

/// The installation is global: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A remote parent that was not sampled, as an incoming request without the sampled flag.
fn unsampled_parent() -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::default(),
        true,
        TraceState::default(),
    ))
}

#[test]
fn unsampled_calls_do_not_allocate_after_the_first() {
    let _serial = serial();
    let exporter = DiscardSpans::default();
    let cases: [(&str, Sampler, Option<&DiscardSpans>, Option<Context>); 3] = [
        (
            "sampler always_off",
            Sampler::AlwaysOff,
            Some(&exporter),
            None,
        ),
        ("no span pipeline", Sampler::AlwaysOn, None, None),
        (
            "parent-based, unsampled parent",
            Sampler::ParentBasedAlwaysOn,
            Some(&exporter),
            Some(unsampled_parent()),
        ),
    ];
    for (case, sampler, exporter, parent) in cases {
        let telemetry = install(sampler, exporter);
        let _parent = parent.map(Context::attach);
        call(WARM_UP_CALLS);
        let allocations = allocations_in(|| call(CALLS));
        println!("{case}: {allocations} allocations in {CALLS} calls of each function");
        assert_eq!(
            allocations, 0,
            "{case}: {CALLS} unsampled calls of each function allocated {allocations} times"
        );
        telemetry.shutdown().expect("shutdown");
    }
    assert_eq!(exporter.exported(), 0, "no span was sampled");
}

#[test]
fn allocations_with_a_sampled_span_are_reported() {
    let _serial = serial();
    let exporter = DiscardSpans::default();
    let telemetry = install(Sampler::AlwaysOn, Some(&exporter));
    call(WARM_UP_CALLS);
    let per_call = |allocations: u64| allocations as f64 / CALLS as f64;
    let predict_allocations = per_call(allocations_in(|| call_predict(CALLS)));
    let classify_allocations = per_call(allocations_in(|| call_classify(CALLS)));

    // For scale: a bare SDK span started and ended, with the same processor and exporter.
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter.clone()).build())
        .build();
    let tracer = provider.tracer("hot_path_allocations");
    let span_allocations = per_call(allocations_in(|| {
        for _ in 0..CALLS {
            tracer.start("predict iris").end();
        }
    }));
    println!(
        "sampled: allocations per call: predict (class probabilities, features) \
         {predict_allocations:.2}, classify (Result<&str, _>) {classify_allocations:.2}; \
         a bare SDK span started and ended: {span_allocations:.2}"
    );
    telemetry.force_flush().expect("flush");
    provider.force_flush().expect("flush");
    assert!(exporter.exported() > 0, "spans were sampled and exported");
    telemetry.shutdown().expect("shutdown");
    provider.shutdown().expect("shutdown");
}
