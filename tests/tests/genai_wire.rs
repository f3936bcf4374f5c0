//! `#[instrument_genai]` over the real OTLP wire (gRPC): span names, kinds and attributes
//! as the GenAI conventions define them; every metric with its unit, buckets and
//! attributes; cost from the price table; streaming timings against streams with known
//! delays; cancellation mid-stream; errors; no content recorded by default.
//!
//! Timing tolerances: tokio timers never fire early, so a measured delay is at least the
//! stream's; a shared 2-core machine may fire them late, so each upper bound allows 250 ms
//! of lateness.

mod genai_support;
mod instrument_ml_support;

use std::collections::BTreeSet;
use std::pin::pin;
use std::sync::LazyLock;
use std::time::Duration;

use futures_core::Stream;
use genai_support::{Delayed, Token, drain, next, runtime};
use instrument_ml_support::{Harness, close, point_keys};
use mlotel::genai::names::{self, attr, value};
use mlotel::genai::{GenAiResponse, GenAiSettings, PriceTable, TokenUsage};
use mlotel::{ErrorType, instrument_genai};
use mlotel_tests::proto::trace::v1::span::SpanKind;
use mlotel_tests::proto::trace::v1::status::StatusCode;
use mlotel_tests::{OtlpReceiver, ReceivedSpan};

const LATE: f64 = 0.25;

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let harness = Harness::install(OtlpReceiver::grpc(), &[]);
    mlotel::genai::configure(GenAiSettings {
        prices: PriceTable::new()
            .with("t-priced-2024", 2.0, 8.0)
            .and_then(|prices| prices.with("t-stream-client", 1.0, 4.0))
            .expect("valid prices"),
        ..GenAiSettings::default()
    });
    harness
});

fn harness() -> &'static Harness {
    &HARNESS
}

fn spec(name: &str) -> &'static mlotel::names::InstrumentSpec {
    names::CATALOGUE
        .iter()
        .find(|spec| spec.name == name)
        .expect("in the catalogue")
}

/// Waits for the span `name` and checks what every GenAI span carries.
fn genai_span(name: &str, kind: SpanKind) -> ReceivedSpan {
    let span = harness().span(name);
    assert_eq!(span.kind(), kind, "{span:?}");
    assert!(span.attr_str(attr::OPERATION_NAME).is_some());
    assert!(span.attr_str(attr::PROVIDER_NAME).is_some());
    assert!(
        span.event_names().is_empty(),
        "no content event unless enabled: {span:?}"
    );
    for key in [attr::INPUT_MESSAGES, attr::OUTPUT_MESSAGES] {
        assert!(span.attr(key).is_none(), "{key} recorded: {span:?}");
    }
    span
}

fn assert_buckets(metric_name: &str, point: &mlotel_tests::proto::metrics::v1::HistogramDataPoint) {
    assert_eq!(
        point.explicit_bounds,
        spec(metric_name).buckets,
        "{metric_name}"
    );
}

fn assert_unit(metric_name: &str, want: &[(&str, &str)]) {
    let metric = harness().metric_where(metric_name, want, |_| true);
    assert_eq!(metric.unit(), spec(metric_name).unit, "{metric_name}");
}

struct Answer {
    usage: TokenUsage,
}

impl GenAiResponse for Answer {
    fn usage(&self) -> Option<TokenUsage> {
        Some(self.usage)
    }
    fn response_model(&self) -> Option<&str> {
        Some("t-priced-2024")
    }
    fn finish_reason(&self) -> Option<&str> {
        Some("stop")
    }
    fn response_id(&self) -> Option<&str> {
        Some("chatcmpl-1")
    }
}

#[instrument_genai(operation = "chat", provider = "openai", model = model, prompt = prompt)]
fn ask(model: &str, prompt: &str) -> Result<Answer, std::io::Error> {
    assert!(!prompt.is_empty());
    Ok(Answer {
        usage: TokenUsage::new(12, 30),
    })
}

