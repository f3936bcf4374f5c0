//! [`CountingAllocator`]: the system allocator, counting each thread's allocations and net
//! heap bytes, for tests that assert a path allocates nothing. A test binary declares it:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: mlotel_testkit::CountingAllocator = mlotel_testkit::CountingAllocator;
//! ```
//!
//! and measures with [`allocations_in`] or [`heap_change_in`]. Implementing `GlobalAlloc`
//! needs `unsafe`, which the workspace forbids: this crate's `Cargo.toml` denies it instead,
//! and this module alone allows it.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting the allocations (reallocations included) and the net
/// bytes of each thread. Counting touches thread-local `Cell`s only (`const`, without
/// destructors: reading them never allocates or fails).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<i64> = const { Cell::new(0) };
}

fn count(bytes: i64, allocation: bool) {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + u64::from(allocation)));
    let _ = BYTES.try_with(|total| total.set(total.get() + bytes));
}

fn signed(size: usize) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
// counting touches only thread-local `Cell`s.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(signed(layout.size()), true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(signed(layout.size()), true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(signed(new_size) - signed(layout.size()), true);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-signed(layout.size()), false);
        // SAFETY: forwarded as received (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Allocations (and reallocations) made by `run` on this thread; 0 unless the binary's
/// global allocator is a [`CountingAllocator`].
pub fn allocations_in(run: impl FnOnce()) -> u64 {
    heap_change_in(run).0
}

/// Allocations made by `run` on this thread and the net bytes it left allocated (negative
/// when it freed more than it allocated).
pub fn heap_change_in(run: impl FnOnce()) -> (u64, i64) {
    let before = (ALLOCATIONS.with(Cell::get), BYTES.with(Cell::get));
    run();
    (
        ALLOCATIONS.with(Cell::get) - before.0,
        BYTES.with(Cell::get) - before.1,
    )
}
