//! Every instrument name, unit, description, attribute key and bucket list mlotel emits.
//!
//! This module is the single source of truth: instruments are created from [`CATALOGUE`]
//! and `docs/metrics.md` is checked against it (and against the real `/metrics` output) by
//! the integration tests. Names follow the OpenTelemetry semantic conventions where one
//! exists (`http.*`, `process.*`, `error.type`, `otel.sdk.*`) and are our own `ml.*`
//! namespace where none does.

/// The kind of an instrument, as the OpenTelemetry API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstrumentKind {
    /// A monotonic sum (`Counter` / `ObservableCounter`).
    Counter,
    /// A non-monotonic sum (`UpDownCounter`).
    UpDownCounter,
    /// A histogram with explicit bucket boundaries.
    Histogram,
    /// A last-value gauge (`Gauge` / `ObservableGauge`).
    Gauge,
}

/// Name, unit, description and attribute keys of one instrument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InstrumentSpec {
    /// OpenTelemetry instrument name, e.g. `ml.prediction.duration`.
    pub name: &'static str,
    /// UCUM unit, e.g. `s`, `1`, `{prediction}`.
    pub unit: &'static str,
    /// One-sentence description carried to every backend.
    pub description: &'static str,
    /// The instrument kind.
    pub kind: InstrumentKind,
    /// Attribute keys a data point of this instrument may carry.
    pub attributes: &'static [&'static str],
    /// Explicit histogram bucket boundaries (empty unless `kind` is `Histogram`).
    pub buckets: &'static [f64],
}

/// Attribute keys.
pub mod attr {
    /// Model name (our own namespace).
    pub const MODEL_NAME: &str = "ml.model.name";
    /// Model version.
    pub const MODEL_VERSION: &str = "ml.model.version";
    /// `ok`, `error`, `panic` or `cancelled`; see [`super::outcome`].
    pub const PREDICTION_OUTCOME: &str = "ml.prediction.outcome";
    /// Predicted label. On metrics it is bounded by the model's label set (`__other__`
    /// beyond it); on spans it is the label as predicted.
    pub const PREDICTION_LABEL: &str = "ml.prediction.label";
    /// Confidence of a prediction (span attribute only).
    pub const PREDICTION_CONFIDENCE: &str = "ml.prediction.confidence";
    /// Rows in a batch prediction (span attribute only).
    pub const PREDICTION_BATCH_SIZE: &str = "ml.prediction.batch_size";
    /// Input feature name (from the model's schema).
    pub const FEATURE_NAME: &str = "ml.feature.name";
    /// Drift statistic, [`DriftMethod::name`](crate::drift::stats::DriftMethod::name): `psi`,
    /// `jensenshannon`, `ks`, `ks_pvalue`, `wasserstein_normed`, `chisquare`,
    /// `chisquare_pvalue`, `missing_share` (`ks`, `ks_pvalue` and `wasserstein_normed` for
    /// numeric features only).
    pub const DRIFT_METHOD: &str = "ml.drift.method";
    /// What a prediction-drift or window gauge is about: `label` or `confidence` (prediction
    /// drift), `features` or `predictions` (window observations).
    pub const DRIFT_SIGNAL: &str = "ml.drift.signal";
    /// A bin of the drift reference, on the fleet-wide bin series: `0`, `1`, … for a
    /// numeric profile's value bins (lowest first) and a categorical profile's categories
    /// (in the reference's order), then `other` (categorical) and `missing`.
    pub const DRIFT_BIN: &str = "ml.drift.bin";
    /// Semantic-convention error class.
    pub const ERROR_TYPE: &str = "error.type";
    /// Sub-step of a prediction (`#[instrument_ml(stage = "preprocess")]`), on its span.
    pub const STAGE: &str = "ml.stage";
    /// Prefix of span attributes that record arguments (`record = [arg]`): `ml.input.arg`.
    pub const INPUT_PREFIX: &str = "ml.input.";
    /// Semantic-convention component type of an SDK exporter or processor.
    pub const OTEL_COMPONENT_TYPE: &str = "otel.component.type";
    /// Semantic-convention HTTP request method (`_OTHER` for methods outside the standard set).
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    /// Semantic-convention route template, e.g. `/v1/models/{model}:predict`; never a raw path.
    pub const HTTP_ROUTE: &str = "http.route";
    /// Semantic-convention response status code.
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// Semantic-convention URL scheme (`http` or `https`).
    pub const URL_SCHEME: &str = "url.scheme";
    /// Semantic-convention URL path (span attribute only: raw paths never reach metrics).
    pub const URL_PATH: &str = "url.path";
    /// Semantic-convention HTTP version, e.g. `1.1`, `2`.
    pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
    /// Semantic-convention server host name (span attribute only).
    pub const SERVER_ADDRESS: &str = "server.address";
    /// Semantic-convention server port (span attribute only).
    pub const SERVER_PORT: &str = "server.port";
    /// Semantic-convention `User-Agent` header value (span attribute only).
    pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
    /// Semantic-convention memory state of `system.memory.usage`; mlotel reports `used`.
    pub const SYSTEM_MEMORY_STATE: &str = "system.memory.state";
    /// The true label of a classification's outcome, bounded by the model's label set like
    /// [`PREDICTION_LABEL`] (our own namespace).
    pub const OUTCOME_LABEL: &str = "ml.outcome.label";
    /// `true` when the predicted label was the true one, else `false`.
    pub const OUTCOME_CORRECT: &str = "ml.outcome.correct";
    /// The calibration bin of an outcome's confidence: its upper edge, `0.1` to `1.0`.
    pub const CONFIDENCE_BIN: &str = "ml.confidence.bin";
    /// Why an outcome found no prediction: `unknown_id`, `evicted`, `expired`, `duplicate`,
    /// `kind_mismatch` or `no_store`.
    pub const OUTCOME_UNMATCHED_REASON: &str = "ml.outcome.unmatched_reason";
}

