//! Resolves the builder's values and the standard `OTEL_*` environment variables into one
//! validated [`Settings`]; every invalid value is a [`ConfigError`] naming its source.
//!
//! Precedence: an `OTEL_*` variable overrides the value set in code (code sets the
//! application's defaults, operators reconfigure a built binary with the environment), and
//! a signal-specific variable overrides the generic one.

pub(crate) mod span_limits;

use std::collections::HashMap;
use std::time::Duration;

use crate::error::ConfigError;
use crate::redact;
use span_limits::{DEFAULT_COUNT_LIMIT, SpanLimitSettings};

/// OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318).
    HttpProtobuf,
}

impl Protocol {
    fn parse(source_name: &str, value: &str) -> Result<Self, ConfigError> {
        match value.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Self::Grpc),
            "http/protobuf" => Ok(Self::HttpProtobuf),
            "http/json" => Err(ConfigError::new(
                source_name,
                value,
                "http/json is not supported; use grpc or http/protobuf",
            )),
            _ => Err(ConfigError::new(
                source_name,
                value,
                "unknown protocol; expected grpc or http/protobuf",
            )),
        }
    }

    /// The name used by `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }

    fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => "http://localhost:4317",
            Self::HttpProtobuf => "http://localhost:4318",
        }
    }
}

/// Trace sampler, as named by `OTEL_TRACES_SAMPLER`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Record and export every span.
    AlwaysOn,
    /// Record no span.
    AlwaysOff,
    /// Sample this fraction of traces by trace id.
    TraceIdRatio(f64),
    /// Follow the parent's decision; sample every root.
    ParentBasedAlwaysOn,
    /// Follow the parent's decision; sample no root.
    ParentBasedAlwaysOff,
    /// Follow the parent's decision; sample this fraction of roots.
    ParentBasedTraceIdRatio(f64),
}

/// One of the three OpenTelemetry signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    /// What `count` exported items of the signal are called.
    pub(crate) fn item_name(self, count: u64) -> &'static str {
        match (self, count == 1) {
            (Self::Traces, true) => "span",
            (Self::Traces, false) => "spans",
            (Self::Metrics, true) => "data point",
            (Self::Metrics, false) => "data points",
            (Self::Logs, true) => "log record",
            (Self::Logs, false) => "log records",
        }
    }

    fn env_infix(self) -> &'static str {
        match self {
            Self::Traces => "TRACES",
            Self::Metrics => "METRICS",
            Self::Logs => "LOGS",
        }
    }
}

/// Where and how one signal is sent over OTLP.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OtlpTarget {
    pub(crate) protocol: Protocol,
    /// For HTTP the full URL of the signal (`.../v1/traces`); for gRPC the base URL.
    pub(crate) endpoint: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) timeout: Duration,
}

/// Values set in code through the builder; `None` means "not set".
#[derive(Debug, Clone, Default)]
pub(crate) struct CodeSettings {
    pub(crate) service_name: Option<String>,
    pub(crate) service_version: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) endpoint: Option<String>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) sampler: Option<Sampler>,
    pub(crate) metric_export_interval: Option<Duration>,
    pub(crate) export_timeout: Option<Duration>,
    pub(crate) traces_exporter: Option<String>,
    pub(crate) metrics_exporter: Option<String>,
    pub(crate) logs_exporter: Option<String>,
    pub(crate) span_queue_max_bytes: Option<usize>,
    pub(crate) shutdown_timeout: Option<Duration>,
}

