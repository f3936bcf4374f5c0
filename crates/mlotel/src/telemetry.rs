//! The one entry point of set-up: [`Telemetry::builder`] assembles the tracer, meter and
//! logger providers, their exporters and the `tracing` bridge; the returned [`Telemetry`]
//! flushes everything when shut down or dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{InstrumentationScope, global};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanProcessor};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{self, CodeSettings, Env, Protocol, Sampler, Settings, Signal};
use crate::error::InstallError;
use crate::export_health::{self, ExportCounters, ExportMonitor, ExporterStatus};
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::export_wrappers::{
    CountingLogExporter, CountingMetricExporter, SpanQueueLimits, bounded_span_pipeline,
};
use crate::logging::{self, JsonLogFormat};
use crate::model::{Model, ModelBuilder, ModelSet, ModelState, SpanPolicy, TracingState};
use crate::names;
#[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
use crate::otlp::{self, ExportRuntime};
#[cfg(feature = "prometheus")]
use crate::prometheus::PrometheusHandle;
use crate::registry;
use crate::resource;
use crate::span_limits::SpanLimitSettings;

/// Configures telemetry in code; every value can be overridden by its `OTEL_*` variable.
#[must_use = "call build() or install()"]
pub struct TelemetryBuilder {
    code: CodeSettings,
    env: Option<Env>,
    install_logging: bool,
    span_processors: Vec<Box<dyn SpanProcessor>>,
}

impl std::fmt::Debug for TelemetryBuilder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TelemetryBuilder")
            .field("code", &self.code)
            .field("env", &self.env)
            .field("install_logging", &self.install_logging)
            .field("span_processors", &self.span_processors.len())
            .finish()
    }
}

