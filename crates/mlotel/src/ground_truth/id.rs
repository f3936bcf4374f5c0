//! [`PredictionId`]: the id a stored prediction is found by when its outcome arrives, and
//! the ids of the calls the current thread finished last (how `#[instrument_ml]` callers
//! read them).

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

/// The id of one prediction kept in its model's prediction store
/// ([`ModelBuilder::prediction_store`](crate::ModelBuilder::prediction_store)): pass it
/// back with the true outcome ([`Model::record_actual_label`](crate::Model::record_actual_label),
/// [`Model::record_actual_value`](crate::Model::record_actual_value)).
///
/// Written as `{store}-{sequence}` in hexadecimal (`3f9a0c12-1b`): the store part is random
/// per store, so an id from another replica or another model version is recognised as
/// unknown rather than matched to a stranger's prediction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PredictionId {
    pub(crate) store: u32,
    pub(crate) sequence: u64,
}

impl fmt::Display for PredictionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}-{:x}", self.store, self.sequence)
    }
}

/// A text that is not a [`PredictionId`] (`{8 hex digits}-{1 to 15 hex digits}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a prediction id (expected 8 hex digits, '-', then 1 to 15 hex digits)")]
pub struct ParsePredictionIdError;

impl FromStr for PredictionId {
    type Err = ParsePredictionIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (store, sequence) = text.split_once('-').ok_or(ParsePredictionIdError)?;
        let hex = |part: &str, max: usize| {
            !part.is_empty() && part.len() <= max && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        if store.len() != 8 || !hex(store, 8) || !hex(sequence, 15) {
            return Err(ParsePredictionIdError);
        }
        Ok(Self {
            store: u32::from_str_radix(store, 16).map_err(|_| ParsePredictionIdError)?,
            sequence: u64::from_str_radix(sequence, 16).map_err(|_| ParsePredictionIdError)?,
        })
    }
}

thread_local! {
    /// The ids of the last call finished on this thread by a model with a store. Kept
    /// (cleared, not freed) between calls, so recording them does not allocate once warm.
    static LAST_IDS: RefCell<Vec<PredictionId>> = const { RefCell::new(Vec::new()) };
}

/// Starts the ids of a new call on this thread with `id`.
#[inline]
pub(crate) fn set_last(id: PredictionId) {
    LAST_IDS.with(|ids| {
        if let Ok(mut ids) = ids.try_borrow_mut() {
            ids.clear();
            ids.push(id);
        }
    });
}

/// Adds `id` to the ids of the current call (a further row of a batch).
#[inline]
pub(crate) fn push_last(id: PredictionId) {
    LAST_IDS.with(|ids| {
        if let Ok(mut ids) = ids.try_borrow_mut() {
            ids.push(id);
        }
    });
}

/// The prediction id of the last call the current thread finished for a model with a
/// prediction store (the last row's, for a batch). Read it right after the instrumented
/// call returns, on the same thread: for an `async fn` that is the code after its
/// `.await`, which runs in the same poll that finished the call.
pub fn last_prediction_id() -> Option<PredictionId> {
    LAST_IDS.with(|ids| ids.try_borrow().ok().and_then(|ids| ids.last().copied()))
}

/// The prediction ids of the last call the current thread finished for a model with a
/// prediction store, one per row in row order for a batch, and forgets them (so a later
/// call of a model without a store cannot be mistaken for it). Read them as
/// [`last_prediction_id`] says.
pub fn take_prediction_ids() -> Vec<PredictionId> {
    LAST_IDS.with(|ids| {
        ids.try_borrow_mut()
            .map(|mut ids| ids.drain(..).collect())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_refuse_other_text() {
        let id = PredictionId {
            store: 0x3f9a_0c12,
            sequence: 0x1b,
        };
        assert_eq!(id.to_string(), "3f9a0c12-1b");
        assert_eq!("3f9a0c12-1b".parse(), Ok(id));
        assert_eq!("3F9A0C12-1B".parse(), Ok(id));
        for bad in [
            "",
            "3f9a0c12",
            "3f9a0c1-1b",
            "3f9a0c12-",
            "3f9a0c12-1g",
            "+f9a0c12-1",
            "3f9a0c12-1000000000000000",
            "3f9a0c12-1-2",
        ] {
            assert_eq!(
                bad.parse::<PredictionId>(),
                Err(ParsePredictionIdError),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_batch_keeps_every_row_id_and_taking_forgets_them() {
        let id = |sequence| PredictionId { store: 1, sequence };
        set_last(id(1));
        push_last(id(2));
        assert_eq!(last_prediction_id(), Some(id(2)));
        assert_eq!(take_prediction_ids(), vec![id(1), id(2)]);
        assert_eq!(last_prediction_id(), None);
        set_last(id(3));
        assert_eq!(take_prediction_ids(), vec![id(3)]);
    }
}
