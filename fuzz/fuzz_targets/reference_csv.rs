//! `Reference::from_csv_reader`, fitting a reference from CSV training rows: with default
//! options, and with `label` / `confidence` prediction columns and few bins. Properties: no
//! panic; the fit never makes a reference its own validation refuses; what it fits saves,
//! loads back the same, and bins any value.

#![no_main]

mod exercise;

use libfuzzer_sys::fuzz_target;
use mlotel::drift::reference::{CsvOptions, FitOptions, Reference, ReferenceError};

fuzz_target!(|data: &[u8]| {
    let with_predictions = CsvOptions {
        fit: FitOptions {
            bins: 3,
            top_categories: 2,
        },
        label_column: Some("label".to_owned()),
        confidence_column: Some("confidence".to_owned()),
        ..CsvOptions::default()
    };
    for options in [CsvOptions::default(), with_predictions] {
        match Reference::from_csv_reader(data, options) {
            Ok(reference) => exercise::reference(&reference),
            // The CSV's own problems are errors; a fitted reference that its own validation
            // refuses is a bug of the fit.
            Err(error @ ReferenceError::Invalid { .. }) => {
                panic!("the fit made a reference it cannot load: {error}")
            }
            Err(_) => {}
        }
    }
});