#[test]
fn client_call_has_the_conventions_span_metrics_and_cost() {
    let _ = harness();
    ask("t-priced", "hello there").expect("answers");
    let span = genai_span("chat t-priced", SpanKind::Client);
    assert_eq!(span.attr_str(attr::REQUEST_MODEL), Some("t-priced"));
    assert_eq!(span.attr_str(attr::RESPONSE_MODEL), Some("t-priced-2024"));
    assert_eq!(span.attr_str(attr::RESPONSE_ID), Some("chatcmpl-1"));
    assert_eq!(span.attr_i64(attr::USAGE_INPUT_TOKENS), Some(12));
    assert_eq!(span.attr_i64(attr::USAGE_OUTPUT_TOKENS), Some(30));
    assert_eq!(span.attr_bool(attr::REQUEST_STREAM), Some(false));
    let reasons = span
        .attr(attr::RESPONSE_FINISH_REASONS)
        .expect("finish reasons");
    use mlotel_tests::proto::common::v1::any_value::Value as Any;
    let Some(Any::ArrayValue(reasons)) = &reasons.value else {
        panic!("finish reasons are a string array: {reasons:?}");
    };
    assert_eq!(reasons.values.len(), 1);
    assert_eq!(
        reasons.values[0].value,
        Some(Any::StringValue("stop".to_owned()))
    );
    assert_eq!(span.status_code(), StatusCode::Unset);

    let call = [
        (attr::OPERATION_NAME, "chat"),
        (attr::PROVIDER_NAME, "openai"),
        (attr::REQUEST_MODEL, "t-priced"),
        (attr::RESPONSE_MODEL, "t-priced-2024"),
    ];
    let duration = harness().histogram_point(names::CLIENT_OPERATION_DURATION, &call, 1);
    assert_eq!(duration.count, 1);
    assert_buckets(names::CLIENT_OPERATION_DURATION, &duration);
    assert_eq!(
        point_keys(&duration),
        spec(names::CLIENT_OPERATION_DURATION)
            .attributes
            .iter()
            .copied()
            .filter(|key| *key != attr::ERROR_TYPE)
            .collect::<BTreeSet<_>>()
    );
    assert_unit(names::CLIENT_OPERATION_DURATION, &call);

    for (token_type, count, dollars) in [
        (value::TOKEN_INPUT, 12.0, 12.0 * 2.0 / 1e6),
        (value::TOKEN_OUTPUT, 30.0, 30.0 * 8.0 / 1e6),
    ] {
        let mut want = call.to_vec();
        want.push((attr::TOKEN_TYPE, token_type));
        let tokens = harness().histogram_point(names::CLIENT_TOKEN_USAGE, &want, 1);
        assert_eq!(tokens.sum, Some(count), "{token_type}");
        assert_buckets(names::CLIENT_TOKEN_USAGE, &tokens);
        assert_eq!(
            point_keys(&tokens),
            spec(names::CLIENT_TOKEN_USAGE)
                .attributes
                .iter()
                .copied()
                .collect()
        );
        assert_unit(names::CLIENT_TOKEN_USAGE, &want);
        let cost = harness().metric_where(names::COST, &want, |_| true);
        assert_eq!(cost.unit(), "{USD}");
        assert_eq!(cost.is_monotonic(), Some(true));
        let spent = cost
            .sum_point(&want)
            .and_then(mlotel_tests::number_f64)
            .expect("cost");
        assert!(close(spent, dollars), "{token_type}: {spent} != {dollars}");
        let mut reason = call.to_vec();
        reason.push((attr::FINISH_REASON, "stop"));
        harness().sum_point(names::FINISH_REASONS, &reason, 1);
    }
    let unpriced = harness()
        .receiver
        .latest_metric(names::UNPRICED_TOKENS)
        .and_then(|metric| metric.sum_point(&call).cloned());
    assert!(
        unpriced.is_none(),
        "a priced model is not unpriced: {unpriced:?}"
    );
}

#[instrument_genai(
    provider = "openai",
    model = "t-unpriced",
    operation = "text_completion"
)]
fn complete() -> TokenUsage {
    TokenUsage::new(5, 7)
}

#[test]
fn an_unknown_model_is_counted_unpriced_never_guessed() {
    let _ = harness();
    let _ = complete();
    genai_span("text_completion t-unpriced", SpanKind::Client);
    let want = [
        (attr::REQUEST_MODEL, "t-unpriced"),
        (attr::TOKEN_TYPE, value::TOKEN_OUTPUT),
    ];
    let point = harness().sum_point(names::UNPRICED_TOKENS, &want, 7);
    assert_eq!(mlotel_tests::number_i64(&point), Some(7));
    let cost = harness()
        .receiver
        .latest_metric(names::COST)
        .and_then(|metric| metric.sum_point(&want).cloned());
    assert!(cost.is_none(), "no dollars for an unpriced model: {cost:?}");
}

#[derive(Debug)]
struct RateLimited;
impl ErrorType for RateLimited {
    fn error_type(&self) -> &'static str {
        "rate_limited"
    }
}

#[instrument_genai(provider = "openai", model = "t-error")]
async fn refused() -> Result<TokenUsage, RateLimited> {
    Err(RateLimited)
}

