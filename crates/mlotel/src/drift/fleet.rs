//! The bins a fleet-wide drift computation needs, as series: one per bin of every profile
//! of the reference (a feature's value bins and its missing bin; a categorical profile's
//! categories, "other" and "missing"), named and paired with the reference's share.
//! `gauges` exports each bin's running count as a counter (which a metrics backend sums
//! over replicas) and the reference's share as a gauge; recording rules compute PSI and
//! Jensen–Shannon from the two (`deploy/prometheus/rules/fleet_drift.yml`).

use opentelemetry::KeyValue;

use super::reference::{FeatureProfile, Reference};
use crate::names::attr;

/// What a bin belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOf {
    /// An input feature (`ml.feature.bin.*`, with `ml.feature.name`).
    Feature,
    /// The predicted label or the confidence (`ml.prediction.bin.*`, with `ml.drift.signal`).
    Prediction,
}

/// One exported bin, in the flat order of the drift counters.
#[derive(Debug, Clone)]
pub(crate) struct ExportedBin {
    pub(crate) of: BinOf,
    /// `ml.feature.name` or `ml.drift.signal`, then `ml.drift.bin`.
    pub(crate) attributes: [KeyValue; 2],
    /// The reference's share of the bin.
    pub(crate) reference: f64,
}

/// The bin names of a profile with `value_bins` numbered bins, then `named` ones.
fn bin_names(value_bins: usize, named: &'static [&'static str]) -> impl Iterator<Item = String> {
    (0..value_bins)
        .map(|bin| bin.to_string())
        .chain(named.iter().map(|name| (*name).to_owned()))
}

fn profile_bins(
    of: BinOf,
    key: &'static str,
    name: &str,
    profile: &FeatureProfile,
) -> Vec<ExportedBin> {
    let names: Vec<String> = match profile {
        FeatureProfile::Numeric(numeric) => bin_names(numeric.value_bins(), &["missing"]).collect(),
        FeatureProfile::Categorical(categorical) => {
            bin_names(categorical.categories.len(), &["other", "missing"]).collect()
        }
    };
    names
        .into_iter()
        .zip(profile.proportions())
        .map(|(bin, &reference)| ExportedBin {
            of,
            attributes: [
                KeyValue::new(key, name.to_owned()),
                KeyValue::new(attr::DRIFT_BIN, bin),
            ],
            reference,
        })
        .collect()
}

/// Every bin of `reference`, in the order `Binning` lays out its counters: each feature's,
/// then the label's, then the confidence's.
pub(crate) fn exported_bins(reference: &Reference) -> Vec<ExportedBin> {
    let features = reference.features.iter().flat_map(|profile| {
        profile_bins(BinOf::Feature, attr::FEATURE_NAME, profile.name(), profile)
    });
    let label = reference.label.iter().flat_map(|profile| {
        profile_bins(
            BinOf::Prediction,
            attr::DRIFT_SIGNAL,
            "label",
            &FeatureProfile::Categorical(profile.clone()),
        )
    });
    let confidence = reference.confidence.iter().flat_map(|profile| {
        profile_bins(
            BinOf::Prediction,
            attr::DRIFT_SIGNAL,
            "confidence",
            &FeatureProfile::Numeric(profile.clone()),
        )
    });
    features.chain(label).chain(confidence).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::binning::Binning;
    use crate::drift::reference::FitOptions;

    #[test]
    fn one_series_per_counter_named_after_its_bin() {
        let rows: Vec<[f64; 2]> = (0..1_000).map(|row| [f64::from(row % 100), 3.0]).collect();
        let reference =
            Reference::fit_numeric(&rows, &["a", "constant"], FitOptions::default()).expect("fits");
        let bins = exported_bins(&reference);
        assert_eq!(bins.len(), Binning::new(&reference).bins());
        let names: Vec<String> = bins
            .iter()
            .map(|bin| format!("{}/{}", bin.attributes[0].value, bin.attributes[1].value))
            .collect();
        assert_eq!(names[0], "a/0");
        assert_eq!(names[9], "a/9");
        assert_eq!(names[10], "a/missing");
        assert_eq!(names[11..], ["constant/0", "constant/missing"]);
        let shares: f64 = bins[..11].iter().map(|bin| bin.reference).sum();
        assert!((shares - 1.0).abs() < 1e-12);
        assert!(bins.iter().all(|bin| bin.of == BinOf::Feature));
    }
}
