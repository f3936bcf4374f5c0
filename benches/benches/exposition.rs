//! What a `/metrics` scrape costs to render, in the classic text format and in OpenMetrics,
//! before and after sampled calls left exemplars on the histogram buckets: eight model
//! versions with three labels each, spread over the duration and confidence buckets.
//!
//! A plain program: it prints the median of repeated renders. Run with:
//! `cargo bench -p mlotel-benches --bench exposition` (`-- --test` renders a few times only).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{DiscardSpans, LABELS, install_mlotel};
use mlotel::{Model, Outcome, Prediction, PrometheusHandle, Sampler};

const MODELS: usize = 8;
const CALLS_PER_MODEL: u32 = 400;

fn main() {
    let quick = std::env::args().any(|argument| argument == "--test");
    let renders = if quick { 3 } else { 301 };
    let discard = DiscardSpans::default();
    let telemetry = install_mlotel(Sampler::AlwaysOn, Some(&discard));
    let prometheus = telemetry
        .prometheus()
        .expect("the bench installs a prometheus reader");
    let models: Vec<Model> = (0..MODELS)
        .map(|index| {
            let builder = Model::builder(format!("model-{index}"))
                .version("1")
                .labels(LABELS);
            telemetry.model(builder)
        })
        .collect();

    // Without spans: no exemplars.
    for model in &models {
        for call in 0..CALLS_PER_MODEL {
            let (label, confidence) = spread(call);
            let duration = Duration::from_micros(u64::from(call % 40) * 250);
            let outcome = Outcome::Ok {
                label: Some(label),
                confidence: Some(confidence),
            };
            model.record_prediction(duration, 1, outcome);
        }
    }
    report("without exemplars", &prometheus, renders);

    // Sampled calls: each leaves an exemplar on its duration and confidence buckets.
    for model in &models {
        for call in 0..CALLS_PER_MODEL {
            let (label, confidence) = spread(call);
            let _ = model
                .start_call()
                .finish_prediction(Prediction::new(label, confidence));
        }
    }
    report("with exemplars", &prometheus, renders);
}

fn spread(call: u32) -> (&'static str, f64) {
    let label = LABELS[call as usize % LABELS.len()];
    (label, 0.3 + 0.7 * f64::from(call % 100) / 100.0)
}

fn report(case: &str, prometheus: &PrometheusHandle, renders: usize) {
    let classic = median(renders, || prometheus.render().expect("renders").len());
    let openmetrics = median(renders, || prometheus.render_openmetrics().len());
    let exemplars = prometheus.render_openmetrics().matches(" # {").count();
    println!(
        "{case}: classic {:.3} ms ({} bytes), openmetrics {:.3} ms ({} bytes, {exemplars} exemplars)",
        classic.0 * 1e3,
        classic.1,
        openmetrics.0 * 1e3,
        openmetrics.1,
    );
}

/// The median time of `runs` renders, in seconds, and the last output's size.
fn median(runs: usize, mut render: impl FnMut() -> usize) -> (f64, usize) {
    let mut bytes = 0;
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            bytes = black_box(render());
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], bytes)
}
