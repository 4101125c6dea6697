//! Central span lists (Go's `mcentral`), one per span class, shared by all
//! mutator caches.
//!
//! Each class keeps spans with free objects (`partial`) and without
//! (`full`), each split into a swept and an unswept set. As in Go, which of
//! the two sets is "swept" flips when the heap's sweep generation advances
//! by 2 at the end of a mark: every swept span becomes unswept at once, with
//! no list walking. A span in no set is owned by a cache or is being swept.
//!
//! Invariants: a span is in at most one set; spans in the swept sets have
//! `sweepgen == heap.sweepgen`; spans in the unswept sets have
//! `sweepgen == heap.sweepgen - 2`. Sets are push/pop stacks, so a
//! lock-free span set (Go's `spanSet`) can replace the mutex later without
//! changing callers.

use crate::span::MSpan;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Lists {
    partial: [Vec<&'static MSpan>; 2],
    full: [Vec<&'static MSpan>; 2],
}

/// The central lists of one span class.
#[derive(Debug, Default)]
pub(crate) struct MCentral {
    lists: Mutex<Lists>,
}

/// Which set: swept (for this sweepgen) or not yet.
fn swept_index(sweepgen: u32) -> usize {
    (sweepgen / 2 % 2) as usize
}

fn unswept_index(sweepgen: u32) -> usize {
    1 - swept_index(sweepgen)
}

impl MCentral {
    fn lock(&self) -> std::sync::MutexGuard<'_, Lists> {
        // A panic while holding the lock leaves plain vectors of spans, which
        // stay consistent; recover from poisoning.
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn pop_partial_swept(&self, sg: u32) -> Option<&'static MSpan> {
        self.lock().partial[swept_index(sg)].pop()
    }

    pub(crate) fn pop_partial_unswept(&self, sg: u32) -> Option<&'static MSpan> {
        self.lock().partial[unswept_index(sg)].pop()
    }

    pub(crate) fn pop_full_unswept(&self, sg: u32) -> Option<&'static MSpan> {
        self.lock().full[unswept_index(sg)].pop()
    }

    /// Pushes a swept span onto the right set.
    pub(crate) fn push_swept(&self, sg: u32, s: &'static MSpan, has_free: bool) {
        let mut l = self.lock();
        if has_free {
            l.partial[swept_index(sg)].push(s);
        } else {
            l.full[swept_index(sg)].push(s);
        }
    }

    /// Number of spans in all sets (for tests and debug checks).
    pub(crate) fn len(&self) -> usize {
        let l = self.lock();
        l.partial.iter().chain(l.full.iter()).map(Vec::len).sum()
    }

    /// Calls `f` on every span in the lists.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&'static MSpan)) {
        let l = self.lock();
        for s in l.partial.iter().chain(l.full.iter()).flatten() {
            f(s);
        }
    }
}
