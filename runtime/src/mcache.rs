//! The per-mutator cache (Go's `mcache`), the allocation entry points
//! `mallocgc`, `newobject` and `newarray`, and the heap's side of a refill
//! (`Heap::cache_span`, `uncache_span`, `alloc_large`: Go's
//! `mcentral.cacheSpan`/`uncacheSpan` and `mcache.allocLarge`), which takes
//! spans from the central lists, sweeping (sweep.rs) or the page heap.
//!
//! A cache holds one current span per span class and the tiny block. The
//! fast path (a free object in the current span's alloc cache) takes no lock
//! and no atomic read-modify-write: a count-trailing-zeros, a few plain
//! loads and stores, zeroing when the span was used before, and for scan
//! objects the pointer bits. Everything else (a new span, a large object)
//! goes to the central lists or the page heap, and publishes the cache's
//! counts.
//!
//! The collector hook: the slow paths add to the heap's heapLive and, when
//! it crosses the trigger the collector set, raise a poll bit, which the
//! embedding mutator tests before its next allocation (`poll`,
//! `take_gc_request`). Calling back into the collector from inside the
//! allocator would need the cache re-entrantly while it is borrowed; a
//! polled flag costs one branch. gchooks.rs tells the whole hook.

use crate::heap::{AllocError, Heap};
use crate::sizeclass::{size_to_class, SpanClass, CLASSES, MAX_SMALL_SIZE, NUM_SPAN_CLASSES, PAGE_SHIFT, PAGE_SIZE};
use crate::span::{MSpan, EMPTY_SPAN};
use crate::types::{AllocFlags, Type};
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// No-scan objects smaller than this go through the tiny allocator.
pub const TINY_SIZE: usize = 16;
const TINY_SPAN_CLASS: SpanClass = SpanClass::new(2, true); // class 2 = 16 bytes

/// Objects of `size` bytes with first mask word `mask` (size 0: none) need
/// no pointer-bit write in a cached span: the span keeps that layout, or
/// its free slots were prefilled with those bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefill {
    mask: u64,
    size: usize,
}

impl Prefill {
    const NONE: Prefill = Prefill { mask: 0, size: 0 };
}

/// A mutator's allocation cache. Not `Sync`: one thread allocates through it.
///
/// Invariants: every entry of `alloc` is `EMPTY_SPAN` or a span this cache
/// owns, of that span class, swept for the current cycle; `tiny` is 0 or the
/// address of a 16-byte block in a tiny-class span, of which the first
/// `tiny_offset` bytes are handed out; when `prefill[c].size != 0`, either
/// `alloc[c]` keeps the span-level layout `prefill[c].mask`, or every slot of
/// it that is still free has exactly the pointer bits of a
/// `prefill[c].size`-byte object with mask `prefill[c].mask` in the GC bitmap.
pub struct MCache {
    heap: Arc<Heap>,
    alloc: [&'static MSpan; NUM_SPAN_CLASSES],
    /// Per span class, the objects that need no pointer-bit write in the
    /// current span (its layout, or the bits prefilled into its free slots).
    prefill: [Prefill; NUM_SPAN_CLASSES],
    tiny: usize,
    tiny_offset: usize,
    tiny_allocs: u64,
    /// [`POLL_TRIGGER`] and [`POLL_ASSIST`] bits raised by slow paths for
    /// the mutator to act on.
    poll: u8,
    /// Bytes added to heapLive while allocating black (marking), not yet
    /// taken by the mutator's assist accounting.
    charged: u64,
}

/// Poll bit: heapLive crossed the collector's trigger.
pub const POLL_TRIGGER: u8 = 1;
/// Poll bit: bytes were charged while marking; the mutator owes an assist.
pub const POLL_ASSIST: u8 = 2;
/// Poll bit the cache never clears: the mutator wants every allocation to
/// take its poll path (stress mode).
pub const POLL_ALWAYS: u8 = 4;

impl std::fmt::Debug for MCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MCache")
            .field("tiny", &format_args!("{:#x}", self.tiny))
            .field("tiny_offset", &self.tiny_offset)
            .finish_non_exhaustive()
    }
}

