//! Closures inside the body capture arguments and locals by reference, by `move` and
//! mutably, in sync and async functions.
#![deny(warnings)]

use mlotel::instrument_ml;

#[instrument_ml(model = "closures", version = "1", features = row)]
fn weighted(row: &[f64], weights: Vec<f64>) -> f64 {
    let mut calls = 0;
    let mut weigh = |index: usize| {
        calls += 1;
        row[index] * weights[index]
    };
    let total = (0..row.len()).map(&mut weigh).sum::<f64>();
    assert_eq!(calls, row.len());
    total
}

/// Returns a closure that captured an argument by `move`.
#[instrument_ml(model = "closures", version = "1", skip_output)]
fn scaler(factor: f64) -> impl Fn(f64) -> f64 {
    move |value| value * factor
}

/// Returns a closure borrowing from an argument.
#[instrument_ml(model = "closures", version = "1", skip_output)]
fn lookup<'a>(table: &'a [f64]) -> Box<dyn Fn(usize) -> Option<f64> + 'a> {
    Box::new(|index| table.get(index).copied())
}

/// A closure capturing `self` and a mutable local.
struct Counter {
    step: u32,
}

impl Counter {
    #[instrument_ml(model = "closures", version = "1")]
    fn count(&self, times: u32) -> u32 {
        let mut total = 0;
        let mut add = || total += self.step;
        for _ in 0..times {
            add();
        }
        total
    }
}

#[instrument_ml(model = "closures", version = "1")]
async fn async_closure(values: Vec<f64>) -> Vec<f64> {
    let offset = values.len() as f64;
    let shift = move |value: &f64| value + offset;
    tokio::task::yield_now().await;
    values.iter().map(shift).collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(weighted(&[1.0, 2.0], vec![3.0, 4.0]), 11.0);
    assert_eq!(scaler(3.0)(2.0), 6.0);
    let table = [0.5, 0.25];
    let get = lookup(&table);
    assert_eq!(get(1), Some(0.25));
    assert_eq!(get(2), None);
    assert_eq!(Counter { step: 3 }.count(4), 12);
    assert_eq!(async_closure(vec![1.0, 2.0]).await, vec![3.0, 4.0]);
}
