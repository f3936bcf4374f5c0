use futures_core::Stream;
use mlotel::instrument_genai;

struct Numbers;

impl Stream for Numbers {
    type Item = u32;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<u32>> {
        std::task::Poll::Ready(None)
    }
}

// The items of a `stream` function must be chunks (`GenAiChunk`); `u32` is not one.
#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn generate(model: &str) -> impl Stream<Item = u32> {
    let _ = model;
    Numbers
}

fn main() {
    let _ = generate("mlotel-wonderland");
}
