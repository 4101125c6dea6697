//! What the runtime does for the collector: the two services the
//! allocator performs on the collector's behalf because only the allocator
//! can do them without slowing its fast path. (The third, the mark bits,
//! lives in the GC bitmap: bitmap.rs.) The collector (marrow-gc) decides
//! everything; the runtime only keeps the state and applies it.
//!
//! **heapLive and the trigger.** heapLive (Go's name) counts the bytes of
//! spans handed to caches and of large objects since the last mark; the
//! collector resets it to the marked bytes at mark termination
//! ([`Heap::set_heap_live`]) and sets the trigger its pacer computed
//! ([`Heap::set_gc_trigger`]). The allocation slow paths add to heapLive
//! and, when it crosses the trigger, raise a poll bit in the cache
//! (`POLL_TRIGGER`, mcache.rs) that the mutator tests before each
//! allocation. A callback from inside the allocator would need the cache
//! re-entrantly while it is borrowed; a polled byte costs one predictable
//! branch. The same slow paths, while allocation is black, keep the bytes
//! they added for the mutator's assist accounting (`POLL_ASSIST`,
//! `MCache::take_charge`): the runtime measures the debt, the collector
//! sets its price (the assist ratio, gc/src/pacer.rs) and collects it.
//!
//! **Black allocation.** While marking runs alongside the mutators, objects
//! allocated must count as marked, or the sweep that follows would free
//! them. Testing the phase on every allocation would cost the fast path a
//! load and a branch; instead the collector turns black allocation on and
//! off with the world stopped ([`Heap::set_alloc_black`]), a span handed to
//! a cache meanwhile remembers where its free index stood, and when the
//! span goes back to its central list (`uncache_span`, which every cache
//! does when the world stops) every slot handed out since is marked in one
//! pass. Large objects are marked when allocated. The counts feed the live
//! heap the pacer learns from ([`Heap::take_black_allocs`]).

use crate::heap::Heap;
use std::sync::atomic::Ordering;

impl Heap {
    /// Sets the heap size at which allocation slow paths request a
    /// collection (`u64::MAX` for never). This is the collector's hook: the
    /// runtime only compares and raises a flag the mutator polls.
    pub fn set_gc_trigger(&self, bytes: u64) {
        self.trigger.store(bytes, Ordering::Relaxed);
    }

    /// The current trigger.
    pub fn gc_trigger(&self) -> u64 {
        self.trigger.load(Ordering::Relaxed)
    }

    /// Go's heapLive: bytes in cached spans and allocated objects since the
    /// last mark.
    pub fn heap_live(&self) -> u64 {
        self.counters.heap_live.load(Ordering::Relaxed)
    }

    /// Resets heapLive (the collector sets it to the marked bytes after a mark).
    pub fn set_heap_live(&self, bytes: u64) {
        self.counters.heap_live.store(bytes, Ordering::Relaxed);
    }

    /// Adds to heapLive; returns whether the trigger is now reached.
    pub(crate) fn add_heap_live(&self, bytes: u64) -> bool {
        let live = self.counters.heap_live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        live >= self.trigger.load(Ordering::Relaxed)
    }

    pub(crate) fn sub_heap_live(&self, bytes: u64) {
        // Saturating: the collector may have reset heapLive meanwhile.
        let _ = self
            .counters
            .heap_live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(bytes)));
    }

    /// Allocates black from now on (`true`; the collector calls this when
    /// concurrent marking starts) or no longer (`false`, at mark
    /// termination). Call only while the world is stopped and no cache
    /// holds a span.
    pub fn set_alloc_black(&self, on: bool) {
        self.alloc_black.store(on, Ordering::Relaxed);
    }

    /// Whether allocation is black (marking is under way).
    #[inline]
    pub fn alloc_black(&self) -> bool {
        self.alloc_black.load(Ordering::Relaxed)
    }

    /// Counts objects allocated black (marked as they were handed out).
    #[inline]
    pub(crate) fn count_black(&self, objects: u64, bytes: u64) {
        self.black_objects.fetch_add(objects, Ordering::Relaxed);
        self.black_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Objects and bytes allocated black since the last call.
    pub fn take_black_allocs(&self) -> (u64, u64) {
        (
            self.black_objects.swap(0, Ordering::Relaxed),
            self.black_bytes.swap(0, Ordering::Relaxed),
        )
    }
}
