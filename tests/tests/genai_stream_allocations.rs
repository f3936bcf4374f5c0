//! `#[instrument_genai(stream)]` does not allocate per chunk: once the first chunk is in
//! (which binds the client's chunk-timing histogram), each later chunk of a stream makes no
//! heap allocation on the polling thread, client side and server side, with the call's
//! span sampled (its context is made current around each poll) and not sampled. Content
//! capture is off (the default); with it on, the text is kept, which allocates.
//! Allocations of other threads (the batch span processor's) are not counted.
//!
//! Counting: the `#[global_allocator]` is mlotel-testkit's `CountingAllocator`.

use std::hint::black_box;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use mlotel::genai::{GenAiChunk, TokenUsage};
use mlotel::{Sampler, Telemetry, instrument_genai};
use mlotel_testkit::{CountingAllocator, allocations_in};
use mlotel_tests::DiscardSpans;
use opentelemetry_sdk::trace::BatchSpanProcessor;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Chunks in the measured window.
const CHUNKS: u64 = 10_000;

/// A streamed token as a provider sends it: the model that answers on every chunk (as
/// OpenAI's chunks carry it), the finish reason and usage on the last one only.
#[derive(Debug)]
struct Token {
    last: bool,
}

impl GenAiChunk for Token {
    fn response_model(&self) -> Option<&str> {
        Some("served-model")
    }
    fn finish_reason(&self) -> Option<&str> {
        self.last.then_some("stop")
    }
    fn usage(&self) -> Option<TokenUsage> {
        self.last.then_some(TokenUsage::new(7, CHUNKS + 2))
    }
    fn text(&self) -> Option<&str> {
        Some("word ")
    }
}

/// Tokens, always ready, the last one after `count`.
struct Tokens {
    sent: u64,
    count: u64,
}

impl Stream for Tokens {
    type Item = Result<Token, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sent == self.count {
            return Poll::Ready(None);
        }
        self.sent += 1;
        Poll::Ready(Some(Ok(Token {
            last: self.sent == self.count,
        })))
    }
}

fn tokens() -> Tokens {
    // The first chunk, the measured ones, the last one.
    Tokens {
        sent: 0,
        count: CHUNKS + 2,
    }
}

#[instrument_genai(side = client, provider = "openai", model = model, stream)]
fn stream_client(model: &str) -> impl Stream<Item = Result<Token, std::io::Error>> {
    tokens()
}

#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn stream_server(model: &str) -> impl Stream<Item = Result<Token, std::io::Error>> {
    tokens()
}

/// Polls the next chunk of an always-ready stream.
fn next<S: Stream>(stream: Pin<&mut S>) -> Option<S::Item> {
    match stream.poll_next(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(item) => item,
        Poll::Pending => panic!("the stream is always ready"),
    }
}

/// Allocations per chunk of `stream` after its first chunk, and checks that it ends.
fn allocations_per_chunk<S: Stream<Item = Result<Token, std::io::Error>>>(stream: S) -> u64 {
    let mut stream = std::pin::pin!(stream);
    next(stream.as_mut())
        .expect("a first chunk")
        .expect("an Ok chunk");
    let allocations = allocations_in(|| {
        for _ in 0..CHUNKS {
            black_box(next(stream.as_mut()).expect("a chunk")).expect("an Ok chunk");
        }
    });
    next(stream.as_mut())
        .expect("the last chunk")
        .expect("an Ok chunk");
    assert!(next(stream.as_mut()).is_none(), "the stream ends");
    allocations
}

fn install(sampler: Sampler, exporter: &DiscardSpans) -> Telemetry {
    Telemetry::builder()
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .sampler(sampler)
        .span_processor(BatchSpanProcessor::builder(exporter.clone()).build())
        .install()
        .expect("telemetry installs")
}

/// The installation is global: one test at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn check(sampler: Sampler, sampled: bool) {
    let _serial = serial();
    let exporter = DiscardSpans::default();
    let telemetry = install(sampler, &exporter);
    for (side, allocations) in [
        ("client", allocations_per_chunk(stream_client("gpt-bench"))),
        ("server", allocations_per_chunk(stream_server("gpt-bench"))),
    ] {
        println!("{side}, sampled {sampled}: {allocations} allocations in {CHUNKS} chunks");
        assert_eq!(
            allocations, 0,
            "{side} side, span sampled: {sampled}: {CHUNKS} chunks allocated {allocations} times"
        );
    }
    telemetry.force_flush().expect("flush");
    assert_eq!(exporter.exported() > 0, sampled, "spans sampled: {sampled}");
    telemetry.shutdown().expect("shutdown");
}

#[test]
fn chunks_do_not_allocate_once_the_stream_is_under_way_unsampled() {
    check(Sampler::AlwaysOff, false);
}

#[test]
fn chunks_do_not_allocate_once_the_stream_is_under_way_sampled() {
    check(Sampler::AlwaysOn, true);
}
