//! [`BearerToken`]: the `Authorization: Bearer` check of the operator endpoints (`/metrics`,
//! and on request `/health/detailed` and a service's own pages).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError as _};

use crate::ApiError;

/// A bearer token that requests to an endpoint must present
/// (`Authorization: Bearer {token}`), compared in constant time.
///
/// An empty token (say, from a variable set to nothing) refuses every request rather than
/// letting requests without a token through.
#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.write_str("BearerToken(..)")
    }
}

impl BearerToken {
    /// The token requests must present.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// Whether the token is empty (every request is refused).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `None` when `request` presents the token; else the answer to send: 401 with a JSON
    /// error body naming `what` and `WWW-Authenticate: Bearer`.
    pub fn refusal(&self, request: &HttpRequest, what: &str) -> Option<HttpResponse> {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(bearer_credentials)
            .unwrap_or("");
        if !self.0.is_empty() && constant_time_eq(given.as_bytes(), self.0.as_bytes()) {
            return None;
        }
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("a valid bearer token is required for {what}"),
        )
        .error_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
        Some(response)
    }
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
    use super::*;

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

    #[test]
    fn requests_without_the_token_get_401_and_the_token_is_never_shown() {
        let token = BearerToken::new("s3cret");
        assert!(!format!("{token:?}").contains("s3cret"));
        let ok = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer s3cret"))
            .to_http_request();
        assert!(token.refusal(&ok, "/x").is_none());
        for given in [None, Some("Bearer wrong"), Some("Basic s3cret")] {
            let mut request = actix_web::test::TestRequest::default();
            if let Some(given) = given {
                request = request.insert_header((header::AUTHORIZATION, given));
            }
            let refused = token.refusal(&request.to_http_request(), "/x");
            let refused = refused.expect("refused");
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{given:?}");
            assert_eq!(
                refused
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.as_bytes()),
                Some(&b"Bearer"[..])
            );
        }
        let empty = BearerToken::new("");
        let request = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, "Bearer "))
            .to_http_request();
        assert!(
            empty.refusal(&request, "/x").is_some(),
            "an empty token refuses all"
        );
    }
}
