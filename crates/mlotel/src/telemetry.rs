//! The one entry point of set-up: [`Telemetry::builder`] assembles the tracer, meter and
//! logger providers, their exporters and the `tracing` bridge; the returned [`Telemetry`]
//! flushes everything when shut down or dropped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::global;
use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanProcessor};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{self, CodeSettings, Env, Protocol, Sampler, Signal};
use crate::error::InstallError;
#[cfg(feature = "prometheus")]
use crate::export::PrometheusHandle;
use crate::export::{self, ExportMonitor, ExporterStatus, Pipelines};
use crate::logging::{self, JsonLogFormat};
use crate::model::registry;
use crate::model::state::{ModelSet, ModelState};
use crate::model::{Model, ModelBuilder};
use crate::spans::{self, TracingState};

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
            global::set_tracer_provider(telemetry.tracer_provider().clone());
            global::set_meter_provider(telemetry.meter_provider().clone());
            spans::install(Arc::clone(&telemetry.tracing));
            registry::install(telemetry.meter(), Arc::clone(&telemetry.models));
            crate::genai::install(&telemetry.meter());
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
            prometheus = telemetry.pipelines.has_prometheus(),
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
    warnings: Vec<String>,
    rust_log: Option<String>,
    sdk_disabled: bool,
    /// The whole of shutdown at most.
    shutdown_timeout: Duration,
    shut_down: bool,
    /// Models bound to this meter provider: its collections hand their stripes over.
    models: Arc<ModelSet>,
    tracing: Arc<TracingState>,
    pipelines: Pipelines,
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
        settings: config::Settings,
        env: Env,
        span_processors: Vec<Box<dyn SpanProcessor>>,
    ) -> Result<Self, InstallError> {
        let pipelines = Pipelines::build(&settings, span_processors)?;
        let telemetry = Self {
            tracing: Arc::new(TracingState {
                tracer: pipelines.tracer_provider.tracer_with_scope(export::scope()),
                policy: pipelines.span_policy,
            }),
            service_name: settings.service_name,
            warnings: settings.warnings,
            rust_log: env.rust_log(),
            sdk_disabled: settings.sdk_disabled,
            shutdown_timeout: settings.shutdown_timeout,
            shut_down: false,
            models: Arc::new(ModelSet::default()),
            pipelines,
        };
        telemetry.models.observe_on(&telemetry.meter());
        export::health::observe_on(&telemetry.meter(), &telemetry.pipelines.exporters);
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
        &self.pipelines.resource
    }

    /// A cheap, cloneable reader of [`Telemetry::export_status`], for health endpoints
    /// that outlive a borrow of the `Telemetry`.
    pub fn export_monitor(&self) -> ExportMonitor {
        ExportMonitor {
            exporters: self.pipelines.exporters.clone().into(),
        }
    }

    /// The tracer provider (already global after [`TelemetryBuilder::install`]).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.pipelines.tracer_provider
    }

    /// The meter provider (already global after [`TelemetryBuilder::install`]).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.pipelines.meter_provider
    }

    /// mlotel's meter, for instruments of your own that should share the pipeline.
    pub fn meter(&self) -> opentelemetry::metrics::Meter {
        use opentelemetry::metrics::MeterProvider as _;
        self.pipelines
            .meter_provider
            .meter_with_scope(export::scope())
    }

    fn tracer(&self) -> SdkTracer {
        self.pipelines
            .tracer_provider
            .tracer_with_scope(export::scope())
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
        self.pipelines.prometheus()
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
        match &self.pipelines.logger_provider {
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
        if let Err(error) = self.pipelines.tracer_provider.force_flush() {
            failures.push(format!("traces: {error}"));
        }
        if let Err(error) = self.pipelines.meter_provider.force_flush() {
            failures.push(format!("metrics: {error}"));
        }
        if let Some(Err(error)) = self
            .pipelines
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
            .pipelines
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
                    .pipelines
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
        let tracer_provider = self.pipelines.tracer_provider.clone();
        let meter_provider = self.pipelines.meter_provider.clone();
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
        if let Some(logger_provider) = self.pipelines.logger_provider.clone() {
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
