use mlotel::genai::TokenUsage;
use mlotel::instrument_genai;

#[instrument_genai(side = browser, provider = "openai", model = model)]
fn ask(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

fn main() {
    let _ = ask("gpt-4o");
}
