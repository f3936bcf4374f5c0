//! Ground truth over the real OTLP wire: predictions of `#[instrument_ml]` and of the
//! `Model` API get ids from the model's prediction store; outcomes recorded by id (or with
//! their prediction) arrive as the confusion matrix, calibration counters, regression
//! errors and label delays; ids that find nothing (unknown, duplicate, evicted, expired,
//! wrong kind) are counted, never fatal; concurrent feedback from many threads loses
//! nothing.

use std::collections::HashSet;
use std::time::Duration;

use mlotel::names::{self, attr};
use mlotel::{Model, OutcomeError, PredictionId, Telemetry, instrument_ml};
use mlotel_tests::{OtlpReceiver, ReceivedMetric, number_f64, number_i64};

const WAIT: Duration = Duration::from_secs(15);
const LABELS: [&str; 3] = ["setosa", "versicolor", "virginica"];

fn telemetry_for(receiver: &OtlpReceiver) -> Telemetry {
    builder_for(receiver).build().expect("telemetry builds")
}

fn builder_for(receiver: &OtlpReceiver) -> mlotel::TelemetryBuilder {
    let endpoint = receiver.endpoint();
    Telemetry::builder()
        .service_name("ground-truth-test")
        .install_logging(false)
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_METRIC_EXPORT_INTERVAL", "3600000"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ])
}

#[instrument_ml(model = "truth_attr", version = "1.0.0")]
fn classify(probabilities: [f64; 3]) -> [f64; 3] {
    probabilities
}

#[instrument_ml(model = "truth_attr", version = "1.0.0", batch)]
async fn classify_batch(rows: Vec<[f64; 3]>) -> Vec<[f64; 3]> {
    rows
}

fn sum_i64(metric: &ReceivedMetric, want: &[(&str, &str)]) -> i64 {
    metric
        .sum_points()
        .iter()
        .filter(|point| point_has(point, want))
        .filter_map(number_i64)
        .sum()
}

fn point_has(
    point: &mlotel_tests::proto::metrics::v1::NumberDataPoint,
    want: &[(&str, &str)],
) -> bool {
    use mlotel_tests::Attributes as _;
    point.has_attrs(want)
}

