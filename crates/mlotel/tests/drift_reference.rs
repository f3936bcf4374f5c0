//! Reference profiles: quantile edges against numpy, binning, categorical top-k, JSON round
//! trips and every malformed-JSON error, CSV inference.
#![allow(clippy::unwrap_used)]

use mlotel::drift::reference::{
    CalibrationOptions, CategoricalProfile, CsvOptions, FeatureKind, FeatureProfile, FeatureValue,
    FitOptions, NumericProfile, Reference, ReferenceError, SCHEMA_VERSION, Schema,
};
use serde_json::{Value, json};

fn opts(bins: usize, top_categories: usize) -> FitOptions {
    FitOptions {
        bins,
        top_categories,
    }
}

fn numeric(reference: &Reference, index: usize) -> &NumericProfile {
    reference.features[index].as_numeric().unwrap()
}

fn categorical(reference: &Reference, index: usize) -> &CategoricalProfile {
    reference.features[index].as_categorical().unwrap()
}

fn column(values: &[f64]) -> Vec<[f64; 1]> {
    values.iter().map(|x| [*x]).collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tolerance: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tolerance, "{actual:?} vs {expected:?}");
    }
}

/// Deterministic pseudo-random numbers in [0, 1) (64-bit LCG, top 53 bits).
fn lcg(seed: u64) -> impl Iterator<Item = f64> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    })
}

// ---------------------------------------------------------------------------------------
// Quantile edges
// ---------------------------------------------------------------------------------------

#[test]
fn edges_equal_numpy_quantiles_on_1_to_10() {
    // numpy.quantile(np.arange(1, 11), [0.25, 0.5, 0.75]) == [3.25, 5.5, 7.75]
    let values: Vec<f64> = (1..=10).map(f64::from).collect();
    let reference = Reference::fit_numeric(column(&values), &["x"], opts(4, 20)).unwrap();
    assert_eq!(numeric(&reference, 0).edges, [3.25, 5.5, 7.75]);
    // numpy 2.3.5: numpy.quantile(np.arange(1, 11.), np.arange(1, 10) / 10).tolist(), bit
    // for bit (numpy's _lerp: a + d·t below t = 0.5, b - d·(1 - t) from there).
    let reference = Reference::fit_numeric(column(&values), &["x"], opts(10, 20)).unwrap();
    assert_eq!(
        numeric(&reference, 0).edges,
        [
            1.9,
            2.8,
            3.6999999999999997,
            4.6,
            5.5,
            6.3999999999999995,
            7.3,
            8.2,
            9.1
        ]
    );
}

#[test]
fn edges_follow_numpy_linear_interpolation_and_collapse_ties() {
    // Unsorted input with ties. numpy 2.3.5:
    // numpy.quantile([10, 1, 0, 1, 1.], np.arange(1, 10) / 10).tolist()
    //   == [0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 2.8000000000000016, 6.4]
    // (virtual index 4q, linear between neighbours).
    let reference =
        Reference::fit_numeric(column(&[10.0, 1.0, 0.0, 1.0, 1.0]), &["x"], opts(10, 20)).unwrap();
    let profile = numeric(&reference, 0);
    // Five 1.0 quantiles collapse into one edge.
    assert_eq!(profile.edges, [0.4, 0.8, 1.0, 2.8000000000000016, 6.4]);
    // 0 | [0.4, 0.8) | [0.8, 1) | 1, 1, 1 (on the edge: up) | [2.8, 6.4) | 10, then missing.
    assert_close(
        &profile.proportions,
        &[0.2, 0.0, 0.0, 0.6, 0.0, 0.2, 0.0],
        0.0,
    );
    assert_eq!(
        (profile.min, profile.max, profile.count, profile.missing),
        (0.0, 10.0, 5, 0)
    );
}

#[test]
fn edges_ignore_missing_values() {
    // Quantiles of [1, 2, 3, 4, 5] only: numpy.quantile([1, 2, 3, 4, 5], [0.5]) == [3].
    let values = [f64::NAN, 5.0, 1.0, f64::NAN, 3.0, 2.0, 4.0];
    let reference = Reference::fit_numeric(column(&values), &["x"], opts(2, 20)).unwrap();
    let profile = numeric(&reference, 0);
    assert_eq!(profile.edges, [3.0]);
    assert_eq!((profile.count, profile.missing), (5, 2));
    // [1, 2] below 3, [3, 4, 5] at or above, two missing: over 7 rows.
    assert_close(
        &profile.proportions,
        &[2.0 / 7.0, 3.0 / 7.0, 2.0 / 7.0],
        1e-15,
    );
}

#[test]
fn mean_and_population_std() {
    let values = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
    let reference = Reference::fit_numeric(column(&values), &["x"], opts(10, 20)).unwrap();
    let profile = numeric(&reference, 0);
    assert!((profile.mean - 5.0).abs() < 1e-12);
    assert!((profile.std - 2.0).abs() < 1e-12, "ddof 0: {}", profile.std);
    assert_eq!((profile.min, profile.max), (2.0, 9.0));
}

