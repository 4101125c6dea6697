//! The heap: one reservation `[span table | GC bitmap | arena]`, the page
//! heap behind a lock, the central lists, address lookup, sweeping and stats.
//!
//! A `Heap` is shared (`Arc<Heap>`) by every mutator cache that allocates
//! from it; several heaps may live in one process, each with its own
//! reservation, and dropping the last handle returns everything to the OS.
//!
//! Sweeping follows Go's sweep generations. `sweepgen` advances by 2 when
//! the collector finishes a mark ([`Heap::begin_sweep`]). A span's own
//! `sweepgen` is `sg - 2` (needs sweeping), `sg - 1` (being swept), `sg`
//! (swept). A sweeper claims a span with a compare-and-swap from `sg - 2` to
//! `sg - 1`, so each span is swept exactly once per cycle.

use crate::bitmap::GcBitmap;
use crate::mcentral::MCentral;
use crate::mem::{MemAccounting, MemError, Purpose, ReleaseMode};
use crate::mheap::{GrowError, Layout, PageHeap};
use crate::sizeclass::{SpanClass, CLASSES, NUM_SPAN_CLASSES, PAGE_SHIFT, PAGE_SIZE};
use crate::span::{LiveBits, MSpan, ObjectInfo, SpanState};
use crate::stats::{Counters, GcRecord, MemStats};
use crate::types::TagRule;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockWriteGuard};

/// Settings of a heap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeapConfig {
    /// Address space reserved for the arena. Default 64 GiB: it costs
    /// nothing while Reserved. If the OS refuses, halves down to `min_arena_size`.
    pub arena_size: usize,
    /// Smallest arena to fall back to before giving up. Default 16 MiB.
    pub min_arena_size: usize,
    /// Which pointer-slot words are real pointers.
    pub tag_rule: TagRule,
    /// How free pages are returned to the OS.
    pub release_mode: ReleaseMode,
    /// Fill freed objects with this byte when sweeping (debug mode).
    pub clobber_free: Option<u8>,
    /// Hint the kernel to back the GC bitmap and span table with huge
    /// pages (`MADV_HUGEPAGE`) as they are mapped. The arena itself is never
    /// hinted: Go forced huge pages on its heap and reverted it after
    /// latency stalls, and released 8 KiB pages would split huge ones.
    pub metadata_huge_pages: bool,
}

impl Default for HeapConfig {
    fn default() -> Self {
        HeapConfig {
            arena_size: 64 << 30,
            min_arena_size: 16 << 20,
            tag_rule: TagRule::default(),
            release_mode: ReleaseMode::DontNeed,
            clobber_free: None,
            metadata_huge_pages: false,
        }
    }
}

/// Why a heap could not be created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeapError {
    /// A setting is out of range.
    InvalidConfig(String),
    /// Even the smallest arena could not be reserved; the last OS error.
    Reserve {
        /// The smallest size tried.
        smallest_tried: usize,
        /// What the OS said.
        error: MemError,
    },
}

impl fmt::Display for HeapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapError::InvalidConfig(m) => write!(f, "invalid heap configuration: {m}"),
            HeapError::Reserve { smallest_tried, error } => write!(
                f,
                "cannot reserve address space for the heap (tried down to {} MiB): {error}",
                smallest_tried >> 20
            ),
        }
    }
}

impl std::error::Error for HeapError {}

