//! The demo as an operator runs it: a stop (SIGTERM) keeps to `--shutdown-timeout` and
//! exits 0 even when the collector never answers, and exporter credentials in
//! `OTEL_EXPORTER_OTLP_*ENDPOINT` appear neither in the logs nor in `/health/detailed`.

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
