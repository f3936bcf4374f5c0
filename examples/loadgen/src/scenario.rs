//! What each request of a scenario looks like: pure functions of the request index, the run's
//! progress and a per-request generator, so they are tested without a server.

use mlotel_testkit::SplitMix64;

/// The iris features, in the order the service takes them.
pub const FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

/// The iris data set (Fisher 1936, 50 rows per class, species in the last column), the data
/// the service's models are trained on.
const IRIS_CSV: &str = include_str!("../../reference-cli/data/iris.csv");

/// The labels of the iris classes, in the data set's (and the service's) order.
pub const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

/// The `degrade` scenario's flip: the true label of this class's rows is reported as
/// [`DEGRADED_AS`], so the model's right answers for it are judged wrong.
pub const DEGRADED_CLASS: usize = 1;
/// What the `degrade` scenario reports as the truth of [`DEGRADED_CLASS`]'s rows.
pub const DEGRADED_AS: usize = 2;

/// The iris rows, grouped by class (setosa, versicolor, virginica).
pub(crate) struct Iris {
    classes: Vec<Vec<[f64; 4]>>,
}

impl Iris {
    /// Parses the embedded data set.
    pub(crate) fn load() -> Self {
        let mut classes: Vec<(String, Vec<[f64; 4]>)> = Vec::new();
        for line in IRIS_CSV.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').map(str::trim).collect();
            let [a, b, c, d, species] = cells[..] else {
                continue;
            };
            let values: Vec<f64> = [a, b, c, d].iter().filter_map(|v| v.parse().ok()).collect();
            let Ok(row) = <[f64; 4]>::try_from(values) else {
                continue;
            };
            match classes.iter_mut().find(|(name, _)| name == species) {
                Some((_, rows)) => rows.push(row),
                None => classes.push((species.to_owned(), vec![row])),
            }
        }
        Self {
            classes: classes.into_iter().map(|(_, rows)| rows).collect(),
        }
    }

    /// Number of classes.
    #[cfg(test)]
    pub(crate) fn classes(&self) -> usize {
        self.classes.len()
    }

    /// Draws one row: a class uniformly at random (a balanced label mix), then one of its
    /// measured rows, each feature moved by `shift[f]` cm, rounded to 0.1 cm like the
    /// measurements and kept at or above 0.1 cm. Resampling the measured rows, rather than
    /// drawing from a fitted normal, keeps the ties of the 0.1 cm grid the reference bins
    /// were fitted on: normal draws put a PSI of up to 0.2 on unshifted features.
    #[cfg(test)]
    pub(crate) fn draw(&self, rng: &mut SplitMix64, shift: &[f64; 4]) -> [f64; 4] {
        self.draw_labelled(rng, shift).1
    }

    /// [`draw`](Self::draw), with the drawn row's class (an index into [`LABELS`]).
    pub(crate) fn draw_labelled(
        &self,
        rng: &mut SplitMix64,
        shift: &[f64; 4],
    ) -> (usize, [f64; 4]) {
        let class_index = rng.below(self.classes.len() as u64) as usize;
        let class = &self.classes[class_index];
        let mut row = class[rng.below(class.len() as u64) as usize];
        for (value, shift) in row.iter_mut().zip(shift) {
            if *shift != 0.0 {
                *value = (((*value + shift) * 10.0).round() / 10.0).max(0.1);
            }
        }
        (class_index, row)
    }
}

/// Population standard deviation of each feature over the whole iris data set: the shift unit
/// when the service does not report its reference (`GET /v1/models/iris`).
pub(crate) const FALLBACK_STD: [f64; 4] = [0.825, 0.434, 1.759, 0.760];

/// Share of the full shift applied at `progress` (0 at the start of the run, 1 at its end):
/// a linear ramp from 0 to 1 over the first half, then held at 1.
pub fn ramp(progress: f64) -> f64 {
    (progress * 2.0).clamp(0.0, 1.0)
}

/// Whether request `index` is one of the `share` picked ones, spread evenly (exactly
/// `⌊n·share⌋` of the first `n` requests), and if so its rank among them.
pub(crate) fn pick(index: u64, share: f64) -> Option<u64> {
    if share <= 0.0 {
        return None;
    }
    let share = share.min(1.0);
    let before = (index as f64 * share).floor() as u64;
    let after = ((index + 1) as f64 * share).floor() as u64;
    (after > before).then_some(before)
}

