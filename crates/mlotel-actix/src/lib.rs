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

use actix_web::http::header::{self, Accept, Header as _, Quality};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};

/// The exposition of every mlotel instrument as an actix-web response, in the format the
/// request's `Accept` header prefers: OpenMetrics 1.0 with exemplars when it ranks
/// `application/openmetrics-text` first (as Prometheus does), else the Prometheus text
/// format 0.0.4 (500 with a JSON error body if rendering fails).
pub fn metrics_response(handle: &mlotel::PrometheusHandle, request: &HttpRequest) -> HttpResponse {
    if prefers_openmetrics(request) {
        return HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, mlotel::OPENMETRICS_CONTENT_TYPE))
            .insert_header((header::VARY, "Accept"))
            .body(handle.render_openmetrics());
    }
    match handle.render() {
        Ok(text) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, mlotel::PROMETHEUS_CONTENT_TYPE))
            .insert_header((header::VARY, "Accept"))
            .body(text),
        Err(error) => ApiError::internal_with_type("metrics_render", error).error_response(),
    }
}

/// Whether the request's most preferred media type we can serve is OpenMetrics (an absent
/// or unparseable `Accept` gets the classic format, which every scraper reads). Types with
/// `q=0` are refused, not preferred last.
fn prefers_openmetrics(request: &HttpRequest) -> bool {
    let Ok(Accept(items)) = Accept::parse(request) else {
        return false;
    };
    let acceptable = items
        .into_iter()
        .filter(|item| item.quality > Quality::ZERO)
        .collect();
    Accept(acceptable)
        .ranked()
        .iter()
        .find_map(
            |mime| match (mime.type_().as_str(), mime.subtype().as_str()) {
                ("application", "openmetrics-text") => Some(true),
                ("text", "plain" | "*") | ("*", "*") => Some(false),
                _ => None,
            },
        )
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::prefers_openmetrics;

    fn prefers(accept: Option<&str>) -> bool {
        let request = accept.map_or_else(TestRequest::default, |value| {
            TestRequest::default().insert_header(("accept", value))
        });
        prefers_openmetrics(&request.to_http_request())
    }

    #[test]
    fn openmetrics_only_when_ranked_first_and_acceptable() {
        let prometheus = "application/openmetrics-text;version=1.0.0;q=0.6,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(prefers(Some(prometheus)));
        assert!(prefers(Some("application/openmetrics-text")));
        assert!(!prefers(None));
        assert!(!prefers(Some("*/*")));
        assert!(!prefers(Some("text/plain;version=0.0.4")));
        assert!(!prefers(Some(
            "text/plain;q=0.9,application/openmetrics-text;q=0.5"
        )));
        assert!(
            !prefers(Some("application/openmetrics-text;q=0")),
            "q=0 refuses it"
        );
        assert!(!prefers(Some(
            "application/openmetrics-text;q=0,text/plain"
        )));
        assert!(!prefers(Some("not a media type")));
    }
}