/// Why an allocation was refused. The heap is unchanged and usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocError {
    /// A request for zero bytes.
    ZeroSize,
    /// `count * element size` (or rounding it) overflows.
    Overflow {
        /// Element count asked for.
        count: usize,
        /// Element size.
        elem_size: usize,
    },
    /// Larger than the whole arena could ever hold.
    TooLarge {
        /// Bytes asked for.
        size: usize,
        /// Arena size.
        arena_size: usize,
    },
    /// The arena has no room left for this request.
    OutOfMemory {
        /// Bytes asked for.
        size: usize,
        /// Arena bytes mapped when it failed.
        mapped: usize,
    },
    /// The OS refused to map memory.
    Os(MemError),
    /// The type's alignment cannot be honoured for this size.
    Unaligned {
        /// Alignment asked for.
        align: usize,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::ZeroSize => write!(f, "allocation of zero bytes"),
            AllocError::Overflow { count, elem_size } => {
                write!(f, "allocation size overflows: {count} elements of {elem_size} bytes")
            }
            AllocError::TooLarge { size, arena_size } => {
                write!(f, "allocation of {size} bytes exceeds the arena of {arena_size} bytes")
            }
            AllocError::OutOfMemory { size, mapped } => write!(
                f,
                "out of memory: cannot allocate {size} bytes ({} MiB of arena in use)",
                mapped >> 20
            ),
            AllocError::Os(e) => write!(f, "out of memory: {e}"),
            AllocError::Unaligned { align } => write!(f, "cannot honour alignment {align}"),
        }
    }
}

impl std::error::Error for AllocError {}