/// Everything the pipeline needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// `OTEL_SDK_DISABLED=true`: no provider records or exports anything.
    pub(crate) sdk_disabled: bool,
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) traces: Option<OtlpTarget>,
    pub(crate) metrics: Option<OtlpTarget>,
    pub(crate) logs: Option<OtlpTarget>,
    pub(crate) prometheus: bool,
    pub(crate) sampler: Sampler,
    pub(crate) metric_export_interval: Duration,
    /// `OTEL_BSP_SCHEDULE_DELAY`: read here so `env_vars` can set it like the others (the
    /// SDK itself reads only the process environment).
    pub(crate) span_schedule_delay: Option<Duration>,
    /// `OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`, `OTEL_EVENT_*` and `OTEL_LINK_*`.
    pub(crate) span_limits: SpanLimitSettings,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`: finished spans waiting for export at most.
    pub(crate) span_queue_capacity: usize,
    /// Bytes of finished spans waiting for export at most.
    pub(crate) span_queue_max_bytes: usize,
    /// The whole of [`Telemetry::shutdown`](crate::Telemetry::shutdown) at most.
    pub(crate) shutdown_timeout: Duration,
    /// Problems that do not stop start-up (logged once logging is up).
    pub(crate) warnings: Vec<String>,
}

/// A snapshot of environment variables; empty values count as unset (as the spec says).
#[derive(Debug, Clone, Default)]
pub(crate) struct Env(HashMap<String, String>);

impl Env {
    /// Variables that are not valid Unicode are skipped (`std::env::vars` would panic).
    pub(crate) fn from_process() -> Self {
        Self::from_pairs(
            std::env::vars_os().filter_map(|(key, value)| {
                Some((key.into_string().ok()?, value.into_string().ok()?))
            }),
        )
    }

    pub(crate) fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        )
    }

    /// `RUST_LOG`, the log filter.
    pub(crate) fn rust_log(&self) -> Option<String> {
        self.get("RUST_LOG").map(|(_, value)| value.to_owned())
    }

    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.0
            .get_key_value(key)
            .map(|(key, value)| (key.as_str(), value.trim()))
            .filter(|(_, value)| !value.is_empty())
    }

    /// The first set variable among `keys`, with its name.
    fn first(&self, keys: &[&str]) -> Option<(String, String)> {
        keys.iter()
            .find_map(|key| self.get(key))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
    }
}

const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The specification's default of `OTEL_BSP_MAX_QUEUE_SIZE`.
const DEFAULT_SPAN_QUEUE_CAPACITY: usize = 2048;
/// 32 MiB: 2,048 spans of 16 KiB each. A queue of 2,048 spans with 100 KiB attributes
/// would hold 200 MiB while a collector is slow.
pub(crate) const DEFAULT_SPAN_QUEUE_MAX_BYTES: usize = 32 * 1024 * 1024;
/// Well under the 10 s a container runtime waits between SIGTERM and SIGKILL, leaving the
/// service time to drain its requests first.
pub(crate) const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn resolve(code: &CodeSettings, env: &Env) -> Result<Settings, ConfigError> {
    let mut warnings = Vec::new();
    let sdk_disabled = match env.get("OTEL_SDK_DISABLED") {
        None => false,
        Some((_, value)) if value.eq_ignore_ascii_case("true") => true,
        Some((_, value)) if value.eq_ignore_ascii_case("false") => false,
        Some((key, value)) => {
            warnings.push(format!(
                "{key}={value:?} is neither true nor false; the SDK stays enabled"
            ));
            false
        }
    };

    let mut resource_attributes = code.resource_attributes.clone();
    if let Some((key, value)) = env.get("OTEL_RESOURCE_ATTRIBUTES") {
        for (name, attribute) in parse_key_values(key, value, Quote::Shown)? {
            upsert(&mut resource_attributes, name, attribute);
        }
    }
    let from_resource = take(&mut resource_attributes, "service.name");
    let service_version =
        take(&mut resource_attributes, "service.version").or_else(|| code.service_version.clone());
    let service_name = env
        .get("OTEL_SERVICE_NAME")
        .map(|(_, value)| value.to_owned())
        .or(from_resource)
        .or_else(|| code.service_name.clone())
        .unwrap_or_else(default_service_name);

    let traces_exporters = exporter_list(env, code, Signal::Traces)?;
    let metrics_exporters = exporter_list(env, code, Signal::Metrics)?;
    let logs_exporters = exporter_list(env, code, Signal::Logs)?;

    let otlp_if = |wanted: bool, signal| -> Result<Option<OtlpTarget>, ConfigError> {
        if wanted && !sdk_disabled {
            otlp_target(code, env, signal).map(Some)
        } else {
            Ok(None)
        }
    };
    let traces = otlp_if(traces_exporters.contains(&Exporter::Otlp), Signal::Traces)?;
    let metrics = otlp_if(metrics_exporters.contains(&Exporter::Otlp), Signal::Metrics)?;
    let logs = otlp_if(logs_exporters.contains(&Exporter::Otlp), Signal::Logs)?;
    let prometheus = !sdk_disabled && metrics_exporters.contains(&Exporter::Prometheus);

    let sampler = match env.get("OTEL_TRACES_SAMPLER") {
        Some((key, value)) => parse_sampler(key, value, env.get("OTEL_TRACES_SAMPLER_ARG"))?,
        None => code.sampler.unwrap_or(Sampler::ParentBasedAlwaysOn),
    };
    let metric_export_interval = match env.get("OTEL_METRIC_EXPORT_INTERVAL") {
        Some((key, value)) => parse_millis(key, value)?,
        None => code
            .metric_export_interval
            .unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL),
    };
    let span_schedule_delay = env
        .get("OTEL_BSP_SCHEDULE_DELAY")
        .map(|(key, value)| parse_millis(key, value))
        .transpose()?;

    let span_queue_capacity = match env.get("OTEL_BSP_MAX_QUEUE_SIZE") {
        Some((key, value)) => parse_positive(key, value)?,
        None => DEFAULT_SPAN_QUEUE_CAPACITY,
    };

    Ok(Settings {
        sdk_disabled,
        service_name,
        service_version,
        resource_attributes,
        traces,
        metrics,
        logs,
        prometheus,
        sampler,
        metric_export_interval,
        span_schedule_delay,
        span_limits: span_limits(env)?,
        span_queue_capacity,
        span_queue_max_bytes: code
            .span_queue_max_bytes
            .unwrap_or(DEFAULT_SPAN_QUEUE_MAX_BYTES),
        shutdown_timeout: code.shutdown_timeout.unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT),
        warnings,
    })
}

/// The span limits, each from its span-specific variable, else the general one, else the
/// specification's default.
fn span_limits(env: &Env) -> Result<SpanLimitSettings, ConfigError> {
    let count = |keys: &[&str]| -> Result<u32, ConfigError> {
        match env.first(keys) {
            Some((key, value)) => parse_count(&key, &value),
            None => Ok(DEFAULT_COUNT_LIMIT),
        }
    };
    let attribute_value_length = match env.first(&[
        "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
        "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ]) {
        Some((key, value)) => Some(parse_count(&key, &value)? as usize),
        None => None,
    };
    Ok(SpanLimitSettings {
        attribute_value_length,
        attribute_count: count(&[
            "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
            "OTEL_ATTRIBUTE_COUNT_LIMIT",
        ])?,
        event_count: count(&["OTEL_SPAN_EVENT_COUNT_LIMIT"])?,
        link_count: count(&["OTEL_SPAN_LINK_COUNT_LIMIT"])?,
        event_attribute_count: count(&["OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"])?,
        link_attribute_count: count(&["OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"])?,
    })
}

fn default_service_name() -> String {
    // The spec's fallback is `unknown_service:<executable name>`.
    let executable = std::env::current_exe()
        .ok()
        .and_then(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    format!("unknown_service:{executable}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exporter {
    Otlp,
    Prometheus,
}

fn exporter_list(
    env: &Env,
    code: &CodeSettings,
    signal: Signal,
) -> Result<Vec<Exporter>, ConfigError> {
    let key = format!("OTEL_{}_EXPORTER", signal.env_infix());
    let code_value = match signal {
        Signal::Traces => &code.traces_exporter,
        Signal::Metrics => &code.metrics_exporter,
        Signal::Logs => &code.logs_exporter,
    };
    let (source_name, value) = match (env.get(&key), code_value) {
        (Some((key, value)), _) => (key.to_owned(), value.to_owned()),
        (None, Some(value)) => (
            format!("TelemetryBuilder::{}_exporter", signal.name()),
            value.clone(),
        ),
        (None, None) => return Ok(default_exporters(signal)),
    };
    let mut exporters = Vec::new();
    for name in value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
    {
        let exporter = match (name.to_ascii_lowercase().as_str(), signal) {
            ("none", _) => continue,
            ("otlp", _) => Exporter::Otlp,
            ("prometheus", Signal::Metrics) => Exporter::Prometheus,
            _ => {
                let accepted = if signal == Signal::Metrics {
                    "otlp, prometheus or none"
                } else {
                    "otlp or none"
                };
                return Err(ConfigError::new(
                    source_name,
                    value.clone(),
                    format!("unknown exporter {name:?}; expected {accepted}"),
                ));
            }
        };
        if !exporter_compiled(exporter) {
            return Err(ConfigError::new(
                source_name,
                value.clone(),
                format!("exporter {name:?} needs a cargo feature of mlotel that is not enabled"),
            ));
        }
        exporters.push(exporter);
    }
    Ok(exporters)
}

fn exporter_compiled(exporter: Exporter) -> bool {
    match exporter {
        Exporter::Otlp => cfg!(any(feature = "otlp-grpc", feature = "otlp-http")),
        Exporter::Prometheus => cfg!(feature = "prometheus"),
    }
}

/// Traces and metrics go to OTLP by default, metrics are also exposed for Prometheus pull;
/// logs go to stdout as JSON and only to OTLP when asked (`OTEL_LOGS_EXPORTER=otlp`), since
/// most deployments already ship stdout.
fn default_exporters(signal: Signal) -> Vec<Exporter> {
    let wanted: &[Exporter] = match signal {
        Signal::Traces => &[Exporter::Otlp],
        Signal::Metrics => &[Exporter::Otlp, Exporter::Prometheus],
        Signal::Logs => &[],
    };
    wanted
        .iter()
        .copied()
        .filter(|exporter| exporter_compiled(*exporter))
        .collect()
}

fn otlp_target(code: &CodeSettings, env: &Env, signal: Signal) -> Result<OtlpTarget, ConfigError> {
    let infix = signal.env_infix();
    let signal_key = |suffix: &str| format!("OTEL_EXPORTER_OTLP_{infix}_{suffix}");
    let generic_key = |suffix: &str| format!("OTEL_EXPORTER_OTLP_{suffix}");

    let protocol = match env.first(&[&signal_key("PROTOCOL"), &generic_key("PROTOCOL")]) {
        Some((key, value)) => Protocol::parse(&key, &value)?,
        None => code.protocol.unwrap_or(if cfg!(feature = "otlp-http") {
            Protocol::HttpProtobuf
        } else {
            Protocol::Grpc
        }),
    };
    let protocol_compiled = match protocol {
        Protocol::Grpc => cfg!(feature = "otlp-grpc"),
        Protocol::HttpProtobuf => cfg!(feature = "otlp-http"),
    };
    if !protocol_compiled {
        return Err(ConfigError::new(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            protocol.as_str(),
            "this protocol's cargo feature (otlp-grpc / otlp-http) is not enabled",
        ));
    }

    let http_path = format!("/v1/{}", signal.name());
    let endpoint = if let Some((key, value)) = env.get(&signal_key("ENDPOINT")) {
        // A signal-specific endpoint is used exactly as given.
        validate_endpoint(key, value)?;
        value.to_owned()
    } else {
        let (source_name, base) = match env.get(&generic_key("ENDPOINT")) {
            Some((key, value)) => (key.to_owned(), value.to_owned()),
            None => match &code.endpoint {
                Some(value) => ("TelemetryBuilder::otlp_endpoint".to_owned(), value.clone()),
                None => (String::new(), protocol.default_endpoint().to_owned()),
            },
        };
        validate_endpoint(&source_name, &base)?;
        match protocol {
            Protocol::Grpc => base,
            Protocol::HttpProtobuf => format!("{}{http_path}", base.trim_end_matches('/')),
        }
    };

    let mut headers = Vec::new();
    for (name, header) in &code.headers {
        validate_header("TelemetryBuilder::otlp_header", name, header)?;
        upsert(&mut headers, name.to_ascii_lowercase(), header.clone());
    }
    for key in [generic_key("HEADERS"), signal_key("HEADERS")] {
        if let Some((key, value)) = env.get(&key) {
            for (name, header) in parse_key_values(key, value, Quote::Hidden)? {
                validate_header(key, &name, &header)?;
                upsert(&mut headers, name.to_ascii_lowercase(), header);
            }
        }
    }

    let timeout = match env.first(&[&signal_key("TIMEOUT"), &generic_key("TIMEOUT")]) {
        Some((key, value)) => parse_millis(&key, &value)?,
        None => code.export_timeout.unwrap_or(DEFAULT_EXPORT_TIMEOUT),
    };

    Ok(OtlpTarget {
        protocol,
        endpoint,
        headers,
        timeout,
    })
}

pub(crate) fn validate_endpoint(source_name: &str, value: &str) -> Result<(), ConfigError> {
    // Errors quote the endpoint without its user info or query: they reach logs and stderr.
    let shown = redact::endpoint(value);
    let uri: http::Uri = value
        .parse()
        .map_err(|error| ConfigError::new(source_name, &shown, format!("not a URL ({error})")))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(ConfigError::new(
                source_name,
                &shown,
                "https endpoints are not supported yet (no TLS stack is built in); \
                 send to a local collector over http:// and let it use TLS",
            ));
        }
        _ => {
            return Err(ConfigError::new(
                source_name,
                &shown,
                "the URL must start with http:// or https://",
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(ConfigError::new(source_name, &shown, "the URL has no host"));
    }
    Ok(())
}

fn validate_header(source_name: &str, name: &str, value: &str) -> Result<(), ConfigError> {
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| ConfigError::new(source_name, name, "not a valid HTTP header name"))?;
    // The value is often a credential (`Authorization`, an API key): never quote it.
    http::HeaderValue::from_str(value).map_err(|_| {
        ConfigError::new(
            source_name,
            "(hidden)",
            format!("the value of header {name} is not a valid HTTP header value"),
        )
    })?;
    Ok(())
}

fn parse_sampler(
    key: &str,
    value: &str,
    arg: Option<(&str, &str)>,
) -> Result<Sampler, ConfigError> {
    let ratio = || -> Result<f64, ConfigError> {
        let Some((arg_key, arg_value)) = arg else {
            return Ok(1.0);
        };
        match arg_value.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
            _ => Err(ConfigError::new(
                arg_key,
                arg_value,
                "expected a sampling ratio between 0 and 1",
            )),
        }
    };
    Ok(match value.to_ascii_lowercase().as_str() {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatio(ratio()?),
        "parentbased_always_on" => Sampler::ParentBasedAlwaysOn,
        "parentbased_always_off" => Sampler::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => Sampler::ParentBasedTraceIdRatio(ratio()?),
        _ => {
            return Err(ConfigError::new(
                key,
                value,
                "unknown sampler; expected always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
            ));
        }
    })
}

fn parse_millis(key: &str, value: &str) -> Result<Duration, ConfigError> {
    match value.parse::<u64>() {
        Ok(millis) if millis > 0 => Ok(Duration::from_millis(millis)),
        _ => Err(ConfigError::new(
            key,
            value,
            "expected a positive whole number of milliseconds",
        )),
    }
}

/// Whether an error may quote the value it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    Shown,
    /// Header values are credentials (`Authorization`, API keys): errors name the position.
    Hidden,
}

/// A limit: a whole number, zero allowed (the specification's non-negative integer).
fn parse_count(key: &str, value: &str) -> Result<u32, ConfigError> {
    value
        .parse::<u32>()
        .map_err(|_| ConfigError::new(key, value, "expected a whole number, 0 or more"))
}

fn parse_positive(key: &str, value: &str) -> Result<usize, ConfigError> {
    match value.parse::<usize>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(ConfigError::new(
            key,
            value,
            "expected a positive whole number",
        )),
    }
}

/// Parses the `key=value,key=value` lists of `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS`; values are percent-decoded as the spec requires.
fn parse_key_values(
    source_name: &str,
    value: &str,
    quote: Quote,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    let items = value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty());
    for (position, item) in items.enumerate() {
        let error = |problem: &str| match quote {
            Quote::Shown => ConfigError::new(source_name, value, format!("{item:?} {problem}")),
            Quote::Hidden => ConfigError::new(
                source_name,
                "(hidden)",
                format!("item {} of the list {problem}", position + 1),
            ),
        };
        let Some((name, item_value)) = item.split_once('=') else {
            return Err(error("is not of the form key=value"));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(error("has an empty key"));
        }
        let decoded = percent_decode(item_value.trim())
            .ok_or_else(|| error("has an invalid percent-encoding"))?;
        pairs.push((name.to_owned(), decoded));
    }
    Ok(pairs)
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = value.get(index + 1..index + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn upsert(pairs: &mut Vec<(String, String)>, name: String, value: String) {
    match pairs.iter_mut().find(|(existing, _)| *existing == name) {
        Some(pair) => pair.1 = value,
        None => pairs.push((name, value)),
    }
}

fn take(pairs: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let index = pairs.iter().position(|(existing, _)| existing == name)?;
    Some(pairs.remove(index).1)
}

#[cfg(test)]
mod tests;
