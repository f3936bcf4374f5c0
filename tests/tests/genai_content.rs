//! Prompt and completion capture, opt-in: with it on, one
//! `gen_ai.client.inference.operation.details` span event carries the redacted, length-capped
//! messages in the conventions' JSON shape. (Off by default: see genai_wire.rs, whose spans
//! have no event and no content attribute.)

mod genai_support;
mod instrument_ml_support;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_core::Stream;
use genai_support::{Delayed, Token, drain, runtime};
use instrument_ml_support::Harness;
use mlotel::genai::names::{attr, event};
use mlotel::genai::{ContentCapture, GenAiSettings, TokenUsage};
use mlotel::instrument_genai;
use mlotel_tests::{Attributes as _, OtlpReceiver};

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let harness = Harness::install(OtlpReceiver::grpc(), &[]);
    mlotel::genai::configure(GenAiSettings {
        capture: Some(ContentCapture {
            max_chars: 12,
            redact: Some(Arc::new(|text: &str| text.replace("4111", "####"))),
        }),
        ..GenAiSettings::default()
    });
    harness
});

#[instrument_genai(provider = "openai", model = "t-content", prompt = messages)]
fn chat(messages: Vec<(&'static str, String)>) -> TokenUsage {
    assert_eq!(messages.len(), 2);
    TokenUsage::new(3, 4)
}

#[test]
fn captured_prompts_are_redacted_and_capped() {
    let harness = &*HARNESS;
    let _ = chat(vec![
        ("system", "be brief".to_owned()),
        (
            "user",
            "my card is 4111 1111 1111 1111, charge it".to_owned(),
        ),
    ]);
    let span = harness.span("chat t-content");
    let details = span.event(event::OPERATION_DETAILS).expect("content event");
    let input = details
        .attr_str(attr::INPUT_MESSAGES)
        .expect("input messages");
    let input: serde_json::Value = serde_json::from_str(input).expect("JSON");
    assert_eq!(
        input,
        serde_json::json!([
            {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
            {"role": "user", "parts": [{"type": "text", "content": "my card is #…"}]},
        ])
    );
    assert!(!span.event_names().is_empty());
}

#[instrument_genai(side = server, provider = "mlotel", model = "t-content-stream", stream, prompt = prompt)]
fn generate(prompt: &str) -> impl Stream<Item = Token> + Unpin {
    Delayed::new(3, Duration::from_millis(1), Duration::from_millis(1))
}

#[test]
fn a_streamed_completion_is_captured_from_its_chunks() {
    let harness = &*HARNESS;
    runtime().block_on(async { drain(generate("tell me")).await });
    let span = harness.span("chat t-content-stream");
    let details = span.event(event::OPERATION_DETAILS).expect("content event");
    let output = details
        .attr_str(attr::OUTPUT_MESSAGES)
        .expect("output messages");
    let output: serde_json::Value = serde_json::from_str(output).expect("JSON");
    assert_eq!(output[0]["role"], "assistant");
    assert_eq!(output[0]["parts"][0]["content"], "word word wo…");
    assert_eq!(output[0]["finish_reason"], "stop");
}
