//! Parsing `#[instrument_ml(...)]`'s arguments. Unknown, duplicate and conflicting
//! arguments are errors spanned at the offending token.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, LitStr, Token, bracketed};

mod kw {
    syn::custom_keyword!(model);
    syn::custom_keyword!(version);
    syn::custom_keyword!(features);
    syn::custom_keyword!(batch);
    syn::custom_keyword!(confidence);
    syn::custom_keyword!(label);
    syn::custom_keyword!(name);
    syn::custom_keyword!(stage);
    syn::custom_keyword!(record);
    syn::custom_keyword!(skip_output);
}

const KNOWN: &str = "`model`, `version`, `features`, `batch`, `confidence`, `label`, `name`, \
                     `stage`, `record`, `skip_output`";

/// The parsed arguments, each with the span of its key for later errors.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) model: Option<(Span, Expr)>,
    pub(crate) version: Option<(Span, Expr)>,
    pub(crate) features: Option<(Span, Ident)>,
    pub(crate) batch: Option<Span>,
    pub(crate) confidence: Option<(Span, Expr)>,
    pub(crate) label: Option<(Span, Expr)>,
    pub(crate) name: Option<(Span, LitStr)>,
    pub(crate) stage: Option<(Span, LitStr)>,
    pub(crate) record: Option<(Span, Vec<Ident>)>,
    pub(crate) skip_output: Option<Span>,
}

fn set<T>(slot: &mut Option<T>, value: T, key: Span, key_name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key,
            format!("duplicate argument `{key_name}`: give it once"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn value<T: Parse>(input: ParseStream<'_>) -> syn::Result<T> {
    input.parse::<Token![=]>()?;
    input.parse()
}

fn non_empty(literal: LitStr, what: &str) -> syn::Result<LitStr> {
    if literal.value().trim().is_empty() {
        return Err(syn::Error::new(
            literal.span(),
            format!("`{what}` must not be empty"),
        ));
    }
    Ok(literal)
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::model) {
                let key = input.parse::<kw::model>()?.span;
                let expr = value(input)?;
                if let Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(literal),
                    ..
                }) = &expr
                {
                    non_empty(literal.clone(), "model")?;
                }
                set(&mut args.model, (key, expr), key, "model")?;
            } else if lookahead.peek(kw::version) {
                let key = input.parse::<kw::version>()?.span;
                let expr = value(input)?;
                set(&mut args.version, (key, expr), key, "version")?;
            } else if lookahead.peek(kw::features) {
                let key = input.parse::<kw::features>()?.span;
                let ident = value(input)?;
                set(&mut args.features, (key, ident), key, "features")?;
            } else if lookahead.peek(kw::batch) {
                let key = input.parse::<kw::batch>()?.span;
                set(&mut args.batch, key, key, "batch")?;
            } else if lookahead.peek(kw::confidence) {
                let key = input.parse::<kw::confidence>()?.span;
                let expr = value(input)?;
                set(&mut args.confidence, (key, expr), key, "confidence")?;
            } else if lookahead.peek(kw::label) {
                let key = input.parse::<kw::label>()?.span;
                let expr = value(input)?;
                set(&mut args.label, (key, expr), key, "label")?;
            } else if lookahead.peek(kw::name) {
                let key = input.parse::<kw::name>()?.span;
                let literal = non_empty(value(input)?, "name")?;
                set(&mut args.name, (key, literal), key, "name")?;
            } else if lookahead.peek(kw::stage) {
                let key = input.parse::<kw::stage>()?.span;
                let literal = non_empty(value(input)?, "stage")?;
                set(&mut args.stage, (key, literal), key, "stage")?;
            } else if lookahead.peek(kw::record) {
                let key = input.parse::<kw::record>()?.span;
                input.parse::<Token![=]>()?;
                let content;
                bracketed!(content in input);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated(&content)?;
                set(
                    &mut args.record,
                    (key, names.into_iter().collect()),
                    key,
                    "record",
                )?;
            } else if lookahead.peek(kw::skip_output) {
                let key = input.parse::<kw::skip_output>()?.span;
                set(&mut args.skip_output, key, key, "skip_output")?;
            } else if input.peek(Ident) {
                let unknown: Ident = input.parse()?;
                return Err(syn::Error::new(
                    unknown.span(),
                    format!("unknown argument `{unknown}`; expected one of {KNOWN}"),
                ));
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        args.check_conflicts()?;
        Ok(args)
    }
}

impl Args {
    fn check_conflicts(&self) -> syn::Result<()> {
        let conflict = |span: Span, this: &str, other: &str, why: &str| {
            Err(syn::Error::new(
                span,
                format!("`{this}` conflicts with `{other}`: {why}"),
            ))
        };
        if let Some((stage, _)) = &self.stage {
            let stage_conflicts = [
                ("features", self.features.as_ref().map(|(span, _)| *span)),
                ("batch", self.batch),
                ("label", self.label.as_ref().map(|(span, _)| *span)),
                (
                    "confidence",
                    self.confidence.as_ref().map(|(span, _)| *span),
                ),
                ("skip_output", self.skip_output),
            ];
            for (other, span) in stage_conflicts {
                if let Some(span) = span {
                    return conflict(
                        span,
                        other,
                        "stage",
                        "a stage is a sub-step of a prediction and records no prediction \
                         metrics; put it on the prediction function instead",
                    );
                }
            }
            let _ = stage;
        }
        if self.skip_output.is_some() {
            for (other, span) in [
                ("label", self.label.as_ref().map(|(span, _)| *span)),
                (
                    "confidence",
                    self.confidence.as_ref().map(|(span, _)| *span),
                ),
            ] {
                if let Some(span) = span {
                    return conflict(
                        span,
                        other,
                        "skip_output",
                        "`skip_output` does not read the output, so there is nothing to \
                         take a label or confidence from",
                    );
                }
            }
        }
        if self.model.is_none() && self.stage.is_none() {
            return Err(syn::Error::new(
                Span::call_site(),
                "missing argument `model`: name the model, e.g. \
                 #[instrument_ml(model = \"iris\", version = \"2.0.0\")]",
            ));
        }
        Ok(())
    }
}
