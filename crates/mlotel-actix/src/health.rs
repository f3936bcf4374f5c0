//! [`Health`]: `/health` (liveness), `/health/ready` (readiness: every registered model is
//! loaded) and `/health/detailed` (what an operator looks at first).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use mlotel::{ExportMonitor, Model, ModelSnapshot};
use serde::Serialize;

use crate::{RequestStats, SampleReader};

/// What `drift_status` says for a model without a drift reference.
pub const DRIFT_NOT_MONITORED: &str = mlotel::drift::NOT_MONITORED;

/// The health endpoints of a service. Cheap to clone; build it once before
/// `HttpServer::new` and add its routes with [`Health::configure`] in every worker:
///
/// ```no_run
/// use actix_web::{App, HttpServer};
/// use mlotel_actix::{Health, RequestStats, RequestTelemetry};
///
/// # async fn run(telemetry: &mlotel::Telemetry) -> std::io::Result<()> {
/// let stats = RequestStats::new();
/// let health = Health::for_telemetry(telemetry).requests(stats.clone());
/// HttpServer::new(move || {
///     App::new()
///         .wrap(RequestTelemetry::new().with_stats(stats.clone()))
///         .configure(|config| health.configure(config))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await
/// # }
/// ```
///
/// [`crate::ServiceTelemetry`] wires this, the request middleware, the system sampler
/// and `/metrics` together in one call.
#[derive(Debug, Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

#[derive(Debug, Clone)]
struct HealthInner {
    service: String,
    version: Option<String>,
    environment: Option<String>,
    started_at: SystemTime,
    started: Instant,
    stats: Option<RequestStats>,
    system: Option<SampleReader>,
    exporters: Option<ExportMonitor>,
    /// Models readiness waits for even before they are registered.
    expected: Vec<String>,
    /// `None`: every model in mlotel's registry.
    models: Option<Vec<Model>>,
    /// The token `/health/detailed` requires, if any.
    detailed_token: Option<crate::BearerToken>,
}

