//! JSON error responses of `mlotel-actix` over the real wire: a real `HttpServer` on loopback,
//! wrapped with `RequestTelemetry`, extractors configured with `json_config`, `path_config`
//! and `query_config`, handlers returning `ApiError`. For each bad request: the status, the
//! exact `{"error": {"type", "message"}}` body, and the `error.type` on the request span and
//! on `http.server.request.duration`, as received by an in-process OTLP receiver.
//!
//! Telemetry is installed globally once for this binary; each test uses paths of its own and
//! looks only at their data.

mod instrument_ml_support;

use std::net::SocketAddr;
use std::sync::LazyLock;

use actix_web::{App, HttpResponse, web};
use instrument_ml_support::{Harness, HttpRequestKey, WAIT, spawn_actix_server};
use mlotel::names::{self, attr};
use mlotel_actix::{ApiError, RequestTelemetry, json_config, path_config, query_config};
use mlotel_tests::proto::metrics::v1::HistogramDataPoint;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{OtlpReceiver, ReceivedSpan};
use mlotel_tests::{RawResponse as Response, raw_request};
use serde::Deserialize;

static HARNESS: LazyLock<Harness> =
    LazyLock::new(|| Harness::install(OtlpReceiver::grpc(), &[("OTEL_LOGS_EXPORTER", "otlp")]));

fn harness() -> &'static Harness {
    &HARNESS
}

const PREDICT_ROUTE: &str = "/v1/models/{model}:predict";
const LIMIT: usize = 256;
const SECRET: &str = "connection string postgres://admin:hunter2@db";

#[derive(Deserialize)]
struct PredictRequest {
    features: Vec<f64>,
}

#[derive(Deserialize)]
struct Search {
    k: u32,
}

fn check_features(features: &[f64]) -> Result<(), ApiError> {
    if features.len() != 4 {
        return Err(ApiError::bad_request(
            "invalid_features",
            format!("expected 4 features, got {}", features.len()),
        ));
    }
    Ok(())
}

async fn predict(
    model: web::Path<String>,
    body: web::Json<PredictRequest>,
) -> Result<HttpResponse, ApiError> {
    check_features(&body.features)?;
    if model.as_str() == "broken" {
        return Err(ApiError::internal(format!(
            "model file unreadable: {SECRET}"
        )));
    }
    let sum: f64 = body.features.iter().sum();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "model": model.as_str(), "sum": sum })))
}

async fn item(id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(format!("item {}", id.into_inner()))
}

async fn search(query: web::Query<Search>) -> HttpResponse {
    HttpResponse::Ok().body(format!("k={}", query.k))
}

/// One real server for the whole binary.
static SERVER: LazyLock<SocketAddr> = LazyLock::new(|| {
    let _ = harness();
    spawn_actix_server(|| {
        App::new()
            .wrap(RequestTelemetry::new())
            .app_data(json_config(LIMIT))
            .app_data(path_config())
            .app_data(query_config())
            .route(PREDICT_ROUTE, web::post().to(predict))
            .route("/v1/items/{id}", web::get().to(item))
            .route("/v1/search", web::get().to(search))
    })
});

trait ErrorBody {
    /// The body as JSON, asserting the exact error shape; returns type and message.
    fn error(&self) -> (String, String);
}

impl ErrorBody for Response {
    /// The body as JSON, asserting the exact error shape: `{"error": {"type", "message"}}`
    /// and nothing else. Returns type and message.
    fn error(&self) -> (String, String) {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{}",
            self.body
        );
        let value: serde_json::Value = serde_json::from_str(&self.body).expect("the body is JSON");
        let top = value.as_object().expect("a JSON object");
        assert_eq!(top.len(), 1, "only `error`: {value}");
        let error = top
            .get("error")
            .and_then(serde_json::Value::as_object)
            .expect("an `error` object");
        assert_eq!(error.len(), 2, "only `type` and `message`: {value}");
        let kind = error
            .get("type")
            .and_then(serde_json::Value::as_str)
            .expect("a string `type`");
        let message = error
            .get("message")
            .and_then(serde_json::Value::as_str)
            .expect("a string `message`");
        assert!(
            !kind.is_empty()
                && kind.len() <= 32
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "type is short snake_case: {kind}"
        );
        (kind.to_owned(), message.to_owned())
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    raw_request(*SERVER, method, path, headers, body, WAIT)
}

fn post_json(path: &str, body: &[u8]) -> Response {
    request("POST", path, &[("Content-Type", "application/json")], body)
}

