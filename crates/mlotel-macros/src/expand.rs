//! Code generation: a pure function from the parsed arguments and the function to the
//! instrumented function. The body runs unchanged between a guard's start and finish.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Block, Expr, ExprAsync, ExprCall, FnArg, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

use crate::attr::Args;

/// Lints the generated scaffolding may trip in the user's crate; the user's own code keeps
/// every lint.
fn allowances() -> TokenStream {
    quote! {
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::redundant_closure_call,
            clippy::unreachable
        )]
    }
}

/// A span that resolves names where the attribute was written but points at `token`'s
/// location. The generated locals (`__mlotel_guard`, ...) are declared with the attribute's
/// hygiene; code that uses them is spanned at the user's tokens for its error messages,
/// which must not move it into the hygiene of those tokens (they may come from another
/// macro's caller).
fn located(token: Span) -> Span {
    Span::call_site().located_at(token)
}

pub(crate) fn expand(args: Args, function: ItemFn) -> syn::Result<TokenStream> {
    check_signature(&args, &function)?;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let setup = setup(&args, &sig)?;
    let finish = finish(&args, &sig.output);
    let return_type = annotation(&sig.output);

    let body = if sig.asyncness.is_some() {
        let output = run_async(&block, return_type.as_ref());
        quote! { #setup #output #finish __mlotel_output }
    } else if let Some((before, async_block)) = async_trait_body(&block) {
        // async-trait turned `async fn` into `Box::pin(async move { .. })`: instrument the
        // future, not the function that only builds it. As for an `async fn`, the guard
        // starts at the first poll: a future dropped unpolled records nothing.
        let output = await_in_span(async_block.to_token_stream(), None);
        quote! {
            #(#before)*
            ::std::boxed::Box::pin(async move { #setup #output #finish __mlotel_output })
        }
    } else {
        let closure_return = return_type.as_ref().map(|ty| quote!(-> #ty));
        let annotated = return_type.as_ref().map(|ty| quote!(: #ty));
        let allow = allowances();
        quote! {
            #setup
            #allow
            let __mlotel_output #annotated = {
                let __mlotel_attached = __mlotel_guard.attach();
                (move || #closure_return #block)()
            };
            #finish
            __mlotel_output
        }
    };
    // Inner attributes (`#![allow(..)]` at the top of the body) were parsed with the
    // function's; they stay at the top of its body.
    let (inner, outer): (Vec<_>, Vec<_>) = attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)));
    Ok(quote! {
        #(#outer)*
        #vis #sig {
            #(#inner)*
            #body
        }
    })
}

/// Runs an `async fn`'s body as a future awaited with the span current.
fn run_async(block: &Block, return_type: Option<&Type>) -> TokenStream {
    let future = match return_type {
        // The expected output type reaches the block before its body is checked, so `?`
        // inside it knows what to convert errors into.
        Some(ty) => quote! {
            ::mlotel::__private::typed_future::<#ty, _>(async move #block)
        },
        None => quote!(async move #block),
    };
    await_in_span(future, return_type)
}

/// Awaits `future` with the span current on every poll; binds `__mlotel_output`.
fn await_in_span(future: TokenStream, return_type: Option<&Type>) -> TokenStream {
    let annotated = return_type.map(|ty| quote!(: #ty));
    quote! {
        let __mlotel_future = #future;
        let __mlotel_output #annotated = match __mlotel_guard.context() {
            ::core::option::Option::Some(__mlotel_context) => {
                ::mlotel::__private::FutureExt::with_context(__mlotel_future, __mlotel_context).await
            }
            ::core::option::Option::None => __mlotel_future.await,
        };
    }
}

/// `Box::pin(async move { .. })` or `async move { .. }` as the last expression of a sync
/// function: what async-trait generates.
fn async_trait_body(block: &Block) -> Option<(&[Stmt], &ExprAsync)> {
    let (last, before) = block.stmts.split_last()?;
    let Stmt::Expr(expr, None) = last else {
        return None;
    };
    let async_block = match expr {
        Expr::Async(async_block) => async_block,
        Expr::Call(ExprCall { func, args, .. }) if args.len() == 1 => {
            let Expr::Path(path) = &**func else {
                return None;
            };
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if !segments.ends_with(&["Box".to_owned(), "pin".to_owned()]) {
                return None;
            }
            match args.first()? {
                Expr::Async(async_block) => async_block,
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((before, async_block))
}

fn check_signature(args: &Args, function: &ItemFn) -> syn::Result<()> {
    let sig = &function.sig;
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span,
            "#[instrument_ml] cannot instrument a `const fn`: recording telemetry is not \
             possible in const evaluation",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(syn::Error::new(
            unsafety.span,
            "#[instrument_ml] does not instrument `unsafe fn`: its body would leave the unsafe \
             context; instrument a safe function that calls it",
        ));
    }
    let parameters = parameter_names(sig);
    let named = |ident: &Ident, argument: &str| -> syn::Result<()> {
        if parameters.iter().any(|name| ident == name) {
            return Ok(());
        }
        Err(syn::Error::new(
            ident.span(),
            format!(
                "`{argument}` names `{ident}`, which is not a parameter of `{}`; its parameters \
                 are: {}",
                sig.ident,
                if parameters.is_empty() {
                    "none".to_owned()
                } else {
                    parameters.join(", ")
                }
            ),
        ))
    };
    if let Some((_, features)) = &args.features {
        named(features, "features")?;
    }
    if let Some((_, record)) = &args.record {
        for ident in record {
            named(ident, "record")?;
        }
    }
    if let Some(batch) = args.batch {
        check_batch_return(batch, &sig.output)?;
    }
    Ok(())
}

/// The declared type of the parameter named `name`.
fn parameter_type<'a>(sig: &'a syn::Signature, name: &Ident) -> Option<&'a Type> {
    sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(typed) => match &*typed.pat {
            Pat::Ident(pat) if pat.ident == *name => Some(&*typed.ty),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    })
}

fn parameter_names(sig: &syn::Signature) -> Vec<String> {
    sig.inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Receiver(_) => Some("self".to_owned()),
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) => Some(pat.ident.to_string()),
                _ => None,
            },
        })
        .collect()
}

