//! Cost of `#[instrument_genai]`, in one criterion group so that the ratios come from one run:
//!
//! - per call (a client call answered whole, with token usage and a priced model, so the
//!   duration, both token counts and the cost are recorded on each call):
//!   `a_call_bare` (the function alone), `b_call_unsampled` (sampler `always_off`: the
//!   metrics path alone), `c_call_sampled` (sampler `always_on`, span exported through a
//!   batch processor to an exporter that drops it);
//! - per streamed chunk, once the stream is under way (one long stream polled chunk after
//!   chunk, so the call's start and end are not in the figure): `d_chunk_bare` (the stream
//!   alone), `e_chunk_client_unsampled` / `f_chunk_client_sampled` (client side: each chunk
//!   records the time since the previous one on a bound histogram),
//!   `g_chunk_server_unsampled` / `h_chunk_server_sampled` (server side: each chunk is
//!   counted; the timings are recorded at the end).
//!
//! A sampled stream makes the call's span current while the inner stream is polled, so
//! the sampled chunk variants also measure attaching and detaching a context.
//!
//! Metrics go to a Prometheus reader that is never scraped; nothing goes over the network.
//!
//! Run with: `cargo bench -p mlotel-benches --bench genai`

// criterion_group! generates an undocumented pub fn.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::{DiscardSpans, install_mlotel};
use criterion::{Criterion, criterion_group, criterion_main};
use futures_core::Stream;
use mlotel::genai::{self, PriceTable, TokenUsage};
use mlotel::{Sampler, instrument_genai};

const MODEL: &str = "bench-model";

/// What the instrumented call does: a few hundred nanoseconds would be a network call's
/// parsing at best; keep it tiny so that the overhead shows.
#[inline(always)]
fn answer(prompt: &str) -> Result<TokenUsage, std::io::Error> {
    let input = prompt.split_whitespace().count() as u64;
    Ok(TokenUsage::new(input, 2 * input + 1))
}

#[inline(never)]
fn ask_bare(model: &str, prompt: &str) -> Result<TokenUsage, std::io::Error> {
    black_box(model);
    answer(prompt)
}

#[instrument_genai(operation = "chat", provider = "openai", model = model)]
#[inline(never)]
fn ask(model: &str, prompt: &str) -> Result<TokenUsage, std::io::Error> {
    answer(prompt)
}

/// A stream that never ends: one word per poll, always ready.
struct Words {
    sent: u64,
}

impl Stream for Words {
    type Item = &'static str;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<&'static str>> {
        self.sent += 1;
        Poll::Ready(Some(if self.sent.is_multiple_of(2) {
            "word "
        } else {
            "token "
        }))
    }
}

fn words() -> Words {
    Words { sent: 0 }
}

#[instrument_genai(side = client, provider = "openai", model = model, stream)]
fn stream_client(model: &str) -> impl Stream<Item = &'static str> {
    words()
}

#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn stream_server(model: &str) -> impl Stream<Item = &'static str> {
    words()
}

/// Polls `stream` for `chunks` chunks and returns how long that took.
fn poll_chunks<S: Stream<Item = &'static str>>(stream: Pin<&mut S>, chunks: u64) -> Duration {
    let mut stream = stream;
    let mut context = Context::from_waker(Waker::noop());
    let started = Instant::now();
    for _ in 0..chunks {
        match stream.as_mut().poll_next(&mut context) {
            Poll::Ready(Some(chunk)) => {
                black_box(chunk);
            }
            _ => unreachable!("the stream is always ready and never ends"),
        }
    }
    started.elapsed()
}

/// Benches one chunk of a long-lived `stream` whose first chunk is already in.
fn bench_chunks<S: Stream<Item = &'static str>>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    stream: S,
) {
    let mut stream = Box::pin(stream);
    poll_chunks(stream.as_mut(), 1);
    group.bench_function(name, |bench| {
        bench.iter_custom(|chunks| poll_chunks(stream.as_mut(), chunks));
    });
}

fn genai(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("genai");
    group.bench_function("a_call_bare", |bench| {
        bench.iter(|| ask_bare(black_box(MODEL), black_box("what is a petal")));
    });
    bench_chunks(&mut group, "d_chunk_bare", words());

    let unsampled_exporter = DiscardSpans::default();
    let telemetry = install_mlotel(Sampler::AlwaysOff, Some(&unsampled_exporter));
    genai::set_prices(
        PriceTable::new()
            .with(MODEL, 2.5, 10.0)
            .expect("valid prices"),
    );
    group.bench_function("b_call_unsampled", |bench| {
        bench.iter(|| ask(black_box(MODEL), black_box("what is a petal")));
    });
    bench_chunks(&mut group, "e_chunk_client_unsampled", stream_client(MODEL));
    bench_chunks(&mut group, "g_chunk_server_unsampled", stream_server(MODEL));
    telemetry.force_flush().expect("flush");
    drop(telemetry);

    let sampled_exporter = DiscardSpans::default();
    let telemetry = install_mlotel(Sampler::AlwaysOn, Some(&sampled_exporter));
    group.bench_function("c_call_sampled", |bench| {
        bench.iter(|| ask(black_box(MODEL), black_box("what is a petal")));
    });
    bench_chunks(&mut group, "f_chunk_client_sampled", stream_client(MODEL));
    bench_chunks(&mut group, "h_chunk_server_sampled", stream_server(MODEL));
    group.finish();
    telemetry.force_flush().expect("flush");

    // The variants are what they claim (a filter that skips them skips the check).
    let (unsampled, sampled) = (unsampled_exporter.exported(), sampled_exporter.exported());
    assert_eq!(unsampled, 0, "spans exported with the sampler always_off");
    eprintln!("spans exported: unsampled {unsampled}, sampled {sampled}");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    targets = genai
}
criterion_main!(benches);
