use mlotel::genai::TokenUsage;
use mlotel::instrument_genai;

#[instrument_genai(provider = "openai", model = model, model = "gpt-4o")]
fn ask(model: &str) -> TokenUsage {
    let _ = model;
    TokenUsage::new(1, 1)
}

#[instrument_genai(provider = "openai", model = model, stream, stream)]
fn generate(model: &str) -> Vec<String> {
    vec![model.to_owned()]
}

fn main() {
    let _ = ask("gpt-4o");
    let _ = generate("gpt-4o");
}
