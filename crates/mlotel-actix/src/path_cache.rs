//! What [`RequestTelemetry`](crate::RequestTelemetry) reads from each request's path and
//! headers, kept per middleware instance (one per worker, so no lock).
//!
//! The middleware runs before actix-web's router, so `ServiceRequest::match_pattern` has
//! nothing recorded yet and matches the path against every resource pattern again (a
//! regex walk, about a third of the middleware's own CPU time on a trivial handler). That
//! match is a pure function of the application's resource map and the path, so
//! [`PathCache`] remembers it per path, in a fixed, direct-mapped table: each path hashes
//! to one slot, a different path in that slot replaces it. Memory is bounded by the slot
//! count and the longest path cached ([`MAX_CACHED_PATH`]); longer paths are matched
//! every time. The slot also keeps the path as the `url.path` value, shared by the spans
//! of requests to the same path instead of copied per request.
//!
//! [`LastValue`] does the same for a header that is usually the same from one request to
//! the next (`Host`, `User-Agent`): the last value seen, reused when it repeats.

use std::cell::RefCell;
use std::hash::BuildHasher as _;
use std::rc::Rc;
use std::sync::Arc;

use foldhash::fast::RandomState;
use opentelemetry::StringValue;

/// Slots of the path table (a power of two).
const PATH_SLOTS: usize = 256;
/// Longer paths are not cached: at most `PATH_SLOTS * MAX_CACHED_PATH` bytes of paths.
const MAX_CACHED_PATH: usize = 256;

/// A path and the route pattern it matched.
#[derive(Debug, Clone)]
struct PathEntry {
    path: Arc<str>,
    pattern: Option<Rc<str>>,
}

/// What the middleware needs of a request's path.
#[derive(Debug, Clone)]
pub(crate) struct PathInfo {
    /// The `url.path` value.
    pub(crate) path: StringValue,
    /// The full route pattern the path matches (what `match_pattern` returns).
    pub(crate) pattern: Option<Rc<str>>,
}

/// Path to route pattern, per application (see the module documentation).
pub(crate) struct PathCache {
    /// Identity of the resource map the entries were matched against (its address); the
    /// table is emptied if a request comes with another one.
    resource_map: std::cell::Cell<usize>,
    slots: RefCell<Box<[Option<PathEntry>]>>,
    hasher: RandomState,
}

impl Default for PathCache {
    fn default() -> Self {
        Self {
            resource_map: std::cell::Cell::new(0),
            slots: RefCell::new(vec![None; PATH_SLOTS].into_boxed_slice()),
            hasher: RandomState::default(),
        }
    }
}

impl std::fmt::Debug for PathCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathCache").finish_non_exhaustive()
    }
}

impl PathCache {
    /// `path` as a `url.path` value and the pattern it matches in `resource_map` (an
    /// identity: the map's address), calling `match_pattern` only when the slot of `path`
    /// holds another path.
    pub(crate) fn lookup(
        &self,
        resource_map: usize,
        path: &str,
        match_pattern: impl FnOnce() -> Option<String>,
    ) -> PathInfo {
        if path.len() > MAX_CACHED_PATH {
            return PathInfo {
                path: Arc::<str>::from(path).into(),
                pattern: match_pattern().map(Rc::from),
            };
        }
        let mut slots = self.slots.borrow_mut();
        if self.resource_map.get() != resource_map {
            slots.iter_mut().for_each(|slot| *slot = None);
            self.resource_map.set(resource_map);
        }
        let index = (self.hasher.hash_one(path) as usize) & (PATH_SLOTS - 1);
        let slot = &mut slots[index];
        if let Some(entry) = slot.as_ref().filter(|entry| &*entry.path == path) {
            return PathInfo {
                path: Arc::clone(&entry.path).into(),
                pattern: entry.pattern.clone(),
            };
        }
        let entry = PathEntry {
            path: Arc::from(path),
            pattern: match_pattern().map(Rc::from),
        };
        let info = PathInfo {
            path: Arc::clone(&entry.path).into(),
            pattern: entry.pattern.clone(),
        };
        *slot = Some(entry);
        info
    }
}

/// The last value of a header and what was derived from it, reused while it repeats.
#[derive(Debug)]
pub(crate) struct LastValue<T> {
    last: RefCell<Option<(Box<str>, T)>>,
}