#[test]
fn an_error_sets_error_type_and_span_status() {
    let _ = harness();
    runtime().block_on(refused()).expect_err("refused");
    let span = genai_span("chat t-error", SpanKind::Client);
    assert_eq!(span.status_code(), StatusCode::Error);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some("rate_limited"));
    let want = [
        (attr::REQUEST_MODEL, "t-error"),
        (attr::ERROR_TYPE, "rate_limited"),
    ];
    let point = harness().histogram_point(names::CLIENT_OPERATION_DURATION, &want, 1);
    assert_eq!(point.count, 1);
    assert!(
        harness()
            .receiver
            .latest_metric(names::CLIENT_TOKEN_USAGE)
            .and_then(|metric| metric
                .histogram_point(&[(attr::REQUEST_MODEL, "t-error")])
                .cloned())
            .is_none(),
        "no usage reported, none recorded"
    );
}

const CHUNKS: usize = 6;
const FIRST: Duration = Duration::from_millis(120);
const GAP: Duration = Duration::from_millis(40);

#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn generate(model: &str) -> impl Stream<Item = Token> + Unpin {
    Delayed::new(CHUNKS, FIRST, GAP)
}

#[test]
fn server_stream_timings_match_known_delays() {
    let _ = harness();
    let tokens = runtime().block_on(async { drain(generate("t-server")).await });
    assert_eq!(
        tokens.len(),
        CHUNKS,
        "the stream passes every chunk through"
    );
    let span = genai_span("chat t-server", SpanKind::Internal);
    assert_eq!(span.attr_bool(attr::REQUEST_STREAM), Some(true));
    assert_eq!(
        span.attr_i64(attr::USAGE_OUTPUT_TOKENS),
        Some(CHUNKS as i64)
    );
    let first = span
        .attr_f64(attr::RESPONSE_TIME_TO_FIRST_CHUNK)
        .expect("ttfc on span");
    assert!(
        first >= FIRST.as_secs_f64() && first < FIRST.as_secs_f64() + LATE,
        "{first}"
    );

    let want = [
        (attr::REQUEST_MODEL, "t-server"),
        (attr::RESPONSE_MODEL, "served-model"),
    ];
    let ttft = harness().histogram_point(names::SERVER_TIME_TO_FIRST_TOKEN, &want, 1);
    assert_buckets(names::SERVER_TIME_TO_FIRST_TOKEN, &ttft);
    let ttft_value = ttft.sum.expect("sum");
    assert!(
        close(ttft_value, first),
        "span and metric agree: {ttft_value} {first}"
    );

    let per_token = harness().histogram_point(names::SERVER_TIME_PER_OUTPUT_TOKEN, &want, 1);
    assert_buckets(names::SERVER_TIME_PER_OUTPUT_TOKEN, &per_token);
    let per_token = per_token.sum.expect("sum");
    let gap = GAP.as_secs_f64();
    assert!(per_token >= gap && per_token < gap + LATE, "{per_token}");

    let duration = harness().histogram_point(names::SERVER_REQUEST_DURATION, &want, 1);
    assert_buckets(names::SERVER_REQUEST_DURATION, &duration);
    let least = FIRST.as_secs_f64() + (CHUNKS - 1) as f64 * gap;
    let total = duration.sum.expect("sum");
    assert!(total >= least && total < least + LATE, "{total}");

    let mut output = want.to_vec();
    output.push((attr::TOKEN_TYPE, value::TOKEN_OUTPUT));
    let tokens = harness().histogram_point(names::SERVER_TOKEN_USAGE, &output, 1);
    assert_eq!(tokens.sum, Some(CHUNKS as f64));
    assert_buckets(names::SERVER_TOKEN_USAGE, &tokens);
    // A server does not record the client's metrics.
    assert!(
        harness()
            .receiver
            .latest_metric(names::CLIENT_OPERATION_DURATION)
            .and_then(|metric| metric.histogram_point(&want).cloned())
            .is_none()
    );
}

#[instrument_genai(provider = "openai", model = model, stream)]
async fn stream_chat(
    model: &'static str,
) -> Result<impl Stream<Item = Token> + Unpin, RateLimited> {
    Ok(Delayed::new(CHUNKS, FIRST, GAP).with_final_usage(TokenUsage::new(9, 11)))
}

