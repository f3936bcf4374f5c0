//! What every loaded or fitted reference must allow (shared by the reference targets).

use mlotel::drift::reference::{CategoricalProfile, FeatureProfile, NumericProfile, Reference};

/// Numbers every numeric profile must bin.
const PROBES: [f64; 7] = [
    f64::NAN,
    f64::NEG_INFINITY,
    -1e308,
    0.0,
    1.5,
    1e308,
    f64::INFINITY,
];

/// Saves and reloads `reference`, and bins probe values with each of its profiles.
pub(crate) fn reference(reference: &Reference) {
    let saved = reference.to_json();
    let loaded = Reference::from_json(&saved)
        .unwrap_or_else(|error| panic!("a valid reference does not load back: {error}\n{saved}"));
    assert_eq!(&loaded, reference, "the reference changed on a round trip");
    for feature in &reference.features {
        match feature {
            FeatureProfile::Numeric(profile) => numeric(profile),
            FeatureProfile::Categorical(profile) => categorical(profile),
        }
        assert_eq!(feature.proportions().len(), feature.bins());
    }
    if let Some(label) = &reference.label {
        categorical(label);
    }
    if let Some(confidence) = &reference.confidence {
        numeric(confidence);
    }
}

fn numeric(profile: &NumericProfile) {
    for value in PROBES
        .into_iter()
        .chain([profile.min, profile.max, profile.mean])
        .chain(profile.edges.iter().copied())
    {
        assert!(
            profile.bin(value) < profile.bins(),
            "{value} in {profile:?}"
        );
        let _ = profile.is_out_of_range(value);
    }
    assert_eq!(profile.centres().len(), profile.value_bins());
}

fn categorical(profile: &CategoricalProfile) {
    for value in [None, Some(""), Some("\u{0}other")].into_iter().chain(
        profile
            .categories
            .iter()
            .map(|category| Some(category.as_str())),
    ) {
        assert!(
            profile.bin(value) < profile.bins(),
            "{value:?} in {profile:?}"
        );
    }
}
