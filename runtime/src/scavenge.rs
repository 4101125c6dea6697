//! Returning free pages to the OS (Go's `mgcscavenge.go`, the runtime's
//! half): the page heap releases free page runs, highest addresses first,
//! with the heap's release mode (mheap.rs: `scavenge`). The collector sets
//! the heap bytes to keep Ready after each cycle (the retained goal, from
//! its pacer) and its background thread (gc/src/scavenger.rs) pays the
//! debt beyond it a chunk at a time; the page heap also releases free
//! pages itself before it grows past the retained size. docs/memory.md
//! tells the whole policy.

use crate::heap::Heap;
use crate::mem::MemError;

impl Heap {
    /// Sets the heap bytes to keep Ready (in use plus free but not yet
    /// returned to the OS); the scavenger releases what lies beyond, and the
    /// page heap releases free pages before growing past it.
    pub fn set_retained(&self, bytes: u64) {
        self.lock_mheap().retain = usize::try_from(bytes).unwrap_or(usize::MAX);
    }

    /// Heap bytes Ready beyond the retained size (what the scavenger owes),
    /// and the retained size.
    pub fn scavenge_debt(&self) -> (usize, usize) {
        let h = self.lock_mheap();
        (h.ready_bytes().saturating_sub(h.retain), h.retain)
    }

    /// Returns free pages to the OS (`sys_unused`, with the heap's release
    /// mode), highest addresses first, until `bytes` more are released or
    /// none is left. Returns the bytes released. Pages allocated again are
    /// counted back as mapped (`sys_used`).
    pub fn scavenge(&self, bytes: usize) -> Result<usize, MemError> {
        self.lock_mheap().scavenge(bytes, self.config.release_mode)
    }

    /// Returns every free page to the OS. (The collector's
    /// `free_os_memory` collects first, so that garbage is free too.)
    pub fn release_free_pages(&self) -> Result<usize, MemError> {
        self.scavenge(usize::MAX)
    }
}
