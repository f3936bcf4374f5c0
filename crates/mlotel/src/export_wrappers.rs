//! Wrappers around the SDK's exporters and span processor that feed [`ExportCounters`]:
//! every batch is counted as delivered or failed, and spans beyond the queue's capacity are
//! dropped (and counted) instead of blocking or growing memory.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, LogExporter};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use crate::export_health::ExportCounters;

/// Counts what a span exporter delivers and releases queue slots as batches leave.
#[derive(Debug)]
pub(crate) struct CountingSpanExporter<E> {
    inner: E,
    counters: Arc<ExportCounters>,
    in_flight: Arc<AtomicUsize>,
}

impl<E: SpanExporter> SpanExporter for CountingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let items = batch.len();
        self.in_flight.fetch_sub(items, Ordering::Relaxed);
        let result = self.inner.export(batch).await;
        record(&self.counters, items as u64, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Admits a sampled span to the batch processor only while fewer than `capacity` spans are
/// waiting for export, so the SDK queue never overflows silently: overflow is counted here.
#[derive(Debug)]
pub(crate) struct BoundedSpanProcessor<P> {
    inner: P,
    counters: Arc<ExportCounters>,
    in_flight: Arc<AtomicUsize>,
    capacity: usize,
}

/// Builds the exporter wrapper and the processor wrapper that share one in-flight count.
pub(crate) fn bounded_span_pipeline<E, P>(
    exporter: E,
    counters: Arc<ExportCounters>,
    capacity: usize,
    make_processor: impl FnOnce(CountingSpanExporter<E>) -> P,
) -> BoundedSpanProcessor<P> {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let exporter = CountingSpanExporter {
        inner: exporter,
        counters: Arc::clone(&counters),
        in_flight: Arc::clone(&in_flight),
    };
    BoundedSpanProcessor {
        inner: make_processor(exporter),
        counters,
        in_flight,
        capacity,
    }
}

impl<P: SpanProcessor> SpanProcessor for BoundedSpanProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        // The batch processor exports only sampled spans; others never leave the queue count.
        if !span.span_context.is_sampled() {
            return;
        }
        if self.in_flight.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            self.counters.record_dropped(1);
            return;
        }
        self.counters.record_queued();
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// Counts the data points a metric exporter delivers.
pub(crate) struct CountingMetricExporter<E> {
    pub(crate) inner: E,
    pub(crate) counters: Arc<ExportCounters>,
}

impl<E> fmt::Debug for CountingMetricExporter<E> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("CountingMetricExporter")
    }
}

impl<E: PushMetricExporter> PushMetricExporter for CountingMetricExporter<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        record(&self.counters, count_data_points(metrics), &result);
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}

/// Counts the log records a log exporter delivers.
#[derive(Debug)]
pub(crate) struct CountingLogExporter<E> {
    pub(crate) inner: E,
    pub(crate) counters: Arc<ExportCounters>,
}

impl<E: LogExporter> LogExporter for CountingLogExporter<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let items = batch.iter().count() as u64;
        let result = self.inner.export(batch).await;
        record(&self.counters, items, &result);
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

fn record(counters: &ExportCounters, items: u64, result: &OTelSdkResult) {
    match result {
        Ok(()) => counters.record_success(items),
        Err(error) => counters.record_failure(items, error),
    }
}

fn count_data_points(metrics: &ResourceMetrics) -> u64 {
    fn points<T>(data: &MetricData<T>) -> usize {
        match data {
            MetricData::Gauge(gauge) => gauge.data_points().count(),
            MetricData::Sum(sum) => sum.data_points().count(),
            MetricData::Histogram(histogram) => histogram.data_points().count(),
            MetricData::ExponentialHistogram(histogram) => histogram.data_points().count(),
        }
    }
    metrics
        .scope_metrics()
        .flat_map(|scope| scope.metrics())
        .map(|metric| match metric.data() {
            AggregatedMetrics::F64(data) => points(data),
            AggregatedMetrics::U64(data) => points(data),
            AggregatedMetrics::I64(data) => points(data),
        })
        .sum::<usize>() as u64
}
