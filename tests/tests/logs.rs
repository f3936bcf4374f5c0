//! Logs: JSON lines carrying the trace and span ids of the current span, and OTLP log
//! records (when `OTEL_LOGS_EXPORTER=otlp`) correlated with the same trace.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mlotel::{JsonLogFormat, Model, Outcome, Telemetry};
use mlotel_tests::OtlpReceiver;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

const WAIT: Duration = Duration::from_secs(15);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> MakeWriter<'writer> for Captured {
    type Writer = Captured;

    fn make_writer(&'writer self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn json_log_lines_carry_the_ids_of_the_prediction_span_and_otlp_logs_arrive() {
    let receiver = OtlpReceiver::grpc();
    let endpoint = receiver.endpoint();
    let telemetry = Telemetry::builder()
        .env_vars([
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_LOGS_EXPORTER", "otlp"),
        ])
        .build()
        .expect("builds");
    let model = telemetry.model(Model::builder("iris"));
    let captured = Captured::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .event_format(JsonLogFormat)
                .with_writer(captured.clone()),
        )
        .with(telemetry.tracing_layer());
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(rows = 3, "outside any span");
        let ((), span) = model.in_span(|| {
            tracing::warn!(
                feature = "petal_width",
                ratio = 0.5,
                "inside the prediction"
            );
        });
        span.end(
            1,
            Outcome::Ok {
                label: None,
                confidence: None,
            },
        );
    });
    telemetry.shutdown().expect("flush");

    let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is one JSON object"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["message"], "outside any span");
    assert_eq!(lines[0]["fields"]["rows"], 3);
    assert!(lines[0].get("trace_id").is_none(), "no span, no trace id");
    assert_eq!(lines[1]["level"], "WARN");
    assert_eq!(lines[1]["fields"]["feature"], "petal_width");
    assert_eq!(lines[1]["fields"]["ratio"], 0.5);

    let span = receiver.wait_for_span("predict iris", WAIT);
    assert_eq!(lines[1]["trace_id"], span.trace_id_hex());
    assert_eq!(lines[1]["span_id"], span.span_id_hex());

    let record = receiver.wait_for_log(
        |log| log.body_text().contains("inside the prediction"),
        WAIT,
    );
    assert_eq!(record.trace_id_hex(), span.trace_id_hex());
    assert_eq!(record.span_id_hex(), span.span_id_hex());
    assert_eq!(record.attr_str("feature"), Some("petal_width"));
}