/// Waits until `http.server.request.duration` has a point for `method`, `route`, `status`
/// and `error.type` (absent when `None`); returns it.
fn duration_point(
    method: &str,
    route: &str,
    status: i64,
    error_type: Option<&str>,
) -> HistogramDataPoint {
    let key = HttpRequestKey {
        method,
        route,
        status,
        error_type,
    };
    harness().http_point(names::HTTP_SERVER_REQUEST_DURATION.name, key, 1)
}

/// The span of a `POST {PREDICT_ROUTE}` request to `path` carries `status` and `error_type`,
/// and so does a duration point.
fn assert_recorded(path: &str, status: i64, error_type: &str) -> ReceivedSpan {
    let span = harness().span_with_path(&format!("POST {PREDICT_ROUTE}"), path);
    assert_eq!(span.attr_i64(attr::HTTP_RESPONSE_STATUS_CODE), Some(status));
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some(error_type));
    assert_eq!(span.attr_str(attr::HTTP_ROUTE), Some(PREDICT_ROUTE));
    let expected_status = if status >= 500 {
        StatusCode::Error
    } else {
        StatusCode::Unset
    };
    assert_eq!(span.status_code(), expected_status, "{span:?}");
    let point = duration_point("POST", PREDICT_ROUTE, status, Some(error_type));
    assert!(point.count >= 1);
    span
}

#[test]
fn a_valid_request_has_no_error_type() {
    let path = "/v1/models/ok:predict";
    let response = post_json(path, br#"{"features":[1,2,3,4]}"#);
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body, r#"{"model":"ok","sum":10.0}"#);
    let span = harness().span_with_path(&format!("POST {PREDICT_ROUTE}"), path);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), None);
    duration_point("POST", PREDICT_ROUTE, 200, None);
}

#[test]
fn malformed_json_is_400_with_serdes_position() {
    let path = "/v1/models/malformed:predict";
    let response = post_json(path, br#"{"features": [1, 2,"#);
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "malformed_json");
    assert!(message.starts_with("malformed JSON: "), "{message}");
    assert!(
        message.contains("line 1 column 19"),
        "serde's position: {message}"
    );
    assert_recorded(path, 400, "malformed_json");

    let path = "/v1/models/syntax:predict";
    let response = post_json(path, b"{features: 1}");
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "malformed_json");
    assert!(message.contains("key must be a string"), "{message}");
    assert!(message.contains("line 1 column 2"), "{message}");
    assert_recorded(path, 400, "malformed_json");
}

#[test]
fn empty_and_invalid_utf8_bodies_are_malformed_json_not_panics() {
    let path = "/v1/models/empty:predict";
    let response = post_json(path, b"");
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "malformed_json");
    assert!(message.contains("EOF while parsing"), "{message}");
    assert_recorded(path, 400, "malformed_json");

    let path = "/v1/models/utf8:predict";
    let response = post_json(path, b"{\"\xff\xfe\": [1]}");
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "malformed_json");
    assert!(message.contains("invalid unicode code point"), "{message}");
    assert!(message.contains("line 1 column"), "{message}");
    assert_recorded(path, 400, "malformed_json");

    let path = "/v1/models/binary:predict";
    let response = post_json(path, &[0x00, 0xc3, 0x28, 0xa0, 0xa1, 0x80]);
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.error().0, "malformed_json");

    // The server is still up.
    let response = post_json("/v1/models/after:predict", br#"{"features":[1,1,1,1]}"#);
    assert_eq!(response.status, 200, "{}", response.body);
}