/// Writes `rows` as the JSON `{"instances": [[...], ...]}`, one decimal per value.
pub(crate) fn instances_body(rows: &[[f64; 4]]) -> Vec<u8> {
    let mut body = String::from("{\"instances\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            "[{:.1},{:.1},{:.1},{:.1}]",
            row[0], row[1], row[2], row[3]
        ));
    }
    body.push_str("]}");
    body.into_bytes()
}

/// The bad requests of the `errors` scenario, in the order they cycle, with the status and
/// `error.type` docs/predictor.md promises for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCase {
    /// A body cut off in the middle: 400 `malformed_json`.
    MalformedJson,
    /// An instance with 3 features: 400 `invalid_features`.
    WrongFeatureCount,
    /// A string where a number goes: 422 `invalid_json_fields`.
    StringValue,
    /// `{"instances": []}`: 400 `empty_batch`.
    EmptyBatch,
    /// A version the service does not have, in the path: 404 `version_not_found`.
    UnknownVersion,
    /// A model the service does not have: 404 `model_not_found`.
    UnknownModel,
    /// Neither `instances` nor `features`: 400 `invalid_request`.
    NoInstances,
    /// `Content-Type: text/plain`: 415 `unsupported_media_type`.
    NotJson,
    /// An unknown version in the `X-Model-Version` header: 404 `version_not_found`.
    UnknownVersionHeader,
    /// 101 instances, one more than the default `--max-batch`: 400 `batch_too_large`.
    BatchTooLarge,
}

impl ErrorCase {
    /// Every case, in cycling order.
    pub const ALL: [ErrorCase; 10] = [
        ErrorCase::MalformedJson,
        ErrorCase::WrongFeatureCount,
        ErrorCase::StringValue,
        ErrorCase::EmptyBatch,
        ErrorCase::UnknownVersion,
        ErrorCase::UnknownModel,
        ErrorCase::NoInstances,
        ErrorCase::NotJson,
        ErrorCase::UnknownVersionHeader,
        ErrorCase::BatchTooLarge,
    ];

    /// The `rank`-th bad request of a run.
    pub fn nth(rank: u64) -> ErrorCase {
        Self::ALL[(rank % Self::ALL.len() as u64) as usize]
    }

    /// The status and `error.type` the contract gives this case.
    pub fn expected(self) -> (u16, &'static str) {
        match self {
            ErrorCase::MalformedJson => (400, "malformed_json"),
            ErrorCase::WrongFeatureCount => (400, "invalid_features"),
            ErrorCase::StringValue => (422, "invalid_json_fields"),
            ErrorCase::EmptyBatch => (400, "empty_batch"),
            ErrorCase::UnknownVersion | ErrorCase::UnknownVersionHeader => {
                (404, "version_not_found")
            }
            ErrorCase::UnknownModel => (404, "model_not_found"),
            ErrorCase::NoInstances => (400, "invalid_request"),
            ErrorCase::NotJson => (415, "unsupported_media_type"),
            ErrorCase::BatchTooLarge => (400, "batch_too_large"),
        }
    }

