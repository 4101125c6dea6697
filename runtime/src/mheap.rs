//! The page heap (Go's `mheap`): runs of 8 KiB arena pages, the span pool,
//! the span table, and growth of the mapped part of the reservation.
//!
//! Free pages are kept as maximal runs in two ordered indexes: by start page
//! (for coalescing with both neighbours on free) and by (length, start) (for
//! best fit, lowest address first, in O(log n)). Address-ordered best fit
//! keeps fragmentation low and packs the heap towards low addresses, so high
//! free pages are the ones the scavenger returns.
//!
//! Invariants (checked by `check_invariants` in tests):
//! - free runs never overlap, never touch (touching runs are merged), and lie
//!   inside `[0, mapped_pages)`;
//! - every page below `mapped_pages` is in exactly one free run or one in-use
//!   span, and `inuse_pages + free_pages == mapped_pages`;
//! - the span table entry of every page of an in-use span points to that
//!   span; entries of free pages are null;
//! - the mapped prefixes of the span table and the GC bitmap cover
//!   `mapped_pages` arena pages, never much more.

use crate::bitmap::bitmap_bytes_for;
use crate::mem::{os_page_size, MemError, OsBlock, Purpose, ReleaseMode, Reservation};
use crate::sizeclass::{SpanClass, PAGE_SHIFT, PAGE_SIZE};
use crate::span::MSpan;
use bitvec::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The arena grows by at least this many pages (1 MiB) at a time.
const GROW_MIN_PAGES: usize = 128;
/// Span structures are carved from OS blocks of this size.
const SPAN_POOL_CHUNK: usize = 64 << 10;

/// Where the three regions sit inside the reservation (byte offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Arena size in bytes (a multiple of the page size).
    pub arena_size: usize,
    /// Offset of the span table: `arena_size / PAGE_SIZE` entries of 8 bytes.
    pub span_table_off: usize,
    /// Bytes reserved for the span table.
    pub span_table_size: usize,
    /// Offset of the GC bitmap.
    pub bitmap_off: usize,
    /// Bytes reserved for the GC bitmap: `arena_size / 32`, in whole
    /// chunks of both planes (`bitmap::BITMAP_CHUNK`).
    pub bitmap_size: usize,
    /// Offset of the arena, aligned to `ARENA_ALIGN` in the address space.
    pub arena_off: usize,
    /// Total bytes reserved.
    pub total: usize,
}

/// Alignment of the arena's first byte (so it can hold huge pages).
pub const ARENA_ALIGN: usize = 2 << 20;

impl Layout {
    /// The layout for an arena of `arena_size` bytes (rounded to pages).
    /// Returns None on arithmetic overflow.
    pub fn for_arena(arena_size: usize) -> Option<Layout> {
        let ps = os_page_size();
        let round = |x: usize| x.checked_add(ps - 1).map(|v| v & !(ps - 1));
        let arena_size = arena_size.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1);
        let span_table_size = round((arena_size >> PAGE_SHIFT).checked_mul(8)?)?;
        let bitmap_size = round(bitmap_bytes_for(arena_size))?;
        // [slack | span table | bitmap | arena]; the slack (< ARENA_ALIGN)
        // lets the arena start on an aligned address wherever the kernel
        // places the reservation.
        let meta = span_table_size.checked_add(bitmap_size)?;
        let total = meta.checked_add(arena_size)?.checked_add(ARENA_ALIGN)?;
        Some(Layout {
            arena_size,
            span_table_off: 0,
            span_table_size,
            bitmap_off: span_table_size,
            bitmap_size,
            arena_off: meta,
            total,
        })
    }

    fn place(mut self, base: usize) -> Layout {
        let arena = base + self.arena_off;
        let aligned = (arena + ARENA_ALIGN - 1) & !(ARENA_ALIGN - 1);
        let shift = aligned - arena;
        self.span_table_off += shift;
        self.bitmap_off += shift;
        self.arena_off += shift;
        self
    }
}

/// A free run of pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FreeRun {
    npages: usize,
    /// Some page of the run held objects before: the run must be zeroed
    /// before use. Fresh pages from the OS are already zero.
    needzero: bool,
}