/// `batch` needs an output made of rows; reject the return types that plainly are not.
fn check_batch_return(batch: Span, output: &ReturnType) -> syn::Result<()> {
    let ReturnType::Type(_, ty) = output else {
        return Err(syn::Error::new(
            batch,
            "`batch` needs the function to return the batch's predictions (`Vec<T>`, `[T; N]`, \
             `Box<[T]>`, a slice, or one of these in `Result`/`Option`), but it returns nothing",
        ));
    };
    const SCALARS: &[&str] = &[
        "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "bool", "char", "String", "str",
    ];
    let scalar = match &**ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .is_some_and(|ident| SCALARS.iter().any(|scalar| ident == scalar)),
        Type::Reference(reference) => {
            matches!(&*reference.elem, Type::Path(path) if path.path.is_ident("str"))
        }
        Type::Tuple(_) => true,
        _ => false,
    };
    if scalar {
        return Err(syn::Error::new(
            ty.span(),
            "`batch` needs the function to return one prediction per row (`Vec<T>`, `[T; N]`, \
             `Box<[T]>`, a slice, or one of these in `Result`/`Option`), not a single value",
        ));
    }
    Ok(())
}

/// The return type to annotate the body's output with. `impl Trait` cannot be written in a
/// `let` or a closure's return type, so each one becomes `_`: the rest of the type still
/// tells `?` what to convert errors into and the probes which `Result` they read. `None`
/// when an `impl Trait` sits where `_` cannot replace it.
pub(crate) fn annotation(output: &ReturnType) -> Option<Type> {
    match output {
        ReturnType::Default => Some(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            infer_impl_trait(&mut ty).then_some(ty)
        }
    }
}

