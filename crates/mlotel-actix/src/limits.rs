//! [`RequestLimits`]: the middleware that refuses hostile requests before the router sees
//! them (an overlong path, a compressed or non-UTF-8 body), bounds the time a request body
//! may take to arrive, and gives every empty-bodied error answer a JSON error body.
//!
//! Why before the router: actix-web matches a path against every resource pattern with a
//! regex; a 64 KB path costs tens of milliseconds per match, so a few connections sending
//! such paths starve a worker. Checking a length is constant time.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::mime;
use actix_web::rt::time::{Instant, Sleep, sleep_until};
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage as _, ResponseError as _};
use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::ApiError;

/// Default longest path accepted, in bytes (see [`RequestLimits::max_path_bytes`]).
pub const DEFAULT_MAX_PATH_BYTES: usize = 2048;
/// Default time a request body may take to arrive (see [`RequestLimits::body_timeout`]).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Middleware guarding a service's HTTP edge. Wrap it inside
/// [`RequestTelemetry`](crate::RequestTelemetry) (register it first with `App::wrap`), so
/// that refused requests are still counted and traced:
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use mlotel_actix::{RequestLimits, RequestTelemetry};
///
/// # async fn run() -> std::io::Result<()> {
/// HttpServer::new(|| {
///     App::new()
///         .wrap(RequestLimits::new())
///         .wrap(RequestTelemetry::new())
///         .route("/predict", web::post().to(|| async { "ok" }))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await
/// # }
/// ```
///
/// | Request | Answer | `type` |
/// |---|---|---|
/// | path longer than [`max_path_bytes`](Self::max_path_bytes) (default 2 KiB) | 414 | `uri_too_long` |
/// | `Content-Encoding` other than `identity` | 415 | `unsupported_content_encoding` |
/// | JSON `Content-Type` with a `charset` other than UTF-8 | 415 | `unsupported_charset` |
/// | body not complete within [`body_timeout`](Self::body_timeout) (default 10 s) | 408 | `body_timeout` |
/// | any 4xx or 5xx answer with an empty body (a 404 of the router, a 405) | same | from the status (`not_found`, `method_not_allowed`, ...) |
///
/// Refused requests never reach the router or the handler. A connection whose request body
/// was not read to its end (refused, timed out, ignored by the handler) is closed after the
/// answer.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    max_path_bytes: usize,
    body_timeout: Option<Duration>,
    json_error_bodies: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestLimits {
    /// The defaults: paths up to [`DEFAULT_MAX_PATH_BYTES`], bodies within
    /// [`DEFAULT_BODY_TIMEOUT`], JSON bodies on empty error answers.
    pub fn new() -> Self {
        Self {
            max_path_bytes: DEFAULT_MAX_PATH_BYTES,
            body_timeout: Some(DEFAULT_BODY_TIMEOUT),
            json_error_bodies: true,
        }
    }

    /// Longest path accepted (bytes, percent-encoded as sent, query string excluded);
    /// longer ones get 414.
    pub fn max_path_bytes(mut self, bytes: usize) -> Self {
        self.max_path_bytes = bytes;
        self
    }

    /// Time from a request's arrival to the end of its body; a body still incomplete then
    /// (a declared `Content-Length` not sent, a chunked body that never ends) is answered
    /// 408 and its connection closed. `None` waits forever (actix-web's behaviour).
    pub fn body_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Whether empty-bodied 4xx and 5xx answers get a JSON error body (default: yes).
    pub fn json_error_bodies(mut self, enabled: bool) -> Self {
        self.json_error_bodies = enabled;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestLimits
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<HeldBody<B>>;
    type Error = Error;
    type Transform = RequestLimitsMiddleware<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestLimitsMiddleware {
            service,
            limits: *self,
        }))
    }
}

/// The service [`RequestLimits`] wraps around the application.
#[derive(Debug)]
pub struct RequestLimitsMiddleware<S> {
    service: S,
    limits: RequestLimits,
}

impl<S, B> Service<ServiceRequest> for RequestLimitsMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<HeldBody<B>>;
    type Error = Error;
    type Future = RequestLimitsFuture<S::Future, B>;

    forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        // The body, shared with the response: see `HeldBody`.
        let body = has_body(req.headers()).then(|| {
            Rc::new(RequestBody {
                payload: RefCell::new(req.take_payload()),
                timed_out: Cell::new(false),
            })
        });
        if let Some(refusal) = refusal(&req, &self.limits) {
            let response = req.into_response(refusal.error_response());
            return RequestLimitsFuture {
                state: State::Refused {
                    response: Some(HeldBody::wrap(response.map_into_right_body(), body)),
                },
                method: Method::GET,
                body: None,
                json_error_bodies: false,
            };
        }
        if let Some(body) = &body {
            req.set_payload(Payload::Stream {
                payload: Box::pin(DeadlinePayload {
                    body: Rc::clone(body),
                    deadline: self
                        .limits
                        .body_timeout
                        .map(|timeout| Instant::now() + timeout),
                    sleep: None,
                }),
            });
        }
        RequestLimitsFuture {
            method: req.method().clone(),
            state: State::Called {
                future: self.service.call(req),
            },
            body,
            json_error_bodies: self.limits.json_error_bodies,
        }
    }
}

