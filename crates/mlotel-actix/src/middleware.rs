//! [`RequestTelemetry`]: the actix-web middleware that owns each request's server span, its
//! trace-context propagation and the HTTP server metrics.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, ready};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::web::Bytes;
use actix_web::{Error, HttpRequest};
use mlotel::names::{self, attr};
use opentelemetry::global;
use opentelemetry::metrics::{Histogram, Meter, UpDownCounter};
use opentelemetry::trace::{
    SpanBuilder, SpanKind, Status, TraceContextExt as _, Tracer, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, StringValue, Value};
use pin_project_lite::pin_project;

use crate::path_cache::{LastValue, PathCache, PathInfo, truncated};
use crate::request_cache::{RequestCache, SeriesKey};
use crate::request_parts::{
    HeaderExtractor, OTHER_METHOD, method_name, protocol_version, routed, split_host,
    trace_response,
};

/// Name of the response header that carries the request span's context
/// (`00-{trace id}-{span id}-{flags}`, W3C Trace Context level 2).
pub const TRACE_RESPONSE_HEADER: &str = "traceresponse";

/// Default longest value of the string attributes the middleware takes from the request
/// (`url.path`, `user_agent.original`, `server.address`, `http.request.method_original`),
/// in bytes; see [`RequestTelemetry::max_attribute_length`].
pub const DEFAULT_MAX_ATTRIBUTE_BYTES: usize = 1024;

/// Middleware recording every request: a server span (the parent of prediction spans made
/// while the handler runs) and the `http.server.*` metrics.
///
/// Build it inside the `HttpServer::new` closure (one per worker; instruments are created
/// once per worker and shared by its requests):
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use mlotel_actix::RequestTelemetry;
///
/// # async fn run() -> std::io::Result<()> {
/// HttpServer::new(|| {
///     App::new()
///         .wrap(RequestTelemetry::new())
///         .route("/v1/models/{model}:predict", web::post().to(|| async { "ok" }))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await
/// # }
/// ```
///
/// See `docs/actix.md` for everything it records.
#[derive(Debug, Clone)]
pub struct RequestTelemetry {
    inner: Rc<Inner>,
    stats: Option<RequestStats>,
    max_attribute_bytes: usize,
}

/// Request counts shared between [`RequestTelemetry`] and the health endpoints: requests
/// seen, requests answered with a 5xx and with a 4xx, and when the last one arrived.
/// Relaxed atomics; clones share them.
#[derive(Debug, Clone, Default)]
pub struct RequestStats(Arc<StatsInner>);

#[derive(Debug, Default)]
struct StatsInner {
    total: AtomicU64,
    failed: AtomicU64,
    client_errors: AtomicU64,
    last_request_unix_millis: AtomicU64,
}

impl RequestStats {
    /// New counts, all zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests seen (counted on arrival).
    pub fn total(&self) -> u64 {
        self.0.total.load(Ordering::Relaxed)
    }

    /// Requests answered with a 5xx status.
    pub fn failed(&self) -> u64 {
        self.0.failed.load(Ordering::Relaxed)
    }

    /// Requests answered with a 4xx status (the client's fault; not in the error rate).
    pub fn client_errors(&self) -> u64 {
        self.0.client_errors.load(Ordering::Relaxed)
    }

    /// When the last request arrived, if any did.
    pub fn last_request_time(&self) -> Option<SystemTime> {
        match self.0.last_request_unix_millis.load(Ordering::Relaxed) {
            0 => None,
            millis => Some(UNIX_EPOCH + std::time::Duration::from_millis(millis)),
        }
    }