impl TelemetryBuilder {
    /// `service.name` (overridden by `OTEL_SERVICE_NAME`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.code.service_name = Some(name.into());
        self
    }

    /// `service.version`, e.g. `env!("CARGO_PKG_VERSION")`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.code.service_version = Some(version.into());
        self
    }

    /// An extra resource attribute, e.g. `deployment.environment.name`.
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.code
            .resource_attributes
            .push((key.into(), value.into()));
        self
    }

    /// Base URL of the OTLP receiver, as `OTEL_EXPORTER_OTLP_ENDPOINT` takes it
    /// (`http://collector:4317` for gRPC, `http://collector:4318` for HTTP).
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.code.endpoint = Some(endpoint.into());
        self
    }

    /// OTLP transport for every signal (default HTTP/protobuf, as the specification says).
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.code.protocol = Some(protocol);
        self
    }

    /// A header sent with every export request (authentication, tenant).
    pub fn otlp_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.code.headers.push((name.into(), value.into()));
        self
    }

    /// Timeout of one export request (default 10 s).
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.code.export_timeout = Some(timeout);
        self
    }

    /// The trace sampler (default parent-based always-on).
    pub fn sampler(mut self, sampler: Sampler) -> Self {
        self.code.sampler = Some(sampler);
        self
    }

    /// How often metrics are pushed over OTLP (default 60 s).
    pub fn metric_export_interval(mut self, interval: Duration) -> Self {
        self.code.metric_export_interval = Some(interval);
        self
    }

    /// Bytes of finished spans waiting for export at most (default 32 MiB), next to
    /// `OTEL_BSP_MAX_QUEUE_SIZE` spans: beyond either, spans are dropped and counted, so a
    /// slow or unreachable collector cannot grow memory without bound.
    pub fn span_queue_max_bytes(mut self, bytes: usize) -> Self {
        self.code.span_queue_max_bytes = Some(bytes);
        self
    }

    /// The longest [`Telemetry::shutdown`] (and drop) may take, all signals together
    /// (default 5 s): what is not exported by then is reported as lost. Keep it under your
    /// platform's stop timeout (Docker and Kubernetes wait 10 s and 30 s before killing)
    /// minus the time the service needs to drain its requests.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.code.shutdown_timeout = Some(timeout);
        self
    }

    /// Trace exporters, as `OTEL_TRACES_EXPORTER` takes them: `otlp` or `none`.
    pub fn traces_exporter(mut self, exporters: impl Into<String>) -> Self {
        self.code.traces_exporter = Some(exporters.into());
        self
    }

    /// Metric exporters, as `OTEL_METRICS_EXPORTER` takes them: a comma-separated list of
    /// `otlp` and `prometheus`, or `none` (default `otlp,prometheus`).
    pub fn metrics_exporter(mut self, exporters: impl Into<String>) -> Self {
        self.code.metrics_exporter = Some(exporters.into());
        self
    }

    /// Log exporters, as `OTEL_LOGS_EXPORTER` takes them: `otlp` or `none` (default `none`:
    /// logs go to stdout as JSON lines either way).
    pub fn logs_exporter(mut self, exporters: impl Into<String>) -> Self {
        self.code.logs_exporter = Some(exporters.into());
        self
    }

    /// Reads mlotel's configuration from these variables instead of the process environment
    /// (for tests, or to embed mlotel in a program with its own configuration). The
    /// OpenTelemetry exporters still read a few variables of their own from the process
    /// (`OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_BLRP_*`, extra `..._HEADERS`).
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(Env::from_pairs(vars));
        self
    }

    /// Adds a span processor of your own (e.g. a `BatchSpanProcessor` with another
    /// exporter), next to the OTLP one. Spans reach it as long as the SDK is enabled and
    /// the sampler keeps them, whatever `OTEL_TRACES_EXPORTER` says.
    pub fn span_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.span_processors.push(Box::new(processor));
        self
    }

    /// Whether [`install`](Self::install) also sets the global `tracing` subscriber (JSON
    /// lines on stdout plus the OpenTelemetry bridge). Default `true`.
    pub fn install_logging(mut self, install: bool) -> Self {
        self.install_logging = install;
        self
    }

    /// Builds the providers and exporters without touching any global state.
    pub fn build(self) -> Result<Telemetry, InstallError> {
        let env = self.env.unwrap_or_else(Env::from_process);
        let settings = config::resolve(&self.code, &env)?;
        Telemetry::from_settings(settings, env, self.span_processors)
    }

    /// Builds, then installs globally: the OpenTelemetry tracer and meter providers, the
    /// W3C trace-context and baggage propagators, and (unless turned off) the `tracing`
    /// subscriber. Keep the returned guard alive for the life of the program.
    pub fn install(self) -> Result<Telemetry, InstallError> {
        let install_logging = self.install_logging;
        let telemetry = self.build()?;
        if install_logging {
            let subscriber = tracing_subscriber::registry()
                .with(logging::env_filter(telemetry.rust_log.as_deref()))
                .with(
                    tracing_subscriber::fmt::layer()
                        .event_format(JsonLogFormat)
                        .with_writer(std::io::stdout),
                )
                .with(telemetry.tracing_layer());
            tracing::subscriber::set_global_default(subscriber)
                .map_err(|_| InstallError::SubscriberAlreadySet)?;
        }
        // A disabled SDK must not touch propagation: its always-off sampler would clear the
        // sampled flag of every trace passing through.
        if !telemetry.sdk_disabled {
            global::set_tracer_provider(telemetry.tracer_provider.clone());
            global::set_meter_provider(telemetry.meter_provider.clone());
            registry::install(
                telemetry.meter(),
                Arc::clone(&telemetry.models),
                Arc::clone(&telemetry.tracing),
            );
            global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
                Box::new(TraceContextPropagator::new()),
                Box::new(BaggagePropagator::new()),
            ]));
        }
        for warning in &telemetry.warnings {
            tracing::warn!(target: "mlotel", "{warning}");
        }
        tracing::info!(
            target: "mlotel",
            service = %telemetry.service_name,
            traces = %telemetry.exporters_of(Signal::Traces),
            metrics = %telemetry.exporters_of(Signal::Metrics),
            prometheus = telemetry.has_prometheus(),
            "telemetry installed"
        );
        Ok(telemetry)
    }
}

