//! marrow-runtime: the Go-style allocator under the Marrow heap.
//!
//! One reservation of address space holds `[span table | GC bitmap | arena]`
//! ([`mem`] manages its states). The arena is carved into 8 KiB pages, runs
//! of pages into spans ([`span`]) of size-classed objects ([`sizeclass`]),
//! handed out through per-mutator caches ([`MCache`]) backed by central lists
//! and a page heap. `mallocgc`, `newobject` and `newarray` are the entry
//! points; [`Heap::find_object`] maps any address to its object in O(1).
//!
//! # The boundary with the collector
//!
//! The collector (marrow-gc) decides: when to collect, what is reachable,
//! the pacing. This crate owns memory and the per-object metadata, and so
//! provides the collector with exactly these marking primitives, each here
//! because it must sit next to the allocator's own data or fast path:
//!
//! - **Mark bits**, in the GC bitmap beside the pointer bits
//!   ([`bitmap::GcBitmap::try_mark`], `try_mark_exclusive`, `is_marked`,
//!   `clear_mark`; the atomic set in [`markbit`]). The marker finds an
//!   object's mark bit from its address alone, and the sweeper reads a
//!   span's marks as its new alloc bits ([`MSpan::take_marks`]), so the
//!   bits belong to the allocator's metadata, as Go keeps `gcmarkBits`
//!   with the `mspan` (here they sit in the bitmap, beside the pointer
//!   bits: docs/architecture.md says why).
//! - **Sweeping** by those bits (module [`sweep`]): it rebuilds alloc bits
//!   and free pages, which only the allocator may touch. The collector
//!   starts a sweep cycle ([`Heap::begin_sweep`], `unsafe`: the mark must
//!   be complete) and may sweep everything ([`Heap::sweep_all`]).
//! - **Black allocation**: objects allocated while marking runs are marked
//!   when their span goes back to its central list
//!   ([`Heap::set_alloc_black`]); only the allocator knows which slots it
//!   handed out, and doing it per span keeps the phase test out of the
//!   fast path.
//! - **heapLive, the trigger test and the assist charge**: the allocation
//!   slow paths count heapLive and raise poll bits in the cache when it
//!   crosses the trigger the collector set or when bytes were allocated
//!   while marking ([`POLL_TRIGGER`], [`POLL_ASSIST`],
//!   [`MCache::take_charge`]). The runtime measures; the collector's pacer
//!   sets the trigger, the sweep pace and the price of an assist.
//!
//! Everything else about marking (roots, grey objects, the write barrier,
//! termination, assists, pacing) is the collector's. The file map is in
//! docs/architecture.md.
//!
//! ```
//! use marrow_runtime::{Heap, HeapConfig, Type, AllocFlags};
//! let heap = Heap::new(HeapConfig::default()).unwrap();
//! let mut cache = heap.new_cache();
//! let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
//! let p = cache.newobject(&pair);
//! let info = heap.find_object(p.as_ptr() as usize + 9).unwrap();
//! assert_eq!(info.base, p.as_ptr() as usize);
//! let bytes = cache.mallocgc(100, None, AllocFlags::NOSCAN);
//! assert!(heap.find_object(bytes.as_ptr() as usize).unwrap().noscan);
//! ```

// Under `--cfg loom` (the model checker, see tests/loom.rs) only the
// modules built on `sync` compile: everything else uses std's primitives
// and OS memory directly.
#[cfg(not(loom))]
pub mod bitmap;
#[cfg(not(loom))]
mod gchooks;
#[cfg(not(loom))]
mod heap;
pub mod markbit;
#[cfg(not(loom))]
mod mcache;
#[cfg(not(loom))]
mod mcentral;
#[cfg(not(loom))]
pub mod mem;
#[cfg(not(loom))]
mod mheap;
pub mod ptrlayout;
#[cfg(not(loom))]
mod scavenge;
#[cfg(not(loom))]
pub mod sizeclass;
#[cfg(not(loom))]
pub mod span;
#[doc(hidden)]
pub mod spanset;
#[cfg(not(loom))]
mod stats;
pub mod sweep;
#[doc(hidden)]
pub mod sync;
#[cfg(not(loom))]
mod types;

#[cfg(not(loom))]
pub use heap::{AllocError, Heap, HeapConfig, HeapError};
#[cfg(not(loom))]
pub use mcache::{MCache, POLL_ALWAYS, POLL_ASSIST, POLL_TRIGGER, TINY_SIZE};
#[cfg(not(loom))]
pub use mheap::{Layout, ARENA_ALIGN};
#[cfg(not(loom))]
pub use span::{MSpan, ObjectInfo};
#[cfg(not(loom))]
pub use stats::{GcRecord, MemStats, PAUSE_HISTORY};
#[cfg(not(loom))]
pub use sweep::SweepResult;
#[cfg(not(loom))]
pub use types::{AllocFlags, TagRule, Type, TypeError};