    fn arrived(&self) {
        self.0.total.fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_millis() as u64);
        self.0
            .last_request_unix_millis
            .store(now, Ordering::Relaxed);
    }

    fn answered(&self, status: StatusCode) {
        if status.is_server_error() {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
        } else if status.is_client_error() {
            self.0.client_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Starts a request's server span under its parent and returns the context holding it. A
/// closure keeps the SDK's own tracer (from [`RequestTelemetry::with_telemetry`] and
/// [`crate::ServiceTelemetry`]) without naming its type: its spans go into the `Context`
/// boxed once, where a `BoxedTracer`'s spans are boxed twice and dispatched through two
/// vtables.
type StartSpan = Box<dyn Fn(SpanBuilder, &Context) -> Context>;

/// Makes each worker's [`StartSpan`] (kept by [`crate::ServiceTelemetry`], shared by its
/// workers).
pub(crate) type SpanStarters = Arc<dyn Fn() -> StartSpan + Send + Sync>;

fn span_starter<T>(tracer: T) -> StartSpan
where
    T: Tracer + 'static,
    T::Span: Send + Sync + 'static,
{
    Box::new(move |builder, parent| parent.with_span(builder.start_with_context(&tracer, parent)))
}

/// Span starters on the SDK tracer provider of `telemetry`, under the `mlotel` scope.
pub(crate) fn sdk_span_starters(telemetry: &mlotel::Telemetry) -> SpanStarters {
    let provider = telemetry.tracer_provider().clone();
    Arc::new(move || span_starter(provider.tracer_with_scope(scope())))
}

struct Inner {
    start_span: StartSpan,
    duration: Histogram<f64>,
    active: UpDownCounter<i64>,
    request_size: Histogram<u64>,
    response_size: Histogram<u64>,
    cache: RequestCache,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner").finish_non_exhaustive()
    }
}

impl Default for RequestTelemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestTelemetry {
    /// Records through the globally installed OpenTelemetry providers (what
    /// `mlotel::Telemetry::builder().install()` sets), under the `mlotel` scope.
    pub fn new() -> Self {
        let scope = scope();
        let tracer = global::tracer_provider().tracer_with_scope(scope.clone());
        Self::from_parts(span_starter(tracer), &global::meter_with_scope(scope))
    }

    /// Records through the providers of `telemetry`, whether or not it was installed
    /// globally. Incoming trace context is still read with the global propagator, which
    /// `install()` sets (W3C trace-context and baggage).
    pub fn with_telemetry(telemetry: &mlotel::Telemetry) -> Self {
        let tracer = telemetry.tracer_provider().tracer_with_scope(scope());
        Self::from_parts(span_starter(tracer), &telemetry.meter())
    }

    /// Records through span starters and a meter held apart from their `Telemetry` (what
    /// [`crate::ServiceTelemetry`] keeps, since a worker closure cannot borrow it).
    pub(crate) fn with_span_starters(starters: &SpanStarters, meter: &Meter) -> Self {
        Self::from_parts(starters(), meter)
    }

    fn from_parts(start_span: StartSpan, meter: &Meter) -> Self {
        let duration = &names::HTTP_SERVER_REQUEST_DURATION;
        let active = &names::HTTP_SERVER_ACTIVE_REQUESTS;
        let request_size = &names::HTTP_SERVER_REQUEST_BODY_SIZE;
        let response_size = &names::HTTP_SERVER_RESPONSE_BODY_SIZE;
        let inner = Inner {
            start_span,
            duration: meter
                .f64_histogram(duration.name)
                .with_unit(duration.unit)
                .with_description(duration.description)
                .with_boundaries(duration.buckets.to_vec())
                .build(),
            active: meter
                .i64_up_down_counter(active.name)
                .with_unit(active.unit)
                .with_description(active.description)
                .build(),
            request_size: meter
                .u64_histogram(request_size.name)
                .with_unit(request_size.unit)
                .with_description(request_size.description)
                .with_boundaries(request_size.buckets.to_vec())
                .build(),
            response_size: meter
                .u64_histogram(response_size.name)
                .with_unit(response_size.unit)
                .with_description(response_size.description)
                .with_boundaries(response_size.buckets.to_vec())
                .build(),
            cache: RequestCache::default(),
        };
        Self {
            inner: Rc::new(inner),
            stats: None,
            max_attribute_bytes: DEFAULT_MAX_ATTRIBUTE_BYTES,
        }
    }

    /// Also counts requests into `stats`, which [`crate::Health`] reports.
    pub fn with_stats(mut self, stats: RequestStats) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Cuts the string attributes taken from the request (`url.path`,
    /// `user_agent.original`, `server.address`, `http.request.method_original`) to at most
    /// `bytes` bytes, on a character boundary (default [`DEFAULT_MAX_ATTRIBUTE_BYTES`]): a
    /// client must not decide how much memory a span holds while it waits for export.
    pub fn max_attribute_length(mut self, bytes: usize) -> Self {
        self.max_attribute_bytes = bytes;
        self
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(names::SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<RecordedBody<B>>;
    type Error = Error;
    type Transform = RequestTelemetryMiddleware<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestTelemetryMiddleware {
            service,
            inner: Rc::clone(&self.inner),
            stats: self.stats.clone(),
            paths: Rc::new(PathCache::new(self.max_attribute_bytes)),
            max_attribute_bytes: self.max_attribute_bytes,
            hosts: LastValue::default(),
            agents: LastValue::default(),
        }))
    }
}

/// The service [`RequestTelemetry`] wraps around the application.
#[derive(Debug)]
pub struct RequestTelemetryMiddleware<S> {
    service: S,
    inner: Rc<Inner>,
    stats: Option<RequestStats>,
    /// Path to route pattern (and the `url.path` value), for this application.
    paths: Rc<PathCache>,
    /// Longest string attribute taken from the request.
    max_attribute_bytes: usize,
    /// The last `Host` header and its `server.address` and `server.port`.
    hosts: LastValue<(StringValue, Option<u16>)>,
    /// The last `User-Agent` header as a `user_agent.original` value.
    agents: LastValue<StringValue>,
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<RecordedBody<B>>;
    type Error = Error;
    type Future = RequestTelemetryFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let start = Instant::now();
        if let Some(stats) = &self.stats {
            stats.arrived();
        }
        let method = method_name(req.method().as_str());
        // The route, when known before the router runs; else it is read from what the
        // router recorded once the response exists (`Finish::resolve_route`). Never
        // `match_pattern` here: before routing it matches the path against every resource
        // pattern, a regex walk the router then does again (milliseconds for a long path).
        let (path, pattern) = if routed(req.match_info()) {
            // Wrapped around a resource: `match_pattern` reads what the router recorded.
            (
                self.paths.value_of(req.path()),
                Some(req.match_pattern().map(Rc::from)),
            )
        } else {
            let resource_map = std::ptr::from_ref(req.resource_map()) as usize;
            match self.paths.get(resource_map, req.path()) {
                Some(PathInfo { path, pattern }) => (path, Some(pattern)),
                None => (self.paths.value_of(req.path()), None),
            }
        };
        let route_pending = pattern.is_none().then(|| Rc::clone(&self.paths));
        let (route_id, route, span_name) = match pattern {
            Some(pattern) => {
                let names = route_names(&self.inner, pattern.as_deref(), method);
                (names.0, names.1, names.2)
            }
            // Named `{method}` until the route is known (the semantic conventions' name
            // for a request without a route).
            None => (
                None,
                StringValue::from(names::UNMATCHED_ROUTE),
                method.into(),
            ),
        };
        let scheme = if req.app_config().secure() {
            "https"
        } else {
            "http"
        };
        let protocol = protocol_version(req.version());
        let request_size = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());

        let parent = global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(req.headers()))
        });
        let mut attributes = Vec::with_capacity(9);
        attributes.push(KeyValue::new(attr::HTTP_REQUEST_METHOD, method));
        if method == OTHER_METHOD {
            attributes.push(KeyValue::new(
                "http.request.method_original",
                truncated(req.method().as_str(), self.max_attribute_bytes).to_owned(),
            ));
        }
        if route_pending.is_none() {
            attributes.push(KeyValue::new(attr::HTTP_ROUTE, route.clone()));
        }
        attributes.push(KeyValue::new(attr::URL_PATH, path));
        attributes.push(KeyValue::new(attr::URL_SCHEME, scheme));
        attributes.push(KeyValue::new(attr::NETWORK_PROTOCOL_VERSION, protocol));
        if let Some(host) = req
            .headers()
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
        {
            let max = self.max_attribute_bytes;
            let (address, port) = self.hosts.get(host, |host| {
                let (address, port) = split_host(host);
                (Arc::<str>::from(truncated(address, max)).into(), port)
            });
            attributes.push(KeyValue::new(attr::SERVER_ADDRESS, address));
            if let Some(port) = port {
                attributes.push(KeyValue::new(attr::SERVER_PORT, i64::from(port)));
            }
        }
        if let Some(agent) = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
        {
            let max = self.max_attribute_bytes;
            let agent = self.agents.get(agent, |agent| {
                Arc::<str>::from(truncated(agent, max)).into()
            });
            attributes.push(KeyValue::new(attr::USER_AGENT_ORIGINAL, agent));
        }
        let builder = SpanBuilder::from_name(span_name)
            .with_kind(SpanKind::Server)
            .with_attributes(attributes);
        let cx = (self.inner.start_span)(builder, &parent);

        let state = Finish {
            inner: Rc::clone(&self.inner),
            cx,
            start,
            method,
            route,
            route_id,
            route_pending,
            scheme,
            protocol,
            request_size,
            status: None,
            error_type: None,
            stats: self.stats.clone(),
        };
        self.inner
            .cache
            .add_active(&self.inner.active, method, scheme, 1);
        let future = {
            let _current = state.cx.clone().attach();
            self.service.call(req)
        };
        RequestTelemetryFuture {
            future,
            state: Some(state),
            _body: std::marker::PhantomData,
        }
    }
}