/// Values of [`attr::PREDICTION_OUTCOME`].
pub mod outcome {
    /// The function returned a value that is not an error.
    pub const OK: &str = "ok";
    /// The function returned an `Err` (or an output that reports an error).
    pub const ERROR: &str = "error";
    /// The function panicked.
    pub const PANIC: &str = "panic";
    /// The future was dropped before it completed.
    pub const CANCELLED: &str = "cancelled";
}

/// Label recorded in place of any label outside the model's declared set.
pub const OTHER_LABEL: &str = "__other__";

/// Prediction latency buckets, in seconds: they start below a millisecond because small
/// models answer in microseconds.
pub const PREDICTION_DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Confidence buckets (unitless, 0..=1).
pub const CONFIDENCE_BUCKETS: &[f64] = &[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99];

/// HTTP server duration buckets from the HTTP semantic conventions, in seconds.
pub const HTTP_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Request and response body size buckets, in bytes: 0, then powers of four from 64 B to
/// 16 MiB (the semantic conventions leave these buckets open).
pub const HTTP_BODY_SIZE_BUCKETS: &[f64] = &[
    0.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];

/// `http.route` of a request no route matched (a 404 from the default service, say): one
/// fixed value, so unknown paths cannot grow the series count. Real templates start with `/`,
/// so it cannot collide with one.
pub const UNMATCHED_ROUTE: &str = "unmatched";

const MODEL: &[&str] = &[attr::MODEL_NAME, attr::MODEL_VERSION];
const MODEL_OUTCOME: &[&str] = &[
    attr::MODEL_NAME,
    attr::MODEL_VERSION,
    attr::PREDICTION_OUTCOME,
    attr::ERROR_TYPE,
];
const MODEL_OUTCOME_LABEL: &[&str] = &[
    attr::MODEL_NAME,
    attr::MODEL_VERSION,
    attr::PREDICTION_OUTCOME,
    attr::ERROR_TYPE,
    attr::PREDICTION_LABEL,
];
const MODEL_FEATURE: &[&str] = &[attr::MODEL_NAME, attr::MODEL_VERSION, attr::FEATURE_NAME];

/// `ml.prediction.duration`: wall time of one prediction call (a whole batch counts once).
pub const PREDICTION_DURATION: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.duration",
    unit: "s",
    description: "Duration of prediction calls.",
    kind: InstrumentKind::Histogram,
    attributes: MODEL_OUTCOME,
    buckets: PREDICTION_DURATION_BUCKETS,
};

