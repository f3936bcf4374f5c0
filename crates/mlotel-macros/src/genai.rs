//! `#[instrument_genai]`: parsing and code generation in one file (the attribute is small).
//! The expansion starts a `GenAiCall` before the body, runs the body unchanged, and ends
//! the call with the output (or wraps the returned stream so the call ends with it).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Ident, ItemFn, LitStr, Pat, ReturnType, Token, Type};

mod kw {
    syn::custom_keyword!(operation);
    syn::custom_keyword!(provider);
    syn::custom_keyword!(model);
    syn::custom_keyword!(side);
    syn::custom_keyword!(stream);
    syn::custom_keyword!(prompt);
}

/// The arguments, in the order errors list them.
const NAMES: &[&str] = &["provider", "model", "operation", "side", "stream", "prompt"];

pub(crate) struct Args {
    operation: Option<LitStr>,
    provider: Option<LitStr>,
    model: Option<Expr>,
    server: bool,
    stream: Option<Span>,
    prompt: Option<Ident>,
}

fn duplicate(span: Span, name: &str) -> syn::Error {
    syn::Error::new(span, format!("`{name}` is given twice"))
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args {
            operation: None,
            provider: None,
            model: None,
            server: false,
            stream: None,
            prompt: None,
        };
        let mut side_seen = false;
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::operation) {
                let key: kw::operation = input.parse()?;
                input.parse::<Token![=]>()?;
                if args.operation.is_some() {
                    return Err(duplicate(key.span, "operation"));
                }
                args.operation = Some(input.parse()?);
            } else if lookahead.peek(kw::provider) {
                let key: kw::provider = input.parse()?;
                input.parse::<Token![=]>()?;
                if args.provider.is_some() {
                    return Err(duplicate(key.span, "provider"));
                }
                args.provider = Some(input.parse()?);
            } else if lookahead.peek(kw::model) {
                let key: kw::model = input.parse()?;
                input.parse::<Token![=]>()?;
                if args.model.is_some() {
                    return Err(duplicate(key.span, "model"));
                }
                args.model = Some(input.parse()?);
            } else if lookahead.peek(kw::side) {
                let key: kw::side = input.parse()?;
                input.parse::<Token![=]>()?;
                if side_seen {
                    return Err(duplicate(key.span, "side"));
                }
                side_seen = true;
                let value: Ident = input.parse()?;
                args.server = match value.to_string().as_str() {
                    "client" => false,
                    "server" => true,
                    _ => {
                        return Err(syn::Error::new(
                            value.span(),
                            "`side` is `client` (calls a provider) or `server` (generates \
                             in-process)",
                        ));
                    }
                };
            } else if lookahead.peek(kw::stream) {
                let key: kw::stream = input.parse()?;
                if args.stream.is_some() {
                    return Err(duplicate(key.span, "stream"));
                }
                args.stream = Some(key.span);
            } else if lookahead.peek(kw::prompt) {
                let key: kw::prompt = input.parse()?;
                input.parse::<Token![=]>()?;
                if args.prompt.is_some() {
                    return Err(duplicate(key.span, "prompt"));
                }
                args.prompt = Some(input.parse()?);
            } else if input.peek(Ident::peek_any) {
                let unknown = Ident::parse_any(input)?;
                let hint = crate::attr::closest_of(&unknown.to_string(), NAMES)
                    .map(|known| format!(" (did you mean `{known}`?)"))
                    .unwrap_or_default();
                return Err(syn::Error::new(
                    unknown.span(),
                    format!(
                        "unknown argument `{unknown}`{hint}; expected one of `{}`",
                        NAMES.join("`, `")
                    ),
                ));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

pub(crate) fn instrument(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args: Args = syn::parse2(args)?;
    let function: ItemFn = syn::parse2(item.clone()).map_err(|_| {
        syn::Error::new_spanned(
            &item,
            "#[instrument_genai] applies to functions and methods with a body",
        )
    })?;
    expand(args, function)
}

fn expand(args: Args, function: ItemFn) -> syn::Result<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[instrument_genai] cannot instrument a `const fn`",
        ));
    }
    let Some(provider) = &args.provider else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[instrument_genai] needs `provider = \"...\"` (`gen_ai.provider.name`, e.g. \
             \"openai\")",
        ));
    };
    let Some(model) = &args.model else {
        return Err(syn::Error::new(
            Span::call_site(),
            "#[instrument_genai] needs `model = ...`: the requested model, a string or an \
             expression over the parameters",
        ));
    };
    if let Some(prompt) = &args.prompt {
        let known = sig.inputs.iter().any(|input| match input {
            FnArg::Typed(typed) => matches!(&*typed.pat, Pat::Ident(pat) if pat.ident == *prompt),
            FnArg::Receiver(_) => false,
        });
        if !known {
            return Err(syn::Error::new(
                prompt.span(),
                format!(
                    "`prompt` names `{prompt}`, which is not a parameter of `{}`",
                    sig.ident
                ),
            ));
        }
    }
    let returns_result = returns_result(&sig.output);
    if let Some(stream) = args.stream
        && matches!(sig.output, ReturnType::Default)
    {
        return Err(syn::Error::new(
            stream,
            "`stream` needs the function to return the stream of chunks (`impl Stream<Item = \
             C>` or `Result<impl Stream<Item = C>, E>`)",
        ));
    }
    let operation = args
        .operation
        .as_ref()
        .map_or_else(|| quote!("chat"), |operation| quote!(#operation));
    let side = if args.server {
        quote!(::mlotel::genai::Side::Server)
    } else {
        quote!(::mlotel::genai::Side::Client)
    };
    let streamed = args.stream.is_some();
    let model_span = model.span();
    let model_tokens = quote::quote_spanned! {model_span=>
        ::mlotel::genai::__private::model_name(&(#model))
    };
    let mut setup = quote! {
        #[allow(unused_mut)]
        let mut __mlotel_genai = ::mlotel::genai::GenAiCall::start(
            #side, #operation, #provider, #model_tokens, #streamed,
        );
    };
    if let Some(prompt) = &args.prompt {
        setup.extend(quote! { __mlotel_genai.capture_prompt(&#prompt); });
    }
    let return_type = crate::expand::annotation(&sig.output);
    let run = if sig.asyncness.is_some() {
        let future = match &return_type {
            Some(ty) => quote!(::mlotel::__private::typed_future::<#ty, _>(async move #block)),
            None => quote!(async move #block),
        };
        let annotated = return_type.as_ref().map(|ty| quote!(: #ty));
        quote! {
            let __mlotel_future = #future;
            let __mlotel_output #annotated = match __mlotel_genai.context() {
                ::core::option::Option::Some(__mlotel_context) => {
                    ::mlotel::__private::FutureExt::with_context(__mlotel_future, __mlotel_context).await
                }
                ::core::option::Option::None => __mlotel_future.await,
            };
        }
    } else {
        let closure_return = return_type.as_ref().map(|ty| quote!(-> #ty));
        let annotated = return_type.as_ref().map(|ty| quote!(: #ty));
        quote! {
            let __mlotel_output #annotated = {
                let __mlotel_attached = __mlotel_genai.attach();
                ::mlotel::genai::__private::call_once(move || #closure_return #block)
            };
        }
    };
    let probes = quote! {
        #[allow(unused_imports)]
        use ::mlotel::__private::{
            ErrorTypeFromName as _, ErrorTypeFromTrait as _, NoErrorType as _,
            SuccessOfAny as _, SuccessOfResult as _,
        };
    };
    let finish = if streamed {
        if returns_result {
            quote! {
                #[allow(clippy::needless_borrow)]
                let __mlotel_error = {
                    #probes
                    (&&&::mlotel::__private::ErrorProbe(&__mlotel_output)).mlotel_error_type()
                };
                match __mlotel_output {
                    ::core::result::Result::Ok(__mlotel_stream) => ::core::result::Result::Ok(
                        ::mlotel::genai::__private::wrap_stream(__mlotel_genai, __mlotel_stream),
                    ),
                    ::core::result::Result::Err(__mlotel_err) => {
                        __mlotel_genai.finish_error(__mlotel_error.unwrap_or("_OTHER"));
                        ::core::result::Result::Err(__mlotel_err)
                    }
                }
            }
        } else {
            quote! { ::mlotel::genai::__private::wrap_stream(__mlotel_genai, __mlotel_output) }
        }
    } else {
        let output_span = match &sig.output {
            ReturnType::Type(_, ty) => Span::call_site().located_at(ty.span()),
            ReturnType::Default => Span::call_site(),
        };
        let success = Ident::new("__mlotel_success", output_span);
        let finish_call = quote::quote_spanned! {output_span=>
            ::mlotel::genai::__private::finish(__mlotel_genai, #success)
        };
        quote! {
            #[allow(clippy::needless_borrow)]
            let () = {
                #probes
                match (&&&::mlotel::__private::ErrorProbe(&__mlotel_output)).mlotel_error_type() {
                    ::core::option::Option::Some(__mlotel_error) => __mlotel_genai.finish_error(__mlotel_error),
                    ::core::option::Option::None => {
                        match (&&::mlotel::__private::SuccessProbe(&__mlotel_output)).mlotel_success() {
                            ::core::option::Option::Some(#success) => { #finish_call }
                            ::core::option::Option::None => __mlotel_genai.finish_error("_OTHER"),
                        }
                    }
                }
            };
            __mlotel_output
        }
    };
    let (inner, outer): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
    Ok(quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #setup
            #run
            #finish
        }
    })
}

/// Whether the declared return type is spelled `Result<..>` (a type alias is not seen
/// through: spell it `Result` for a fallible streaming function).
fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => match &**ty {
            Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Result"),
            _ => false,
        },
        ReturnType::Default => false,
    }
}
