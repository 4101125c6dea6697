//! `MemStats`: a snapshot of the heap in Go's vocabulary, and the counters
//! behind it.
//!
//! Invariants (see [`MemStats::check`]):
//! - `heap_inuse + heap_idle == heap_sys`, `heap_released <= heap_idle`;
//! - `heap_alloc <= heap_inuse` and `heap_objects == mallocs - frees`
//!   (exact when no mutator cache holds unpublished counts: after
//!   `MCache::flush_stats` or at a stop-the-world point);
//! - `sys + heap_released >= heap_sys` (Sys counts Ready memory; HeapSys
//!   also counts heap pages returned to the OS, as in Go).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Number of recent pauses kept (Go keeps 256).
pub const PAUSE_HISTORY: usize = 256;

/// A snapshot of heap statistics. Names follow Go's `runtime.MemStats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemStats {
    /// Bytes of allocated heap objects (reachable or not yet swept).
    pub heap_alloc: u64,
    /// Cumulative bytes allocated.
    pub total_alloc: u64,
    /// Bytes of arena mapped Ready or released by the scavenger.
    pub heap_sys: u64,
    /// Bytes in free pages (including released ones).
    pub heap_idle: u64,
    /// Bytes in in-use spans.
    pub heap_inuse: u64,
    /// Bytes of free pages returned to the OS.
    pub heap_released: u64,
    /// Live (allocated) objects: `mallocs - frees`.
    pub heap_objects: u64,
    /// Cumulative objects allocated.
    pub mallocs: u64,
    /// Cumulative objects freed.
    pub frees: u64,
    /// Bytes mapped Ready, all purposes (heap, span table, bitmap, metadata):
    /// what the process holds, released pages excluded.
    pub sys: u64,
    /// Bytes of the span table and span structures mapped Ready.
    pub mspan_sys: u64,
    /// Bytes of the GC bitmap mapped Ready.
    pub gc_sys: u64,
    /// Bytes of address space reserved.
    pub reserved: u64,
    /// Completed collections.
    pub num_gc: u32,
    /// Collections forced by the program (`gc()`).
    pub num_forced_gc: u32,
    /// Total stop-the-world pause time.
    pub pause_total_ns: u64,
    /// The most recent pauses, newest at `[(num_gc + 255) % 256]` as in Go.
    pub pause_ns: Vec<u64>,
    /// Heap size at which the next collection is due.
    pub next_gc: u64,
    /// Share of the wall-clock time since the heap was created that was
    /// spent in the collector's stop-the-world pauses (`pause_total_ns`
    /// over the heap's age). Unlike Go's `GCCPUFraction` it is not CPU
    /// time: concurrent marking, assists and background sweeping are not
    /// counted, and a pause counts once however many threads it stops.
    pub gc_cpu_fraction: f64,
    /// Unix time in nanoseconds of the last collection's end.
    pub last_gc_unix_ns: u64,
}

impl MemStats {
    /// Checks the invariants in the module docs; returns the first violated one.
    pub fn check(&self) -> Result<(), String> {
        if self.heap_inuse + self.heap_idle != self.heap_sys {
            return Err(format!(
                "HeapInuse {} + HeapIdle {} != HeapSys {}",
                self.heap_inuse, self.heap_idle, self.heap_sys
            ));
        }
        if self.heap_released > self.heap_idle {
            return Err(format!(
                "HeapReleased {} > HeapIdle {}",
                self.heap_released, self.heap_idle
            ));
        }
        if self.heap_alloc > self.heap_inuse {
            return Err(format!("HeapAlloc {} > HeapInuse {}", self.heap_alloc, self.heap_inuse));
        }
        if self.mallocs < self.frees || self.heap_objects != self.mallocs - self.frees {
            return Err(format!(
                "HeapObjects {} != Mallocs {} - Frees {}",
                self.heap_objects, self.mallocs, self.frees
            ));
        }
        if self.sys + self.heap_released < self.heap_sys {
            return Err(format!(
                "Sys {} + HeapReleased {} < HeapSys {}",
                self.sys, self.heap_released, self.heap_sys
            ));
        }
        if self.total_alloc < self.heap_alloc {
            return Err(format!(
                "TotalAlloc {} < HeapAlloc {}",
                self.total_alloc, self.heap_alloc
            ));
        }
        Ok(())
    }
}