/// `ml.predictions`: predictions made (one per row of a batch).
pub const PREDICTIONS: InstrumentSpec = InstrumentSpec {
    name: "ml.predictions",
    unit: "{prediction}",
    description: "Number of predictions made, by outcome and predicted label.",
    kind: InstrumentKind::Counter,
    attributes: MODEL_OUTCOME_LABEL,
    buckets: &[],
};

/// `ml.prediction.confidence`: confidence of each prediction that has one.
pub const PREDICTION_CONFIDENCE: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.confidence",
    unit: "1",
    description: "Confidence (top class probability or model score) of predictions.",
    kind: InstrumentKind::Histogram,
    attributes: MODEL,
    buckets: CONFIDENCE_BUCKETS,
};

/// `ml.predictions.active`: prediction calls in progress.
pub const PREDICTIONS_ACTIVE: InstrumentSpec = InstrumentSpec {
    name: "ml.predictions.active",
    unit: "{prediction}",
    description: "Number of prediction calls in progress.",
    kind: InstrumentKind::UpDownCounter,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.model.loaded`: 1 once the model version is loaded and serving, else 0.
pub const MODEL_LOADED: InstrumentSpec = InstrumentSpec {
    name: "ml.model.loaded",
    unit: "1",
    description: "Whether the model version is loaded and serving (1) or not (0).",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.model.info`: always 1; carries the model's identity for joins in PromQL.
pub const MODEL_INFO: InstrumentSpec = InstrumentSpec {
    name: "ml.model.info",
    unit: "1",
    description: "Information about a registered model version; always 1.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.model.load.duration`: how long the model version took to load.
pub const MODEL_LOAD_DURATION: InstrumentSpec = InstrumentSpec {
    name: "ml.model.load.duration",
    unit: "s",
    description: "Time the model version took to load.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.feature.missing`: input values that were missing or NaN.
pub const FEATURE_MISSING: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.missing",
    unit: "{value}",
    description: "Input feature values that were missing or NaN.",
    kind: InstrumentKind::Counter,
    attributes: MODEL_FEATURE,
    buckets: &[],
};

/// `ml.feature.out_of_range`: input values outside the reference range.
pub const FEATURE_OUT_OF_RANGE: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.out_of_range",
    unit: "{value}",
    description: "Input feature values outside the range seen in the reference data.",
    kind: InstrumentKind::Counter,
    attributes: MODEL_FEATURE,
    buckets: &[],
};

/// `ml.feature.drift`: drift statistic of one feature over the current window.
pub const FEATURE_DRIFT: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.drift",
    unit: "1",
    description: "Drift of a feature's window distribution from its reference, by method.",
    kind: InstrumentKind::Gauge,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::FEATURE_NAME,
        attr::DRIFT_METHOD,
    ],
    buckets: &[],
};

/// `ml.feature.drift.detected`: 1 when a feature's drift decision says it drifted.
pub const FEATURE_DRIFT_DETECTED: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.drift.detected",
    unit: "1",
    description: "1 when the feature's drift statistic crossed its threshold over the current window, else 0.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL_FEATURE,
    buckets: &[],
};

/// `ml.prediction.drift`: drift of the predicted labels or of the confidence.
pub const PREDICTION_DRIFT: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.drift",
    unit: "1",
    description: "Drift of the prediction distribution from its reference, by method.",
    kind: InstrumentKind::Gauge,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::DRIFT_SIGNAL,
        attr::DRIFT_METHOD,
    ],
    buckets: &[],
};

/// `ml.prediction.confidence.mean`: mean confidence over the drift window.
pub const CONFIDENCE_MEAN: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.confidence.mean",
    unit: "1",
    description: "Mean confidence of the predictions in the current drift window (an accuracy estimate for calibrated models).",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.prediction.confidence.mean_change`: window mean confidence minus the reference's.
pub const CONFIDENCE_MEAN_CHANGE: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.confidence.mean_change",
    unit: "1",
    description: "Mean confidence of the current drift window minus the reference's mean confidence.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.feature.bin.observations`: running count of a feature's observations per reference
/// bin, summed over replicas by the fleet-wide drift rules.
pub const FEATURE_BIN_OBSERVATIONS: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.bin.observations",
    unit: "{observation}",
    description: "Observations of an input feature per bin of the drift reference (fleet-wide drift sums them over replicas).",
    kind: InstrumentKind::Counter,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::FEATURE_NAME,
        attr::DRIFT_BIN,
    ],
    buckets: &[],
};

