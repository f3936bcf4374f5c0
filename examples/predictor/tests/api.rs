//! The demo service as a user runs it: the real binary on a free port, sending over
//! OTLP/gRPC to an in-process receiver. Every route of docs/predictor.md, version routing,
//! every error of its table, the spans it sends, `/api/summary` against
//! `/health/detailed`, and a graceful stop on SIGTERM that flushes the spans.

use std::process::Command;
use std::time::{Duration, Instant};

use mlotel_tests::{OtlpReceiver, RawResponse, ServiceProcess, raw_request};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);
const ROW: &str = "[5.1, 3.5, 1.4, 0.2]";

/// Starts the binary with `args` on a free port and waits until it is ready.
fn start(receiver: &OtlpReceiver, args: &[&str]) -> ServiceProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_predictor"));
    command
        .args(args)
        .env("PORT", "0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    let service = ServiceProcess::spawn(command, WAIT);
    let deadline = Instant::now() + WAIT;
    while get(&service, "/health/ready").status != 200 {
        assert!(Instant::now() < deadline, "not ready in {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    service
}

fn get(service: &ServiceProcess, path: &str) -> RawResponse {
    raw_request(service.address(), "GET", path, &[], b"", WAIT)
}

fn post(service: &ServiceProcess, path: &str, headers: &[(&str, &str)], body: &str) -> RawResponse {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    raw_request(service.address(), "POST", path, &all, body.as_bytes(), WAIT)
}

fn json_of(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|error| panic!("not JSON ({error}): {}", response.body))
}

#[test]
fn every_route_answers_in_the_documented_shape() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &["--split", "1.0"]);

    let models = json_of(&get(&service, "/v1/models"));
    assert_eq!(models["models"][0]["name"], "iris");
    assert_eq!(models["models"][0]["default_version"], "2.0.0");

    let status = json_of(&get(&service, "/v1/models/iris"));
    assert_eq!(
        status["features"],
        json!(["sepal_length", "sepal_width", "petal_length", "petal_width"])
    );
    let features = status["versions"][0]["features"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = features.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(
        names,
        ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    );
    for feature in &features {
        assert!(
            feature["reference_mean"]
                .as_f64()
                .is_some_and(|mean| mean > 0.0),
            "{feature}"
        );
        assert!(
            feature["reference_std"]
                .as_f64()
                .is_some_and(|std| std > 0.0),
            "{feature}"
        );
    }

    let body = format!(r#"{{"instances": [{ROW}, [6.7, 3.0, 5.2, 2.3]]}}"#);
    for (path, version) in [
        ("/v1/models/iris:predict", "2.0.0"),
        ("/v1/models/iris/versions/1.0.0:predict", "1.0.0"),
        ("/v1/models/iris/versions/2.0.0:predict", "2.0.0"),
        ("/v1/predict", "1.0.0"),
        ("/v2/predict", "2.0.0"),
        ("/predict", "2.0.0"), // --split 1.0: all to 2.0.0
    ] {
        let response = post(&service, path, &[], &body);
        assert_eq!(response.status, 200, "{path}: {}", response.body);
        assert_eq!(response.header("x-model-version"), Some(version), "{path}");
        let answer = json_of(&response);
        assert_eq!(
            (&answer["model"], &answer["version"]),
            (&json!("iris"), &json!(version))
        );
        let predictions = answer["predictions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(predictions.len(), 2, "{path}");
        assert_eq!(predictions[0]["label"], "setosa", "{path}");
        assert_eq!(predictions[1]["label"], "virginica", "{path}");
        for prediction in &predictions {
            let probabilities: Vec<f64> = prediction["probabilities"]
                .as_array()
                .map(|values| values.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            assert_eq!(probabilities.len(), 3);
            assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            let confidence = prediction["confidence"].as_f64().unwrap_or(f64::NAN);
            assert_eq!(
                confidence,
                probabilities.iter().copied().fold(0.0, f64::max)
            );
        }
    }
    // One row with `features`, and the header picking a version on /predict.
    let one = post(
        &service,
        "/predict",
        &[("X-Model-Version", "1.0.0")],
        &format!(r#"{{"features": {ROW}}}"#),
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.header("x-model-version"), Some("1.0.0"));
    assert_eq!(json_of(&one)["predictions"][0]["label"], "setosa");

    for (path, content) in [
        ("/", "text/html"),
        ("/metrics", "text/plain"),
        ("/health", "application/json"),
        ("/api/summary", "application/json"),
    ] {
        let response = get(&service, path);
        assert_eq!(response.status, 200, "{path}");
        assert!(
            response
                .header("content-type")
                .is_some_and(|value| value.starts_with(content)),
            "{path}: {:?}",
            response.header("content-type")
        );
    }
}

#[test]
fn every_bad_input_gets_its_4xx_and_json_error() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &["--max-batch", "3"]);
    let big = format!(r#"{{"instances": [{}]}}"#, vec![ROW; 5000].join(","));
    for (what, path, headers, body, status, kind, needle) in [
        (
            "malformed JSON",
            "/v2/predict",
            vec![],
            r#"{"instances": [[1, 2"#.to_owned(),
            400,
            "malformed_json",
            "malformed JSON",
        ),
        (
            "string value",
            "/v2/predict",
            vec![],
            r#"{"instances": [["a", 1, 2, 3]]}"#.to_owned(),
            422,
            "invalid_json_fields",
            "invalid type",
        ),
        (
            "neither field",
            "/v2/predict",
            vec![],
            r#"{"rows": []}"#.to_owned(),
            400,
            "invalid_request",
            "instances",
        ),
        (
            "both fields",
            "/v2/predict",
            vec![],
            format!(r#"{{"features": {ROW}, "instances": [{ROW}]}}"#),
            400,
            "invalid_request",
            "instances",
        ),
        (
            "wrong feature count",
            "/v2/predict",
            vec![],
            r#"{"instances": [[1.0, 2.0, 3.0]]}"#.to_owned(),
            400,
            "invalid_features",
            "expected 4",
        ),
        (
            "number out of range",
            "/v2/predict",
            vec![],
            r#"{"instances": [[1e999, 2.0, 3.0, 4.0]]}"#.to_owned(),
            400,
            "invalid_features",
            "not a finite number",
        ),
        (
            "empty batch",
            "/v2/predict",
            vec![],
            r#"{"instances": []}"#.to_owned(),
            400,
            "empty_batch",
            "empty",
        ),
        (
            "batch over the limit",
            "/v2/predict",
            vec![],
            format!(r#"{{"instances": [{ROW}, {ROW}, {ROW}, {ROW}]}}"#),
            400,
            "batch_too_large",
            "3",
        ),
        (
            "body too large",
            "/v2/predict",
            vec![],
            big,
            413,
            "payload_too_large",
            "",
        ),
        (
            "unknown model",
            "/v1/models/wine:predict",
            vec![],
            format!(r#"{{"instances": [{ROW}]}}"#),
            404,
            "model_not_found",
            "wine",
        ),
        (
            "unknown version",
            "/v1/models/iris/versions/9.9.9:predict",
            vec![],
            format!(r#"{{"instances": [{ROW}]}}"#),
            404,
            "version_not_found",
            "9.9.9",
        ),
        (
            "unknown version header",
            "/predict",
            vec![("X-Model-Version", "7")],
            format!(r#"{{"instances": [{ROW}]}}"#),
            404,
            "version_not_found",
            "7",
        ),
    ] {
        let response = post(&service, path, &headers, &body);
        assert_eq!(response.status, status, "{what}: {}", response.body);
        let error = json_of(&response);
        assert_eq!(error["error"]["type"], kind, "{what}: {error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{what}: {message:?} lacks {needle:?}"
        );
    }
    let wrong_type = raw_request(
        service.address(),
        "POST",
        "/v2/predict",
        &[("Content-Type", "text/plain")],
        ROW.as_bytes(),
        WAIT,
    );
    assert_eq!(wrong_type.status, 415, "{}", wrong_type.body);
    assert_eq!(
        json_of(&wrong_type)["error"]["type"],
        "unsupported_media_type"
    );
    // After all that the service still answers.
    assert_eq!(
        post(
            &service,
            "/v2/predict",
            &[],
            &format!(r#"{{"features": {ROW}}}"#)
        )
        .status,
        200
    );
}

#[test]
fn spans_summary_and_a_graceful_stop() {
    let receiver = OtlpReceiver::grpc();
    let mut service = start(&receiver, &[]);
    for _ in 0..5 {
        assert_eq!(
            post(
                &service,
                "/v1/predict",
                &[],
                &format!(r#"{{"features": {ROW}}}"#)
            )
            .status,
            200
        );
    }
    assert_eq!(
        post(&service, "/v1/predict", &[], r#"{"features": [1.0]}"#).status,
        400
    );

    // The summary and /health/detailed read the same sources.
    let detailed = json_of(&get(&service, "/health/detailed"));
    let summary = json_of(&get(&service, "/api/summary"));
    let total = |document: &Value| document["requests"]["total"].as_u64().unwrap_or(0);
    assert!(
        (total(&detailed)..=total(&detailed) + 1).contains(&total(&summary)),
        "summary {} against detailed {}",
        total(&summary),
        total(&detailed)
    );
    let model = |document: &Value, version: &str| {
        document["models"]
            .as_array()
            .and_then(|models| {
                models
                    .iter()
                    .find(|model| model["version"] == version)
                    .cloned()
            })
            .unwrap_or_default()
    };
    for field in ["predictions", "mean_confidence", "loaded"] {
        assert_eq!(
            model(&summary, "1.0.0")[field],
            model(&detailed, "1.0.0")[field],
            "{field}"
        );
    }
    assert_eq!(model(&summary, "1.0.0")["predictions"], 5);

    // SIGTERM: in-flight work finishes, telemetry is flushed (the batch processor's 5 s
    // delay has not passed), the process exits 0.
    let status = service.terminate(WAIT);
    assert!(status.success(), "exit status {status}");
    let spans = receiver.spans();
    let request = spans
        .iter()
        .find(|span| {
            span.name() == "POST /v1/predict"
                && span.attr_i64("http.response.status_code") == Some(200)
        })
        .unwrap_or_else(|| {
            panic!(
                "no request span among {:?}",
                spans.iter().map(|s| s.name()).collect::<Vec<_>>()
            )
        });
    let prediction = spans
        .iter()
        .find(|span| span.name() == "predict iris" && span.is_child_of(request))
        .expect("the prediction span is a child of the request span");
    assert_eq!(prediction.attr_str("ml.model.version"), Some("1.0.0"));
    assert!(
        spans
            .iter()
            .any(|span| span.attr_str("ml.stage") == Some("preprocess")),
        "a preprocess stage span"
    );
    let refused = spans
        .iter()
        .find(|span| {
            span.name() == "POST /v1/predict"
                && span.attr_i64("http.response.status_code") == Some(400)
        })
        .expect("the refused request's span");
    assert_eq!(refused.attr_str("error.type"), Some("invalid_features"));
}

#[test]
fn debug_headers_are_honoured_only_when_allowed() {
    let receiver = OtlpReceiver::grpc();
    let row = format!(r#"{{"features": {ROW}}}"#);
    let fail = [("X-Debug-Fail", "true")];

    // Off by default: a client cannot make the service fail.
    let guarded = start(&receiver, &[]);
    assert_eq!(post(&guarded, "/v1/predict", &fail, &row).status, 200);
    drop(guarded);

    let service = start(&receiver, &["--allow-debug-headers"]);
    let failed = post(&service, "/v1/predict", &fail, &row);
    assert_eq!(failed.status, 500, "{}", failed.body);
    assert_eq!(json_of(&failed)["error"]["type"], "model_failure");
    // The failure is the model call's: counted as an errored prediction of 1.0.0.
    let metrics = get(&service, "/metrics").body;
    assert!(
        metrics.lines().any(|line| {
            line.starts_with("ml_prediction_duration_seconds_count{")
                && line.contains(r#"error_type="model_failure""#)
                && line.contains(r#"ml_model_version="1.0.0""#)
                && line.ends_with(" 1")
        }),
        "no errored prediction in /metrics"
    );
    // Only the asked-for request fails, and a delay is honoured.
    assert_eq!(post(&service, "/v1/predict", &[], &row).status, 200);
    let begun = Instant::now();
    let delayed = post(
        &service,
        "/v2/predict",
        &[("X-Debug-Delay-Ms", "300")],
        &row,
    );
    assert_eq!(delayed.status, 200);
    assert!(begun.elapsed() >= Duration::from_millis(300));
}

#[test]
fn bad_drift_flags_are_refused_with_the_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_predictor"))
        .args(["--drift-window", "0s", "--port", "0"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--drift-window"), "{stderr}");
    assert!(stderr.contains("outside 1s..24h"), "{stderr}");
}

/// The model of `document` (`/api/summary` or `/health/detailed`) at `version`.
fn model_of(document: &Value, version: &str) -> Value {
    document["models"]
        .as_array()
        .and_then(|models| {
            models
                .iter()
                .find(|model| model["version"] == version)
                .cloned()
        })
        .unwrap_or_default()
}

#[test]
fn non_finite_model_output_is_a_failed_prediction_everywhere() {
    let receiver = OtlpReceiver::grpc();
    let mut service = start(&receiver, &[]);
    // Finite inputs so large that the model's arithmetic overflows: probabilities of NaN.
    let huge = r#"{"instances": [[1e308, 1e308, 1e308, 1e308]]}"#;
    let failed = post(&service, "/v1/predict", &[], huge);
    assert_eq!(failed.status, 422, "{}", failed.body);
    let error = json_of(&failed);
    assert_eq!(error["error"]["type"], "non_finite_output", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    for needle in [
        "instance 0",
        "not finite",
        "sepal_length 1e308 is far outside",
    ] {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    // A batch fails as a whole and names the instance.
    let batch = format!(r#"{{"instances": [{ROW}, [5.1, 1e308, 1.4, 0.2]]}}"#);
    let failed_batch = post(&service, "/v1/predict", &[], &batch);
    assert_eq!(failed_batch.status, 422, "{}", failed_batch.body);
    assert!(
        json_of(&failed_batch)["error"]["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("instance 1:")),
        "{}",
        failed_batch.body
    );

    // Metrics: three errored predictions of 1.0.0 (one, then a batch of two), no label,
    // no confidence.
    let metrics = get(&service, "/metrics").body;
    let v1 = r#"ml_model_version="1.0.0""#;
    assert!(
        metrics.lines().any(|line| {
            line.starts_with("ml_predictions_total{")
                && line.contains(r#"error_type="non_finite_output""#)
                && line.contains(r#"ml_prediction_outcome="error""#)
                && line.contains(v1)
                && !line.contains("ml_prediction_label")
                && line.ends_with(" 3")
        }),
        "no non_finite_output predictions in /metrics"
    );
    let recorded: Vec<&str> = metrics
        .lines()
        .filter(|line| {
            line.contains(v1)
                && (line.starts_with("ml_predictions_total{") && line.contains("outcome=\"ok\"")
                    || line.starts_with("ml_prediction_confidence_count{"))
                && !line.ends_with(" 0")
        })
        .collect();
    assert!(recorded.is_empty(), "recorded for 1.0.0: {recorded:#?}");
    // The live page: the predictions are counted, with no class and no confidence, and the
    // requests as client errors.
    let summary = json_of(&get(&service, "/api/summary"));
    let detailed = json_of(&get(&service, "/health/detailed"));
    let model = model_of(&summary, "1.0.0");
    assert_eq!(model["predictions"], 3, "{model}");
    assert_eq!(
        model["predictions"],
        model_of(&detailed, "1.0.0")["predictions"]
    );
    assert_eq!(model["mean_confidence"], Value::Null, "{model}");
    assert_eq!(
        model["class_mix"],
        json!({"setosa": 0, "versicolor": 0, "virginica": 0})
    );
    assert_eq!(summary["requests"]["client_errors"], 2, "{summary}");
    assert!(
        summary["history"].as_array().is_some_and(|history| history
            .iter()
            .all(|point| point["mean_confidence"].is_null())),
        "{summary}"
    );

    // Spans: the prediction span and the request span say the same.
    let status = service.terminate(WAIT);
    assert!(status.success(), "exit status {status}");
    let spans = receiver.spans();
    let request = spans
        .iter()
        .find(|span| {
            span.name() == "POST /v1/predict"
                && span.attr_i64("http.response.status_code") == Some(422)
        })
        .expect("the request span");
    assert_eq!(request.attr_str("error.type"), Some("non_finite_output"));
    let prediction = spans
        .iter()
        .find(|span| span.name() == "predict iris" && span.is_child_of(request))
        .expect("the prediction span");
    assert_eq!(prediction.attr_str("error.type"), Some("non_finite_output"));
    assert_eq!(prediction.attr_str("ml.prediction.outcome"), Some("error"));
    assert_eq!(prediction.attr_str("ml.prediction.label"), None);
    assert_eq!(prediction.attr_f64("ml.prediction.confidence"), None);
    assert_eq!(
        prediction.status_code(),
        mlotel_tests::proto::trace::v1::status::StatusCode::Error
    );
}

#[test]
fn values_far_outside_the_training_range_are_flagged_per_instance() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &[]);
    // petal_width's training range is about 0.1..2.5: 100 is far outside it, 3.0 is not.
    let body = format!(r#"{{"instances": [{ROW}, [5.1, 3.5, 1.4, 100.0], [5.1, 3.5, 1.4, 3.0]]}}"#);
    let response = post(&service, "/v2/predict", &[], &body);
    assert_eq!(response.status, 200, "{}", response.body);
    let answer = json_of(&response);
    let predictions = answer["predictions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(predictions.len(), 3, "{answer}");
    assert!(predictions[0].get("warnings").is_none(), "{answer}");
    assert!(
        predictions[2].get("warnings").is_none(),
        "within one range width: {answer}"
    );
    let warnings = predictions[1]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(warnings.len(), 1, "{answer}");
    let warning = &warnings[0];
    assert_eq!(warning["type"], "far_out_of_range");
    assert_eq!(warning["feature"], "petal_width");
    assert_eq!(warning["value"], 100.0);
    let (min, max) = (
        warning["reference_min"].as_f64().unwrap_or(f64::NAN),
        warning["reference_max"].as_f64().unwrap_or(f64::NAN),
    );
    assert!(min > 0.0 && min < max && max < 3.0, "{warning}");
    assert!(
        warning["message"]
            .as_str()
            .is_some_and(|message| message.contains("far outside")),
        "{warning}"
    );
    // The flagged instance is still a prediction with a label, as the metrics count it.
    assert!(predictions[1]["label"].is_string(), "{answer}");
}

/// Every method on every route, and paths no route matches: any 4xx the service answers has
/// a JSON `error` object; a wrong method is 405 with `Allow` (also `GET` on a predict
/// route, which `/v1/models/{model}` used to catch as "no model named iris:predict").
#[test]
fn every_4xx_of_every_route_and_method_is_json_and_wrong_methods_get_405() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &[]);
    let routes: &[(&str, &str)] = &[
        ("/v1/models", "GET"),
        ("/v1/models/iris", "GET"),
        ("/v1/models/iris:predict", "POST"),
        ("/v1/models/iris/versions/1.0.0:predict", "POST"),
        ("/v1/predict", "POST"),
        ("/v2/predict", "POST"),
        ("/predict", "POST"),
        ("/", "GET"),
        ("/assets/app.js", "GET"),
        ("/assets/style.css", "GET"),
        ("/api/summary", "GET"),
        ("/metrics", "GET"),
        ("/health", "GET"),
        ("/health/ready", "GET"),
        ("/health/detailed", "GET"),
    ];
    let mut checked = 0;
    for (path, allowed) in routes {
        for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            let response = raw_request(
                service.address(),
                method,
                path,
                &[("Content-Type", "application/json")],
                b"{}",
                WAIT,
            );
            if method == *allowed {
                assert!(
                    response.status < 500,
                    "{method} {path}: {}",
                    response.status
                );
            } else {
                assert_eq!(response.status, 405, "{method} {path}: {}", response.body);
                assert_eq!(response.header("allow"), Some(*allowed), "{method} {path}");
            }
            if (400..500).contains(&response.status) {
                let error = json_of(&response);
                assert!(
                    error["error"]["type"].is_string() && error["error"]["message"].is_string(),
                    "{method} {path}: {error}"
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= routes.len() * 5,
        "only {checked} 4xx answers seen"
    );
    let get_predict = get(&service, "/v1/models/iris:predict");
    assert_eq!(json_of(&get_predict)["error"]["type"], "method_not_allowed");
    for path in [
        "/nowhere",
        "/v1",
        "/v1/models/iris/versions",
        "/api",
        "/%ff",
        "/v3/predict",
    ] {
        for method in ["GET", "POST", "DELETE"] {
            let response = raw_request(service.address(), method, path, &[], b"", WAIT);
            assert_eq!(response.status, 404, "{method} {path}: {}", response.body);
            assert_eq!(
                json_of(&response)["error"]["type"],
                "route_not_found",
                "{method} {path}"
            );
        }
    }
}

/// A path over `--max-path-bytes` is 414 with a JSON error, on every route or none;
/// compressed bodies and JSON in another charset than UTF-8 are 415.
#[test]
fn long_paths_compressed_bodies_and_other_charsets_are_refused() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &["--max-path-bytes", "1024"]);
    let body = format!(r#"{{"features": {ROW}}}"#);
    for path in [
        format!("/v1/models/{}:predict", "a".repeat(1100)),
        // Under the 65,534 bytes the `http` crate takes in a URI (longer: 400 from actix).
        format!("/{}", "x".repeat(60 * 1024)),
    ] {
        let response = post(&service, &path, &[], &body);
        assert_eq!(response.status, 414, "{}", response.body);
        let error = json_of(&response);
        assert_eq!(error["error"]["type"], "uri_too_long");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("1024")),
            "{error}"
        );
    }
    // Just under the limit: routed as usual.
    let under = format!("/v1/models/{}:predict", "a".repeat(900));
    assert_eq!(
        json_of(&post(
            &service,
            &under,
            &[],
            r#"{"instances": [[1,2,3,4]]}"#
        ))["error"]["type"],
        "model_not_found"
    );

    for (what, headers, kind) in [
        (
            "gzip",
            vec![("Content-Encoding", "gzip")],
            "unsupported_content_encoding",
        ),
        (
            "br",
            vec![("Content-Encoding", "br")],
            "unsupported_content_encoding",
        ),
        (
            "utf-16",
            vec![("Content-Type", "application/json; charset=utf-16")],
            "unsupported_charset",
        ),
        (
            "latin-1",
            vec![("Content-Type", "application/json;charset=ISO-8859-1")],
            "unsupported_charset",
        ),
    ] {
        let mut all = headers.clone();
        if !all.iter().any(|(name, _)| *name == "Content-Type") {
            all.push(("Content-Type", "application/json"));
        }
        let response = raw_request(
            service.address(),
            "POST",
            "/v2/predict",
            &all,
            body.as_bytes(),
            WAIT,
        );
        assert_eq!(response.status, 415, "{what}: {}", response.body);
        assert_eq!(json_of(&response)["error"]["type"], kind, "{what}");
    }
    // What stays accepted: identity, UTF-8 spelled either way.
    for headers in [
        vec![
            ("Content-Type", "application/json"),
            ("Content-Encoding", "identity"),
        ],
        vec![("Content-Type", "application/json; charset=UTF-8")],
        vec![("Content-Type", "application/json; charset=utf8")],
    ] {
        let response = raw_request(
            service.address(),
            "POST",
            "/v2/predict",
            &headers,
            body.as_bytes(),
            WAIT,
        );
        assert_eq!(response.status, 200, "{headers:?}: {}", response.body);
    }
}

/// Sends a request head and `sent` bytes of a body, then waits for the answer without
/// sending more (a slow or stalled client).
fn stalled_body(
    service: &ServiceProcess,
    head_lines: &str,
    sent: &[u8],
) -> (RawResponse, Duration) {
    use std::io::{Read as _, Write as _};
    let begun = Instant::now();
    let mut stream = std::net::TcpStream::connect(service.address()).expect("connects");
    stream.set_read_timeout(Some(WAIT)).expect("timeout set");
    let head = format!(
        "POST /v2/predict HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{head_lines}\r\n"
    );
    stream.write_all(head.as_bytes()).expect("head sent");
    stream.write_all(sent).expect("part of the body sent");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let elapsed = begun.elapsed();
    let response = mlotel_tests::parse_response(&raw).unwrap_or_else(|| {
        panic!(
            "no complete response after {elapsed:?}: {:?}",
            String::from_utf8_lossy(&raw)
        )
    });
    (response, elapsed)
}

/// A declared body that never fully arrives (fewer bytes than `Content-Length`, a chunked
/// body with no last chunk) is answered 408 with a JSON error once `--body-timeout` has
/// passed, and the connection is closed; the service is fine after.
#[test]
fn incomplete_bodies_time_out_with_408() {
    let receiver = OtlpReceiver::grpc();
    let service = start(&receiver, &["--body-timeout", "500ms"]);
    for (what, head, sent) in [
        (
            "short Content-Length",
            "Content-Length: 1000\r\n",
            &b"{\"features\""[..],
        ),
        (
            "endless chunked",
            "Transfer-Encoding: chunked\r\n",
            &b"b\r\n{\"features\"\r\n"[..],
        ),
    ] {
        let (response, elapsed) = stalled_body(&service, head, sent);
        assert_eq!(response.status, 408, "{what}: {}", response.body);
        assert_eq!(
            json_of(&response)["error"]["type"],
            "body_timeout",
            "{what}"
        );
        assert!(
            elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
            "{what}: answered after {elapsed:?}"
        );
    }
    assert_eq!(
        post(
            &service,
            "/v2/predict",
            &[],
            &format!(r#"{{"features": {ROW}}}"#)
        )
        .status,
        200
    );
}

/// `--metrics-token` protects `/metrics`; with `--protect-details` also `/health/detailed`
/// and `/api/summary`, while `/health` and `/health/ready` stay open for probes.
#[test]
fn the_metrics_token_protects_metrics_and_on_request_the_details() {
    let receiver = OtlpReceiver::grpc();
    let bearer = [("Authorization", "Bearer s3cret")];
    let wrong = [("Authorization", "Bearer guess")];
    let call = |service: &ServiceProcess, path: &str, headers: &[(&str, &str)]| {
        raw_request(service.address(), "GET", path, headers, b"", WAIT)
    };

    let metrics_only = start(&receiver, &["--metrics-token", "s3cret"]);
    for headers in [&[][..], &wrong[..]] {
        let refused = call(&metrics_only, "/metrics", headers);
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert_eq!(refused.header("www-authenticate"), Some("Bearer"));
        assert_eq!(json_of(&refused)["error"]["type"], "unauthorized");
    }
    assert_eq!(call(&metrics_only, "/metrics", &bearer).status, 200);
    assert_eq!(call(&metrics_only, "/health/detailed", &[]).status, 200);
    assert_eq!(call(&metrics_only, "/api/summary", &[]).status, 200);
    drop(metrics_only);

    let protected = start(
        &receiver,
        &["--metrics-token", "s3cret", "--protect-details"],
    );
    for path in ["/metrics", "/health/detailed", "/api/summary"] {
        let refused = call(&protected, path, &wrong);
        assert_eq!(refused.status, 401, "{path}: {}", refused.body);
        assert!(
            !refused.body.contains("pid") && !refused.body.contains("endpoint"),
            "{path}: {}",
            refused.body
        );
        assert_eq!(call(&protected, path, &bearer).status, 200, "{path}");
    }
    for path in ["/health", "/health/ready", "/"] {
        assert_eq!(call(&protected, path, &[]).status, 200, "{path}");
    }

    // --protect-details without a token is a configuration error.
    let output = Command::new(env!("CARGO_BIN_EXE_predictor"))
        .args(["--protect-details", "--port", "0"])
        .env_remove("METRICS_TOKEN")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("--metrics-token"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
