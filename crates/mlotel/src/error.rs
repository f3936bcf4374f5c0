//! Errors of setting telemetry up. Recording never returns errors: it cannot fail the caller.

/// A configuration value that cannot be used, naming where it came from.
///
/// `source_name` is the environment variable (`OTEL_EXPORTER_OTLP_ENDPOINT`) or the builder
/// method (`TelemetryBuilder::otlp_endpoint`) that supplied the value. Fix that value; nothing
/// was installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {source_name}={value:?}: {reason}")]
pub struct ConfigError {
    /// The environment variable or builder method that supplied the value.
    pub source_name: String,
    /// The value as given.
    pub value: String,
    /// What is wrong with it and what is accepted.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(
        source_name: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            source_name: source_name.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}

/// Why [`TelemetryBuilder::build`](crate::TelemetryBuilder::build) or
/// [`install`](crate::TelemetryBuilder::install) failed. Nothing was installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// A configuration value is invalid: fix the variable or builder call it names.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The OTLP exporter for a signal could not be built (for example its HTTP client could
    /// not start). Check the endpoint and protocol, or disable that signal's exporter with
    /// `OTEL_<SIGNAL>_EXPORTER=none`.
    #[error("could not build the OTLP {signal} exporter for {endpoint}: {message}")]
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The endpoint the exporter was built for, without user info or query.
        endpoint: String,
        /// The exporter's own error.
        message: String,
    },
    /// The background runtime of the gRPC exporters could not start (out of threads or
    /// memory). Retry, or use `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`.
    #[error("could not start the telemetry export runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The Prometheus exposition could not be set up. Use `OTEL_METRICS_EXPORTER=otlp` to
    /// run without it.
    #[error("could not set up the Prometheus exposition: {0}")]
    Prometheus(String),
    /// Another global `tracing` subscriber is already set. Use
    /// [`TelemetryBuilder::build`](crate::TelemetryBuilder::build) and add
    /// [`Telemetry::tracing_layer`](crate::Telemetry::tracing_layer) to your own subscriber,
    /// or call `install_logging(false)` on the builder.
    #[error(
        "a global tracing subscriber is already set; build without installing it \
         (TelemetryBuilder::install_logging(false)) and add Telemetry::tracing_layer() to yours"
    )]
    SubscriberAlreadySet,
}
