//! The example as a user runs it: the real binary on a free port, sending over OTLP/gRPC to
//! an in-process receiver. It answers predictions and bad input, serves every operational
//! route, and on SIGTERM finishes and flushes its spans before exiting.

use std::process::Command;
use std::time::Duration;

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, raw_request};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// Starts the binary on a free port.
fn start(receiver: &OtlpReceiver) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minimal-service"));
    command
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "500");
    ServiceProcess::spawn(command, WAIT)
}

fn json(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

#[test]
fn the_example_serves_predictions_operational_routes_and_flushes_on_sigterm() {
    let receiver = OtlpReceiver::grpc();
    let mut service = start(&receiver);
    let address = service.address();
    let request = |method: &str, path: &str, body: &str| {
        raw_request(
            address,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
            WAIT,
        )
    };

    let ready = request("GET", "/health/ready", "");
    assert_eq!(ready.status, 200, "{}", ready.body);

    let answer = request("POST", "/predict", r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = json(&answer);
    assert_eq!(answer["label"], "setosa");
    let confidence = answer["confidence"].as_f64().unwrap_or_default();
    assert!(confidence > 0.5 && confidence <= 1.0, "{answer}");

    for (body, status, needle) in [
        (r#"{"features": [1.0, 2.0]}"#, 400, "expected 4 features"),
        (r#"{"features": [1.0, 2.0"#, 400, "malformed JSON"),
        (r#"{"features": "1,2,3,4"}"#, 422, "invalid type"),
    ] {
        let refused = request("POST", "/predict", body);
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        let message = json(&refused)["error"]["message"]
            .as_str()
            .map(str::to_owned);
        assert!(
            message
                .as_deref()
                .is_some_and(|message| message.contains(needle)),
            "{body}: {message:?}"
        );
    }

    let detailed = json(&request("GET", "/health/detailed", ""));
    assert_eq!(detailed["service"], "minimal-service");
    assert_eq!(detailed["requests"]["client_errors"], 3, "{detailed:#}");
    let iris = &detailed["models"][0];
    assert_eq!(
        (&iris["name"], &iris["predictions"]),
        (&"iris".into(), &1.into())
    );
    let metrics = request("GET", "/metrics", "");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("ml_predictions_total"),
        "{}",
        metrics.body
    );

    // SIGTERM: actix stops accepting, finishes, then main shuts telemetry down and flushes
    // the spans still waiting in the batch processor (its 5 s delay has not passed).
    let status = service.terminate(WAIT);
    assert!(status.success(), "exit status {status}");
    let spans = receiver.spans();
    let request_span = spans
        .iter()
        .find(|span| {
            span.name() == "POST /predict"
                && span.attr_i64("http.response.status_code") == Some(200)
        })
        .unwrap_or_else(|| {
            panic!(
                "no request span among {:?}",
                spans.iter().map(|s| s.name()).collect::<Vec<_>>()
            )
        });
    let prediction = spans
        .iter()
        .find(|span| span.name() == "predict iris")
        .expect("the prediction span arrived");
    assert!(prediction.is_child_of(request_span));
    assert_eq!(prediction.attr_str("ml.prediction.label"), Some("setosa"));
}

#[test]
fn docs_actix_md_quotes_this_example_as_it_is() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let main = std::fs::read_to_string(root.join("src/main.rs")).expect("main.rs reads");
    let docs = std::fs::read_to_string(root.join("../../docs/actix.md")).expect("docs read");
    let code = &main[main
        .find("use std::time::Instant;")
        .expect("the first import")..];
    assert!(
        docs.contains(code),
        "docs/actix.md must quote examples/minimal-service/src/main.rs from its first `use`"
    );
}
