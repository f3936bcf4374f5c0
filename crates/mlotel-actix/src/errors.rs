//! JSON error responses for actix-web handlers: [`ApiError`], and extractor configurations
//! ([`json_config`], [`path_config`], [`query_config`]) that answer bad payloads with the
//! same `{"error": {"type": ..., "message": ...}}` body.
//!
//! Every response built here carries its error type in the response extensions (never in a
//! header), where [`RequestTelemetry`](crate::RequestTelemetry) reads it for the `error.type`
//! attribute of the request span and of `http.server.request.duration`.

use std::borrow::Cow;
use std::fmt;

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Serialize;

/// The message sent for [`ApiError::internal`]: the details stay in the logs.
const INTERNAL_MESSAGE: &str = "internal server error";

/// Longest client-sent value (a content type) quoted back in a message, in bytes.
const MAX_ECHO: usize = 64;

/// An error answered as JSON: `{"error": {"type": "<type>", "message": "<message>"}}` with
/// the matching status code.
///
/// Return it from handlers (`Result<HttpResponse, ApiError>`, so `?` works):
///
/// ```
/// use actix_web::HttpResponse;
/// use mlotel_actix::ApiError;
///
/// fn check(features: &[f64]) -> Result<(), ApiError> {
///     if features.len() != 4 {
///         return Err(ApiError::bad_request(
///             "invalid_features",
///             format!("expected 4 features, got {}", features.len()),
///         ));
///     }
///     Ok(())
/// }
///
/// async fn predict(features: Vec<f64>) -> Result<HttpResponse, ApiError> {
///     check(&features)?;
///     Ok(HttpResponse::Ok().finish())
/// }
/// ```
///
/// The type is a `&'static str`, so the values `error.type` can take are the ones written in
/// the code: keep them short `snake_case` words (`invalid_features`, `model_not_found`). The
/// message is for the client; for [`ApiError::internal`] it is a fixed text and the details
/// are logged instead.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: Cow<'static, str>,
}

impl ApiError {
    /// An error with any status code. The message is sent to the client as is, for a 5xx
    /// too: use [`ApiError::internal`] for details that must not leave the server.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    /// 400 Bad Request.
    pub fn bad_request(kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    /// 404 Not Found.
    pub fn not_found(kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, message)
    }

    /// 413 Payload Too Large.
    pub fn payload_too_large(kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, kind, message)
    }

    /// 415 Unsupported Media Type.
    pub fn unsupported_media_type(
        kind: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, kind, message)
    }

    /// 422 Unprocessable Content: well-formed input the handler cannot use.
    pub fn unprocessable(kind: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, message)
    }

    /// 500 Internal Server Error of type `internal`. The client gets the fixed message
    /// `internal server error`; `detail` is logged here with `tracing::error!` (inside the
    /// request span when called from a handler wrapped by `RequestTelemetry`).
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::internal_with_type("internal", detail)
    }

    /// Like [`ApiError::internal`], with a more precise type (`model_unavailable`, ...).
    pub fn internal_with_type(kind: &'static str, detail: impl fmt::Display) -> Self {
        tracing::error!(
            error.type = kind,
            error.detail = %detail,
            "internal error answered with 500: {detail}"
        );
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, kind, INTERNAL_MESSAGE)
    }

    /// The status code of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `type` of the body, also the `error.type` the middleware records.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The `message` of the body.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = ErrorBody {
            error: ErrorFields {
                kind: self.kind,
                message: &self.message,
            },
        };
        let response = HttpResponse::build(self.status).json(body);
        tag_error_type(response, self.kind)
    }
}

/// `{"error": {"type": ..., "message": ...}}`, in that order.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    message: &'a str,
}

/// The error type of a response, kept in its extensions for the middleware.
#[derive(Debug, Clone, Copy)]
struct ErrorTypeTag(&'static str);

/// Marks `response` with `error.type` `kind` (read by the middleware, never sent).
fn tag_error_type<B>(mut response: HttpResponse<B>, kind: &'static str) -> HttpResponse<B> {
    response.extensions_mut().insert(ErrorTypeTag(kind));
    response
}

/// The error type an [`ApiError`] (or an extractor config of this module) put on a
/// response, if any.
pub(crate) fn error_type_of<B>(response: &HttpResponse<B>) -> Option<&'static str> {
    response.extensions().get::<ErrorTypeTag>().map(|tag| tag.0)
}

