//! Builds the OTLP exporters (gRPC or HTTP/protobuf) for each signal from validated settings.

#[cfg(feature = "otlp-http")]
use opentelemetry_otlp::WithHttpConfig;
#[cfg(feature = "otlp-grpc")]
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_otlp::{ExporterBuildError, WithExportConfig};

use crate::config::{OtlpTarget, Protocol, Signal};
use crate::error::InstallError;
use crate::redact::RedactedEndpoint;

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
pub(crate) fn component_type(signal: Signal, protocol: Protocol) -> &'static str {
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
pub(crate) fn span_exporter(
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
pub(crate) fn metric_exporter(
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
pub(crate) fn log_exporter(
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
