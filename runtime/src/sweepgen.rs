//! The sweep-generation claim protocol (Go's `mspan.sweepgen` rules), as
//! functions over a span's sweepgen word so the loom models can run it.
//!
//! The heap's sweep generation `sg` advances by 2 when a sweep cycle begins.
//! Relative to it a span's own sweepgen is `sg - 2` (needs sweeping),
//! `sg - 1` (being swept), or `sg` (swept); `sg + 1` and `sg + 3` mark a
//! span held by a mutator cache. A sweeper takes a span with [`claim`], a
//! compare-and-swap from `sg - 2` to `sg - 1`, so among any number of racing
//! sweepers exactly one wins and sweeps the span; it publishes its work with
//! [`finish`], and anyone who then sees the span swept ([`is_swept`]) sees
//! every write the sweep made (Release/Acquire).
//!
//! Arithmetic wraps: generations are compared for equality only.

use crate::sync::{AtomicU32, Ordering};

/// Tries to claim a span for sweeping in heap generation `heap_sg`: true
/// if this caller moved the span's sweepgen from `heap_sg - 2` to
/// `heap_sg - 1`, and so owns the sweep (and must call [`finish`]).
///
/// Acquire on success: the winner sees everything done to the span before
/// it became unswept. Release on success orders the claim before the
/// sweep's writes for anyone who synchronises with it.
#[inline]
pub fn claim(span_sg: &AtomicU32, heap_sg: u32) -> bool {
    span_sg
        .compare_exchange(
            heap_sg.wrapping_sub(2),
            heap_sg.wrapping_sub(1),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Marks a claimed span swept for `heap_sg` (Release: the sweep's writes
/// happen before any [`is_swept`] that sees it). Only the winner of
/// [`claim`] calls this.
#[inline]
pub fn finish(span_sg: &AtomicU32, heap_sg: u32) {
    span_sg.store(heap_sg, Ordering::Release);
}

/// Whether the span is swept for `heap_sg` (Acquire: if so, the sweeper's
/// writes are visible to the caller).
#[inline]
pub fn is_swept(span_sg: &AtomicU32, heap_sg: u32) -> bool {
    span_sg.load(Ordering::Acquire) == heap_sg
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_generation() {
        let s = AtomicU32::new(2);
        assert!(!claim(&s, 2), "swept span claimed");
        assert!(claim(&s, 4));
        assert!(!claim(&s, 4), "claimed twice");
        assert!(!is_swept(&s, 4));
        finish(&s, 4);
        assert!(is_swept(&s, 4));
        assert!(!claim(&s, 4));
    }

    #[test]
    fn wraps_around() {
        let s = AtomicU32::new(u32::MAX - 1);
        assert!(claim(&s, 0));
        assert_eq!(s.load(Ordering::Relaxed), u32::MAX);
        finish(&s, 0);
        assert!(is_swept(&s, 0));
    }
}