pin_project! {
    /// The response future of [`RequestTelemetryMiddleware`]: runs the handler with the
    /// request span current, then adds `traceresponse` and wraps the body in
    /// [`RecordedBody`].
    pub struct RequestTelemetryFuture<F, B> {
        #[pin]
        future: F,
        state: Option<Finish>,
        _body: std::marker::PhantomData<B>,
    }

    impl<F, B> PinnedDrop for RequestTelemetryFuture<F, B> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the handler answered: the client went away or the server is
            // shutting down.
            if let Some(state) = this.project().state.take() {
                state.finish(None);
            }
        }
    }
}

impl<F, B> Future for RequestTelemetryFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<RecordedBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _current = this.state.as_ref().map(|state| state.cx.clone().attach());
            ready!(this.future.poll(cx))
        };
        let Some(mut state) = this.state.take() else {
            // Polled again after completion (a caller bug): nothing left to record.
            return Poll::Ready(result.map(|response| {
                response.map_body(|_, body| RecordedBody {
                    body,
                    bytes: 0,
                    state: None,
                })
            }));
        };
        match result {
            Ok(mut response) => {
                state.resolve_route(Some(response.request()));
                let status = response.status();
                state.respond(status, crate::errors::error_type_of(response.response()));
                if let Some(value) = trace_response(&state.cx) {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(TRACE_RESPONSE_HEADER), value);
                }
                Poll::Ready(Ok(response.map_body(|_, body| RecordedBody {
                    body,
                    bytes: 0,
                    state: Some(state),
                })))
            }
            Err(error) => {
                state.resolve_route(None);
                let kind = error
                    .as_error::<crate::ApiError>()
                    .map(crate::ApiError::kind);
                state.respond(error.as_response_error().status_code(), kind);
                state.finish(Some(0));
                Poll::Ready(Err(error))
            }
        }
    }
}

