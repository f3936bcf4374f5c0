//! Feedback: the true labels of a share of the predictions, sent to
//! `POST /v1/models/iris/feedback` by their `prediction_id` after a delay (the label delay
//! of a real service), from one thread that batches whatever is due.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::http::{Client, Target};

/// The most items the service takes in one request.
const MAX_ITEMS: usize = 1000;

/// One true label to send once `due`.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) due: Instant,
    pub(crate) prediction_id: String,
    pub(crate) actual: &'static str,
}

/// What the feedback thread sent and how it was answered.
#[derive(Debug, Clone, Default)]
pub(crate) struct FeedbackTally {
    pub(crate) sent: u64,
    pub(crate) recorded: u64,
    /// Refused items' requests, by error `type` (a refused request records none of its items).
    pub(crate) refused: BTreeMap<String, u64>,
    pub(crate) transport_errors: u64,
}

/// Sends what arrives on `pending` once due, until the senders are gone and all is sent.
pub(crate) fn send_until_done(
    target: Target,
    timeout: Duration,
    pending: Receiver<Pending>,
) -> FeedbackTally {
    let mut client = Client::new(target, timeout);
    let mut tally = FeedbackTally::default();
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut open = true;
    while open || !queue.is_empty() {
        // Wait for the first item's time, taking new items meanwhile.
        let wait = queue.front().map_or(Duration::from_millis(200), |first| {
            first.due.saturating_duration_since(Instant::now())
        });
        if open && !wait.is_zero() {
            match pending.recv_timeout(wait) {
                Ok(item) => {
                    queue.push_back(item);
                    continue;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        while let Ok(item) = pending.try_recv() {
            queue.push_back(item);
        }
        let now = Instant::now();
        let due = queue
            .iter()
            .take(MAX_ITEMS)
            .take_while(|item| item.due <= now)
            .count();
        if due == 0 {
            continue;
        }
        let batch: Vec<Pending> = queue.drain(..due).collect();
        send(&mut client, &batch, &mut tally);
    }
    tally
}

fn send(client: &mut Client, batch: &[Pending], tally: &mut FeedbackTally) {
    let items: Vec<serde_json::Value> = batch
        .iter()
        .map(|item| serde_json::json!({ "prediction_id": item.prediction_id, "actual": item.actual }))
        .collect();
    let body = serde_json::json!({ "feedback": items }).to_string();
    tally.sent += batch.len() as u64;
    let headers = [("Content-Type", "application/json")];
    match client.request(
        "POST",
        "/v1/models/iris/feedback",
        &headers,
        body.as_bytes(),
    ) {
        Ok(response) if response.status == 200 => tally.recorded += batch.len() as u64,
        Ok(response) => {
            let kind = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|value| value["error"]["type"].as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("http_{}", response.status));
            *tally.refused.entry(kind).or_default() += 1;
        }
        Err(_) => tally.transport_errors += 1,
    }
}

/// The `prediction_id` of each prediction of a 200 answer, in row order (`None` where the
/// answer has none: a service without a prediction store).
pub(crate) fn prediction_ids(body: &[u8]) -> Vec<Option<String>> {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value["predictions"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|prediction| prediction["prediction_id"].as_str().map(str::to_owned))
        .collect()
}
