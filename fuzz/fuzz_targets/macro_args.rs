//! `#[instrument_ml(...)]`'s argument parser (crates/mlotel-macros/src/attr.rs) and, for
//! arguments it accepts, the expansion (expand.rs): both files included as they are, since
//! a proc-macro crate cannot be linked into a fuzz target. Token streams come from text
//! through proc-macro2's own lexer, as rustc would hand them over.
//!
//! Input: the first line is the attribute's arguments; the rest, if any, the item (else a
//! small prediction function; items over `attr::MAX_TOKENS` tokens are skipped, as syn
//! itself overflows on deep ones). Properties: no panic; every refusal is a `syn::Error`
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

/// Tokens in `tokens`, inside groups too, without recursing.
fn count_tokens(tokens: TokenStream) -> usize {
    let mut count = 0;
    let mut pending = vec![tokens.into_iter()];
    while let Some(trees) = pending.last_mut() {
        match trees.next() {
            None => {
                pending.pop();
            }
            Some(tree) => {
                count += 1;
                if let proc_macro2::TokenTree::Group(group) = tree {
                    pending.push(group.stream().into_iter());
                }
            }
        }
    }
    count
}

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
    // syn parses the item recursively too, and overflows the stack on a few thousand nested
    // tokens: a limit of syn (and every attribute macro built on it), not of the arguments,
    // so items are kept to the size the arguments are limited to.
    if count_tokens(item.clone()) > attr::MAX_TOKENS {
        return;
    }
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