impl<T> Default for LastValue<T> {
    fn default() -> Self {
        Self {
            last: RefCell::new(None),
        }
    }
}

impl<T: Clone> LastValue<T> {
    /// What `derive` makes of `value`: remembered from the previous call if `value` is the
    /// same, else derived now and remembered in its place. Values longer than
    /// [`MAX_CACHED_PATH`] bytes are derived and not kept.
    pub(crate) fn get(&self, value: &str, derive: impl FnOnce(&str) -> T) -> T {
        if value.len() > MAX_CACHED_PATH {
            return derive(value);
        }
        let mut last = self.last.borrow_mut();
        match &*last {
            Some((seen, derived)) if &**seen == value => derived.clone(),
            _ => {
                let derived = derive(value);
                *last = Some((value.into(), derived.clone()));
                derived
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_matched_once_while_it_keeps_its_slot() {
        let cache = PathCache::default();
        let mut matches = 0;
        for _ in 0..3 {
            let info = cache.lookup(1, "/hello/x", || {
                matches += 1;
                Some("/hello/{name}".to_owned())
            });
            assert_eq!(info.path.as_str(), "/hello/x");
            assert_eq!(info.pattern.as_deref(), Some("/hello/{name}"));
        }
        assert_eq!(matches, 1, "matched on first sight only");
        // The same url.path value is shared, not copied.
        let (a, b) = (
            cache.lookup(1, "/hello/x", || unreachable!()),
            cache.lookup(1, "/hello/x", || unreachable!()),
        );
        assert!(std::ptr::eq(a.path.as_str(), b.path.as_str()));
        // An unmatched path is cached as unmatched.
        let mut matches = 0;
        for _ in 0..2 {
            let info = cache.lookup(1, "/nowhere", || {
                matches += 1;
                None
            });
            assert_eq!(info.pattern, None);
        }
        assert_eq!(matches, 1);
    }

    #[test]
    fn every_path_gets_its_own_pattern_even_when_slots_collide() {
        let cache = PathCache::default();
        // Far more paths than slots: collisions replace entries, never mix them up.
        for round in 0..2 {
            for n in 0..(4 * PATH_SLOTS) {
                let path = format!("/items/{n}");
                let info = cache.lookup(7, &path, || Some(format!("pattern {n}")));
                assert_eq!(info.path.as_str(), path, "round {round}");
                assert_eq!(
                    info.pattern.as_deref(),
                    Some(format!("pattern {n}").as_str())
                );
            }
        }
        let filled = cache.slots.borrow().iter().flatten().count();
        assert!(filled <= PATH_SLOTS);
    }

    #[test]
    fn another_resource_map_empties_the_table() {
        let cache = PathCache::default();
        let first = cache.lookup(1, "/a", || Some("/a".to_owned()));
        assert_eq!(first.pattern.as_deref(), Some("/a"));
        let other = cache.lookup(2, "/a", || Some("/{any}".to_owned()));
        assert_eq!(other.pattern.as_deref(), Some("/{any}"));
        assert_eq!(cache.slots.borrow().iter().flatten().count(), 1);
    }

    #[test]
    fn long_paths_are_matched_every_time_and_not_kept() {
        let cache = PathCache::default();
        let long = format!("/{}", "x".repeat(MAX_CACHED_PATH));
        let mut matches = 0;
        for _ in 0..2 {
            let info = cache.lookup(1, &long, || {
                matches += 1;
                Some("/{long}".to_owned())
            });
            assert_eq!(info.path.as_str(), long);
            assert_eq!(info.pattern.as_deref(), Some("/{long}"));
        }
        assert_eq!(matches, 2);
        assert_eq!(cache.slots.borrow().iter().flatten().count(), 0);
    }

    #[test]
    fn the_last_header_value_is_reused_while_it_repeats() {
        let last = LastValue::<Arc<str>>::default();
        let mut derived = 0;
        let mut get = |value: &str| {
            last.get(value, |value| {
                derived += 1;
                Arc::from(value)
            })
        };
        let a = get("wrk");
        let b = get("wrk");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*get("curl/8"), "curl/8");
        assert_eq!(&*get("wrk"), "wrk");
        let long = "y".repeat(MAX_CACHED_PATH + 1);
        assert_eq!(&*get(&long), long);
        assert_eq!(&*get(&long), long);
        assert_eq!(derived, 5, "wrk, curl/8, wrk again, the long value twice");
    }
}
