//! The write barrier (Go's `mbarrier.go`): a snapshot-at-the-beginning
//! (Yuasa deletion) barrier, which lets marking run while mutators store.
//!
//! The invariant it keeps: every object reachable when marking started is
//! marked before marking ends. The roots are captured at mark start (every
//! mutator reports its roots with the world stopped), and objects allocated
//! during marking are allocated black (runtime/src/gchooks.rs), so the only
//! way a mutator can hide a reachable object from the markers is to cut the
//! last path to it: overwrite a pointer slot that held it. So while marking
//! runs, a pointer store first records the slot's old value; the recorded
//! values are marked grey before marking can end. The value stored needs no
//! barrier: a mutator can only store a pointer it holds, and whatever it
//! holds was reachable at mark start (so it will be marked) or was
//! allocated since (so it is black). Go's hybrid barrier also shades the
//! stored value because Go scans goroutine stacks one at a time while the
//! others run; here every mutator's roots are captured in one stop.
//!
//! Cost. Outside marking a store is a relaxed load of the collector's
//! `marking` flag, a predictable branch and the store: [`store`] is
//! inlined into every caller, raw ([`write_ptr`]) or typed. While marking, the old value goes into the
//! mutator's [`SatbBuffer`] (one push), and only a full buffer takes the
//! slow path that marks it into the shared work pool. Buffers are also
//! flushed when the world stops (`Mutator::make_safe`) and when a mutator
//! drops, so at mark termination every recorded value is in the pool.
//!
//! Slots are accessed as atomics: markers read object words concurrently.

use crate::collector::{Core, PHASE_OFF};
use crate::work;
use std::ptr::NonNull;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Relaxed, Release};

/// Old values buffered by the write barrier before they are marked.
const SATB_LEN: usize = 256;

/// One mutator's buffer of overwritten values (Go's per-P write-barrier
/// buffer).
///
/// Invariant: empty whenever the collector is not marking (it is flushed
/// every time the world stops and when its mutator drops).
#[derive(Debug)]
pub(crate) struct SatbBuffer(Vec<usize>);

impl SatbBuffer {
    pub(crate) fn new() -> SatbBuffer {
        SatbBuffer(Vec::with_capacity(SATB_LEN))
    }

    /// The deletion barrier: records the value about to be overwritten in
    /// `slot`, if it may be a pointer.
    #[cold]
    #[inline(never)]
    fn record(&mut self, core: &Core, slot: &AtomicUsize) {
        let old = slot.load(Relaxed);
        if old != 0 && core.heap.tag_rule().may_be_pointer(old) {
            self.0.push(old);
            if self.0.len() >= SATB_LEN {
                self.flush(core);
            }
        }
    }

    /// Records `word` as if overwritten, so the mark under way keeps its
    /// object: a read that gives a mutator an object the mark might not
    /// otherwise find (a weak referent) shades it (gc/src/weak.rs).
    #[cold]
    #[inline(never)]
    pub(crate) fn shade(&mut self, core: &Core, word: usize) {
        if word != 0 && core.heap.tag_rule().may_be_pointer(word) {
            self.0.push(word);
            if self.0.len() >= SATB_LEN {
                self.flush(core);
            }
        }
    }

    /// Marks the recorded old values grey into the shared pool.
    pub(crate) fn flush(&mut self, core: &Core) {
        if self.0.is_empty() {
            return;
        }
        debug_assert_ne!(core.phase(), PHASE_OFF, "barrier buffer outside marking");
        let mut m = core.marker(false);
        let buf = &mut self.0;
        work::share_greyed(&mut m, &core.pool, |m| {
            for w in buf.drain(..) {
                m.mark_word(w);
            }
        });
    }
}

/// Stores `val` into word `slot` of object `obj` through the barrier
/// (`Mutator::write_ptr` is this, for the mutator's buffer).
///
/// # Safety
/// `obj` must be a live object of `core`'s heap with more than `slot` words.
#[inline(always)]
pub(crate) unsafe fn write_ptr(core: &Core, satb: &mut SatbBuffer, obj: NonNull<u8>, slot: usize, val: usize) {
    debug_assert!(core
        .heap
        .find_object(obj.as_ptr() as usize + slot * 8)
        .is_some_and(|o| o.base == obj.as_ptr() as usize));
    // SAFETY: the caller guarantees the slot lies in a live object;
    // object words are aligned and may be read by markers, so they are
    // accessed atomically.
    let p = unsafe { &*(obj.as_ptr() as *const AtomicUsize).add(slot) };
    store(core, satb, p, val);
}

/// Stores `val` into the heap word `slot` through the barrier: the one
/// store path of the raw API ([`write_ptr`]) and of the typed API
/// (`typed::GcCell::set` and the arrays). The store is Release so that a
/// thread that reads the pointer (with Acquire, as the typed API does)
/// also sees the stored object's initialisation; on x86-64 it is the same
/// `mov` as a relaxed store.
#[inline(always)]
pub(crate) fn store(core: &Core, satb: &mut SatbBuffer, slot: &AtomicUsize, val: usize) {
    if core.marking.load(Relaxed) {
        satb.record(core, slot);
    }
    slot.store(val, Release);
}