#[test]
fn a_body_over_the_limit_is_413() {
    let path = "/v1/models/large:predict";
    let body = format!(r#"{{"features":[{}]}}"#, vec!["1.0"; LIMIT].join(","));
    let response = post_json(path, body.as_bytes());
    assert_eq!(response.status, 413, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "payload_too_large");
    assert_eq!(
        message,
        format!(
            "request body is {} bytes, larger than the limit of {LIMIT} bytes",
            body.len()
        )
    );
    assert_recorded(path, 413, "payload_too_large");
}

#[test]
fn a_chunked_body_over_the_limit_is_413() {
    let path = "/v1/models/chunked:predict";
    let chunk = vec![b' '; LIMIT];
    let mut body = format!("{:x}\r\n", chunk.len()).into_bytes();
    body.extend_from_slice(&chunk);
    body.extend_from_slice(b"\r\n");
    body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
    body.extend_from_slice(&chunk);
    body.extend_from_slice(b"\r\n0\r\n\r\n");
    let response = request(
        "POST",
        path,
        &[
            ("Content-Type", "application/json"),
            ("Transfer-Encoding", "chunked"),
        ],
        &body,
    );
    assert_eq!(response.status, 413, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "payload_too_large");
    assert!(message.contains(&format!("{LIMIT} bytes")), "{message}");
    assert_recorded(path, 413, "payload_too_large");
}

#[test]
fn a_wrong_content_type_is_415() {
    let path = "/v1/models/text:predict";
    let response = request(
        "POST",
        path,
        &[("Content-Type", "text/plain")],
        br#"{"features":[1,2,3,4]}"#,
    );
    assert_eq!(response.status, 415, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "unsupported_media_type");
    assert_eq!(
        message,
        "expected Content-Type application/json, got \"text/plain\""
    );
    assert_recorded(path, 415, "unsupported_media_type");

    let path = "/v1/models/none:predict";
    let response = request("POST", path, &[], br#"{"features":[1,2,3,4]}"#);
    assert_eq!(response.status, 415, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "unsupported_media_type");
    assert_eq!(message, "expected Content-Type application/json, got none");
    assert_recorded(path, 415, "unsupported_media_type");
}

#[test]
fn a_wrong_field_type_is_422() {
    let path = "/v1/models/fields:predict";
    let response = post_json(path, br#"{"features": "1,2,3,4"}"#);
    assert_eq!(response.status, 422, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_json_fields");
    assert!(
        message.contains(r#"invalid type: string "1,2,3,4", expected a sequence"#),
        "{message}"
    );
    assert!(message.contains("line 1 column"), "{message}");
    assert_recorded(path, 422, "invalid_json_fields");

    let path = "/v1/models/missing:predict";
    let response = post_json(path, br#"{"rows": []}"#);
    assert_eq!(response.status, 422, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_json_fields");
    assert!(message.contains("missing field `features`"), "{message}");
}

#[test]
fn a_handler_error_returned_with_question_mark_is_400() {
    let path = "/v1/models/three:predict";
    let response = post_json(path, br#"{"features":[1,2,3]}"#);
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(
        response.body,
        r#"{"error":{"type":"invalid_features","message":"expected 4 features, got 3"}}"#
    );
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_features");
    assert_eq!(message, "expected 4 features, got 3");
    assert!(
        response.header("x-error-type").is_none(),
        "the type travels in the response extensions, not a header"
    );
    assert_recorded(path, 400, "invalid_features");
}

#[test]
fn an_internal_error_is_500_without_its_detail_which_is_logged() {
    let path = "/v1/models/broken:predict";
    let response = post_json(path, br#"{"features":[1,2,3,4]}"#);
    assert_eq!(response.status, 500, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "internal");
    assert_eq!(message, "internal server error");
    assert!(!response.body.contains("hunter2"), "{}", response.body);
    let span = assert_recorded(path, 500, "internal");

    let harness = harness();
    let log = harness.receiver.wait_until(WAIT, |receiver| {
        let found = receiver
            .logs()
            .into_iter()
            .find(|log| log.body_text().contains(SECRET));
        if found.is_none() {
            let _ = harness.telemetry.force_flush();
        }
        found
    });
    assert_eq!(log.severity_text(), "ERROR");
    assert_eq!(
        log.trace_id_hex(),
        span.trace_id_hex(),
        "the log is in the request's trace"
    );
}

#[test]
fn path_and_query_errors_use_the_same_shape() {
    let response = request("GET", "/v1/items/not-a-number", &[], b"");
    assert_eq!(response.status, 404, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_path");
    assert!(message.starts_with("invalid path parameter: "), "{message}");
    assert!(message.contains("not-a-number"), "{message}");
    let span = harness().span_with_path("GET /v1/items/{id}", "/v1/items/not-a-number");
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some("invalid_path"));
    duration_point("GET", "/v1/items/{id}", 404, Some("invalid_path"));

    let response = request("GET", "/v1/search?k=many", &[], b"");
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_query");
    assert!(message.starts_with("invalid query string: "), "{message}");
    assert!(message.contains("invalid digit"), "{message}");
    duration_point("GET", "/v1/search", 400, Some("invalid_query"));

    let response = request("GET", "/v1/search", &[], b"");
    assert_eq!(response.status, 400, "{}", response.body);
    let (kind, message) = response.error();
    assert_eq!(kind, "invalid_query");
    assert!(message.contains("missing field `k`"), "{message}");

    let response = request("GET", "/v1/search?k=3", &[], b"");
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body, "k=3");
}

#[test]
fn a_plain_4xx_without_an_api_error_has_no_error_type() {
    let response = request("GET", "/no/such/route", &[], b"");
    assert_eq!(response.status, 404);
    duration_point("GET", names::UNMATCHED_ROUTE, 404, None);
}
