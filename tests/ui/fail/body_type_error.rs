use mlotel::instrument_ml;

#[instrument_ml(model = "iris", version = "1", features = row)]
fn predict(row: &[f64; 4]) -> Vec<f64> {
    let total: f64 = row.iter().sum();
    let scaled: Vec<f64> = row.iter().map(|value| value / total);
    scaled
}

#[instrument_ml(model = "iris", version = "1")]
async fn predict_async(row: Vec<f64>) -> Result<f64, String> {
    let first: &str = row.first().ok_or("empty")?;
    Ok(first.len() as f64)
}

struct Model;

#[async_trait::async_trait]
trait Predict {
    async fn predict_boxed(&self, row: Vec<f64>) -> Vec<f64>;
}

#[async_trait::async_trait]
impl Predict for Model {
    #[instrument_ml(model = "iris", version = "1")]
    async fn predict_boxed(&self, row: Vec<f64>) -> Vec<f64> {
        row.iter().sum::<f64>()
    }
}

impl Model {
    #[instrument_ml(model = "iris", version = "1")]
    fn predict(&self, row: &[f64]) -> usize {
        if row.is_empty() {
            return "none";
        }
        row.len()
    }
}

fn main() {
    let _ = predict(&[0.0; 4]);
    let _ = predict_async(vec![]);
    let _ = Model.predict(&[]);
    let _ = Model.predict_boxed(vec![]);
}
