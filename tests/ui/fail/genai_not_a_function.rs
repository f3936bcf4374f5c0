use mlotel::instrument_genai;

#[instrument_genai(provider = "openai", model = "gpt-4o")]
struct Client;

#[instrument_genai(provider = "openai", model = "gpt-4o")]
const fn ask() -> u32 {
    1
}

fn main() {
    let _ = Client;
    let _ = ask();
}