#[test]
fn one_bin_means_no_edges() {
    let reference = Reference::fit_numeric(column(&[1.0, 2.0, 3.0]), &["x"], opts(1, 20)).unwrap();
    assert!(numeric(&reference, 0).edges.is_empty());
    assert_eq!(numeric(&reference, 0).proportions, [1.0, 0.0]);
}

// ---------------------------------------------------------------------------------------
// Binning
// ---------------------------------------------------------------------------------------

fn profile_with_edges(edges: Vec<f64>, min: f64, max: f64) -> NumericProfile {
    let bins = edges.len() + 2;
    let mut proportions = vec![0.0; bins];
    proportions[0] = 1.0;
    NumericProfile {
        name: "x".into(),
        edges,
        proportions,
        count: 1,
        missing: 0,
        mean: min,
        std: 0.0,
        min,
        max,
        tail_means: None,
        calibration: None,
    }
}

#[test]
fn bin_boundaries() {
    let profile = profile_with_edges(vec![1.0, 2.0, 3.0], 0.0, 5.0);
    assert_eq!(
        (profile.value_bins(), profile.missing_bin(), profile.bins()),
        (4, 4, 5)
    );
    assert_eq!(profile.bin(0.5), 0);
    assert_eq!(profile.bin(1.0), 1, "exactly on an edge goes up");
    assert_eq!(profile.bin(1.0 - f64::EPSILON), 0);
    assert_eq!(profile.bin(2.0), 2);
    assert_eq!(profile.bin(2.999), 2);
    assert_eq!(profile.bin(3.0), 3);
    assert_eq!(profile.bin(1e300), 3);
    assert_eq!(profile.bin(f64::INFINITY), 3);
    assert_eq!(profile.bin(f64::NEG_INFINITY), 0);
    assert_eq!(profile.bin(f64::NAN), 4);
    assert_eq!(profile.bin(-0.0), 0);
}

#[test]
fn centres_close_outer_bins_with_min_and_max() {
    let profile = profile_with_edges(vec![1.0, 2.0, 3.0], 0.0, 5.0);
    assert_eq!(profile.centres(), [0.5, 1.5, 2.5, 4.0]);
    let constant = profile_with_edges(vec![], 7.0, 7.0);
    assert_eq!(constant.centres(), [7.0]);
}

#[test]
fn out_of_range_is_judged_on_finite_values_only() {
    let profile = profile_with_edges(vec![1.0], 0.0, 5.0);
    assert!(profile.is_out_of_range(-0.1));
    assert!(profile.is_out_of_range(5.1));
    assert!(!profile.is_out_of_range(0.0));
    assert!(!profile.is_out_of_range(5.0));
    assert!(!profile.is_out_of_range(f64::NAN));
    assert!(!profile.is_out_of_range(f64::INFINITY));
}

#[test]
fn constant_feature_has_one_value_bin() {
    let reference = Reference::fit_numeric(column(&[7.0; 50]), &["c"], opts(10, 20)).unwrap();
    let profile = numeric(&reference, 0);
    assert!(profile.edges.is_empty());
    assert_eq!(profile.proportions, [1.0, 0.0]);
    assert_eq!(
        (profile.mean, profile.std, profile.min, profile.max),
        (7.0, 0.0, 7.0, 7.0)
    );
    assert_eq!(profile.bin(7.0), 0);
    assert_eq!(profile.bin(-1e9), 0);
    assert_eq!(profile.centres(), [7.0]);
}

#[test]
fn all_missing_feature_is_fine() {
    let rows = [[1.0, f64::NAN], [2.0, f64::NAN], [3.0, f64::NAN]];
    let reference = Reference::fit_numeric(rows, &["a", "b"], FitOptions::default()).unwrap();
    let profile = numeric(&reference, 1);
    assert!(profile.edges.is_empty());
    assert_eq!(profile.proportions, [0.0, 1.0]);
    assert_eq!((profile.count, profile.missing), (0, 3));
    assert_eq!(profile.bin(5.0), 0);
    // Still a valid, loadable reference.
    assert_eq!(
        Reference::from_json(&reference.to_json()).unwrap(),
        reference
    );
}