/// `ml.feature.bin.reference`: the reference's share of a feature's bin (constant per model
/// version).
pub const FEATURE_BIN_REFERENCE: InstrumentSpec = InstrumentSpec {
    name: "ml.feature.bin.reference",
    unit: "1",
    description: "Share of the drift reference's rows in each bin of an input feature.",
    kind: InstrumentKind::Gauge,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::FEATURE_NAME,
        attr::DRIFT_BIN,
    ],
    buckets: &[],
};

/// `ml.prediction.bin.observations`: running count of predicted labels or confidences per
/// reference bin.
pub const PREDICTION_BIN_OBSERVATIONS: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.bin.observations",
    unit: "{observation}",
    description: "Predicted labels or confidences per bin of the drift reference (fleet-wide drift sums them over replicas).",
    kind: InstrumentKind::Counter,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::DRIFT_SIGNAL,
        attr::DRIFT_BIN,
    ],
    buckets: &[],
};

/// `ml.prediction.bin.reference`: the reference's share of a label or confidence bin.
pub const PREDICTION_BIN_REFERENCE: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction.bin.reference",
    unit: "1",
    description: "Share of the drift reference's predictions in each bin of the predicted label or the confidence.",
    kind: InstrumentKind::Gauge,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::DRIFT_SIGNAL,
        attr::DRIFT_BIN,
    ],
    buckets: &[],
};

/// `ml.drift.window.observations`: observations in the drift window.
pub const DRIFT_WINDOW_OBSERVATIONS: InstrumentSpec = InstrumentSpec {
    name: "ml.drift.window.observations",
    unit: "{observation}",
    description: "Feature rows and predictions in the current drift window; drift is reported from the minimum on.",
    kind: InstrumentKind::Gauge,
    attributes: &[attr::MODEL_NAME, attr::MODEL_VERSION, attr::DRIFT_SIGNAL],
    buckets: &[],
};

/// `ml.dataset.drift_share`: share of features whose drift crossed its threshold.
pub const DATASET_DRIFT_SHARE: InstrumentSpec = InstrumentSpec {
    name: "ml.dataset.drift_share",
    unit: "1",
    description: "Share of the model's features detected as drifted.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

const MODEL_OUTCOME_LABELS: &[&str] = &[
    attr::MODEL_NAME,
    attr::MODEL_VERSION,
    attr::PREDICTION_LABEL,
    attr::OUTCOME_LABEL,
    attr::OUTCOME_CORRECT,
];

/// Buckets of the delay between a prediction and its outcome, in seconds: a second to a
/// week (labels arrive from seconds, a click, to weeks, a chargeback).
pub const OUTCOME_DELAY_BUCKETS: &[f64] = &[
    1.0, 10.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 43200.0, 86400.0, 172800.0,
    604800.0,
];

/// Buckets of a regression's absolute error, in the target's own unit: 1-2.5-5 steps from
/// 0.001 to 1000 (the mean comes from the sum and count, whatever the buckets).
pub const ABSOLUTE_ERROR_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0,
    100.0, 250.0, 500.0, 1000.0,
];

/// `ml.outcomes`: classification outcomes by predicted and true label (the confusion
/// matrix, summed over replicas).
pub const OUTCOMES: InstrumentSpec = InstrumentSpec {
    name: "ml.outcomes",
    unit: "{outcome}",
    description: "Classification outcomes recorded, by predicted and true label.",
    kind: InstrumentKind::Counter,
    attributes: MODEL_OUTCOME_LABELS,
    buckets: &[],
};

/// `ml.outcome.calibration`: classification outcomes with a confidence, by confidence bin
/// and correctness (a reliability diagram and the expected calibration error).
pub const OUTCOME_CALIBRATION: InstrumentSpec = InstrumentSpec {
    name: "ml.outcome.calibration",
    unit: "{outcome}",
    description: "Classification outcomes with a confidence, by confidence bin and whether the prediction was right.",
    kind: InstrumentKind::Counter,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::CONFIDENCE_BIN,
        attr::OUTCOME_CORRECT,
    ],
    buckets: &[],
};

