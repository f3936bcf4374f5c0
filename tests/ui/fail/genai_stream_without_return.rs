use mlotel::instrument_genai;

#[instrument_genai(side = server, provider = "mlotel", model = model, stream)]
fn generate(model: &str) {
    let _ = model;
}

fn main() {
    generate("mlotel-wonderland");
}
