//! What the exporters have done: items sent, failed and dropped per signal, the last
//! success, rate-limited failure logs, and the `otel.sdk.*` self-metrics that expose them.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::metrics::Meter;

use crate::config::Signal;
use crate::names::{self, InstrumentSpec, attr};
use crate::redact::RedactedEndpoint;

/// How often at most a failing exporter logs; the failures in between are counted.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
pub(crate) const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Counters of one exporter, updated by the exporter wrappers.
#[derive(Debug)]
pub(crate) struct ExportCounters {
    signal: Signal,
    component_type: &'static str,
    /// Shown without user info or query; the exporter's errors are scrubbed of them too.
    endpoint: RedactedEndpoint,
    exported: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    queued: AtomicU64,
    last_success_unix_ms: AtomicU64,
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    last_failure_log_unix_ms: AtomicU64,
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    failures_since_log: AtomicU64,
    failing: AtomicBool,
    last_error: Mutex<Option<String>>,
}

// Only the OTLP exporters' wrappers record; the counters are read either way.
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
impl ExportCounters {
    pub(crate) fn new(signal: Signal, component_type: &'static str, endpoint: &str) -> Arc<Self> {
        Arc::new(Self {
            signal,
            component_type,
            endpoint: RedactedEndpoint::new(endpoint),
            exported: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            last_success_unix_ms: AtomicU64::new(0),
            last_failure_log_unix_ms: AtomicU64::new(0),
            failures_since_log: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            last_error: Mutex::new(None),
        })
    }

    pub(crate) fn record_success(&self, items: u64) {
        self.exported.fetch_add(items, Ordering::Relaxed);
        self.last_success_unix_ms
            .store(unix_millis(SystemTime::now()), Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!(
                target: "mlotel::export",
                signal = self.signal.name(),
                endpoint = %self.endpoint.display(),
                "telemetry export recovered"
            );
        }
    }

    pub(crate) fn record_failure(&self, items: u64, error: &dyn std::fmt::Display) {
        self.failed.fetch_add(items, Ordering::Relaxed);
        self.failing.store(true, Ordering::Relaxed);
        let message = self.endpoint.scrub(&error.to_string());
        if let Ok(mut last_error) = self.last_error.lock() {
            *last_error = Some(message.clone());
        }
        let suppressed = self.failures_since_log.fetch_add(1, Ordering::Relaxed);
        let now = unix_millis(SystemTime::now());
        let last = self.last_failure_log_unix_ms.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_sub(last) >= FAILURE_LOG_INTERVAL.as_millis() as u64;
        // One thread wins the right to log for this interval; the others only count.
        if due
            && self
                .last_failure_log_unix_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.failures_since_log.store(0, Ordering::Relaxed);
            tracing::warn!(
                target: "mlotel::export",
                signal = self.signal.name(),
                endpoint = %self.endpoint.display(),
                error = %message,
                failures_not_logged = suppressed,
                items_failed_total = self.failed.load(Ordering::Relaxed),
                "telemetry export failed; the service keeps running and retries on the next batch \
                 (logged at most once a minute)"
            );
        }
    }

    pub(crate) fn record_dropped(&self, items: u64) {
        self.dropped.fetch_add(items, Ordering::Relaxed);
    }

    pub(crate) fn record_queued(&self) {
        self.queued.fetch_add(1, Ordering::Relaxed);
    }
}

impl ExportCounters {
    pub(crate) fn signal(&self) -> Signal {
        self.signal
    }

    /// Items failed or dropped so far: what never reached the receiver.
    pub(crate) fn lost(&self) -> u64 {
        self.failed.load(Ordering::Relaxed) + self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn status(&self) -> ExporterStatus {
        let last_success = match self.last_success_unix_ms.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(UNIX_EPOCH + Duration::from_millis(millis)),
        };
        ExporterStatus {
            signal: self.signal.name(),
            component_type: self.component_type,
            endpoint: self.endpoint.display().to_owned(),
            exported: self.exported.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            last_success,
            last_error: self.last_error.lock().ok().and_then(|error| error.clone()),
            failing: self.failing.load(Ordering::Relaxed),
        }
    }
}

/// Reads the health of a [`Telemetry`](crate::Telemetry)'s exporters; clones share them
/// (from [`Telemetry::export_monitor`](crate::Telemetry::export_monitor)).
#[derive(Debug, Clone)]
pub struct ExportMonitor {
    pub(crate) exporters: Arc<[Arc<ExportCounters>]>,
}

impl ExportMonitor {
    /// Health of each OTLP exporter: items sent, failed and dropped, last success.
    pub fn status(&self) -> Vec<ExporterStatus> {
        self.exporters
            .iter()
            .map(|counters| counters.status())
            .collect()
    }
}

