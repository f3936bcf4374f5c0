//! Where telemetry leaves the process: the SDK providers wired to the exporters the
//! settings ask for ([`Pipelines::build`]): OTLP over gRPC or HTTP per signal (`otlp`), the
//! Prometheus exposition (`prometheus`), the counting wrappers and bounded span queue that
//! feed export health (`counting`, `span_queue`, `health`), span limits and the resource.
//! Every `cfg` of an exporter feature lives in this folder.

#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod counting;
pub(crate) mod health;
#[cfg(feature = "prometheus")]
mod openmetrics;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod otlp;
#[cfg(feature = "prometheus")]
mod prometheus;
mod resource;
pub(crate) mod span_limits;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
mod span_queue;

use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanProcessor};

use crate::config::{Sampler, Settings};
use crate::error::InstallError;
use crate::names;
use crate::spans::SpanPolicy;
use health::ExportCounters;
use span_limits::LimitedSpanProcessor;

pub use health::{ExportMonitor, ExporterStatus};
#[cfg(feature = "prometheus")]
pub use openmetrics::OPENMETRICS_CONTENT_TYPE;
#[cfg(feature = "prometheus")]
pub use prometheus::{PROMETHEUS_CONTENT_TYPE, PrometheusHandle, RenderError};

/// The providers of one telemetry installation and what they export to.
pub(crate) struct Pipelines {
    pub(crate) resource: Resource,
    pub(crate) tracer_provider: SdkTracerProvider,
    pub(crate) meter_provider: SdkMeterProvider,
    pub(crate) logger_provider: Option<SdkLoggerProvider>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<PrometheusHandle>,
    /// One per OTLP exporter, for export health.
    pub(crate) exporters: Vec<Arc<ExportCounters>>,
    /// When a prediction span is worth starting, given the sampler and the exporters.
    pub(crate) span_policy: SpanPolicy,
    /// Dropped after the providers (declared last), which shut down first.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    _runtime: otlp::ExportRuntime,
}

impl Pipelines {
    /// The providers and exporters `settings` ask for; `span_processors` are the user's
    /// own, added after the OTLP pipeline.
    pub(crate) fn build(
        settings: &Settings,
        span_processors: Vec<Box<dyn SpanProcessor>>,
    ) -> Result<Self, InstallError> {
        let resource = resource::build(settings);
        let sampler = if settings.sdk_disabled {
            Sampler::AlwaysOff
        } else {
            settings.sampler
        };
        let mut tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_limits(settings.span_limits.sdk())
            .with_sampler(sdk_sampler(sampler));
        #[cfg_attr(
            not(any(feature = "otlp-grpc", feature = "otlp-http", feature = "prometheus")),
            allow(unused_mut)
        )]
        let mut meter_provider = SdkMeterProvider::builder().with_resource(resource.clone());
        let tracing_exported = !span_processors.is_empty();

        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let (exporters, logger_provider, tracing_exported, runtime) = {
            let otlp = otlp::OtlpPipelines::build(settings, &resource)?;
            let tracing_exported = tracing_exported || otlp.span_processor.is_some();
            if let Some(processor) = otlp.span_processor {
                tracer_provider = tracer_provider.with_span_processor(processor);
            }
            if let Some(reader) = otlp.metric_reader {
                meter_provider = meter_provider.with_reader(reader);
            }
            (
                otlp.exporters,
                otlp.logger_provider,
                tracing_exported,
                otlp.runtime,
            )
        };
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        let (exporters, logger_provider) = (Vec::new(), None);

        #[cfg(feature = "prometheus")]
        let prometheus = if settings.prometheus {
            let (handle, reader) = PrometheusHandle::new()?;
            meter_provider = meter_provider.with_reader(reader);
            Some(handle)
        } else {
            None
        };

        for processor in span_processors {
            tracer_provider = tracer_provider.with_span_processor(LimitedSpanProcessor {
                inner: processor,
                limits: settings.span_limits,
            });
        }
        Ok(Self {
            resource,
            tracer_provider: tracer_provider.build(),
            meter_provider: meter_provider.build(),
            logger_provider,
            #[cfg(feature = "prometheus")]
            prometheus,
            exporters,
            span_policy: span_policy(!settings.sdk_disabled && tracing_exported, settings.sampler),
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            _runtime: runtime,
        })
    }

    /// The Prometheus exposition, if the `prometheus` exporter is on.
    #[cfg(feature = "prometheus")]
    pub(crate) fn prometheus(&self) -> Option<PrometheusHandle> {
        self.prometheus.clone()
    }

    /// Whether `/metrics` has something to show.
    pub(crate) fn has_prometheus(&self) -> bool {
        #[cfg(feature = "prometheus")]
        return self.prometheus.is_some();
        #[cfg(not(feature = "prometheus"))]
        false
    }
}

/// mlotel's instrumentation scope, for its tracer and meter.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(names::SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn sdk_sampler(sampler: Sampler) -> opentelemetry_sdk::trace::Sampler {
    use opentelemetry_sdk::trace::Sampler as Sdk;
    match sampler {
        Sampler::AlwaysOn => Sdk::AlwaysOn,
        Sampler::AlwaysOff => Sdk::AlwaysOff,
        Sampler::TraceIdRatio(ratio) => Sdk::TraceIdRatioBased(ratio),
        Sampler::ParentBasedAlwaysOn => Sdk::ParentBased(Box::new(Sdk::AlwaysOn)),
        Sampler::ParentBasedAlwaysOff => Sdk::ParentBased(Box::new(Sdk::AlwaysOff)),
        Sampler::ParentBasedTraceIdRatio(ratio) => {
            Sdk::ParentBased(Box::new(Sdk::TraceIdRatioBased(ratio)))
        }
    }
}

/// The span policy of `sampler` when spans are `exporting` somewhere.
fn span_policy(exporting: bool, sampler: Sampler) -> SpanPolicy {
    match sampler {
        _ if !exporting => SpanPolicy::Never,
        Sampler::AlwaysOff => SpanPolicy::Never,
        Sampler::ParentBasedAlwaysOn | Sampler::ParentBasedTraceIdRatio(_) => {
            SpanPolicy::FollowParent
        }
        Sampler::ParentBasedAlwaysOff => SpanPolicy::OnlySampledParent,
        Sampler::AlwaysOn | Sampler::TraceIdRatio(_) => SpanPolicy::Sdk,
    }
}
