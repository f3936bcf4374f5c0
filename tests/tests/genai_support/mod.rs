//! Shared by the `genai_*` test binaries: chunk streams with known delays, a way to drain
//! them without an extra crate, and chunk types.

#![allow(dead_code)] // each binary uses a different subset

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use mlotel::genai::{GenAiChunk, TokenUsage};

/// One streamed token; the last one may carry the provider's usage and finish reason.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) text: &'static str,
    pub(crate) usage: Option<TokenUsage>,
    pub(crate) finish: Option<&'static str>,
}

impl GenAiChunk for Token {
    fn usage(&self) -> Option<TokenUsage> {
        self.usage
    }
    fn finish_reason(&self) -> Option<&str> {
        self.finish
    }
    fn response_model(&self) -> Option<&str> {
        Some("served-model")
    }
    fn text(&self) -> Option<&str> {
        Some(self.text)
    }
}

/// `count` tokens: the first after `first`, each later one `gap` after the one before
/// (tokio timers: never early, maybe late on a busy machine).
pub(crate) struct Delayed {
    sleep: Pin<Box<tokio::time::Sleep>>,
    sent: usize,
    count: usize,
    gap: Duration,
    final_usage: Option<TokenUsage>,
}

impl Delayed {
    pub(crate) fn new(count: usize, first: Duration, gap: Duration) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(first)),
            sent: 0,
            count,
            gap,
            final_usage: None,
        }
    }

    /// The last token reports `usage`, as OpenAI's `include_usage` chunk does.
    pub(crate) fn with_final_usage(mut self, usage: TokenUsage) -> Self {
        self.final_usage = Some(usage);
        self
    }
}

impl Stream for Delayed {
    type Item = Token;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Token>> {
        if self.sent == self.count {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sent += 1;
        let last = self.sent == self.count;
        let deadline = tokio::time::Instant::now() + self.gap;
        self.sleep.as_mut().reset(deadline);
        Poll::Ready(Some(Token {
            text: "word ",
            usage: if last { self.final_usage } else { None },
            finish: last.then_some("stop"),
        }))
    }
}

/// The next item of `stream`.
pub(crate) async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

/// Every item of `stream`.
pub(crate) async fn drain<S: Stream + Unpin>(mut stream: S) -> Vec<S::Item> {
    let mut items = Vec::new();
    while let Some(item) = next(&mut stream).await {
        items.push(item);
    }
    items
}

/// A current-thread runtime with timers.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}
