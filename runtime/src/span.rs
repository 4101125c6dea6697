//! Spans (Go's `mspan`): a run of pages carved into equal objects.
//!
//! A span in use for small objects holds `nelems` objects of `elemsize`
//! bytes. Allocation state, as in Go:
//!
//! - `alloc_bits` (a `bitvec` array over atomic words): bit i set means object
//!   i was allocated when the span was last swept (or initialised).
//! - `freeindex`: every object below it has been handed out or is marked in
//!   `alloc_bits`; the next free object is found at or after it.
//! - `alloc_cache`: the complement of the 64 alloc bits starting at
//!   `freeindex` rounded down to 64, shifted so bit 0 is `freeindex`; the
//!   fast path takes the lowest set bit.
//!
//! Object i is allocated iff `i < freeindex || alloc_bits[i]`.
//!
//! Ownership protocol (what makes the `unsafe` accessors sound): a span is
//! owned by exactly one of the page heap (state Free, under its lock), a
//! central span set, a sweeper that claimed it, or one mutator cache. Only
//! the owner writes the owner fields (`alloc_cache`, `alloc_count`,
//! `needzero`, `black_from`, `alloc_bits`, `freeindex`); ownership passes
//! through the span sets' release/acquire or the page heap's lock, which
//! order the old owner's writes before the new owner's reads. Fields that
//! other threads may read at any time through the span table (`state`,
//! geometry, `freeindex`, `alloc_bits`) are atomics, so a concurrent lookup
//! (a marker resolving a pointer) never races; it validates what it reads.

use crate::bitmap::GcBitmap;
use crate::ptrlayout;
use crate::sizeclass::{div_by_class, SpanClass, CLASSES, MAX_SPAN_OBJECTS, PAGE_SHIFT};
use crate::sync::{
    AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
    Ordering::{self, Relaxed},
};
use bitvec::prelude::*;
use std::cell::UnsafeCell;

/// Words of alloc bits per span: one bit for each of the most objects a
/// span can hold.
pub const ALLOC_WORDS: usize = MAX_SPAN_OBJECTS / 64;

/// One bit per object of a span: the survivors handed to [`MSpan::sweep`].
pub type LiveBits = BitArray<[u64; ALLOC_WORDS], Lsb0>;

/// An object found by [`crate::Heap::find_object`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// First byte of the object.
    pub base: usize,
    /// Size of its slot (the size class, or the pages of a large object).
    pub size: usize,
    /// Whether it holds no pointers.
    pub noscan: bool,
}

/// Largest slot, in words, whose pointer layout a span can keep (the mask
/// must leave its top bit free: markers tag grey work with it).
pub const MAX_LAYOUT_WORDS: usize = 63;

/// Where a span is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SpanState {
    /// In the span pool, or describing free pages; not an object span.
    Dead = 0,
    /// Holding objects.
    InUse = 1,
}

/// A span (see the module docs for the invariants and ownership protocol).
#[derive(Debug)]
pub struct MSpan {
    // Geometry: written only while the span is Dead; atomics so a stale
    // lookup never races.
    base: AtomicUsize,
    npages: AtomicUsize,
    elemsize: AtomicUsize,
    nelems: AtomicUsize,
    div_mul: AtomicU32,
    spanclass: AtomicU8,
    state: AtomicU8,
    /// Sweep generation (Go's rules: sweepgen == heap's − 2 needs sweeping,
    /// − 1 being swept, == swept; +1/+3 cached before/after sweep).
    pub(crate) sweepgen: AtomicU32,
    freeindex: AtomicUsize,
    alloc_bits: BitArray<[AtomicU64; ALLOC_WORDS], Lsb0>,
    /// The span-level pointer layout (slots of at most [`MAX_LAYOUT_WORDS`]
    /// words): nonzero means every allocated object has exactly these
    /// pointer words and the GC bitmap's pointer bits for the span are
    /// unused; 0 means the bitmap holds them. Protocol in
    /// [`crate::ptrlayout`].
    ptr_layout: AtomicU64,
    owner: UnsafeCell<OwnerFields>,
}