pin_project! {
    /// A response body that counts the bytes sent and, once the body is finished (or
    /// dropped), records the request's duration and sizes and ends its span.
    pub struct RecordedBody<B> {
        #[pin]
        body: B,
        bytes: u64,
        state: Option<Finish>,
    }

    impl<B> PinnedDrop for RecordedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(state) = this.state.take() {
                state.finish(Some(*this.bytes));
            }
        }
    }
}

impl<B: MessageBody> MessageBody for RecordedBody<B> {
    type Error = B::Error;

    #[inline]
    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        match ready!(this.body.poll_next(cx)) {
            Some(Ok(chunk)) => {
                *this.bytes += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            other => {
                if let Some(state) = this.state.take() {
                    state.finish(Some(*this.bytes));
                }
                Poll::Ready(other)
            }
        }
    }
}

/// What a request records when it is over.
struct Finish {
    inner: Rc<Inner>,
    cx: Context,
    start: Instant,
    method: &'static str,
    route: StringValue,
    /// The route's index in the worker's cache; `None` past its bound (plain path).
    route_id: Option<u32>,
    /// Set while the route is not known yet: the path table to record it in.
    route_pending: Option<Rc<PathCache>>,
    scheme: &'static str,
    protocol: &'static str,
    request_size: Option<u64>,
    status: Option<StatusCode>,
    stats: Option<RequestStats>,
    /// The type of an [`ApiError`](crate::ApiError) response, its `error.type`.
    error_type: Option<&'static str>,
}

impl Finish {
    /// Reads the route from what the router recorded on `request` (without matching the
    /// path again), names the span after it and records it for the path's next requests.
    /// With no request (an error from an inner middleware, a dropped request) or no route
    /// recorded, the route is [`names::UNMATCHED_ROUTE`].
    fn resolve_route(&mut self, request: Option<&HttpRequest>) {
        let Some(paths) = self.route_pending.take() else {
            return;
        };
        let pattern = request
            .filter(|request| routed(request.match_info()))
            .and_then(HttpRequest::match_pattern)
            .map(Rc::<str>::from);
        if let Some(request) = request {
            let resource_map = std::ptr::from_ref(request.resource_map()) as usize;
            paths.insert(resource_map, request.path(), pattern.clone());
        }
        let (route_id, route, span_name) =
            route_names(&self.inner, pattern.as_deref(), self.method);
        let span = self.cx.span();
        span.update_name(span_name);
        span.set_attribute(KeyValue::new(attr::HTTP_ROUTE, route.clone()));
        self.route_id = route_id;
        self.route = route;
    }

