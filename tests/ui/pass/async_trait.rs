//! `#[async_trait]` on the trait and the impl, `#[instrument_ml]` on the impl's methods:
//! the returned future is instrumented, and stays `Send`.
#![deny(warnings)]

use async_trait::async_trait;
use mlotel::instrument_ml;

#[async_trait]
trait Predictor {
    async fn predict(&self, row: &[f64]) -> Result<Vec<f64>, String>;
    async fn name(&self) -> String;
    async fn reset(&mut self);
}

struct Iris {
    name: String,
    calls: u32,
}

#[async_trait]
impl Predictor for Iris {
    #[instrument_ml(model = "iris", version = "2.0.0", features = row, record = [row])]
    async fn predict(&self, row: &[f64]) -> Result<Vec<f64>, String> {
        if row.is_empty() {
            return Err("empty row".to_owned());
        }
        tokio::task::yield_now().await;
        let total: f64 = row.iter().sum();
        Ok(row.iter().map(|value| value / total).collect())
    }

    #[instrument_ml(model = self.name.as_str(), version = "2.0.0")]
    async fn name(&self) -> String {
        tokio::task::yield_now().await;
        self.name.clone()
    }

    #[instrument_ml(model = "iris", version = "2.0.0", skip_output)]
    async fn reset(&mut self) {
        tokio::task::yield_now().await;
        self.calls = 0;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut iris = Iris {
        name: "iris".to_owned(),
        calls: 3,
    };
    assert_eq!(iris.predict(&[1.0, 3.0]).await, Ok(vec![0.25, 0.75]));
    assert_eq!(iris.predict(&[]).await, Err("empty row".to_owned()));
    assert_eq!(iris.name().await, "iris");
    iris.reset().await;
    assert_eq!(iris.calls, 0);

    let boxed: Box<dyn Predictor + Send + Sync> = Box::new(iris);
    let spawned = tokio::spawn(async move { boxed.predict(&[2.0, 2.0]).await });
    assert_eq!(spawned.await.expect("task"), Ok(vec![0.5, 0.5]));
}