impl AllocError {
    pub(crate) fn from_grow(e: GrowError, size: usize, mapped: usize) -> AllocError {
        match e {
            GrowError::ArenaExhausted => AllocError::OutOfMemory { size, mapped },
            GrowError::Os(e) => AllocError::Os(e),
        }
    }
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepResult {
    /// Spans swept.
    pub spans: usize,
    /// Objects freed.
    pub objects_freed: usize,
    /// Bytes freed.
    pub bytes_freed: usize,
    /// Spans whose pages went back to the page heap.
    pub spans_freed: usize,
}

impl std::ops::AddAssign for SweepResult {
    fn add_assign(&mut self, o: SweepResult) {
        self.spans += o.spans;
        self.objects_freed += o.objects_freed;
        self.bytes_freed += o.bytes_freed;
        self.spans_freed += o.spans_freed;
    }
}

/// A garbage-collectable heap (see the module docs).
///
/// Invariants: `span_table` and `bitmap` point into the reservation owned by
/// `mheap`, which lives as long as the heap; `mapped_bytes` never exceeds the
/// mapped prefix of the arena, whose span table and bitmap are mapped.
pub struct Heap {
    mheap: Mutex<PageHeap>,
    central: Box<[MCentral]>,
    arena_base: usize,
    arena_size: usize,
    mapped_bytes: Arc<AtomicUsize>,
    span_table: *const AtomicPtr<MSpan>,
    bitmap: GcBitmap,
    acct: Arc<MemAccounting>,
    sweepgen: AtomicU32,
    pub(crate) counters: Counters,
    /// heap_live at which a collection is requested (u64::MAX: never).
    trigger: AtomicU64,
    config: HeapConfig,
    /// Held for reading by background sweepers while they sweep a span, and
    /// for writing by the collector from finishing the previous sweep to
    /// starting the next: a background sweep never overlaps a mark.
    sweep_gate: RwLock<()>,
    /// Bumped by allocation slow paths (a span handed to a cache, a large
    /// object): background work can tell whether mutators are allocating.
    activity: AtomicU64,
    gc_record: Mutex<GcRecord>,
    layout: Layout,
    /// Set by the collector while marking runs concurrently with mutators:
    /// objects allocated meanwhile are marked (allocated black). Changes
    /// only while the world is stopped, when no cache holds a span.
    alloc_black: AtomicBool,
    /// Objects and bytes allocated black since the last take.
    black_objects: AtomicU64,
    black_bytes: AtomicU64,
    /// Proportional sweeping (Go's sweep pacing): pages to sweep per byte
    /// allocated (f64 bits; 0: off), heapLive when the sweep cycle began,
    /// and pages swept since.
    sweep_pages_per_byte: AtomicU64,
    sweep_live_basis: AtomicU64,
    pages_swept: AtomicU64,
}

// SAFETY: the raw `span_table` pointer is only read through atomics, and the
// memory behind it lives as long as the heap; everything else is Sync.
unsafe impl Sync for Heap {}
// SAFETY: as above.
unsafe impl Send for Heap {}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heap")
            .field("arena_base", &format_args!("{:#x}", self.arena_base))
            .field("arena_size", &self.arena_size)
            .field("mapped", &self.mapped_bytes.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Heap {
    /// Creates a heap, reserving its address space. Falls back to smaller
    /// arenas (halving) when the OS refuses, down to `min_arena_size`.
    pub fn new(config: HeapConfig) -> Result<Arc<Heap>, HeapError> {
        if config.min_arena_size < PAGE_SIZE * 128 {
            return Err(HeapError::InvalidConfig(format!(
                "min_arena_size {} is below 1 MiB",
                config.min_arena_size
            )));
        }
        if config.arena_size < config.min_arena_size {
            return Err(HeapError::InvalidConfig(format!(
                "arena_size {} is below min_arena_size {}",
                config.arena_size, config.min_arena_size
            )));
        }
        if config.tag_rule.value & !config.tag_rule.mask != 0 {
            return Err(HeapError::InvalidConfig(
                "tag value has bits outside the tag mask".into(),
            ));
        }
        let acct = MemAccounting::new();
        let mut size = config.arena_size;
        let mut mheap = loop {
            match PageHeap::reserve(size, acct.clone()) {
                Ok(h) => break h,
                Err(e) => {
                    if size <= config.min_arena_size {
                        return Err(HeapError::Reserve {
                            smallest_tried: size,
                            error: e,
                        });
                    }
                    size = (size / 2).max(config.min_arena_size);
                }
            }
        };
        mheap.release_mode = config.release_mode;
        mheap.metadata_huge_pages = config.metadata_huge_pages;
        let layout = mheap.layout();
        // SAFETY: the bitmap region covers the arena (Layout), lives in the
        // reservation owned by `mheap`, and is mapped in step with the arena.
        let bitmap = unsafe { GcBitmap::new(mheap.bitmap(), mheap.arena_base()) };
        let central = (0..NUM_SPAN_CLASSES).map(|_| MCentral::default()).collect();
        Ok(Arc::new(Heap {
            arena_base: mheap.arena_base(),
            arena_size: layout.arena_size,
            mapped_bytes: mheap.mapped_bytes(),
            span_table: mheap.span_table(),
            bitmap,
            mheap: Mutex::new(mheap),
            central,
            acct,
            sweepgen: AtomicU32::new(0),
            counters: Counters::default(),
            trigger: AtomicU64::new(u64::MAX),
            config,
            sweep_gate: RwLock::new(()),
            activity: AtomicU64::new(0),
            gc_record: Mutex::new(GcRecord::default()),
            layout,
            alloc_black: AtomicBool::new(false),
            black_objects: AtomicU64::new(0),
            black_bytes: AtomicU64::new(0),
            sweep_pages_per_byte: AtomicU64::new(0),
            sweep_live_basis: AtomicU64::new(0),
            pages_swept: AtomicU64::new(0),
        }))
    }

    /// The heap's settings.
    pub fn config(&self) -> &HeapConfig {
        &self.config
    }

    /// The reservation's layout (sizes and offsets of the three regions).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// First byte of the arena.
    pub fn arena_base(&self) -> usize {
        self.arena_base
    }

    /// Bytes reserved for the arena (after any fallback).
    pub fn arena_size(&self) -> usize {
        self.arena_size
    }

    /// Bytes of the arena mapped so far.
    pub fn arena_mapped(&self) -> usize {
        self.mapped_bytes.load(Ordering::Acquire)
    }

    /// The memory accounting (mapped-ready bytes per purpose).
    pub fn accounting(&self) -> &Arc<MemAccounting> {
        &self.acct
    }

    /// The GC bitmap.
    #[inline(always)]
    pub fn bitmap(&self) -> &GcBitmap {
        &self.bitmap
    }

    /// The tag rule for pointer slots.
    #[inline(always)]
    pub fn tag_rule(&self) -> TagRule {
        self.config.tag_rule
    }

    pub(crate) fn lock_mheap(&self) -> MutexGuard<'_, PageHeap> {
        // The page heap is only mutated through methods that restore its
        // invariants before they can panic; recover from poisoning.
        self.mheap.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn central(&self, spc: SpanClass) -> &MCentral {
        &self.central[spc.index()]
    }

    /// The current sweep generation.
    pub fn sweepgen(&self) -> u32 {
        self.sweepgen.load(Ordering::Acquire)
    }

    /// The span holding `addr`, if `addr` lies in an in-use span. O(1).
    #[inline]
    pub fn span_of(&self, addr: usize) -> Option<&MSpan> {
        let off = addr.wrapping_sub(self.arena_base);
        if off >= self.mapped_bytes.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: `off` is below the mapped prefix, whose span table
        // entries are mapped (type invariant).
        let e = unsafe { &*self.span_table.add(off >> PAGE_SHIFT) }.load(Ordering::Acquire);
        if e.is_null() {
            return None;
        }
        // SAFETY: non-null entries point at span structures in the span
        // pool, which lives as long as the heap.
        let s = unsafe { &*e };
        if s.state() != SpanState::InUse || addr < s.base() || addr >= s.end() {
            return None;
        }
        Some(s)
    }

    /// The allocated object holding `addr` (interior pointers included), or
    /// None for addresses outside the arena, in free pages, in free slots or
    /// in a span's tail waste. O(1).
    #[inline]
    pub fn find_object(&self, addr: usize) -> Option<ObjectInfo> {
        self.span_of(addr)?.object_at(addr)
    }

    /// Calls `f(word_addr)` for each pointer slot of `obj` (found by
    /// [`Heap::find_object`] and still allocated): from its span's layout
    /// when the span keeps one, else from the GC bitmap. Nothing for
    /// no-scan objects.
    pub fn for_each_pointer_slot(&self, obj: &ObjectInfo, f: impl FnMut(usize)) {
        if obj.noscan {
            return;
        }
        match self.span_of(obj.base).map_or(0, |s| s.ptr_layout()) {
            0 => self.bitmap.for_each_pointer_slot(obj.base, obj.size / 8, f),
            mask => crate::ptrlayout::for_each_pointer_word(obj.base, mask, f),
        }
    }

    /// Sets the heap size at which allocation slow paths request a
    /// collection (`u64::MAX` for never). This is the collector's hook: the
    /// runtime only compares and raises a flag the mutator polls.
    pub fn set_gc_trigger(&self, bytes: u64) {
        self.trigger.store(bytes, Ordering::Relaxed);
    }

    /// The current trigger.
    pub fn gc_trigger(&self) -> u64 {
        self.trigger.load(Ordering::Relaxed)
    }

    /// Go's heapLive: bytes in cached spans and allocated objects since the
    /// last mark.
    pub fn heap_live(&self) -> u64 {
        self.counters.heap_live.load(Ordering::Relaxed)
    }

    /// Resets heapLive (the collector sets it to the marked bytes after a mark).
    pub fn set_heap_live(&self, bytes: u64) {
        self.counters.heap_live.store(bytes, Ordering::Relaxed);
    }

    /// Adds to heapLive; returns whether the trigger is now reached.
    pub(crate) fn add_heap_live(&self, bytes: u64) -> bool {
        let live = self.counters.heap_live.fetch_add(bytes, Ordering::Relaxed) + bytes;
        live >= self.trigger.load(Ordering::Relaxed)
    }

    pub(crate) fn sub_heap_live(&self, bytes: u64) {
        // Saturating: the collector may have reset heapLive meanwhile.
        let _ = self
            .counters
            .heap_live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(bytes)));
    }

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

