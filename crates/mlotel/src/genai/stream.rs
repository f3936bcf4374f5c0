//! [`GenAiStream`]: a stream of chunks passed through unchanged and unbuffered, each chunk
//! timed as it goes by; the call ends with the stream, or as cancelled when the stream is
//! dropped before its end.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;

use super::call::GenAiCall;
use super::usage::GenAiChunk;

pin_project_lite::pin_project! {
    /// The stream a `#[instrument_genai(stream)]` function returns (see
    /// [`GenAiCall::stream`]): the same items, in the same polls.
    pub struct GenAiStream<S> {
        #[pin]
        inner: S,
        call: GenAiCall,
    }
}

impl<S> std::fmt::Debug for GenAiStream<S> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GenAiStream")
            .field("call", &self.call)
            .finish_non_exhaustive()
    }
}

impl GenAiCall {
    /// Wraps a stream of chunks so that the call is timed chunk by chunk and ends with the
    /// stream.
    pub fn stream<S>(self, stream: S) -> GenAiStream<S> {
        GenAiStream {
            inner: stream,
            call: self,
        }
    }
}

impl<S> Stream for GenAiStream<S>
where
    S: Stream,
    S::Item: GenAiChunk,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        // The call's span is current while the inner stream works (its HTTP requests
        // become children of the call).
        let _attached = this.call.attach();
        match this.inner.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.call.chunk(&item);
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.call.finish_stream();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
