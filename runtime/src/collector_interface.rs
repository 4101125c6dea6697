//! The collector interface: everything of the runtime that only a garbage
//! collector may drive, gathered in one module so that it is plain, at
//! every call site, who is reaching under the allocator.
//!
//! # Who may call this
//!
//! The heap's **one collector** (marrow-gc's `Gc`, which creates the heap
//! and never lets it out as an `Arc`), or, for a heap that no collector
//! owns, the program that plays that part itself (the runtime's tests mark
//! objects by hand and sweep). Nobody else: a safe program built on the
//! runtime alone (`Heap::new`, `Heap::new_cache`, `MCache::mallocgc`,
//! `Heap::find_object`, `Heap::mem_stats`) never needs this module, and a
//! program embedding marrow-gc reaches the heap only through `Gc::heap()`,
//! a plain `&Heap` from which no allocation cache can be made.
//!
//! # Why these are `unsafe`
//!
//! Sweeping frees every object whose mark bit is clear. So whoever can
//! clear a mark bit, start or run a sweep at the wrong moment, or turn
//! black allocation off while marking runs, can make the sweep free a
//! reachable object: a use after free in safe code elsewhere. And the GC
//! bitmap is addressed by arena address with no check on the fast path (the
//! marker's inner loop), so an address outside the heap's in-use spans
//! reads or writes outside the bitmap. Every function that can do either is
//! an `unsafe fn` whose `# Safety` section states its contract; every
//! caller in marrow-gc and in the tests says, in a `// SAFETY:` comment,
//! why the contract holds there.
//!
//! What is here and safe only reads (the span table, the sweep
//! generation) or only steers pacing (the trigger, heapLive, the statistics
//! record): wrong values there make the collector run early or late, never
//! free a reachable object. They live here because they are the collector's
//! controls, not the allocator user's.
//!
//! | what | functions |
//! |---|---|
//! | mark bits and pointer bits (the GC bitmap) | [`mark_bitmap`], [`MarkBitmap`] (all methods `unsafe`) |
//! | spans | [`span_of`], [`MSpan`] (read-only), [`EMPTY_SPAN`], [`for_each_pointer_word`] |
//! | sweeping | [`begin_sweep`], [`sweep_one`], [`sweep_all`], [`background_sweep_one`], [`stop_background_sweep`], [`sweepgen`] |
//! | black allocation | [`set_alloc_black`], [`take_black_allocs`] |
//! | pacing | [`set_gc_trigger`], [`set_heap_live`] |
//! | statistics | [`set_gc_record`] |
//!
//! The runtime's side of each mechanism is described where it lives:
//! bitmap.rs (mark bits), sweep.rs (sweeping), gchooks.rs (black allocation,
//! heapLive and the trigger).

use crate::bitmap::GcBitmap;
use crate::heap::Heap;
use crate::stats::GcRecord;
use crate::sweep::SweepResult;
use std::marker::PhantomData;
use std::sync::RwLockWriteGuard;

pub use crate::ptrlayout::for_each_pointer_word;
pub use crate::span::{MSpan, SpanState, EMPTY_SPAN};

/// The GC bitmap of one heap, for its collector: mark bits and pointer
/// bits, addressed by arena address.
///
/// Copying it is cheap (two words, for the marker's inner loop) and cannot
/// outlive the heap (`'h`). Every method is `unsafe`: the bitmap does not
/// check addresses (see the module docs), and mark bits decide what the
/// sweep frees.
///
/// Common contract of the methods ("`addr` lies in this heap"): `addr` (and
/// for ranges, every word of the range) lies in an in-use span of the heap
/// this bitmap was taken from, as given by [`span_of`] or
/// `Heap::find_object` on that heap, and that span is not freed during the
/// call (spans are freed only by sweeping).
#[derive(Clone, Copy, Debug)]
pub struct MarkBitmap<'h> {
    bits: GcBitmap,
    _heap: PhantomData<&'h Heap>,
}

/// The GC bitmap of `heap`.
#[inline(always)]
pub fn mark_bitmap(heap: &Heap) -> MarkBitmap<'_> {
    MarkBitmap {
        bits: *heap.bitmap(),
        _heap: PhantomData,
    }
}

impl MarkBitmap<'_> {
    /// Marks the object starting at `addr`; true if this call marked it
    /// (exactly one of several racing callers sees true).
    ///
    /// # Safety
    /// `addr` lies in this heap (type docs). Marks set outside the
    /// collector's mark only retain: the caller is the heap's collector, or
    /// the heap has none.
    #[inline(always)]
    pub unsafe fn try_mark(&self, addr: usize) -> bool {
        self.bits.try_mark(addr)
    }

    /// Marks the object starting at `addr` with a plain store (no
    /// read-modify-write); true if it was unmarked.
    ///
    /// # Safety
    /// `addr` lies in this heap (type docs), and no other thread sets or
    /// clears mark bits during the call: a racing mark in the same word
    /// would be lost and its object freed. The collector uses it for a
    /// marker alone in a stopped world.
    #[inline(always)]
    pub unsafe fn try_mark_exclusive(&self, addr: usize) -> bool {
        self.bits.try_mark_exclusive(addr)
    }

    /// Whether the object starting at `addr` is marked.
    ///
    /// # Safety
    /// `addr` lies in this heap (type docs).
    #[inline(always)]
    pub unsafe fn is_marked(&self, addr: usize) -> bool {
        self.bits.is_marked(addr)
    }

    /// Clears the mark bit of the object starting at `addr`.
    ///
    /// # Safety
    /// `addr` lies in this heap (type docs), and the heap has no collector
    /// or its collector is not marking and has no sweep cycle in progress:
    /// a mark cleared there lets the sweep free a reachable object.
    #[inline(always)]
    pub unsafe fn clear_mark(&self, addr: usize) {
        self.bits.clear_mark(addr)
    }

    /// Whether the word at `addr` is a pointer slot in the bitmap (spans
    /// that keep a pointer layout, `MSpan::ptr_layout`, leave the bitmap's
    /// pointer bits unused).
    ///
    /// # Safety
    /// `addr` lies in this heap (type docs).
    #[inline(always)]
    pub unsafe fn is_pointer_slot(&self, addr: usize) -> bool {
        self.bits.is_pointer_slot(addr)
    }

    /// Calls `f(word_addr)` for each pointer slot, by the bitmap, among
    /// `nwords` words from `addr`.
    ///
    /// # Safety
    /// Every word of `[addr, addr + 8 * nwords)` lies in this heap (type
    /// docs).
    #[inline(always)]
    pub unsafe fn for_each_pointer_slot(&self, addr: usize, nwords: usize, f: impl FnMut(usize)) {
        self.bits.for_each_pointer_slot(addr, nwords, f)
    }
}

