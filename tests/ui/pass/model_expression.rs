//! `model` and `version` as expressions (`self.name()`, a constant, a local function),
//! evaluated once per call before the body.
#![deny(warnings)]

use std::cell::Cell;

use mlotel::instrument_ml;

const VERSION: &str = "3.1.0";

struct Deployed {
    name: String,
    version: String,
    calls: Cell<u32>,
}

impl Deployed {
    fn name(&self) -> &str {
        self.calls.set(self.calls.get() + 1);
        &self.name
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    #[instrument_ml(model = self.name(), version = self.version())]
    fn predict(&self, row: &[f64]) -> Vec<f64> {
        row.to_vec()
    }

    /// A literal model with an expression version.
    #[instrument_ml(model = "deployed", version = self.version.as_str())]
    fn predict_literal_model(&self, score: f64) -> f64 {
        score
    }

    /// An expression model with the crate's version.
    #[instrument_ml(model = self.name())]
    fn predict_default_version(&mut self, score: f64) -> f64 {
        self.version.push('+');
        score
    }

    #[instrument_ml(model = self.name(), version = VERSION)]
    async fn predict_async(&self, score: f64) -> f64 {
        tokio::task::yield_now().await;
        score * 2.0
    }

    /// The model is named before `self` is moved into the body.
    #[instrument_ml(model = self.name.clone(), version = self.version())]
    fn into_name(self) -> String {
        self.name
    }
}

fn model_name(index: usize) -> String {
    format!("shard-{index}")
}

#[instrument_ml(model = model_name(shard), version = VERSION, record = [shard])]
fn sharded(shard: usize, score: f64) -> f64 {
    score + shard as f64
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut deployed = Deployed {
        name: "deployed".to_owned(),
        version: "1.0.0".to_owned(),
        calls: Cell::new(0),
    };
    assert_eq!(deployed.predict(&[0.5]), vec![0.5]);
    assert_eq!(
        deployed.calls.get(),
        1,
        "the model expression runs once per call"
    );
    assert_eq!(deployed.predict_literal_model(0.5), 0.5);
    assert_eq!(deployed.predict_default_version(0.25), 0.25);
    assert_eq!(deployed.version, "1.0.0+");
    assert_eq!(deployed.predict_async(0.25).await, 0.5);
    assert_eq!(deployed.calls.get(), 3);
    assert_eq!(sharded(2, 0.5), 2.5);
    assert_eq!(deployed.into_name(), "deployed");
}
