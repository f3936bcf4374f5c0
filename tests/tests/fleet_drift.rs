//! Fleet-wide drift from the bin counters: three "replicas" (model versions of their own in
//! one process, each given a third of a shifted stream) and one "pooled" model given every
//! row. Their `/metrics` bin counters must add up to the pooled one's, and the recording rules
//! (deploy/prometheus/rules/fleet_drift.yml) must compute, from the replicas' counters and the
//! reference gauges, the PSI and Jensen–Shannon values the engine reports for the pooled rows.
//!
//! The second half is a promtool unit test: `deploy/prometheus/tests/fleet_drift_test.yml` is
//! written from the counters rendered here and the pooled model's report, and this test fails
//! when the committed file differs (`MLOTEL_BLESS=1 cargo test -p mlotel-tests --test
//! fleet_drift` rewrites it; scripts/check-deploy.sh runs it with promtool).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use mlotel::drift::reference::{FitOptions, Reference};
use mlotel::drift::stats::DriftMethod;
use mlotel::drift::{DriftReport, Window};
use mlotel::{Model, Outcome, Telemetry};
use mlotel_tests::SplitMix64;

const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];
const REPLICAS: usize = 3;

fn reference() -> Reference {
    let mut rng = SplitMix64::new(16);
    let rows: Vec<[f64; 2]> = (0..5_000)
        .map(|_| [rng.normal(), 10.0 * rng.uniform()])
        .collect();
    let labels: Vec<&str> = (0..5_000)
        .map(|_| LABELS[rng.pick(&[0.34, 0.33, 0.33])])
        .collect();
    let confidences: Vec<f64> = (0..5_000).map(|_| 0.5 + 0.5 * rng.uniform()).collect();
    Reference::fit_numeric(&rows, &["shifted", "steady"], FitOptions::default())
        .and_then(|reference| {
            reference.with_predictions(labels, confidences, FitOptions::default())
        })
        .expect("fits")
}

/// One live row: `shifted` moved by three standard deviations, `steady` as in training but 0.5 %
/// missing; the labels leaning to setosa; the confidence as in training.
fn live_row(rng: &mut SplitMix64) -> ([f64; 2], &'static str, f64) {
    let steady = if rng.uniform() < 0.005 {
        f64::NAN
    } else {
        10.0 * rng.uniform()
    };
    (
        [rng.normal() + 3.0, steady],
        LABELS[rng.pick(&[0.6, 0.2, 0.2])],
        0.5 + 0.5 * rng.uniform(),
    )
}

struct Fleet {
    replicas: Vec<Model>,
    pooled: Model,
}

fn fleet(telemetry: &Telemetry, version: &str) -> Fleet {
    let model = |name: String| {
        telemetry.model(
            Model::builder(name)
                .version(version)
                .labels(LABELS)
                .reference(reference())
                .drift_window(Window::count(1_000_000))
                .drift_min_observations(1),
        )
    };
    Fleet {
        replicas: (0..REPLICAS)
            .map(|replica| model(format!("replica-{replica}")))
            .collect(),
        pooled: model("pooled".to_owned()),
    }
}

/// Sends `rows` live rows round-robin to the replicas, and each to the pooled model too.
fn run(fleet: &Fleet, rows: usize, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for row in 0..rows {
        let (features, label, confidence) = live_row(&mut rng);
        for model in [&fleet.replicas[row % REPLICAS], &fleet.pooled] {
            model.observe_features(&features);
            model.record_prediction(
                Duration::from_millis(1),
                1,
                Outcome::Ok {
                    label: Some(label),
                    confidence: Some(confidence),
                },
            );
        }
    }
}

/// A sample of the exposition: its name and labels, and its value.
type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

fn samples(exposition: &str) -> Samples {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = series.split_once('{').unwrap_or((series, "}"));
            let labels = labels
                .trim_end_matches('}')
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            Some((name.to_owned(), labels, value.parse().ok()?))
        })
        .collect()
}

/// The bin series of model `model` (`ml_feature_bin_observations_total` etc.), by (feature or
/// signal, bin).
fn bin_series(samples: &Samples, metric: &str, model: &str) -> BTreeMap<(String, String), f64> {
    samples
        .iter()
        .filter(|(name, labels, _)| name == metric && labels["ml_model_name"] == model)
        .map(|(_, labels, value)| {
            let of = labels
                .get("ml_feature_name")
                .or_else(|| labels.get("ml_drift_signal"))
                .cloned()
                .unwrap_or_default();
            ((of, labels["ml_drift_bin"].clone()), *value)
        })
        .collect()
}

