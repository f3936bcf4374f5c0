//! `POST /v1/chat/completions` of the real binary: answers, the server-sent event stream,
//! the 4xx errors of docs/predictor.md ("Chat"), the generation span over OTLP, and (when
//! `MLOTEL_OPENAI_PYTHON` names a Python with the `openai` package, as scripts/test.sh sets
//! it) the real `openai` client, streaming and not.

use std::process::Command;
use std::time::{Duration, Instant};

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, raw_request};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn start(receiver: &OtlpReceiver) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100");
    let service = ServiceProcess::spawn(command, WAIT);
    let deadline = Instant::now() + WAIT;
    while raw_request(service.address(), "GET", "/health/ready", &[], b"", WAIT).status != 200 {
        assert!(Instant::now() < deadline, "not ready in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    service
}

fn chat(service: &ServiceProcess, body: &str) -> RawResponse {
    raw_request(
        service.address(),
        "POST",
        "/v1/chat/completions",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
        WAIT,
    )
}

fn json_of(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

#[test]
fn chat_completions_answer_stream_and_refuse_bad_requests() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver);

    // No model named: the demo model answers.
    let answer = chat(
        &service,
        r#"{"messages": [{"role": "user", "content": "the White Rabbit"}], "seed": 3, "max_tokens": 30}"#,
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = json_of(&answer);
    assert_eq!(answer["model"], "mlotel-wonderland");
    let usage = &answer["usage"];
    assert_eq!(usage["prompt_tokens"], 3);
    let completion = usage["completion_tokens"].as_u64().expect("count");
    assert!((1..=30).contains(&completion), "{usage}");
    assert_eq!(usage["total_tokens"].as_u64(), Some(3 + completion));
    assert!(
        ["stop", "length"].contains(&answer["choices"][0]["finish_reason"].as_str().unwrap_or(""))
    );

    let streamed = chat(
        &service,
        r#"{"model": "mlotel-wonderland", "messages": [{"role": "user", "content": "hi"}], "stream": true, "max_tokens": 4, "stream_options": {"include_usage": true}}"#,
    );
    assert_eq!(streamed.status, 200);
    // The raw body is chunked: the events are its `data: ` lines (one chunk each).
    let events: Vec<&str> = streamed
        .body
        .lines()
        .filter(|line| line.starts_with("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"data: [DONE]"));
    // Role, four tokens, the finish chunk, the usage chunk, [DONE].
    assert_eq!(events.len(), 8, "{}", streamed.body);
    let usage: Value =
        serde_json::from_str(events[6].trim_start_matches("data: ")).expect("usage chunk");
    assert_eq!(usage["usage"]["completion_tokens"], 4);
    let finish: Value =
        serde_json::from_str(events[5].trim_start_matches("data: ")).expect("finish chunk");
    assert_eq!(finish["choices"][0]["finish_reason"], "length");

    for (body, status, code) in [
        ("not json", 400, "invalid_json"),
        (r#"{"messages": []}"#, 400, "empty_messages"),
        (
            r#"{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#,
            404,
            "model_not_found",
        ),
        (
            r#"{"messages": [{"role": "wizard", "content": "hi"}]}"#,
            400,
            "invalid_role",
        ),
        (
            r#"{"messages": [{"role": "user", "content": 7}]}"#,
            400,
            "invalid_content",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}"#,
            400,
            "invalid_max_tokens",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "hi"}], "temperature": 9}"#,
            400,
            "invalid_temperature",
        ),
        (
            r#"{"messages": [{"role": "user", "content": "hi"}], "n": 2}"#,
            400,
            "invalid_n",
        ),
    ] {
        let refused = chat(&service, body);
        assert_eq!(refused.status, status, "{body}: {}", refused.body);
        let error = json_of(&refused);
        assert_eq!(error["error"]["code"], code, "{body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|message| !message.is_empty())
        );
    }

    // The generation span: kind INTERNAL under the HTTP server span, GenAI attributes, no
    // content (capture is off).
    let span = receiver.wait_until(WAIT, |receiver| {
        receiver.spans().into_iter().find(|span| {
            span.name() == "chat mlotel-wonderland"
                && span.attr_i64("gen_ai.usage.output_tokens") == Some(4)
        })
    });
    assert_eq!(span.attr_str("gen_ai.provider.name"), Some("mlotel"));
    assert_eq!(span.attr_bool("gen_ai.request.stream"), Some(true));
    assert!(!span.is_root(), "the HTTP request span is its parent");
    assert!(span.event_names().is_empty());

    match std::env::var("MLOTEL_OPENAI_PYTHON") {
        Ok(python) => {
            let output = Command::new(python)
                .arg(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/openai_client.py"
                ))
                .arg(format!("http://{}/v1", service.address()))
                .output()
                .expect("python runs");
            assert!(
                output.status.success(),
                "the openai client failed:\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Err(_) => eprintln!(
            "MLOTEL_OPENAI_PYTHON unset: the openai-client part is skipped (scripts/test.sh sets it)"
        ),
    }
}