/// Fields only the span's owner touches (plain memory, no atomics: this is
/// the allocation fast path).
#[derive(Debug, Default)]
struct OwnerFields {
    alloc_cache: u64,
    /// Allocated objects when the current owner (a cache) took the span, or
    /// when its counts were last published.
    alloc_count_at_cache: usize,
    /// Free slots may hold old data: they are zeroed before a cache
    /// allocates from the span (`prepare_for_cache`).
    needzero: bool,
    /// Clobber mode: every free slot holds the poison byte (set by a
    /// clobbering sweep; a fresh span's free slots hold zeros or old data).
    poisoned: bool,
    /// Next span in the page heap's span pool free list.
    next_free: usize,
    /// While the collector allocates black (marking is under way), the
    /// `freeindex` at which the current owner cache took the span: slots
    /// handed out from there on are marked when the cache gives the span
    /// back. `usize::MAX` otherwise.
    black_from: usize,
}

// SAFETY: shared fields are atomics; `owner` is touched only by the span's
// unique owner (module docs), which moves between threads only through
// locks or other synchronising handoffs.
unsafe impl Sync for MSpan {}

/// A span never handed out: nelems 0 and an empty alloc cache, so the fast
/// path falls through to the refill path without a null check (Go's `emptymspan`).
pub static EMPTY_SPAN: MSpan = MSpan::new_dead();

impl MSpan {
    /// A dead span with no pages.
    pub(crate) const fn new_dead() -> MSpan {
        MSpan {
            base: AtomicUsize::new(0),
            npages: AtomicUsize::new(0),
            elemsize: AtomicUsize::new(0),
            nelems: AtomicUsize::new(0),
            div_mul: AtomicU32::new(0),
            spanclass: AtomicU8::new(0),
            state: AtomicU8::new(SpanState::Dead as u8),
            sweepgen: AtomicU32::new(0),
            freeindex: AtomicUsize::new(0),
            alloc_bits: BitArray {
                _ord: std::marker::PhantomData,
                data: [const { AtomicU64::new(0) }; ALLOC_WORDS],
            },
            ptr_layout: AtomicU64::new(0),
            owner: UnsafeCell::new(OwnerFields {
                alloc_cache: 0,
                alloc_count_at_cache: 0,
                needzero: false,
                poisoned: false,
                next_free: 0,
                black_from: usize::MAX,
            }),
        }
    }

    /// First byte of the span.
    #[inline(always)]
    pub fn base(&self) -> usize {
        self.base.load(Relaxed)
    }

    /// Pages in the span.
    #[inline(always)]
    pub fn npages(&self) -> usize {
        self.npages.load(Relaxed)
    }

    /// One past the last byte of the span's pages.
    #[inline]
    pub fn end(&self) -> usize {
        self.base() + (self.npages() << PAGE_SHIFT)
    }

    /// Object size (for a large span, the whole object's size).
    #[inline(always)]
    pub fn elemsize(&self) -> usize {
        self.elemsize.load(Relaxed)
    }

    /// Number of object slots.
    #[inline(always)]
    pub fn nelems(&self) -> usize {
        self.nelems.load(Relaxed)
    }

    /// The span class.
    #[inline(always)]
    pub fn spanclass(&self) -> SpanClass {
        SpanClass(self.spanclass.load(Relaxed))
    }

    /// The span's state.
    #[inline]
    pub fn state(&self) -> SpanState {
        if self.state.load(Ordering::Acquire) == SpanState::InUse as u8 {
            SpanState::InUse
        } else {
            SpanState::Dead
        }
    }

    /// Current sweep generation.
    pub fn sweepgen(&self) -> u32 {
        self.sweepgen.load(Ordering::Acquire)
    }

    /// The index of the object holding `addr` (which must lie in the span's objects).
    #[inline]
    pub(crate) fn object_index(&self, addr: usize) -> usize {
        // Wrapping: an address below the span gives an index past its
        // objects (`object_at` then finds nothing) rather than a panic.
        let off = addr.wrapping_sub(self.base());
        if self.spanclass().sizeclass() == 0 {
            0
        } else {
            div_by_class(off, self.div_mul.load(Relaxed))
        }
    }

    /// Whether object `i` is allocated (see the module docs).
    #[inline]
    pub(crate) fn is_allocated(&self, i: usize) -> bool {
        // Word access rather than bitvec indexing: this is on the marker's path.
        i < self.freeindex.load(Relaxed) || self.alloc_bits.as_raw_slice()[i / 64].load(Relaxed) >> (i % 64) & 1 != 0
    }