impl Heap {
    /// A new allocation cache for one mutator thread.
    pub fn new_cache(self: &Arc<Heap>) -> MCache {
        MCache {
            heap: self.clone(),
            alloc: [&EMPTY_SPAN; NUM_SPAN_CLASSES],
            prefill: [Prefill::NONE; NUM_SPAN_CLASSES],
            tiny: 0,
            tiny_offset: 0,
            tiny_allocs: 0,
            poll: 0,
            charged: 0,
        }
    }

    // The caches' refill side (Go's `mcentral.cacheSpan`/`uncacheSpan` and
    // `mcache.allocLarge`): where a cache gets spans and gives them back.

    /// Gets a span with free objects for a cache: a swept partial span, else
    /// one swept now (lazily), else fresh pages.
    pub(crate) fn cache_span(&self, spc: SpanClass) -> Result<&'static MSpan, AllocError> {
        self.activity.fetch_add(1, Ordering::Relaxed);
        self.sweep_proportional();
        let c = self.central(spc);
        let sg = self.sweepgen();
        let s = match c.pop_partial_swept(sg) {
            Some(s) => s,
            None => match self.sweep_for_cache(spc, sg) {
                Some(s) => s,
                None => {
                    let sc = CLASSES[spc.sizeclass() as usize];
                    let mut h = self.lock_mheap();
                    let mapped = h.mapped_pages() << PAGE_SHIFT;
                    h.alloc_span(sc.npages, spc, 0, sg)
                        .map_err(|e| AllocError::from_grow(e, sc.size, mapped))?
                }
            },
        };
        s.sweepgen.store(sg + 3, Ordering::Release);
        // SAFETY: the span came off a central list or out of the page heap,
        // so this thread owns it now.
        unsafe {
            s.prepare_for_cache(self.config.clobber_free);
            if self.alloc_black() {
                s.start_black_allocs();
            }
        }
        Ok(s)
    }

    /// Returns a cached span to its central list.
    ///
    /// # Safety
    /// The calling cache owns `s` and drops every reference to it.
    pub(crate) unsafe fn uncache_span(&self, s: &'static MSpan) {
        let sg = self.sweepgen();
        // SAFETY: forwarded from the caller.
        let (n, count) = unsafe { (s.take_new_allocs(), s.alloc_count()) };
        // SAFETY: forwarded from the caller.
        let (objects, bytes) = unsafe { s.mark_black_allocs(&self.bitmap) };
        if objects != 0 {
            self.count_black(objects, bytes);
        }
        let es = s.elemsize() as u64;
        self.counters.add_allocs(n as u64, n as u64 * es);
        let unused = (s.nelems() - count) as u64 * es;
        self.sub_heap_live(unused);
        s.sweepgen.store(sg, Ordering::Release);
        self.central(s.spanclass()).push_swept(sg, s, count < s.nelems());
    }

    /// Allocates a large object's span of `npages` pages; returns the span
    /// (already on its central list) and whether it needs zeroing.
    pub(crate) fn alloc_large(&self, npages: usize, noscan: bool, size: usize) -> Result<(&MSpan, bool), AllocError> {
        let spc = SpanClass::new(0, noscan);
        self.activity.fetch_add(1, Ordering::Relaxed);
        self.sweep_proportional();
        let sg = self.sweepgen();
        let s = {
            let mut h = self.lock_mheap();
            let mapped = h.mapped_pages() << PAGE_SHIFT;
            h.alloc_span(npages, spc, npages << PAGE_SHIFT, sg)
                .map_err(|e| AllocError::from_grow(e, size, mapped))?
        };
        // SAFETY: fresh from the page heap; we own it until it is pushed.
        let needzero = unsafe {
            s.mark_allocated(0);
            let _ = s.take_new_allocs();
            s.needzero()
        };
        let bytes = (npages << PAGE_SHIFT) as u64;
        if self.alloc_black() && self.bitmap.try_mark(s.base()) {
            self.count_black(1, bytes);
        }
        self.counters.add_allocs(1, bytes);
        self.central(spc).push_swept(sg, s, false);
        Ok((s, needzero))
    }
}

#[cold]
#[inline(never)]
fn alloc_failed(e: AllocError) -> ! {
    panic!("marrow: fatal error: {e}")
}

impl MCache {
    /// The heap this cache allocates from.
    pub fn heap(&self) -> &Arc<Heap> {
        &self.heap
    }

