//! The receiver's lifecycle (own runtime on a background thread) and its query API.

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    thread::JoinHandle,
};

use tokio::sync::oneshot;

use crate::{
    received::{ReceivedLog, ReceivedMetric, ReceivedSpan, logs_of, metrics_of, spans_of},
    store::{Payload, RecordedRequest, Rejection, Store, find_header},
};

/// The OTLP transport a receiver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OTLP/gRPC (tonic), all three signals on one endpoint.
    Grpc,
    /// OTLP/HTTP with protobuf bodies: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`.
    HttpProtobuf,
}

/// An in-process OTLP receiver on `127.0.0.1` that records every request it accepts.
///
/// The server runs on its own single-threaded tokio runtime on a background thread. All
/// methods are synchronous. Dropping the receiver (or [`stop`](Self::stop)) shuts the server
/// down, aborts open connections and frees the port; recorded data stays queryable after
/// `stop`.
#[derive(Debug)]
pub struct OtlpReceiver {
    protocol: Protocol,
    addr: SocketAddr,
    pub(crate) store: Arc<Store>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts an OTLP/gRPC receiver on an ephemeral port. Panics if it cannot start.
    pub fn grpc() -> Self {
        Self::grpc_on(0)
    }

    /// Starts an OTLP/HTTP (protobuf) receiver on an ephemeral port. Panics if it cannot start.
    pub fn http() -> Self {
        Self::http_on(0)
    }

    /// Starts an OTLP/gRPC receiver on `127.0.0.1:port`. Panics if the port cannot be bound.
    pub fn grpc_on(port: u16) -> Self {
        Self::start_or_panic(Protocol::Grpc, port)
    }

    /// Starts an OTLP/HTTP receiver on `127.0.0.1:port`. Panics if the port cannot be bound.
    pub fn http_on(port: u16) -> Self {
        Self::start_or_panic(Protocol::HttpProtobuf, port)
    }

    fn start_or_panic(protocol: Protocol, port: u16) -> Self {
        Self::start(protocol, port).unwrap_or_else(|e| {
            panic!("OtlpReceiver: cannot start {protocol:?} receiver on 127.0.0.1:{port}: {e}")
        })
    }

    /// Starts a receiver for `protocol` on `127.0.0.1:port` (`0` = ephemeral port).
    ///
    /// The port is bound before this returns, so clients may connect immediately.
    pub fn start(protocol: Protocol, port: u16) -> io::Result<Self> {
        let std_listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };

        let store = Arc::new(Store::default());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let server_store = Arc::clone(&store);
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", addr.port()))
            .spawn(move || {
                runtime.block_on(async move {
                    let shutdown = async {
                        // Either an explicit stop or the sender being dropped.
                        let _ = shutdown_rx.await;
                    };
                    let result = match protocol {
                        Protocol::Grpc => {
                            crate::grpc::serve(listener, Arc::clone(&server_store), shutdown).await
                        }
                        Protocol::HttpProtobuf => {
                            crate::http::serve(listener, Arc::clone(&server_store), shutdown).await
                        }
                    };
                    if let Err(error) = result {
                        eprintln!("OtlpReceiver {protocol:?} on {addr}: server error: {error}");
                        server_store.set_server_error(error);
                    }
                });
                // Dropping the runtime cancels the per-connection tasks, closing their sockets.
                drop(runtime);
            })?;

        Ok(Self {
            protocol,
            addr,
            store,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    /// Shuts the server down: stops listening, closes open connections and frees the port.
    /// Idempotent. Recorded data remains available.
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread is reported by the test harness's stderr capture;
            // re-panicking here could abort a test that is already unwinding.
            let _ = thread.join();
        }
    }

    /// Whether the server is still running (not stopped and no fatal server error).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The transport this receiver speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The bound socket address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The base endpoint, `http://127.0.0.1:PORT` (for `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as-is by exporters):
    /// `endpoint() + "/v1/traces"` over HTTP, `endpoint()` over gRPC.
    pub fn traces_url(&self) -> String {
        self.signal_url("/v1/traces")
    }

    /// The value for `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`:
    /// `endpoint() + "/v1/metrics"` over HTTP, `endpoint()` over gRPC.
    pub fn metrics_url(&self) -> String {
        self.signal_url("/v1/metrics")
    }