/// `ml.outcome.calibration.confidence`: the sum of those outcomes' confidences, by bin.
pub const OUTCOME_CALIBRATION_CONFIDENCE: InstrumentSpec = InstrumentSpec {
    name: "ml.outcome.calibration.confidence",
    unit: "1",
    description: "Sum of the confidences of classification outcomes, by confidence bin.",
    kind: InstrumentKind::Counter,
    attributes: &[attr::MODEL_NAME, attr::MODEL_VERSION, attr::CONFIDENCE_BIN],
    buckets: &[],
};

/// `ml.outcome.absolute_error`: a regression's |actual - predicted|.
pub const OUTCOME_ABSOLUTE_ERROR: InstrumentSpec = InstrumentSpec {
    name: "ml.outcome.absolute_error",
    unit: "{target}",
    description: "Absolute error of regression outcomes, in the target's unit.",
    kind: InstrumentKind::Histogram,
    attributes: MODEL,
    buckets: ABSOLUTE_ERROR_BUCKETS,
};

/// `ml.outcome.squared_error`: the sum of a regression's squared errors.
pub const OUTCOME_SQUARED_ERROR: InstrumentSpec = InstrumentSpec {
    name: "ml.outcome.squared_error",
    unit: "{target_squared}",
    description: "Sum of the squared errors of regression outcomes.",
    kind: InstrumentKind::Counter,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.outcome.delay`: time from a prediction to its outcome (outcomes joined by id, or
/// given a delay).
pub const OUTCOME_DELAY: InstrumentSpec = InstrumentSpec {
    name: "ml.outcome.delay",
    unit: "s",
    description: "Time from a prediction to the recording of its outcome.",
    kind: InstrumentKind::Histogram,
    attributes: MODEL,
    buckets: OUTCOME_DELAY_BUCKETS,
};

/// `ml.outcomes.unmatched`: outcomes recorded by id that found no prediction.
pub const OUTCOMES_UNMATCHED: InstrumentSpec = InstrumentSpec {
    name: "ml.outcomes.unmatched",
    unit: "{outcome}",
    description: "Outcomes recorded by prediction id that found no prediction, by reason.",
    kind: InstrumentKind::Counter,
    attributes: &[
        attr::MODEL_NAME,
        attr::MODEL_VERSION,
        attr::OUTCOME_UNMATCHED_REASON,
    ],
    buckets: &[],
};

/// `ml.model.reference_accuracy`: the model version's hold-out accuracy at training.
pub const MODEL_REFERENCE_ACCURACY: InstrumentSpec = InstrumentSpec {
    name: "ml.model.reference_accuracy",
    unit: "1",
    description: "Accuracy of the model version on held-out data when it was trained; realised accuracy is compared with it.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.prediction_store.evictions`: stored predictions overwritten before their outcome.
pub const PREDICTION_STORE_EVICTIONS: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction_store.evictions",
    unit: "{prediction}",
    description: "Stored predictions pushed out of the prediction store by newer ones before an outcome was recorded for them.",
    kind: InstrumentKind::Counter,
    attributes: MODEL,
    buckets: &[],
};

/// `ml.prediction_store.capacity`: how many predictions the store keeps.
pub const PREDICTION_STORE_CAPACITY: InstrumentSpec = InstrumentSpec {
    name: "ml.prediction_store.capacity",
    unit: "{prediction}",
    description: "Number of predictions the prediction store keeps.",
    kind: InstrumentKind::Gauge,
    attributes: MODEL,
    buckets: &[],
};

/// `otel.sdk.exporter.span.exported`: spans handed to the exporter (semantic convention).
pub const EXPORTER_SPANS: InstrumentSpec = InstrumentSpec {
    name: "otel.sdk.exporter.span.exported",
    unit: "{span}",
    description: "Spans the exporter attempted to send; failed ones carry error.type.",
    kind: InstrumentKind::Counter,
    attributes: &[attr::OTEL_COMPONENT_TYPE, attr::ERROR_TYPE],
    buckets: &[],
};

/// `otel.sdk.exporter.metric_data_point.exported` (semantic convention).
pub const EXPORTER_METRIC_POINTS: InstrumentSpec = InstrumentSpec {
    name: "otel.sdk.exporter.metric_data_point.exported",
    unit: "{data_point}",
    description: "Metric data points the exporter attempted to send; failed ones carry error.type.",
    kind: InstrumentKind::Counter,
    attributes: &[attr::OTEL_COMPONENT_TYPE, attr::ERROR_TYPE],
    buckets: &[],
};