const COUNTERS: [(&str, &str); 2] = [
    ("ml_feature_bin_observations_total", "ml_feature_name"),
    ("ml_prediction_bin_observations_total", "ml_drift_signal"),
];
const REFERENCES: [(&str, &str); 2] = [
    ("ml_feature_bin_reference_ratio", "ml_feature_name"),
    ("ml_prediction_bin_reference_ratio", "ml_drift_signal"),
];

/// `{a="b", ...}` of promtool's series notation.
fn selector(labels: &[(&str, &str)]) -> String {
    let pairs: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{value}\""))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

const STEPS: usize = 30;

/// The input series of one model version: each replica's counters growing by its counts every
/// minute (so the share of every bin in any window is the replica's), and the reference gauges.
fn input_series(out: &mut String, samples: &Samples, prefix: &str, version: &str) {
    for replica in 0..REPLICAS {
        let instance = format!("replica-{replica}:8080");
        for (metric, key) in COUNTERS {
            for ((of, bin), count) in bin_series(samples, metric, &format!("{prefix}{replica}")) {
                let labels = selector(&[
                    ("job", "predictor"),
                    ("instance", &instance),
                    ("ml_model_name", "iris"),
                    ("ml_model_version", version),
                    (key, &of),
                    ("ml_drift_bin", &bin),
                    ("otel_scope_name", "mlotel"),
                ]);
                writeln!(out, "      - series: '{metric}{labels}'")
                    .expect("a String takes any write");
                writeln!(out, "        values: '0+{count}x{STEPS}'")
                    .expect("a String takes any write");
            }
        }
        for (metric, key) in REFERENCES {
            for ((of, bin), share) in bin_series(samples, metric, &format!("{prefix}{replica}")) {
                let labels = selector(&[
                    ("job", "predictor"),
                    ("instance", &instance),
                    ("ml_model_name", "iris"),
                    ("ml_model_version", version),
                    (key, &of),
                    ("ml_drift_bin", &bin),
                    ("otel_scope_name", "mlotel"),
                ]);
                writeln!(out, "      - series: '{metric}{labels}'")
                    .expect("a String takes any write");
                writeln!(out, "        values: '{share:?}x{STEPS}'")
                    .expect("a String takes any write");
            }
        }
    }
}

/// A check that `rule`'s value for `of` equals `expected` to 1e-9.
fn close_to(out: &mut String, rule: &str, version: &str, key: &str, of: &str, expected: f64) {
    let labels = [
        ("job", "predictor"),
        ("ml_model_name", "iris"),
        ("ml_model_version", version),
        (key, of),
    ];
    writeln!(
        out,
        "      - expr: 'abs({rule}{} - {expected:?}) < bool 1e-9'",
        selector(&labels)
    )
    .expect("a String takes any write");
    writeln!(out, "        eval_time: 10m").expect("a String takes any write");
    writeln!(out, "        exp_samples:").expect("a String takes any write");
    writeln!(out, "          - labels: '{}'", selector(&labels)).expect("a String takes any write");
    writeln!(out, "            value: 1").expect("a String takes any write");
}

/// The engine's value of `method` for feature or signal `of` in `report`.
fn engine(report: &DriftReport, of: &str, method: DriftMethod) -> f64 {
    report
        .features
        .iter()
        .chain(&report.label)
        .chain(&report.confidence)
        .find(|drift| drift.name == of)
        .and_then(|drift| drift.value(method))
        .unwrap_or_else(|| panic!("the engine reports {method:?} of {of}"))
}

