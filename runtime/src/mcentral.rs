//! Central span lists (Go's `mcentral`), one per span class, shared by all
//! mutator caches.
//!
//! Each class keeps spans with free objects (`partial`) and without
//! (`full`), each split into a swept and an unswept set. As in Go, which of
//! the two sets is "swept" flips when the heap's sweep generation advances
//! by 2 at the end of a mark: every swept span becomes unswept at once, with
//! no list walking. A span in no set is owned by a cache or is being swept.
//!
//! The sets are lock-free [`SpanSet`]s (Go's `spanSet`): pushing and
//! popping take no lock, and a span moves between owners (a cache, a
//! sweeper, a set) with Release/Acquire through the set's slot, which is
//! what the span's owner-only fields need.
//!
//! Invariants: a span is in at most one set; spans in the swept sets have
//! `sweepgen == heap.sweepgen`; spans in the unswept sets have
//! `sweepgen == heap.sweepgen - 2`. Only the swept sets receive spans
//! during a sweep cycle, so once the cycle is fully swept the unswept sets
//! are empty, and [`MCentral::reset_unswept`] can rewind their indices
//! before they become the next cycle's swept sets.

use crate::span::MSpan;
use crate::spanset::SpanSet;

/// The central lists of one span class.
#[derive(Debug, Default)]
pub(crate) struct MCentral {
    /// Spans with free objects, by [`swept_index`]/[`unswept_index`].
    partial: [SpanSet<MSpan>; 2],
    /// Spans without free objects, likewise.
    full: [SpanSet<MSpan>; 2],
}

/// Which set: swept (for this sweepgen) or not yet.
fn swept_index(sweepgen: u32) -> usize {
    (sweepgen / 2 % 2) as usize
}

fn unswept_index(sweepgen: u32) -> usize {
    1 - swept_index(sweepgen)
}

impl MCentral {
    pub(crate) fn pop_partial_swept(&self, sg: u32) -> Option<&'static MSpan> {
        self.partial[swept_index(sg)].pop()
    }

    pub(crate) fn pop_partial_unswept(&self, sg: u32) -> Option<&'static MSpan> {
        self.partial[unswept_index(sg)].pop()
    }

    pub(crate) fn pop_full_unswept(&self, sg: u32) -> Option<&'static MSpan> {
        self.full[unswept_index(sg)].pop()
    }

    /// Pushes a swept span onto the right set.
    pub(crate) fn push_swept(&self, sg: u32, s: &'static MSpan, has_free: bool) {
        if has_free {
            self.partial[swept_index(sg)].push(s);
        } else {
            self.full[swept_index(sg)].push(s);
        }
    }

    /// Number of spans in all sets (for tests): exact when no push or pop
    /// runs meanwhile.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.partial.iter().chain(self.full.iter()).map(SpanSet::len).sum()
    }

    /// Calls `f` on every span in the sets. Exact when no push or pop runs
    /// meanwhile; racing, it may skip or repeat spans (but stays safe).
    pub(crate) fn for_each(&self, mut f: impl FnMut(&'static MSpan)) {
        for set in self.partial.iter().chain(self.full.iter()) {
            set.for_each(&mut f);
        }
    }

    /// Rewinds the two sets that are unswept for generation `sg` (partial
    /// and full), which are the swept sets of `sg + 2`: frees their blocks
    /// and restarts their indices at 0, so a set's index space and spine
    /// only grow within two sweep cycles. Call it from the start of a sweep
    /// cycle, before the heap's sweepgen advances from `sg` to `sg + 2`.
    ///
    /// # Safety
    /// The world is stopped for this class: no other thread pushes to,
    /// pops from, or walks (`len`, `for_each`) any set of this `MCentral`
    /// during the call, and the caller's synchronisation orders every
    /// earlier operation before it and every later one after it.
    ///
    /// # Panics
    /// If either set is not empty, i.e. the cycle `sg` is not fully swept
    /// (every unswept span must have been popped, by `sweep_all` or lazily).
    pub(crate) unsafe fn reset_unswept(&self, sg: u32) {
        let u = unswept_index(sg);
        // SAFETY: no concurrent operation on these sets (caller).
        unsafe {
            self.partial[u].reset();
            self.full[u].reset();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(n: usize) -> Vec<&'static MSpan> {
        (0..n).map(|_| &*Box::leak(Box::new(MSpan::new_dead()))).collect()
    }

    fn addr(s: &MSpan) -> usize {
        s as *const MSpan as usize
    }

    #[test]
    fn swept_sets_become_unswept_when_sweepgen_advances() {
        let c = MCentral::default();
        let ss = spans(3);
        c.push_swept(2, ss[0], true);
        c.push_swept(2, ss[1], false);
        assert_eq!(c.len(), 2);
        assert!(c.pop_partial_unswept(2).is_none());
        assert!(c.pop_full_unswept(2).is_none());
        // Next cycle: what was swept for 2 is unswept for 4.
        assert!(c.pop_partial_swept(4).is_none());
        assert_eq!(c.pop_partial_unswept(4).map(addr), Some(addr(ss[0])));
        assert_eq!(c.pop_full_unswept(4).map(addr), Some(addr(ss[1])));
        c.push_swept(4, ss[2], true);
        let mut seen = vec![];
        c.for_each(|s| seen.push(addr(s)));
        assert_eq!(seen, vec![addr(ss[2])]);
        assert_eq!(c.pop_partial_swept(4).map(addr), Some(addr(ss[2])));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn reset_unswept_rewinds_only_the_unswept_sets() {
        let c = MCentral::default();
        let ss = spans(2);
        c.push_swept(2, ss[0], true);
        assert!(c.pop_partial_swept(2).is_some());
        c.push_swept(2, ss[1], false);
        // Cycle 2 fully swept (nothing unswept): rewind its unswept sets.
        // SAFETY: this test is the only thread.
        unsafe { c.reset_unswept(2) };
        assert_eq!(c.len(), 1);
        // The swept set for 2 was untouched.
        assert_eq!(c.pop_full_unswept(4).map(addr), Some(addr(ss[1])));
        // The rewound set is the swept set of 4.
        c.push_swept(4, ss[0], true);
        assert_eq!(c.pop_partial_swept(4).map(addr), Some(addr(ss[0])));
    }

    #[test]
    #[should_panic(expected = "reset of a span set")]
    fn reset_unswept_refuses_unswept_spans() {
        let c = MCentral::default();
        c.push_swept(2, spans(1)[0], true);
        // Unswept for 4 still holds a span.
        // SAFETY: this test is the only thread.
        unsafe { c.reset_unswept(4) };
    }
}
