use std::sync::Arc;
use std::time::Duration;

use super::state::ModelState;
use super::*;
use crate::drift::reference::{FeatureValue, Reference};
use crate::drift::stats::DriftMethod;

fn unbound(name: &str) -> Model {
    Model {
        state: Arc::new(ModelState::new(Model::builder(name).version("1"), None)),
    }
}

#[test]
fn snapshot_counts_predictions_and_mean_confidence_across_hand_overs() {
    let model = unbound("snapshot");
    let empty = model.snapshot();
    assert_eq!(
        (empty.name.as_str(), empty.version.as_str()),
        ("snapshot", "1")
    );
    assert_eq!(empty.predictions, 0);
    assert_eq!(empty.mean_confidence, None);
    assert!(!empty.loaded);
    assert_eq!(empty.load_duration_seconds, None);

    let ms = Duration::from_millis(1);
    model.record_prediction(
        ms,
        1,
        Outcome::Ok {
            label: Some("a"),
            confidence: Some(0.8),
        },
    );
    model.record_prediction(
        ms,
        3,
        Outcome::Ok {
            label: None,
            confidence: Some(0.4),
        },
    );
    model.record_prediction(ms, 2, Outcome::Error { error_type: "bad" });
    let before = model.snapshot();
    assert_eq!(before.predictions, 6);
    // Per row: (0.8 × 1 + 0.4 × 3) / 4.
    let mean = before.mean_confidence.unwrap_or_default();
    assert!((mean - 0.5).abs() < 1e-9, "mean {mean}");

    // Handed over (here dropped: nothing is bound), the totals stay.
    model.flush();
    let after = model.snapshot();
    assert_eq!(after.predictions, 6);
    assert_eq!(after.mean_confidence, before.mean_confidence);

    model.set_loaded(true);
    model.set_load_duration(Duration::from_secs(2));
    let loaded = model.snapshot();
    assert!(loaded.loaded);
    assert_eq!(loaded.load_duration_seconds, Some(2.0));
}