fn promtool_test(samples: &Samples, shifted: &DriftReport, small: &DriftReport) -> String {
    let mut out = String::from(
        "# Written by tests/tests/fleet_drift.rs from the bin counters of three replicas and the\n\
         # report of one model given every row (MLOTEL_BLESS=1 cargo test -p mlotel-tests --test\n\
         # fleet_drift): the fleet-wide rules must give the engine's PSI and Jensen-Shannon on\n\
         # the pooled counts, to 1e-9. Do not edit by hand.\n\
         #\n\
         # Version 3.0.0: 1000 rows a minute per replica, `shifted` moved by three standard\n\
         # deviations (none in its lowest bins: zero window shares, floored), `steady` as in training with 0.5 % missing (the reference has none: a zero\n\
         # reference share, floored), labels leaning to setosa. Version 0.1.0: 30 rows a minute\n\
         # per replica: 450 in 5 minutes, below the minimum of 500, so no 5m value; 900 in the\n\
         # first 10 minutes, so a 1h value at 10m.\n\
         rule_files:\n  - ../rules/fleet_drift.yml\n  - ../rules/ml.yml\n\
         evaluation_interval: 1m\n\
         group_eval_order:\n  - mlotel-fleet-drift-reference\n  - mlotel-fleet-drift-feature-5m\n\
         \x20 - mlotel-fleet-drift-prediction-5m\n  - mlotel-fleet-drift-feature-1h\n\
         \x20 - mlotel-fleet-drift-prediction-1h\n  - mlotel-ml-recording\n  - mlotel-ml-alerts\n\n\
         tests:\n  - interval: 1m\n    input_series:\n",
    );
    input_series(&mut out, samples, "replica-", "3.0.0");
    out.push_str("    promql_expr_test:\n");
    for window in ["5m", "1h"] {
        for feature in ["shifted", "steady"] {
            for (method, name) in [
                (DriftMethod::Psi, "psi"),
                (DriftMethod::JensenShannon, "jensenshannon"),
            ] {
                close_to(
                    &mut out,
                    &format!("job_model_version_feature:ml_feature_{name}:rate{window}"),
                    "3.0.0",
                    "ml_feature_name",
                    feature,
                    engine(shifted, feature, method),
                );
                for signal in ["label", "confidence"] {
                    if feature == "shifted" {
                        close_to(
                            &mut out,
                            &format!("job_model_version_signal:ml_prediction_{name}:rate{window}"),
                            "3.0.0",
                            "ml_drift_signal",
                            signal,
                            engine(shifted, signal, method),
                        );
                    }
                }
            }
        }
        let share = shifted.drift_share.expect("a drift share");
        writeln!(
            out,
            "      - expr: 'job_model_version:ml_dataset_drift_share:rate{window}'\n        eval_time: 10m\n        exp_samples:\n          - labels: '{}'\n            value: {share:?}",
            selector(&[("__name__", &format!("job_model_version:ml_dataset_drift_share:rate{window}")), ("job", "predictor"), ("ml_model_name", "iris"), ("ml_model_version", "3.0.0")])
        )
        .expect("a String takes any write");
    }
    out.push_str(
        "    alert_rule_test:\n      - eval_time: 25m\n        alertname: FeatureDrift\n        exp_alerts:\n\
         \x20         - exp_labels:\n              severity: ticket\n              job: predictor\n\
         \x20             ml_model_name: iris\n              ml_model_version: 3.0.0\n\
         \x20             ml_feature_name: shifted\n            exp_annotations:\n",
    );
    let psi = engine(shifted, "shifted", DriftMethod::Psi);
    writeln!(
        out,
        "              summary: 'iris 3.0.0: feature shifted drifted'\n              description: 'Feature shifted of iris 3.0.0 (job predictor, over all its replicas) has been detected as drifted (fleet-wide PSI over 5 minutes {psi:.3}) for 15 minutes: the inputs no longer look like the training data.'\n              runbook_url: https://github.com/mlotel/mlotel/blob/main/docs/runbooks/FeatureDrift.md"
    )
    .expect("a String takes any write");
    let label_psi = engine(shifted, "label", DriftMethod::Psi);
    writeln!(
        out,
        "      - eval_time: 25m\n        alertname: PredictionDrift\n        exp_alerts:\n          - exp_labels:\n              severity: ticket\n              job: predictor\n              ml_model_name: iris\n              ml_model_version: 3.0.0\n              ml_drift_signal: label\n              ml_drift_method: psi\n            exp_annotations:\n              summary: 'iris 3.0.0: label drift, PSI {label_psi:.2}'\n              description: 'The PSI of the predicted label distribution of iris 3.0.0 (job predictor, over all its replicas) has been {label_psi:.3} (threshold 0.1; above 0.25 is a major shift) for 15 minutes.'\n              runbook_url: https://github.com/mlotel/mlotel/blob/main/docs/runbooks/PredictionDrift.md"
    )
    .expect("a String takes any write");

    out.push_str("\n  - interval: 1m\n    input_series:\n");
    input_series(&mut out, samples, "small-", "0.1.0");
    out.push_str("    promql_expr_test:\n");
    writeln!(
        out,
        "      - expr: 'job_model_version_feature:ml_feature_psi:rate5m'\n        eval_time: 10m\n        exp_samples: []"
    )
    .expect("a String takes any write");
    for feature in ["shifted", "steady"] {
        close_to(
            &mut out,
            "job_model_version_feature:ml_feature_psi:rate1h",
            "0.1.0",
            "ml_feature_name",
            feature,
            engine(small, feature, DriftMethod::Psi),
        );
    }
    out
}

