use mlotel::instrument_ml;

#[instrument_ml(model = "churn", batch = true, features = rows)]
fn flag_with_value(rows: &[[f64; 3]]) -> Vec<f64> {
    rows.iter().map(|row| row[0]).collect()
}

#[instrument_ml(model = "iris", features = request.row)]
fn features_field(request: Request) -> Vec<f64> {
    request.row
}

#[instrument_ml(model = "iris", record = request)]
fn record_without_brackets(request: Request) -> Vec<f64> {
    request.row
}

#[instrument_ml(model = "", version = "1")]
fn empty_model(row: Vec<f64>) -> Vec<f64> {
    row
}

#[instrument_ml(model = "iris", name = SPAN_NAME)]
fn name_not_literal(row: Vec<f64>) -> Vec<f64> {
    row
}

#[instrument_ml(stage = "preprocess", version = "2")]
fn version_without_model(row: Vec<f64>) -> Vec<f64> {
    row
}

#[instrument_ml(model = "iris", label = )]
fn missing_value(row: Vec<f64>) -> Vec<f64> {
    row
}

const SPAN_NAME: &str = "predict";

struct Request {
    row: Vec<f64>,
}

fn main() {
    let _ = SPAN_NAME;
    let _ = flag_with_value(&[]);
    let _ = features_field(Request { row: vec![] });
    let _ = record_without_brackets(Request { row: vec![] });
    let _ = empty_model(vec![]);
    let _ = name_not_literal(vec![]);
    let _ = version_without_model(vec![]);
    let _ = missing_value(vec![]);
}
