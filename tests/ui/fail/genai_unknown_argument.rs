use mlotel::genai::TokenUsage;
use mlotel::instrument_genai;

#[instrument_genai(provider = "openai", model = model, temperature = 0.5)]
fn ask(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

#[instrument_genai(provder = "openai", model = model)]
fn ask_misspelt(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

fn main() {
    let _ = ask("gpt-4o");
    let _ = ask_misspelt("gpt-4o");
}