/// `otel.sdk.exporter.log.exported` (semantic convention).
pub const EXPORTER_LOGS: InstrumentSpec = InstrumentSpec {
    name: "otel.sdk.exporter.log.exported",
    unit: "{log_record}",
    description: "Log records the exporter attempted to send; failed ones carry error.type.",
    kind: InstrumentKind::Counter,
    attributes: &[attr::OTEL_COMPONENT_TYPE, attr::ERROR_TYPE],
    buckets: &[],
};

/// `otel.sdk.processor.span.processed`: spans dropped before export carry
/// `error.type=queue_full` (semantic convention).
pub const PROCESSOR_SPANS: InstrumentSpec = InstrumentSpec {
    name: "otel.sdk.processor.span.processed",
    unit: "{span}",
    description: "Spans that went through the batching processor; dropped ones carry error.type.",
    kind: InstrumentKind::Counter,
    attributes: &[attr::OTEL_COMPONENT_TYPE, attr::ERROR_TYPE],
    buckets: &[],
};

const HTTP_REQUEST: &[&str] = &[
    attr::HTTP_REQUEST_METHOD,
    attr::HTTP_ROUTE,
    attr::HTTP_RESPONSE_STATUS_CODE,
    attr::ERROR_TYPE,
    attr::URL_SCHEME,
    attr::NETWORK_PROTOCOL_VERSION,
];

/// `http.server.request.duration` (semantic convention): from the request's arrival at the
/// middleware until its response body is fully sent.
pub const HTTP_SERVER_REQUEST_DURATION: InstrumentSpec = InstrumentSpec {
    name: "http.server.request.duration",
    unit: "s",
    description: "Duration of HTTP server requests.",
    kind: InstrumentKind::Histogram,
    attributes: HTTP_REQUEST,
    buckets: HTTP_DURATION_BUCKETS,
};

/// `http.server.active_requests` (semantic convention): requests in progress.
pub const HTTP_SERVER_ACTIVE_REQUESTS: InstrumentSpec = InstrumentSpec {
    name: "http.server.active_requests",
    unit: "{request}",
    description: "Number of active HTTP server requests.",
    kind: InstrumentKind::UpDownCounter,
    attributes: &[attr::HTTP_REQUEST_METHOD, attr::URL_SCHEME],
    buckets: &[],
};

/// `http.server.request.body.size` (semantic convention): the request's `Content-Length`.
pub const HTTP_SERVER_REQUEST_BODY_SIZE: InstrumentSpec = InstrumentSpec {
    name: "http.server.request.body.size",
    unit: "By",
    description: "Size of HTTP server request bodies.",
    kind: InstrumentKind::Histogram,
    attributes: HTTP_REQUEST,
    buckets: HTTP_BODY_SIZE_BUCKETS,
};

/// `http.server.response.body.size` (semantic convention): bytes of the response body sent.
pub const HTTP_SERVER_RESPONSE_BODY_SIZE: InstrumentSpec = InstrumentSpec {
    name: "http.server.response.body.size",
    unit: "By",
    description: "Size of HTTP server response bodies.",
    kind: InstrumentKind::Histogram,
    attributes: HTTP_REQUEST,
    buckets: HTTP_BODY_SIZE_BUCKETS,
};

/// `process.cpu.utilization` (semantic convention): CPU time of this process over the last
/// sampling interval, divided by the interval and the number of CPUs (0 to 1).
pub const PROCESS_CPU_UTILIZATION: InstrumentSpec = InstrumentSpec {
    name: "process.cpu.utilization",
    unit: "1",
    description: "Difference in process.cpu.time since the last measurement, divided by the elapsed time and number of CPUs available to the process.",
    kind: InstrumentKind::Gauge,
    attributes: &[],
    buckets: &[],
};

/// `process.memory.usage` (semantic convention): resident memory of this process.
pub const PROCESS_MEMORY_USAGE: InstrumentSpec = InstrumentSpec {
    name: "process.memory.usage",
    unit: "By",
    description: "The amount of physical memory in use.",
    kind: InstrumentKind::Gauge,
    attributes: &[],
    buckets: &[],
};

/// `process.uptime` (semantic convention): seconds since this process started.
pub const PROCESS_UPTIME: InstrumentSpec = InstrumentSpec {
    name: "process.uptime",
    unit: "s",
    description: "The time the process has been running.",
    kind: InstrumentKind::Gauge,
    attributes: &[],
    buckets: &[],
};