/// A `web::JsonConfig` accepting bodies up to `limit_bytes` whose errors are [`ApiError`]s:
///
/// | Problem | Status | `type` |
/// |---|---|---|
/// | not JSON syntax, empty or truncated body, invalid UTF-8 | 400 | `malformed_json` |
/// | valid JSON of the wrong shape (wrong field type, missing or unknown field) | 422 | `invalid_json_fields` |
/// | body larger than `limit_bytes` | 413 | `payload_too_large` |
/// | `Content-Type` not JSON (or missing) | 415 | `unsupported_media_type` |
/// | body not readable (connection cut, bad encoding) | 400 | `invalid_payload` |
///
/// The message quotes serde's, with line and column. Register it with
/// `App::app_data(mlotel_actix::json_config(64 * 1024))`.
pub fn json_config(limit_bytes: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit_bytes)
        .error_handler(|error, request| json_error(error, request).into())
}

/// A `web::PathConfig` whose errors are [`ApiError`]s: 404 `invalid_path` (actix-web's status
/// for a path that does not deserialize), naming the problem.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|error, _| path_error(error).into())
}

/// A `web::QueryConfig` whose errors are [`ApiError`]s: 400 `invalid_query`, naming the
/// problem.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| query_error(error).into())
}

fn json_error(error: JsonPayloadError, request: &HttpRequest) -> ApiError {
    match error {
        JsonPayloadError::OverflowKnownLength { length, limit } => ApiError::payload_too_large(
            "payload_too_large",
            format!("request body is {length} bytes, larger than the limit of {limit} bytes"),
        ),
        JsonPayloadError::Overflow { limit } => too_large(limit),
        JsonPayloadError::ContentType => {
            let sent = request
                .headers()
                .get(header::CONTENT_TYPE)
                .map_or(Cow::Borrowed("none"), echo);
            ApiError::unsupported_media_type(
                "unsupported_media_type",
                format!("expected Content-Type application/json, got {sent}"),
            )
        }
        JsonPayloadError::Deserialize(error) => match error.classify() {
            serde_json::error::Category::Data => ApiError::unprocessable(
                "invalid_json_fields",
                format!("JSON body does not match the expected fields: {error}"),
            ),
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                ApiError::bad_request("malformed_json", format!("malformed JSON: {error}"))
            }
        },
        JsonPayloadError::Payload(PayloadError::Overflow) => ApiError::payload_too_large(
            "payload_too_large",
            "request body is larger than the limit",
        ),
        JsonPayloadError::Payload(error) => ApiError::bad_request(
            "invalid_payload",
            format!("request body could not be read: {error}"),
        ),
        JsonPayloadError::Serialize(error) => ApiError::internal(error),
        other => ApiError::bad_request("invalid_payload", format!("invalid JSON body: {other}")),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::payload_too_large(
        "payload_too_large",
        format!("request body is larger than the limit of {limit} bytes"),
    )
}

fn path_error(error: PathError) -> ApiError {
    match error {
        PathError::Deserialize(error) => {
            ApiError::not_found("invalid_path", format!("invalid path parameter: {error}"))
        }
        other => ApiError::not_found("invalid_path", format!("invalid path: {other}")),
    }
}

fn query_error(error: QueryPayloadError) -> ApiError {
    match error {
        QueryPayloadError::Deserialize(error) => {
            ApiError::bad_request("invalid_query", format!("invalid query string: {error}"))
        }
        other => ApiError::bad_request("invalid_query", format!("invalid query string: {other}")),
    }
}

/// A client-sent header value, shortened and quoted, for a message.
pub(crate) fn echo(value: &HeaderValue) -> Cow<'static, str> {
    echo_str(&String::from_utf8_lossy(value.as_bytes())).into()
}

/// A client-sent text, shortened and quoted, for a message.
pub(crate) fn echo_str(text: &str) -> String {
    let mut end = text.len().min(MAX_ECHO);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut quoted = format!("{:?}", &text[..end]);
    if end < text.len() {
        quoted.push_str("...");
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_their_type_in_the_extensions() {
        let error = ApiError::bad_request("invalid_features", "expected 4 features, got 3");
        assert_eq!(
            error.to_string(),
            "invalid_features: expected 4 features, got 3"
        );
        let response = error.error_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_type_of(&response), Some("invalid_features"));
        assert!(response.headers().get("x-error-type").is_none());
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let error = ApiError::internal("database password is hunter2");
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.kind(), "internal");
        assert_eq!(error.message(), INTERNAL_MESSAGE);
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn echoed_values_are_bounded() {
        let long = HeaderValue::from_static(
            "text/plainxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        );
        let echoed = echo(&long);
        assert!(echoed.len() <= MAX_ECHO + 5, "{echoed}");
        assert!(echoed.ends_with("..."));
        assert_eq!(
            echo(&HeaderValue::from_static("text/plain")),
            "\"text/plain\""
        );
    }
}
