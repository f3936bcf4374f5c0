//! OTLP/gRPC server: the three collector services on tonic, recording into the store.

use std::{future::Future, sync::Arc};

use opentelemetry_proto::tonic::collector::{
    logs::v1::{
        ExportLogsServiceRequest, ExportLogsServiceResponse,
        logs_service_server::{LogsService, LogsServiceServer},
    },
    metrics::v1::{
        ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        metrics_service_server::{MetricsService, MetricsServiceServer},
    },
    trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
};
use tonic::{
    Request, Response, Status,
    transport::{Server, server::TcpIncoming},
};

use crate::{
    receiver::Protocol,
    store::{Payload, Store, header_list},
};

/// Largest request the receiver accepts (tonic's default is 4 MiB).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone)]
struct Collector {
    store: Arc<Store>,
}

impl Collector {
    fn record<T>(&self, request: Request<T>, wrap: fn(T) -> Payload) {
        let headers = header_list(&request.metadata().clone().into_headers());
        self.store
            .record(Protocol::Grpc, headers, wrap(request.into_inner()));
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.record(request, Payload::Traces);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.record(request, Payload::Metrics);
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for Collector {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.record(request, Payload::Logs);
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

/// Serves OTLP/gRPC on `listener` until `shutdown` completes, then drops the listener at once
/// (open connections are aborted when the caller drops the runtime).
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    store: Arc<Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), String> {
    let collector = Collector { store };
    let server = Server::builder()
        .add_service(
            TraceServiceServer::new(collector.clone()).max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            MetricsServiceServer::new(collector.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(LogsServiceServer::new(collector).max_decoding_message_size(MAX_MESSAGE_BYTES))
        .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)));
    tokio::select! {
        result = server => result.map_err(|e| e.to_string()),
        () = shutdown => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use opentelemetry_proto::tonic::collector::{
        logs::v1::logs_service_client::LogsServiceClient,
        metrics::v1::metrics_service_client::MetricsServiceClient,
        trace::v1::trace_service_client::TraceServiceClient,
    };
    use tonic::transport::Channel;

    use crate::{
        OtlpReceiver, Protocol, Signal,
        testutil::{client_runtime, logs_request, metrics_request, trace_request},
    };

    const TIMEOUT: Duration = Duration::from_secs(5);

    fn with_api_key<T>(message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert(
            "x-api-key",
            "secret-123".parse().expect("valid metadata value"),
        );
        request
    }

    #[test]
    fn records_all_three_signals_with_metadata() {
        let receiver = OtlpReceiver::grpc();
        assert_eq!(receiver.protocol(), Protocol::Grpc);
        assert_eq!(receiver.traces_url(), receiver.endpoint());
        assert!(receiver.endpoint().starts_with("http://127.0.0.1:"));

        let rt = client_runtime();
        rt.block_on(async {
            let channel = Channel::from_shared(receiver.endpoint())
                .expect("valid endpoint")
                .connect()
                .await
                .expect("connect to receiver");
            TraceServiceClient::new(channel.clone())
                .export(with_api_key(trace_request()))
                .await
                .expect("trace export");
            MetricsServiceClient::new(channel.clone())
                .export(with_api_key(metrics_request(7)))
                .await
                .expect("metrics export");
            LogsServiceClient::new(channel)
                .export(with_api_key(logs_request()))
                .await
                .expect("logs export");
        });

        let child = receiver.wait_for_span("preprocess", TIMEOUT);
        let root = receiver.wait_for_span("predict", TIMEOUT);
        assert!(child.is_child_of(&root));
        assert_eq!(child.resource_attr_str("service.name"), Some("test-svc"));
        assert_eq!(child.scope_name, "mlotel-test");

        let metric = receiver.wait_for_metric("requests", TIMEOUT);
        assert_eq!(metric.resource_attr_str("service.name"), Some("test-svc"));
        assert_eq!(receiver.logs().len(), 1);

        let requests = receiver.wait_for_requests(3, TIMEOUT);
        let signals: Vec<Signal> = requests.iter().map(|r| r.signal()).collect();
        assert_eq!(signals, [Signal::Traces, Signal::Metrics, Signal::Logs]);
        assert!(requests.iter().all(|r| r.protocol == Protocol::Grpc));
        assert_eq!(receiver.header_values("x-api-key"), ["secret-123"; 3]);
        assert_eq!(receiver.headers().len(), 3);
        assert!(
            requests[0]
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/grpc")),
            "{:?}",
            requests[0].headers
        );
    }

    #[test]
    fn stop_aborts_live_connections_frees_port_and_clients_reconnect() {
        let mut receiver = OtlpReceiver::grpc();
        let port = receiver.port();
        let endpoint = receiver.endpoint();
        let rt = client_runtime();
        let mut client = rt.block_on(async {
            let mut client = TraceServiceClient::connect(endpoint.clone())
                .await
                .expect("connect to receiver");
            client.export(trace_request()).await.expect("first export");
            client
        });
        assert_eq!(receiver.spans().len(), 2);

        // The client keeps its HTTP/2 connection open; stopping must not wait for it.
        let started = Instant::now();
        receiver.stop();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "stop took {:?}",
            started.elapsed()
        );
        assert!(!receiver.is_running());
        assert_eq!(receiver.spans().len(), 2, "data survives stop");
        receiver.stop(); // idempotent

        // The receiver is down: exports fail.
        let down = rt.block_on(client.export(trace_request()));
        assert!(down.is_err(), "export to a stopped receiver succeeded");

        // It comes back on the same port; the same client gets through once it reconnects.
        let revived = OtlpReceiver::grpc_on(port);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match rt.block_on(client.export(trace_request())) {
                Ok(_) => break,
                Err(status) if Instant::now() < deadline => {
                    let _ = status;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(status) => panic!("client never got through to the revived receiver: {status}"),
            }
        }
        assert_eq!(
            revived.wait_for_span("predict", TIMEOUT).scope_name,
            "mlotel-test"
        );
    }
}
