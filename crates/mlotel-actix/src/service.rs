//! [`ServiceTelemetry`]: the request middleware, `/metrics`, the health endpoints and the
//! system sampler of one service, wired together.

use std::sync::Arc;

use actix_web::web;
use opentelemetry::metrics::Meter;

use crate::middleware::{SpanStarters, sdk_span_starters};
use crate::{Health, MetricsEndpoint, RequestStats, RequestTelemetry, SystemSampler};

/// Everything `mlotel-actix` adds to a service, from one [`mlotel::Telemetry`]:
///
/// - [`ServiceTelemetry::request_telemetry`]: the [`RequestTelemetry`] middleware, counting
///   requests for the health endpoints too;
/// - [`ServiceTelemetry::configure`]: `GET /metrics` (when the Prometheus exporter is on),
///   `GET /health`, `GET /health/ready` and `GET /health/detailed`;
/// - a [`SystemSampler`] reporting process and host saturation every 5 s, on a thread of its
///   own, until the last clone is dropped.
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use mlotel_actix::ServiceTelemetry;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let telemetry = mlotel::Telemetry::builder().service_name("iris").install()?;
/// let service = ServiceTelemetry::new(&telemetry)?;
/// HttpServer::new(move || {
///     App::new()
///         .wrap(service.request_telemetry())
///         .configure(|config| service.configure(config))
///         .route("/predict", web::post().to(|| async { "ok" }))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ServiceTelemetry {
    span_starters: SpanStarters,
    meter: Meter,
    stats: RequestStats,
    health: Health,
    metrics: Option<MetricsEndpoint>,
    sampler: Option<Arc<SystemSampler>>,
}

impl std::fmt::Debug for ServiceTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTelemetry")
            .field("health", &self.health)
            .field("metrics", &self.metrics)
            .finish_non_exhaustive()
    }
}

impl ServiceTelemetry {
    /// Wires everything to `telemetry` and starts the system sampler. Fails only if the
    /// sampler thread cannot be spawned.
    pub fn new(telemetry: &mlotel::Telemetry) -> std::io::Result<Self> {
        let meter = telemetry.meter();
        let sampler = SystemSampler::start(&meter)?;
        let stats = RequestStats::new();
        let health = Health::for_telemetry(telemetry)
            .requests(stats.clone())
            .system(sampler.reader());
        Ok(Self {
            span_starters: sdk_span_starters(telemetry),
            meter,
            stats,
            health,
            metrics: telemetry.prometheus().map(MetricsEndpoint::new),
            sampler: Some(Arc::new(sampler)),
        })
    }

    /// Requires `Authorization: Bearer {token}` on `/metrics`. With the Prometheus
    /// exporter off there is no `/metrics` to protect: that is logged as a warning.
    pub fn metrics_bearer_token(mut self, token: impl Into<String>) -> Self {
        match self.metrics.take() {
            Some(metrics) => self.metrics = Some(metrics.bearer_token(token)),
            None => tracing::warn!(
                target: "mlotel",
                "a bearer token was set for /metrics, but the Prometheus exporter is off \
                 (OTEL_METRICS_EXPORTER): there is no /metrics route"
            ),
        }
        self
    }

    /// Requires `Authorization: Bearer {token}` on `/health/detailed`
    /// ([`Health::detailed_bearer_token`]); `/health` and `/health/ready` stay open.
    pub fn detailed_health_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.health = self.health.detailed_bearer_token(token);
        self
    }

    /// Changes the health endpoints (e.g. `|health| health.expect_model("iris")`).
    pub fn health(mut self, change: impl FnOnce(Health) -> Health) -> Self {
        self.health = change(self.health);
        self
    }

    /// Stops sampling process and host figures: the sampler thread ends now, and the
    /// `process.*` and `system.*` gauges and the `system` section of `/health/detailed`
    /// report nothing.
    pub fn without_system_sampler(mut self) -> Self {
        self.sampler = None;
        self.health = self.health.without_system();
        self
    }

    /// The request counts the middleware keeps.
    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The middleware, for `App::wrap`; call it in the `HttpServer::new` closure.
    pub fn request_telemetry(&self) -> RequestTelemetry {
        RequestTelemetry::with_span_starters(&self.span_starters, &self.meter)
            .with_stats(self.stats.clone())
    }

    /// Adds `/metrics` (when the Prometheus exporter is on) and the health routes.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        if let Some(metrics) = &self.metrics {
            metrics.configure(config);
        }
        self.health.configure(config);
    }
}
