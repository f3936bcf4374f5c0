//! Flags, each with an environment variable (docs/predictor.md, "Configuration").

use std::net::ToSocketAddrs as _;
use std::time::Duration;

use clap::Parser;

/// The mlotel demo predictor: two versions of an iris classifier behind a KServe-style API,
/// with traces, metrics and drift recorded through mlotel.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "predictor",
    version,
    after_help = "Telemetry is configured with the standard OpenTelemetry variables \
(OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_SERVICE_NAME, \
OTEL_TRACES_SAMPLER, OTEL_METRICS_EXPORTER, ...; see the README). With no collector \
listening, the service works the same and counts the failed exports.\n\n\
Routes: POST /v1/models/iris:predict, /v1/models/iris/versions/{version}:predict, \
/v1/predict, /v2/predict, /predict; GET /v1/models, /v1/models/iris, /, /api/summary, \
/metrics, /health, /health/ready, /health/detailed (docs/predictor.md)."
)]
pub(crate) struct Args {
    /// Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 in a container.
    #[arg(long, env = "HOST", default_value = "127.0.0.1", value_parser = parse_host)]
    pub(crate) host: String,

    /// Port to listen on; 0 picks a free port (the address is logged as `listening on ...`).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub(crate) port: u16,

    /// Number of actix-web worker threads [default: number of CPUs].
    #[arg(long, env = "WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub(crate) workers: Option<u16>,

    /// Share of `POST /predict` requests sent to version 2.0.0 (the rest go to 1.0.0), from
    /// 0 to 1; an `X-Model-Version` request header overrides it.
    #[arg(long, env = "PREDICT_SPLIT", default_value_t = 0.5, value_parser = parse_share)]
    pub(crate) split: f64,

    /// Most instances accepted in one request; larger batches are answered 400
    /// `batch_too_large`.
    #[arg(long, env = "MAX_BATCH", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) max_batch: u32,

    /// Honour the debug request headers on predictions: `X-Debug-Delay-Ms` (at most 2000)
    /// makes the prediction wait that long, as a slow model would (the load generator's
    /// `spike` scenario); `X-Debug-Fail: true` makes the model call fail, answered 500
    /// `model_failure` (the `faults` scenario). Off by default: never turn it on where
    /// clients are not trusted.
    #[arg(long, env = "ALLOW_DEBUG_HEADERS",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) allow_debug_headers: bool,

    /// The drift window: each model version's recent inputs and outputs compared with its
    /// training data (`30s`, `5m`, `1h`; 1 s to 24 h).
    #[arg(long, env = "DRIFT_WINDOW", default_value = "5m", value_parser = parse_window)]
    pub(crate) drift_window: Duration,

    /// Below this many predictions in the drift window no drift is reported.
    #[arg(long, env = "DRIFT_MIN_OBSERVATIONS", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) drift_min_observations: u64,

    /// Predictions each version keeps for feedback (`POST /v1/models/iris/feedback`): the
    /// most recent ones, 32 bytes each; older ones are evicted (1024 to 67108864, rounded
    /// up to a power of two).
    #[arg(long, env = "PREDICTION_STORE_CAPACITY", default_value_t = 262_144,
          value_parser = clap::value_parser!(u64).range(1024..=67_108_864))]
    pub(crate) prediction_store_capacity: u64,

    /// Feedback later than this after its prediction is refused as expired (1 s to 30 days).
    #[arg(long, env = "PREDICTION_STORE_MAX_AGE", default_value = "24h",
          value_parser = parse_max_age)]
    pub(crate) prediction_store_max_age: Duration,

    /// Jaeger UI address, linked from the live page (e.g. http://localhost:16686).
    #[arg(long, env = "JAEGER_URL", value_parser = parse_url)]
    pub(crate) jaeger_url: Option<String>,

    /// Grafana address, linked from the live page (e.g. http://localhost:3000).
    #[arg(long, env = "GRAFANA_URL", value_parser = parse_url)]
    pub(crate) grafana_url: Option<String>,

    /// The longest a stop (SIGTERM, SIGINT) takes, 2 s to 5 min: the first half lets
    /// requests in flight finish, the rest flushes telemetry; what is not delivered by then
    /// is logged as lost. Keep it under the platform's kill timeout (Docker: 10 s).
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "8s", value_parser = parse_shutdown_timeout)]
    pub(crate) shutdown_timeout: Duration,

    /// Bearer token `GET /metrics` requires (`Authorization: Bearer <token>`); unset, the
    /// exposition is open to anyone who reaches the port.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, value_parser = parse_token)]
    pub(crate) metrics_token: Option<String>,

    /// Also require the metrics token on `/health/detailed` and `/api/summary` (process id,
    /// threads, endpoints: reconnaissance); the live page then asks for it (`/#token=...`).
    #[arg(long, env = "PROTECT_DETAILS", requires = "metrics_token",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) protect_details: bool,

    /// Longest URL path accepted, in bytes; longer ones are answered 414 before any route
    /// matching (docs/security.md).
    #[arg(long, env = "MAX_PATH_BYTES", default_value_t = 2048,
          value_parser = clap::value_parser!(u32).range(64..=65_536))]
    pub(crate) max_path_bytes: u32,

    /// Time a request body may take to arrive (from the request's arrival); an incomplete
    /// body is then answered 408 and its connection closed (`10s`, `500ms`; 100 ms to 10 min).
    #[arg(long, env = "BODY_TIMEOUT", default_value = "10s", value_parser = parse_timeout)]
    pub(crate) body_timeout: Duration,

    /// Time a client may take to send a request's headers (actix-web's
    /// `client_request_timeout`); slower ones get 408 (100 ms to 10 min).
    #[arg(long, env = "CLIENT_REQUEST_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    pub(crate) client_request_timeout: Duration,

    /// Most connections open at once per worker; past it the listener stops accepting
    /// until one closes (actix-web's `max_connections`).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) max_connections: u32,
}

