//! Reading a prediction request body into rows of four features (docs/predictor.md,
//! "Errors"). It depends on serde and serde_json only, so that the fuzz target
//! `fuzz/fuzz_targets/predict_body.rs` compiles this very file rather than a copy.

use serde::Deserialize;

/// Features in a row.
pub(crate) const FEATURE_COUNT: usize = 4;

/// Which body fields a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `/v1/models/...:predict`: `instances` only.
    Instances,
    /// The short forms: `instances`, or one row as `features`.
    InstancesOrFeatures,
}

/// The status a refused body is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// 400: the request breaks the API's rules (fields, batch size, features per row).
    BadRequest,
    /// 422: valid JSON of the wrong shape.
    Unprocessable,
}

/// Why a body was refused: its status, `error.type` and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BodyError {
    pub(crate) status: Status,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl BodyError {
    fn bad_request(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: Status::BadRequest,
            kind,
            message: message.into(),
        }
    }

    fn invalid_features(message: String) -> Self {
        Self::bad_request("invalid_features", message)
    }
}

#[derive(Debug, Deserialize)]
struct PredictBody {
    instances: Option<Vec<Vec<f64>>>,
    features: Option<Vec<f64>>,
}

/// Validates `body` (JSON text actix has already checked for syntax) and converts it to
/// rows: JSON fields, one of `instances` or `features`, batch size, features per row,
/// finite values. `features` names the columns in messages.
pub(crate) fn parse_rows(
    body: &str,
    form: Form,
    max_batch: usize,
    features: &[&str; FEATURE_COUNT],
) -> Result<Vec<[f64; FEATURE_COUNT]>, BodyError> {
    let body: PredictBody = serde_json::from_str(body).map_err(|error| {
        if error.is_syntax() {
            // The body parsed as raw JSON, so this is a number no f64 holds (1e999).
            BodyError::invalid_features(format!("a value is not a finite number: {error}"))
        } else {
            BodyError {
                status: Status::Unprocessable,
                kind: "invalid_json_fields",
                message: format!("JSON body does not match the expected fields: {error}"),
            }
        }
    })?;
    let instances = match (body.instances, body.features, form) {
        (Some(instances), None, _) => instances,
        (None, Some(features), Form::InstancesOrFeatures) => vec![features],
        (None, Some(_), Form::Instances) => {
            return Err(BodyError::bad_request(
                "invalid_request",
                "this route takes `instances`, a list of rows; `features` (one row) is \
                 accepted by /v1/predict, /v2/predict and /predict",
            ));
        }
        (Some(_), Some(_), _) => {
            return Err(BodyError::bad_request(
                "invalid_request",
                "send either `instances` or `features`, not both",
            ));
        }
        (None, None, Form::Instances) => {
            return Err(BodyError::bad_request(
                "invalid_request",
                "the body needs `instances`: a list of rows of 4 features",
            ));
        }
        (None, None, Form::InstancesOrFeatures) => {
            return Err(BodyError::bad_request(
                "invalid_request",
                "the body needs `instances` (a list of rows) or `features` (one row)",
            ));
        }
    };
    if instances.is_empty() {
        return Err(BodyError::bad_request(
            "empty_batch",
            "`instances` is empty: send at least one row",
        ));
    }
    if instances.len() > max_batch {
        return Err(BodyError::bad_request(
            "batch_too_large",
            format!(
                "{} instances is more than the limit of {max_batch} per request",
                instances.len()
            ),
        ));
    }
    let single = form == Form::InstancesOrFeatures && instances.len() == 1;
    let name = |index: usize| {
        if single {
            "the row".to_owned()
        } else {
            format!("instance {index}")
        }
    };
    instances
        .iter()
        .enumerate()
        .map(|(index, values)| {
            let row: [f64; FEATURE_COUNT] = values.as_slice().try_into().map_err(|_| {
                BodyError::invalid_features(format!(
                    "{} has {} features, expected {FEATURE_COUNT} ({})",
                    name(index),
                    values.len(),
                    features.join(", ")
                ))
            })?;
            if let Some(feature) = row.iter().position(|value| !value.is_finite()) {
                return Err(BodyError::invalid_features(format!(
                    "{}: {} is not a finite number",
                    name(index),
                    features[feature]
                )));
            }
            Ok(row)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; FEATURE_COUNT] = ["a", "b", "c", "d"];

    fn parse(body: &str, form: Form) -> Result<Vec<[f64; FEATURE_COUNT]>, BodyError> {
        parse_rows(body, form, 2, &NAMES)
    }

    #[test]
    fn rows_come_from_instances_or_one_row_of_features() {
        let row = [5.1, 3.5, 1.4, 0.2];
        assert_eq!(
            parse(r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#, Form::Instances),
            Ok(vec![row])
        );
        assert_eq!(
            parse(
                r#"{"features": [5.1, 3.5, 1.4, 0.2]}"#,
                Form::InstancesOrFeatures
            ),
            Ok(vec![row])
        );
    }

    #[test]
    fn each_refusal_has_its_status_and_type() {
        for (body, form, status, kind) in [
            (
                r#"{"instances": [["a", 1, 2, 3]]}"#,
                Form::Instances,
                Status::Unprocessable,
                "invalid_json_fields",
            ),
            (
                r#"{"features": [1, 2, 3, 4]}"#,
                Form::Instances,
                Status::BadRequest,
                "invalid_request",
            ),
            (
                r#"{"instances": [], "features": []}"#,
                Form::InstancesOrFeatures,
                Status::BadRequest,
                "invalid_request",
            ),
            (
                r#"{}"#,
                Form::Instances,
                Status::BadRequest,
                "invalid_request",
            ),
            (
                r#"{"instances": []}"#,
                Form::Instances,
                Status::BadRequest,
                "empty_batch",
            ),
            (
                r#"{"instances": [[1,2,3,4],[1,2,3,4],[1,2,3,4]]}"#,
                Form::Instances,
                Status::BadRequest,
                "batch_too_large",
            ),
            (
                r#"{"instances": [[1, 2, 3]]}"#,
                Form::Instances,
                Status::BadRequest,
                "invalid_features",
            ),
            (
                r#"{"instances": [[1e999, 2, 3, 4]]}"#,
                Form::Instances,
                Status::BadRequest,
                "invalid_features",
            ),
        ] {
            let error = parse(body, form).expect_err(body);
            assert_eq!(
                (error.status, error.kind),
                (status, kind),
                "{body}: {error:?}"
            );
            assert!(!error.message.is_empty());
        }
    }
}
