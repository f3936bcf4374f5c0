//! A bounded set of attribute values — a model's labels, or its feature names: the declared
//! ones, or the first ones seen up to a cap, then `__other__`. Lookups are lock-free; only
//! adding a first-seen value takes a lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::names::OTHER_LABEL;
use crate::output::Label;

/// Labels remembered for a model that declared none; later ones count as `__other__`.
pub const UNDECLARED_LABEL_CAP: usize = 32;

/// Slot of a prediction without a label.
pub(crate) const NO_LABEL: usize = 0;
/// Slot of a label outside the set.
pub(crate) const OTHER: usize = 1;
const FIRST_NAMED: usize = 2;

#[derive(Debug)]
pub(crate) struct BoundedNames {
    declared: bool,
    names: Box<[OnceLock<Arc<str>>]>,
    other: Arc<str>,
    filled: AtomicUsize,
    adding: Mutex<()>,
}

impl BoundedNames {
    pub(crate) fn new(declared: &[String], undeclared_cap: usize) -> Self {
        let capacity = if declared.is_empty() {
            undeclared_cap
        } else {
            declared.len()
        };
        let names: Box<[OnceLock<Arc<str>>]> = (0..capacity).map(|_| OnceLock::new()).collect();
        for (slot, label) in names.iter().zip(declared) {
            let _ = slot.set(Arc::from(label.as_str()));
        }
        Self {
            declared: !declared.is_empty(),
            names,
            other: Arc::from(OTHER_LABEL),
            filled: AtomicUsize::new(declared.len()),
            adding: Mutex::new(()),
        }
    }

    /// Number of slots: no-label, other, then the named ones.
    pub(crate) fn slot_count(&self) -> usize {
        FIRST_NAMED + self.names.len()
    }

    /// The attribute value of a slot; `None` for the no-label slot.
    pub(crate) fn name(&self, slot: usize) -> Option<Arc<str>> {
        match slot {
            NO_LABEL => None,
            OTHER => Some(Arc::clone(&self.other)),
            named => self.names.get(named - FIRST_NAMED)?.get().cloned(),
        }
    }

    pub(crate) fn slot(&self, label: Option<Label<'_>>) -> usize {
        let Some(label) = label else {
            return NO_LABEL;
        };
        if let (Label::Index(index), true) = (label, self.declared) {
            return if index < self.names.len() {
                FIRST_NAMED + index
            } else {
                OTHER
            };
        }
        // An integer class id names the declared label at that index, unless a declared
        // label is that number written out.
        if let (Label::Integer(number), true) = (label, self.declared) {
            let mut digits = DigitBuffer::default();
            if let Some(slot) = self.find(digits.format(number)) {
                return slot;
            }
            return usize::try_from(number)
                .ok()
                .filter(|&index| index < self.names.len())
                .map_or(OTHER, |index| FIRST_NAMED + index);
        }
        let mut digits = DigitBuffer::default();
        let text = match label {
            Label::Text(text) => text,
            Label::Bool(true) => "true",
            Label::Bool(false) => "false",
            Label::Index(number) => digits.format(number),
            Label::Integer(number) => digits.format(number),
        };
        self.slot_of_text(text)
    }

    fn slot_of_text(&self, text: &str) -> usize {
        if let Some(slot) = self.find(text) {
            return slot;
        }
        if self.declared {
            return OTHER;
        }
        // Full: every unseen value is `__other__`, without taking the lock.
        if self.filled.load(Ordering::Acquire) >= self.names.len() {
            return OTHER;
        }
        let _adding = self
            .adding
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = self.find(text) {
            return slot;
        }
        let filled = self.filled.load(Ordering::Acquire);
        match self.names.get(filled) {
            Some(free) => {
                let _ = free.set(Arc::from(text));
                self.filled.store(filled + 1, Ordering::Release);
                FIRST_NAMED + filled
            }
            None => OTHER,
        }
    }

    fn find(&self, text: &str) -> Option<usize> {
        let filled = self.filled.load(Ordering::Acquire);
        self.names[..filled]
            .iter()
            .position(|name| name.get().is_some_and(|name| &**name == text))
            .map(|index| FIRST_NAMED + index)
    }
}

/// Formats a number on the stack, so looking up a numeric label does not allocate.
#[derive(Default)]
struct DigitBuffer {
    bytes: [u8; 24],
    len: usize,
}

impl DigitBuffer {
    fn format(&mut self, number: impl std::fmt::Display) -> &str {
        self.len = 0;
        let _ = write!(self, "{number}");
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for DigitBuffer {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let end = self.len + text.len();
        let target = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        target.copy_from_slice(text.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_labels_map_names_and_indices_and_bound_the_rest() {
        let table = BoundedNames::new(
            &["setosa".into(), "versicolor".into()],
            UNDECLARED_LABEL_CAP,
        );
        let setosa = table.slot(Some(Label::Text("setosa")));
        assert_eq!(table.slot(Some(Label::Index(0))), setosa);
        assert_eq!(table.name(setosa).as_deref(), Some("setosa"));
        assert_eq!(table.slot(Some(Label::Text("rose"))), OTHER);
        assert_eq!(table.slot(Some(Label::Index(7))), OTHER);
        assert_eq!(
            table.slot(Some(Label::Integer(1))),
            table.slot(Some(Label::Text("versicolor")))
        );
        assert_eq!(table.slot(Some(Label::Integer(-1))), OTHER);
        assert_eq!(table.slot(None), NO_LABEL);
        assert_eq!(table.name(OTHER).as_deref(), Some(OTHER_LABEL));
    }

    #[test]
    fn undeclared_labels_are_remembered_up_to_the_cap() {
        let table = BoundedNames::new(&[], UNDECLARED_LABEL_CAP);
        let seven = table.slot(Some(Label::Integer(7)));
        assert_eq!(table.slot(Some(Label::Text("7"))), seven);
        assert_eq!(table.name(seven).as_deref(), Some("7"));
        for index in 0..UNDECLARED_LABEL_CAP {
            table.slot(Some(Label::Index(index)));
        }
        assert_eq!(table.slot(Some(Label::Text("one too many"))), OTHER);
        assert_eq!(table.slot(Some(Label::Bool(true))), OTHER);
        assert_eq!(table.slot_count(), UNDECLARED_LABEL_CAP + 2);
    }
}
