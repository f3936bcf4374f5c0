//! Endpoints as they may be shown: user info (`user:password@`) and query strings removed,
//! because health endpoints, start-up logs and error messages are read by people and tools
//! that must not learn the exporter's credentials.

/// What replaces a secret part of a URL.
const REDACTED: &str = "REDACTED";

/// An endpoint's display form and the secrets it carried, to scrub them from messages that
/// quote the URL (an HTTP client's error, for instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedactedEndpoint {
    display: String,
    secrets: Vec<String>,
}

impl RedactedEndpoint {
    pub(crate) fn new(endpoint: &str) -> Self {
        let (scheme, rest) = match endpoint.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, endpoint),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let mut secrets = Vec::new();
        let mut display = String::with_capacity(endpoint.len());
        if let Some(scheme) = scheme {
            display.push_str(scheme);
            display.push_str("://");
        }
        match authority.rsplit_once('@') {
            Some((user_info, host)) => {
                secrets.push(user_info.to_owned());
                display.push_str(REDACTED);
                display.push('@');
                display.push_str(host);
            }
            None => display.push_str(authority),
        }
        let (path, fragment) = match tail.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (tail, None),
        };
        match path.split_once('?') {
            Some((path, query)) => {
                display.push_str(path);
                display.push('?');
                display.push_str(REDACTED);
                secrets.push(query.to_owned());
            }
            None => display.push_str(path),
        }
        if let Some(fragment) = fragment.filter(|fragment| !fragment.is_empty()) {
            secrets.push(fragment.to_owned());
        }
        secrets.retain(|secret| !secret.is_empty());
        Self { display, secrets }
    }

    /// The endpoint without its user info and query.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// `message` with every secret of the endpoint replaced.
    // Only the OTLP exporters have errors to scrub.
    #[cfg_attr(
        not(any(feature = "otlp-grpc", feature = "otlp-http")),
        allow(dead_code)
    )]
    pub(crate) fn scrub(&self, message: &str) -> String {
        self.secrets
            .iter()
            .fold(message.to_owned(), |message, secret| {
                message.replace(secret.as_str(), REDACTED)
            })
    }
}

/// The display form of `endpoint` (see [`RedactedEndpoint`]).
pub(crate) fn endpoint(endpoint: &str) -> String {
    RedactedEndpoint::new(endpoint).display
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_and_query_are_replaced_and_the_rest_kept() {
        let endpoint =
            RedactedEndpoint::new("http://user:s3cret@collector:4318/v1/traces?token=abc");
        assert_eq!(
            endpoint.display(),
            "http://REDACTED@collector:4318/v1/traces?REDACTED"
        );
        assert_eq!(
            endpoint.scrub(
                "error sending request for url (http://user:s3cret@collector:4318/v1/traces?token=abc)"
            ),
            "error sending request for url (http://REDACTED@collector:4318/v1/traces?REDACTED)"
        );
    }

    #[test]
    fn an_endpoint_without_secrets_is_unchanged() {
        for plain in [
            "http://localhost:4318/v1/traces",
            "http://collector:4317",
            "http://[::1]:4317/",
            "not a url",
            "",
        ] {
            let endpoint = RedactedEndpoint::new(plain);
            assert_eq!(endpoint.display(), plain);
            assert_eq!(endpoint.scrub("message"), "message");
        }
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_user_info() {
        assert_eq!(
            endpoint("http://collector:4318/v1/a@b"),
            "http://collector:4318/v1/a@b"
        );
        // The last '@' of the authority ends the user info, as URL parsers read it.
        assert_eq!(
            endpoint("http://us@er:p@ss@collector:4318"),
            "http://REDACTED@collector:4318"
        );
    }
}
