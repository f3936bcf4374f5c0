//! Compile-time behaviour of `#[instrument_ml]` and `#[instrument_genai]` (the `genai_*`
//! cases): every supported function shape compiles,
//! keeps its signature and returns its output unchanged (`ui/pass`), and every misuse is a
//! compile error spanned at the offending token with a clear message (`ui/fail`).
//!
//! Regenerate the expected errors with
//! `TRYBUILD=overwrite cargo test -p mlotel-tests --test ui`, then read every `.stderr`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