    /// The allocated object holding `addr`, which must lie inside this
    /// in-use span's pages; None for a free slot or the tail waste. (For an
    /// address outside the span the answer is None or some object of this
    /// span: never a panic, never an object elsewhere.) The
    /// second half of [`crate::Heap::find_object`], for callers that already
    /// know the span (a marker caching the last span it saw).
    #[inline(always)]
    pub fn object_at(&self, addr: usize) -> Option<ObjectInfo> {
        let i = self.object_index(addr);
        if i >= self.nelems() || !self.is_allocated(i) {
            return None;
        }
        Some(ObjectInfo {
            base: self.object_addr(i),
            size: self.elemsize(),
            noscan: self.spanclass().noscan(),
        })
    }

    /// Object `i`'s address.
    #[inline]
    pub(crate) fn object_addr(&self, i: usize) -> usize {
        self.base() + i * self.elemsize()
    }

    #[allow(clippy::mut_from_ref)]
    /// # Safety
    /// The caller owns the span (module docs) and holds no other reference
    /// to its owner fields.
    #[inline(always)]
    unsafe fn owner(&self) -> &mut OwnerFields {
        // SAFETY: the caller is the unique owner, so no other reference to
        // the owner fields exists.
        unsafe { &mut *self.owner.get() }
    }

