//! `features = arg` over every feature-row shape the docs list, as owned values,
//! references and `mut` parameters.
#![deny(warnings)]

use mlotel::instrument_ml;

#[instrument_ml(model = "features", version = "1", features = row)]
fn array(row: [f64; 4]) -> f64 {
    row.iter().sum()
}

#[instrument_ml(model = "features", version = "1", features = row)]
fn slice(row: &[f32]) -> f32 {
    row.iter().sum()
}

#[instrument_ml(model = "features", version = "1", features = row)]
fn vector(mut row: Vec<f64>) -> Vec<f64> {
    row.retain(|value| !value.is_nan());
    row
}

#[instrument_ml(model = "features", version = "1", features = row)]
fn missing(row: &Vec<Option<f64>>) -> usize {
    row.iter().filter(|value| value.is_none()).count()
}

#[instrument_ml(model = "features", version = "1", features = row)]
fn boxed(row: Box<[f64]>) -> f64 {
    row.len() as f64
}

#[instrument_ml(model = "features", version = "1", features = row)]
fn by_mut_ref(row: &mut [f64; 2]) -> f64 {
    row[0] = 1.0;
    row[0] + row[1]
}

fn main() {
    assert_eq!(array([1.0, 2.0, 3.0, 4.0]), 10.0);
    assert!(array([1.0, 2.0, 3.0, f64::NAN]).is_nan());
    assert_eq!(slice(&[1.0, 2.0]), 3.0);
    assert_eq!(vector(vec![1.0, f64::NAN]), vec![1.0]);
    assert_eq!(missing(&vec![Some(1.0), None, None]), 2);
    assert_eq!(boxed(vec![1.0, 2.0].into_boxed_slice()), 2.0);
    let mut row = [0.0, 2.0];
    assert_eq!(by_mut_ref(&mut row), 3.0);
    assert_eq!(row, [1.0, 2.0]);
}