    /// The response status is known: it goes on the span now, with `error.type`: the type
    /// of an `ApiError` response (4xx or 5xx), else the status code of a 5xx.
    fn respond(&mut self, status: StatusCode, error_type: Option<&'static str>) {
        self.status = Some(status);
        if let Some(stats) = &self.stats {
            stats.answered(status);
        }
        self.error_type =
            error_type.filter(|_| status.is_client_error() || status.is_server_error());
        let span = self.cx.span();
        span.set_attribute(KeyValue::new(
            attr::HTTP_RESPONSE_STATUS_CODE,
            i64::from(status.as_u16()),
        ));
        if let Some(kind) = self.error_type {
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, kind));
        } else if status.is_server_error() {
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, status.as_u16().to_string()));
        }
        if status.is_server_error() {
            span.set_status(Status::error(""));
        }
    }

    /// Records the metrics and ends the span; `response_bytes` is `None` when the request
    /// was dropped before a response existed.
    fn finish(mut self, response_bytes: Option<u64>) {
        self.resolve_route(None);
        let elapsed = self.start.elapsed().as_secs_f64();
        // error.type: the ApiError's type, else the status code of a 5xx, else
        // `cancelled` when no response existed.
        let (status, error_type) = match self.status {
            Some(status) => (Some(status.as_u16()), self.error_type),
            None => (None, Some(CANCELLED)),
        };
        if status.is_none() {
            let span = self.cx.span();
            span.set_attribute(KeyValue::new(attr::ERROR_TYPE, CANCELLED));
            span.set_status(Status::error("request dropped before a response"));
        }
        let inner = &self.inner;
        let series = self.route_id.and_then(|route| {
            let key = SeriesKey {
                route,
                method: self.method,
                scheme: self.scheme,
                protocol: self.protocol,
                status,
                error_type,
            };
            inner.cache.series(
                key,
                || self.metric_attributes(status, error_type),
                (&inner.duration, &inner.request_size, &inner.response_size),
            )
        });
        match series {
            Some(series) => {
                series.duration.record(elapsed);
                let span = self.cx.span();
                let context = span.span_context();
                if context.is_sampled() {
                    series.exemplars.offer(elapsed, context);
                }
                if let Some(size) = self.request_size {
                    series.request_size.record(size);
                }
                if let Some(size) = response_bytes {
                    series.response_size.record(size);
                }
            }
            None => {
                let attributes = self.metric_attributes(status, error_type);
                inner.duration.record(elapsed, &attributes);
                if let Some(size) = self.request_size {
                    inner.request_size.record(size, &attributes);
                }
                if let Some(size) = response_bytes {
                    inner.response_size.record(size, &attributes);
                }
            }
        }
        inner
            .cache
            .add_active(&inner.active, self.method, self.scheme, -1);
        self.cx.span().end();
    }

    /// The attributes of the `http.server.*` histograms of this request.
    fn metric_attributes(
        &self,
        status: Option<u16>,
        error_type: Option<&'static str>,
    ) -> Vec<KeyValue> {
        let mut attributes = Vec::with_capacity(6);
        attributes.push(KeyValue::new(attr::HTTP_REQUEST_METHOD, self.method));
        attributes.push(KeyValue::new(
            attr::HTTP_ROUTE,
            Value::String(self.route.clone()),
        ));
        attributes.push(KeyValue::new(attr::URL_SCHEME, self.scheme));
        attributes.push(KeyValue::new(attr::NETWORK_PROTOCOL_VERSION, self.protocol));
        if let Some(status) = status {
            attributes.push(KeyValue::new(
                attr::HTTP_RESPONSE_STATUS_CODE,
                i64::from(status),
            ));
        }
        match (status, error_type) {
            (_, Some(kind)) => attributes.push(KeyValue::new(attr::ERROR_TYPE, kind)),
            (Some(status), None) if status >= 500 => {
                attributes.push(KeyValue::new(attr::ERROR_TYPE, status.to_string()));
            }
            _ => {}
        }
        attributes
    }
}

/// `error.type` of a request dropped before its handler answered.
const CANCELLED: &str = "cancelled";

/// The route's index in the worker's cache, its `http.route` value and the span name, for
/// `pattern` (`None`: [`names::UNMATCHED_ROUTE`]).
fn route_names(
    inner: &Inner,
    pattern: Option<&str>,
    method: &'static str,
) -> (Option<u32>, StringValue, std::borrow::Cow<'static, str>) {
    let route = pattern.unwrap_or(names::UNMATCHED_ROUTE);
    match inner.cache.route(route, method) {
        Some(cached) => {
            let name = match cached.span_name {
                Some(name) => name.into(),
                None => format!("{method} {route}").into(),
            };
            (Some(cached.id), cached.value, name)
        }
        None => (
            None,
            Arc::<str>::from(route).into(),
            format!("{method} {route}").into(),
        ),
    }
}