    /// Whether an allocation slow path found the heap past the collector's
    /// trigger since the last call. Clears the flag.
    #[inline(always)]
    pub fn take_gc_request(&mut self) -> bool {
        // Test first: the common answer costs a load, not a store.
        if self.poll & POLL_TRIGGER != 0 {
            self.poll &= !POLL_TRIGGER;
            return true;
        }
        false
    }

    /// The poll bits ([`POLL_TRIGGER`], [`POLL_ASSIST`]) raised by slow
    /// paths; zero on the common path. One byte load, for the mutator's
    /// allocation fast path.
    #[inline(always)]
    pub fn poll(&self) -> u8 {
        self.poll
    }

    /// Makes every allocation's poll see a bit set ([`POLL_ALWAYS`]), or not.
    pub fn set_poll_always(&mut self, on: bool) {
        if on {
            self.poll |= POLL_ALWAYS;
        } else {
            self.poll &= !POLL_ALWAYS;
        }
    }

    /// The bytes charged to heapLive while allocating black since the last
    /// call (what the mutator owes assist work for); clears [`POLL_ASSIST`].
    pub fn take_charge(&mut self) -> u64 {
        self.poll &= !POLL_ASSIST;
        std::mem::take(&mut self.charged)
    }

    /// Adds `bytes` to heapLive, raising the poll bits that follow.
    fn charge(&mut self, bytes: u64) {
        if self.heap.add_heap_live(bytes) {
            self.poll |= POLL_TRIGGER;
        }
        if self.heap.alloc_black() {
            self.charged += bytes;
            self.poll |= POLL_ASSIST;
        }
    }

    /// The current tiny block, which the collector must keep alive (it is
    /// reachable through the cache, not through any object).
    pub fn tiny_block(&self) -> Option<usize> {
        (self.tiny != 0).then_some(self.tiny)
    }

    /// Allocates `size` bytes of type `typ` (`None`: untyped, no pointers),
    /// or an array when `size` is a multiple of the type's size. See
    /// [`AllocFlags`]. Memory is zeroed (free slots are zeroed when a span
    /// is handed to the cache, so `NOZERO` only saves work on large no-scan
    /// objects); alignment is at least 8 (or the size class's natural
    /// alignment, or the type's).
    ///
    /// The fast path is inlined into the caller: a small object whose
    /// current span has a free slot in its alloc cache costs a table
    /// lookup, a count-trailing-zeros and, for scan objects, one bitmap
    /// word. Everything else goes through `mallocgc_slow`.
    #[inline(always)]
    pub fn try_mallocgc(
        &mut self,
        size: usize,
        typ: Option<&Type>,
        flags: AllocFlags,
    ) -> Result<NonNull<u8>, AllocError> {
        let noscan = flags.contains(AllocFlags::NOSCAN) || typ.is_none_or(|t| !t.has_pointers());
        // One unsigned compare covers size == 0 and size > MAX_SMALL_SIZE.
        let small = size.wrapping_sub(1) < MAX_SMALL_SIZE;
        if small && !(noscan && size < TINY_SIZE) && typ.is_none_or(|t| t.align() <= 8) {
            let spc = SpanClass::new(size_to_class(size), noscan);
            // SAFETY: span class indexes are below NUM_SPAN_CLASSES (size
            // classes are below NUM_SIZE_CLASSES).
            let span = unsafe { *self.alloc.get_unchecked(spc.index()) };
            // SAFETY: the cache owns its current spans (type invariant).
            if let Some(idx) = unsafe { span.next_free_fast() } {
                let elemsize = span.elemsize();
                let addr = span.base() + idx * elemsize;
                if let (false, Some(t)) = (noscan, typ) {
                    // SAFETY: as above, the index is in bounds.
                    let pf = unsafe { self.prefill.get_unchecked(spc.index()) };
                    if !(pf.size == size && size == t.size() && pf.mask == t.mask0()) {
                        self.write_heap_bits(span, addr, elemsize, size, t);
                    }
                }
                // SAFETY: span bases are non-zero arena addresses.
                return Ok(unsafe { NonNull::new_unchecked(addr as *mut u8) });
            }
        }
        self.mallocgc_slow(size, typ, flags, noscan)
    }