impl Args {
    /// How long requests in flight may take to finish after a stop signal, in whole seconds
    /// as actix-web takes it: half the shutdown timeout, at least 1 s.
    pub(crate) fn drain_seconds(&self) -> u64 {
        (self.shutdown_timeout.as_secs() / 2).max(1)
    }

    /// What is left of the shutdown timeout for flushing telemetry after the drain.
    pub(crate) fn flush_timeout(&self) -> Duration {
        self.shutdown_timeout
            .saturating_sub(Duration::from_secs(self.drain_seconds()))
    }
}

fn parse_token(text: &str) -> Result<String, String> {
    let token = text.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        Err("a token must be non-empty and without spaces".to_owned())
    } else {
        Ok(token.to_owned())
    }
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text.trim())
        .map_err(|error| format!("{text:?} is not a duration such as 10s or 500ms: {error}"))?;
    if (Duration::from_millis(100)..=Duration::from_secs(600)).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(format!("{text} is outside 100ms..10m"))
    }
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number (expected a share from 0 to 1)"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{text} is not a share from 0 to 1"))
    }
}

fn parse_window(text: &str) -> Result<Duration, String> {
    let window = humantime::parse_duration(text.trim())
        .map_err(|error| format!("{text:?} is not a duration such as 30s or 5m: {error}"))?;
    if (Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&window) {
        Ok(window)
    } else {
        Err(format!("{text} is outside 1s..24h"))
    }
}

fn parse_max_age(text: &str) -> Result<Duration, String> {
    let age = humantime::parse_duration(text.trim())
        .map_err(|error| format!("{text:?} is not a duration such as 1h or 7d: {error}"))?;
    if (Duration::from_secs(1)..=Duration::from_secs(30 * 24 * 3600)).contains(&age) {
        Ok(age)
    } else {
        Err(format!("{text} is outside 1s..30d"))
    }
}

fn parse_shutdown_timeout(text: &str) -> Result<Duration, String> {
    let timeout = humantime::parse_duration(text.trim())
        .map_err(|error| format!("{text:?} is not a duration such as 8s: {error}"))?;
    if (Duration::from_secs(2)..=Duration::from_secs(300)).contains(&timeout) {
        Ok(timeout)
    } else {
        Err(format!("{text} is outside 2s..5m"))
    }
}

fn parse_host(text: &str) -> Result<String, String> {
    match (text, 0).to_socket_addrs() {
        Ok(addresses) if addresses.len() > 0 => Ok(text.to_owned()),
        Ok(_) => Err(format!("{text:?} resolves to no address")),
        Err(error) => Err(format!("{text:?} is not an address to listen on: {error}")),
    }
}

fn parse_url(text: &str) -> Result<String, String> {
    let text = text.trim();
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains(char::is_whitespace) => {
            Ok(text.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "{text:?} is not a URL (expected http://host[:port][/path] or https://...)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_flags_are_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_shutdown_timeout_is_split_between_drain_and_flush() {
        let args = Args::parse_from(["predictor", "--shutdown-timeout", "8s"]);
        assert_eq!(args.drain_seconds(), 4);
        assert_eq!(args.flush_timeout(), Duration::from_secs(4));
        let args = Args::parse_from(["predictor", "--shutdown-timeout", "3s"]);
        assert_eq!(args.drain_seconds(), 1);
        assert_eq!(args.flush_timeout(), Duration::from_secs(2));
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert!(parse_share("1.5").is_err());
        assert!(parse_share("half").is_err());
        assert!(parse_share("NaN").is_err());
        assert!(parse_url("localhost:16686").is_err());
        assert_eq!(
            parse_url("http://localhost:16686/"),
            Ok("http://localhost:16686".to_owned())
        );
        assert_eq!(parse_window("30s"), Ok(Duration::from_secs(30)));
        assert!(parse_window("0s").is_err());
        assert!(parse_window("soon").is_err());
        assert_eq!(parse_shutdown_timeout("8s"), Ok(Duration::from_secs(8)));
        assert!(parse_shutdown_timeout("1s").is_err());
        assert!(parse_shutdown_timeout("never").is_err());
        assert!(parse_host("127.0.0.1").is_ok());
        assert!(parse_host("not a host").is_err());
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_token("").is_err());
        assert!(parse_token("a b").is_err());
        assert_eq!(parse_token(" s3cret "), Ok("s3cret".to_owned()));
    }
}
