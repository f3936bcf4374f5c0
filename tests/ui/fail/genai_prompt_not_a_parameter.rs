use mlotel::genai::TokenUsage;
use mlotel::instrument_genai;

#[instrument_genai(provider = "openai", model = model, prompt = messages)]
fn ask(model: &str, prompt: &str) -> TokenUsage {
    let _ = (model, prompt);
    TokenUsage::new(1, 1)
}

fn main() {
    let _ = ask("gpt-4o", "hello");
}