/// `process.thread.count` (semantic convention): threads of this process.
pub const PROCESS_THREAD_COUNT: InstrumentSpec = InstrumentSpec {
    name: "process.thread.count",
    unit: "{thread}",
    description: "Process threads count.",
    kind: InstrumentKind::Gauge,
    attributes: &[],
    buckets: &[],
};

/// `system.cpu.utilization` (semantic convention): busy share of all CPUs of the host over
/// the last sampling interval (0 to 1).
pub const SYSTEM_CPU_UTILIZATION: InstrumentSpec = InstrumentSpec {
    name: "system.cpu.utilization",
    unit: "1",
    description: "Share of CPU time of all CPUs not spent idle since the last measurement.",
    kind: InstrumentKind::Gauge,
    attributes: &[],
    buckets: &[],
};

/// `system.memory.usage` (semantic convention): memory of the host by state; mlotel
/// reports the `used` state.
pub const SYSTEM_MEMORY_USAGE: InstrumentSpec = InstrumentSpec {
    name: "system.memory.usage",
    unit: "By",
    description: "Reports memory in use by state.",
    kind: InstrumentKind::Gauge,
    attributes: &[attr::SYSTEM_MEMORY_STATE],
    buckets: &[],
};

/// Every instrument mlotel defines, in documentation order.
///
/// The HTTP instruments are recorded by the `mlotel-actix` request middleware, the process
/// and system ones by its `SystemSampler`.
pub const CATALOGUE: &[InstrumentSpec] = &[
    PREDICTION_DURATION,
    PREDICTIONS,
    PREDICTION_CONFIDENCE,
    PREDICTIONS_ACTIVE,
    MODEL_LOADED,
    MODEL_INFO,
    MODEL_LOAD_DURATION,
    FEATURE_MISSING,
    FEATURE_OUT_OF_RANGE,
    FEATURE_DRIFT,
    FEATURE_DRIFT_DETECTED,
    PREDICTION_DRIFT,
    DATASET_DRIFT_SHARE,
    CONFIDENCE_MEAN,
    CONFIDENCE_MEAN_CHANGE,
    DRIFT_WINDOW_OBSERVATIONS,
    FEATURE_BIN_OBSERVATIONS,
    FEATURE_BIN_REFERENCE,
    PREDICTION_BIN_OBSERVATIONS,
    PREDICTION_BIN_REFERENCE,
    EXPORTER_SPANS,
    EXPORTER_METRIC_POINTS,
    EXPORTER_LOGS,
    PROCESSOR_SPANS,
    HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_ACTIVE_REQUESTS,
    HTTP_SERVER_REQUEST_BODY_SIZE,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
    PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE,
    PROCESS_UPTIME,
    PROCESS_THREAD_COUNT,
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_MEMORY_USAGE,
    OUTCOMES,
    OUTCOME_CALIBRATION,
    OUTCOME_CALIBRATION_CONFIDENCE,
    OUTCOME_ABSOLUTE_ERROR,
    OUTCOME_SQUARED_ERROR,
    OUTCOME_DELAY,
    OUTCOMES_UNMATCHED,
    MODEL_REFERENCE_ACCURACY,
    PREDICTION_STORE_EVICTIONS,
    PREDICTION_STORE_CAPACITY,
];

/// Span name of a prediction: `predict {model}`.
pub fn prediction_span_name(model: &str) -> String {
    format!("predict {model}")
}

/// Instrumentation scope name of everything mlotel records.
pub const SCOPE_NAME: &str = "mlotel";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_histograms_have_sorted_buckets() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len(), "duplicate instrument name");
        for spec in CATALOGUE {
            let is_histogram = spec.kind == InstrumentKind::Histogram;
            assert_eq!(is_histogram, !spec.buckets.is_empty(), "{}", spec.name);
            assert!(
                spec.buckets.windows(2).all(|pair| pair[0] < pair[1]),
                "{} buckets not increasing",
                spec.name
            );
        }
    }

    #[test]
    fn prediction_buckets_start_below_a_millisecond() {
        assert!(PREDICTION_DURATION_BUCKETS[0] < 0.001);
        assert_eq!(PREDICTION_DURATION_BUCKETS.len(), 14);
    }
}
