//! What [`RequestTelemetry`](crate::RequestTelemetry) would otherwise rebuild on every
//! request, kept per worker (the middleware is built once per worker thread, so no lock):
//! each route's attribute value and span names, and the metric series bound to each
//! attribute set. A request then costs one small-key hash lookup instead of formatting a
//! span name, allocating the route and hashing six attributes per instrument in the SDK.
//!
//! Every cache is bounded; past its bound a request takes the plain path, with the same
//! names and attributes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use foldhash::fast::RandomState;
use mlotel::exemplars::{ExemplarSeries, histogram_exemplars};
use mlotel::names;
use opentelemetry::metrics::{BoundHistogram, BoundUpDownCounter, Histogram, UpDownCounter};
use opentelemetry::{KeyValue, StringValue};

/// Routes cached per worker: an application has a fixed set of route templates, so the
/// bound only matters for a misbehaving router.
const MAX_ROUTES: usize = 256;
/// Attribute sets (route, method, scheme, protocol, status, error type) bound per worker.
const MAX_SERIES: usize = 2048;
/// Span names interned for the whole process (`"{method} {route}"`, leaked once each).
const MAX_SPAN_NAMES: usize = 4096;

/// A route template and what requests to it share.
#[derive(Debug)]
struct Route {
    /// Index in the worker's route table: part of the series key.
    id: u32,
    /// The `http.route` value.
    value: StringValue,
    /// `"{method} {route}"` per method seen, when interned.
    span_names: Vec<(&'static str, &'static str)>,
}

impl Route {
    /// What a request with `method` needs of this route, interning its span name on first
    /// sight of the method.
    fn names(&mut self, method: &'static str) -> RouteNames {
        let span_name = match self.span_names.iter().find(|(m, _)| *m == method) {
            Some((_, name)) => Some(*name),
            None => {
                let name = intern(format!("{method} {}", self.value.as_str()));
                if let Some(name) = name {
                    self.span_names.push((method, name));
                }
                name
            }
        };
        RouteNames {
            id: self.id,
            value: self.value.clone(),
            span_name,
        }
    }
}

/// What a request needs of its route.
#[derive(Debug, Clone)]
pub(crate) struct RouteNames {
    /// Index in the worker's route table: part of the series key.
    pub(crate) id: u32,
    /// The `http.route` value.
    pub(crate) value: StringValue,
    /// `"{method} {route}"`, `None` past the process-wide bound of interned names.
    pub(crate) span_name: Option<&'static str>,
}

/// The metric series of one attribute set.
pub(crate) struct Series {
    pub(crate) duration: BoundHistogram<f64>,
    pub(crate) request_size: BoundHistogram<u64>,
    pub(crate) response_size: BoundHistogram<u64>,
    /// The duration's exemplars, offered by sampled requests.
    pub(crate) exemplars: Arc<ExemplarSeries>,
}

/// What determines a request's metric attributes (`error.type` included: it comes from
/// the status or the `ApiError` type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct SeriesKey {
    pub(crate) route: u32,
    pub(crate) method: &'static str,
    pub(crate) scheme: &'static str,
    pub(crate) protocol: &'static str,
    pub(crate) status: Option<u16>,
    pub(crate) error_type: Option<&'static str>,
}

/// `http.server.active_requests` of one (method, scheme).
type ActiveSeries = ((&'static str, &'static str), BoundUpDownCounter<i64>);

/// The per-worker caches.
#[derive(Default)]
pub(crate) struct RequestCache {
    routes: RefCell<HashMap<Box<str>, Route, RandomState>>,
    series: RefCell<HashMap<SeriesKey, Arc<Series>, RandomState>>,
    active: RefCell<Vec<ActiveSeries>>,
}

impl RequestCache {
    /// The route of `pattern` and its span name for `method`, cached on first sight;
    /// `None` past the bound of routes.
    pub(crate) fn route(&self, pattern: &str, method: &'static str) -> Option<RouteNames> {
        let mut routes = self.routes.borrow_mut();
        if let Some(route) = routes.get_mut(pattern) {
            return Some(route.names(method));
        }
        if routes.len() >= MAX_ROUTES {
            return None;
        }
        let route = Route {
            id: u32::try_from(routes.len()).ok()?,
            value: StringValue::from(Arc::<str>::from(pattern)),
            span_names: Vec::new(),
        };
        Some(routes.entry(pattern.into()).or_insert(route).names(method))
    }

    /// The series of `key`, bound with `attributes` on first sight; `None` past the bound.
    pub(crate) fn series(
        &self,
        key: SeriesKey,
        attributes: impl FnOnce() -> Vec<KeyValue>,
        instruments: (&Histogram<f64>, &Histogram<u64>, &Histogram<u64>),
    ) -> Option<Arc<Series>> {
        let mut series = self.series.borrow_mut();
        if let Some(found) = series.get(&key) {
            return Some(Arc::clone(found));
        }
        if series.len() >= MAX_SERIES {
            return None;
        }
        let attributes = attributes();
        let bound = Arc::new(Series {
            duration: instruments.0.bind(&attributes),
            request_size: instruments.1.bind(&attributes),
            response_size: instruments.2.bind(&attributes),
            exemplars: histogram_exemplars(&names::HTTP_SERVER_REQUEST_DURATION, &attributes),
        });
        series.insert(key, Arc::clone(&bound));
        Some(bound)
    }

