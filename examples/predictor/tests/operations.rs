//! The demo as an operator runs it: a stop (SIGTERM) keeps to `--shutdown-timeout` and
//! exits 0 even when the collector never answers; a stop under load exports the span of
//! every prediction it answered; exporter credentials in `OTEL_EXPORTER_OTLP_*ENDPOINT`
//! appear neither in the logs nor in `/health/detailed`.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use mlotel_tests::{ServiceProcess, raw_request};

const WAIT: Duration = Duration::from_secs(30);

fn start(envs: &[(&str, &str)], args: &[&str]) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .args(args)
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .envs(envs.iter().copied());
    let service = ServiceProcess::spawn(command, WAIT);
    let deadline = Instant::now() + WAIT;
    while raw_request(service.address(), "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    service
}

fn predict(service: &ServiceProcess) {
    let response = raw_request(
        service.address(),
        "POST",
        "/v1/models/iris:predict",
        &[("Content-Type", "application/json")],
        br#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#,
        WAIT,
    );
    assert_eq!(response.status, 200, "{}", response.body);
}

#[test]
fn a_stop_keeps_to_the_shutdown_timeout_and_exits_0_when_the_collector_never_answers() {
    // Accepts connections (the kernel completes the handshake) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let timeout = Duration::from_secs(4);
    let mut service = start(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            // Each export would wait 10 s for an answer.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        &["--shutdown-timeout", "4s"],
    );
    for _ in 0..5 {
        predict(&service);
    }
    let stopping = Instant::now();
    // Before the deadline existed, this stop took 15-16 s and exited 1.
    let status = service.terminate(timeout + Duration::from_secs(4));
    let took = stopping.elapsed();
    assert!(
        status.success(),
        "exit status {status:?}: telemetry loss is not a failure of the service"
    );
    assert!(
        took < timeout + Duration::from_secs(3),
        "stopped after {took:?}"
    );
    // The reader thread may still be draining the last lines of the pipe.
    let deadline = Instant::now() + WAIT;
    let lost = loop {
        let lines = service.stdout_lines();
        if let Some(line) = lines
            .iter()
            .find(|line| line.contains("some telemetry was not delivered"))
        {
            break line.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no loss reported in:\n{}",
            lines.join("\n")
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(lost.contains("traces:"), "{lost}");
    drop(silent);
}

#[test]
fn exporter_credentials_are_shown_nowhere() {
    let port = mlotel_tests::free_port();
    let with_user = format!("http://user:s3cret@127.0.0.1:{port}");
    let with_query = format!("http://127.0.0.1:{port}/v1/traces?api_key=t0ken");
    let mut service = start(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &with_user),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &with_query),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
        &[],
    );
    predict(&service);
    // Wait until both exporters have failed at least once, so their errors are in view.
    let deadline = Instant::now() + WAIT;
    let detailed = loop {
        let detailed = raw_request(service.address(), "GET", "/health/detailed", &[], b"", WAIT);
        let failing = detailed.body.matches("\"last_error\":\"").count();
        if failing >= 2 {
            break detailed.body;
        }
        assert!(
            Instant::now() < deadline,
            "no export failure seen: {}",
            detailed.body
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        detailed.contains(&format!("http://REDACTED@127.0.0.1:{port}/v1/metrics")),
        "{detailed}"
    );
    assert!(
        detailed.contains(&format!("http://127.0.0.1:{port}/v1/traces?REDACTED")),
        "{detailed}"
    );
    let status = service.terminate(WAIT);
    assert!(status.success(), "{status:?}");
    let mut shown = service.stdout_lines();
    shown.push(detailed);
    for text in shown {
        assert!(
            !text.contains("s3cret") && !text.contains("t0ken"),
            "a credential is shown: {text}"
        );
    }
}

/// One prediction on a new connection with its own trace id; `None` when the service no
/// longer accepts connections or closed this one without an answer (it is stopping).
fn predict_traced(address: std::net::SocketAddr, trace_id: &str) -> Option<u16> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let body = r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;
    let request = format!(
        "POST /v1/models/iris:predict HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\ntraceparent: 00-{trace_id}-00f067aa0ba902b7-01\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split(' ').nth(1)?.parse().ok()
}

#[test]
fn a_stop_under_load_exports_the_spans_of_every_answered_prediction() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let receiver = mlotel_tests::OtlpReceiver::grpc();
    let endpoint = receiver.endpoint();
    let mut service = start(
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ],
        &["--workers", "2"],
    );
    let address = service.address();
    let answered = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4_u64)
        .map(|client| {
            let answered = Arc::clone(&answered);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for request in 0_u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // An all-zero trace id is invalid: both halves start at 1.
                    let trace_id = format!("{:016x}{:016x}", client + 1, request + 1);
                    match predict_traced(address, &trace_id) {
                        Some(200) => answered.lock().expect("lock").push(trace_id),
                        Some(status) => panic!("a prediction answered {status}"),
                        None => break,
                    }
                }
            })
        })
        .collect();
    // Load is running once some predictions are answered; then stop the service under it.
    let deadline = Instant::now() + WAIT;
    while answered.lock().expect("lock").len() < 200 {
        assert!(Instant::now() < deadline, "no load in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = service.terminate(WAIT);
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.join().expect("client thread");
    }
    assert!(status.success(), "{status:?}");

    // Shutdown returned only after the exporter delivered: no waiting for late spans.
    let exported: std::collections::HashSet<String> = receiver
        .spans_named("predict iris")
        .iter()
        .map(|span| span.trace_id_hex())
        .collect();
    let answered = answered.lock().expect("lock");
    let missing: Vec<_> = answered
        .iter()
        .filter(|trace_id| !exported.contains(*trace_id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered predictions have no exported span, e.g. {:?}",
        missing.len(),
        answered.len(),
        missing.first()
    );
}
