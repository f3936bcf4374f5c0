//! `record = [arg, ..]`: arguments recorded by their `Debug` form; the arguments are only
//! borrowed, so the body still owns and uses them.
#![deny(warnings)]

use mlotel::instrument_ml;

#[derive(Debug, Clone, PartialEq)]
struct Request {
    id: u64,
    row: Vec<f64>,
}

#[instrument_ml(model = "record", version = "1", record = [request])]
fn by_value(request: Request) -> Vec<f64> {
    request.row
}

#[instrument_ml(model = "record", version = "1", features = row, record = [row, user, tag,])]
fn several(row: &[f64], user: Option<&str>, tag: String) -> (String, f64) {
    let label = format!("{}:{tag}", user.unwrap_or("anonymous"));
    (label, row[0])
}

/// A generic argument, and one taken by `&mut`.
#[instrument_ml(model = "record", version = "1", record = [value, log])]
fn generic<T: std::fmt::Debug + Clone>(value: T, log: &mut Vec<T>) -> usize {
    log.push(value);
    log.len()
}

struct Model;

impl Model {
    #[instrument_ml(model = "record", version = "1", record = [request])]
    async fn predict(&self, request: Request) -> u64 {
        tokio::task::yield_now().await;
        request.id
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let request = Request {
        id: 7,
        row: vec![0.25, 0.75],
    };
    assert_eq!(by_value(request.clone()), vec![0.25, 0.75]);
    assert_eq!(
        several(&[0.5], Some("ada"), "x".to_owned()),
        ("ada:x".to_owned(), 0.5)
    );
    assert_eq!(
        several(&[1.5], None, "y".to_owned()),
        ("anonymous:y".to_owned(), 1.5)
    );
    let mut log = vec![1_u8];
    assert_eq!(generic(2_u8, &mut log), 2);
    assert_eq!(log, [1, 2]);
    assert_eq!(Model.predict(request).await, 7);
}
