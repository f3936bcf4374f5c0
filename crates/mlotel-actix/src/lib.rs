//! actix-web integration for mlotel: a `/metrics` handler today; the request middleware and
//! the health endpoints arrive with the actix integration issue.

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
