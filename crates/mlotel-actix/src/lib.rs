//! actix-web integration for mlotel: the [`RequestTelemetry`] middleware (a server span per
//! request, W3C trace-context propagation, the `http.server.*` metrics) and a `/metrics`
//! response helper, and JSON error responses ([`ApiError`], [`json_config`]). The health
//! endpoints are not there yet.

mod errors;
mod middleware;

pub use errors::{ApiError, json_config, path_config, query_config};
pub use middleware::{
    RecordedBody, RequestTelemetry, RequestTelemetryFuture, RequestTelemetryMiddleware,
    TRACE_RESPONSE_HEADER,
};
pub use mlotel::names::UNMATCHED_ROUTE;

use actix_web::HttpResponse;

/// The Prometheus text exposition of every mlotel instrument, as an actix-web response
/// (500 with a JSON error body if rendering fails).
pub fn metrics_response(handle: &mlotel::PrometheusHandle) -> HttpResponse {
    match handle.render() {
        Ok(text) => HttpResponse::Ok()
            .insert_header(("content-type", mlotel::PROMETHEUS_CONTENT_TYPE))
            .body(text),
        Err(error) => HttpResponse::InternalServerError().json(serde_json::json!({
            "error": { "type": "metrics_render", "message": error.to_string() }
        })),
    }
}
