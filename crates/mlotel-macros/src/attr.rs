//! Parsing `#[instrument_ml(...)]`'s arguments. Unknown, duplicate and conflicting
//! arguments are errors spanned at the offending token.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
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

const NAMES: [&str; 10] = [
    "model",
    "version",
    "features",
    "batch",
    "confidence",
    "label",
    "name",
    "stage",
    "record",
    "skip_output",
];

const KNOWN: &str = "`model`, `version`, `features`, `batch`, `confidence`, `label`, `name`, \
                     `stage`, `record`, `skip_output`";

/// Most tokens the arguments may hold, counted inside brackets too. syn parses expressions
/// recursively, so a couple of thousand nested tokens (`((( … )))`, `- - - … 1`, `|x| |x| …`)
/// overflow the stack of the thread expanding the macro (found by the `macro_args` fuzz
/// target); real arguments are a few dozen tokens.
pub(crate) const MAX_TOKENS: usize = 512;

/// The span of the first token past [`MAX_TOKENS`], if there is one. Walks groups with a
/// stack of its own: recursing here would overflow on the very input it guards against.
fn token_past_limit(tokens: TokenStream) -> Option<Span> {
    let mut count = 0usize;
    let mut pending = vec![tokens.into_iter()];
    while let Some(trees) = pending.last_mut() {
        let Some(tree) = trees.next() else {
            pending.pop();
            continue;
        };
        count += 1;
        if count > MAX_TOKENS {
            return Some(tree.span());
        }
        if let TokenTree::Group(group) = tree {
            pending.push(group.stream().into_iter());
        }
    }
    None
}

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

/// `= name` where `name` is a parameter: a clear error for an expression (`request.row`).
fn parameter_name(input: ParseStream<'_>, key: &str) -> syn::Result<Ident> {
    input.parse::<Token![=]>()?;
    let expr: Expr = input.parse()?;
    match &expr {
        Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
            if let Some(ident) = path.path.get_ident() {
                return Ok(ident.clone());
            }
        }
        _ => {}
    }
    Err(syn::Error::new_spanned(
        expr,
        format!(
            "`{key}` takes the name of a parameter, e.g. `{key} = row`, not an expression; \
             take the row as its own parameter"
        ),
    ))
}

/// `= "literal"`: the span name is fixed at compile time.
fn string(input: ParseStream<'_>, key: &str) -> syn::Result<LitStr> {
    input.parse::<Token![=]>()?;
    if input.peek(LitStr) {
        return input.parse();
    }
    Err(input.error(format!(
        "`{key}` takes a string literal, e.g. `{key} = \"preprocess\"`: span names are fixed \
         at compile time"
    )))
}

/// A flag followed by `= value`.
fn no_value(input: ParseStream<'_>, key: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        return Err(input.error(format!(
            "`{key}` is a flag and takes no value: write `{key}` alone, or leave it out"
        )));
    }
    Ok(())
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
        if let Some(span) = token_past_limit(input.fork().parse::<TokenStream>()?) {
            return Err(syn::Error::new(
                span,
                format!(
                    "#[instrument_ml] arguments hold more than {MAX_TOKENS} tokens; move long \
                     expressions into a function and pass its name (`label = label_of`)"
                ),
            ));
        }
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
                let ident = parameter_name(input, "features")?;
                set(&mut args.features, (key, ident), key, "features")?;
            } else if lookahead.peek(kw::batch) {
                let key = input.parse::<kw::batch>()?.span;
                no_value(input, "batch")?;
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
                let literal = non_empty(string(input, "name")?, "name")?;
                set(&mut args.name, (key, literal), key, "name")?;
            } else if lookahead.peek(kw::stage) {
                let key = input.parse::<kw::stage>()?.span;
                let literal = non_empty(string(input, "stage")?, "stage")?;
                set(&mut args.stage, (key, literal), key, "stage")?;
            } else if lookahead.peek(kw::record) {
                let key = input.parse::<kw::record>()?.span;
                input.parse::<Token![=]>()?;
                if !input.peek(syn::token::Bracket) {
                    return Err(input.error(
                        "`record` takes a list of parameters in brackets, e.g. `record = [row]`",
                    ));
                }
                let content;
                bracketed!(content in input);
                // `parse_any` so that `self` can be recorded too.
                let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(
                    &content,
                    Ident::parse_any,
                )?;
                set(
                    &mut args.record,
                    (key, names.into_iter().collect()),
                    key,
                    "record",
                )?;
            } else if lookahead.peek(kw::skip_output) {
                let key = input.parse::<kw::skip_output>()?.span;
                no_value(input, "skip_output")?;
                set(&mut args.skip_output, key, key, "skip_output")?;
            } else if input.peek(Ident::peek_any) {
                let unknown = Ident::parse_any(input)?;
                let hint = closest(&unknown.to_string())
                    .map(|known| format!(" (did you mean `{known}`?)"))
                    .unwrap_or_default();
                return Err(syn::Error::new(
                    unknown.span(),
                    format!("unknown argument `{unknown}`{hint}; expected one of {KNOWN}"),
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
        if self.stage.is_some() {
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
        // Only a stage can lack a model.
        if let (Some((version, _)), None) = (&self.version, &self.model) {
            return Err(syn::Error::new(
                *version,
                "`version` is the version of `model`: give `model` too, or leave `version` out",
            ));
        }
        Ok(())
    }
}

/// The known argument a misspelt one most likely meant: at most two edits away.
fn closest(unknown: &str) -> Option<&'static str> {
    closest_of(unknown, &NAMES)
}

/// The name of `names` a misspelt `unknown` most likely meant: at most two edits away.
pub(crate) fn closest_of(unknown: &str, names: &[&'static str]) -> Option<&'static str> {
    let unknown = unknown.to_ascii_lowercase();
    names
        .iter()
        .map(|known| (edit_distance(&unknown, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, a) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, b) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(a != *b);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression test for the `macro_args` fuzz target's stack overflow: each of these
    /// overflowed the stack inside syn before the token limit.
    #[test]
    fn deeply_nested_arguments_are_an_error_not_a_stack_overflow() {
        let deep = [
            format!("model = {}1{}", "(".repeat(3000), ")".repeat(3000)),
            format!("model = {}1", "-".repeat(20_000)),
            format!("model = {}{}", "[".repeat(3000), "]".repeat(3000)),
            format!("model = \"m\", label = {}1", "|x|".repeat(5000)),
        ];
        for text in deep {
            let error = syn::parse_str::<Args>(&text)
                .err()
                .map(|error| error.to_string());
            assert!(
                error
                    .as_deref()
                    .is_some_and(|error| error.contains("more than 512 tokens")),
                "{error:?}"
            );
        }
        // Arguments a person writes stay well under the limit.
        let arms: String = (0..40)
            .map(|arm| format!("{arm} => \"l{arm}\", "))
            .collect();
        let long = format!(
            "model = \"m\", version = \"1\", label = |out: &u8| match *out {{ {arms} _ => \"x\" }}"
        );
        assert!(syn::parse_str::<Args>(&long).is_ok());
    }

    #[test]
    fn misspelt_arguments_are_matched() {
        assert_eq!(closest("featurs"), Some("features"));
        assert_eq!(closest("Model"), Some("model"));
        assert_eq!(closest("skipoutput"), Some("skip_output"));
        assert_eq!(closest("labels"), Some("label"));
        assert_eq!(closest("threshold"), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
