//! Property tests of the whole drift engine (reference fitted with `Reference::fit_numeric`,
//! rows fed through `Model::observe_features`, the report the gauges read): for any seed, a
//! window drawn from the reference distribution is not flagged by the default decision
//! (PSI ≥ 0.1), and a window with one feature shifted by one standard deviation is, for
//! that feature only. The measured false-alarm rates per method are in docs/drift.md.

use mlotel::Model;
use mlotel::drift::Window;
use mlotel::drift::reference::{FitOptions, Reference};
use mlotel_testkit::SplitMix64;
use proptest::prelude::*;

const FEATURES: [&str; 3] = ["x", "y", "z"];
const WINDOW: u64 = 1_000;

fn model(name: &str, seed: u64) -> Model {
    let mut rng = SplitMix64::new(seed ^ 0xA5A5_A5A5);
    let rows: Vec<[f64; 3]> = (0..10_000)
        .map(|_| [rng.normal(), 10.0 + 3.0 * rng.normal(), rng.normal()])
        .collect();
    let reference = Reference::fit_numeric(&rows, &FEATURES, FitOptions::default()).expect("fits");
    Model::builder(name)
        .version(seed.to_string())
        .reference(reference)
        .drift_window(Window::count(WINDOW))
        .try_register()
        .expect("the reference matches")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn windows_from_the_reference_distribution_are_not_flagged(seed in any::<u64>()) {
        let model = model("prop_same", seed);
        let mut rng = SplitMix64::new(seed);
        for _ in 0..WINDOW {
            model.observe_features(&[rng.normal(), 10.0 + 3.0 * rng.normal(), rng.normal()]);
        }
        let report = model.drift_report().expect("has a reference");
        prop_assert_eq!(report.features.len(), 3);
        for feature in &report.features {
            prop_assert!(!feature.detected, "{:?}", feature);
        }
        prop_assert_eq!(report.drift_share, Some(0.0));
    }

    #[test]
    fn a_one_std_shift_of_one_feature_is_flagged_for_that_feature_only(
        seed in any::<u64>(),
        shifted in 0usize..3,
    ) {
        let model = model("prop_shift", seed);
        let mut rng = SplitMix64::new(seed);
        for _ in 0..WINDOW {
            let mut row = [rng.normal(), 10.0 + 3.0 * rng.normal(), rng.normal()];
            row[shifted] += if shifted == 1 { 3.0 } else { 1.0 };
            model.observe_features(&row);
        }
        let report = model.drift_report().expect("has a reference");
        for (index, feature) in report.features.iter().enumerate() {
            prop_assert_eq!(feature.detected, index == shifted, "{:?}", feature);
        }
    }
}
