//! The demo predictor's request body: what `web::Json<Box<RawValue>>` accepts, then the
//! predictor's own `request_body::parse_rows` (the very file, included), for both route forms.
//! Properties: no panic; accepted rows are 1..=max_batch rows of finite values; a refusal
//! has one of the documented error types and a message.

#![no_main]

#[path = "../../examples/predictor/src/request_body.rs"]
#[allow(dead_code)]
mod request_body;

use libfuzzer_sys::fuzz_target;
use request_body::{Form, parse_rows};
use serde_json::value::RawValue;

/// The predictor's feature names (only used in messages).
const FEATURES: [&str; request_body::FEATURE_COUNT] =
    ["sepal_length", "sepal_width", "petal_length", "petal_width"];
/// A small batch limit, so that the limit is reached by short inputs.
const MAX_BATCH: usize = 3;
/// The error types docs/predictor.md lists for a body.
const KINDS: [&str; 5] = [
    "invalid_json_fields",
    "invalid_request",
    "empty_batch",
    "batch_too_large",
    "invalid_features",
];

fuzz_target!(|data: &[u8]| {
    // What actix's JSON extractor does first (anything else is a 400 `malformed_json`).
    let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(data) else {
        return;
    };
    for form in [Form::Instances, Form::InstancesOrFeatures] {
        match parse_rows(raw.get(), form, MAX_BATCH, &FEATURES) {
            Ok(rows) => {
                assert!((1..=MAX_BATCH).contains(&rows.len()), "{} rows", rows.len());
                assert!(rows.iter().flatten().all(|value| value.is_finite()));
            }
            Err(refused) => {
                assert!(KINDS.contains(&refused.kind), "{refused:?}");
                assert!(!refused.message.is_empty());
            }
        }
    }
});