#[test]
fn client_stream_times_first_and_every_later_chunk() {
    let _ = harness();
    runtime().block_on(async {
        let stream = stream_chat("t-stream-client").await.expect("stream");
        assert_eq!(drain(stream).await.len(), CHUNKS);
    });
    let span = genai_span("chat t-stream-client", SpanKind::Client);
    // The provider's usage replaces the counted chunks.
    assert_eq!(span.attr_i64(attr::USAGE_OUTPUT_TOKENS), Some(11));
    assert_eq!(span.attr_i64(attr::USAGE_INPUT_TOKENS), Some(9));

    let want = [
        (attr::OPERATION_NAME, "chat"),
        (attr::PROVIDER_NAME, "openai"),
        (attr::REQUEST_MODEL, "t-stream-client"),
    ];
    let first = harness().histogram_point(names::CLIENT_TIME_TO_FIRST_CHUNK, &want, 1);
    assert_eq!(first.count, 1);
    assert_buckets(names::CLIENT_TIME_TO_FIRST_CHUNK, &first);
    assert_eq!(
        point_keys(&first),
        spec(names::CLIENT_TIME_TO_FIRST_CHUNK)
            .attributes
            .iter()
            .copied()
            .collect()
    );
    let to_first = first.sum.expect("sum");
    assert!(
        to_first >= FIRST.as_secs_f64() && to_first < FIRST.as_secs_f64() + LATE,
        "{to_first}"
    );

    let per_chunk = harness().histogram_point(
        names::CLIENT_TIME_PER_OUTPUT_CHUNK,
        &want,
        (CHUNKS - 1) as u64,
    );
    assert_eq!(
        per_chunk.count,
        (CHUNKS - 1) as u64,
        "one per chunk after the first"
    );
    assert_buckets(names::CLIENT_TIME_PER_OUTPUT_CHUNK, &per_chunk);
    let gap = GAP.as_secs_f64();
    let (min, max) = (per_chunk.min.expect("min"), per_chunk.max.expect("max"));
    assert!(min >= gap && max < gap + LATE, "{min} {max}");

    let mut output = want.to_vec();
    output.push((attr::TOKEN_TYPE, value::TOKEN_OUTPUT));
    let cost = harness().metric_where(names::COST, &output, |_| true);
    let spent = cost
        .sum_point(&output)
        .and_then(mlotel_tests::number_f64)
        .expect("cost");
    assert!(close(spent, 11.0 * 4.0 / 1e6), "{spent}");
}

#[test]
fn a_stream_dropped_midway_is_cancelled_with_what_it_streamed() {
    let _ = harness();
    runtime().block_on(async {
        let mut stream = pin!(generate("t-cancel"));
        for _ in 0..2 {
            next(&mut stream).await.expect("a chunk");
        }
        // Dropped here, with four chunks still to come.
    });
    let span = genai_span("chat t-cancel", SpanKind::Internal);
    assert_eq!(span.status_code(), StatusCode::Error);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some(value::CANCELLED));
    assert_eq!(span.attr_i64(attr::USAGE_OUTPUT_TOKENS), Some(2));
    let want = [
        (attr::REQUEST_MODEL, "t-cancel"),
        (attr::ERROR_TYPE, value::CANCELLED),
    ];
    harness().histogram_point(names::SERVER_REQUEST_DURATION, &want, 1);
    // Time to first token and per token are for successful responses only.
    let ok = [(attr::REQUEST_MODEL, "t-cancel")];
    harness().flush();
    for name in [
        names::SERVER_TIME_TO_FIRST_TOKEN,
        names::SERVER_TIME_PER_OUTPUT_TOKEN,
    ] {
        let point = harness()
            .receiver
            .latest_metric(name)
            .and_then(|metric| metric.histogram_point(&ok).cloned());
        assert!(point.is_none(), "{name} recorded for a cancelled stream");
    }
}

#[instrument_genai(provider = "openai", model = "t-dropped")]
async fn never_finishes() -> TokenUsage {
    std::future::pending::<()>().await;
    TokenUsage::default()
}

#[test]
fn a_call_future_dropped_before_it_ends_is_cancelled() {
    let _ = harness();
    runtime().block_on(async {
        let timed_out = tokio::time::timeout(Duration::from_millis(20), never_finishes()).await;
        assert!(timed_out.is_err());
    });
    let span = genai_span("chat t-dropped", SpanKind::Client);
    assert_eq!(span.attr_str(attr::ERROR_TYPE), Some(value::CANCELLED));
}

struct Assistant;

impl Assistant {
    #[instrument_genai(provider = "anthropic", model = self.model())]
    fn reply(&self, _text: String) -> (Token, TokenUsage) {
        (
            Token {
                text: "ok",
                usage: None,
                finish: Some("end_turn"),
            },
            TokenUsage::new(1, 2),
        )
    }

    fn model(&self) -> &'static str {
        "t-method"
    }
}

impl GenAiResponse for Token {
    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish
    }
}

#[test]
fn methods_and_usage_tuples_are_read() {
    let _ = harness();
    let _ = Assistant.reply("hi".to_owned());
    let span = genai_span("chat t-method", SpanKind::Client);
    assert_eq!(span.attr_str(attr::PROVIDER_NAME), Some("anthropic"));
    assert_eq!(span.attr_i64(attr::USAGE_OUTPUT_TOKENS), Some(2));
}
