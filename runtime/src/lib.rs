//! marrow-runtime: the Go-style allocator under the Marrow heap.
//!
//! One reservation of address space holds `[span table | GC bitmap | arena]`
//! ([`mem`] manages its states). The arena is carved into 8 KiB pages, runs
//! of pages into spans ([`span`]) of size-classed objects ([`sizeclass`]),
//! handed out through per-mutator caches ([`MCache`]) backed by central lists
//! and a page heap. `mallocgc`, `newobject` and `newarray` are the entry
//! points; [`Heap::find_object`] maps any address to its object in O(1).
//!
//! This crate knows nothing of marking: the collector (marrow-gc) sets mark
//! bits in the [`bitmap::GcBitmap`], then calls [`Heap::begin_sweep`], and
//! spans are swept lazily as caches ask for them.
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
pub mod sizeclass;
#[cfg(not(loom))]
pub mod span;
#[doc(hidden)]
pub mod spanset;
#[cfg(not(loom))]
mod scavenge;
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