    /// Everything but the fast path: errors, alignment, tiny and large
    /// objects, and refilling the current span.
    #[inline(never)]
    fn mallocgc_slow(
        &mut self,
        size: usize,
        typ: Option<&Type>,
        flags: AllocFlags,
        noscan: bool,
    ) -> Result<NonNull<u8>, AllocError> {
        if size == 0 {
            return Err(AllocError::ZeroSize);
        }
        // Pointer bits cover the bytes asked for, not the padding that an
        // over-aligned type adds.
        let asked = size;
        let size = match typ {
            Some(t) if t.align() > 8 => aligned_size(size, t.align())?,
            _ => size,
        };
        if size > MAX_SMALL_SIZE {
            return self.alloc_large(size, asked, typ, noscan, flags);
        }
        if noscan && size < TINY_SIZE {
            // The tiny allocator aligns by size; a type may ask for more.
            let size = typ.map_or(size, |t| size.next_multiple_of(t.align()));
            return self.alloc_tiny(size);
        }
        let spc = SpanClass::new(size_to_class(size), noscan);
        let mut span = self.alloc[spc.index()];
        // SAFETY: the cache owns its current spans (type invariant).
        let idx = match unsafe { span.next_free_fast() } {
            Some(i) => i,
            None => {
                let i = self.next_free(spc)?;
                span = self.alloc[spc.index()];
                if let (false, Some(t)) = (noscan, typ) {
                    self.prefill_span(spc, span, t, asked);
                }
                i
            }
        };
        let elemsize = span.elemsize();
        let addr = span.base() + idx * elemsize;
        if !noscan {
            let t = typ.expect("scan objects have a type");
            self.write_heap_bits(span, addr, elemsize, asked, t);
        }
        // SAFETY: span bases are non-zero arena addresses.
        Ok(unsafe { NonNull::new_unchecked(addr as *mut u8) })
    }

    /// [`MCache::try_mallocgc`], failing with a fatal error message on a refusal.
    #[inline]
    pub fn mallocgc(&mut self, size: usize, typ: Option<&Type>, flags: AllocFlags) -> NonNull<u8> {
        match self.try_mallocgc(size, typ, flags) {
            Ok(p) => p,
            Err(e) => alloc_failed(e),
        }
    }

    /// Allocates one zeroed object of type `t`.
    #[inline]
    pub fn try_newobject(&mut self, t: &Type) -> Result<NonNull<u8>, AllocError> {
        self.try_mallocgc(t.size(), Some(t), AllocFlags::NONE)
    }

    /// [`MCache::try_newobject`], failing with a fatal error message on a refusal.
    #[inline]
    pub fn newobject(&mut self, t: &Type) -> NonNull<u8> {
        match self.try_newobject(t) {
            Ok(p) => p,
            Err(e) => alloc_failed(e),
        }
    }

    /// Allocates a zeroed array of `n` elements of type `t` (overflow checked).
    pub fn try_newarray(&mut self, t: &Type, n: usize) -> Result<NonNull<u8>, AllocError> {
        let size = t.size().checked_mul(n).ok_or(AllocError::Overflow {
            count: n,
            elem_size: t.size(),
        })?;
        self.try_mallocgc(size, Some(t), AllocFlags::NONE)
    }

    /// [`MCache::try_newarray`], failing with a fatal error message on a refusal.
    pub fn newarray(&mut self, t: &Type, n: usize) -> NonNull<u8> {
        match self.try_newarray(t, n) {
            Ok(p) => p,
            Err(e) => alloc_failed(e),
        }
    }

    /// Records the pointer words of a new scan object of `span` (owned) in
    /// the GC bitmap; nothing if the span keeps a layout the object has,
    /// and the span's layout written out first if it keeps another.
    /// `elemsize` is the slot (for a large object, its pages).
    #[inline(always)]
    fn write_heap_bits(&self, span: &MSpan, addr: usize, elemsize: usize, size: usize, t: &Type) {
        let bm = self.heap.bitmap();
        let layout = span.ptr_layout();
        if layout != 0 {
            if size == t.size() && layout == t.mask0() {
                return;
            }
            // SAFETY: the cache owns its current spans.
            unsafe { span.drop_ptr_layout(bm) };
        }
        if size == t.size() && elemsize <= 64 * 8 {
            let m = t.ptrmask()[0];
            bm.write_ptr_bits(addr, elemsize / 8, |_| m);
        } else {
            let n = if t.size() == 0 { 1 } else { (size / t.size()).max(1) };
            bm.write_ptr_bits(addr, elemsize / 8, |k| t.mask_chunk(k, n));
        }
    }

