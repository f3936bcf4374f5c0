//! The span pipeline's queue, bounded in spans and in bytes: a sampled span is cut to the
//! value-length limit, then admitted to the batch processor only while the spans waiting
//! for export stay within both budgets; overflow is dropped and counted instead of
//! blocking or growing memory. Slots are released when the exporter is done with a batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};

use super::counting::record;
use super::health::ExportCounters;
use super::span_limits::SpanLimitSettings;

/// Spans and bytes admitted to the batch processor whose export has not finished.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    spans: AtomicUsize,
    bytes: AtomicUsize,
}

impl InFlight {
    /// Takes a slot for a span of `bytes` if both budgets allow it.
    fn admit(&self, bytes: usize, span_capacity: usize, byte_capacity: usize) -> bool {
        if self.spans.fetch_add(1, Ordering::Relaxed) >= span_capacity {
            self.spans.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        let before = self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > byte_capacity {
            self.bytes.fetch_sub(bytes, Ordering::Relaxed);
            self.spans.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn release(&self, spans: usize, bytes: usize) {
        self.spans.fetch_sub(spans, Ordering::Relaxed);
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

/// Counts what a span exporter delivers and releases queue slots as batches leave.
#[derive(Debug)]
pub(crate) struct CountingSpanExporter<E> {
    inner: E,
    counters: Arc<ExportCounters>,
    in_flight: Arc<InFlight>,
}

impl<E: SpanExporter> SpanExporter for CountingSpanExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let items = batch.len();
        // The same estimate as at admission: the spans have not changed since.
        let bytes = batch.iter().map(approximate_bytes).sum();
        let result = self.inner.export(batch).await;
        // Released only now: a batch held by a slow collector still occupies memory.
        self.in_flight.release(items, bytes);
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

/// How much may wait for export, and what one span may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanQueueLimits {
    pub(crate) spans: usize,
    pub(crate) bytes: usize,
    pub(crate) span: SpanLimitSettings,
}

/// Admits a sampled span to the batch processor only while fewer than `capacity` spans and
/// bytes are waiting for export, so the SDK queue never overflows silently and a burst of
/// huge spans cannot grow memory without bound: overflow is counted here. String values
/// are cut to the value-length limit first.
#[derive(Debug)]
pub(crate) struct BoundedSpanProcessor<P> {
    inner: P,
    counters: Arc<ExportCounters>,
    in_flight: Arc<InFlight>,
    limits: SpanQueueLimits,
}

/// Builds the exporter wrapper and the processor wrapper that share one in-flight count.
pub(crate) fn bounded_span_pipeline<E, P>(
    exporter: E,
    counters: Arc<ExportCounters>,
    limits: SpanQueueLimits,
    make_processor: impl FnOnce(CountingSpanExporter<E>) -> P,
) -> BoundedSpanProcessor<P> {
    let in_flight = Arc::new(InFlight::default());
    let exporter = CountingSpanExporter {
        inner: exporter,
        counters: Arc::clone(&counters),
        in_flight: Arc::clone(&in_flight),
    };
    BoundedSpanProcessor {
        inner: make_processor(exporter),
        counters,
        in_flight,
        limits,
    }
}

impl<P: SpanProcessor> SpanProcessor for BoundedSpanProcessor<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        // The batch processor exports only sampled spans; others never leave the queue count.
        if !span.span_context.is_sampled() {
            return;
        }
        self.limits.span.apply(&mut span);
        let bytes = approximate_bytes(&span);
        if !self
            .in_flight
            .admit(bytes, self.limits.spans, self.limits.bytes)
        {
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

/// About how many bytes `span` holds on the heap and inline: what a queue of finished spans
/// costs. Strings count their length; every attribute, event and link its fixed size.
pub(crate) fn approximate_bytes(span: &SpanData) -> usize {
    fn attributes(list: &[KeyValue]) -> usize {
        list.iter()
            .map(|attribute| {
                std::mem::size_of::<KeyValue>()
                    + attribute.key.as_str().len()
                    + value_bytes(&attribute.value)
            })
            .sum()
    }
    let events: usize = span
        .events
        .iter()
        .map(|event| {
            std::mem::size_of_val(event) + event.name.len() + attributes(&event.attributes)
        })
        .sum();
    let links: usize = span
        .links
        .iter()
        .map(|link| std::mem::size_of_val(link) + attributes(&link.attributes))
        .sum();
    let status = match &span.status {
        opentelemetry::trace::Status::Error { description } => description.len(),
        _ => 0,
    };
    std::mem::size_of::<SpanData>()
        + span.name.len()
        + attributes(&span.attributes)
        + events
        + links
        + status
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::String(text) => text.as_str().len(),
        Value::Array(Array::String(texts)) => texts
            .iter()
            .map(|text| std::mem::size_of::<StringValue>() + text.as_str().len())
            .sum(),
        Value::Array(Array::I64(values)) => std::mem::size_of_val(values.as_slice()),
        Value::Array(Array::F64(values)) => std::mem::size_of_val(values.as_slice()),
        Value::Array(Array::Bool(values)) => std::mem::size_of_val(values.as_slice()),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::span_limits::test_span;

    #[test]
    fn the_size_grows_with_the_strings_a_span_holds() {
        let small = test_span(vec![KeyValue::new("url.path", "/")], vec![]);
        let large = test_span(vec![KeyValue::new("url.path", "/".repeat(100_000))], vec![]);
        assert!(approximate_bytes(&large) >= approximate_bytes(&small) + 99_999);
        assert!(approximate_bytes(&small) >= std::mem::size_of::<SpanData>());
    }
}
