//! actix-web integration for mlotel:
//!
//! - [`RequestTelemetry`]: middleware giving every request a server span, W3C trace-context
//!   propagation and the `http.server.*` metrics;
//! - [`Health`]: `/health`, `/health/ready` and `/health/detailed`;
//! - [`MetricsEndpoint`]: `/metrics`, optionally behind a bearer token;
//! - [`SystemSampler`]: the `process.*` and `system.*` saturation gauges;
//! - [`ApiError`] and [`json_config`]: JSON error responses;
//! - [`ServiceTelemetry`]: all of the above from one `mlotel::Telemetry`.

mod errors;
mod health;
mod metrics_endpoint;
mod middleware;
mod path_cache;
mod request_cache;
mod service;
mod system;

pub use errors::{ApiError, json_config, path_config, query_config};
pub use health::{
    DRIFT_NOT_MONITORED, DetailedHealth, ExporterReport, Health, MissingModel, ModelReadiness,
    ModelReport, Readiness, RequestReport, SystemReport, Uptime,
};
pub use metrics_endpoint::MetricsEndpoint;
pub use middleware::{
    RecordedBody, RequestStats, RequestTelemetry, RequestTelemetryFuture,
    RequestTelemetryMiddleware, TRACE_RESPONSE_HEADER,
};
pub use mlotel::names::UNMATCHED_ROUTE;
pub use service::ServiceTelemetry;
pub use system::{DEFAULT_SAMPLE_INTERVAL, SampleReader, SystemSample, SystemSampler};

use actix_web::{HttpResponse, ResponseError as _};

/// The Prometheus text exposition of every mlotel instrument, as an actix-web response
/// (500 with a JSON error body if rendering fails).
pub fn metrics_response(handle: &mlotel::PrometheusHandle) -> HttpResponse {
    match handle.render() {
        Ok(text) => HttpResponse::Ok()
            .insert_header(("content-type", mlotel::PROMETHEUS_CONTENT_TYPE))
            .body(text),
        Err(error) => ApiError::internal_with_type("metrics_render", error).error_response(),
    }
}