/// Installed telemetry. Shut it down (or drop it) at exit: that flushes what was recorded.
///
/// Shutting down blocks while the last exports finish (at most the export timeout plus a
/// second per signal); from async code call it in `spawn_blocking`.
#[must_use = "dropping Telemetry shuts telemetry down at once"]
pub struct Telemetry {
    service_name: String,
    resource: opentelemetry_sdk::Resource,
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    logger_provider: Option<SdkLoggerProvider>,
    #[cfg(feature = "prometheus")]
    prometheus: Option<PrometheusHandle>,
    exporters: Vec<Arc<ExportCounters>>,
    warnings: Vec<String>,
    rust_log: Option<String>,
    sdk_disabled: bool,
    /// The whole of shutdown at most.
    shutdown_timeout: Duration,
    shut_down: bool,
    /// Models bound to this meter provider: its collections hand their stripes over.
    models: Arc<ModelSet>,
    tracing: Arc<TracingState>,
    /// Declared last so it is dropped after the providers have shut down.
    #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
    _runtime: ExportRuntime,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Telemetry")
            .field("service_name", &self.service_name)
            .field("exporters", &self.export_status())
            .finish_non_exhaustive()
    }
}

/// Some provider failed to flush or shut down; what it recorded may be partly lost.
#[derive(Debug, thiserror::Error)]
#[error("telemetry shutdown incomplete: {}", .failures.join("; "))]
pub struct ShutdownError {
    /// One entry per signal that failed, with the SDK's reason.
    pub failures: Vec<String>,
}

impl Telemetry {
    /// Starts configuring telemetry.
    pub fn builder() -> TelemetryBuilder {
        TelemetryBuilder {
            code: CodeSettings::default(),
            env: None,
            install_logging: true,
            span_processors: Vec::new(),
        }
    }

