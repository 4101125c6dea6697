//! The mark-bit primitive: setting an object's mark bit so that exactly
//! one of several racing markers learns it was first (and greys the
//! object). Built on `sync`, so the loom models (gc/tests/loom.rs) check
//! the very function the GC bitmap uses.

use crate::sync::{AtomicU64, Ordering};

/// Sets the bits of `mask` (one bit) in `word`; true if this call set it.
///
/// The plain load first skips the read-modify-write, and the cache line's
/// exclusive ownership, for objects already marked: most pointers a
/// marker follows lead to marked objects. Relaxed suffices: the bit is the
/// only thing decided here; the grey object is published through the
/// work pool's lock.
#[inline(always)]
pub fn set_once(word: &AtomicU64, mask: u64) -> bool {
    if word.load(Ordering::Relaxed) & mask != 0 {
        return false;
    }
    word.fetch_or(mask, Ordering::Relaxed) & mask == 0
}