/// A snapshot of one exporter's health, for health endpoints and dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExporterStatus {
    /// `traces`, `metrics` or `logs`.
    pub signal: &'static str,
    /// Semantic-convention component type, e.g. `otlp_grpc_span_exporter`.
    pub component_type: &'static str,
    /// Where the exporter sends.
    pub endpoint: String,
    /// Items (spans, metric data points, log records) delivered.
    pub exported: u64,
    /// Items whose export failed (they are not retried later).
    pub failed: u64,
    /// Items dropped before export because the queue was full.
    pub dropped: u64,
    /// When the last export succeeded, if ever.
    pub last_success: Option<SystemTime>,
    /// The last export error, if any.
    pub last_error: Option<String>,
    /// Whether the last export failed (it has not recovered since).
    pub failing: bool,
}

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Registers the `otel.sdk.*` observable counters that report every exporter's counters.
pub(crate) fn observe_on(meter: &Meter, exporters: &[Arc<ExportCounters>]) {
    for (spec, signal) in [
        (names::EXPORTER_SPANS, Signal::Traces),
        (names::EXPORTER_METRIC_POINTS, Signal::Metrics),
        (names::EXPORTER_LOGS, Signal::Logs),
    ] {
        let of_signal: Vec<_> = exporters
            .iter()
            .filter(|counters| counters.signal == signal)
            .cloned()
            .collect();
        if of_signal.is_empty() {
            continue;
        }
        observable_counter(meter, spec, None, of_signal, |counters| {
            [
                (counters.exported.load(Ordering::Relaxed), None),
                (
                    counters.failed.load(Ordering::Relaxed),
                    Some("export_failed"),
                ),
            ]
        });
    }
    let spans: Vec<_> = exporters
        .iter()
        .filter(|counters| counters.signal == Signal::Traces)
        .cloned()
        .collect();
    if !spans.is_empty() {
        let processor = Some("batching_span_processor");
        observable_counter(
            meter,
            names::PROCESSOR_SPANS,
            processor,
            spans,
            |counters| {
                [
                    (counters.queued.load(Ordering::Relaxed), None),
                    (counters.dropped.load(Ordering::Relaxed), Some("queue_full")),
                ]
            },
        );
    }
}

/// A count, and the `error.type` of the series it belongs to (`None`: the success series).
type CountWithErrorType = (u64, Option<&'static str>);

fn observable_counter(
    meter: &Meter,
    spec: InstrumentSpec,
    component_type: Option<&'static str>,
    exporters: Vec<Arc<ExportCounters>>,
    read: fn(&ExportCounters) -> [CountWithErrorType; 2],
) {
    let _registered = meter
        .u64_observable_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_callback(move |observer| {
            for counters in &exporters {
                let component = KeyValue::new(
                    attr::OTEL_COMPONENT_TYPE,
                    component_type.unwrap_or(counters.component_type),
                );
                for (value, error_type) in read(counters) {
                    match error_type {
                        // A failure series appears only once something failed.
                        Some(error_type) if value > 0 => observer.observe(
                            value,
                            &[
                                component.clone(),
                                KeyValue::new(attr::ERROR_TYPE, error_type),
                            ],
                        ),
                        Some(_) => {}
                        None => observer.observe(value, std::slice::from_ref(&component)),
                    }
                }
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_success_is_timestamped() {
        let counters = ExportCounters::new(Signal::Traces, "otlp_grpc_span_exporter", "http://x");
        counters.record_failure(3, &"connection refused");
        counters.record_failure(2, &"connection refused");
        counters.record_dropped(4);
        let status = counters.status();
        assert_eq!((status.exported, status.failed, status.dropped), (0, 5, 4));
        assert!(status.last_success.is_none());
        assert_eq!(status.last_error.as_deref(), Some("connection refused"));
        counters.record_success(7);
        let status = counters.status();
        assert_eq!(status.exported, 7);
        assert!(status.last_success.is_some());
    }

    #[test]
    fn only_the_first_failure_of_an_interval_is_logged() {
        let counters =
            ExportCounters::new(Signal::Metrics, "otlp_http_metric_exporter", "http://x");
        counters.record_failure(1, &"refused");
        let logged_at = counters.last_failure_log_unix_ms.load(Ordering::Relaxed);
        assert_ne!(logged_at, 0);
        counters.record_failure(1, &"refused");
        counters.record_failure(1, &"refused");
        assert_eq!(
            counters.last_failure_log_unix_ms.load(Ordering::Relaxed),
            logged_at
        );
        assert_eq!(counters.failures_since_log.load(Ordering::Relaxed), 2);
    }
}
