//! A span exporter for measuring the span pipeline without its output.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// A span exporter that counts and drops what it is given: the pipeline runs in full up to
/// the exporter (sampling, recording, a batch processor's queue and thread) with no
/// serialisation or network. Clones share the count. The SDK's own `NoopSpanExporter` counts
/// nothing and needs its `testing` feature, which would change the SDK's features for the
/// whole workspace.
#[derive(Debug, Clone, Default)]
pub struct DiscardSpans {
    exported: Arc<AtomicU64>,
}

impl DiscardSpans {
    /// Spans handed to the exporter so far (a batch processor drops spans when its queue is
    /// full, so this can be fewer than were ended).
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }
}

impl SpanExporter for DiscardSpans {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        drop(batch);
        std::future::ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_sdk::trace::{SdkTracerProvider, SimpleSpanProcessor};

    use super::DiscardSpans;

    #[test]
    fn counts_what_it_drops_across_clones() {
        use opentelemetry::trace::{Tracer as _, TracerProvider as _};
        let exporter = DiscardSpans::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
            .build();
        let tracer = provider.tracer("testkit");
        for _ in 0..3 {
            tracer.in_span("dropped", |_| {});
        }
        assert_eq!(exporter.exported(), 3);
        provider.shutdown().expect("shuts down");
    }
}
