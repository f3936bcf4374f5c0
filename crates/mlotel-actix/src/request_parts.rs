//! What the middleware reads off a request, as bounded attribute values: the method, the
//! protocol version, the host's address and port, whether the router ran, and the
//! propagation headers; and the `traceresponse` header it writes back.

use actix_web::http::Version;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;

use crate::request_cache::trace_response_bytes;

/// `http.request.method` of a method outside the standard set (semantic conventions).
pub(crate) const OTHER_METHOD: &str = "_OTHER";

/// The method as a static string, so metrics never hold a client-chosen value.
pub(crate) fn method_name(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        "CONNECT" => "CONNECT",
        "TRACE" => "TRACE",
        _ => OTHER_METHOD,
    }
}

pub(crate) fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "unknown",
    }
}

/// Whether the router already consumed part of the path (it ran, or the middleware wraps
/// a scope's resource rather than the application), in which case `match_pattern` answers
/// from the matched resource instead of matching the path again.
pub(crate) fn routed(info: &actix_web::dev::Path<actix_web::dev::Url>) -> bool {
    info.unprocessed().len() < info.as_str().len() || info.segment_count() > 0
}

/// `host[:port]` (or `[v6]:port`) as address and port.
pub(crate) fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        if let Some((address, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|port| port.parse().ok());
            return (address, port);
        }
        return (host, None);
    }
    match host.rsplit_once(':') {
        Some((address, port)) => match port.parse() {
            Ok(port) => (address, Some(port)),
            Err(_) => (host, None),
        },
        None => (host, None),
    }
}

/// `00-{trace id}-{span id}-{flags}` of the request span, if it has a valid context.
pub(crate) fn trace_response(cx: &Context) -> Option<HeaderValue> {
    let span = cx.span();
    let context = span.span_context();
    if !context.is_valid() {
        return None;
    }
    let bytes = trace_response_bytes(
        context.trace_id().to_bytes(),
        context.span_id().to_bytes(),
        context.trace_flags().to_u8(),
    );
    HeaderValue::from_bytes(&bytes).ok()
}

/// Reads propagation headers from an actix-web request.
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a HeaderMap);

/// The W3C propagators' headers as prebuilt names: a lookup by `&str` parses the name and,
/// for a non-standard header, allocates it, on every request.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match key {
            "traceparent" => self.0.get(&TRACEPARENT),
            "tracestate" => self.0.get(&TRACESTATE),
            "baggage" => self.0.get(&BAGGAGE),
            _ => self.0.get(key),
        };
        value.and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_standard_set_are_other() {
        assert_eq!(method_name("GET"), "GET");
        assert_eq!(method_name("PATCH"), "PATCH");
        assert_eq!(method_name("get"), OTHER_METHOD);
        assert_eq!(method_name("PROPFIND"), OTHER_METHOD);
    }

    #[test]
    fn a_request_is_routed_once_the_router_consumed_its_path() {
        let mut req = actix_web::test::TestRequest::with_uri("/hello/x").to_srv_request();
        assert!(!routed(req.match_info()), "fresh from the dispatcher");
        req.match_info_mut().skip(6);
        assert!(
            routed(req.match_info()),
            "a scope or resource matched a prefix"
        );
    }

    #[test]
    fn propagation_headers_are_found_by_prebuilt_and_parsed_names_alike() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("tracestate", "vendor=1"),
            ("baggage", "tenant=a"),
            ("x-other", "other"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let extractor = HeaderExtractor(&headers);
        for key in ["traceparent", "tracestate", "baggage", "x-other", "X-Other"] {
            assert_eq!(
                extractor.get(key),
                headers.get(key).and_then(|value| value.to_str().ok()),
                "{key}"
            );
            assert!(extractor.get(key).is_some(), "{key}");
        }
        assert_eq!(extractor.get("missing"), None);
    }

    #[test]
    fn host_headers_split_into_address_and_port() {
        assert_eq!(split_host("example.com"), ("example.com", None));
        assert_eq!(split_host("example.com:8080"), ("example.com", Some(8080)));
        assert_eq!(split_host("[::1]:9000"), ("::1", Some(9000)));
        assert_eq!(split_host("[::1]"), ("::1", None));
        assert_eq!(split_host("host:notaport"), ("host:notaport", None));
    }
}