    /// Objects allocated in the span.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn alloc_count(&self) -> usize {
        // Every object below freeindex is allocated (module docs); above
        // it, the alloc bits say. Counting here keeps the fast path free of
        // a counter update.
        let nelems = self.nelems();
        let fi = self.freeindex.load(Relaxed);
        let words = self.alloc_bits.as_raw_slice();
        let mut n = fi;
        let mut k = fi / 64;
        while k * 64 < nelems {
            let mut w = words[k].load(Relaxed);
            if k * 64 < fi {
                w &= !0u64 << (fi % 64);
            }
            if nelems - k * 64 < 64 {
                w &= (1u64 << (nelems - k * 64)) - 1;
            }
            n += w.count_ones() as usize;
            k += 1;
        }
        n
    }

    /// Whether free slots may hold old data.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn needzero(&self) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.owner().needzero }
    }

    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn set_pool_next(&self, next: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { self.owner().next_free = next }
    }

    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn pool_next(&self) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe { self.owner().next_free }
    }

    /// Initialises a dead span for `npages` pages at `base`, as class
    /// `spanclass` (size class 0: one large object of `large_size` bytes).
    /// All objects start free.
    ///
    /// # Safety
    /// The caller owns the span, which is Dead.
    pub(crate) unsafe fn init(
        &self,
        base: usize,
        npages: usize,
        spanclass: SpanClass,
        large_size: usize,
        needzero: bool,
        sweepgen: u32,
    ) {
        let sc = spanclass.sizeclass() as usize;
        let (elemsize, nelems, div_mul) = if sc == 0 {
            (large_size, 1, 0)
        } else {
            let c = CLASSES[sc];
            (c.size, c.nobjs, c.div_mul)
        };
        self.base.store(base, Relaxed);
        self.npages.store(npages, Relaxed);
        self.elemsize.store(elemsize, Relaxed);
        self.nelems.store(nelems, Relaxed);
        self.div_mul.store(div_mul, Relaxed);
        self.spanclass.store(spanclass.0, Relaxed);
        self.freeindex.store(0, Relaxed);
        self.sweepgen.store(sweepgen, Relaxed);
        for w in self.alloc_bits.as_raw_slice() {
            w.store(0, Relaxed);
        }
        self.ptr_layout.store(0, Relaxed);
        // SAFETY: forwarded from the caller.
        let o = unsafe { self.owner() };
        o.alloc_cache = !0;
        o.alloc_count_at_cache = 0;
        o.needzero = needzero;
        o.poisoned = false;
        o.black_from = usize::MAX;
        self.state.store(SpanState::InUse as u8, Ordering::Release);
    }

    /// Marks the span dead (its pages are going back to the page heap).
    ///
    /// # Safety
    /// The caller owns the span and no object in it is live.
    pub(crate) unsafe fn kill(&self) {
        self.state.store(SpanState::Dead as u8, Ordering::Release);
    }

    /// Takes the next free object's index by the alloc cache alone, or
    /// `None` when the cache is exhausted (Go's `nextFreeFast`).
    ///
    /// # Safety
    /// The caller owns the span.
    #[inline(always)]
    pub(crate) unsafe fn next_free_fast(&self) -> Option<usize> {
        // Read through a raw pointer, not a reference: EMPTY_SPAN is shared
        // by every cache and must never be borrowed mutably.
        let o = self.owner.get();
        // SAFETY: the caller owns the span (or it is EMPTY_SPAN, which is
        // only ever read), so no write races with this read.
        let bit = unsafe { (*o).alloc_cache }.trailing_zeros() as usize;
        if bit < 64 {
            let freeindex = self.freeindex.load(Relaxed);
            let result = freeindex + bit;
            let nelems = self.nelems.load(Relaxed);
            if result < nelems {
                let next = result + 1;
                if next.is_multiple_of(64) && next != nelems {
                    return None;
                }
                // SAFETY: a real span (nelems > 0), owned by the caller.
                unsafe {
                    // Two shifts: `bit + 1` is 64 when the last object of a
                    // word is taken, and one shift by 64 overflows.
                    (*o).alloc_cache = (*o).alloc_cache >> bit >> 1;
                }
                self.freeindex.store(next, Relaxed);
                return Some(result);
            }
        }
        None
    }

    /// Loads the alloc cache with the complement of the alloc bits from
    /// object `from` (a multiple of 64).
    ///
    /// # Safety
    /// The caller owns the span.
    unsafe fn refill_alloc_cache(&self, from: usize) {
        let w = self.alloc_bits.as_raw_slice()[from / 64].load(Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { self.owner().alloc_cache = !w };
    }

    /// Takes the next free object's index, refilling the alloc cache from
    /// the alloc bits as needed; `None` when the span is full (Go's
    /// `nextFreeIndex`).
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn next_free(&self) -> Option<usize> {
        // SAFETY: forwarded from the caller.
        unsafe {
            if let Some(i) = self.next_free_fast() {
                return Some(i);
            }
            let nelems = self.nelems();
            let mut freeindex = self.freeindex.load(Relaxed);
            if freeindex >= nelems {
                return None;
            }
            let o = self.owner();
            let mut bit = o.alloc_cache.trailing_zeros() as usize;
            while bit == 64 {
                freeindex = (freeindex + 64) & !63;
                if freeindex >= nelems {
                    self.freeindex.store(nelems, Relaxed);
                    return None;
                }
                self.refill_alloc_cache(freeindex);
                bit = self.owner().alloc_cache.trailing_zeros() as usize;
            }
            let result = freeindex + bit;
            if result >= nelems {
                self.freeindex.store(nelems, Relaxed);
                return None;
            }
            let o = self.owner();
            o.alloc_cache = if bit == 63 { 0 } else { o.alloc_cache >> (bit + 1) };
            let next = result + 1;
            if next.is_multiple_of(64) && next != nelems {
                self.refill_alloc_cache(next);
            }
            self.freeindex.store(next, Relaxed);
            Some(result)
        }
    }

    /// Makes the span ready for a new owner cache: zeroes its free slots if
    /// they may hold old data (so the allocation fast path never zeroes),
    /// positions the alloc cache at `freeindex`, and records the count for
    /// stats. In clobber mode (`clobber` is the poison byte) free slots of a
    /// swept span are first checked to still hold the poison: anything else
    /// is a write after free, reported with a panic naming the object.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn prepare_for_cache(&self, clobber: Option<u8>) {
        let freeindex = self.freeindex.load(Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe {
            let count = self.alloc_count();
            let o = self.owner();
            if o.needzero {
                let check = if o.poisoned { clobber } else { None };
                self.zero_free_slots(freeindex, check);
                o.needzero = false;
                o.poisoned = false;
            }
            self.refill_alloc_cache(freeindex & !63);
            let o = self.owner();
            o.alloc_cache >>= freeindex % 64;
            o.alloc_count_at_cache = count;
        }
    }

    /// Zeroes every free slot at or after `from`, in runs of adjacent free
    /// slots, after checking each holds `poison` if given.
    ///
    /// # Safety
    /// The caller owns the span.
    unsafe fn zero_free_slots(&self, from: usize, poison: Option<u8>) {
        let es = self.elemsize();
        self.for_each_free_run(from, |i, end| {
            let (a, len) = (self.object_addr(i), (end - i) * es);
            if let Some(p) = poison {
                check_poison(a, len, es, p);
            }
            // SAFETY: slots i..end are free slots of this span, which the
            // caller owns, inside its mapped pages.
            unsafe { std::ptr::write_bytes(a as *mut u8, 0, len) };
        });
    }

    /// Calls `f(first, end)` for each run of adjacent free slots at or
    /// after `from`, by words of the alloc bits.
    fn for_each_free_run(&self, from: usize, mut f: impl FnMut(usize, usize)) {
        let nelems = self.nelems();
        let words = self.alloc_bits.as_raw_slice();
        // The first index at or after `i` whose alloc bit is `set`, or nelems.
        let next = |mut i: usize, set: bool| -> usize {
            while i < nelems {
                let w = words[i / 64].load(Relaxed);
                let w = if set { w } else { !w } >> (i % 64);
                if w != 0 {
                    return (i + w.trailing_zeros() as usize).min(nelems);
                }
                i = (i / 64 + 1) * 64;
            }
            nelems
        };
        let mut i = next(from, false);
        while i < nelems {
            let end = next(i, true);
            f(i, end);
            i = next(end, false);
        }
    }

    /// Writes the pointer mask `mask` (bit j: word j of a slot) into the GC
    /// bitmap for every free slot, so that allocating objects of that mask
    /// later needs no bitmap write. Slots must be at most 64 words.
    ///
    /// # Safety
    /// The caller owns the span, which keeps no pointer layout.
    pub(crate) unsafe fn prefill_ptr_bits(&self, bitmap: &GcBitmap, mask: u64) {
        debug_assert_eq!(self.ptr_layout.load(Relaxed), 0);
        let from = self.freeindex.load(Relaxed);
        self.for_each_free_run(from, |i, end| self.write_mask_run(bitmap, mask, i, end));
    }

    /// Writes `mask` as the pointer bits of slots `i..end` (at most 64 words each).
    fn write_mask_run(&self, bitmap: &GcBitmap, mask: u64, i: usize, end: usize) {
        let e = self.elemsize() / 8;
        debug_assert!((1..=64).contains(&e));
        // The mask repeated from bit 0 over 128 bits: any 64-bit window of
        // the repetition starts at a phase below e <= 64 and fits. A run
        // starts on a slot boundary: word j of the run is word j % e of
        // some slot, so chunk k is the window at phase 64k % e.
        let mut rep = 0u128;
        let mut b = 0;
        while b < 128 {
            rep |= (mask as u128) << b;
            b += e;
        }
        bitmap.write_ptr_bits(self.object_addr(i), (end - i) * e, |k| (rep >> ((64 * k) % e)) as u64);
    }

    /// The span-level pointer layout (see the field), 0 if none.
    #[inline(always)]
    pub fn ptr_layout(&self) -> u64 {
        ptrlayout::load(&self.ptr_layout)
    }

    /// Whether the span can take a layout: small scan objects of at most
    /// [`MAX_LAYOUT_WORDS`] words, and no object allocated but the one
    /// the caller has just taken (which is to have the layout).
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn can_take_layout(&self) -> bool {
        let sc = self.spanclass();
        // SAFETY: forwarded from the caller.
        sc.sizeclass() != 0
            && !sc.noscan()
            && self.elemsize() / 8 <= MAX_LAYOUT_WORDS
            && unsafe { self.alloc_count() } == 1
    }

    /// Makes `mask` (nonzero, within the slot) the layout of the span's one
    /// object and every object allocated from now on; the GC bitmap is not
    /// written.
    ///
    /// # Safety
    /// The caller owns the span and [`MSpan::can_take_layout`] holds.
    pub(crate) unsafe fn set_ptr_layout(&self, mask: u64) {
        debug_assert!(mask >> (self.elemsize() / 8) == 0, "the mask fits the slot");
        ptrlayout::adopt(&self.ptr_layout, mask);
    }

    /// Drops the span-level layout, if any, first writing it into the GC
    /// bitmap for every slot (allocated ones have it; free ones will be
    /// written when allocated, or keep it as their prefill). Returns the
    /// layout that was dropped (0 if none).
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn drop_ptr_layout(&self, bitmap: &GcBitmap) -> u64 {
        ptrlayout::drop_with(&self.ptr_layout, |mask| {
            self.write_mask_run(bitmap, mask, 0, self.nelems())
        })
    }

    /// Objects allocated since the current owner took the span (or since the
    /// last call); resets the base.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn take_new_allocs(&self) -> usize {
        // SAFETY: forwarded from the caller.
        unsafe {
            let count = self.alloc_count();
            let o = self.owner();
            let n = count - o.alloc_count_at_cache;
            o.alloc_count_at_cache = count;
            n
        }
    }

    /// Starts allocating black: every object the owner hands out from now
    /// until [`MSpan::mark_black_allocs`] is marked then.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn start_black_allocs(&self) {
        let fi = self.freeindex.load(Relaxed);
        // SAFETY: forwarded from the caller.
        unsafe { self.owner().black_from = fi };
    }

    /// Marks, in `bitmap`, every object handed out since
    /// [`MSpan::start_black_allocs`] (the free slots between the `freeindex`
    /// then and now: alloc bits do not change while a cache owns a span), and
    /// stops allocating black. Returns the objects newly marked and their bytes.
    ///
    /// Allocating black per span rather than per object keeps the allocation
    /// fast path free of any test of the collector's phase.
    ///
    /// # Safety
    /// The caller owns the span.
    pub(crate) unsafe fn mark_black_allocs(&self, bitmap: &GcBitmap) -> (u64, u64) {
        // SAFETY: forwarded from the caller.
        let o = unsafe { self.owner() };
        let from = std::mem::replace(&mut o.black_from, usize::MAX);
        let to = self.freeindex.load(Relaxed).min(self.nelems());
        let mut n = 0;
        let words = self.alloc_bits.as_raw_slice();
        let mut i = from;
        while i < to {
            let free = !words[i / 64].load(Relaxed) >> (i % 64);
            let span = (64 - i % 64).min(to - i);
            let mut bits = if span == 64 { free } else { free & ((1u64 << span) - 1) };
            while bits != 0 {
                let k = i + bits.trailing_zeros() as usize;
                if bitmap.try_mark(self.object_addr(k)) {
                    n += 1;
                }
                bits &= bits - 1;
            }
            i += span;
        }
        (n, n * self.elemsize() as u64)
    }

    /// Marks object `i` allocated directly (large spans, tests).
    ///
    /// # Safety
    /// The caller owns the span and object `i` is free.
    pub(crate) unsafe fn mark_allocated(&self, i: usize) {
        self.alloc_bits.as_bitslice().set_aliased(i, true);
    }

    /// The sweep primitive: objects whose bit is set in `live` survive, every
    /// other object becomes free. Returns the number of objects freed. The
    /// alloc bits become `live`, `freeindex` restarts at 0, and the span
    /// needs zeroing from now on if anything was freed. If `clobber` is
    /// given, freed objects are filled with that byte.
    ///
    /// # Safety
    /// The caller owns the span (no cache holds it), and every object not in
    /// `live` is unreachable.
    pub(crate) unsafe fn sweep(&self, live: &LiveBits, clobber: Option<u8>) -> usize {
        let nelems = self.nelems();
        // SAFETY: forwarded from the caller.
        let old_count = unsafe { self.alloc_count() };
        // SAFETY: forwarded from the caller.
        let o = unsafe { self.owner() };
        let mut new_count = 0;
        let raw = live.as_raw_slice();
        for (k, w) in self.alloc_bits.as_raw_slice().iter().enumerate() {
            let mut bits = raw.get(k).copied().unwrap_or(0);
            let lo = k * 64;
            if lo >= nelems {
                bits = 0;
            } else if nelems - lo < 64 {
                bits &= (1u64 << (nelems - lo)) - 1;
            }
            if let Some(byte) = clobber {
                // Fill every free slot, newly dead or never used, so that
                // allocation can check the poison is intact.
                for i in lo..(lo + 64).min(nelems) {
                    if bits >> (i - lo) & 1 == 0 {
                        let a = self.object_addr(i);
                        // SAFETY: slot i lies inside this in-use span's
                        // pages and holds no reachable object (caller).
                        unsafe { std::ptr::write_bytes(a as *mut u8, byte, self.elemsize()) };
                    }
                }
            }
            new_count += bits.count_ones() as usize;
            w.store(bits, Relaxed);
        }
        self.freeindex.store(0, Relaxed);
        o.alloc_count_at_cache = new_count;
        o.alloc_cache = !self.alloc_bits.as_raw_slice()[0].load(Relaxed);
        let freed = old_count.saturating_sub(new_count);
        if freed > 0 {
            o.needzero = true;
        }
        if clobber.is_some() {
            o.needzero = true;
            o.poisoned = true;
        }
        freed
    }

    /// Gathers this span's mark bits (clearing them) into a live set for
    /// [`MSpan::sweep`]; returns the set and the number marked.
    pub(crate) fn take_marks(&self, bitmap: &GcBitmap) -> (LiveBits, usize) {
        let mut live = LiveBits::ZERO;
        let n = bitmap.take_marks(
            self.base(),
            self.elemsize(),
            self.div_mul.load(Relaxed),
            self.nelems(),
            live.as_raw_mut_slice(),
        );
        (live, n)
    }
}

