//! Runs the `mlotel-reference` binary on the shipped iris data and on bad input.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use mlotel::drift::reference::{FeatureKind, Reference};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mlotel-reference"))
}

fn iris() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/iris.csv")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "mlotel-reference-cli-{}-{name}",
        std::process::id()
    ))
}

const IRIS_FEATURES: [&str; 4] = ["sepal_length", "sepal_width", "petal_length", "petal_width"];

#[test]
fn fits_iris_with_a_label_profile() {
    let iris = iris();
    let output = run(&["fit", iris.to_str().unwrap(), "--label-column", "species"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let reference = Reference::from_json(&String::from_utf8(output.stdout).unwrap()).unwrap();
    assert_eq!(reference.rows, 150);
    reference.check_features(&IRIS_FEATURES).unwrap();
    assert!(
        reference
            .features
            .iter()
            .all(|f| f.kind() == FeatureKind::Numeric)
    );
    for feature in &reference.features {
        let profile = feature.as_numeric().unwrap();
        assert_eq!((profile.count, profile.missing), (150, 0));
        assert!(
            profile.edges.len() >= 8,
            "{}: {:?}",
            profile.name,
            profile.edges
        );
    }
    // Edges bit for bit as numpy 2.3.5 computes them: for each column,
    // numpy.quantile(x, np.arange(1, 10) / 10) with repeated values dropped.
    let numpy_edges: [&[f64]; 4] = [
        &[4.8, 5.0, 5.27, 5.6, 5.8, 6.1, 6.3, 6.5200000000000005, 6.9],
        &[2.5, 2.7, 2.8, 3.0, 3.1, 3.2, 3.4, 3.6099999999999994],
        &[1.4, 1.5, 1.7, 3.9, 4.35, 4.639999999999999, 5.0, 5.32, 5.8],
        &[0.2, 0.4, 1.1600000000000001, 1.3, 1.5, 1.8, 1.9, 2.2],
    ];
    for (feature, edges) in reference.features.iter().zip(numpy_edges) {
        assert_eq!(
            feature.as_numeric().unwrap().edges,
            edges,
            "{}",
            feature.name()
        );
    }
    // Known iris statistics (this file is the UCI copy).
    let sepal_length = reference.features[0].as_numeric().unwrap();
    assert!(
        (sepal_length.mean - 5.843333).abs() < 1e-5,
        "{}",
        sepal_length.mean
    );
    assert_eq!((sepal_length.min, sepal_length.max), (4.3, 7.9));
    let petal_length = reference.features[2].as_numeric().unwrap();
    assert_eq!((petal_length.min, petal_length.max), (1.0, 6.9));

    let label = reference.label.as_ref().unwrap();
    assert_eq!(label.name, "species");
    assert_eq!(
        label.categories,
        ["setosa", "versicolor", "virginica"],
        "50 each: by name"
    );
    for p in &label.proportions[..3] {
        assert!((p - 1.0 / 3.0).abs() < 1e-12);
    }
    assert!(reference.confidence.is_none());
}

#[test]
fn options_shape_the_profile() {
    let iris = iris();
    let out = temp("iris.json");
    let args = [
        "fit",
        iris.to_str().unwrap(),
        "--bins=4",
        "--top-categories",
        "2",
        "--exclude",
        "sepal_width",
        "--categorical",
        "petal_width",
        "-o",
        out.to_str().unwrap(),
    ];
    let output = run(&args);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stdout.is_empty());
    let reference = Reference::load(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let names: Vec<&str> = reference.feature_names().collect();
    assert_eq!(
        names,
        ["sepal_length", "petal_length", "petal_width", "species"]
    );
    assert_eq!(reference.features[0].as_numeric().unwrap().edges.len(), 3);
    let petal_width = reference.features[2].as_categorical().unwrap();
    assert_eq!(petal_width.categories.len(), 2);
    // The most common petal width in iris is 0.2 (29 rows).
    assert_eq!(petal_width.categories[0], "0.2");
    assert_eq!(reference.features[3].kind(), FeatureKind::Categorical);
}

#[test]
fn calibration_stores_thresholds_fitted_from_the_reference() {
    let iris = iris();
    let out = temp("iris-calibrated.json");
    let plain = temp("iris-plain.json");
    let fit = |extra: &[&str], path: &PathBuf| {
        let mut args = vec!["fit", iris.to_str().unwrap(), "-o", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let output = run(&args);
        assert!(output.status.success(), "{}", stderr(&output));
        let reference = Reference::load(path).unwrap();
        let _ = std::fs::remove_file(path);
        reference
    };
    let calibrated = fit(
        &["--calibrate-window", "200", "--calibrate-quantile=0.95"],
        &out,
    );
    let plain = fit(&[], &plain);
    let thresholds = calibrated.features[0]
        .as_numeric()
        .unwrap()
        .calibration
        .clone()
        .expect("thresholds stored");
    assert!(
        plain.features[0]
            .as_numeric()
            .unwrap()
            .calibration
            .is_none()
    );
    let text = format!("{thresholds:?}");
    assert!(text.contains("200"), "window size recorded: {text}");

    for (args, message) in [
        (
            vec!["--calibrate-quantile", "0.9"],
            "needs --calibrate-window",
        ),
        (vec!["--calibrate-window", "0"], "at least 1"),
        (
            vec!["--calibrate-window", "100", "--calibrate-quantile", "1.5"],
            "between 0 and 1",
        ),
    ] {
        let mut all = vec!["fit", iris.to_str().unwrap()];
        all.extend(args);
        let output = run(&all);
        assert_eq!(output.status.code(), Some(2));
        assert!(stderr(&output).contains(message), "{}", stderr(&output));
    }
}

#[test]
fn check_summarises_and_checks_features() {
    let iris = iris();
    let out = temp("check.json");
    let fitted = run(&[
        "fit",
        iris.to_str().unwrap(),
        "--label-column=species",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(fitted.status.success(), "{}", stderr(&fitted));
    let file = out.to_str().unwrap();

    let output = run(&["check", file, "--features", &IRIS_FEATURES.join(",")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 4 + 1, "{stdout}");
    assert!(
        lines[0].contains("150 rows") && lines[0].contains("4 features"),
        "{stdout}"
    );
    assert!(lines[1].trim_start().starts_with("sepal_length") && lines[1].contains("numeric"));
    assert!(
        lines[5].contains("species") && lines[5].contains("3 categories"),
        "{stdout}"
    );

    let output = run(&["check", file, "--features", "sepal_length,petal_length"]);
    let _ = std::fs::remove_file(&out);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("feature 1") && message.contains("petal_length"),
        "{message}"
    );
}

#[test]
fn bad_input_exits_2_with_a_message() {
    // Not a reference.
    let bad = temp("bad.json");
    std::fs::write(&bad, "{\"schema_version\": 1, \"rows\": \"many\"}").unwrap();
    let output = run(&["check", bad.to_str().unwrap()]);
    let _ = std::fs::remove_file(&bad);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("`rows`") && message.contains("bad.json"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");

    // A ragged CSV: the message names the line.
    let ragged = temp("ragged.csv");
    std::fs::write(&ragged, "a,b\n1,2\n3\n").unwrap();
    let output = run(&["fit", ragged.to_str().unwrap()]);
    let _ = std::fs::remove_file(&ragged);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));
    assert!(output.stdout.is_empty());

    let iris = iris();
    let iris = iris.to_str().unwrap();
    for args in [
        vec![],
        vec!["fit"],
        vec!["fit", "/nonexistent.csv"],
        vec!["fit", iris, "--bins"],
        vec!["fit", iris, "--bins", "0"],
        vec!["fit", iris, "--bins", "ten"],
        vec!["fit", iris, "--label-column", "nope"],
        vec!["fit", iris, "--colour"],
        vec!["check"],
        vec!["check", iris],
        vec!["frobnicate"],
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let message = stderr(&output);
        assert!(
            message.starts_with("mlotel-reference: ") && message.len() > 25,
            "{args:?}: {message}"
        );
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
}

#[test]
fn help_explains_every_option() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--bins",
        "--top-categories",
        "--categorical",
        "--label-column",
        "--confidence-column",
        "--exclude",
        "--output",
        "--features",
    ] {
        assert!(help.contains(option), "{option}");
    }
    for missing in mlotel::drift::reference::CSV_MISSING
        .iter()
        .filter(|m| !m.is_empty())
    {
        assert!(help.contains(missing), "help lists {missing} as missing");
    }
    assert_eq!(run(&["fit", "--help"]).stdout, help.as_bytes());
}