/// Replaces every `impl Trait` in `ty` by `_`; false when one is left that could not be.
fn infer_impl_trait(ty: &mut Type) -> bool {
    match ty {
        Type::ImplTrait(_) => {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: Default::default(),
            });
            true
        }
        Type::Reference(reference) => infer_impl_trait(&mut reference.elem),
        Type::Ptr(pointer) => infer_impl_trait(&mut pointer.elem),
        Type::Slice(slice) => infer_impl_trait(&mut slice.elem),
        Type::Array(array) => infer_impl_trait(&mut array.elem),
        Type::Paren(paren) => infer_impl_trait(&mut paren.elem),
        Type::Group(group) => infer_impl_trait(&mut group.elem),
        Type::Tuple(tuple) => tuple.elems.iter_mut().all(infer_impl_trait),
        Type::Path(path) if path.qself.is_none() => {
            path.path
                .segments
                .iter_mut()
                .all(|segment| match &mut segment.arguments {
                    syn::PathArguments::None => true,
                    syn::PathArguments::AngleBracketed(arguments) => {
                        arguments.args.iter_mut().all(|argument| match argument {
                            syn::GenericArgument::Type(ty) => infer_impl_trait(ty),
                            other => !mentions_impl(other.to_token_stream()),
                        })
                    }
                    syn::PathArguments::Parenthesized(arguments) => {
                        !mentions_impl(arguments.to_token_stream())
                    }
                })
        }
        other => !mentions_impl(other.to_token_stream()),
    }
}

fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

fn string_literal(expr: &Expr) -> Option<&syn::LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(literal),
            ..
        }) => Some(literal),
        _ => None,
    }
}

