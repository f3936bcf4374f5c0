//! What [`RequestTelemetry`](crate::RequestTelemetry) reads from each request's path and
//! headers, kept per middleware instance (one per worker, so no lock).
//!
//! The middleware runs before actix-web's router, when `ServiceRequest::match_pattern` would
//! match the path against every resource pattern (a regex walk, costly for long paths and
//! done again by the router). The middleware never does that: it reads the pattern the
//! router recorded once the response exists, and [`PathCache`] remembers it per path, so
//! the next request to the same path knows its route when its span starts. The table is
//! fixed and direct-mapped: each path hashes to one slot, a different path in that slot
//! replaces it. Memory is bounded by the slot count and the longest path cached
//! ([`MAX_CACHED_PATH`]). The slot also keeps the path as the `url.path` value (cut to the
//! attribute length limit), shared by the spans of requests to the same path instead of
//! copied per request.
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

/// A path, its `url.path` value and the route pattern it matched.
#[derive(Debug, Clone)]
struct PathEntry {
    path: Arc<str>,
    value: StringValue,
    pattern: Option<Rc<str>>,
}

/// What the middleware needs of a request's path.
#[derive(Debug, Clone)]
pub(crate) struct PathInfo {
    /// The `url.path` value (at most the attribute length limit).
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
    /// Longest `url.path` value, in bytes.
    max_value_bytes: usize,
}

impl std::fmt::Debug for PathCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathCache").finish_non_exhaustive()
    }
}

impl PathCache {
    /// An empty table whose `url.path` values keep at most `max_value_bytes` of the path.
    pub(crate) fn new(max_value_bytes: usize) -> Self {
        Self {
            resource_map: std::cell::Cell::new(0),
            slots: RefCell::new(vec![None; PATH_SLOTS].into_boxed_slice()),
            hasher: RandomState::default(),
            max_value_bytes,
        }
    }

    /// The `url.path` value of `path`, cut to the length limit.
    pub(crate) fn value_of(&self, path: &str) -> StringValue {
        Arc::<str>::from(truncated(path, self.max_value_bytes)).into()
    }

    /// What was recorded for `path` in `resource_map` (an identity: the map's address), if
    /// its slot still holds it.
    pub(crate) fn get(&self, resource_map: usize, path: &str) -> Option<PathInfo> {
        if path.len() > MAX_CACHED_PATH || self.resource_map.get() != resource_map {
            return None;
        }
        let slots = self.slots.borrow();
        let entry = slots[self.slot(path)]
            .as_ref()
            .filter(|entry| &*entry.path == path)?;
        Some(PathInfo {
            path: entry.value.clone(),
            pattern: entry.pattern.clone(),
        })
    }

    /// Records that `path` matched `pattern` in `resource_map` (replacing what its slot
    /// held; nothing for paths over [`MAX_CACHED_PATH`]).
    pub(crate) fn insert(&self, resource_map: usize, path: &str, pattern: Option<Rc<str>>) {
        if path.len() > MAX_CACHED_PATH {
            return;
        }
        let mut slots = self.slots.borrow_mut();
        if self.resource_map.get() != resource_map {
            slots.iter_mut().for_each(|slot| *slot = None);
            self.resource_map.set(resource_map);
        }
        let path: Arc<str> = Arc::from(path);
        let value = if path.len() <= self.max_value_bytes {
            Arc::clone(&path).into()
        } else {
            self.value_of(&path)
        };
        let index = self.slot(&path);
        slots[index] = Some(PathEntry {
            path,
            value,
            pattern,
        });
    }

    fn slot(&self, path: &str) -> usize {
        (self.hasher.hash_one(path) as usize) & (PATH_SLOTS - 1)
    }
}

/// The longest prefix of `text` of at most `max_bytes` bytes that ends on a character
/// boundary.
pub(crate) fn truncated(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
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
    fn a_path_is_found_while_it_keeps_its_slot_and_shares_its_value() {
        let cache = PathCache::new(1024);
        assert!(cache.get(1, "/hello/x").is_none(), "nothing recorded yet");
        cache.insert(1, "/hello/x", Some(Rc::from("/hello/{name}")));
        let (a, b) = (
            cache.get(1, "/hello/x").expect("recorded"),
            cache.get(1, "/hello/x").expect("recorded"),
        );
        assert_eq!(a.path.as_str(), "/hello/x");
        assert_eq!(a.pattern.as_deref(), Some("/hello/{name}"));
        // The same url.path value is shared, not copied.
        assert!(std::ptr::eq(a.path.as_str(), b.path.as_str()));
        // An unmatched path is recorded as unmatched.
        cache.insert(1, "/nowhere", None);
        assert_eq!(
            cache.get(1, "/nowhere").map(|info| info.pattern),
            Some(None)
        );
    }

    #[test]
    fn every_path_gets_its_own_pattern_even_when_slots_collide() {
        let cache = PathCache::new(1024);
        // Far more paths than slots: collisions replace entries, never mix them up.
        for n in 0..(4 * PATH_SLOTS) {
            let path = format!("/items/{n}");
            cache.insert(7, &path, Some(Rc::from(format!("pattern {n}").as_str())));
            let info = cache.get(7, &path).expect("just recorded");
            assert_eq!(info.path.as_str(), path);
            assert_eq!(
                info.pattern.as_deref(),
                Some(format!("pattern {n}").as_str())
            );
        }
        for n in 0..(4 * PATH_SLOTS) {
            let path = format!("/items/{n}");
            if let Some(info) = cache.get(7, &path) {
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
        let cache = PathCache::new(1024);
        cache.insert(1, "/a", Some(Rc::from("/a")));
        assert!(cache.get(2, "/a").is_none(), "recorded for another map");
        cache.insert(2, "/a", Some(Rc::from("/{any}")));
        assert_eq!(
            cache.get(2, "/a").and_then(|info| info.pattern).as_deref(),
            Some("/{any}")
        );
        assert_eq!(cache.slots.borrow().iter().flatten().count(), 1);
    }

    #[test]
    fn long_paths_are_not_kept() {
        let cache = PathCache::new(1024);
        let long = format!("/{}", "x".repeat(MAX_CACHED_PATH));
        cache.insert(1, &long, Some(Rc::from("/{long}")));
        assert!(cache.get(1, &long).is_none());
        assert_eq!(cache.slots.borrow().iter().flatten().count(), 0);
    }

    #[test]
    fn path_values_are_cut_to_the_limit_on_a_character_boundary() {
        let cache = PathCache::new(8);
        cache.insert(1, "/abcdefghij", None);
        assert_eq!(
            cache
                .get(1, "/abcdefghij")
                .map(|info| info.path.as_str().to_owned()),
            Some("/abcdefg".to_owned())
        );
        assert_eq!(cache.value_of("/ééééé").as_str(), "/ééé", "7 bytes, not 8");
        assert_eq!(truncated("short", 8), "short");
        assert_eq!(truncated("日本語", 4), "日");
        assert_eq!(truncated("日本語", 2), "");
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
