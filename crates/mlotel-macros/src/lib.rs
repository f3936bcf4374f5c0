//! The `#[instrument_ml]` attribute of [mlotel](https://docs.rs/mlotel).
//!
//! Depend on `mlotel`, which re-exports the attribute; this crate only holds the macro.
//! The attribute itself is not written yet: it arrives with the macro issue, and until
//! then using it is a compile error that says so, rather than a silent no-op.

use proc_macro::TokenStream;

/// Instruments a prediction function (not yet available: using it is a compile error).
#[proc_macro_attribute]
pub fn instrument_ml(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    let error = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[instrument_ml] is not available in this version of mlotel yet; \
         record predictions with mlotel::ModelInstruments meanwhile",
    )
    .into_compile_error();
    quote::quote!(#error #item).into()
}
