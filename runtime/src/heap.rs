//! The heap: one reservation `[span table | GC bitmap | arena]`, the page
//! heap behind a lock, the central lists, address lookup and statistics.
//!
//! A `Heap` is shared (`Arc<Heap>`) by every mutator cache that allocates
//! from it; several heaps may live in one process, each with its own
//! reservation, and dropping the last handle returns everything to the OS.
//!
//! This file holds the heap's state, its creation, lookup
//! ([`Heap::span_of`], [`Heap::find_object`]), the statistics snapshot and
//! the invariant check. The heap's other methods live with the mechanism
//! they belong to, as Go spreads `mheap`'s:
//!
//! | file | methods of `Heap` |
//! |---|---|
//! | mcache.rs | `new_cache`, and the caches' refill side: `cache_span`, `uncache_span`, `alloc_large` |
//! | sweep.rs | `begin_sweep`, `sweep_one`, `sweep_all`, `background_sweep_one`, `stop_background_sweep`, lazy and proportional sweeping |
//! | gchooks.rs | what the collector drives: heapLive and the trigger, black allocation |
//! | scavenge.rs | returning free pages to the OS: `set_retained`, `scavenge`, `release_free_pages` |

use crate::bitmap::GcBitmap;
use crate::mcentral::MCentral;
use crate::mem::{MemAccounting, MemError, Purpose, ReleaseMode};
use crate::mheap::{GrowError, Layout, PageHeap};
use crate::sizeclass::{SpanClass, NUM_SPAN_CLASSES, PAGE_SHIFT, PAGE_SIZE};
use crate::span::{MSpan, ObjectInfo, SpanState};
use crate::stats::{Counters, GcRecord, MemStats};
use crate::types::TagRule;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

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

/// A garbage-collectable heap (see the module docs).
///
/// Invariants: `span_table` and `bitmap` point into the reservation owned by
/// `mheap`, which lives as long as the heap; `mapped_bytes` never exceeds the
/// mapped prefix of the arena, whose span table and bitmap are mapped.
pub struct Heap {
    // The heap proper (this file): the reservation, lookup, statistics.
    pub(crate) mheap: Mutex<PageHeap>,
    pub(crate) central: Box<[MCentral]>,
    pub(crate) arena_base: usize,
    pub(crate) arena_size: usize,
    pub(crate) mapped_bytes: Arc<AtomicUsize>,
    pub(crate) span_table: *const AtomicPtr<MSpan>,
    pub(crate) bitmap: GcBitmap,
    pub(crate) acct: Arc<MemAccounting>,
    pub(crate) counters: Counters,
    pub(crate) config: HeapConfig,
    pub(crate) gc_record: Mutex<GcRecord>,
    pub(crate) layout: Layout,

    // Sweeping (sweep.rs).
    pub(crate) sweepgen: AtomicU32,
    /// Held for reading by background sweepers while they sweep a span, and
    /// for writing by the collector while it finishes one sweep cycle and
    /// while it begins the next (sweep.rs explains why that is enough).
    pub(crate) sweep_gate: RwLock<()>,
    /// Bumped by allocation slow paths (a span handed to a cache, a large
    /// object): background work can tell whether mutators are allocating.
    pub(crate) activity: AtomicU64,
    /// Proportional sweeping (Go's sweep pacing): pages to sweep per byte
    /// allocated (f64 bits; 0: off), heapLive when the sweep cycle began,
    /// and pages swept since.
    pub(crate) sweep_pages_per_byte: AtomicU64,
    pub(crate) sweep_live_basis: AtomicU64,
    pub(crate) pages_swept: AtomicU64,