    /// Adds `delta` to `http.server.active_requests` of (method, scheme), bound once.
    pub(crate) fn add_active(
        &self,
        counter: &UpDownCounter<i64>,
        method: &'static str,
        scheme: &'static str,
        delta: i64,
    ) {
        let mut active = self.active.borrow_mut();
        if let Some((_, bound)) = active.iter().find(|(key, _)| *key == (method, scheme)) {
            bound.add(delta);
            return;
        }
        let bound = counter.bind(&[
            KeyValue::new(mlotel::names::attr::HTTP_REQUEST_METHOD, method),
            KeyValue::new(mlotel::names::attr::URL_SCHEME, scheme),
        ]);
        bound.add(delta);
        active.push(((method, scheme), bound));
    }
}

/// The process-wide interned copy of `name` (span names must be `'static` or allocated
/// per span); `None` once [`MAX_SPAN_NAMES`] names exist.
fn intern(name: String) -> Option<&'static str> {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str, RandomState>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(interned) = names.get(&name) {
        return Some(interned);
    }
    if names.len() >= MAX_SPAN_NAMES {
        return None;
    }
    let interned: &'static str = Box::leak(name.clone().into_boxed_str());
    names.insert(name, interned);
    Some(interned)
}

/// `00-{trace id}-{span id}-{flags}` in lowercase hex, without the formatting machinery.
pub(crate) fn trace_response_bytes(trace_id: [u8; 16], span_id: [u8; 8], flags: u8) -> [u8; 55] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'-'; 55];
    out[0] = b'0';
    out[1] = b'0';
    let mut hex = |at: usize, bytes: &[u8]| {
        for (i, byte) in bytes.iter().enumerate() {
            out[at + 2 * i] = HEX[usize::from(byte >> 4)];
            out[at + 2 * i + 1] = HEX[usize::from(byte & 0xf)];
        }
    };
    // "00-" trace id (32) "-" span id (16) "-" flags (2)
    hex(3, &trace_id);
    hex(36, &span_id);
    hex(53, &[flags]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

    #[test]
    fn the_hex_header_equals_the_formatted_one() {
        let trace_id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").expect("hex");
        let span_id = SpanId::from_hex("00f067aa0ba902b7").expect("hex");
        for flags in [
            TraceFlags::SAMPLED,
            TraceFlags::default(),
            TraceFlags::new(0xab),
        ] {
            let formatted = format!("00-{trace_id}-{span_id}-{:02x}", flags.to_u8());
            let bytes =
                trace_response_bytes(trace_id.to_bytes(), span_id.to_bytes(), flags.to_u8());
            assert_eq!(std::str::from_utf8(&bytes), Ok(formatted.as_str()));
        }
    }

    #[test]
    fn routes_and_names_are_cached_up_to_the_bound() {
        let cache = RequestCache::default();
        let first = cache.route("/v1/predict", "POST").expect("cached");
        assert_eq!(first.value.as_str(), "/v1/predict");
        assert_eq!(first.span_name, Some("POST /v1/predict"));
        // Found again without formatting: the same interned pointer, the same id.
        let again = cache.route("/v1/predict", "POST").expect("cached");
        assert_eq!(again.id, first.id);
        assert!(std::ptr::eq(
            again.span_name.expect("interned"),
            first.span_name.expect("interned")
        ));
        let get = cache.route("/v1/predict", "GET").expect("cached");
        assert_eq!((get.id, get.span_name), (first.id, Some("GET /v1/predict")));
        for n in 1..MAX_ROUTES {
            assert!(cache.route(&format!("/r/{n}"), "GET").is_some());
        }
        assert!(
            cache.route("/one/too/many", "GET").is_none(),
            "past the bound: the plain path"
        );
        assert!(
            cache.route("/v1/predict", "POST").is_some(),
            "known routes stay cached"
        );
    }

    #[test]
    fn series_are_bound_once_per_key_and_not_past_the_bound() {
        let meter = opentelemetry::global::meter("request-cache-test");
        let duration = meter.f64_histogram("d").build();
        let request = meter.u64_histogram("q").build();
        let response = meter.u64_histogram("r").build();
        let cache = RequestCache::default();
        let key = |status| SeriesKey {
            route: 0,
            method: "GET",
            scheme: "http",
            protocol: "1.1",
            status: Some(status),
            error_type: None,
        };
        let mut bindings = 0;
        for _ in 0..3 {
            let series = cache.series(
                key(200),
                || {
                    bindings += 1;
                    vec![KeyValue::new("http.response.status_code", 200)]
                },
                (&duration, &request, &response),
            );
            assert!(series.is_some());
        }
        assert_eq!(bindings, 1, "bound on first sight only");
        for status in 0..(MAX_SERIES as u16 - 1) {
            let attributes = Vec::new;
            assert!(
                cache
                    .series(
                        key(1000 + status),
                        attributes,
                        (&duration, &request, &response)
                    )
                    .is_some()
            );
        }
        assert!(
            cache
                .series(key(9999), Vec::new, (&duration, &request, &response))
                .is_none()
        );
    }
}