    /// The value for `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`:
    /// `endpoint() + "/v1/logs"` over HTTP, `endpoint()` over gRPC.
    pub fn logs_url(&self) -> String {
        self.signal_url("/v1/logs")
    }

    fn signal_url(&self, path: &str) -> String {
        match self.protocol {
            Protocol::Grpc => self.endpoint(),
            Protocol::HttpProtobuf => format!("{}{path}", self.endpoint()),
        }
    }

    /// All accepted requests, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.store.requests()
    }

    /// Number of accepted requests so far.
    pub fn request_count(&self) -> usize {
        self.store.with_requests(<[_]>::len)
    }

    /// HTTP requests the receiver refused (415/400), in arrival order.
    pub fn rejections(&self) -> Vec<Rejection> {
        self.store.rejections()
    }

    /// The headers (gRPC: metadata) of every accepted request, one list per request.
    pub fn headers(&self) -> Vec<Vec<(String, String)>> {
        self.store
            .with_requests(|reqs| reqs.iter().map(|r| r.headers.clone()).collect())
    }

    /// Every value header `name` (case-insensitive) had, one entry per accepted request that
    /// carried it.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.store.with_requests(|reqs| {
            reqs.iter()
                .filter_map(|r| find_header(&r.headers, name).map(str::to_owned))
                .collect()
        })
    }

    /// All received spans, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.store.with_requests(|reqs| {
            reqs.iter()
                .filter_map(|r| match &r.payload {
                    Payload::Traces(t) => Some(spans_of(t)),
                    _ => None,
                })
                .flatten()
                .collect()
        })
    }

    /// All received spans named `name`, in arrival order.
    pub fn spans_named(&self, name: &str) -> Vec<ReceivedSpan> {
        let mut spans = self.spans();
        spans.retain(|s| s.name() == name);
        spans
    }

    /// Names of all received spans, in arrival order (with repeats).
    pub fn span_names(&self) -> Vec<String> {
        self.spans().into_iter().map(|s| s.span.name).collect()
    }

    /// All received metric instances, in arrival order. A cumulative metric appears once per
    /// export interval.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        self.store.with_requests(|reqs| {
            reqs.iter()
                .filter_map(|r| match &r.payload {
                    Payload::Metrics(m) => Some(metrics_of(m)),
                    _ => None,
                })
                .flatten()
                .collect()
        })
    }

    /// The most recently received instance of metric `name`.
    pub fn latest_metric(&self, name: &str) -> Option<ReceivedMetric> {
        self.metrics().into_iter().rev().find(|m| m.name() == name)
    }

    /// Distinct names of all received metrics, sorted.
    pub fn metric_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metrics().into_iter().map(|m| m.metric.name).collect();
        names.sort();
        names.dedup();
        names
    }

    /// All received log records, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        self.store.with_requests(|reqs| {
            reqs.iter()
                .filter_map(|r| match &r.payload {
                    Payload::Logs(l) => Some(logs_of(l)),
                    _ => None,
                })
                .flatten()
                .collect()
        })
    }

    /// Forgets everything recorded so far (requests and rejections).
    pub fn clear(&self) {
        self.store.clear();
    }

    /// A one-paragraph description of what arrived, for assertion messages.
    pub fn summary(&self) -> String {
        let requests = self.requests();
        let count = |signal| requests.iter().filter(|r| r.signal() == signal).count();
        let rejections: Vec<String> = self
            .rejections()
            .into_iter()
            .map(|r| format!("{:?} {}: {}", r.signal, r.status, r.reason))
            .collect();
        let mut out = format!(
            "{:?} receiver at {}: {} requests ({} traces, {} metrics, {} logs); spans: {:?}; \
             metrics: {:?}; log records: {}; rejected: {:?}",
            self.protocol,
            self.endpoint(),
            requests.len(),
            count(crate::Signal::Traces),
            count(crate::Signal::Metrics),
            count(crate::Signal::Logs),
            self.span_names(),
            self.metric_names(),
            self.logs().len(),
            rejections,
        );
        if let Some(error) = self.store.server_error() {
            out.push_str(&format!("; server error: {error}"));
        }
        out
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.stop();
    }
}