/// Why a request is refused before routing, if it is.
fn refusal(req: &ServiceRequest, limits: &RequestLimits) -> Option<ApiError> {
    let path = req.path().len();
    if path > limits.max_path_bytes {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the path is {path} bytes, longer than the limit of {} bytes",
                limits.max_path_bytes
            ),
        ));
    }
    let headers = req.headers();
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        let identity = encoding
            .to_str()
            .is_ok_and(|value| value.trim().eq_ignore_ascii_case("identity"));
        if !identity {
            return Some(ApiError::unsupported_media_type(
                "unsupported_content_encoding",
                format!(
                    "Content-Encoding {} is not supported: send the body uncompressed",
                    crate::errors::echo(encoding)
                ),
            ));
        }
    }
    // Only a JSON content type naming a charset is parsed (the common case costs a search).
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && content_type
            .as_bytes()
            .windows(7)
            .any(|window| window.eq_ignore_ascii_case(b"charset"))
        && let Ok(Some(mime)) = req.mime_type()
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
        && let Some(charset) = mime.get_param(mime::CHARSET)
        && !charset.as_str().eq_ignore_ascii_case("utf-8")
        && !charset.as_str().eq_ignore_ascii_case("utf8")
    {
        return Some(ApiError::unsupported_media_type(
            "unsupported_charset",
            format!(
                "charset {} is not supported for a JSON body: send UTF-8",
                crate::errors::echo_str(charset.as_str())
            ),
        ));
    }
    None
}

/// Whether the request announces a body (HTTP/1.1: a non-zero `Content-Length` or a
/// `Transfer-Encoding`).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0")
}

/// A request's body, shared by what reads it and by the response.
struct RequestBody {
    payload: RefCell<Payload>,
    /// Set once the deadline passed with the body incomplete.
    timed_out: Cell<bool>,
}

/// A request body that fails with a time-out once its deadline has passed.
struct DeadlinePayload {
    body: Rc<RequestBody>,
    deadline: Option<Instant>,
    // Created on the first poll that finds no data, so requests whose body is already
    // buffered never touch the timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Stream for DeadlinePayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.body.timed_out.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut *self.body.payload.borrow_mut()).poll_next(cx) {
            return Poll::Ready(item);
        }
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        self.body.timed_out.set(true);
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "request body not received in time",
        )))))
    }
}

pin_project! {
    /// A response body that keeps its request's body alive until it is sent.
    ///
    /// Why: when a request body is left unread (refused, timed out, or ignored by the
    /// handler), actix-web's HTTP/1 dispatcher closes the connection after the response if
    /// the body is still held, but if it was dropped it reads and discards the rest of a
    /// chunked body first, for keep-alive. A chunked body that never ends then holds the
    /// connection forever. Held, the connection closes once the response is written.
    pub struct HeldBody<B> {
        #[pin]
        body: EitherBody<B>,
        held: Option<Rc<RequestBody>>,
    }
}

impl<B> HeldBody<B> {
    fn wrap(
        response: ServiceResponse<EitherBody<B>>,
        held: Option<Rc<RequestBody>>,
    ) -> ServiceResponse<HeldBody<B>> {
        response.map_body(|_, body| HeldBody { body, held })
    }
}

impl<B: MessageBody + 'static> MessageBody for HeldBody<B> {
    type Error = <EitherBody<B> as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.project().body.poll_next(cx)
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<F, B> {
        Called { #[pin] future: F },
        Refused { response: Option<ServiceResponse<HeldBody<B>>> },
    }
}

pin_project! {
    /// The response future of [`RequestLimitsMiddleware`]: the refusal, or the
    /// application's response with a JSON body on an empty error answer.
    pub struct RequestLimitsFuture<F, B> {
        #[pin]
        state: State<F, B>,
        method: Method,
        body: Option<Rc<RequestBody>>,
        json_error_bodies: bool,
    }
}

impl<F, B> Future for RequestLimitsFuture<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody + 'static,
{
    type Output = Result<ServiceResponse<HeldBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.state.project() {
            StateProjection::Refused { response } => {
                return Poll::Ready(response.take().ok_or_else(|| {
                    actix_web::error::ErrorInternalServerError("polled after completion")
                }));
            }
            StateProjection::Called { future } => ready!(future.poll(cx))?,
        };
        let status = response.status();
        let body = this.body.take();
        if body.as_ref().is_some_and(|body| body.timed_out.get()) && !status.is_success() {
            // Whatever the extractor made of the cut body, the cause is the deadline.
            let error = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            );
            let (request, _) = response.into_parts();
            let answer = ServiceResponse::new(request, error.error_response());
            return Poll::Ready(Ok(HeldBody::wrap(answer.map_into_right_body(), body)));
        }
        let empty = matches!(
            response.response().body().size(),
            BodySize::None | BodySize::Sized(0)
        );
        if !*this.json_error_bodies
            || !empty
            || !(status.is_client_error() || status.is_server_error())
        {
            return Poll::Ready(Ok(HeldBody::wrap(response.map_into_left_body(), body)));
        }
        let (request, original) = response.into_parts();
        let error = error_for_status(status, this.method, original.headers());
        let mut answer = error.error_response();
        for (name, value) in original.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                answer.headers_mut().append(name.clone(), value.clone());
            }
        }
        let answer = ServiceResponse::new(request, answer);
        Poll::Ready(Ok(HeldBody::wrap(answer.map_into_right_body(), body)))
    }
}

/// The JSON error of an empty-bodied answer with `status`.
fn error_for_status(status: StatusCode, method: &Method, headers: &HeaderMap) -> ApiError {
    let reason = status.canonical_reason().unwrap_or("error");
    let kind = match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable",
        429 => "too_many_requests",
        500 => "internal",
        502 => "bad_gateway",
        503 => "unavailable",
        504 => "gateway_timeout",
        code if code < 500 => "client_error",
        _ => "server_error",
    };
    let message = match status {
        StatusCode::NOT_FOUND => "no route matches this path".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers
                .get(header::ALLOW)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("none");
            format!(
                "method {} is not allowed on this route; allowed: {allowed}",
                crate::errors::echo_str(method.as_str())
            )
        }
        _ => reason.to_lowercase(),
    };
    ApiError::new(status, kind, message)
}
