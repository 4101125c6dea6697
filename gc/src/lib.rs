//! marrow-gc: the mark-sweep collector for the Marrow heap.
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

mod collector;
mod config;
mod mark;
pub mod pacer;
mod roots;
mod scavenger;

pub use collector::{CycleReport, Gc, GcError, GcReason, Mutator};
pub use config::{parse_size, ConfigError, GcConfig, CLOBBER_BYTE};
pub use marrow_runtime as runtime;
pub use roots::{Root, RootSource, RootVisitor};

/// The README's embedding example, compiled and run as a doc test.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