/// Clobber mode: free memory about to be handed out must still hold the
/// poison; anything else means a write after free. `len` bytes from `addr`
/// are slots of `elemsize` bytes.
#[cold]
#[inline(never)]
fn check_poison(addr: usize, len: usize, elemsize: usize, poison: u8) {
    // SAFETY: the caller passes free slots of a span it owns, in mapped pages.
    let bytes = unsafe { std::slice::from_raw_parts(addr as *const u8, len) };
    if let Some(i) = bytes.iter().position(|&b| b != poison) {
        let obj = addr + i / elemsize * elemsize;
        panic!(
            "marrow: clobber check failed: free object at {obj:#x} ({elemsize} bytes) was written after it was freed: byte {} is {:#04x}, not {poison:#04x}",
            i % elemsize,
            bytes[i]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sizeclass::{size_to_class, PAGE_SIZE};

    fn span_of_class(size: usize) -> (MSpan, Vec<u8>) {
        let sc = size_to_class(size);
        let c = CLASSES[sc as usize];
        let mem = vec![0u8; c.npages * PAGE_SIZE];
        let s = MSpan::new_dead();
        // SAFETY: the test owns the span.
        unsafe {
            s.init(mem.as_ptr() as usize, c.npages, SpanClass::new(sc, true), 0, false, 0);
            s.prepare_for_cache(None);
        }
        (s, mem)
    }

    #[test]
    fn hands_out_every_object_once_in_order() {
        for size in [8, 16, 48, 1024, 32768] {
            let (s, _m) = span_of_class(size);
            let mut got = vec![];
            // SAFETY: the test owns the span.
            while let Some(i) = unsafe { s.next_free() } {
                got.push(i);
            }
            assert_eq!(got, (0..s.nelems()).collect::<Vec<_>>(), "size {size}");
            // SAFETY: the test owns the span.
            assert_eq!(unsafe { s.alloc_count() }, s.nelems());
            assert!((0..s.nelems()).all(|i| s.is_allocated(i)));
        }
    }

    #[test]
    fn sweep_frees_the_dead_and_reuses_them() {
        let (s, _m) = span_of_class(16);
        let n = s.nelems();
        // SAFETY: the test owns the span.
        unsafe {
            while s.next_free().is_some() {}
            let mut live = LiveBits::ZERO;
            for i in (0..n).filter(|i| i % 3 == 0) {
                live.set(i, true);
            }
            let freed = s.sweep(&live, Some(0xAB));
            assert_eq!(freed, n - n.div_ceil(3));
            assert!(s.needzero());
            assert_eq!(*(s.object_addr(1) as *const u8), 0xAB);
            s.prepare_for_cache(None);
            let mut got = vec![];
            while let Some(i) = s.next_free() {
                got.push(i);
            }
            assert_eq!(got, (0..n).filter(|i| i % 3 != 0).collect::<Vec<_>>());
            assert_eq!(s.alloc_count(), n);
        }
    }

    #[test]
    fn object_index_is_exact() {
        let (s, _m) = span_of_class(48);
        for i in 0..s.nelems() {
            for d in [0, 1, 47] {
                assert_eq!(s.object_index(s.object_addr(i) + d), i);
            }
        }
    }

    #[test]
    fn empty_span_never_allocates() {
        // SAFETY: EMPTY_SPAN is never written: its alloc cache is zero, so
        // next_free_fast returns before touching anything.
        assert_eq!(unsafe { EMPTY_SPAN.next_free_fast() }, None);
    }
}
