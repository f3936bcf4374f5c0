use mlotel::instrument_genai;

// A whole answer must say its token usage (`GenAiResponse`); a bare `String` does not.
#[instrument_genai(provider = "openai", model = model)]
fn ask(model: &str) -> Result<String, std::io::Error> {
    Ok(model.to_owned())
}

fn main() {
    let _ = ask("gpt-4o");
}
