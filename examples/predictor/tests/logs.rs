//! The predictor's logs as the log store gets them (docs/operations.md, "Logs"): a failed
//! prediction is one log record carrying its trace id, the model's name and version and
//! `error.type`, never a feature value or the body; a successful prediction logs nothing
//! unless it was slow;
//! and a collector that never answers neither blocks the service nor costs it its stdout
//! lines.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, raw_request};

const WAIT: Duration = Duration::from_secs(30);
/// The features of every request below: none of these numbers may appear in a log (digits
/// that no port, timestamp or duration repeats by chance).
const ROW: &str = "[6.31415, 2.71828, 4.91357, 1.82468]";
const FEATURE_VALUES: [&str; 4] = ["6.31415", "2.71828", "4.91357", "1.82468"];

fn start(endpoint: &str) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .args(["--allow-debug-headers"])
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_LOGS_EXPORTER", "otlp")
        .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let service = ServiceProcess::spawn(command, WAIT);
    let deadline = Instant::now() + WAIT;
    while raw_request(service.address(), "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    service
}

/// A prediction on model version 2.0.0 with a sampled caller's trace; `fail` asks the model
/// to fail (X-Debug-Fail). Returns the trace id and the response.
fn predict(service: &ServiceProcess, index: u32, fail: bool) -> (String, RawResponse) {
    predict_with(
        service,
        index,
        if fail {
            &[("X-Debug-Fail", "true")]
        } else {
            &[]
        },
    )
}

fn predict_with(
    service: &ServiceProcess,
    index: u32,
    debug: &[(&'static str, &'static str)],
) -> (String, RawResponse) {
    let trace_id = format!("{:032x}", 0x5eed_0000_u128 + u128::from(index));
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");
    let mut headers = vec![
        ("Content-Type", "application/json"),
        ("traceparent", traceparent.as_str()),
    ];
    headers.extend_from_slice(debug);
    let body = format!(r#"{{"instances": [{ROW}, {ROW}]}}"#);
    let response = raw_request(
        service.address(),
        "POST",
        "/v1/models/iris/versions/2.0.0:predict",
        &headers,
        body.as_bytes(),
        WAIT,
    );
    (trace_id, response)
}

#[test]
fn a_failed_prediction_logs_one_record_with_the_model_and_a_successful_one_logs_nothing() {
    let receiver = OtlpReceiver::http();
    let mut service = start(&receiver.endpoint());
    let succeeded: Vec<String> = (0..20)
        .map(|index| {
            let (trace_id, response) = predict(&service, index, false);
            assert_eq!(response.status, 200, "{}", response.body);
            trace_id
        })
        .collect();
    let (failed, response) = predict(&service, 100, true);
    assert_eq!(response.status, 500, "{}", response.body);
    // A slow one (over SLOW_PREDICTION, 250 ms) logs a warning: the latency runbooks' query.
    let (slow, response) = predict_with(&service, 101, &[("X-Debug-Delay-Ms", "300")]);
    assert_eq!(response.status, 200, "{}", response.body);

    let record = receiver.wait_for_log(|log| log.trace_id_hex() == failed, WAIT);
    assert_eq!(record.severity_text(), "ERROR");
    assert_eq!(record.attr_str("ml.model.name"), Some("iris"));
    assert_eq!(record.attr_str("ml.model.version"), Some("2.0.0"));
    assert_eq!(record.attr_str("error.type"), Some("model_failure"));
    assert_eq!(record.attr_i64("ml.prediction.batch_size"), Some(2));
    assert_eq!(
        record
            .resource_attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .map(|kv| { mlotel_tests::any_value_to_string(kv.value.as_ref().expect("value")) }),
        Some("predictor".to_owned()),
        "the resource's service.name comes along"
    );

    let record = receiver.wait_for_log(|log| log.trace_id_hex() == slow, WAIT);
    assert_eq!(record.severity_text(), "WARN");
    assert_eq!(record.attr_str("ml.model.version"), Some("2.0.0"));
    assert!(
        record.attr_f64("duration_ms").is_some_and(|ms| ms >= 300.0),
        "{record:?}"
    );

    // Stopping flushes every record the service still held.
    assert!(service.terminate(WAIT).success());
    let logs = receiver.logs();
    let of_failed: Vec<_> = logs
        .iter()
        .filter(|log| log.trace_id_hex() == failed)
        .collect();
    assert_eq!(of_failed.len(), 1, "one record per failure: {of_failed:?}");
    let of_succeeded: Vec<_> = logs
        .iter()
        .filter(|log| succeeded.contains(&log.trace_id_hex()))
        .collect();
    assert!(
        of_succeeded.is_empty(),
        "a successful prediction logs nothing by default: {of_succeeded:?}"
    );
    for log in &logs {
        let text = format!("{} {:?}", log.body_text(), log.record.attributes);
        for value in FEATURE_VALUES {
            assert!(
                !text.contains(value),
                "a feature value ({value}) in a log record: {text}"
            );
        }
    }

    // The same on stdout: one JSON line for the failure (its trace id, the model), none
    // for the successes, no feature value anywhere.
    let lines = service.stdout_lines();
    let failed_lines: Vec<_> = lines.iter().filter(|line| line.contains(&failed)).collect();
    assert_eq!(failed_lines.len(), 1, "{lines:#?}");
    let line: serde_json::Value = serde_json::from_str(failed_lines[0]).expect("JSON line");
    assert_eq!(line["fields"]["ml.model.version"], "2.0.0");
    assert_eq!(line["fields"]["error.type"], "model_failure");
    for trace_id in &succeeded {
        assert!(
            !lines.iter().any(|line| line.contains(trace_id.as_str())),
            "a line for a successful prediction ({trace_id}): {lines:#?}"
        );
    }
    for value in FEATURE_VALUES {
        assert!(
            !lines.iter().any(|line| line.contains(value)),
            "a feature value ({value}) on stdout: {lines:#?}"
        );
    }
}

#[test]
fn a_collector_that_never_answers_blocks_no_request_and_costs_no_stdout_line() {
    // Accepts connections (the kernel completes the handshake) but never reads or answers:
    // the worst collector outage for an exporter, worse than a refused connection.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", silent.local_addr().expect("address"));
    let mut service = start(&endpoint);
    let mut failed = Vec::new();
    let started = Instant::now();
    for index in 0..30 {
        let asked = Instant::now();
        let (trace_id, response) = predict(&service, index, index % 3 == 0);
        let took = asked.elapsed();
        assert!(
            took < Duration::from_secs(2),
            "request {index} took {took:?} while the collector hangs"
        );
        if index % 3 == 0 {
            assert_eq!(response.status, 500, "{}", response.body);
            failed.push(trace_id);
        } else {
            assert_eq!(response.status, 200, "{}", response.body);
        }
    }
    eprintln!(
        "30 requests in {:?} with the collector hanging",
        started.elapsed()
    );
    // Every failure's line is on stdout, whatever became of its OTLP record.
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = service.stdout_lines();
        let missing: Vec<_> = failed
            .iter()
            .filter(|trace_id| !lines.iter().any(|line| line.contains(trace_id.as_str())))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no stdout line for {missing:?}: {lines:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = service.terminate(WAIT);
}
