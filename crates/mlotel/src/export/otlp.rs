//! The OTLP exporters (gRPC or HTTP/protobuf) of each signal, built from validated settings,
//! and what they plug into the providers: the bounded span pipeline, the periodic metric
//! reader, the log provider ([`OtlpPipelines`]).

#[cfg(feature = "otlp-http")]
use opentelemetry_otlp::WithHttpConfig;
#[cfg(feature = "otlp-grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};

use std::sync::Arc;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};

use super::counting::{CountingLogExporter, CountingMetricExporter};
use super::health::ExportCounters;
use super::span_queue::{BoundedSpanProcessor, SpanQueueLimits, bounded_span_pipeline};
use crate::config::{OtlpTarget, Protocol, Settings, Signal};
use crate::error::InstallError;
use crate::redact::RedactedEndpoint;

/// The batch span processor behind the bounded queue, exporting over OTLP.
type OtlpSpanProcessor = BoundedSpanProcessor<BatchSpanProcessor>;

/// What the OTLP exporters the settings ask for add to the providers.
pub(crate) struct OtlpPipelines {
    pub(crate) span_processor: Option<OtlpSpanProcessor>,
    pub(crate) metric_reader:
        Option<PeriodicReader<CountingMetricExporter<opentelemetry_otlp::MetricExporter>>>,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    pub(crate) exporters: Vec<Arc<ExportCounters>>,
    pub(crate) runtime: ExportRuntime,
}

impl OtlpPipelines {
    pub(crate) fn build(settings: &Settings, resource: &Resource) -> Result<Self, InstallError> {
        let mut runtime = ExportRuntime::new();
        let mut exporters = Vec::new();
        let mut counters_for = |signal: Signal, target: &OtlpTarget| {
            let counters = ExportCounters::new(
                signal,
                component_type(signal, target.protocol),
                &target.endpoint,
            );
            exporters.push(Arc::clone(&counters));
            counters
        };
        let span_processor = match &settings.traces {
            Some(target) => {
                let exporter = span_exporter(&mut runtime, target)?;
                let limits = SpanQueueLimits {
                    spans: settings.span_queue_capacity,
                    bytes: settings.span_queue_max_bytes,
                    span: settings.span_limits,
                };
                Some(bounded_span_pipeline(
                    exporter,
                    counters_for(Signal::Traces, target),
                    limits,
                    |exporter| {
                        let mut config = BatchConfigBuilder::default()
                            .with_max_queue_size(settings.span_queue_capacity);
                        if let Some(delay) = settings.span_schedule_delay {
                            config = config.with_scheduled_delay(delay);
                        }
                        BatchSpanProcessor::builder(exporter)
                            .with_batch_config(config.build())
                            .build()
                    },
                ))
            }
            None => None,
        };
        let metric_reader = match &settings.metrics {
            Some(target) => {
                let exporter = CountingMetricExporter {
                    inner: metric_exporter(&mut runtime, target)?,
                    counters: counters_for(Signal::Metrics, target),
                };
                Some(
                    PeriodicReader::builder(exporter)
                        .with_interval(settings.metric_export_interval)
                        .build(),
                )
            }
            None => None,
        };
        let logger_provider = match &settings.logs {
            Some(target) => Some(
                SdkLoggerProvider::builder()
                    .with_resource(resource.clone())
                    .with_batch_exporter(CountingLogExporter {
                        inner: log_exporter(&mut runtime, target)?,
                        counters: counters_for(Signal::Logs, target),
                    })
                    .build(),
            ),
            None => None,
        };
        Ok(Self {
            span_processor,
            metric_reader,
            logger_provider,
            exporters,
            runtime,
        })
    }
}

/// The Tokio runtime the gRPC exporters run on. It is our own (one worker thread) so the
/// exporters work the same whether the application uses Tokio, actix (one current-thread
/// runtime per worker) or no runtime at all.
pub(crate) struct ExportRuntime {
    #[cfg(feature = "otlp-grpc")]
    runtime: Option<tokio::runtime::Runtime>,
}