impl Health {
    /// Health of a service called `service`, reporting the models in mlotel's registry
    /// (those registered with `Model::builder(..).register()` or by `#[instrument_ml]`).
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                service: service.into(),
                version: None,
                environment: None,
                started_at: SystemTime::now(),
                started: Instant::now(),
                stats: None,
                system: None,
                exporters: None,
                expected: Vec::new(),
                models: None,
                detailed_token: None,
            }),
        }
    }

    /// Health of the service `telemetry` describes: its `service.name`, `service.version`
    /// and `deployment.environment.name` (or the older `deployment.environment`) resource
    /// attributes, and its exporters.
    pub fn for_telemetry(telemetry: &mlotel::Telemetry) -> Self {
        let resource = telemetry.resource();
        let attribute = |key: &'static str| {
            resource
                .get(&opentelemetry::Key::from_static_str(key))
                .map(|value| value.to_string())
        };
        let mut health = Self::new(telemetry.service_name());
        let inner = health.inner_mut();
        inner.version = attribute("service.version");
        inner.environment = attribute("deployment.environment.name")
            .or_else(|| attribute("deployment.environment"));
        inner.exporters = Some(telemetry.export_monitor());
        health
    }

    fn inner_mut(&mut self) -> &mut HealthInner {
        Arc::make_mut(&mut self.inner)
    }

    /// Reports the service version (`service.version`).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.inner_mut().version = Some(version.into());
        self
    }

    /// Reports the deployment environment (`production`, `staging`, ...).
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.inner_mut().environment = Some(environment.into());
        self
    }

    /// Reports the request counts that [`crate::RequestTelemetry::with_stats`] keeps.
    pub fn requests(mut self, stats: RequestStats) -> Self {
        self.inner_mut().stats = Some(stats);
        self
    }

    /// Reports the process and host figures of a [`crate::SystemSampler`].
    pub fn system(mut self, reader: SampleReader) -> Self {
        self.inner_mut().system = Some(reader);
        self
    }

    /// Stops reporting a system sample.
    pub fn without_system(mut self) -> Self {
        self.inner_mut().system = None;
        self
    }

    /// Reports the health of these exporters (what [`Health::for_telemetry`] sets).
    pub fn exporters(mut self, exporters: ExportMonitor) -> Self {
        self.inner_mut().exporters = Some(exporters);
        self
    }

    /// Reports these models instead of mlotel's registry (for models made with
    /// `Telemetry::model`, which are not registered).
    pub fn models(mut self, models: impl IntoIterator<Item = Model>) -> Self {
        self.inner_mut().models = Some(models.into_iter().collect());
        self
    }

    /// Readiness also waits until a model called `name` is registered and loaded: for
    /// services that register their models in the background after the server starts.
    pub fn expect_model(mut self, name: impl Into<String>) -> Self {
        self.inner_mut().expected.push(name.into());
        self
    }

    /// Requires `Authorization: Bearer {token}` on `/health/detailed` (it shows the
    /// process id, threads, memory and the exporters' endpoints: reconnaissance for an
    /// attacker). `/health` and `/health/ready` stay open for probes.
    pub fn detailed_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.inner_mut().detailed_token = Some(crate::BearerToken::new(token));
        self
    }

    /// Adds `GET /health`, `GET /health/ready` and `GET /health/detailed`, for
    /// `App::configure`. Other methods get 405 with `Allow: GET`.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        let health = web::Data::new(self.clone());
        config
            .app_data(health)
            .service(web::resource("/health").route(web::get().to(liveness)))
            .service(web::resource("/health/ready").route(web::get().to(readiness)))
            .service(web::resource("/health/detailed").route(web::get().to(detailed)));
    }

    fn reported_models(&self) -> Vec<Model> {
        match &self.inner.models {
            Some(models) => models.clone(),
            None => mlotel::registered_models(),
        }
    }

    /// Whether every registered (and every expected) model is loaded, and what is not.
    ///
    /// Reads each model's load state only (an atomic), never its counters: probes may
    /// come often.
    pub fn readiness(&self) -> Readiness {
        let models: Vec<ModelReadiness> = self
            .reported_models()
            .iter()
            .map(|model| ModelReadiness {
                name: model.name().to_owned(),
                version: model.version().to_owned(),
                loaded: model.is_loaded(),
                registered_on_first_use: model.registered_on_first_use(),
            })
            .collect();
        let mut missing: Vec<MissingModel> = models
            .iter()
            .filter(|model| !model.loaded && !model.registered_on_first_use)
            .map(|model| MissingModel {
                name: model.name.clone(),
                version: Some(model.version.clone()),
                reason: "not loaded",
            })
            .collect();
        for name in &self.inner.expected {
            let named = || models.iter().filter(|model| &model.name == name);
            if named().any(|model| model.loaded) || missing.iter().any(|gone| &gone.name == name) {
                continue;
            }
            missing.push(match named().next() {
                Some(model) => MissingModel {
                    name: name.clone(),
                    version: Some(model.version.clone()),
                    reason: "not loaded",
                },
                None => MissingModel {
                    name: name.clone(),
                    version: None,
                    reason: "not registered",
                },
            });
        }
        Readiness { models, missing }
    }

    /// The `/health/detailed` document.
    pub fn detailed(&self) -> DetailedHealth {
        let inner = &self.inner;
        let readiness = self.readiness();
        let exporters: Vec<ExporterReport> = inner
            .exporters
            .iter()
            .flat_map(ExportMonitor::status)
            .map(ExporterReport::from)
            .collect();
        let status = if !readiness.is_ready() {
            "not_ready"
        } else if exporters.iter().any(|exporter| exporter.failing) {
            "degraded"
        } else {
            "ok"
        };
        let uptime_seconds = inner.started.elapsed().as_secs_f64();
        DetailedHealth {
            status,
            service: inner.service.clone(),
            version: inner.version.clone(),
            environment: inner.environment.clone(),
            timestamp: rfc3339(SystemTime::now()),
            uptime: Uptime {
                seconds: round(uptime_seconds, 3),
                hours: round(uptime_seconds / 3600.0, 4),
                days: round(uptime_seconds / 86_400.0, 5),
                started_at: rfc3339(inner.started_at),
            },
            system: inner
                .system
                .as_ref()
                .and_then(SampleReader::latest)
                .map(|sample| SystemReport {
                    pid: sample.pid,
                    memory_mb: round(megabytes(sample.process_memory_bytes), 1),
                    cpu_percent: round(sample.process_cpu_percent, 1),
                    threads: sample.process_threads,
                    system_cpu_percent: round(sample.system_cpu_utilization * 100.0, 1),
                    system_memory_mb: round(megabytes(sample.system_memory_bytes), 1),
                    sampled_at: rfc3339(sample.taken_at),
                }),
            requests: inner.stats.as_ref().map(RequestReport::from),
            models: self
                .reported_models()
                .iter()
                .map(|model| ModelReport::new(&model.snapshot(), model.drift_status()))
                .collect(),
            missing: readiness.missing,
            exporters,
        }
    }
}

