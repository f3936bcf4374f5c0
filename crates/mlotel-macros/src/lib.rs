//! The `#[instrument_ml]` attribute of [mlotel](https://docs.rs/mlotel).
//!
//! Depend on `mlotel`, which re-exports the attribute and holds the runtime the generated
//! code calls; this crate only holds the macro. The attribute's documentation, with
//! examples, is on `mlotel::instrument_ml`.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod genai;

/// Instruments a prediction function: a `predict {model}` span, latency, outcome, label and
/// confidence metrics, and (with `features = arg`) the model's input checks.
///
/// See `mlotel::instrument_ml` for the arguments and examples.
#[proc_macro_attribute]
pub fn instrument_ml(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match instrument(args.into(), item.clone()) {
        Ok(instrumented) => instrumented.into(),
        // The item is kept as written next to the error, so that its callers do not add
        // errors of their own ("cannot find function") to the one that matters.
        Err(error) => {
            let mut output = error.into_compile_error();
            output.extend(item);
            output.into()
        }
    }
}

fn instrument(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args: attr::Args = syn::parse2(args)?;
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => return Err(not_a_function(item)),
    };
    expand::expand(args, function)
}

/// The error for anything but a function with a body, pointed at the item.
fn not_a_function(item: proc_macro2::TokenStream) -> syn::Error {
    let message = "#[instrument_ml] applies to functions and methods with a body";
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(item) => syn::Error::new_spanned(item_keyword(&item), message),
        Err(_) => syn::Error::new_spanned(item, message),
    }
}

/// The keyword that says what the item is (`struct`, `impl`, ...), to point the error at.
fn item_keyword(item: &syn::Item) -> proc_macro2::TokenStream {
    use quote::ToTokens;
    match item {
        syn::Item::Struct(item) => item.struct_token.to_token_stream(),
        syn::Item::Enum(item) => item.enum_token.to_token_stream(),
        syn::Item::Impl(item) => item.impl_token.to_token_stream(),
        syn::Item::Trait(item) => item.trait_token.to_token_stream(),
        syn::Item::Mod(item) => item.mod_token.to_token_stream(),
        syn::Item::Const(item) => item.const_token.to_token_stream(),
        syn::Item::Static(item) => item.static_token.to_token_stream(),
        syn::Item::Type(item) => item.type_token.to_token_stream(),
        syn::Item::Use(item) => item.use_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

/// Instruments a generative call with the OpenTelemetry GenAI conventions: a
/// `{operation} {model}` span, duration, token, chunk-timing and cost metrics.
///
/// See `mlotel::instrument_genai` and `mlotel::genai` for the arguments and examples.
#[proc_macro_attribute]
pub fn instrument_genai(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    match genai::instrument(args.into(), item.clone()) {
        Ok(instrumented) => instrumented.into(),
        Err(error) => {
            let mut output = error.into_compile_error();
            output.extend(item);
            output.into()
        }
    }
}
