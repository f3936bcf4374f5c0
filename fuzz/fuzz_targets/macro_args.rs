//! `#[instrument_ml(...)]`'s argument parser (crates/mlotel-macros/src/attr.rs) and, for
//! arguments it accepts, the expansion (expand.rs): both files included as they are, since
//! a proc-macro crate cannot be linked into a fuzz target. Token streams come from text
//! through proc-macro2's own lexer, as rustc would hand them over.
//!
//! Input: the first line is the attribute's arguments; the rest, if any, the item (else a
//! small prediction function). Properties: no panic; every refusal is a `syn::Error`
//! (spanned, turned into `compile_error!`).

#![no_main]

#[path = "../../crates/mlotel-macros/src/attr.rs"]
#[allow(dead_code)]
mod attr;
#[path = "../../crates/mlotel-macros/src/expand.rs"]
#[allow(dead_code)]
mod expand;

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use proc_macro2::TokenStream;

const DEFAULT_ITEM: &str =
    "fn predict(row: &[f64; 4]) -> Result<Vec<f64>, String> { Ok(row.to_vec()) }";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (args, item) = text.split_once('\n').unwrap_or((text, ""));
    let item = if item.trim().is_empty() {
        DEFAULT_ITEM
    } else {
        item
    };
    let Ok(args) = TokenStream::from_str(args) else {
        return;
    };
    let parsed = match syn::parse2::<attr::Args>(args) {
        Ok(parsed) => parsed,
        Err(error) => {
            let _ = error.into_compile_error();
            return;
        }
    };
    let Ok(item) = TokenStream::from_str(item) else {
        return;
    };
    if let Ok(function) = syn::parse2::<syn::ItemFn>(item) {
        match expand::expand(parsed, function) {
            Ok(expanded) => {
                let _ = expanded.to_string();
            }
            Err(error) => {
                let _ = error.into_compile_error();
            }
        }
    }
});