    /// Method is always POST: path, extra headers (besides `Content-Type: application/json`
    /// unless replaced) and body.
    pub(crate) fn request(self) -> (&'static str, Vec<(&'static str, &'static str)>, Vec<u8>) {
        let good = br#"{"instances":[[5.1,3.5,1.4,0.2]]}"#.to_vec();
        let json = ("Content-Type", "application/json");
        match self {
            ErrorCase::MalformedJson => (
                "/predict",
                vec![json],
                br#"{"instances":[[5.1,3.5"#.to_vec(),
            ),
            ErrorCase::WrongFeatureCount => (
                "/predict",
                vec![json],
                br#"{"instances":[[5.1,3.5,1.4]]}"#.to_vec(),
            ),
            ErrorCase::StringValue => (
                "/predict",
                vec![json],
                br#"{"instances":[[5.1,"3.5",1.4,0.2]]}"#.to_vec(),
            ),
            ErrorCase::EmptyBatch => ("/predict", vec![json], br#"{"instances":[]}"#.to_vec()),
            ErrorCase::UnknownVersion => {
                ("/v1/models/iris/versions/9.9.9:predict", vec![json], good)
            }
            ErrorCase::UnknownModel => ("/v1/models/no-such-model:predict", vec![json], good),
            ErrorCase::NoInstances => (
                "/predict",
                vec![json],
                br#"{"rows":[[5.1,3.5,1.4,0.2]]}"#.to_vec(),
            ),
            ErrorCase::NotJson => (
                "/predict",
                vec![("Content-Type", "text/plain")],
                b"5.1,3.5,1.4,0.2".to_vec(),
            ),
            ErrorCase::UnknownVersionHeader => {
                ("/predict", vec![json, ("X-Model-Version", "9.9.9")], good)
            }
            ErrorCase::BatchTooLarge => (
                "/predict",
                vec![json],
                instances_body(&[[5.1, 3.5, 1.4, 0.2]; 101]),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{ErrorCase, Iris, instances_body, pick, ramp};
    use mlotel_testkit::SplitMix64;

    #[test]
    fn the_ramp_rises_over_the_first_half_then_holds() {
        assert_eq!(ramp(0.0), 0.0);
        assert_eq!(ramp(0.25), 0.5);
        assert_eq!(ramp(0.5), 1.0);
        assert_eq!(ramp(0.9), 1.0);
        assert_eq!(ramp(1.5), 1.0);
        assert_eq!(ramp(-1.0), 0.0);
        let values: Vec<f64> = (0..=10).map(|i| ramp(f64::from(i) / 20.0)).collect();
        assert!(
            values.windows(2).all(|pair| pair[0] < pair[1]),
            "{values:?}"
        );
    }

    #[test]
    fn picks_exactly_the_share_evenly() {
        let picked: Vec<u64> = (0..100).filter_map(|i| pick(i, 0.2)).collect();
        assert_eq!(picked, (0..20).collect::<Vec<_>>());
        let indices: Vec<u64> = (0..20).filter(|i| pick(*i, 0.2).is_some()).collect();
        assert_eq!(indices, [4, 9, 14, 19]);
        assert_eq!((0..1000).filter(|i| pick(*i, 0.333).is_some()).count(), 333);
        assert_eq!((0..50).filter(|i| pick(*i, 1.0).is_some()).count(), 50);
        assert_eq!((0..50).filter(|i| pick(*i, 0.0).is_some()).count(), 0);
    }

    #[test]
    fn error_cases_cycle_through_every_contract_case() {
        let cycle: Vec<ErrorCase> = (0..20).map(ErrorCase::nth).collect();
        assert_eq!(&cycle[..10], &ErrorCase::ALL);
        assert_eq!(&cycle[10..], &ErrorCase::ALL);
        for case in ErrorCase::ALL {
            let (path, headers, body) = case.request();
            assert!(path.starts_with('/'));
            assert!(!headers.is_empty());
            let parsed = serde_json::from_slice::<serde_json::Value>(&body);
            assert_eq!(
                parsed.is_err(),
                matches!(case, ErrorCase::MalformedJson | ErrorCase::NotJson),
                "{case:?}"
            );
            let (status, kind) = case.expected();
            assert!((400..500).contains(&status) && !kind.is_empty());
        }
    }

    #[test]
    fn rows_are_rounded_positive_and_shifted() {
        let iris = Iris::load();
        assert_eq!(iris.classes(), 3);
        assert!(iris.classes.iter().all(|rows| rows.len() == 50));
        let mut rng = SplitMix64::new(3);
        for _ in 0..3000 {
            let row = iris.draw(&mut rng, &[0.0, 0.0, 1.3, -0.9]);
            for value in row {
                assert!((0.1..10.0).contains(&value), "{row:?}");
                assert!(((value * 10.0) - (value * 10.0).round()).abs() < 1e-9);
            }
        }
        let mean = |shift: [f64; 4]| {
            let mut rng = SplitMix64::new(4);
            (0..3000)
                .map(|_| iris.draw(&mut rng, &shift)[2])
                .sum::<f64>()
                / 3000.0
        };
        let moved = mean([0.0, 0.0, 3.5, 0.0]) - mean([0.0; 4]);
        assert!((moved - 3.5).abs() < 0.01, "{moved}");
        let body = instances_body(&[[5.1, 3.5, 1.4, 0.2], [6.0, 2.2, 5.0, 1.5]]);
        assert_eq!(
            body,
            br#"{"instances":[[5.1,3.5,1.4,0.2],[6.0,2.2,5.0,1.5]]}"#
        );
    }

    /// The iris data set of examples/reference-cli, rows of 4 features.
    fn iris() -> Vec<[f64; 4]> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../reference-cli/data/iris.csv"
        );
        let text = std::fs::read_to_string(path).expect("iris.csv reads");
        text.lines()
            .skip(1)
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut row = [0.0; 4];
                for (value, cell) in row.iter_mut().zip(line.split(',')) {
                    *value = cell.parse().expect("a number");
                }
                row
            })
            .collect()
    }