/// The answer of `/health/ready`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Readiness {
    /// Every model the health endpoints report.
    pub models: Vec<ModelReadiness>,
    /// What readiness still waits for.
    pub missing: Vec<MissingModel>,
}

impl Readiness {
    /// Nothing is missing.
    pub fn is_ready(&self) -> bool {
        self.missing.is_empty()
    }
}

/// The load state of one model version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelReadiness {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Whether it reported itself loaded.
    pub loaded: bool,
    /// Registered by `#[instrument_ml]` on first use: nobody reports its load state.
    pub registered_on_first_use: bool,
}

/// A model readiness waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MissingModel {
    /// Model name.
    pub name: String,
    /// Model version, when it is registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `not loaded` or `not registered`.
    pub reason: &'static str,
}

/// The `/health/detailed` document (see `docs/actix.md` for an example).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct DetailedHealth {
    /// `ok`, `degraded` (an exporter's last export failed) or `not_ready`.
    pub status: &'static str,
    /// `service.name`.
    pub service: String,
    /// `service.version`.
    pub version: Option<String>,
    /// Deployment environment.
    pub environment: Option<String>,
    /// When this document was made (RFC 3339, UTC).
    pub timestamp: String,
    /// Time since the health endpoints were created.
    pub uptime: Uptime,
    /// The latest system sample; `null` without a sampler or before its first sample.
    pub system: Option<SystemReport>,
    /// Request counts; `null` when no [`RequestStats`] are attached.
    pub requests: Option<RequestReport>,
    /// Every reported model.
    pub models: Vec<ModelReport>,
    /// What readiness waits for.
    pub missing: Vec<MissingModel>,
    /// Every OTLP exporter.
    pub exporters: Vec<ExporterReport>,
}

/// Uptime in three units, and the start time.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Uptime {
    /// Seconds.
    pub seconds: f64,
    /// Hours.
    pub hours: f64,
    /// Days.
    pub days: f64,
    /// RFC 3339, UTC.
    pub started_at: String,
}

/// The process and host, from the latest [`crate::SystemSample`].
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SystemReport {
    /// Process id.
    pub pid: u32,
    /// Resident memory of the process, MiB.
    pub memory_mb: f64,
    /// CPU of the process in percent of one CPU (as `top` shows it).
    pub cpu_percent: f64,
    /// Threads of the process (`null` where the platform does not tell: not Linux).
    pub threads: Option<u64>,
    /// Busy share of all the host's CPUs, percent.
    pub system_cpu_percent: f64,
    /// Memory in use on the host, MiB.
    pub system_memory_mb: f64,
    /// When the sample was taken (RFC 3339, UTC).
    pub sampled_at: String,
}

/// Request counts.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RequestReport {
    /// Requests seen (this one included).
    pub total: u64,
    /// Requests answered with a 5xx.
    pub failed: u64,
    /// Requests answered with a 4xx.
    pub client_errors: u64,
    /// `failed / total`, percent (0 before the first request).
    pub error_rate_percent: f64,
    /// When the last request arrived (RFC 3339, UTC).
    pub last_request_at: Option<String>,
}

