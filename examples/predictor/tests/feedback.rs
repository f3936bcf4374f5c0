//! `POST /v1/models/{model}/feedback` on the real binary: predictions answer with a
//! `prediction_id`, feedback by those ids is recorded (`ml_outcomes_total` on `/metrics`),
//! and every bad request is a 4xx JSON error naming what is wrong, with nothing recorded:
//! malformed, empty, unknown label, invalid id, repeated id, unknown id, already answered,
//! evicted. Feedback for evicted and unknown ids is counted.

use std::process::Command;
use std::time::{Duration, Instant};

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, raw_request};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const FEEDBACK: &str = "/v1/models/iris/feedback";

fn start(receiver: &OtlpReceiver, args: &[&str]) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .args(args)
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    let service = ServiceProcess::spawn(command, WAIT);
    let deadline = Instant::now() + WAIT;
    while raw_request(service.address(), "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    service
}

fn post(service: &ServiceProcess, path: &str, body: &str) -> RawResponse {
    let headers = [("Content-Type", "application/json")];
    raw_request(
        service.address(),
        "POST",
        path,
        &headers,
        body.as_bytes(),
        WAIT,
    )
}

fn json_of(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

/// Predicts `rows` (setosa-like rows) with version 2.0.0 and returns each row's label and id.
fn predict(service: &ServiceProcess, rows: usize) -> Vec<(String, String)> {
    let instances: Vec<Value> = (0..rows).map(|_| json!([5.1, 3.5, 1.4, 0.2])).collect();
    let response = post(
        service,
        "/v1/models/iris/versions/2.0.0:predict",
        &json!({ "instances": instances }).to_string(),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    json_of(&response)["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .map(|prediction| {
            (
                prediction["label"].as_str().expect("label").to_owned(),
                prediction["prediction_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no prediction_id in {prediction}"))
                    .to_owned(),
            )
        })
        .collect()
}

fn feedback(service: &ServiceProcess, items: &[(&str, &str)]) -> RawResponse {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, actual)| json!({ "prediction_id": id, "actual": actual }))
        .collect();
    post(service, FEEDBACK, &json!({ "feedback": items }).to_string())
}

/// The error's status and `type`.
fn refusal(response: &RawResponse) -> (u16, String) {
    let body = json_of(response);
    let kind = body["error"]["type"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a message: {body}"
    );
    (response.status, kind)
}

/// The sum of the `/metrics` samples of `family` whose line contains every fragment.
fn metric(service: &ServiceProcess, family: &str, fragments: &[&str]) -> f64 {
    let text = raw_request(service.address(), "GET", "/metrics", &[], b"", WAIT).body;
    text.lines()
        .filter(|line| line.starts_with(&format!("{family}{{")))
        .filter(|line| fragments.iter().all(|fragment| line.contains(fragment)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn feedback_by_prediction_id_is_recorded_and_every_bad_request_is_a_clear_4xx() {
    let receiver = OtlpReceiver::grpc();
    let service = start(
        &receiver,
        &["--prediction-store-capacity", "1024", "--max-batch", "2000"],
    );
    let predicted = predict(&service, 3);
    let (label, id) = &predicted[0];
    assert_eq!(label, "setosa");

    let ok = feedback(&service, &[(id, "setosa"), (&predicted[1].1, "versicolor")]);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(json_of(&ok)["recorded"], 2);

    // Every refusal records nothing: the third prediction stays answerable.
    let third = predicted[2].1.as_str();
    let cases: Vec<(String, (u16, &str))> = vec![
        ("{not json".to_owned(), (400, "malformed_json")),
        (
            json!({ "feedback": [] }).to_string(),
            (400, "empty_feedback"),
        ),
        (
            json!({ "feedback": [{ "prediction_id": third, "actual": "setosa", "extra": 1 }] })
                .to_string(),
            (422, "invalid_json_fields"),
        ),
        (
            json!({ "feedback": [{ "prediction_id": third }] }).to_string(),
            (422, "invalid_json_fields"),
        ),
        (
            json!({ "feedback": [{ "prediction_id": third, "actual": "dandelion" }] }).to_string(),
            (422, "unknown_label"),
        ),
        (
            json!({ "feedback": [{ "prediction_id": "42", "actual": "setosa" }] }).to_string(),
            (400, "invalid_prediction_id"),
        ),
        (
            json!({ "feedback": [
                { "prediction_id": third, "actual": "setosa" },
                { "prediction_id": third, "actual": "setosa" }
            ] })
            .to_string(),
            (400, "duplicate_prediction_id"),
        ),
        (
            json!({ "feedback": [
                { "prediction_id": third, "actual": "setosa" },
                { "prediction_id": "00000000-1", "actual": "setosa" }
            ] })
            .to_string(),
            (404, "unknown_prediction_id"),
        ),
        (
            json!({ "feedback": [{ "prediction_id": id, "actual": "setosa" }] }).to_string(),
            (409, "feedback_already_recorded"),
        ),
    ];
    for (body, (status, kind)) in &cases {
        let response = post(&service, FEEDBACK, body);
        let (got_status, got_kind) = refusal(&response);
        assert_eq!(got_status, *status, "{body}: {}", response.body);
        if !kind.is_empty() {
            assert_eq!(got_kind, *kind, "{body}: {}", response.body);
        }
    }
    let wrong_model = post(
        &service,
        "/v1/models/roses/feedback",
        &json!({ "feedback": [] }).to_string(),
    );
    assert_eq!(refusal(&wrong_model), (404, "model_not_found".to_owned()));

    // A flood of predictions pushes the third out of the 1024-slot store.
    predict(&service, 1100);
    let evicted = feedback(&service, &[(third, "setosa")]);
    assert_eq!(
        refusal(&evicted),
        (410, "prediction_expired".to_owned()),
        "{}",
        evicted.body
    );

    let version = "ml_model_version=\"2.0.0\"";
    assert_eq!(metric(&service, "ml_outcomes_total", &[version]), 2.0);
    assert_eq!(
        metric(
            &service,
            "ml_outcomes_total",
            &[version, "ml_outcome_correct=\"true\""]
        ),
        1.0
    );
    let unmatched = |reason: &str| {
        metric(
            &service,
            "ml_outcomes_unmatched_total",
            &[&format!("ml_outcome_unmatched_reason=\"{reason}\"")],
        )
    };
    assert_eq!(unmatched("evicted"), 1.0);
    assert_eq!(unmatched("unknown_id"), 1.0);
    assert_eq!(unmatched("duplicate"), 1.0);
    assert!(
        metric(&service, "ml_prediction_store_evictions_total", &[version])
            >= 1100.0 + 3.0 - 1024.0 - 2.0
    );
    assert!(metric(&service, "ml_model_reference_accuracy_ratio", &[version]) > 0.8);
}