fn categorical_reference() -> Reference {
    use crate::drift::reference::{FitOptions, Schema};
    let schema = Schema::new().categorical("color").numeric("size");
    let colors = ["red", "green", "blue", "red"];
    let rows: Vec<[FeatureValue<'_>; 2]> = (0..2_000)
        .map(|row| {
            [
                FeatureValue::Category(colors[row % colors.len()]),
                FeatureValue::Number((row % 50) as f64),
            ]
        })
        .collect();
    Reference::fit(&rows, &schema, FitOptions::default()).expect("fits")
}

#[test]
fn categorical_values_drift_when_their_mix_changes() {
    let mut builder = Model::builder("categorical").reference(categorical_reference());
    builder.check_reference().expect("matches");
    let model = Model {
        state: Arc::new(ModelState::new(builder, None)),
    };
    assert_eq!(model.drift_status(), "insufficient_data");
    // Only blue now (a quarter of the reference), and sizes as before.
    for row in 0..1_000 {
        model.observe_values(&[
            FeatureValue::Category("blue"),
            FeatureValue::Number((row % 50) as f64),
        ]);
    }
    let report = model.drift_report().expect("has a reference");
    assert_eq!(report.rows, 1_000);
    let color = &report.features[0];
    let size = &report.features[1];
    assert!(color.detected, "{color:?}");
    assert!(!size.detected, "{size:?}");
    assert_eq!(
        color.value(DriftMethod::KolmogorovSmirnov),
        None,
        "not for categories"
    );
    assert_eq!(report.drift_share, Some(0.5));
    assert_eq!(model.drift_status(), "drift");
}

#[test]
fn a_reference_whose_features_differ_from_the_models_is_an_error_naming_them() {
    let error = Model::builder("mismatch")
        .features(["colour", "size"])
        .reference(categorical_reference())
        .try_register()
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(
        error.contains("colour") && error.contains("color"),
        "{error}"
    );
    // register() keeps the model, without drift.
    let model = Model::builder("mismatch")
        .features(["colour", "size"])
        .reference(categorical_reference())
        .register();
    assert!(model.reference().is_none());
    assert_eq!(model.drift_status(), crate::drift::NOT_MONITORED);
}

#[test]
fn odd_rows_never_panic_and_count_missing_and_out_of_range_values() {
    use crate::drift::reference::FitOptions;
    let rows: Vec<[f64; 2]> = (0..100).map(|row| [f64::from(row), 1.0]).collect();
    let reference =
        Reference::fit_numeric(&rows, &["a", "b"], FitOptions::default()).expect("fits");
    let mut builder = Model::builder("odd_rows").reference(reference);
    builder.check_reference().expect("matches");
    let model = Model {
        state: Arc::new(ModelState::new(builder, None)),
    };
    model.observe_features(&[f64::NAN, f64::INFINITY]);
    model.observe_features(&[f64::NEG_INFINITY, 1e300]);
    model.observe_features(&[-5.0]); // shorter than the reference
    model.observe_features(&[1.0, 1.0, 7.0, 8.0]); // longer: the extra values are ignored
    model.observe_features(&[Some(3.0), None]);
    let stripes = &model.state.stripes;
    let missing = stripes.sum(|stripe| stripe.missing.iter().sum());
    let out_of_range = stripes.sum(|stripe| stripe.out_of_range.iter().sum());
    // NaN and None are missing; 1e300 and -5 lie outside the reference range (infinities
    // are not judged).
    assert_eq!((missing, out_of_range), (2, 2));
    let report = model
        .state
        .drift
        .as_ref()
        .map(|drift| drift.report(|| model.flush()))
        .expect("has a reference");
    assert_eq!(report.rows, 5);
}

fn with_reference(name: &str, reference: Reference) -> Model {
    let mut builder = Model::builder(name).reference(reference);
    builder.check_reference().expect("matches");
    Model {
        state: Arc::new(ModelState::new(builder, None)),
    }
}

/// A reference of `features` numeric features and `classes` equally frequent labels.
fn wide_reference(features: usize, classes: usize) -> (Reference, Vec<String>) {
    use crate::drift::reference::FitOptions;
    let names: Vec<String> = (0..features).map(|feature| format!("f{feature}")).collect();
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let rows: Vec<Vec<f64>> = (0..2_000)
        .map(|row| {
            (0..features)
                .map(|feature| ((row + feature) % 20) as f64)
                .collect()
        })
        .collect();
    let labels: Vec<String> = (0..classes).map(|class| format!("class{class}")).collect();
    let options = FitOptions {
        top_categories: classes,
        ..FitOptions::default()
    };
    let reference = Reference::fit_numeric(&rows, &names_ref, options)
        .and_then(|reference| {
            reference.with_predictions(
                (0..2_000).map(|row| labels[row % classes].as_str()),
                (0..2_000).map(|row| 0.5 + (row % 50) as f64 / 100.0),
                options,
            )
        })
        .expect("fits");
    (reference, labels)
}

#[test]
fn undeclared_labels_come_from_the_reference_so_many_classes_do_not_look_like_drift() {
    let (reference, labels) = wide_reference(2, 40);
    let model = with_reference("forty_classes", reference);
    for row in 0..4_000 {
        model.record_prediction(
            Duration::from_micros(10),
            1,
            Outcome::Ok {
                label: Some(&labels[row % labels.len()]),
                confidence: Some(0.5 + (row % 50) as f64 / 100.0),
            },
        );
    }
    let report = model.drift_report().expect("has a reference");
    let label = report.label.as_ref().expect("label drift is reported");
    assert!(!label.detected, "{label:?}");
    assert!(
        label.value(DriftMethod::Psi).unwrap_or(1.0) < 0.05,
        "{label:?}"
    );
}

#[test]
fn predictions_without_a_label_are_not_label_drift() {
    let (reference, _) = wide_reference(2, 3);
    let model = with_reference("unlabelled", reference);
    for row in 0..600 {
        model.record_prediction(
            Duration::from_micros(10),
            1,
            Outcome::Ok {
                label: None,
                confidence: Some(0.5 + (row % 50) as f64 / 100.0),
            },
        );
    }
    let report = model.drift_report().expect("has a reference");
    assert!(report.label.is_none(), "{:?}", report.label);
    let confidence = report
        .confidence
        .as_ref()
        .expect("confidence drift is reported");
    assert!(!confidence.detected, "{confidence:?}");
    assert_eq!(model.drift_status(), "ok");
}

#[test]
fn rows_of_more_than_32_features_are_counted_whole_across_hand_overs() {
    let (reference, _) = wide_reference(40, 3);
    let model = with_reference("forty_features", reference);
    for row in 0..600 {
        let values: Vec<f64> = (0..40)
            .map(|feature| ((row + feature) % 20) as f64)
            .collect();
        model.observe_features(&values);
        if row % 7 == 0 {
            model.flush();
        }
    }
    let report = model.drift_report().expect("has a reference");
    assert_eq!(report.features.len(), 40);
    for feature in &report.features {
        assert_eq!(feature.observations, 600, "{}", feature.name);
        assert!(!feature.detected, "{feature:?}");
    }
}

#[test]
fn registered_models_lists_registrations() {
    let model = Model::builder("snapshot_registered")
        .version("7")
        .register();
    model.set_loaded(true);
    let found = crate::registered_models()
        .into_iter()
        .find(|model| model.name() == "snapshot_registered")
        .map(|model| model.snapshot());
    assert_eq!(
        found.map(|s| (s.version, s.loaded)),
        Some(("7".to_owned(), true))
    );
}