    /// The tiny allocator (Go's): packs no-scan objects under 16 bytes into
    /// 16-byte blocks, aligned to their size's natural alignment.
    #[inline]
    fn alloc_tiny(&mut self, size: usize) -> Result<NonNull<u8>, AllocError> {
        let mut off = self.tiny_offset;
        if size & 7 == 0 {
            off = (off + 7) & !7;
        } else if size & 3 == 0 {
            off = (off + 3) & !3;
        } else if size & 1 == 0 {
            off = (off + 1) & !1;
        }
        if off + size <= TINY_SIZE && self.tiny != 0 {
            let x = self.tiny + off;
            self.tiny_offset = off + size;
            self.tiny_allocs += 1;
            // SAFETY: inside a live tiny block in the arena, non-zero.
            return Ok(unsafe { NonNull::new_unchecked(x as *mut u8) });
        }
        let mut span = self.alloc[TINY_SPAN_CLASS.index()];
        // SAFETY: the cache owns its current spans.
        let idx = match unsafe { span.next_free_fast() } {
            Some(i) => i,
            None => {
                let i = self.next_free(TINY_SPAN_CLASS)?;
                span = self.alloc[TINY_SPAN_CLASS.index()];
                i
            }
        };
        let x = span.base() + idx * TINY_SIZE;
        // SAFETY: a fresh 16-byte object of an owned span.
        unsafe { std::ptr::write_bytes(x as *mut u8, 0, TINY_SIZE) };
        // Keep whichever block has more room left.
        if size < self.tiny_offset || self.tiny == 0 {
            self.tiny = x;
            self.tiny_offset = size;
        }
        // SAFETY: arena addresses are non-zero.
        Ok(unsafe { NonNull::new_unchecked(x as *mut u8) })
    }

    /// Slow path: the current span's alloc cache is empty. Refill it from
    /// the span's alloc bits, or replace the span.
    #[cold]
    #[inline(never)]
    fn next_free(&mut self, spc: SpanClass) -> Result<usize, AllocError> {
        let span = self.alloc[spc.index()];
        // SAFETY: the cache owns its current spans.
        if let Some(i) = unsafe { span.next_free() } {
            return Ok(i);
        }
        self.refill(spc)?;
        let span = self.alloc[spc.index()];
        // SAFETY: refill installed an owned span with a free object.
        Ok(unsafe { span.next_free() }.expect("refilled span has a free object"))
    }

    /// After a span change, guesses that the span will hold objects of the
    /// type that asked for it (VMs fill spans with one type: pairs, nodes).
    /// Called just after the first such object took its slot. A span that
    /// holds only that object takes the type's mask as its span-level
    /// layout and the GC bitmap is not written at all; a span that keeps
    /// the same layout needs nothing; otherwise the span's layout, if any,
    /// is written out and the type's pointer bits go into every free slot
    /// at once. The fast path then skips the bitmap write for objects of
    /// that type.
    fn prefill_span(&mut self, spc: SpanClass, span: &MSpan, t: &Type, asked: usize) {
        let pf = &mut self.prefill[spc.index()];
        if pf.size != 0 || asked != t.size() || span.elemsize() > 64 * 8 {
            return; // the span did not change, or the guess does not apply
        }
        let bm = self.heap.bitmap();
        // SAFETY: the cache owns its current spans.
        unsafe {
            if span.can_take_layout() {
                span.set_ptr_layout(t.mask0());
            } else if span.ptr_layout() != t.mask0() {
                span.drop_ptr_layout(bm);
                span.prefill_ptr_bits(bm, t.mask0());
            }
        }
        *pf = Prefill {
            mask: t.mask0(),
            size: t.size(),
        };
    }