/// The span holding `addr`, if `addr` lies in an in-use span. O(1). Safe:
/// a span is only read through it.
#[inline(always)]
pub fn span_of(heap: &Heap, addr: usize) -> Option<&MSpan> {
    heap.span_of(addr)
}

/// The heap's current sweep generation (sweep.rs).
pub fn sweepgen(heap: &Heap) -> u32 {
    heap.sweepgen()
}

/// Starts a sweep cycle: every span becomes unswept, and proportional
/// sweeping will sweep `pages_per_byte` pages for every byte added to
/// heapLive from now on (0: none). Call after a mark, with every cache
/// flushed and the previous cycle fully swept.
///
/// # Safety
/// Every reachable object must be marked in the GC bitmap, and no object
/// may be allocated between the mark and this call. No other thread may
/// use the heap during the call: a collector stops the world, and shuts
/// its background sweeper out by holding the guard of
/// [`stop_background_sweep`] (which [`background_sweep_one`] relies on).
pub unsafe fn begin_sweep(heap: &Heap, pages_per_byte: f64) {
    // SAFETY: forwarded from the caller.
    unsafe { heap.begin_sweep(pages_per_byte) }
}

/// Sweeps one unswept span, if any remains. Returns what it did (`spans ==
/// 0`: nothing left).
///
/// # Safety
/// No [`begin_sweep`] runs during the call (it rewinds the lists this
/// sweeps from, unsynchronised). On a heap with a collector, only the
/// collector's own threads call it, within its protocol (it excludes
/// `begin_sweep` by stopping the world).
pub unsafe fn sweep_one(heap: &Heap) -> SweepResult {
    heap.sweep_one()
}

/// Sweeps every unswept span.
///
/// # Safety
/// As [`sweep_one`].
pub unsafe fn sweep_all(heap: &Heap) -> SweepResult {
    heap.sweep_all()
}

/// Sweeps one unswept span from a background thread, unless the sweep gate
/// is held ([`stop_background_sweep`]; then returns None at once).
///
/// # Safety
/// Every [`begin_sweep`] on this heap is made while holding the guard of
/// [`stop_background_sweep`] (the collector's protocol), so that the two
/// exclude each other.
pub unsafe fn background_sweep_one(heap: &Heap) -> Option<SweepResult> {
    heap.background_sweep_one()
}

/// Stops background sweeping until the guard is dropped, waiting for a span
/// being swept in the background.
///
/// # Safety
/// Called only by the heap's collector (or on a heap without one), which
/// drops the guard before it waits for anything else: a guard kept, or
/// held while waiting on a mutator, deadlocks the collector.
pub unsafe fn stop_background_sweep(heap: &Heap) -> RwLockWriteGuard<'_, ()> {
    heap.stop_background_sweep()
}

/// Allocates black from now on (`true`; when concurrent marking starts) or
/// no longer (`false`, at mark termination). See gchooks.rs.
///
/// # Safety
/// The world is stopped: no mutator cache holds a span (every cache gave
/// its spans back), and no allocation runs during the call. On a heap with
/// a collector only the collector calls it: turning black allocation off
/// while a mark is under way lets the sweep free objects allocated since.
pub unsafe fn set_alloc_black(heap: &Heap, on: bool) {
    heap.set_alloc_black(on)
}

/// Objects and bytes allocated black since the last call (the collector
/// adds them to the live heap its pacer learns from). Safe: only pacing
/// reads them.
pub fn take_black_allocs(heap: &Heap) -> (u64, u64) {
    heap.take_black_allocs()
}

/// Sets the heap size at which allocation slow paths request a collection
/// (`u64::MAX`: never). Safe: the runtime only compares and raises a flag
/// the mutator polls.
pub fn set_gc_trigger(heap: &Heap, bytes: u64) {
    heap.set_gc_trigger(bytes)
}

/// Resets heapLive (the collector sets it to the marked bytes after a
/// mark). Safe: only pacing reads it.
pub fn set_heap_live(heap: &Heap, bytes: u64) {
    heap.set_heap_live(bytes)
}

/// Replaces the collector's statistics record (what `Heap::mem_stats`
/// reports as NumGC, pauses and NextGC; read it with `Heap::gc_record`).
/// The collector reads, updates and stores it under its own state lock, so
/// no update is lost; no lock of the heap is held when this returns.
pub fn set_gc_record(heap: &Heap, record: GcRecord) {
    heap.set_gc_record(record)
}
