//! The typed embedding API: heap objects as Rust types, handles the borrow
//! checker keeps honest, and stores that cannot skip the write barrier.
//! No `unsafe` is needed to use it, and none of it can make the collector
//! free a reachable object.
//!
//! ```
//! use marrow_gc::typed::{GcCell, Obj, Root, Trace};
//! use marrow_gc::{Gc, GcConfig, Mutator};
//!
//! // A heap type: the derive computes its size and pointer mask.
//! #[derive(Trace)]
//! struct Node<'gc> {
//!     value: i64,
//!     next: GcCell<Option<Obj<'gc, Node<'gc>>>>,
//! }
//!
//! let gc = Gc::new(GcConfig::default()).unwrap();
//! let mut m = Mutator::new(&gc).unwrap();
//!
//! // A scope: inside it nothing is freed, and handles cannot leave it.
//! let head: Root<Node<'static>> = m.mutate(|mc| {
//!     let mut list = None;
//!     for i in 0..100 {
//!         list = Some(mc.alloc(Node { value: i, next: GcCell::new(list) }).unwrap());
//!     }
//!     mc.root(list.unwrap()) // a root outlives the scope
//! });
//!
//! m.gc(&()); // between scopes, collections happen; the rooted list survives
//!
//! let sum = m.mutate(|mc| {
//!     let mut sum = 0;
//!     let mut n = Some(head.get(mc));
//!     while let Some(node) = n {
//!         sum += node.value;
//!         n = node.next.get();
//!     }
//!     // Stores go through the write barrier:
//!     head.get(mc).next.set(mc, None);
//!     sum
//! });
//! assert_eq!(sum, 4950);
//! m.gc(&());
//! assert_eq!(m.stats().heap_objects, 1); // only the head is still reachable
//! ```
//!
//! # The pieces
//!
//! - **Types.** `#[derive(Trace)]` ([`Trace`]) makes a struct or enum a heap
//!   type; it takes at most one lifetime, the brand `'gc` of the handles it
//!   holds. Fields are numbers, `bool`, `char`, handles ([`Obj`],
//!   `Option<Obj>`), [`Value`]s, [`GcCell`]s, arrays of these, or other
//!   derived types. Anything the collector could not see into (`Vec`,
//!   `Box`, `String`, `Rc`, references) or that needs a destructor is a
//!   compile error. Enums need a primitive representation
//!   (`#[repr(u8)]`), which fixes where each field lies.
//! - **Scopes.** [`crate::Mutator::mutate`] runs a closure with a
//!   [`Mutation`] context branded `'gc`. Inside, allocation never frees
//!   (it may do marking work); collections that come due wait for the end
//!   of the scope. [`Mutation::should_yield`] says one is waiting.
//! - **Handles.** [`Obj<'gc, T>`] is a pointer, `Copy`, dereferencing to
//!   `&T`; neither `Send` nor `Sync`; cannot leave its scope.
//! - **Roots.** [`Root`] (one object), [`RootVec`] (a vector of values, a
//!   VM's stack), [`SharedRoot`] (`Send + Sync`, for other threads) keep
//!   objects alive between scopes and give them back, re-branded, in the
//!   next.
//! - **Stores.** Fields that change are [`GcCell`]s; array elements are
//!   set through their handles; both take the [`Mutation`] and apply the
//!   write barrier. Reads are a load.
//! - **Values.** [`Value<'gc, T>`] is one word: nil, boolean, unboxed
//!   float, 48-bit integer or handle.
//! - **Variable-sized objects.** [`Array`], [`GcVec`], [`Bytes`], [`Str`].
//! - **Weak holders.** [`WeakRef`], [`Ephemeron`], [`Guardian`], and
//!   cleanups ([`Mutation::add_cleanup`]); see gc/src/weak.rs.
//!
//! # Why it is sound
//!
//! See `scope.rs`: the collector frees only between scopes, and the brand
//! keeps every unrooted handle inside its scope. The rest is layout: a
//! type's mask comes from its fields' masks (`trace.rs`), so every word
//! that can hold a handle is a word the collector scans; and everything
//! mutable in the heap is an atomic word written through the barrier
//! (`cell.rs`), so markers on other threads and the mutators never race.

mod array;
mod cell;
mod handle;
mod root;
mod scope;
mod trace;
mod value;
mod weak;

pub use array::{Array, Bytes, GcVec, OutOfBounds, Str};
pub use cell::{GcCell, Word};
pub use handle::Obj;
pub use marrow_derive::Trace;
pub use root::{Root, RootVec, SharedRoot};
pub use scope::Mutation;
pub use trace::{Rootable, Trace};
pub use value::{Unpacked, Value, MAX_INT, MIN_INT};
pub use weak::{Ephemeron, Guardian, WeakRef};

#[doc(hidden)]
pub use trace::__derive;

pub(crate) use root::{RootRegistry, SharedRootTable};