    /// Lazy sweeping on the allocation path: sweep unswept spans of this
    /// class until one has room (bounded, as in Go).
    fn sweep_for_cache(&self, spc: SpanClass, sg: u32) -> Option<&'static MSpan> {
        let c = self.central(spc);
        let mut budget = 100;
        while budget > 0 {
            budget -= 1;
            let s = c.pop_partial_unswept(sg).or_else(|| c.pop_full_unswept(sg))?;
            if !self.claim(s, sg) {
                continue;
            }
            // SAFETY: we popped and claimed the span, so we own it; the
            // collector has marked everything reachable before advancing
            // sweepgen (begin_sweep's contract).
            // A span left empty is handed to the cache as it is, rather
            // than freed to the page heap and allocated again.
            let (kept, _) = unsafe { self.sweep_claimed(s, sg, true) };
            if let Some(s) = kept {
                // SAFETY: we still own the span.
                if unsafe { s.alloc_count() } < s.nelems() {
                    return Some(s);
                }
                c.push_swept(sg, s, false);
            }
        }
        None
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
            self.black_objects.fetch_add(objects, Ordering::Relaxed);
            self.black_bytes.fetch_add(bytes, Ordering::Relaxed);
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
            self.black_objects.fetch_add(1, Ordering::Relaxed);
            self.black_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        self.counters.add_allocs(1, bytes);
        self.central(spc).push_swept(sg, s, false);
        Ok((s, needzero))
    }

    /// Claims `s` for sweeping in generation `sg`; true if this caller won.
    fn claim(&self, s: &MSpan, sg: u32) -> bool {
        crate::sweepgen::claim(&s.sweepgen, sg)
    }

    /// Sweeps a claimed span by its mark bits. Returns the span if it still
    /// holds objects (still owned by the caller) or None if its pages went
    /// back to the page heap.
    ///
    /// # Safety
    /// The caller owns `s` (claimed it), and marking has finished: every
    /// reachable object in `s` is marked.
    unsafe fn sweep_claimed(
        &self,
        s: &'static MSpan,
        sg: u32,
        keep_empty: bool,
    ) -> (Option<&'static MSpan>, SweepResult) {
        let (live, _) = s.take_marks(&self.bitmap);
        // SAFETY: forwarded from the caller: unmarked objects are unreachable.
        unsafe { self.sweep_inner(s, &live, sg, keep_empty) }
    }

    /// The sweep primitive: objects of `s` whose bit is set in `live`
    /// survive; the rest become free. If none survive the span returns to
    /// the page heap. Updates the stats. Returns the span if it still holds
    /// objects.
    ///
    /// # Safety
    /// The caller owns `s` (it is on no list and in no cache) and every
    /// object not in `live` is unreachable.
    pub unsafe fn sweep_span_with(
        &self,
        s: &'static MSpan,
        live: &LiveBits,
        sg: u32,
    ) -> (Option<&'static MSpan>, SweepResult) {
        // SAFETY: forwarded from the caller.
        unsafe { self.sweep_inner(s, live, sg, false) }
    }

    /// [`Heap::sweep_span_with`]; an empty span is kept (owned by the
    /// caller, swept for `sg`) when `keep_empty`.
    ///
    /// # Safety
    /// As for [`Heap::sweep_span_with`].
    unsafe fn sweep_inner(
        &self,
        s: &'static MSpan,
        live: &LiveBits,
        sg: u32,
        keep_empty: bool,
    ) -> (Option<&'static MSpan>, SweepResult) {
        let es = s.elemsize();
        self.pages_swept.fetch_add(s.npages() as u64, Ordering::Relaxed);
        // SAFETY: forwarded from the caller.
        let freed = unsafe { s.sweep(live, self.config.clobber_free) };
        self.counters.add_frees(freed as u64, (freed * es) as u64);
        let mut r = SweepResult {
            spans: 1,
            objects_freed: freed,
            bytes_freed: freed * es,
            spans_freed: 0,
        };
        // SAFETY: we own the span.
        if !keep_empty && unsafe { s.alloc_count() } == 0 {
            // SAFETY: owned, and no object in it is reachable.
            unsafe { self.lock_mheap().free_span(s) };
            r.spans_freed = 1;
            return (None, r);
        }
        crate::sweepgen::finish(&s.sweepgen, sg);
        (Some(s), r)
    }

    /// Starts a sweep cycle: every span becomes unswept. Call after a mark,
    /// with every cache flushed and the previous cycle fully swept.
    ///
    /// # Safety
    /// Every reachable object must be marked in the GC bitmap, and no
    /// object may be allocated between the mark and this call. No other
    /// thread may use the heap during the call (the world is stopped and
    /// background sweeps are shut out with [`Heap::stop_background_sweep`]).
    pub unsafe fn begin_sweep(&self) {
        // Sweep pacing: every in-use page swept by the time heapLive
        // reaches the trigger (set by the collector before this call).
        let pages = self.lock_mheap().inuse_pages as f64;
        let live = self.heap_live();
        let distance = self.gc_trigger().saturating_sub(live);
        let per_byte = if distance == 0 || distance == u64::MAX {
            0.0
        } else {
            pages / distance as f64
        };
        self.sweep_live_basis.store(live, Ordering::Relaxed);
        self.pages_swept.store(0, Ordering::Relaxed);
        self.sweep_pages_per_byte.store(per_byte.to_bits(), Ordering::Relaxed);
        let sg = self.sweepgen();
        for c in self.central.iter() {
            // SAFETY: the caller has stopped the world and shut out
            // background sweeps (contract below), so no thread touches the
            // central sets; the last cycle is fully swept, so its unswept
            // sets are empty.
            unsafe { c.reset_unswept(sg) };
        }
        self.sweepgen.fetch_add(2, Ordering::AcqRel);
    }

    /// Proportional sweeping on allocation slow paths (Go's
    /// `deductSweepCredit`): sweeps spans of any class until the pages swept
    /// keep pace with the bytes allocated since the sweep cycle began, so
    /// that sweeping is done before the next cycle must start and no pause
    /// has to finish it.
    fn sweep_proportional(&self) {
        let per_byte = f64::from_bits(self.sweep_pages_per_byte.load(Ordering::Relaxed));
        if per_byte == 0.0 {
            return;
        }
        let allocated = self
            .heap_live()
            .saturating_sub(self.sweep_live_basis.load(Ordering::Relaxed));
        let target = (allocated as f64 * per_byte) as u64;
        while self.pages_swept.load(Ordering::Relaxed) < target {
            let r = self.sweep_one();
            if r.spans == 0 {
                self.sweep_pages_per_byte.store(0, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Allocates black from now on (`true`; the collector calls this when
    /// concurrent marking starts) or no longer (`false`, at mark
    /// termination). Call only while the world is stopped and no cache
    /// holds a span.
    pub fn set_alloc_black(&self, on: bool) {
        self.alloc_black.store(on, Ordering::Relaxed);
    }

    /// Whether allocation is black (marking is under way).
    #[inline]
    pub fn alloc_black(&self) -> bool {
        self.alloc_black.load(Ordering::Relaxed)
    }

    /// Objects and bytes allocated black since the last call.
    pub fn take_black_allocs(&self) -> (u64, u64) {
        (
            self.black_objects.swap(0, Ordering::Relaxed),
            self.black_bytes.swap(0, Ordering::Relaxed),
        )
    }

    /// Sweeps one unswept span, if any remains; for proportional and
    /// background sweeping. Returns what it did (`spans == 0`: nothing left).
    pub fn sweep_one(&self) -> SweepResult {
        let sg = self.sweepgen();
        for c in self.central.iter() {
            while let Some(s) = c.pop_partial_unswept(sg).or_else(|| c.pop_full_unswept(sg)) {
                if !self.claim(s, sg) {
                    continue;
                }
                // SAFETY: popped and claimed, so owned; sweep cycles only
                // start after a complete mark (begin_sweep's contract).
                let (kept, r) = unsafe { self.sweep_claimed(s, sg, false) };
                if let Some(s) = kept {
                    // SAFETY: still owned.
                    let has_free = unsafe { s.alloc_count() } < s.nelems();
                    c.push_swept(sg, s, has_free);
                }
                return r;
            }
        }
        SweepResult::default()
    }

    /// A counter bumped by every allocation slow path; unchanged between two
    /// looks means no mutator needed a new span meanwhile.
    pub fn activity(&self) -> u64 {
        self.activity.load(Ordering::Relaxed)
    }

    /// Sweeps one unswept span from a background thread, unless a
    /// collection is under way (then returns None at once).
    pub fn background_sweep_one(&self) -> Option<SweepResult> {
        let _gate = self.sweep_gate.try_read().ok()?;
        Some(self.sweep_one())
    }

    /// Stops background sweeping until the guard is dropped, waiting for a
    /// span being swept in the background. The collector holds it from
    /// finishing the previous sweep until the next sweep cycle begins.
    pub fn stop_background_sweep(&self) -> RwLockWriteGuard<'_, ()> {
        self.sweep_gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the heap bytes to keep Ready (in use plus free but not yet
    /// returned to the OS); the scavenger releases what lies beyond, and the
    /// page heap releases free pages before growing past it.
    pub fn set_retained(&self, bytes: u64) {
        self.lock_mheap().retain = usize::try_from(bytes).unwrap_or(usize::MAX);
    }

    /// Heap bytes Ready beyond the retained size (what the scavenger owes),
    /// and the retained size.
    pub fn scavenge_debt(&self) -> (usize, usize) {
        let h = self.lock_mheap();
        (h.ready_bytes().saturating_sub(h.retain), h.retain)
    }

    /// Sweeps every unswept span (the sweep-everything path of a full `gc()`).
    pub fn sweep_all(&self) -> SweepResult {
        let mut total = SweepResult::default();
        loop {
            let r = self.sweep_one();
            if r.spans == 0 {
                return total;
            }
            total += r;
        }
    }

    /// Returns free pages to the OS (`sys_unused`, with the heap's release
    /// mode), highest addresses first, until `bytes` more are released or
    /// none is left. Returns the bytes released. Pages allocated again are
    /// counted back as mapped (`sys_used`).
    pub fn scavenge(&self, bytes: usize) -> Result<usize, MemError> {
        self.lock_mheap().scavenge(bytes, self.config.release_mode)
    }

    /// Returns every free page to the OS. (The collector's
    /// `free_os_memory` collects first, so that garbage is free too.)
    pub fn release_free_pages(&self) -> Result<usize, MemError> {
        self.scavenge(usize::MAX)
    }

    /// Collector figures (NumGC, pauses, NextGC), for the gc crate to update.
    pub fn gc_record(&self) -> MutexGuard<'_, GcRecord> {
        self.gc_record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A statistics snapshot. Counts still held by mutator caches are not
    /// included until they flush (refill, `flush_stats`, or drop).
    pub fn mem_stats(&self) -> MemStats {
        let (inuse, free, mapped, released) = {
            let h = self.lock_mheap();
            (h.inuse_pages, h.free_pages, h.mapped_pages(), h.released_pages)
        };
        let c = &self.counters;
        let mallocs = c.mallocs.load(Ordering::Relaxed);
        let frees = c.frees.load(Ordering::Relaxed);
        let g = self.gc_record().clone();
        MemStats {
            heap_alloc: c.heap_alloc.load(Ordering::Relaxed),
            total_alloc: c.total_alloc.load(Ordering::Relaxed),
            heap_sys: (mapped << PAGE_SHIFT) as u64,
            heap_idle: (free << PAGE_SHIFT) as u64,
            heap_inuse: (inuse << PAGE_SHIFT) as u64,
            heap_released: (released << PAGE_SHIFT) as u64,
            heap_objects: mallocs - frees,
            mallocs,
            frees,
            sys: self.acct.mapped_ready(),
            mspan_sys: self.acct.ready(Purpose::SpanTable) + self.acct.ready(Purpose::Metadata),
            gc_sys: self.acct.ready(Purpose::GcBitmap),
            reserved: self.acct.reserved(),
            num_gc: g.num_gc,
            num_forced_gc: g.num_forced_gc,
            pause_total_ns: g.pause_total_ns,
            pause_ns: g.pause_ns,
            next_gc: g.next_gc,
            gc_cpu_fraction: g.gc_cpu_fraction,
            last_gc_unix_ns: g.last_gc_unix_ns,
        }
    }

    /// Checks the page heap's and the central lists' invariants; panics with
    /// a description on violation. For tests and debug modes.
    pub fn check_invariants(&self) {
        self.lock_mheap().check_invariants();
        let sg = self.sweepgen();
        for c in self.central.iter() {
            c.for_each(|s| {
                assert_eq!(s.state(), SpanState::InUse);
                let g = s.sweepgen();
                assert!(
                    g == sg || g == sg.wrapping_sub(2),
                    "listed span has sweepgen {g}, heap {sg}"
                );
            });
        }
    }
}
