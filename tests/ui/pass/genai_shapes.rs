//! `#[instrument_genai]` on every supported shape: sync and async, a whole answer and a
//! stream (bare or in a `Result`), a method returning a stream that borrows `&mut self`,
//! the model from an expression over the parameters, the prompt
//! from a parameter. Outputs are returned unchanged.
#![deny(warnings)]

use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use mlotel::genai::{GenAiResponse, TokenUsage};
use mlotel::instrument_genai;

#[derive(Debug, PartialEq)]
struct Answer {
    text: String,
    usage: TokenUsage,
}

impl GenAiResponse for Answer {
    fn usage(&self) -> Option<TokenUsage> {
        Some(self.usage)
    }
}

#[instrument_genai(provider = "openai", model = model, prompt = prompt)]
fn ask(model: &str, prompt: &str) -> Result<Answer, std::io::Error> {
    Ok(Answer {
        text: format!("{model}: {prompt}"),
        usage: TokenUsage::new(1, 2),
    })
}

struct Request {
    model: String,
    max_tokens: u64,
}

#[instrument_genai(operation = "text_completion", provider = "openai", model = request.model)]
async fn ask_async(request: &Request) -> TokenUsage {
    tokio::task::yield_now().await;
    TokenUsage::new(1, request.max_tokens)
}

/// Words, always ready.
struct Words<'a> {
    words: std::slice::Iter<'a, String>,
}

impl Stream for Words<'_> {
    type Item = String;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<String>> {
        Poll::Ready(self.words.next().cloned())
    }
}

#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn generate(model: &str, count: usize) -> impl Stream<Item = String> {
    Words {
        words: Vec::leak(vec![model.to_owned(); count]).iter(),
    }
}

struct Client {
    words: Vec<String>,
}

impl Client {
    #[instrument_genai(side = client, provider = "openai", model = model, stream)]
    fn stream<'c>(
        &'c mut self,
        model: &str,
    ) -> Result<impl Stream<Item = String> + use<'c>, std::io::Error> {
        let _ = model;
        Ok(Words {
            words: self.words.iter(),
        })
    }
}

fn drain<S: Stream>(stream: S) -> Vec<S::Item> {
    let mut stream = std::pin::pin!(stream);
    let mut context = Context::from_waker(Waker::noop());
    let mut items = Vec::new();
    while let Poll::Ready(Some(item)) = stream.as_mut().poll_next(&mut context) {
        items.push(item);
    }
    items
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let answer = ask("gpt-4o", "hello").expect("answered");
    assert_eq!(answer.text, "gpt-4o: hello");
    let request = Request {
        model: "gpt-4o".to_owned(),
        max_tokens: 7,
    };
    assert_eq!(ask_async(&request).await, TokenUsage::new(1, 7));
    assert_eq!(drain(generate("w", 3)).len(), 3);
    let mut client = Client {
        words: vec!["a".to_owned(), "b".to_owned()],
    };
    let words = drain(client.stream("gpt-4o").expect("a stream"));
    assert_eq!(words, ["a", "b"]);
}
