//! [`MetricsEndpoint`]: `/metrics`, optionally behind a bearer token.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _, web};

use crate::ApiError;

/// The Prometheus exposition as a route, optionally protected by a bearer token:
///
/// ```no_run
/// # fn app(handle: mlotel::PrometheusHandle) {
/// use mlotel_actix::MetricsEndpoint;
///
/// let metrics = MetricsEndpoint::new(handle).bearer_token("s3cret");
/// let app = actix_web::App::new().configure(|config| metrics.configure(config));
/// # }
/// ```
///
/// A wrong or missing token gets 401, a JSON error body and `WWW-Authenticate: Bearer`.
#[derive(Debug, Clone)]
pub struct MetricsEndpoint {
    handle: mlotel::PrometheusHandle,
    token: Option<String>,
    path: String,
}

impl MetricsEndpoint {
    /// Serves `handle` at `/metrics`, unprotected.
    pub fn new(handle: mlotel::PrometheusHandle) -> Self {
        Self {
            handle,
            token: None,
            path: "/metrics".to_owned(),
        }
    }

    /// Requires `Authorization: Bearer {token}` (compared in constant time). An empty token
    /// (say, from an unset variable) is logged as an error and refuses every request rather
    /// than letting requests without a token through.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        if token.is_empty() {
            tracing::error!(
                target: "mlotel",
                path = %self.path,
                "empty bearer token for the metrics endpoint: every request will be refused"
            );
        }
        self.token = Some(token);
        self
    }

    /// Serves at `path` instead of `/metrics`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Adds the route, for `App::configure`.
    pub fn configure(&self, config: &mut web::ServiceConfig) {
        let path = self.path.clone();
        let endpoint = web::Data::new(self.clone());
        config.service(
            web::resource(path)
                .app_data(endpoint)
                .route(web::get().to(serve)),
        );
    }

    /// The response to `request`: the exposition, or 401.
    pub fn respond(&self, request: &HttpRequest) -> HttpResponse {
        if let Some(expected) = &self.token {
            let given = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(bearer_credentials)
                .unwrap_or("");
            if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                let mut response = ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "a valid bearer token is required for /metrics",
                )
                .error_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                return response;
            }
        }
        crate::metrics_response(&self.handle)
    }
}

async fn serve(request: HttpRequest, endpoint: web::Data<MetricsEndpoint>) -> HttpResponse {
    endpoint.respond(&request)
}

/// The credentials of an `Authorization: Bearer ...` value (the scheme in any case, as
/// RFC 7235 says).
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, credentials) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim_start())
}

/// Equal slices, in time that depends on the lengths only (a token cannot be guessed
/// byte by byte from response times).
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(given.len() != expected.len());
    for (index, byte) in expected.iter().enumerate() {
        difference |= byte ^ given.get(index).copied().unwrap_or(!byte);
    }
    difference == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer_credentials, constant_time_eq};

    #[test]
    fn the_scheme_is_read_in_any_case() {
        assert_eq!(bearer_credentials("Bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("bearer abc"), Some("abc"));
        assert_eq!(bearer_credentials("BEARER  abc"), Some("abc"));
        assert_eq!(bearer_credentials("Basic abc"), None);
        assert_eq!(bearer_credentials("Bearer"), None);
    }

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secret2", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
    }
}
