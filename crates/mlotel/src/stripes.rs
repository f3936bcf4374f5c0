//! Per-thread stripes that take a model's measurements on the hot path. Each thread writes
//! to its own stripe (a mutex nobody else touches until collection), and a stripe hands its
//! values to the SDK's instruments in bursts: when its buffers fill, and at every collection
//! (OTLP export or Prometheus scrape). The SDK's own instruments share one lock and one
//! cache line per series between all threads, which stops throughput from scaling.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Number of stripes per model; threads beyond it share stripes round-robin.
pub(crate) const STRIPES: usize = 16;
/// Values a stripe holds at most; it hands them to the SDK from half full on, when no other
/// stripe of the model is doing so, and waits its turn only when full.
pub(crate) const BUFFERED_VALUES: usize = 256;
const BUFFERED_FAILURES: usize = 32;

/// One failed call, waiting to be handed to the SDK.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure {
    pub(crate) seconds: f64,
    pub(crate) rows: u64,
    pub(crate) outcome: &'static str,
    pub(crate) error_type: &'static str,
}

#[derive(Debug)]
pub(crate) struct Stripe {
    pub(crate) ok_durations: Vec<f64>,
    pub(crate) confidences: Vec<f64>,
    /// Successful predictions per label slot (see `labels`).
    pub(crate) ok_counts: Box<[u64]>,
    pub(crate) failures: Vec<Failure>,
    /// Per feature index.
    pub(crate) missing: Box<[u64]>,
    pub(crate) out_of_range: Box<[u64]>,
}

impl Stripe {
    pub(crate) fn new(label_slots: usize, features: usize) -> Self {
        Self {
            ok_durations: Vec::with_capacity(BUFFERED_VALUES),
            confidences: Vec::with_capacity(BUFFERED_VALUES),
            ok_counts: vec![0; label_slots].into_boxed_slice(),
            failures: Vec::with_capacity(BUFFERED_FAILURES),
            missing: vec![0; features].into_boxed_slice(),
            out_of_range: vec![0; features].into_boxed_slice(),
        }
    }

    /// Whether the next value could outgrow a buffer (which would allocate).
    pub(crate) fn is_full(&self) -> bool {
        self.ok_durations.len() >= BUFFERED_VALUES
            || self.confidences.len() >= BUFFERED_VALUES
            || self.failures.len() >= BUFFERED_FAILURES
    }

    /// Whether it is time to hand the buffers over, if no other stripe is doing so.
    pub(crate) fn is_half_full(&self) -> bool {
        self.ok_durations.len() >= BUFFERED_VALUES / 2
            || self.confidences.len() >= BUFFERED_VALUES / 2
            || self.failures.len() >= BUFFERED_FAILURES / 2
    }
}

/// Aligned to two cache lines so neighbouring stripes never share one (adjacent-line
/// prefetch pulls pairs of lines on x86).
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

pub(crate) type Stripes = Box<[Padded<Mutex<Stripe>>]>;

pub(crate) fn new_stripes(label_slots: usize, features: usize) -> Stripes {
    (0..STRIPES)
        .map(|_| Padded(Mutex::new(Stripe::new(label_slots, features))))
        .collect()
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THIS_THREAD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The stripe of the calling thread: assigned round-robin on the thread's first call.
pub(crate) fn current() -> usize {
    THIS_THREAD
        .try_with(|index| {
            if index.get() == usize::MAX {
                index.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed) % STRIPES);
            }
            index.get()
        })
        .unwrap_or(0)
}
