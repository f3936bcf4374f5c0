//! Cost of `#[instrument_ml]` on a tiny model (4 features, 3 classes, `softmax(W·x + b)`)
//! against the usual ways of instrumenting it, in one criterion group so that the ratios
//! come from one run:
//!
//! - `a_bare`: the function alone.
//! - `b_tracing_instrument`: `#[tracing::instrument]` and the `tracing-opentelemetry` layer
//!   on an SDK tracer provider; `b_tracing_instrument_skip_all` is the same without
//!   recording the argument.
//! - `c_hand_written_otel`: an SDK span with the same attributes as mlotel's, and the same
//!   three metrics (duration, count by outcome and label, confidence) with per-call
//!   attributes, written by hand against the OpenTelemetry API.
//! - `d_autometrics`: `#[autometrics]` (autometrics 3, OpenTelemetry 0.30 backend, metrics
//!   to an SDK meter provider with a reader).
//! - `e_otel_bare_span`: an SDK span started and ended around the call, nothing else.
//! - `f_instrument_ml_sampled`, `g_instrument_ml_unsampled`, `h_instrument_ml_features`
//!   (sampled, with `features = row`), and `g2_instrument_ml_unsampled_features`.
//!
//! Every variant that exports spans uses a `BatchSpanProcessor` (SDK defaults) in front of
//! the same exporter, which drops what it gets. Metrics go to a Prometheus reader that is
//! never scraped. Nothing goes over the network.
//!
//! Run with: `cargo bench -p mlotel-benches --bench instrument_ml`

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use autometrics::autometrics;
use common::{DiscardSpans, LABELS, ROW, argmax, batch_processor, install_mlotel, logistic};
use criterion::{Criterion, criterion_group, criterion_main};
use mlotel::names::{self, attr};
use mlotel::{Sampler, Telemetry, instrument_ml};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::trace::{Span as _, SpanKind, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;

#[inline(never)]
fn predict_bare(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[tracing::instrument]
#[inline(never)]
fn predict_tracing(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn predict_tracing_skip_all(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[autometrics]
#[inline(never)]
fn predict_autometrics(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[instrument_ml(model = "iris", version = "2.0.0")]
#[inline(never)]
fn predict_ml(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

#[instrument_ml(model = "iris", version = "2.0.0", features = row)]
#[inline(never)]
fn predict_ml_features(row: &[f64; 4]) -> [f64; 3] {
    logistic(row)
}

/// What a service instrumenting by hand holds: a tracer and three instruments.
struct HandWritten {
    tracer: SdkTracer,
    duration: Histogram<f64>,
    predictions: Counter<u64>,
    confidence: Histogram<f64>,
    model_name: KeyValue,
    model_version: KeyValue,
}

impl HandWritten {
    #[inline(never)]
    fn predict(&self, row: &[f64; 4]) -> [f64; 3] {
        let started = Instant::now();
        let mut span = self
            .tracer
            .span_builder("predict iris")
            .with_kind(SpanKind::Internal)
            .with_attributes([self.model_name.clone(), self.model_version.clone()])
            .start(&self.tracer);
        let probabilities = logistic(row);
        let (class, confidence) = argmax(&probabilities);
        let label = LABELS[class];
        span.set_attributes([
            KeyValue::new(attr::PREDICTION_OUTCOME, "ok"),
            KeyValue::new(attr::PREDICTION_BATCH_SIZE, 1_i64),
            KeyValue::new(attr::PREDICTION_LABEL, label),
            KeyValue::new(attr::PREDICTION_CONFIDENCE, confidence),
        ]);
        span.end();
        let outcome = KeyValue::new(attr::PREDICTION_OUTCOME, "ok");
        self.duration.record(
            started.elapsed().as_secs_f64(),
            &[
                self.model_name.clone(),
                self.model_version.clone(),
                outcome.clone(),
            ],
        );
        self.predictions.add(
            1,
            &[
                self.model_name.clone(),
                self.model_version.clone(),
                outcome,
                KeyValue::new(attr::PREDICTION_LABEL, label),
            ],
        );
        self.confidence.record(
            confidence,
            &[self.model_name.clone(), self.model_version.clone()],
        );
        probabilities
    }
}

/// Metrics of autometrics 3 go to the OpenTelemetry 0.30 global meter provider: give it an
/// SDK one with a reader, so that they are aggregated as they would be in a service.
fn install_autometrics_provider() -> opentelemetry_sdk_0_30::metrics::SdkMeterProvider {
    let provider = opentelemetry_sdk_0_30::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk_0_30::metrics::ManualReader::builder().build())
        .build();
    opentelemetry_0_30::global::set_meter_provider(provider.clone());
    provider
}

fn instrument_ml(criterion: &mut Criterion) {
    let exporter = DiscardSpans::default();
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(batch_processor(&exporter))
        .build();
    let tracer = tracer_provider.tracer("mlotel-benches");

    // Metrics of the hand-written variant: a meter provider with a Prometheus reader, like
    // mlotel's own (built, not installed).
    let metrics = Telemetry::builder()
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .build()
        .expect("telemetry builds");
    let meter = metrics.meter();
    let hand_written = HandWritten {
        tracer: tracer.clone(),
        duration: meter
            .f64_histogram("hand.prediction.duration")
            .with_unit("s")
            .with_boundaries(names::PREDICTION_DURATION_BUCKETS.to_vec())
            .build(),
        predictions: meter.u64_counter("hand.predictions").build(),
        confidence: meter
            .f64_histogram("hand.prediction.confidence")
            .with_boundaries(names::CONFIDENCE_BUCKETS.to_vec())
            .build(),
        model_name: KeyValue::new(attr::MODEL_NAME, "iris"),
        model_version: KeyValue::new(attr::MODEL_VERSION, "2.0.0"),
    };
    let autometrics_provider = install_autometrics_provider();

    let mut group = criterion.benchmark_group("instrument_ml");
    group.bench_function("a_bare", |bench| {
        bench.iter(|| predict_bare(black_box(&ROW)));
    });

    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer.clone()));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("b_tracing_instrument", |bench| {
            bench.iter(|| predict_tracing(black_box(&ROW)));
        });
        group.bench_function("b_tracing_instrument_skip_all", |bench| {
            bench.iter(|| predict_tracing_skip_all(black_box(&ROW)));
        });
    });

    group.bench_function("c_hand_written_otel", |bench| {
        bench.iter(|| hand_written.predict(black_box(&ROW)));
    });
    group.bench_function("d_autometrics", |bench| {
        bench.iter(|| predict_autometrics(black_box(&ROW)));
    });
    group.bench_function("e_otel_bare_span", |bench| {
        bench.iter(|| {
            let mut span = tracer.start("predict iris");
            let probabilities = predict_bare(black_box(&ROW));
            span.end();
            probabilities
        });
    });
    let exported_by_sdk_variants = flushed(&exporter, || tracer_provider.force_flush());

    // The attribute records to the newest installation: install once per sampler setting.
    let sampled_exporter = DiscardSpans::default();
    let telemetry = install_mlotel(Sampler::AlwaysOn, Some(&sampled_exporter));
    group.bench_function("f_instrument_ml_sampled", |bench| {
        bench.iter(|| predict_ml(black_box(&ROW)));
    });
    group.bench_function("h_instrument_ml_features", |bench| {
        bench.iter(|| predict_ml_features(black_box(&ROW)));
    });
    let exported_sampled = flushed(&sampled_exporter, || telemetry.force_flush());
    drop(telemetry);

    let unsampled_exporter = DiscardSpans::default();
    let telemetry = install_mlotel(Sampler::AlwaysOff, Some(&unsampled_exporter));
    group.bench_function("g_instrument_ml_unsampled", |bench| {
        bench.iter(|| predict_ml(black_box(&ROW)));
    });
    group.bench_function("g2_instrument_ml_unsampled_features", |bench| {
        bench.iter(|| predict_ml_features(black_box(&ROW)));
    });
    let exported_unsampled = flushed(&unsampled_exporter, || telemetry.force_flush());
    group.finish();

    // The variants are what they claim: spans reach the exporter when sampled, and not
    // otherwise (a filter that skips the variants skips the check).
    if exported_unsampled > 0 {
        panic!("{exported_unsampled} spans exported with the sampler always_off");
    }
    eprintln!(
        "spans exported: SDK/tracing variants {exported_by_sdk_variants}, \
         instrument_ml sampled {exported_sampled}, unsampled {exported_unsampled}"
    );
    drop(telemetry);
    drop(metrics);
    let _ = autometrics_provider.shutdown();
    let _ = tracer_provider.shutdown();
}

/// Flushes a pipeline and returns how many spans its exporter got.
fn flushed<E: std::fmt::Debug>(
    exporter: &DiscardSpans,
    flush: impl FnOnce() -> Result<(), E>,
) -> u64 {
    if let Err(error) = flush() {
        eprintln!("flush failed: {error:?}");
    }
    exporter.exported()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(40);
    targets = instrument_ml
}
criterion_main!(benches);