    /// Returns the current span of `spc` and takes one with free objects.
    fn refill(&mut self, spc: SpanClass) -> Result<(), AllocError> {
        // The new span's free slots carry no prefilled bits yet.
        self.prefill[spc.index()] = Prefill::NONE;
        let old = self.alloc[spc.index()];
        if !std::ptr::eq(old, &EMPTY_SPAN) {
            self.alloc[spc.index()] = &EMPTY_SPAN;
            // SAFETY: we owned `old` and no longer refer to it.
            unsafe { self.heap.uncache_span(old) };
        }
        let s = self.heap.cache_span(spc)?;
        // SAFETY: cache_span hands ownership to us.
        let free = (s.nelems() - unsafe { s.alloc_count() }) as u64;
        self.charge(free * s.elemsize() as u64);
        self.alloc[spc.index()] = s;
        self.publish_tiny();
        Ok(())
    }

    #[cold]
    fn alloc_large(
        &mut self,
        size: usize,
        asked: usize,
        typ: Option<&Type>,
        noscan: bool,
        flags: AllocFlags,
    ) -> Result<NonNull<u8>, AllocError> {
        let arena = self.heap.arena_size();
        if size > arena {
            return Err(AllocError::TooLarge {
                size,
                arena_size: arena,
            });
        }
        let npages = size.div_ceil(PAGE_SIZE);
        let (s, needzero) = self.heap.alloc_large(npages, noscan, size)?;
        let addr = s.base();
        if needzero && !(noscan && flags.contains(AllocFlags::NOZERO)) {
            // SAFETY: the span's pages are ours and mapped; nothing else
            // refers to the new object yet.
            unsafe { std::ptr::write_bytes(addr as *mut u8, 0, size) };
        }
        if !noscan {
            let t = typ.expect("scan objects have a type");
            self.write_heap_bits(s, addr, npages << PAGE_SHIFT, asked, t);
        }
        self.charge((npages << PAGE_SHIFT) as u64);
        // SAFETY: arena addresses are non-zero.
        Ok(unsafe { NonNull::new_unchecked(addr as *mut u8) })
    }

    fn publish_tiny(&mut self) {
        self.heap.counters.add_tiny(std::mem::take(&mut self.tiny_allocs));
    }

    /// Publishes this cache's allocation counts to the heap's stats, so that
    /// [`Heap::mem_stats`] is exact for it.
    pub fn flush_stats(&mut self) {
        for s in self.alloc {
            if !std::ptr::eq(s, &EMPTY_SPAN) {
                // SAFETY: owned span.
                let n = unsafe { s.take_new_allocs() } as u64;
                self.heap.counters.add_allocs(n, n * s.elemsize() as u64);
            }
        }
        self.publish_tiny();
    }

    /// Returns every cached span to the central lists and drops the tiny
    /// block (Go's `releaseAll`). The collector calls this on every cache
    /// before sweeping; the cache refills itself on its next allocation.
    pub fn release_all(&mut self) {
        for i in 0..NUM_SPAN_CLASSES {
            self.prefill[i] = Prefill::NONE;
            let s = std::mem::replace(&mut self.alloc[i], &EMPTY_SPAN);
            if !std::ptr::eq(s, &EMPTY_SPAN) {
                // SAFETY: we owned `s` and no longer refer to it.
                unsafe { self.heap.uncache_span(s) };
            }
        }
        self.tiny = 0;
        self.tiny_offset = 0;
        self.publish_tiny();
    }
}

impl Drop for MCache {
    fn drop(&mut self) {
        self.release_all();
    }
}

/// Size to request so that the object lands on an `align` boundary: size
/// classes give objects the alignment of their size's largest power-of-two
/// factor, and large objects are page aligned.
#[cold]
fn aligned_size(size: usize, align: usize) -> Result<usize, AllocError> {
    let s = size.checked_add(align - 1).ok_or(AllocError::Overflow {
        count: 1,
        elem_size: size,
    })? & !(align - 1);
    if s > MAX_SMALL_SIZE {
        return if align <= PAGE_SIZE {
            Ok(s)
        } else {
            Err(AllocError::Unaligned { align })
        };
    }
    let class_size = CLASSES[size_to_class(s) as usize].size;
    if 1 << class_size.trailing_zeros() >= align {
        Ok(s)
    } else {
        // Powers of two up to 32 KiB are all size classes.
        Ok(s.next_power_of_two())
    }
}
