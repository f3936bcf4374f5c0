//! actix-web integration for mlotel:
//!
//! - [`RequestTelemetry`]: middleware giving every request a server span, W3C trace-context
//!   propagation and the `http.server.*` metrics;
//! - [`Health`]: `/health`, `/health/ready` and `/health/detailed`;
//! - [`MetricsEndpoint`]: `/metrics`, optionally behind a bearer token;
//! - [`SystemSampler`]: the `process.*` and `system.*` saturation gauges;
//! - [`RequestLimits`]: middleware refusing overlong paths, compressed or non-UTF-8 bodies
//!   and bodies that never finish arriving, with JSON error bodies on every error answer;
//! - [`ApiError`] and [`json_config`]: JSON error responses;
//! - [`ServiceTelemetry`]: all of the above from one `mlotel::Telemetry`.

mod auth;
mod errors;
mod health;
mod limits;
mod metrics_endpoint;
mod middleware;
mod path_cache;
mod request_cache;
mod request_parts;
mod service;
mod system;

pub use auth::BearerToken;
pub use errors::{ApiError, json_config, path_config, query_config};
pub use health::{
    DRIFT_NOT_MONITORED, DetailedHealth, ExporterReport, Health, MissingModel, ModelReadiness,
    ModelReport, Readiness, RequestReport, SystemReport, Uptime,
};
pub use limits::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_PATH_BYTES, HeldBody, RequestLimits, RequestLimitsFuture,
    RequestLimitsMiddleware,
};
pub use metrics_endpoint::MetricsEndpoint;
pub use middleware::{
    DEFAULT_MAX_ATTRIBUTE_BYTES, RecordedBody, RequestStats, RequestTelemetry,
    RequestTelemetryFuture, RequestTelemetryMiddleware, TRACE_RESPONSE_HEADER,
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
