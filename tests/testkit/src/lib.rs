//! What the workspace's tests, benches and tools share below `mlotel-tests`: nothing here
//! depends on mlotel or on the OTLP receiver, so every crate can use it, mlotel's own
//! integration tests and the shipped load generator included.
//!
//! - [`SplitMix64`]: a seeded generator (uniform, normal, weighted picks), the same values on
//!   every platform and version.
//! - [`DiscardSpans`] (feature `spans`): a span exporter that counts and drops what it gets.

mod rng;
#[cfg(feature = "spans")]
mod spans;

pub use rng::SplitMix64;
#[cfg(feature = "spans")]
pub use spans::DiscardSpans;
