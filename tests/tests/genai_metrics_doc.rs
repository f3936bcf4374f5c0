//! docs/genai.md is true: every GenAI instrument of `mlotel::genai::names::CATALOGUE` is
//! documented with its kind, unit, attributes and buckets, the Prometheus names it lists are
//! what `/metrics` shows, and docs/metrics.md pins the same conventions version.

mod genai_support;

use std::collections::BTreeSet;

use futures_core::Stream;
use genai_support::{Delayed, Token, drain, runtime};
use mlotel::Telemetry;
use mlotel::genai::names::{CATALOGUE, SEMCONV_VERSION};
use mlotel::genai::{GenAiSettings, PriceTable, TokenUsage};
use mlotel::instrument_genai;
use mlotel::names::InstrumentKind;
use mlotel_tests::{backticked, read_doc, table_rows};

struct Row {
    name: String,
    kind: String,
    unit: String,
    attributes: BTreeSet<String>,
    prometheus: String,
}

fn rows() -> Vec<Row> {
    table_rows(&read_doc("genai.md"), &["`gen_ai.", "`ml.gen_ai."], 6)
        .into_iter()
        .map(|cells| Row {
            name: backticked(&cells[0]).remove(0),
            kind: cells[1].clone(),
            unit: backticked(&cells[2]).remove(0),
            attributes: backticked(&cells[3]).into_iter().collect(),
            prometheus: backticked(&cells[5]).remove(0),
        })
        .collect()
}

#[test]
fn every_instrument_is_documented_as_defined() {
    let rows = rows();
    for spec in CATALOGUE {
        let row = rows
            .iter()
            .find(|row| row.name == spec.name)
            .unwrap_or_else(|| panic!("{} is missing from docs/genai.md", spec.name));
        let kind = match spec.kind {
            InstrumentKind::Histogram => "histogram",
            InstrumentKind::Counter => "counter",
            other => panic!("unexpected kind {other:?}"),
        };
        assert_eq!(row.kind, kind, "kind of {}", spec.name);
        assert_eq!(row.unit, spec.unit, "unit of {}", spec.name);
        let attributes: BTreeSet<String> = spec
            .attributes
            .iter()
            .map(|key| (*key).to_owned())
            .collect();
        assert_eq!(row.attributes, attributes, "attributes of {}", spec.name);
    }
    assert_eq!(
        rows.len(),
        CATALOGUE.len(),
        "docs list an instrument the catalogue lacks"
    );
    let pin = format!("GenAI semantic conventions v{SEMCONV_VERSION}");
    assert!(
        read_doc("metrics.md").contains(&pin),
        "docs/metrics.md pins {pin}"
    );
    assert!(
        read_doc("genai.md").contains(&pin),
        "docs/genai.md pins {pin}"
    );
}

#[instrument_genai(provider = "openai", model = "priced", stream)]
fn client_stream() -> impl Stream<Item = Token> + Unpin {
    Delayed::new(2, std::time::Duration::ZERO, std::time::Duration::ZERO)
}

#[instrument_genai(side = server, provider = "mlotel", model = "served", stream)]
fn server_stream() -> impl Stream<Item = Token> + Unpin {
    Delayed::new(2, std::time::Duration::ZERO, std::time::Duration::ZERO)
}

#[instrument_genai(provider = "openai", model = "unpriced")]
fn unpriced() -> TokenUsage {
    TokenUsage::new(1, 1)
}

#[test]
fn documented_prometheus_names_are_the_exposed_ones() {
    let telemetry = Telemetry::builder()
        .install_logging(false)
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .install()
        .expect("installs");
    mlotel::genai::configure(GenAiSettings {
        prices: PriceTable::new().with("priced", 1.0, 1.0).expect("valid"),
        ..GenAiSettings::default()
    });
    runtime().block_on(async {
        drain(client_stream()).await;
        drain(server_stream()).await;
    });
    let _ = unpriced();
    let exposition = telemetry
        .prometheus()
        .expect("prometheus on")
        .render()
        .expect("renders");
    let exposed: BTreeSet<&str> = exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split(' ').next())
        .filter(|name| name.starts_with("gen_ai_") || name.starts_with("ml_gen_ai_"))
        .collect();
    let documented: BTreeSet<String> = rows().into_iter().map(|row| row.prometheus).collect();
    let documented: BTreeSet<&str> = documented.iter().map(String::as_str).collect();
    assert_eq!(
        documented, exposed,
        "docs/genai.md Prometheus names differ:\n{exposition}"
    );
}
