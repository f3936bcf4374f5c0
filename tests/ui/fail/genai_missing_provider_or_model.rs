use mlotel::genai::TokenUsage;
use mlotel::instrument_genai;

#[instrument_genai(model = model)]
fn no_provider(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

#[instrument_genai(provider = "openai")]
fn no_model(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

fn main() {
    let _ = no_provider("gpt-4o");
    let _ = no_model("gpt-4o");
}