/// The guard's start, the feature observation and the recorded arguments.
fn setup(args: &Args, sig: &syn::Signature) -> syn::Result<TokenStream> {
    let default_version = quote!(::core::env!("CARGO_PKG_VERSION"));
    let model_literal = args
        .model
        .as_ref()
        .and_then(|(_, model)| string_literal(model));
    // Without `version`, the runtime takes the model's one registered version, else the
    // crate's version: so `Model::builder("iris").register()` and
    // `#[instrument_ml(model = "iris")]` meet without repeating the version.
    let model_lookup = args.model.as_ref().map(|(_, model)| {
        let version = args.version.as_ref().map(|(_, version)| version);
        match (model_literal, version) {
            (Some(name), None) => quote! {{
                static __MLOTEL_SITE: ::mlotel::__private::CallSite =
                    ::mlotel::__private::CallSite::with_default_version(#name, #default_version);
                __MLOTEL_SITE.model()
            }},
            (Some(name), Some(version)) if string_literal(version).is_some() => quote! {{
                static __MLOTEL_SITE: ::mlotel::__private::CallSite =
                    ::mlotel::__private::CallSite::new(#name, #version);
                __MLOTEL_SITE.model()
            }},
            (_, None) => quote_spanned! {located(model.span())=>
                ::mlotel::__private::model_with_default_version(&(#model), #default_version)
            },
            (_, Some(version)) => quote_spanned! {located(model.span())=>
                ::mlotel::__private::model(&(#model), &(#version))
            },
        }
    });

    let mut setup = TokenStream::new();
    if let Some((_, stage)) = &args.stage {
        let span_name = match (&args.name, model_literal) {
            (Some((_, name)), _) => quote!(#name),
            (None, Some(model)) => quote!(::core::concat!(#stage, " ", #model)),
            (None, None) => quote!(#stage),
        };
        let model = match model_lookup {
            Some(lookup) => quote!(::core::option::Option::Some(#lookup)),
            None => quote!(::core::option::Option::None),
        };
        setup.extend(quote! {
            let __mlotel_guard =
                ::mlotel::__private::StageGuard::start(#model, #span_name, #stage);
        });
    } else {
        let span_name = match (&args.name, model_literal) {
            (Some((_, name)), _) => quote!(::core::option::Option::Some(#name)),
            (None, Some(model)) => {
                quote!(::core::option::Option::Some(
                    ::core::concat!("predict ", #model)
                ))
            }
            (None, None) => quote!(::core::option::Option::None),
        };
        setup.extend(quote! {
            #[allow(unused_mut)]
            let mut __mlotel_guard = ::mlotel::__private::start_call(#model_lookup, #span_name);
        });
        if let Some((_, features)) = &args.features {
            // Spanned at the argument, like the row: rustc reports an unmet bound of a
            // method call at the method's name.
            let observe = Ident::new(
                if args.batch.is_some() {
                    "observe_feature_rows"
                } else {
                    "observe_features"
                },
                located(features.span()),
            );
            // A `&mut` row is read through a shared reborrow: the row traits are
            // implemented for `&R`, not `&mut R`.
            let row = if parameter_type(sig, features).is_some_and(
                |ty| matches!(ty, Type::Reference(reference) if reference.mutability.is_some()),
            ) {
                quote_spanned!(located(features.span())=> &*#features)
            } else {
                quote_spanned!(located(features.span())=> &#features)
            };
            setup.extend(quote_spanned! {located(features.span())=>
                __mlotel_guard.#observe(#row);
            });
        }
    }
    if let Some((_, record)) = &args.record {
        for ident in record {
            let key = format!("ml.input.{ident}");
            setup.extend(quote_spanned! {located(ident.span())=>
                __mlotel_guard.record_arg(#key, &#ident);
            });
        }
    }
    Ok(setup)
}

/// Reads `__mlotel_output` and finishes the guard.
fn finish(args: &Args, output: &ReturnType) -> TokenStream {
    let probes = quote! {
        #[allow(unused_imports)]
        use ::mlotel::__private::{
            ErrorTypeFromName as _, ErrorTypeFromTrait as _, NoErrorType as _,
            SuccessOfAny as _, SuccessOfResult as _,
        };
    };
    let error_type = quote! {
        (&&&::mlotel::__private::ErrorProbe(&__mlotel_output)).mlotel_error_type()
    };
    if args.stage.is_some() {
        return quote! {
            #[allow(clippy::needless_borrow)]
            let () = {
                #probes
                __mlotel_guard.finish(#error_type);
            };
        };
    }
    let success = if args.skip_output.is_some() {
        quote!(__mlotel_guard.finish_unread())
    } else {
        let output_span = match output {
            ReturnType::Type(_, ty) => located(ty.span()),
            ReturnType::Default => Span::call_site(),
        };
        let value = format_ident!("__mlotel_value");
        let prediction = prediction_of(args, &value, output_span);
        let read = if args.batch.is_some() {
            quote_spanned! {output_span=>
                let __mlotel_rows = ::mlotel::__private::batch_rows(__mlotel_success);
                for #value in __mlotel_rows {
                    __mlotel_guard.record_row(#prediction);
                }
                __mlotel_guard.finish_batch(__mlotel_rows.len());
            }
        } else {
            quote! {
                let #value = __mlotel_success;
                __mlotel_guard.finish_prediction(#prediction);
            }
        };
        quote! {
            match (&&::mlotel::__private::SuccessProbe(&__mlotel_output)).mlotel_success() {
                ::core::option::Option::Some(__mlotel_success) => { #read }
                ::core::option::Option::None => __mlotel_guard.finish_unread(),
            }
        }
    };
    quote! {
        #[allow(clippy::needless_borrow)]
        let () = {
            #probes
            match #error_type {
                ::core::option::Option::Some(__mlotel_error) => __mlotel_guard.finish_error(__mlotel_error),
                ::core::option::Option::None => { #success }
            }
        };
    }
}

/// The `Prediction` of one value: from the closures when given, else from the
/// `PredictionOutput` trait (an error there points at the return type).
fn prediction_of(args: &Args, value: &Ident, output_span: Span) -> TokenStream {
    if args.label.is_none() && args.confidence.is_none() {
        // The argument carries the return type's span too, so that a missing
        // `PredictionOutput` is reported at the return type, not at the attribute.
        let value = Ident::new(&value.to_string(), output_span);
        return quote_spanned! {output_span=>
            ::mlotel::__private::prediction_of(#value)
        };
    }
    let label = match &args.label {
        Some((_, closure)) => quote_spanned! {located(closure.span())=>
            ::mlotel::__private::label_with(#value, #closure)
        },
        None => quote!(::core::option::Option::None),
    };
    let confidence = match &args.confidence {
        Some((_, closure)) => quote_spanned! {located(closure.span())=>
            ::mlotel::__private::confidence_with(#value, #closure)
        },
        None => quote!(::core::option::Option::None),
    };
    quote! {
        ::mlotel::Prediction { label: #label, confidence: #confidence }
    }
}