    fn from_settings(
        settings: Settings,
        env: Env,
        span_processors: Vec<Box<dyn SpanProcessor>>,
    ) -> Result<Self, InstallError> {
        let resource = resource::build(&settings);
        let resource_for_status = resource.clone();
        #[cfg_attr(
            not(any(feature = "otlp-grpc", feature = "otlp-http")),
            allow(unused_mut)
        )]
        let mut exporters = Vec::new();
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let mut runtime = ExportRuntime::new();
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let mut counters_for = |signal: Signal, target: &config::OtlpTarget| {
            let counters = ExportCounters::new(
                signal,
                otlp::component_type(signal, target.protocol),
                &target.endpoint,
            );
            exporters.push(Arc::clone(&counters));
            counters
        };

        #[cfg_attr(
            not(any(feature = "otlp-grpc", feature = "otlp-http")),
            allow(unused_mut)
        )]
        let mut tracer_provider = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_limits(settings.span_limits.sdk())
            .with_sampler(sdk_sampler(if settings.sdk_disabled {
                Sampler::AlwaysOff
            } else {
                settings.sampler
            }));
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        if let Some(target) = &settings.traces {
            let exporter = otlp::span_exporter(&mut runtime, target)?;
            let limits = SpanQueueLimits {
                spans: settings.span_queue_capacity,
                bytes: settings.span_queue_max_bytes,
                span: settings.span_limits,
            };
            let processor = bounded_span_pipeline(
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
            );
            tracer_provider = tracer_provider.with_span_processor(processor);
        }

        #[cfg_attr(
            not(any(feature = "otlp-grpc", feature = "otlp-http", feature = "prometheus")),
            allow(unused_mut)
        )]
        let mut meter_provider = SdkMeterProvider::builder().with_resource(resource.clone());
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        if let Some(target) = &settings.metrics {
            let exporter = CountingMetricExporter {
                inner: otlp::metric_exporter(&mut runtime, target)?,
                counters: counters_for(Signal::Metrics, target),
            };
            meter_provider = meter_provider.with_reader(
                PeriodicReader::builder(exporter)
                    .with_interval(settings.metric_export_interval)
                    .build(),
            );
        }
        #[cfg(feature = "prometheus")]
        let prometheus = if settings.prometheus {
            let (handle, reader) = PrometheusHandle::new()?;
            meter_provider = meter_provider.with_reader(reader);
            Some(handle)
        } else {
            None
        };

        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        let logger_provider: Option<SdkLoggerProvider> = None;
        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let logger_provider = match &settings.logs {
            Some(target) => Some(
                SdkLoggerProvider::builder()
                    .with_resource(resource)
                    .with_batch_exporter(CountingLogExporter {
                        inner: otlp::log_exporter(&mut runtime, target)?,
                        counters: counters_for(Signal::Logs, target),
                    })
                    .build(),
            ),
            None => None,
        };

        #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
        let tracing_exported = settings.traces.is_some() || !span_processors.is_empty();
        #[cfg(not(any(feature = "otlp-grpc", feature = "otlp-http")))]
        let tracing_exported = !span_processors.is_empty();
        for processor in span_processors {
            tracer_provider = tracer_provider.with_span_processor(BoxedSpanProcessor {
                inner: processor,
                limits: settings.span_limits,
            });
        }
        let tracer_provider = tracer_provider.build();
        let telemetry = Self {
            service_name: settings.service_name,
            resource: resource_for_status,
            meter_provider: meter_provider.build(),
            logger_provider,
            #[cfg(feature = "prometheus")]
            prometheus,
            exporters,
            warnings: settings.warnings,
            rust_log: env.rust_log(),
            sdk_disabled: settings.sdk_disabled,
            shutdown_timeout: settings.shutdown_timeout,
            shut_down: false,
            models: Arc::new(ModelSet::default()),
            tracing: Arc::new(TracingState {
                tracer: tracer_provider.tracer_with_scope(scope()),
                policy: SpanPolicy::new(
                    !settings.sdk_disabled && tracing_exported,
                    settings.sampler,
                ),
            }),
            tracer_provider,
            #[cfg(any(feature = "otlp-grpc", feature = "otlp-http"))]
            _runtime: runtime,
        };
        telemetry.models.register_collection(&telemetry.meter());
        export_health::register_self_metrics(&telemetry.meter(), &telemetry.exporters);
        Ok(telemetry)
    }

    /// Configuration problems that did not stop start-up (logged by `install()`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The resolved `service.name`.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// The resource every signal carries (`service.name`, `service.version`,
    /// `deployment.environment.name`, ...), as resolved from code and the environment.
    pub fn resource(&self) -> &opentelemetry_sdk::Resource {
        &self.resource
    }

    /// A cheap, cloneable reader of [`Telemetry::export_status`], for health endpoints
    /// that outlive a borrow of the `Telemetry`.
    pub fn export_monitor(&self) -> ExportMonitor {
        ExportMonitor {
            exporters: self.exporters.clone().into(),
        }
    }

    /// The tracer provider (already global after [`TelemetryBuilder::install`]).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider (already global after [`TelemetryBuilder::install`]).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// mlotel's meter, for instruments of your own that should share the pipeline.
    pub fn meter(&self) -> opentelemetry::metrics::Meter {
        use opentelemetry::metrics::MeterProvider as _;
        self.meter_provider.meter_with_scope(scope())
    }

    fn tracer(&self) -> SdkTracer {
        self.tracer_provider.tracer_with_scope(scope())
    }

    /// Creates the telemetry of one model version bound to this `Telemetry` only, e.g.
    /// `telemetry.model(Model::builder("iris").version("2.0.0"))`. For `#[instrument_ml]`
    /// register models with [`ModelBuilder::register`] instead.
    ///
    /// A drift reference whose features differ from the model's is logged as an error and
    /// left out, as [`ModelBuilder::register`] does.
    pub fn model(&self, model: ModelBuilder) -> Model {
        let model = model.dropping_mismatched_reference();
        let state = Arc::new(ModelState::new(model, Some(Arc::clone(&self.tracing))));
        state.bind(&self.meter(), &self.models);
        Model { state }
    }

    /// The Prometheus exposition of every instrument, if the `prometheus` exporter is on.
    #[cfg(feature = "prometheus")]
    pub fn prometheus(&self) -> Option<PrometheusHandle> {
        self.prometheus.clone()
    }

    fn has_prometheus(&self) -> bool {
        #[cfg(feature = "prometheus")]
        return self.prometheus.is_some();
        #[cfg(not(feature = "prometheus"))]
        false
    }

    /// Health of each OTLP exporter: items sent, failed and dropped, last success.
    pub fn export_status(&self) -> Vec<ExporterStatus> {
        self.export_monitor().status()
    }

    /// `component endpoint` of each exporter of `signal`, or `none`, for the start-up log.
    fn exporters_of(&self, signal: Signal) -> String {
        let exporters: Vec<_> = self
            .export_status()
            .into_iter()
            .filter(|status| status.signal == signal.name())
            .map(|status| format!("{} {}", status.component_type, status.endpoint))
            .collect();
        if exporters.is_empty() {
            "none".to_owned()
        } else {
            exporters.join(", ")
        }
    }

    /// A `tracing` layer that turns `tracing` spans into OpenTelemetry spans (nesting with
    /// mlotel's own) and, when OTLP logs are on, events into log records. Add it to your
    /// own subscriber when you [`build`](TelemetryBuilder::build) instead of installing.
    pub fn tracing_layer<S>(&self) -> Box<dyn Layer<S> + Send + Sync + 'static>
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let spans = tracing_opentelemetry::layer()
            .with_tracer(self.tracer())
            .with_error_records_to_exceptions(true);
        // Not an `Option` layer: a `None` layer reports a max level of OFF, which would
        // disable every `tracing` span of a subscriber made of this layer alone.
        match &self.logger_provider {
            Some(provider) => {
                let logs = opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(
                    provider,
                )
                .with_filter(filter_fn(|metadata| {
                    !logging::is_export_internal(metadata.target())
                }));
                Box::new(spans.and_then(logs))
            }
            None => Box::new(spans),
        }
    }

    /// Exports everything recorded so far, waiting for the exporters.
    pub fn force_flush(&self) -> Result<(), ShutdownError> {
        let mut failures = Vec::new();
        if let Err(error) = self.tracer_provider.force_flush() {
            failures.push(format!("traces: {error}"));
        }
        if let Err(error) = self.meter_provider.force_flush() {
            failures.push(format!("metrics: {error}"));
        }
        if let Some(Err(error)) = self
            .logger_provider
            .as_ref()
            .map(SdkLoggerProvider::force_flush)
        {
            failures.push(format!("logs: {error}"));
        }
        into_result(failures)
    }

    /// Flushes and stops every provider, within the shutdown timeout (5 s unless
    /// [`TelemetryBuilder::shutdown_timeout`] says otherwise); recording afterwards is a
    /// no-op.
    ///
    /// An error says what was not delivered (no collector listening, a collector too slow
    /// for the deadline): telemetry was lost, the program itself did nothing wrong. Report
    /// it and exit normally, e.g. `if let Err(lost) = telemetry.shutdown() { eprintln!("{lost}") }`.
    pub fn shutdown(mut self) -> Result<(), ShutdownError> {
        self.shutdown_providers()
    }

    fn shutdown_providers(&mut self) -> Result<(), ShutdownError> {
        if std::mem::replace(&mut self.shut_down, true) {
            return Ok(());
        }
        let deadline = Instant::now() + self.shutdown_timeout;
        let lost_before: Vec<u64> = self
            .exporters
            .iter()
            .map(|counters| counters.lost())
            .collect();
        let sdk_errors = shut_down_within(self.providers(), deadline);
        let failures = [Signal::Traces, Signal::Metrics, Signal::Logs]
            .into_iter()
            .filter_map(|signal| {
                let sdk_error = sdk_errors
                    .iter()
                    .find(|(failed, _)| *failed == signal)
                    .map(|(_, error)| error);
                let lost_now: Vec<_> = self
                    .exporters
                    .iter()
                    .zip(&lost_before)
                    .filter(|(counters, _)| counters.signal() == signal)
                    .map(|(counters, before)| (counters.status(), counters.lost() - before))
                    .filter(|(_, lost)| *lost > 0)
                    .collect();
                describe_loss(signal, sdk_error, &lost_now, self.shutdown_timeout)
            })
            .collect();
        into_result(failures)
    }
}

