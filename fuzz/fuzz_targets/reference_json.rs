//! `Reference::from_json`, the loader of saved reference profiles. Properties: no panic; a
//! reference that loads writes back to JSON that loads to the same reference, and bins any
//! value into one of its bins.

#![no_main]

mod exercise;

use libfuzzer_sys::fuzz_target;
use mlotel::drift::reference::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reference) = Reference::from_json(text) {
        exercise::reference(&reference);
    }
});
