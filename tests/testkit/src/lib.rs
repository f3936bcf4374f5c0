//! What the workspace's tests, benches and tools share below `mlotel-tests`: nothing here
//! depends on mlotel or on the OTLP receiver, so every crate can use it, mlotel's own
//! integration tests and the shipped load generator included.
//!
//! - [`SplitMix64`]: a seeded generator (uniform, normal, weighted picks), the same values on
//!   every platform and version.
//! - [`DiscardSpans`] (feature `spans`): a span exporter that counts and drops what it gets.
//! - [`CountingAllocator`]: the system allocator, counting each thread's allocations, for
//!   the tests that assert a path allocates nothing.

mod alloc_count;
mod rng;
#[cfg(feature = "spans")]
mod spans;

pub use alloc_count::{CountingAllocator, allocations_in, heap_change_in};
pub use rng::SplitMix64;
#[cfg(feature = "spans")]
pub use spans::DiscardSpans;