impl ExportRuntime {
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(feature = "otlp-grpc")]
            runtime: None,
        }
    }

    #[cfg(feature = "otlp-grpc")]
    fn enter(&mut self) -> Result<tokio::runtime::EnterGuard<'_>, InstallError> {
        let runtime = match &mut self.runtime {
            Some(runtime) => runtime,
            empty @ None => empty.insert(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("mlotel-export")
                    .enable_all()
                    .build()
                    .map_err(InstallError::Runtime)?,
            ),
        };
        Ok(runtime.enter())
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime's async context;
        // the exporters were shut down before this, so nothing is left to wait for.
        #[cfg(feature = "otlp-grpc")]
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Semantic-convention `otel.component.type` of the exporter of `signal` over `protocol`.
fn component_type(signal: Signal, protocol: Protocol) -> &'static str {
    match (protocol, signal) {
        (Protocol::Grpc, Signal::Traces) => "otlp_grpc_span_exporter",
        (Protocol::Grpc, Signal::Metrics) => "otlp_grpc_metric_exporter",
        (Protocol::Grpc, Signal::Logs) => "otlp_grpc_log_exporter",
        (Protocol::HttpProtobuf, Signal::Traces) => "otlp_http_span_exporter",
        (Protocol::HttpProtobuf, Signal::Metrics) => "otlp_http_metric_exporter",
        (Protocol::HttpProtobuf, Signal::Logs) => "otlp_http_log_exporter",
    }
}

macro_rules! build_exporter {
    ($runtime:expr, $target:expr, $signal:expr, $builder:expr) => {{
        let target: &OtlpTarget = $target;
        let result: Result<_, ExporterBuildError> = match target.protocol {
            #[cfg(feature = "otlp-grpc")]
            Protocol::Grpc => {
                let _entered = $runtime.enter()?;
                $builder
                    .with_tonic()
                    .with_endpoint(target.endpoint.clone())
                    .with_timeout(target.timeout)
                    .with_metadata(grpc_metadata(&target.headers))
                    .build()
            }
            #[cfg(feature = "otlp-http")]
            Protocol::HttpProtobuf => $builder
                .with_http()
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_endpoint(target.endpoint.clone())
                .with_timeout(target.timeout)
                .with_headers(http_headers(&target.headers))
                .build(),
            #[allow(unreachable_patterns)]
            _ => unreachable!("config rejects protocols whose feature is off"),
        };
        result.map_err(|error| {
            let endpoint = RedactedEndpoint::new(&target.endpoint);
            InstallError::Exporter {
                signal: $signal.name(),
                endpoint: endpoint.display().to_owned(),
                message: endpoint.scrub(&error.to_string()),
            }
        })
    }};
}

// Only the gRPC exporters run on the export runtime.
#[cfg_attr(not(feature = "otlp-grpc"), allow(unused_variables))]
fn span_exporter(
    runtime: &mut ExportRuntime,
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::SpanExporter, InstallError> {
    build_exporter!(
        runtime,
        target,
        Signal::Traces,
        opentelemetry_otlp::SpanExporter::builder()
    )
}

// Only the gRPC exporters run on the export runtime.
#[cfg_attr(not(feature = "otlp-grpc"), allow(unused_variables))]
fn metric_exporter(
    runtime: &mut ExportRuntime,
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::MetricExporter, InstallError> {
    build_exporter!(
        runtime,
        target,
        Signal::Metrics,
        opentelemetry_otlp::MetricExporter::builder()
    )
}

// Only the gRPC exporters run on the export runtime.
#[cfg_attr(not(feature = "otlp-grpc"), allow(unused_variables))]
fn log_exporter(
    runtime: &mut ExportRuntime,
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::LogExporter, InstallError> {
    build_exporter!(
        runtime,
        target,
        Signal::Logs,
        opentelemetry_otlp::LogExporter::builder()
    )
}

#[cfg(feature = "otlp-grpc")]
fn grpc_metadata(
    headers: &[(String, String)],
) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        // Names and values were validated by the config module.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(map)
}

#[cfg(feature = "otlp-http")]
fn http_headers(headers: &[(String, String)]) -> std::collections::HashMap<String, String> {
    headers.iter().cloned().collect()
}