/// A provider to shut down, type-erased so each can go to its own thread.
type ShutdownStep = (Signal, Box<dyn FnOnce(Duration) -> OTelSdkResult + Send>);

impl Telemetry {
    fn providers(&self) -> Vec<ShutdownStep> {
        let tracer_provider = self.tracer_provider.clone();
        let meter_provider = self.meter_provider.clone();
        let mut steps: Vec<ShutdownStep> = vec![
            (
                Signal::Traces,
                Box::new(move |timeout| tracer_provider.shutdown_with_timeout(timeout)),
            ),
            (
                Signal::Metrics,
                Box::new(move |timeout| meter_provider.shutdown_with_timeout(timeout)),
            ),
        ];
        if let Some(logger_provider) = self.logger_provider.clone() {
            steps.push((
                Signal::Logs,
                Box::new(move |timeout| logger_provider.shutdown_with_timeout(timeout)),
            ));
        }
        steps
    }
}

/// Shuts every provider down on its own thread and waits for them until `deadline`: the
/// SDK's shutdown does not always keep to the timeout it is given (the periodic metric
/// reader waits 5 s whatever it is told), and a collector that never answers holds an
/// export until the export timeout. A provider still busy at the deadline is reported as
/// timed out and left to finish (or die with the process) in the background.
fn shut_down_within(steps: Vec<ShutdownStep>, deadline: Instant) -> Vec<(Signal, OTelSdkError)> {
    let (done, results) = std::sync::mpsc::channel();
    let mut pending = Vec::new();
    let mut errors = Vec::new();
    for (signal, shutdown) in steps {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let done = done.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("mlotel-shutdown-{}", signal.name()))
            .spawn(move || {
                let _ = done.send((signal, shutdown(timeout)));
            });
        match spawned {
            Ok(_) => pending.push(signal),
            // No thread to spare: reported; the provider shuts down when it is dropped.
            Err(error) => errors.push((
                signal,
                OTelSdkError::InternalFailure(format!("no thread to shut down on: {error}")),
            )),
        }
    }
    drop(done);
    while !pending.is_empty() {
        let wait = deadline.saturating_duration_since(Instant::now());
        match results.recv_timeout(wait) {
            Ok((signal, result)) => {
                pending.retain(|waiting| *waiting != signal);
                if let Err(error) = result {
                    errors.push((signal, error));
                }
            }
            Err(_) => break,
        }
    }
    errors.extend(
        pending
            .into_iter()
            .map(|signal| (signal, OTelSdkError::Timeout(Duration::ZERO))),
    );
    errors
}