#[test]
fn replicas_counters_sum_to_the_pooled_counts_and_the_rules_give_the_engines_values() {
    let telemetry = Telemetry::builder()
        .env_vars([("OTEL_METRICS_EXPORTER", "prometheus")])
        .build()
        .expect("builds");
    let shifted = fleet(&telemetry, "3.0.0");
    run(&shifted, 3 * 1_000, 7);
    let exposition = telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("renders");
    let rendered = samples(&exposition);
    // The counters are exact at a collection, and what the replicas counted adds up to what
    // the pooled model counted, bin by bin.
    for (metric, _) in COUNTERS {
        let pooled = bin_series(&rendered, metric, "pooled");
        assert!(!pooled.is_empty(), "{metric} exported");
        for (series, count) in &pooled {
            let summed: f64 = (0..REPLICAS)
                .map(|replica| bin_series(&rendered, metric, &format!("replica-{replica}"))[series])
                .sum();
            assert_eq!(summed, *count, "{metric} {series:?}");
        }
    }
    let features: f64 = bin_series(&rendered, COUNTERS[0].0, "pooled")
        .iter()
        .filter(|((feature, _), _)| feature == "shifted")
        .map(|(_, count)| count)
        .sum();
    assert_eq!(features, 3_000.0, "every row counted once");
    let shifted_report = shifted.pooled.drift_report().expect("monitored");

    // A model without a reference, and one with the bin counters off, export none of the
    // bin series.
    let plain = telemetry.model(
        Model::builder("no-reference")
            .labels(LABELS)
            .features(["shifted", "steady"]),
    );
    plain.observe_features(&[1.0, 2.0]);
    let quiet = telemetry.model(
        Model::builder("counters-off")
            .version("3.0.0")
            .labels(LABELS)
            .reference(reference())
            .drift_bin_counters(false),
    );
    run(
        &Fleet {
            replicas: vec![quiet.clone(), quiet.clone(), quiet.clone()],
            pooled: quiet.clone(),
        },
        30,
        3,
    );
    let exposition = telemetry
        .prometheus()
        .expect("on")
        .render()
        .expect("renders");
    assert!(
        exposition.contains(r#"ml_model_name="counters-off""#),
        "the model's other series are exported"
    );
    for (metric, _) in COUNTERS.iter().chain(&REFERENCES) {
        for model in ["counters-off", "no-reference"] {
            assert!(
                bin_series(&samples(&exposition), metric, model).is_empty(),
                "{metric} exported for {model}"
            );
        }
    }

    // The version below the minimum: a fleet of its own (other model names).
    let small_models: Vec<Model> = (0..=REPLICAS)
        .map(|index| {
            let name = if index == REPLICAS {
                "small-pooled".to_owned()
            } else {
                format!("small-{index}")
            };
            telemetry.model(
                Model::builder(name)
                    .version("0.1.0")
                    .labels(LABELS)
                    .reference(reference())
                    .drift_min_observations(1),
            )
        })
        .collect();
    let mut rng = SplitMix64::new(11);
    for row in 0..3 * 30 {
        let (features, _, _) = live_row(&mut rng);
        small_models[row % REPLICAS].observe_features(&features);
        small_models[REPLICAS].observe_features(&features);
    }
    let small_report = small_models[REPLICAS].drift_report().expect("monitored");
    let exposition = telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("renders");
    let promtool = promtool_test(&samples(&exposition), &shifted_report, &small_report);

    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/prometheus/tests/fleet_drift_test.yml"
    );
    if std::env::var_os("MLOTEL_BLESS").is_some() {
        std::fs::write(path, &promtool).expect("writes the promtool test");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == promtool,
        "{path} is out of date: run MLOTEL_BLESS=1 cargo test -p mlotel-tests --test fleet_drift"
    );
}