impl From<&RequestStats> for RequestReport {
    fn from(stats: &RequestStats) -> Self {
        let total = stats.total();
        let failed = stats.failed();
        Self {
            total,
            failed,
            client_errors: stats.client_errors(),
            error_rate_percent: if total == 0 {
                0.0
            } else {
                round(failed as f64 * 100.0 / total as f64, 3)
            },
            last_request_at: stats.last_request_time().map(rfc3339),
        }
    }
}

/// One model version.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ModelReport {
    /// `ml.model.name`.
    pub name: String,
    /// `ml.model.version`.
    pub version: String,
    /// Whether it reported itself loaded.
    pub loaded: bool,
    /// How long loading took, seconds.
    pub load_duration_seconds: Option<f64>,
    /// Predictions recorded (rows, every outcome).
    pub predictions: u64,
    /// Mean confidence of the successful predictions that had one.
    pub mean_confidence: Option<f64>,
    /// [`DRIFT_NOT_MONITORED`] without a drift reference; else `insufficient_data` (fewer
    /// observations in the window than the minimum), `ok` or `drift`.
    pub drift_status: &'static str,
}

impl ModelReport {
    fn new(model: &ModelSnapshot, drift_status: &'static str) -> Self {
        Self {
            name: model.name.clone(),
            version: model.version.clone(),
            loaded: model.loaded,
            load_duration_seconds: model.load_duration_seconds,
            predictions: model.predictions,
            mean_confidence: model.mean_confidence.map(|mean| round(mean, 4)),
            drift_status,
        }
    }
}

/// One OTLP exporter.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ExporterReport {
    /// `traces`, `metrics` or `logs`.
    pub signal: &'static str,
    /// Semantic-convention component type, e.g. `otlp_grpc_span_exporter`.
    #[serde(rename = "type")]
    pub component_type: &'static str,
    /// Where it sends.
    pub endpoint: String,
    /// Items delivered.
    pub exported: u64,
    /// Items whose export failed.
    pub failed: u64,
    /// Items dropped because the queue was full.
    pub dropped: u64,
    /// When the last export succeeded (RFC 3339, UTC).
    pub last_success_at: Option<String>,
    /// The last export error.
    pub last_error: Option<String>,
    /// Whether the last export failed.
    pub failing: bool,
}

impl From<mlotel::ExporterStatus> for ExporterReport {
    fn from(status: mlotel::ExporterStatus) -> Self {
        Self {
            signal: status.signal,
            component_type: status.component_type,
            endpoint: status.endpoint,
            exported: status.exported,
            failed: status.failed,
            dropped: status.dropped,
            last_success_at: status.last_success.map(rfc3339),
            last_error: status.last_error,
            failing: status.failing,
        }
    }
}

async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

async fn readiness(health: web::Data<Health>) -> HttpResponse {
    let readiness = health.readiness();
    let models: Vec<_> = readiness
        .models
        .iter()
        .filter(|model| !model.registered_on_first_use)
        .map(|model| {
            serde_json::json!({
                "name": model.name,
                "version": model.version,
                "loaded": model.loaded,
            })
        })
        .collect();
    if readiness.is_ready() {
        HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "models": models }))
    } else {
        let waiting: Vec<String> = readiness
            .missing
            .iter()
            .map(|missing| match &missing.version {
                Some(version) => format!("{} {} ({})", missing.name, version, missing.reason),
                None => format!("{} ({})", missing.name, missing.reason),
            })
            .collect();
        HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE).json(serde_json::json!({
            "status": "not_ready",
            "message": format!("waiting for models: {}", waiting.join(", ")),
            "missing": readiness.missing,
            "models": models,
        }))
    }
}

async fn detailed(request: actix_web::HttpRequest, health: web::Data<Health>) -> HttpResponse {
    if let Some(token) = &health.inner.detailed_token
        && let Some(refused) = token.refusal(&request, "/health/detailed")
    {
        return refused;
    }
    HttpResponse::Ok().json(health.detailed())
}

fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

fn megabytes(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Rounds to `digits` decimals, so the JSON reads `12.5` rather than `12.499999999`.
fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}
