//! marrow-gc: the mark-sweep collector for the Marrow heap.
//!
//! Embedders start with [`typed`]: heap objects as Rust types with
//! `#[derive(Trace)]`, handles branded to a scope in which nothing is
//! freed, roots that outlive scopes, and stores that cannot skip the write
//! barrier, all without `unsafe`. What follows is the raw layer under it.
//!
//! A VM creates a [`Gc`] (which owns the heap), takes a [`Mutator`] for the
//! thread that allocates, reports its roots through [`RootSource`] (and
//! [`Root`] handles for native code), allocates typed objects, and stores
//! pointers into objects through [`Mutator::write_ptr`]. Collections start
//! when the heap reaches the pacer's goal (GOGC-style), on `gc()`, in
//! stress mode, or when an allocation fails.
//!
//! ```
//! use marrow_gc::{Gc, GcConfig, Mutator};
//! use marrow_runtime::Type;
//! let gc = Gc::new(GcConfig::default()).unwrap();
//! let mut m = Mutator::new(&gc).unwrap();
//! let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
//! let a = m.alloc(&pair, &()).unwrap();
//! let keep = m.root(a.as_ptr() as usize);
//! let b = m.alloc(&pair, &()).unwrap();
//! // SAFETY: `a` is a live pair (rooted by `keep`) with two words.
//! unsafe { m.write_ptr(a, 0, b.as_ptr() as usize) };
//! m.gc(&());
//! assert_eq!(m.stats().heap_objects, 2); // a is rooted, b is reachable from a
//! drop(keep);
//! m.gc(&());
//! assert_eq!(m.stats().heap_objects, 0);
//! ```

#![deny(missing_docs)]

// `#[derive(Trace)]` names this crate `::marrow_gc`, in here too.
#[cfg(not(loom))]
extern crate self as marrow_gc;

// Under `--cfg loom` only the concurrent protocols are built, against
// loom's primitives (tests/loom.rs); the rest needs the real heap.
#[cfg_attr(loom, allow(dead_code))]
mod assist;
#[cfg(not(loom))]
mod barrier;
#[cfg(not(loom))]
mod collector;
#[cfg(not(loom))]
mod config;
#[cfg(not(loom))]
mod mark;
#[cfg(not(loom))]
mod mutator;
// Pure arithmetic: built under loom too, for assist.rs.
#[cfg_attr(loom, allow(dead_code))]
pub mod pacer;
#[cfg(not(loom))]
mod roots;
#[cfg(not(loom))]
mod scavenger;
mod sync;
#[cfg(not(loom))]
pub mod typed;
#[cfg(not(loom))]
mod weak;
#[cfg_attr(loom, allow(dead_code))]
mod work;
#[cfg(not(loom))]
mod workers;
#[cfg_attr(loom, allow(dead_code))]
mod world;

#[cfg(not(loom))]
pub use collector::{CycleReport, Gc, GcError, GcReason};
#[cfg(not(loom))]
pub use config::{parse_size, ConfigError, GcConfig, GcMode, CLOBBER_BYTE};
#[cfg(not(loom))]
pub use marrow_runtime as runtime;
#[cfg(not(loom))]
pub use mutator::Mutator;
#[cfg(not(loom))]
pub use roots::{Root, RootSource, RootVisitor};
#[cfg(not(loom))]
pub use weak::WeakCounts;

/// The concurrent protocols, exposed for the loom models in tests/loom.rs.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_models {
    pub use crate::assist::AssistCredit;
    pub use crate::work::{drain_budget, drain_shared, share_greyed, Drain, NoWork, WorkPool};
    pub use crate::world::World;
}

/// docs/embedding.md's examples, compiled and run as doc tests.
#[doc = include_str!("../../docs/embedding.md")]
#[cfg(all(doctest, not(loom)))]
pub struct EmbeddingDoctests;

/// The README's embedding example, compiled and run as a doc test.
#[doc = include_str!("../../README.md")]
#[cfg(all(doctest, not(loom)))]
pub struct ReadmeDoctests;