/// One line for a signal that shutdown could not flush, or `None` if it did.
fn describe_loss(
    signal: Signal,
    sdk_error: Option<&OTelSdkError>,
    lost: &[(ExporterStatus, u64)],
    timeout: Duration,
) -> Option<String> {
    if sdk_error.is_none() && lost.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = lost
        .iter()
        .map(|(status, items)| {
            let mut part = format!(
                "{items} {} not delivered to {}",
                signal.item_name(*items),
                status.endpoint
            );
            if let Some(error) = &status.last_error {
                part.push_str(&format!(" ({error})"));
            }
            part
        })
        .collect();
    match sdk_error {
        Some(OTelSdkError::Timeout(_)) => {
            parts.push(format!(
                "not flushed within the {timeout:?} shutdown timeout"
            ));
        }
        // The exporter's own error, above, says more than the SDK's summary of it.
        Some(_) if !parts.is_empty() => {}
        // Already shut down is not a loss of this call's.
        Some(OTelSdkError::AlreadyShutdown) => {}
        Some(error) => parts.push(error.to_string()),
        None => {}
    }
    if parts.is_empty() {
        return None;
    }
    let line = format!("{}: {}", signal.name(), parts.join(", "));
    Some(line)
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(error) = self.shutdown_providers() {
            tracing::warn!(target: "mlotel::export", %error, "telemetry shutdown on drop");
        }
    }
}

fn into_result(failures: Vec<String>) -> Result<(), ShutdownError> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ShutdownError { failures })
    }
}

fn scope() -> InstrumentationScope {
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

/// Lets a boxed processor from [`TelemetryBuilder::span_processor`] go where the SDK wants
/// a concrete type; its spans get the value-length limit as the OTLP pipeline's do.
#[derive(Debug)]
struct BoxedSpanProcessor {
    inner: Box<dyn SpanProcessor>,
    limits: SpanLimitSettings,
}

impl SpanProcessor for BoxedSpanProcessor {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, mut span: opentelemetry_sdk::trace::SpanData) {
        self.limits.apply(&mut span);
        self.inner.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
