use mlotel::instrument_ml;

struct Request {
    row: Vec<f64>,
}

#[instrument_ml(model = "iris", version = "1", record = [request])]
fn predict(request: Request) -> Vec<f64> {
    request.row
}

fn main() {
    let _ = predict(Request { row: vec![] });
}