    // What the runtime does for the collector (gchooks.rs).
    /// heap_live at which a collection is requested (u64::MAX: never).
    pub(crate) trigger: AtomicU64,
    /// Set by the collector while marking runs concurrently with mutators:
    /// objects allocated meanwhile are marked (allocated black). Changes
    /// only while the world is stopped, when no cache holds a span.
    pub(crate) alloc_black: AtomicBool,
    /// Objects and bytes allocated black since the last take.
    pub(crate) black_objects: AtomicU64,
    pub(crate) black_bytes: AtomicU64,
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

    /// The GC bitmap (the collector's view: `collector_interface::mark_bitmap`).
    #[inline(always)]
    pub(crate) fn bitmap(&self) -> &GcBitmap {
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

    /// The span holding `addr`, if `addr` lies in an in-use span. O(1).
    /// (Public as `collector_interface::span_of`.)
    #[inline]
    pub(crate) fn span_of(&self, addr: usize) -> Option<&MSpan> {
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

    /// Calls `f(word_addr)` for each pointer slot of `obj`, an object
    /// [`Heap::find_object`] found in this heap: from its span's layout when
    /// the span keeps one, else from the GC bitmap. Nothing for no-scan
    /// objects.
    ///
    /// Returns false, and calls nothing, unless `obj` is exactly an object
    /// allocated in this heap now (the fields of an [`ObjectInfo`] are
    /// public, so it may have been made up, come from another heap, or
    /// describe an object since freed): the bitmap is read only for the
    /// words of a real object.
    pub fn for_each_pointer_slot(&self, obj: &ObjectInfo, f: impl FnMut(usize)) -> bool {
        let Some(s) = self.span_of(obj.base) else {
            return false;
        };
        if s.object_at(obj.base) != Some(*obj) {
            return false;
        }
        if obj.noscan {
            return true;
        }
        match s.ptr_layout() {
            0 => self.bitmap.for_each_pointer_slot(obj.base, obj.size / 8, f),
            mask => crate::ptrlayout::for_each_pointer_word(obj.base, mask, f),
        }
        true
    }

    /// A copy of the collector's figures (NumGC, pauses, NextGC); the
    /// collector replaces them with `collector_interface::set_gc_record`.
    /// No lock is held when this returns.
    pub fn gc_record(&self) -> GcRecord {
        self.lock_gc_record().clone()
    }

    pub(crate) fn set_gc_record(&self, record: GcRecord) {
        *self.lock_gc_record() = record;
    }

    fn lock_gc_record(&self) -> MutexGuard<'_, GcRecord> {
        // Only whole records are stored under the lock: recover from poisoning.
        self.gc_record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A statistics snapshot. Counts still held by mutator caches are not
    /// included until they flush (refill, `flush_stats`, or drop).
    pub fn mem_stats(&self) -> MemStats {
        // The OS accounting is read under the page heap's lock too: pages
        // are released and reused (and the accounting moved) under it, so
        // the page counts and Sys agree (MemStats::check) even while the
        // scavenger returns memory.
        let (inuse, free, mapped, released, sys, mspan_sys, gc_sys, reserved) = {
            let h = self.lock_mheap();
            (
                h.inuse_pages,
                h.free_pages,
                h.mapped_pages(),
                h.released_pages,
                self.acct.mapped_ready(),
                self.acct.ready(Purpose::SpanTable) + self.acct.ready(Purpose::Metadata),
                self.acct.ready(Purpose::GcBitmap),
                self.acct.reserved(),
            )
        };
        let c = &self.counters;
        let mallocs = c.mallocs.load(Ordering::Relaxed);
        let frees = c.frees.load(Ordering::Relaxed);
        let g = self.gc_record();
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
            sys,
            mspan_sys,
            gc_sys,
            reserved,
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
    /// a description on violation. For tests and debug modes: exact only
    /// while no other thread allocates or sweeps (racing, it stays
    /// memory-safe, but may see a span between two lists). It shuts out
    /// background sweeping and the start of a sweep cycle (the sweep gate)
    /// while it walks the central lists.
    pub fn check_invariants(&self) {
        let _gate = self.stop_background_sweep();
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