#[test]
fn categorical_top_k_other_and_missing() {
    let cells = [
        "a", "b", "c", "a", "", "c", "a", "d", "b", "a", "c", "", "b", "a",
    ];
    let rows: Vec<[FeatureValue<'_>; 1]> = cells
        .iter()
        .map(|c| {
            [if c.is_empty() {
                FeatureValue::Missing
            } else {
                FeatureValue::Category(c)
            }]
        })
        .collect();
    let schema = Schema::new().categorical("letter");
    let reference = Reference::fit(&rows, &schema, opts(10, 2)).unwrap();
    let profile = categorical(&reference, 0);
    // a: 5, then b and c tie at 3 (b wins by name), d: 1; two missing, 14 rows.
    assert_eq!(profile.categories, ["a", "b"]);
    assert_close(
        &profile.proportions,
        &[5.0 / 14.0, 3.0 / 14.0, 4.0 / 14.0, 2.0 / 14.0],
        1e-15,
    );
    assert_eq!((profile.count, profile.missing), (12, 2));
    assert_eq!(
        (profile.other_bin(), profile.missing_bin(), profile.bins()),
        (2, 3, 4)
    );
    assert_eq!(profile.bin(Some("a")), 0);
    assert_eq!(profile.bin(Some("b")), 1);
    assert_eq!(profile.bin(Some("c")), 2);
    assert_eq!(profile.bin(Some("never seen")), 2);
    assert_eq!(profile.bin(None), 3);

    // All kept when k is large; zero keeps none.
    let all = Reference::fit(&rows, &schema, opts(10, 20)).unwrap();
    assert_eq!(categorical(&all, 0).categories, ["a", "b", "c", "d"]);
    let none = Reference::fit(&rows, &schema, opts(10, 0)).unwrap();
    assert!(categorical(&none, 0).categories.is_empty());
    assert_close(
        &categorical(&none, 0).proportions,
        &[12.0 / 14.0, 2.0 / 14.0],
        1e-15,
    );
}

#[test]
fn proportions_sum_to_one_and_match_bin() {
    let colours = ["red", "green", "blue", "black", "white"];
    let data: Vec<(f64, f64, &str)> = lcg(7)
        .zip(lcg(99))
        .take(1000)
        .map(|(u, v)| {
            let x = if v < 0.05 {
                f64::NAN
            } else {
                (u * 100.0).round() / 10.0
            };
            (x, u * v, colours[(v * 5.0) as usize])
        })
        .collect();
    let rows: Vec<Vec<FeatureValue<'_>>> = data
        .iter()
        .map(|(x, y, c)| {
            vec![
                FeatureValue::Number(*x),
                FeatureValue::Number(*y),
                (*c).into(),
            ]
        })
        .collect();
    let schema = Schema::new()
        .numeric("x")
        .numeric("y")
        .categorical("colour");
    let reference = Reference::fit(&rows, &schema, opts(10, 3)).unwrap();
    assert_eq!(reference.rows, 1000);
    for feature in &reference.features {
        let sum: f64 = feature.proportions().iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{}: {sum}", feature.name());
        assert_eq!(feature.proportions().len(), feature.bins());
    }
    let x = numeric(&reference, 0);
    assert!(x.missing > 0);
    let mut counts = vec![0usize; x.bins()];
    for (value, _, _) in &data {
        counts[x.bin(*value)] += 1;
    }
    let expected: Vec<f64> = counts.iter().map(|n| *n as f64 / 1000.0).collect();
    assert_eq!(x.proportions, expected);
    // Ten quantile bins of a continuous feature hold about a tenth each.
    let y = numeric(&reference, 1);
    assert_eq!(y.edges.len(), 9);
    for p in &y.proportions[..10] {
        assert!((p - 0.1).abs() <= 0.002, "{:?}", y.proportions);
    }
}

#[test]
fn fit_errors_name_the_problem() {
    let schema = Schema::new().numeric("x").categorical("c");
    let rows = [
        vec![FeatureValue::Number(1.0), "a".into()],
        vec![FeatureValue::Number(2.0)],
    ];
    match Reference::fit(&rows, &schema, FitOptions::default()) {
        Err(ReferenceError::RowLength {
            row: 1,
            expected: 2,
            found: 1,
        }) => {}
        other => panic!("{other:?}"),
    }
    let rows = [vec![FeatureValue::Number(1.0), FeatureValue::Number(2.0)]];
    match Reference::fit(&rows, &schema, FitOptions::default()) {
        Err(ReferenceError::Value {
            row: 0, feature, ..
        }) => assert_eq!(feature, "c"),
        other => panic!("{other:?}"),
    }
    let rows = [vec![
        FeatureValue::Number(f64::INFINITY),
        FeatureValue::Missing,
    ]];
    match Reference::fit(&rows, &schema, FitOptions::default()) {
        Err(ReferenceError::Value {
            row: 0, feature, ..
        }) => assert_eq!(feature, "x"),
        other => panic!("{other:?}"),
    }
    let no_rows: [[f64; 1]; 0] = [];
    assert!(matches!(
        Reference::fit_numeric(no_rows, &["x"], FitOptions::default()),
        Err(ReferenceError::Empty { .. })
    ));
    match Reference::fit_numeric([[1.0]], &["x"], opts(0, 20)) {
        Err(ReferenceError::Options { what, .. }) => assert_eq!(what, "bins"),
        other => panic!("{other:?}"),
    }
    match Reference::fit_numeric([[1.0, 2.0]], &["x", "x"], FitOptions::default()) {
        Err(error @ ReferenceError::Options { .. }) => {
            assert!(
                error.to_string().contains("duplicate feature name `x`"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn schema_accessors() {
    let schema = Schema::new().numeric("a").categorical("b");
    assert_eq!(schema.len(), 2);
    assert!(!schema.is_empty() && Schema::new().is_empty());
    assert_eq!(schema.kind(0), Some(FeatureKind::Numeric));
    assert_eq!(schema.kind(1), Some(FeatureKind::Categorical));
    assert_eq!(schema.kind(2), None);
    let reference = Reference::fit(
        [[FeatureValue::Number(1.0), "x".into()]],
        &schema,
        FitOptions::default(),
    )
    .unwrap();
    assert_eq!(reference.schema(), schema);
    assert_eq!(reference.feature_names().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(reference.features[1].kind(), FeatureKind::Categorical);
}

// ---------------------------------------------------------------------------------------
// Predictions, check_features
// ---------------------------------------------------------------------------------------

fn sample_reference() -> Reference {
    let schema = Schema::new()
        .numeric("age")
        .categorical("country")
        .numeric("income");
    let countries = ["fr", "de", "us", "jp"];
    let data: Vec<(f64, &str, f64)> = lcg(3)
        .zip(lcg(11))
        .take(200)
        .map(|(u, v)| {
            (
                20.0 + u * 50.0,
                countries[(v * 4.0) as usize],
                0.1 + 0.2 + u * v * 1e5,
            )
        })
        .collect();
    let rows: Vec<[FeatureValue<'_>; 3]> = data
        .iter()
        .enumerate()
        .map(|(i, (a, c, m))| {
            let country = if i % 17 == 0 {
                FeatureValue::Missing
            } else {
                (*c).into()
            };
            [(*a).into(), country, (*m).into()]
        })
        .collect();
    let labels = data
        .iter()
        .map(|(a, _, _)| if *a > 40.0 { "old" } else { "young" });
    let confidences: Vec<f64> = lcg(5).take(150).map(|u| 0.5 + u / 2.0).collect();
    Reference::fit(&rows, &schema, FitOptions::default())
        .unwrap()
        .with_predictions(labels, confidences, FitOptions::default())
        .unwrap()
}

#[test]
fn with_predictions_fits_label_and_confidence() {
    let reference = sample_reference();
    let label = reference.label.as_ref().unwrap();
    assert_eq!(label.name, "label");
    assert_eq!(label.count, 200);
    let mut categories = label.categories.clone();
    categories.sort();
    assert_eq!(categories, ["old", "young"]);
    let confidence = reference.confidence.as_ref().unwrap();
    assert_eq!(
        (confidence.name.as_str(), confidence.count),
        ("confidence", 150)
    );
    assert_eq!(confidence.edges.len(), 9);
    assert!(confidence.min >= 0.5 && confidence.max < 1.0);

    // Either alone.
    let labels_only = Reference::fit_numeric([[1.0]], &["x"], FitOptions::default())
        .unwrap()
        .with_predictions(["a", "b", "a"], [], FitOptions::default())
        .unwrap();
    assert_eq!(labels_only.label.unwrap().categories, ["a", "b"]);
    assert!(labels_only.confidence.is_none());
}

#[test]
fn check_features_names_the_first_difference() {
    let reference = sample_reference();
    reference
        .check_features(&["age", "country", "income"])
        .unwrap();
    match reference.check_features(&["age", "income", "country"]) {
        Err(ReferenceError::FeatureMismatch {
            index: 1,
            expected,
            found,
        }) => {
            assert_eq!(
                (expected.as_deref(), found.as_deref()),
                (Some("income"), Some("country"))
            );
        }
        other => panic!("{other:?}"),
    }
    match reference.check_features(&["age", "country", "income", "extra"]) {
        Err(
            error @ ReferenceError::FeatureMismatch {
                index: 3,
                found: None,
                ..
            },
        ) => {
            assert!(error.to_string().contains("`extra`"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    match reference.check_features(&["age"]) {
        Err(ReferenceError::FeatureMismatch {
            index: 1,
            expected: None,
            found,
        }) => {
            assert_eq!(found.as_deref(), Some("country"));
        }
        other => panic!("{other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------

#[test]
fn json_round_trip_is_exact() {
    let reference = sample_reference();
    let json = reference.to_json();
    let loaded = Reference::from_json(&json).unwrap();
    assert_eq!(loaded, reference);
    // Bit-identical edges (0.1 + 0.2 and friends survive).
    for (a, b) in loaded.features.iter().zip(&reference.features) {
        if let (FeatureProfile::Numeric(a), FeatureProfile::Numeric(b)) = (a, b) {
            let bits = |p: &NumericProfile| p.edges.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(b));
        }
    }
    assert_eq!(loaded.to_json(), json, "stable output");
    // Layout: version first, kind tags.
    assert!(
        json.trim_start().starts_with("{\n  \"schema_version\": 2,"),
        "{json}"
    );
    let value: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["features"][1]["kind"], "categorical");
    assert_eq!(value["features"][0]["kind"], "numeric");
}

#[test]
fn save_and_load() {
    let reference = sample_reference();
    let path = std::env::temp_dir().join(format!("mlotel-reference-{}.json", std::process::id()));
    reference.save(&path).unwrap();
    let loaded = Reference::load(&path);
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded.unwrap(), reference);
    match Reference::load(&path) {
        Err(error @ ReferenceError::Io { .. }) => {
            assert!(error.to_string().contains("mlotel-reference-"), "{error}");
        }
        other => panic!("{other:?}"),
    }
}

/// The sample reference as a JSON value, edited by `edit`, then parsed.
fn parse_edited(edit: impl FnOnce(&mut Value)) -> Result<Reference, ReferenceError> {
    let mut value: Value = serde_json::from_str(&sample_reference().to_json()).unwrap();
    edit(&mut value);
    Reference::from_json(&serde_json::to_string_pretty(&value).unwrap())
}

fn json_path(result: Result<Reference, ReferenceError>) -> (String, String) {
    match result {
        Err(ReferenceError::Json {
            path,
            message,
            line,
            column,
        }) => {
            assert!(line > 0 && column > 0);
            (path, message)
        }
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

fn invalid_path(result: Result<Reference, ReferenceError>) -> (String, String) {
    match result {
        Err(ReferenceError::Invalid { path, message }) => (path, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn wrong_type_names_the_field() {
    let result = parse_edited(|v| v["features"][2]["edges"] = json!([1.0, "two"]));
    let (path, message) = json_path(result);
    assert_eq!(path, "features[2].edges[1]", "{message}");
    let (path, message) = json_path(parse_edited(|v| v["features"][0]["edges"] = json!("nope")));
    assert_eq!(path, "features[0].edges");
    assert!(message.contains("invalid type"), "{message}");
    let (path, _) = json_path(parse_edited(|v| v["label"]["count"] = json!(-1)));
    assert_eq!(path, "label.count");
    let (path, _) = json_path(parse_edited(|v| {
        v["features"][0]["kind"] = json!("ordinal")
    }));
    assert_eq!(path, "features[0].kind");
}

#[test]
fn wrong_type_in_second_numeric_feature() {
    // The contract's example, on the text as written (`kind` first: read without buffering).
    let rows = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
    let reference = Reference::fit_numeric(rows, &["a", "b"], FitOptions::default()).unwrap();
    let json = reference.to_json();
    let second = json.match_indices("\"edges\": [").nth(1).unwrap().0;
    let broken = format!(
        "{}\"edges\": [\"x\", {}",
        &json[..second],
        &json[second + 10..]
    );
    let error = Reference::from_json(&broken).unwrap_err();
    match &error {
        ReferenceError::Json {
            path,
            line,
            message,
            ..
        } => {
            assert_eq!(path, "features[1].edges[0]", "{message}");
            let expected_line = broken[..second].lines().count();
            assert_eq!(*line, expected_line, "{broken}");
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("features[1].edges"), "{error}");

    let second = json.match_indices("\"edges\": ").nth(1).unwrap().0;
    let broken = format!(
        "{}\"edges\": {{}}, \"x\": {}",
        &json[..second],
        &json[second + 9..]
    );
    match Reference::from_json(&broken) {
        Err(ReferenceError::Json { path, .. }) => assert_eq!(path, "features[1].edges"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_field_names_the_field() {
    let result = parse_edited(|v| {
        v["features"][2].as_object_mut().unwrap().remove("std");
    });
    let (path, message) = json_path(result);
    assert_eq!(path, "features[2].std");
    assert!(message.contains("missing field `std`"), "{message}");
    let (path, _) = json_path(parse_edited(|v| {
        v.as_object_mut().unwrap().remove("rows");
    }));
    assert_eq!(path, "rows");
    let (path, _) = json_path(parse_edited(|v| {
        v["features"][0].as_object_mut().unwrap().remove("kind");
    }));
    assert_eq!(path, "features[0].kind");
}

#[test]
fn unsupported_schema_version() {
    match parse_edited(|v| v["schema_version"] = json!(3)) {
        Err(ReferenceError::UnsupportedSchemaVersion {
            found: 3,
            supported,
        }) => {
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("{other:?}"),
    }
    // Even when the rest of the layout is unknown.
    match Reference::from_json(r#"{"schema_version": 7, "profiles": {}}"#) {
        Err(ReferenceError::UnsupportedSchemaVersion { found: 7, .. }) => {}
        other => panic!("{other:?}"),
    }
    match parse_edited(|v| v["schema_version"] = json!(0)) {
        Err(ReferenceError::UnsupportedSchemaVersion { found: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    let (path, _) = json_path(parse_edited(|v| v["schema_version"] = json!("1")));
    assert_eq!(path, "schema_version");
}

/// A file written before schema version 2 (no `tail_means`, no `calibration`) still loads,
/// as a current reference without them; the Wasserstein distance then closes the outer bins
/// at the midpoints of `[min, first edge]` and `[last edge, max]`.
#[test]
fn a_schema_version_1_file_still_loads() {
    let current = sample_reference();
    let mut value: Value = serde_json::from_str(&current.to_json()).unwrap();
    value["schema_version"] = json!(1);
    for feature in value["features"].as_array_mut().unwrap() {
        let object = feature.as_object_mut().unwrap();
        object.remove("tail_means");
        object.remove("calibration");
    }
    let old = Reference::from_json(&value.to_string()).unwrap();
    assert_eq!(old.schema_version, SCHEMA_VERSION);
    assert_eq!(old.features.len(), current.features.len());
    let profile = numeric(&old, 0);
    assert_eq!(profile.tail_means, None);
    let (first, last) = (profile.edges[0], profile.edges[profile.edges.len() - 1]);
    assert_eq!(
        profile.tail_means(),
        [
            profile.min / 2.0 + first / 2.0,
            last / 2.0 + profile.max / 2.0
        ]
    );
    assert_eq!(numeric(&current, 0).tail_means().len(), 2);
    assert!(numeric(&current, 0).tail_means.is_some());
    // Written back, it is a version 2 file that reads the same.
    let again = Reference::from_json(&old.to_json()).unwrap();
    assert_eq!(again, old);
}

#[test]
fn tail_means_and_calibration_are_validated() {
    let (path, _) = invalid_path(parse_edited(|v| {
        v["features"][0]["tail_means"] = json!([1e9, 0.0])
    }));
    assert_eq!(path, "features[0].tail_means");
    let calibrated = sample_reference()
        .calibrate(CalibrationOptions {
            window: 200,
            windows: 100,
            ..CalibrationOptions::default()
        })
        .unwrap();
    let mut value: Value = serde_json::from_str(&calibrated.to_json()).unwrap();
    value["features"][0]["calibration"]["thresholds"]["nope"] = json!(0.1);
    match Reference::from_json(&value.to_string()) {
        Err(ReferenceError::Invalid { path, .. }) => {
            assert_eq!(path, "features[0].calibration.thresholds.nope");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_increasing_edges() {
    let (path, message) = invalid_path(parse_edited(|v| {
        let edges = v["features"][0]["edges"].as_array_mut().unwrap();
        edges[3] = edges[2].clone();
    }));
    assert_eq!(path, "features[0].edges");
    assert!(message.contains("strictly increasing"), "{message}");
}

#[test]
fn proportions_not_summing_to_one() {
    let (path, message) = invalid_path(parse_edited(|v| {
        let p = v["features"][2]["proportions"].as_array_mut().unwrap();
        p[0] = json!(p[0].as_f64().unwrap() + 0.01);
    }));
    assert_eq!(path, "features[2].proportions");
    assert!(message.contains("sum"), "{message}");
    let (path, _) = invalid_path(parse_edited(|v| {
        let p = v["confidence"]["proportions"].as_array_mut().unwrap();
        p[0] = json!(-0.5);
    }));
    assert_eq!(path, "confidence.proportions");
}

#[test]
fn length_mismatch() {
    let (path, message) = invalid_path(parse_edited(|v| {
        v["features"][1]["proportions"]
            .as_array_mut()
            .unwrap()
            .pop();
    }));
    assert_eq!(path, "features[1].proportions");
    assert!(message.contains("expected"), "{message}");
    let (path, _) = invalid_path(parse_edited(|v| {
        v["features"][0]["edges"].as_array_mut().unwrap().pop();
    }));
    assert_eq!(path, "features[0].proportions");
}

#[test]
fn other_inconsistencies() {
    let (path, _) = invalid_path(parse_edited(|v| v["features"][2]["std"] = json!(-1.0)));
    assert_eq!(path, "features[2].std");
    let (path, _) = invalid_path(parse_edited(|v| v["features"][0]["min"] = json!(1e9)));
    assert_eq!(path, "features[0].min");
    let (path, message) = invalid_path(parse_edited(|v| v["features"][2]["name"] = json!("age")));
    assert_eq!(path, "features[2].name");
    assert!(message.contains("duplicate"), "{message}");
    let (path, _) = invalid_path(parse_edited(|v| v["features"][0]["name"] = json!("")));
    assert_eq!(path, "features[0].name");
    let (path, _) = invalid_path(parse_edited(|v| v["rows"] = json!(199)));
    assert_eq!(path, "features[0].count");
    let (path, _) = invalid_path(parse_edited(|v| {
        let categories = v["label"]["categories"].as_array_mut().unwrap();
        categories[1] = categories[0].clone();
    }));
    assert_eq!(path, "label.categories");
}

#[test]
fn malformed_json_gives_line_and_column() {
    let json = sample_reference().to_json();
    let broken = json.replacen("\"rows\": 200,", "\"rows\": 200,,", 1);
    match Reference::from_json(&broken) {
        Err(ReferenceError::Json {
            line, column, path, ..
        }) => {
            assert_eq!(line, 3, "{path} {column}");
            assert!(column > 10, "{column}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Reference::from_json(""),
        Err(ReferenceError::Json { .. })
    ));
    assert!(matches!(
        Reference::from_json("[1, 2]"),
        Err(ReferenceError::Json { .. })
    ));
    assert!(matches!(
        Reference::from_json(&(json + "x")),
        Err(ReferenceError::Json { .. })
    ));
}

#[test]
fn kind_tag_anywhere_in_the_object() {
    let reference = sample_reference();
    let mut value: Value = serde_json::from_str(&reference.to_json()).unwrap();
    // Move `kind` to the end of every feature object.
    for feature in value["features"].as_array_mut().unwrap() {
        let object = feature.as_object_mut().unwrap();
        let kind = object.remove("kind").unwrap();
        object.insert("kind".into(), kind);
    }
    let text = serde_json::to_string(&value).unwrap();
    assert!(text.contains(r#""max":"#) && !text.contains(r#"{"kind""#));
    assert_eq!(Reference::from_json(&text).unwrap(), reference);
}

// ---------------------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------------------

const CSV: &str = "\
id,age,city,code,mixed,pred,score,empty
1,31.5,paris,3,1,yes,0.9,
2,NA,berlin,3,x,no,0.8,NA
3,40, paris ,4,2,yes,,null
4,28,,3,3,yes,0.7,
5,1e1,None,5,nan,no,0.95,NaN
";

#[test]
fn csv_infers_kinds_and_missing_cells() {
    let options = CsvOptions {
        categorical: vec!["code".into()],
        label_column: Some("pred".into()),
        confidence_column: Some("score".into()),
        exclude: vec!["id".into()],
        ..CsvOptions::default()
    };
    let reference = Reference::from_csv_reader(CSV.as_bytes(), options).unwrap();
    assert_eq!(reference.rows, 5);
    assert_eq!(
        reference.feature_names().collect::<Vec<_>>(),
        ["age", "city", "code", "mixed", "empty"]
    );
    let kinds: Vec<FeatureKind> = reference
        .features
        .iter()
        .map(FeatureProfile::kind)
        .collect();
    use FeatureKind::{Categorical, Numeric};
    assert_eq!(
        kinds,
        [Numeric, Categorical, Categorical, Categorical, Numeric]
    );

    let age = numeric(&reference, 0);
    assert_eq!(
        (age.count, age.missing, age.min, age.max),
        (4, 1, 10.0, 40.0)
    );
    let city = categorical(&reference, 1);
    assert_eq!(
        city.categories,
        ["paris", "berlin"],
        "trimmed; '' and None missing"
    );
    assert_eq!((city.count, city.missing), (3, 2));
    let code = categorical(&reference, 2);
    assert_eq!(code.categories, ["3", "4", "5"]);
    let mixed = categorical(&reference, 3);
    assert_eq!((mixed.count, mixed.missing), (4, 1));
    let empty = numeric(&reference, 4);
    assert_eq!((empty.count, empty.missing), (0, 5));
    assert_eq!(empty.proportions, [0.0, 1.0]);

    let label = reference.label.as_ref().unwrap();
    assert_eq!(
        (label.name.as_str(), label.categories.clone()),
        ("pred", vec!["yes".into(), "no".into()])
    );
    let score = reference.confidence.as_ref().unwrap();
    assert_eq!(
        (score.count, score.missing, score.min, score.max),
        (4, 1, 0.7, 0.95)
    );
}

#[test]
fn csv_all_columns_are_features_by_default() {
    let reference = Reference::from_csv_reader(CSV.as_bytes(), CsvOptions::default()).unwrap();
    assert_eq!(reference.features.len(), 8);
    assert_eq!(reference.features[0].kind(), FeatureKind::Numeric);
    assert_eq!(reference.features[5].kind(), FeatureKind::Categorical);
    assert!(reference.label.is_none() && reference.confidence.is_none());
}

fn csv_error(text: &str, options: CsvOptions) -> (Option<u64>, Option<String>, String) {
    match Reference::from_csv_reader(text.as_bytes(), options) {
        Err(ReferenceError::Csv {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a CSV error, got {other:?}"),
    }
}

#[test]
fn csv_ragged_row_names_the_line() {
    let (line, _, message) = csv_error("a,b\n1,2\n3,4\n5\n6,7\n", CsvOptions::default());
    assert_eq!(line, Some(4));
    assert!(
        message.contains("expected 2 fields") && message.contains("found 1"),
        "{message}"
    );
    let (line, _, _) = csv_error("a,b\n1,2\n3,4,5\n", CsvOptions::default());
    assert_eq!(line, Some(3));
}

#[test]
fn csv_errors_name_line_and_column() {
    let options = CsvOptions {
        confidence_column: Some("s".into()),
        ..CsvOptions::default()
    };
    let (line, column, message) = csv_error("a,s\n1,0.5\n2,high\n", options);
    assert_eq!((line, column.as_deref()), (Some(3), Some("s")));
    assert!(message.contains("high"), "{message}");

    let (line, column, _) = csv_error("a,b\n1,2\n3,inf\n", CsvOptions::default());
    assert_eq!((line, column.as_deref()), (Some(3), Some("b")));

    let options = CsvOptions {
        exclude: vec!["zz".into()],
        ..CsvOptions::default()
    };
    let (line, column, _) = csv_error("a,b\n1,2\n", options);
    assert_eq!((line, column.as_deref()), (Some(1), Some("zz")));

    let (line, column, message) = csv_error("a,a\n1,2\n", CsvOptions::default());
    assert_eq!((line, column.as_deref()), (Some(1), Some("a")));
    assert!(message.contains("duplicate"), "{message}");

    let error = Reference::from_csv_reader("a,b\n1,2\n3\n".as_bytes(), CsvOptions::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("line 3"), "{error}");
}

#[test]
fn csv_without_data_is_empty() {
    for text in ["", "a,b\n"] {
        match Reference::from_csv_reader(text.as_bytes(), CsvOptions::default()) {
            Err(ReferenceError::Empty { .. }) => {}
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn csv_path_errors_name_the_file() {
    match Reference::from_csv_path("/nonexistent/data.csv", CsvOptions::default()) {
        Err(error @ ReferenceError::Io { .. }) => {
            assert!(
                error.to_string().contains("/nonexistent/data.csv"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn csv_and_rows_agree() {
    let text = "x,y\n1,a\n2,b\n3,a\n4,\n";
    let from_csv = Reference::from_csv_reader(text.as_bytes(), CsvOptions::default()).unwrap();
    let schema = Schema::new().numeric("x").categorical("y");
    let rows = [
        [FeatureValue::Number(1.0), "a".into()],
        [FeatureValue::Number(2.0), "b".into()],
        [FeatureValue::Number(3.0), "a".into()],
        [FeatureValue::Number(4.0), FeatureValue::Missing],
    ];
    let from_rows = Reference::fit(rows, &schema, FitOptions::default()).unwrap();
    assert_eq!(from_csv, from_rows);
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -1e6..1e6f64,
            2 => (0..5i32).prop_map(f64::from),
            1 => Just(f64::NAN),
            1 => prop_oneof![Just(f64::MAX), Just(f64::MIN), Just(-0.0), Just(5e-324)],
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn fitted_numeric_profiles_are_consistent(
            values in prop::collection::vec(value(), 1..120),
            bins in 1usize..25,
        ) {
            let reference = match Reference::fit_numeric(column(&values), &["x"], opts(bins, 20)) {
                Ok(reference) => reference,
                // Extreme magnitudes may overflow the mean or an edge: an error, never a panic.
                Err(ReferenceError::Invalid { .. }) => return Ok(()),
                Err(other) => panic!("{other:?}"),
            };
            let profile = numeric(&reference, 0);
            prop_assert!(profile.edges.len() < bins);
            prop_assert!(profile.edges.windows(2).all(|pair| pair[0] < pair[1]));
            let finite: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
            prop_assert_eq!(profile.count as usize, finite.len());
            if let (Some(first), Some(last)) = (profile.edges.first(), profile.edges.last()) {
                prop_assert!(profile.min <= *first && *last <= profile.max);
            }
            // Every non-missing value lands in the value bin whose edges bracket it.
            for x in &finite {
                let bin = profile.bin(*x);
                prop_assert!(bin < profile.value_bins());
                prop_assert!(bin == 0 || profile.edges[bin - 1] <= *x);
                prop_assert!(bin == profile.edges.len() || *x < profile.edges[bin]);
            }
            let mut counts = vec![0u64; profile.bins()];
            for x in &values {
                counts[profile.bin(*x)] += 1;
            }
            let n = values.len() as f64;
            let expected: Vec<f64> = counts.iter().map(|c| *c as f64 / n).collect();
            prop_assert_eq!(&profile.proportions, &expected);
            prop_assert_eq!(Reference::from_json(&reference.to_json()).unwrap(), reference.clone());
        }

        #[test]
        fn fitted_categorical_profiles_rank_by_frequency(
            values in prop::collection::vec(prop::option::weighted(0.9, "[a-f]{1,2}"), 1..150),
            top in 0usize..8,
        ) {
            let rows: Vec<[FeatureValue<'_>; 1]> =
                values.iter().map(|v| [v.as_deref().into()]).collect();
            let schema = Schema::new().categorical("c");
            let reference = Reference::fit(&rows, &schema, opts(10, top)).unwrap();
            let profile = categorical(&reference, 0);
            prop_assert!(profile.categories.len() <= top);
            let frequency = |c: &str| values.iter().filter(|v| v.as_deref() == Some(c)).count();
            for pair in profile.categories.windows(2) {
                let (a, b) = (frequency(&pair[0]), frequency(&pair[1]));
                prop_assert!(a > b || (a == b && pair[0] < pair[1]), "{:?}", profile.categories);
            }
            // Anything not kept is no more frequent than the last kept category.
            if let Some(last) = profile.categories.last() {
                for v in values.iter().flatten() {
                    if !profile.categories.contains(v) {
                        prop_assert!(frequency(v) <= frequency(last));
                    }
                }
            }
            let sum: f64 = profile.proportions.iter().sum();
            prop_assert!((sum - 1.0).abs() < 1e-12);
            prop_assert_eq!(Reference::from_json(&reference.to_json()).unwrap(), reference.clone());
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = Reference::from_json(&text);
            let _ = Reference::from_csv_reader(text.as_bytes(), CsvOptions::default());
        }

        #[test]
        fn corrupted_references_never_panic(
            at in 0usize..4000,
            len in 0usize..12,
            with in prop::sample::select(vec![
                "", "}", "]", "\"", ",", "-1", "1e999", "null", "[]", "{}", "0.5", "true", "\"x\"",
            ]),
        ) {
            let json = sample_reference().to_json();
            let at = at.min(json.len());
            let end = (at + len).min(json.len());
            if json.is_char_boundary(at) && json.is_char_boundary(end) {
                let corrupted = format!("{}{with}{}", &json[..at], &json[end..]);
                if let Ok(reference) = Reference::from_json(&corrupted) {
                    reference.validate().unwrap();
                }
            }
        }
    }
}