#[test]
fn attribute_predictions_get_ids_and_their_outcomes_arrive_as_confusion_matrix_and_calibration() {
    let receiver = OtlpReceiver::grpc();
    // Installed: `#[instrument_ml]` records to the installed telemetry (only this test
    // installs one).
    let telemetry = builder_for(&receiver).install().expect("installs");
    let model = Model::builder("truth_attr")
        .version("1.0.0")
        .labels(LABELS)
        .prediction_store(4096, Duration::from_secs(3600))
        .register();
    let model_attr = (attr::MODEL_NAME, "truth_attr");

    // One prediction: its id is the thread's last one.
    classify([0.1, 0.7, 0.2]);
    let versicolor = mlotel::last_prediction_id().expect("a store hands out ids");
    assert_eq!(mlotel::take_prediction_ids(), vec![versicolor]);
    let found = model.find_prediction(versicolor).expect("stored");
    assert_eq!(found.label.as_deref(), Some("versicolor"));
    assert_eq!(found.confidence, Some(0.7));

    // A batch, awaited: one id per row, in row order, read after the `.await`.
    let ids = futures_executor_block_on(async {
        classify_batch(vec![[0.9, 0.05, 0.05], [0.2, 0.25, 0.55], [0.3, 0.3, 0.4]]).await;
        mlotel::take_prediction_ids()
    });
    assert_eq!(ids.len(), 3);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3, "distinct ids");
    assert!(ids.iter().all(|id| model.issued(*id)));

    // Ids travel as text.
    let text = versicolor.to_string();
    let parsed: PredictionId = text.parse().expect("parses back");
    assert_eq!(parsed, versicolor);

    model
        .record_actual_label(parsed, "versicolor")
        .expect("right");
    model.record_actual_label(ids[0], "setosa").expect("right");
    model
        .record_actual_label(ids[1], "versicolor")
        .expect("wrong: predicted virginica");
    model
        .record_actual_label(ids[2], "dandelion")
        .expect("an unknown label is __other__");

    // What finds nothing is an error to answer, counted.
    assert_eq!(
        model.record_actual_label(ids[0], "setosa"),
        Err(OutcomeError::Duplicate)
    );
    let foreign: PredictionId = "00000000-1".parse().expect("an id");
    assert_eq!(
        model.record_actual_label(foreign, "setosa"),
        Err(OutcomeError::UnknownId)
    );
    assert_eq!(
        model.record_actual_value(ids[0], 1.0),
        Err(OutcomeError::Duplicate)
    );
    classify([0.6, 0.3, 0.1]);
    let unread = mlotel::last_prediction_id().expect("id");
    assert_eq!(
        model.record_actual_value(unread, 1.0),
        Err(OutcomeError::KindMismatch)
    );
    model
        .record_actual_label(unread, "setosa")
        .expect("a wrong kind leaves it for the right one");

    // Direct recording, no id.
    model.record_classification(
        "virginica",
        "virginica",
        Some(0.95),
        Some(Duration::from_secs(90)),
    );

    telemetry.shutdown().expect("flushes to a live receiver");

    let outcomes = receiver.wait_for_metric(names::OUTCOMES.name, WAIT);
    let cell = |predicted: &str, actual: &str, correct: &str| {
        sum_i64(
            &outcomes,
            &[
                model_attr,
                (attr::PREDICTION_LABEL, predicted),
                (attr::OUTCOME_LABEL, actual),
                (attr::OUTCOME_CORRECT, correct),
            ],
        )
    };
    assert_eq!(cell("versicolor", "versicolor", "true"), 1);
    assert_eq!(
        cell("setosa", "setosa", "true"),
        2,
        "the batch row and the later one"
    );
    assert_eq!(cell("virginica", "versicolor", "false"), 1);
    assert_eq!(cell("virginica", names::OTHER_LABEL, "false"), 1);
    assert_eq!(
        cell("virginica", "virginica", "true"),
        1,
        "recorded directly"
    );
    assert_eq!(sum_i64(&outcomes, &[model_attr]), 6);

    // Calibration: bins are (lower, upper], named by their upper edge.
    let calibration = receiver.wait_for_metric(names::OUTCOME_CALIBRATION.name, WAIT);
    let bin = |bin: &str, correct: &str| {
        sum_i64(
            &calibration,
            &[
                model_attr,
                (attr::CONFIDENCE_BIN, bin),
                (attr::OUTCOME_CORRECT, correct),
            ],
        )
    };
    assert_eq!(bin("0.7", "true"), 1);
    assert_eq!(bin("0.9", "true"), 1, "0.9 is on its bin's upper edge");
    assert_eq!(bin("1.0", "true"), 1, "the direct 0.95");
    assert_eq!(bin("0.6", "false"), 1);
    assert_eq!(bin("0.4", "false"), 1, "0.4 is on its bin's upper edge");
    assert_eq!(bin("0.6", "true"), 1, "the 0.6 setosa");
    let confidence = receiver.wait_for_metric(names::OUTCOME_CALIBRATION_CONFIDENCE.name, WAIT);
    let sum = |bin: &str| {
        confidence
            .sum_point(&[model_attr, (attr::CONFIDENCE_BIN, bin)])
            .and_then(number_f64)
            .unwrap_or_default()
    };
    assert!((sum("1.0") - 0.95).abs() < 1e-12, "{}", sum("1.0"));
    assert!((sum("0.6") - 1.15).abs() < 1e-12, "{}", sum("0.6"));

    let delay = receiver.wait_for_metric(names::OUTCOME_DELAY.name, WAIT);
    let delays = delay.histogram_point(&[model_attr]).expect("delays");
    assert_eq!(delays.count, 6);
    assert!(
        delays.max.expect("max") >= 90.0,
        "the direct outcome's delay"
    );

    let unmatched = receiver.wait_for_metric(names::OUTCOMES_UNMATCHED.name, WAIT);
    let reason = |reason: &str| {
        sum_i64(
            &unmatched,
            &[model_attr, (attr::OUTCOME_UNMATCHED_REASON, reason)],
        )
    };
    assert_eq!(reason("duplicate"), 2);
    assert_eq!(reason("unknown_id"), 1);
    assert_eq!(reason("kind_mismatch"), 1);

    let capacity = receiver.wait_for_metric(names::PREDICTION_STORE_CAPACITY.name, WAIT);
    let point = capacity.gauge_point(&[model_attr]).expect("capacity");
    assert_eq!(number_i64(point), Some(4096));
}