    /// PSI of each feature of `rows` against `reference`, as the service computes it.
    fn psi(reference: &mlotel::drift::reference::Reference, rows: &[[f64; 4]]) -> [f64; 4] {
        let mut out = [0.0; 4];
        for (f, name) in super::FEATURES.iter().enumerate() {
            let profile = reference
                .feature(name)
                .and_then(|feature| feature.as_numeric())
                .expect("a numeric feature");
            let mut counts = vec![0.0; profile.bins()];
            for row in rows {
                counts[profile.bin(row[f])] += 1.0;
            }
            let current: Vec<f64> = counts.iter().map(|c| c / rows.len() as f64).collect();
            out[f] = mlotel::drift::stats::psi(&profile.proportions, &current);
        }
        out
    }

    /// Offline version of the end-to-end test: against references fitted from 120-row
    /// subsets of iris (the service trains on 80 % of it), 1000 steady rows stay well under
    /// the PSI threshold of 0.1 on every feature, and the drift scenario's shift is caught on
    /// the shifted features only.
    #[test]
    fn steady_rows_match_iris_and_the_drift_shift_is_caught() {
        use mlotel::drift::reference::{FitOptions, Reference};
        let data = iris();
        assert_eq!(data.len(), 150);
        let generator = Iris::load();
        let mut worst = [0.0_f64; 4];
        let mut weakest_shifted = f64::INFINITY;
        let mut worst_unshifted = 0.0_f64;
        for subset in 0..20 {
            let mut rng = SplitMix64::new(100 + subset);
            let mut rows = data.clone();
            for i in (1..rows.len()).rev() {
                rows.swap(i, rng.below(i as u64 + 1) as usize);
            }
            rows.truncate(120);
            let reference = Reference::fit_numeric(&rows, &super::FEATURES, FitOptions::default())
                .expect("fits");
            let steady: Vec<[f64; 4]> = (0..1000)
                .map(|_| generator.draw(&mut rng, &[0.0; 4]))
                .collect();
            for (w, value) in worst.iter_mut().zip(psi(&reference, &steady)) {
                *w = w.max(value);
            }
            // --shift 2.0 on the petals, in reference std units, ramped over the first half
            // of 1000 rows: the window mixes every stage of the ramp.
            let std = |f: usize| {
                reference
                    .feature(super::FEATURES[f])
                    .and_then(|p| p.as_numeric())
                    .map_or(1.0, |p| p.std)
            };
            let drifted: Vec<[f64; 4]> = (0..1000)
                .map(|i| {
                    let amount = 2.0 * ramp(i as f64 / 1000.0);
                    let shift = [0.0, 0.0, amount * std(2), amount * std(3)];
                    generator.draw(&mut rng, &shift)
                })
                .collect();
            let values = psi(&reference, &drifted);
            weakest_shifted = weakest_shifted.min(values[2]).min(values[3]);
            worst_unshifted = worst_unshifted.max(values[0]).max(values[1]);
        }
        eprintln!(
            "steady PSI, worst of 20 references: {worst:?}; drift: shifted ≥ {weakest_shifted:.3}, unshifted ≤ {worst_unshifted:.3}"
        );
        assert!(worst.iter().all(|psi| *psi < 0.1), "{worst:?}");
        assert!(weakest_shifted >= 0.25, "{weakest_shifted}");
        assert!(worst_unshifted < 0.1, "{worst_unshifted}");
    }
}
