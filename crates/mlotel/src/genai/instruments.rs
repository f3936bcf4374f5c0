//! The GenAI instruments, made once per meter from [`super::names::CATALOGUE`], and the
//! meter they are made on: the installed telemetry's (see [`install`]), else the global
//! meter provider's at first use.

use std::sync::{Arc, RwLock};

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::{Counter, Histogram, Meter};

use super::names;
use crate::names::InstrumentSpec;

/// Every GenAI instrument.
#[derive(Debug)]
pub(crate) struct Instruments {
    pub(crate) client_token_usage: Histogram<u64>,
    pub(crate) client_duration: Histogram<f64>,
    pub(crate) client_time_to_first_chunk: Histogram<f64>,
    pub(crate) client_time_per_output_chunk: Histogram<f64>,
    pub(crate) server_duration: Histogram<f64>,
    pub(crate) server_time_to_first_token: Histogram<f64>,
    pub(crate) server_time_per_output_token: Histogram<f64>,
    pub(crate) server_token_usage: Histogram<u64>,
    pub(crate) cost: Counter<f64>,
    pub(crate) unpriced_tokens: Counter<u64>,
    pub(crate) finish_reasons: Counter<u64>,
}

fn spec(name: &str) -> &'static InstrumentSpec {
    names::CATALOGUE
        .iter()
        .find(|spec| spec.name == name)
        .unwrap_or(&names::CATALOGUE[0])
}

fn seconds(meter: &Meter, name: &'static str) -> Histogram<f64> {
    let spec = spec(name);
    meter
        .f64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_boundaries(spec.buckets.to_vec())
        .build()
}

fn tokens(meter: &Meter, name: &'static str) -> Histogram<u64> {
    let spec = spec(name);
    meter
        .u64_histogram(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .with_boundaries(spec.buckets.to_vec())
        .build()
}

fn u64_counter(meter: &Meter, name: &'static str) -> Counter<u64> {
    let spec = spec(name);
    meter
        .u64_counter(spec.name)
        .with_unit(spec.unit)
        .with_description(spec.description)
        .build()
}

impl Instruments {
    pub(crate) fn new(meter: &Meter) -> Self {
        let cost = spec(names::COST);
        Self {
            client_token_usage: tokens(meter, names::CLIENT_TOKEN_USAGE),
            client_duration: seconds(meter, names::CLIENT_OPERATION_DURATION),
            client_time_to_first_chunk: seconds(meter, names::CLIENT_TIME_TO_FIRST_CHUNK),
            client_time_per_output_chunk: seconds(meter, names::CLIENT_TIME_PER_OUTPUT_CHUNK),
            server_duration: seconds(meter, names::SERVER_REQUEST_DURATION),
            server_time_to_first_token: seconds(meter, names::SERVER_TIME_TO_FIRST_TOKEN),
            server_time_per_output_token: seconds(meter, names::SERVER_TIME_PER_OUTPUT_TOKEN),
            server_token_usage: tokens(meter, names::SERVER_TOKEN_USAGE),
            cost: meter
                .f64_counter(cost.name)
                .with_unit(cost.unit)
                .with_description(cost.description)
                .build(),
            unpriced_tokens: u64_counter(meter, names::UNPRICED_TOKENS),
            finish_reasons: u64_counter(meter, names::FINISH_REASONS),
        }
    }
}

static INSTALLED: RwLock<Option<Arc<Instruments>>> = RwLock::new(None);

/// The scope GenAI telemetry is recorded under when no telemetry was installed.
pub(crate) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder("mlotel")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Makes `meter` the one GenAI calls record to from now on. `Telemetry::install` calls it;
/// call it yourself when you install OpenTelemetry without mlotel's `Telemetry`.
pub fn install(meter: &Meter) {
    let instruments = Arc::new(Instruments::new(meter));
    *INSTALLED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(instruments);
}

/// The installed instruments; made from the global meter provider at first use when
/// nothing was installed.
pub(crate) fn current() -> Arc<Instruments> {
    if let Some(instruments) = INSTALLED
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .as_ref()
    {
        return Arc::clone(instruments);
    }
    let meter = opentelemetry::global::meter_with_scope(scope());
    let mut installed = INSTALLED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Arc::clone(installed.get_or_insert_with(|| Arc::new(Instruments::new(&meter))))
}