#[test]
fn regressions_record_absolute_and_squared_error_and_evictions_are_counted() {
    let receiver = OtlpReceiver::grpc();
    let telemetry = telemetry_for(&receiver);
    let model = telemetry.model(
        Model::builder("truth_regression")
            .version("2")
            .prediction_store(1024, Duration::from_secs(3600)),
    );
    let model_attr = (attr::MODEL_NAME, "truth_regression");
    let first = model.remember_value(10.0).expect("a store");
    let second = model.remember_value(4.0).expect("a store");
    model.record_actual_value(first, 7.0).expect("in the store");
    model.record_regression(1.0, 2.5, None);
    // A flood of predictions without feedback pushes the second out.
    for _ in 0..1024 {
        model.remember_value(0.0);
    }
    assert_eq!(
        model.record_actual_value(second, 4.0),
        Err(OutcomeError::Evicted)
    );
    assert_eq!(
        model.record_actual_label(second, "x"),
        Err(OutcomeError::Evicted)
    );
    // A model without a store hands out no ids and counts outcomes by id as `no_store`.
    let storeless = telemetry.model(Model::builder("truth_regression").version("3"));
    assert_eq!(storeless.remember_value(1.0), None);
    assert_eq!(
        storeless.record_actual_value(first, 1.0),
        Err(OutcomeError::NoStore)
    );
    telemetry.shutdown().expect("flushes to a live receiver");

    let errors = receiver.wait_for_metric(names::OUTCOME_ABSOLUTE_ERROR.name, WAIT);
    let point = errors
        .histogram_point(&[model_attr, (attr::MODEL_VERSION, "2")])
        .expect("errors");
    assert_eq!(point.count, 2);
    assert!((point.sum.expect("sum") - 4.5).abs() < 1e-12);
    let squared = receiver.wait_for_metric(names::OUTCOME_SQUARED_ERROR.name, WAIT);
    let squared = squared
        .sum_point(&[model_attr])
        .and_then(number_f64)
        .expect("squared");
    assert!((squared - 11.25).abs() < 1e-12, "9 + 2.25: {squared}");
    let delay = receiver.wait_for_metric(names::OUTCOME_DELAY.name, WAIT);
    assert_eq!(
        delay.histogram_point(&[model_attr]).expect("delay").count,
        1,
        "by id only"
    );

    let evictions = receiver.wait_for_metric(names::PREDICTION_STORE_EVICTIONS.name, WAIT);
    let evicted = evictions.sum_point(&[model_attr]).and_then(number_i64);
    assert_eq!(evicted, Some(1), "the second; the first had its outcome");
    let unmatched = receiver.wait_for_metric(names::OUTCOMES_UNMATCHED.name, WAIT);
    assert_eq!(
        sum_i64(
            &unmatched,
            &[model_attr, (attr::OUTCOME_UNMATCHED_REASON, "evicted")]
        ),
        2
    );
    assert_eq!(
        sum_i64(
            &unmatched,
            &[model_attr, (attr::OUTCOME_UNMATCHED_REASON, "no_store")]
        ),
        1
    );
}

#[test]
fn concurrent_feedback_from_many_threads_loses_nothing() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 2_000;
    let receiver = OtlpReceiver::grpc();
    let telemetry = telemetry_for(&receiver);
    let model = telemetry.model(
        Model::builder("truth_concurrent")
            .labels(LABELS)
            .prediction_store(THREADS * PER_THREAD, Duration::from_secs(3600)),
    );
    let model_attr = (attr::MODEL_NAME, "truth_concurrent");
    // Predictions from many threads, feedback from many others, both at once.
    let (sender, receiver_of_ids) = std::sync::mpsc::channel::<(PredictionId, &'static str)>();
    let receiver_of_ids = std::sync::Mutex::new(receiver_of_ids);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (model, sender) = (&model, sender.clone());
            scope.spawn(move || {
                for row in 0..PER_THREAD {
                    let label = LABELS[(thread + row) % 3];
                    let mut call = model.start_call();
                    call.record_row(mlotel::Prediction {
                        label: Some(mlotel::Label::Text(label)),
                        confidence: Some(0.5),
                    })
                    .map(|id| sender.send((id, if row % 2 == 0 { label } else { "setosa" })));
                    call.finish_batch(1);
                }
            });
        }
        drop(sender);
        for _ in 0..THREADS {
            let (model, ids) = (&model, &receiver_of_ids);
            scope.spawn(move || {
                loop {
                    let next = ids.lock().expect("not poisoned").recv();
                    let Ok((id, actual)) = next else { break };
                    model
                        .record_actual_label(id, actual)
                        .expect("each id once, in the store");
                }
            });
        }
    });
    telemetry.shutdown().expect("flushes to a live receiver");
    let outcomes = receiver.wait_for_metric(names::OUTCOMES.name, WAIT);
    let total = (THREADS * PER_THREAD) as i64;
    assert_eq!(sum_i64(&outcomes, &[model_attr]), total);
    let correct = sum_i64(&outcomes, &[model_attr, (attr::OUTCOME_CORRECT, "true")]);
    // Even rows are right; odd rows are right when the prediction was setosa.
    let expected_correct = (0..THREADS)
        .flat_map(|thread| (0..PER_THREAD).map(move |row| (thread, row)))
        .filter(|&(thread, row)| row % 2 == 0 || (thread + row) % 3 == 0)
        .count() as i64;
    assert_eq!(correct, expected_correct);
    let calibration = receiver.wait_for_metric(names::OUTCOME_CALIBRATION.name, WAIT);
    assert_eq!(
        sum_i64(&calibration, &[model_attr, (attr::CONFIDENCE_BIN, "0.5")]),
        total
    );
}

/// Runs a future to completion on this thread (the batch function is `async`).
fn futures_executor_block_on<F: std::future::Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}