/// A pool of span structures (Go's `fixalloc`): carved from OS blocks,
/// recycled through a free list, never returned to the OS while the heap lives.
#[derive(Debug)]
struct SpanPool {
    blocks: Vec<OsBlock>,
    /// Next unused slot in the newest block, and the end of that block.
    bump: usize,
    bump_end: usize,
    /// Free list threaded through `MSpan::next_free` (0 = empty).
    free: usize,
}

impl SpanPool {
    fn alloc(&mut self, acct: &Arc<crate::mem::MemAccounting>) -> Result<&'static MSpan, MemError> {
        if self.free != 0 {
            // SAFETY: free-list entries are dead spans in our blocks, owned by
            // the pool.
            let s = unsafe { &*(self.free as *const MSpan) };
            // SAFETY: the pool owns the dead span.
            self.free = unsafe { s.pool_next() };
            return Ok(s);
        }
        let size = std::mem::size_of::<MSpan>();
        if self.bump + size > self.bump_end {
            let block = OsBlock::new(SPAN_POOL_CHUNK, Purpose::Metadata, acct.clone())?;
            self.bump = block.addr();
            self.bump_end = block.addr() + block.len();
            self.blocks.push(block);
        }
        let p = self.bump as *mut MSpan;
        self.bump += size;
        // SAFETY: `p` is a fresh, suitably aligned (blocks are page aligned
        // and size_of is a multiple of align) slot of a block we own, which
        // lives as long as the heap; the 'static lifetime is narrowed by the
        // heap's API to the heap's own lifetime.
        unsafe {
            p.write(MSpan::new_dead());
            Ok(&*p)
        }
    }

    /// # Safety
    /// The span must be dead and unreferenced by any list, cache or table.
    unsafe fn free(&mut self, s: &MSpan) {
        // SAFETY: the pool now owns the dead span.
        unsafe { s.set_pool_next(self.free) };
        self.free = s as *const MSpan as usize;
    }
}

/// Why the page heap could not satisfy a request.
#[derive(Debug)]
pub(crate) enum GrowError {
    /// The reservation is full.
    ArenaExhausted,
    /// The OS refused to map memory.
    Os(MemError),
}

/// The page heap. Lives behind the heap's lock.
#[derive(Debug)]
pub(crate) struct PageHeap {
    res: Reservation,
    layout: Layout,
    arena_base: usize,
    arena_pages: usize,
    mapped_pages: usize,
    span_table_mapped: usize,
    bitmap_mapped: usize,
    by_start: BTreeMap<usize, FreeRun>,
    by_size: BTreeSet<(usize, usize)>,
    pool: SpanPool,
    pub(crate) inuse_pages: usize,
    pub(crate) free_pages: usize,
    /// Per mapped page: returned to the OS (`sys_unused`, Prepared state).
    /// Only free pages are ever released; allocating one makes it Ready again.
    released: BitVec<u64, Lsb0>,
    pub(crate) released_pages: usize,
    /// Heap bytes to keep Ready (in use plus free but not released): when
    /// growing would exceed it, as many free pages are released first
    /// (the scavenger's synchronous path). `usize::MAX`: no bound.
    pub(crate) retain: usize,
    pub(crate) release_mode: ReleaseMode,
    /// Hint huge pages for the span table and bitmap as they are mapped.
    pub(crate) metadata_huge_pages: bool,
    /// Mirror of `mapped_pages * PAGE_SIZE` for lock-free range checks.
    mapped_bytes: Arc<AtomicUsize>,
}

