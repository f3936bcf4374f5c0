//! `POST /v1/models/{model}/feedback`: the true labels of earlier predictions, by the
//! `prediction_id` each prediction answered with (docs/predictor.md, "Feedback").
//!
//! A request is all or nothing: it is checked whole (shape, labels, ids, repeats) before
//! anything is recorded, and every refusal is a 4xx naming the offending items. Ids that
//! find no prediction (another replica's, evicted, expired, already answered) are still
//! counted by mlotel (`ml.outcomes.unmatched`), since that is what the operator must see.

use actix_web::{HttpResponse, web};
use mlotel::{OutcomeError, PredictionId};
use mlotel_actix::ApiError;
use serde::Deserialize;
use serde_json::json;

use crate::api::{AppState, check_model};
use crate::iris::{LABELS, Version};

/// The most feedback items one request may carry.
pub(crate) const MAX_FEEDBACK: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackBody {
    feedback: Vec<FeedbackItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackItem {
    prediction_id: String,
    actual: String,
}

/// One item that checked out: the version that made the prediction, and its id.
struct Checked<'a> {
    version: Version,
    id: PredictionId,
    actual: &'a str,
}

pub(crate) async fn record(
    state: web::Data<AppState>,
    model: web::Path<String>,
    body: web::Json<FeedbackBody>,
) -> Result<HttpResponse, ApiError> {
    check_model(&model)?;
    let items = &body.feedback;
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "empty_feedback",
            "\"feedback\" is empty; send at least one {\"prediction_id\", \"actual\"}",
        ));
    }
    if items.len() > MAX_FEEDBACK {
        return Err(ApiError::payload_too_large(
            "too_much_feedback",
            format!(
                "{} feedback items; at most {MAX_FEEDBACK} per request",
                items.len()
            ),
        ));
    }
    let checked = check(&state, items)?;
    let mut conflicts = Vec::new();
    for (index, item) in checked.iter().enumerate() {
        let model = &state.models.get(item.version).model;
        if let Err(error) = model.record_actual_label(item.id, item.actual) {
            // Only a race: another request answered the same prediction since the check.
            conflicts.push(format!("feedback[{index}] ({}): {error}", item.id));
        }
    }
    if !conflicts.is_empty() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "feedback_already_recorded",
            format!(
                "{} of {} recorded; {}",
                checked.len() - conflicts.len(),
                checked.len(),
                conflicts.join("; ")
            ),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "recorded": checked.len() })))
}

/// Checks every item before anything is recorded.
fn check<'a>(state: &AppState, items: &'a [FeedbackItem]) -> Result<Vec<Checked<'a>>, ApiError> {
    let mut checked = Vec::with_capacity(items.len());
    let mut seen = std::collections::HashMap::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let id: PredictionId = item.prediction_id.trim().parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_prediction_id",
                format!(
                    "feedback[{index}].prediction_id {:?} is not a prediction id (the \
                     \"prediction_id\" of a prediction, such as \"3f9a0c12-1b\")",
                    shown(&item.prediction_id)
                ),
            )
        })?;
        if !LABELS.contains(&item.actual.as_str()) {
            return Err(ApiError::unprocessable(
                "unknown_label",
                format!(
                    "feedback[{index}].actual {:?} is not a label of this model; the labels \
                     are {}",
                    shown(&item.actual),
                    LABELS.join(", ")
                ),
            ));
        }
        if let Some(first) = seen.insert(id, index) {
            return Err(ApiError::bad_request(
                "duplicate_prediction_id",
                format!("feedback[{index}] repeats the prediction id {id} of feedback[{first}]"),
            ));
        }
        let version = Version::ALL
            .into_iter()
            .find(|version| state.models.get(*version).model.issued(id));
        checked.push((index, id, version, item.actual.as_str()));
    }
    // Every id is looked up before any is recorded; what finds nothing is counted (on the
    // version that issued it, or the default version for ids no version issued).
    let mut refused: Vec<(usize, PredictionId, OutcomeError)> = Vec::new();
    for &(index, id, version, actual) in &checked {
        let model = &state.models.get(version.unwrap_or(Version::DEFAULT)).model;
        let error = match version {
            None => Some(OutcomeError::UnknownId),
            Some(_) => model.find_prediction(id).err(),
        };
        if let Some(error) = error {
            // Fails the same way, and counts it.
            let _ = model.record_actual_label(id, actual);
            refused.push((index, id, error));
        }
    }
    if let Some(&(_, _, first)) = refused.first() {
        let listed: Vec<String> = refused
            .iter()
            .map(|(index, id, error)| format!("feedback[{index}] ({id}): {error}"))
            .collect();
        let message = format!("nothing recorded; {}", listed.join("; "));
        return Err(match first {
            OutcomeError::UnknownId => ApiError::not_found("unknown_prediction_id", message),
            OutcomeError::Duplicate => ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "feedback_already_recorded",
                message,
            ),
            _ => ApiError::new(
                actix_web::http::StatusCode::GONE,
                "prediction_expired",
                message,
            ),
        });
    }
    Ok(checked
        .into_iter()
        .filter_map(|(_, id, version, actual)| {
            version.map(|version| Checked {
                version,
                id,
                actual,
            })
        })
        .collect())
}

/// A client's text, cut for an error message.
fn shown(text: &str) -> String {
    text.chars().take(64).collect()
}