/// The collector's statistics: the one record of them, kept with the heap
/// so that [`MemStats`] can report them, and written only by the collector
/// (marrow-gc), at the end of each cycle and when its pacer changes.
#[derive(Clone, Debug, Default)]
pub struct GcRecord {
    /// Completed collections.
    pub num_gc: u32,
    /// Forced collections.
    pub num_forced_gc: u32,
    /// Total pause time.
    pub pause_total_ns: u64,
    /// Ring of recent pauses.
    pub pause_ns: Vec<u64>,
    /// Next goal.
    pub next_gc: u64,
    /// Share of wall time spent in pauses (see [`MemStats::gc_cpu_fraction`]).
    pub gc_cpu_fraction: f64,
    /// End of last collection (Unix ns).
    pub last_gc_unix_ns: u64,
}

impl GcRecord {
    /// Records one completed cycle's pause.
    pub fn record_pause(&mut self, ns: u64) {
        if self.pause_ns.len() < PAUSE_HISTORY {
            self.pause_ns.resize(PAUSE_HISTORY, 0);
        }
        self.pause_ns[self.num_gc as usize % PAUSE_HISTORY] = ns;
        self.num_gc += 1;
        self.pause_total_ns += ns;
    }
}

/// Heap-wide counters, updated with relaxed atomics off the fast path.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) heap_alloc: AtomicU64,
    pub(crate) total_alloc: AtomicU64,
    pub(crate) mallocs: AtomicU64,
    pub(crate) frees: AtomicU64,
    /// Go's heapLive: bytes in spans handed to caches plus large objects,
    /// reset to the marked bytes at the end of each mark.
    pub(crate) heap_live: AtomicU64,
}

impl Counters {
    pub(crate) fn add_allocs(&self, n: u64, bytes: u64) {
        if n > 0 {
            self.mallocs.fetch_add(n, Relaxed);
            self.heap_alloc.fetch_add(bytes, Relaxed);
            self.total_alloc.fetch_add(bytes, Relaxed);
        }
    }

    pub(crate) fn add_frees(&self, n: u64, bytes: u64) {
        if n > 0 {
            self.frees.fetch_add(n, Relaxed);
            self.heap_alloc.fetch_sub(bytes, Relaxed);
        }
    }

    /// Tiny allocations count as both allocated and freed (Go does the
    /// same): the 16-byte blocks that hold them are what the heap tracks.
    pub(crate) fn add_tiny(&self, n: u64) {
        if n > 0 {
            self.mallocs.fetch_add(n, Relaxed);
            self.frees.fetch_add(n, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_catches_broken_invariants() {
        let mut s = MemStats {
            heap_sys: 100,
            heap_inuse: 60,
            heap_idle: 40,
            heap_alloc: 50,
            total_alloc: 70,
            mallocs: 5,
            frees: 2,
            heap_objects: 3,
            sys: 120,
            ..Default::default()
        };
        assert_eq!(s.check(), Ok(()));
        s.heap_idle = 41;
        assert!(s.check().unwrap_err().contains("HeapSys"));
        s.heap_idle = 40;
        s.heap_objects = 4;
        assert!(s.check().unwrap_err().contains("HeapObjects"));
    }

    #[test]
    fn pauses_ring() {
        let mut r = GcRecord::default();
        for i in 0..300 {
            r.record_pause(i);
        }
        assert_eq!(r.num_gc, 300);
        assert_eq!(r.pause_ns[(300 + 255) % 256], 299);
        assert_eq!(r.pause_total_ns, (0..300).sum::<u64>());
    }
}