impl PageHeap {
    /// Reserves the whole region for an arena of `arena_size` bytes.
    pub(crate) fn reserve(arena_size: usize, acct: Arc<crate::mem::MemAccounting>) -> Result<PageHeap, MemError> {
        let layout = Layout::for_arena(arena_size).ok_or(MemError::Misaligned {
            op: "sys_reserve",
            addr: 0,
            len: arena_size,
        })?;
        let res = Reservation::new(layout.total, acct)?;
        let layout = layout.place(res.base());
        Ok(PageHeap {
            arena_base: res.base() + layout.arena_off,
            arena_pages: layout.arena_size >> PAGE_SHIFT,
            res,
            layout,
            mapped_pages: 0,
            span_table_mapped: 0,
            bitmap_mapped: 0,
            by_start: BTreeMap::new(),
            by_size: BTreeSet::new(),
            pool: SpanPool {
                blocks: Vec::new(),
                bump: 0,
                bump_end: 0,
                free: 0,
            },
            inuse_pages: 0,
            free_pages: 0,
            released: BitVec::new(),
            released_pages: 0,
            retain: usize::MAX,
            release_mode: ReleaseMode::DontNeed,
            metadata_huge_pages: false,
            mapped_bytes: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    pub(crate) fn arena_base(&self) -> usize {
        self.arena_base
    }

    pub(crate) fn span_table(&self) -> *const AtomicPtr<MSpan> {
        (self.res.base() + self.layout.span_table_off) as *const AtomicPtr<MSpan>
    }

    pub(crate) fn bitmap(&self) -> *const AtomicU64 {
        (self.res.base() + self.layout.bitmap_off) as *const AtomicU64
    }

    pub(crate) fn mapped_bytes(&self) -> Arc<AtomicUsize> {
        self.mapped_bytes.clone()
    }

    pub(crate) fn mapped_pages(&self) -> usize {
        self.mapped_pages
    }

    fn table_entry(&self, page: usize) -> &AtomicPtr<MSpan> {
        debug_assert!(page < self.mapped_pages);
        // SAFETY: entries for pages below mapped_pages are mapped (invariant),
        // and AtomicPtr has the layout of a pointer.
        unsafe { &*self.span_table().add(page) }
    }

    fn set_table(&self, first: usize, npages: usize, s: *mut MSpan) {
        for p in first..first + npages {
            self.table_entry(p).store(s, Ordering::Release);
        }
    }

    fn insert_free(&mut self, mut start: usize, mut npages: usize, mut needzero: bool) {
        if let Some((&ps, &prev)) = self.by_start.range(..start).next_back() {
            if ps + prev.npages == start {
                self.by_start.remove(&ps);
                self.by_size.remove(&(prev.npages, ps));
                start = ps;
                npages += prev.npages;
                needzero |= prev.needzero;
            }
        }
        if let Some(next) = self.by_start.remove(&(start + npages)) {
            self.by_size.remove(&(next.npages, start + npages));
            npages += next.npages;
            needzero |= next.needzero;
        }
        self.by_start.insert(start, FreeRun { npages, needzero });
        self.by_size.insert((npages, start));
    }

    /// Maps `npages` more arena pages (at least GROW_MIN_PAGES when room
    /// allows) and the matching prefixes of the span table and bitmap.
    fn grow(&mut self, npages: usize) -> Result<(), GrowError> {
        let room = self.arena_pages - self.mapped_pages;
        if npages > room {
            return Err(GrowError::ArenaExhausted);
        }
        let add = npages.max(GROW_MIN_PAGES).min(room);
        // Growing past the retained size: give back as many free pages as
        // we are about to map, so Ready heap memory does not grow beyond it.
        let ready = (self.mapped_pages - self.released_pages) << PAGE_SHIFT;
        if ready + (add << PAGE_SHIFT) > self.retain {
            let over = ready + (add << PAGE_SHIFT) - self.retain;
            self.scavenge(over, self.release_mode).map_err(GrowError::Os)?;
        }
        let new_mapped = self.mapped_pages + add;
        let ps = os_page_size();
        let round = |x: usize| (x + ps - 1) & !(ps - 1);
        // Span table and bitmap first, so lookups never see arena pages
        // whose metadata is unmapped.
        let st_need = round(new_mapped * 8);
        if st_need > self.span_table_mapped {
            let off = self.layout.span_table_off + self.span_table_mapped;
            let len = st_need - self.span_table_mapped;
            self.res.map(off, len, Purpose::SpanTable).map_err(GrowError::Os)?;
            self.res.used(off, len, Purpose::SpanTable).map_err(GrowError::Os)?;
            self.hint_metadata(off, len);
            self.span_table_mapped = st_need;
        }
        let bm_need = round(bitmap_bytes_for(new_mapped << PAGE_SHIFT));
        if bm_need > self.bitmap_mapped {
            let off = self.layout.bitmap_off + self.bitmap_mapped;
            let len = bm_need - self.bitmap_mapped;
            self.res.map(off, len, Purpose::GcBitmap).map_err(GrowError::Os)?;
            self.res.used(off, len, Purpose::GcBitmap).map_err(GrowError::Os)?;
            self.hint_metadata(off, len);
            self.bitmap_mapped = bm_need;
        }
        let off = self.layout.arena_off + (self.mapped_pages << PAGE_SHIFT);
        let len = add << PAGE_SHIFT;
        self.res.map(off, len, Purpose::Heap).map_err(GrowError::Os)?;
        self.res.used(off, len, Purpose::Heap).map_err(GrowError::Os)?;
        let first = self.mapped_pages;
        self.mapped_pages = new_mapped;
        self.mapped_bytes.store(new_mapped << PAGE_SHIFT, Ordering::Release);
        self.free_pages += add;
        self.released.resize(new_mapped, false);
        self.insert_free(first, add, false);
        Ok(())
    }

    /// Takes `npages` pages (best fit), growing the arena if needed. Returns
    /// the first page and whether the pages need zeroing.
    fn alloc_pages(&mut self, npages: usize) -> Result<(usize, bool), GrowError> {
        let found = self.by_size.range((npages, 0)..).next().copied();
        let (n, start) = match found {
            Some(f) => f,
            None => {
                // Grow by what is missing beyond a free run at the end.
                let tail = self
                    .by_start
                    .range(..self.mapped_pages)
                    .next_back()
                    .filter(|(&s, r)| s + r.npages == self.mapped_pages)
                    .map_or(0, |(_, r)| r.npages);
                self.grow(npages - tail.min(npages))?;
                *self.by_size.range((npages, 0)..).next().expect("grown enough")
            }
        };
        self.by_size.remove(&(n, start));
        let run = self.by_start.remove(&start).expect("indexes agree");
        if n > npages {
            self.by_start.insert(
                start + npages,
                FreeRun {
                    npages: n - npages,
                    needzero: run.needzero,
                },
            );
            self.by_size.insert((n - npages, start + npages));
        }
        self.free_pages -= npages;
        self.inuse_pages += npages;
        self.reuse_released(start, npages).map_err(GrowError::Os)?;
        Ok((start, run.needzero))
    }

    /// Pages `[first, first+n)` are being allocated: any of them that were
    /// returned to the OS become Ready again (and count as mapped again).
    fn reuse_released(&mut self, first: usize, n: usize) -> Result<(), MemError> {
        if self.released_pages == 0 {
            return Ok(());
        }
        let mut p = first;
        while p < first + n {
            if !self.released[p] {
                p += 1;
                continue;
            }
            let start = p;
            while p < first + n && self.released[p] {
                p += 1;
            }
            let off = self.layout.arena_off + (start << PAGE_SHIFT);
            self.res.used(off, (p - start) << PAGE_SHIFT, Purpose::Heap)?;
            self.released[start..p].fill(false);
            self.released_pages -= p - start;
        }
        Ok(())
    }

    /// Asks for huge pages on newly mapped metadata, when configured. A
    /// refusal (a kernel without transparent huge pages) changes nothing,
    /// so it is ignored.
    fn hint_metadata(&self, off: usize, len: usize) {
        if self.metadata_huge_pages {
            let _ = self.res.huge_page(off, len);
        }
    }

    /// Heap bytes Ready: mapped and not released.
    pub(crate) fn ready_bytes(&self) -> usize {
        (self.mapped_pages - self.released_pages) << PAGE_SHIFT
    }

    /// Returns free pages to the OS, highest addresses first, until at least
    /// `want` bytes more are released or no unreleased free page is left.
    /// Returns the bytes released.
    pub(crate) fn scavenge(&mut self, want: usize, mode: ReleaseMode) -> Result<usize, MemError> {
        let mut done = 0;
        let runs: Vec<(usize, usize)> = self.by_start.iter().rev().map(|(&s, r)| (s, r.npages)).collect();
        for (start, n) in runs {
            // Release from the top of the run down, in maximal stretches of
            // pages not yet released.
            let mut p = start + n;
            while p > start && done < want {
                if self.released[p - 1] {
                    p -= 1;
                    continue;
                }
                let end = p;
                while p > start && !self.released[p - 1] {
                    p -= 1;
                }
                let off = self.layout.arena_off + (p << PAGE_SHIFT);
                // SAFETY: pages [p, end) are free (in a free run), so no
                // object lives there; they are Ready (not yet released).
                unsafe { self.res.unused(off, (end - p) << PAGE_SHIFT, mode)? };
                self.released[p..end].fill(true);
                self.released_pages += end - p;
                done += (end - p) << PAGE_SHIFT;
            }
            if done >= want {
                break;
            }
        }
        Ok(done)
    }

    /// Allocates a span of `npages` pages for `spanclass` and publishes it in
    /// the span table. `large_size` is the object size for class 0.
    pub(crate) fn alloc_span(
        &mut self,
        npages: usize,
        spanclass: SpanClass,
        large_size: usize,
        sweepgen: u32,
    ) -> Result<&'static MSpan, GrowError> {
        let acct = self.res.accounting().clone();
        let s = self.pool.alloc(&acct).map_err(GrowError::Os)?;
        let (first, needzero) = match self.alloc_pages(npages) {
            Ok(v) => v,
            Err(e) => {
                // SAFETY: the span was just taken from the pool and is
                // referenced nowhere else.
                unsafe { self.pool.free(s) };
                return Err(e);
            }
        };
        let base = self.arena_base + (first << PAGE_SHIFT);
        // SAFETY: the span came from the pool, so we own it and it is dead.
        unsafe { s.init(base, npages, spanclass, large_size, needzero, sweepgen) };
        self.set_table(first, npages, s as *const MSpan as *mut MSpan);
        Ok(s)
    }

    /// Returns a span's pages to the free runs and the span to the pool.
    ///
    /// # Safety
    /// The caller owns the span (no list, cache or other thread refers to
    /// it) and no object in it is reachable.
    pub(crate) unsafe fn free_span(&mut self, s: &MSpan) {
        let first = (s.base() - self.arena_base) >> PAGE_SHIFT;
        let npages = s.npages();
        self.set_table(first, npages, std::ptr::null_mut());
        // SAFETY: forwarded from the caller.
        unsafe {
            s.kill();
            self.pool.free(s);
        }
        self.inuse_pages -= npages;
        self.free_pages += npages;
        self.insert_free(first, npages, true);
    }

    /// Verifies the invariants in the module docs; panics with a description
    /// on the first violation. For tests and debug modes.
    pub(crate) fn check_invariants(&self) {
        let mut free = 0;
        let mut last_end = None;
        for (&s, r) in &self.by_start {
            assert!(r.npages > 0);
            assert!(self.by_size.contains(&(r.npages, s)), "size index misses run at {s}");
            if let Some(e) = last_end {
                assert!(s > e, "free runs at page {s} touch or overlap");
            }
            last_end = Some(s + r.npages);
            assert!(s + r.npages <= self.mapped_pages);
            for p in s..s + r.npages {
                assert!(
                    self.table_entry(p).load(Ordering::Relaxed).is_null(),
                    "free page {p} has a span"
                );
            }
            free += r.npages;
        }
        assert_eq!(self.by_size.len(), self.by_start.len());
        assert_eq!(free, self.free_pages);
        assert_eq!(self.inuse_pages + self.free_pages, self.mapped_pages);
        let mut p = 0;
        let mut inuse = 0;
        while p < self.mapped_pages {
            let e = self.table_entry(p).load(Ordering::Relaxed);
            if e.is_null() {
                p += 1;
                continue;
            }
            // SAFETY: non-null entries point at live pool spans.
            let s = unsafe { &*e };
            assert_eq!(
                s.base(),
                self.arena_base + (p << PAGE_SHIFT),
                "page {p} is not a span start"
            );
            for q in p..p + s.npages() {
                assert_eq!(self.table_entry(q).load(Ordering::Relaxed), e);
            }
            inuse += s.npages();
            p += s.npages();
        }
        assert_eq!(inuse, self.inuse_pages);
        assert_eq!(self.released.len(), self.mapped_pages);
        assert_eq!(self.released.count_ones(), self.released_pages);
        for p in self.released.iter_ones() {
            assert!(
                self.table_entry(p).load(Ordering::Relaxed).is_null(),
                "released page {p} is in use"
            );
        }
        let ps = os_page_size();
        assert!(self.span_table_mapped <= ((self.mapped_pages * 8).div_ceil(ps)) * ps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::{MemAccounting, Purpose, ReleaseMode};

    #[test]
    fn layout_formulas() {
        let l = Layout::for_arena(64 << 30).unwrap();
        assert_eq!(l.span_table_size, (64 << 30) / PAGE_SIZE * 8);
        assert_eq!(l.bitmap_size, (64 << 30) / 32);
        assert!(l.arena_off >= l.bitmap_off + l.bitmap_size);
        assert!(Layout::for_arena(usize::MAX - 10).is_none());
    }

    #[test]
    fn alloc_free_coalesces() {
        let mut h = PageHeap::reserve(64 << 20, MemAccounting::new()).unwrap();
        let sc = SpanClass::new(0, true);
        let a = h.alloc_span(3, sc, 3 * PAGE_SIZE, 0).unwrap();
        let b = h.alloc_span(5, sc, 5 * PAGE_SIZE, 0).unwrap();
        let c = h.alloc_span(2, sc, 2 * PAGE_SIZE, 0).unwrap();
        assert_eq!(b.base(), a.end());
        assert_eq!(h.mapped_pages, GROW_MIN_PAGES);
        h.check_invariants();
        // SAFETY: the test owns the spans and holds no objects in them.
        unsafe {
            h.free_span(a);
            h.check_invariants();
            h.free_span(c);
            h.check_invariants();
            let b_end = b.end();
            h.free_span(b);
            assert_eq!(b_end, h.arena_base + 8 * PAGE_SIZE);
        }
        h.check_invariants();
        assert_eq!(h.by_start.len(), 1, "all pages coalesced into one run");
        // Reused pages need zeroing; fresh ones do not.
        let d = h.alloc_span(1, sc, PAGE_SIZE, 0).unwrap();
        // SAFETY: the test owns the span.
        assert!(unsafe { d.needzero() });
    }

    #[test]
    fn scavenged_pages_are_released_and_reused() {
        let acct = MemAccounting::new();
        let mut h = PageHeap::reserve(64 << 20, acct.clone()).unwrap();
        let sc = SpanClass::new(0, true);
        let a = h.alloc_span(8, sc, 8 * PAGE_SIZE, 0).unwrap();
        let b = h.alloc_span(8, sc, 8 * PAGE_SIZE, 0).unwrap();
        let ready = acct.ready(Purpose::Heap);
        // SAFETY: the test owns the span and holds nothing in it.
        unsafe { h.free_span(a) };
        // Highest pages first: the free tail of the arena goes before a.
        let tail = (h.mapped_pages - 16) * PAGE_SIZE;
        assert_eq!(h.scavenge(tail, ReleaseMode::DontNeed).unwrap(), tail);
        assert_eq!(h.released_pages, h.mapped_pages - 16);
        assert!(!h.released[0], "low pages are kept while the goal is met by high ones");
        let all = h.scavenge(usize::MAX, ReleaseMode::DontNeed).unwrap();
        assert_eq!(all, 8 * PAGE_SIZE);
        assert_eq!(acct.ready(Purpose::Heap), ready - (h.released_pages * PAGE_SIZE) as u64);
        h.check_invariants();
        // Reuse counts the pages back.
        let c = h.alloc_span(8, sc, 8 * PAGE_SIZE, 0).unwrap();
        assert_eq!(c.base(), h.arena_base, "best fit reuses a's released pages");
        assert_eq!(h.released_pages, h.mapped_pages - 16);
        assert_eq!(acct.ready(Purpose::Heap), ready - (h.released_pages * PAGE_SIZE) as u64);
        h.check_invariants();
        let _ = (b, c);
    }

    #[test]
    fn grows_until_exhausted() {
        let mut h = PageHeap::reserve(4 << 20, MemAccounting::new()).unwrap();
        let sc = SpanClass::new(0, true);
        let mut n = 0;
        loop {
            match h.alloc_span(64, sc, 64 * PAGE_SIZE, 0) {
                Ok(_) => n += 1,
                Err(GrowError::ArenaExhausted) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(n, 8);
        h.check_invariants();
        assert_eq!(h.mapped_pages, h.arena_pages);
    }
}
