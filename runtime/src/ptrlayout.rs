//! A span's pointer-layout word (`MSpan::ptr_layout`), as functions over
//! the word so that the loom models can run its publication protocol.
//!
//! Nonzero: every allocated object of the span has exactly these pointer
//! words (bit j: word j of its slot) and the GC bitmap's pointer bits for the
//! span are unused. Zero: the bitmap holds the pointer bits of every
//! allocated object. Only the span's owner (a mutator cache) writes the
//! word; markers read it at any time with [`load`] (Acquire).
//!
//! - [`adopt`]: the owner gives the layout to a span that holds no object
//!   but the one it has just taken (of that layout).
//! - [`drop_with`]: before an object of another layout goes in, the owner
//!   writes the layout out into the bitmap for every slot (the closure) and
//!   then clears the word with Release, so a marker that reads 0 also sees
//!   those bits, and scans the older objects correctly either way.
//!
//! An object allocated after a change may be scanned by a marker that read
//! the word before it: harmless, because objects allocated while marking
//! is under way are black (the snapshot barrier never needs them scanned)
//! and reading a non-pointer word as a candidate pointer only retains.

use crate::sync::{AtomicU64, Ordering};

/// The layout, or 0 (Acquire: pairs with [`drop_with`]'s Release).
#[inline(always)]
pub fn load(word: &AtomicU64) -> u64 {
    word.load(Ordering::Acquire)
}

/// Gives the span the layout `mask` (nonzero). Only the owner calls this,
/// while the span holds nothing but the object it has just taken.
#[inline]
pub fn adopt(word: &AtomicU64, mask: u64) {
    debug_assert_ne!(mask, 0);
    word.store(mask, Ordering::Release);
}

/// Calls `f(base + 8 * j)` for each set bit j of `mask`: the pointer words
/// of an object at `base` with that layout.
#[inline(always)]
pub fn for_each_pointer_word(base: usize, mut mask: u64, mut f: impl FnMut(usize)) {
    while mask != 0 {
        f(base + mask.trailing_zeros() as usize * 8);
        mask &= mask - 1;
    }
}

/// Drops the layout, if any: calls `write_out(mask)`, which must write the
/// layout into the bitmap for every slot, then clears the word (Release).
/// Returns the layout dropped (0 if none). Only the owner calls this.
#[inline]
pub fn drop_with(word: &AtomicU64, write_out: impl FnOnce(u64)) -> u64 {
    // The owner is the only writer: a plain read of its own last store.
    let mask = word.load(Ordering::Relaxed);
    if mask != 0 {
        write_out(mask);
        word.store(0, Ordering::Release);
    }
    mask
}
