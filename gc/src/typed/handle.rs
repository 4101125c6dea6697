//! [`Obj`]: the unrooted, branded handle to a heap object.
//!
//! An `Obj<'gc, T>` is a bare pointer: copying it, passing it and reading
//! through it cost what a pointer costs. It is valid because of where it
//! can exist, not because anything keeps it alive: `'gc` is the brand of
//! one [`crate::typed::Mutation`] scope, invariant, so a handle cannot be
//! returned from the scope, stored in a longer-lived variable, or mixed
//! with the handles of another scope; and while a mutator is inside a
//! scope the collector cannot free anything (it may mark, but freeing
//! needs a completed mark, whose termination stops the world, and the
//! world cannot stop until every mutator has left its scope). Handles are
//! neither `Send` nor `Sync`: the scope is a property of this thread.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

/// Makes a type invariant in `'gc` (without making it `!Send`).
pub(crate) type Invariant<'gc> = PhantomData<fn(&'gc ()) -> &'gc ()>;

/// Makes a type `!Send` and `!Sync`.
pub(crate) type ThreadBound = PhantomData<*const ()>;

/// A handle to a heap object of type `T`, valid for the scope `'gc`.
///
/// Made by [`crate::typed::Mutation::alloc`] or read from a heap field or
/// a root. Dereferences to `&T`; `Obj::into_ref(o)` gives the reference
/// for the whole scope. Equality and hashing are by identity (address).
///
/// Invariant: `ptr` points to a live, initialised `T` in the heap of the
/// scope `'gc`, allocated with `T`'s layout.
pub struct Obj<'gc, T> {
    ptr: NonNull<T>,
    _brand: Invariant<'gc>,
    _local: ThreadBound,
}

impl<'gc, T> Obj<'gc, T> {
    /// A handle to the object at `ptr`.
    ///
    /// # Safety
    /// `ptr` points to a live, initialised `T` in the heap of the scope
    /// `'gc`, allocated with `T`'s layout, and reachable (or allocated in
    /// this scope) so that it stays alive for the scope.
    #[inline(always)]
    pub(crate) unsafe fn from_ptr(ptr: NonNull<T>) -> Obj<'gc, T> {
        Obj {
            ptr,
            _brand: PhantomData,
            _local: PhantomData,
        }
    }

    /// The object, for the whole scope (`Obj::into_ref(o)`; `*o` gives a
    /// reference as long as the handle variable).
    #[inline(always)]
    pub fn into_ref(this: Obj<'gc, T>) -> &'gc T {
        // SAFETY: the object is live for the scope 'gc (type invariant),
        // and the heap hands out shared references only (mutation goes
        // through atomics).
        unsafe { this.ptr.as_ref() }
    }

    /// The object's address: its identity, stable for its life.
    #[inline(always)]
    pub fn addr(self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The raw pointer (for the typed API's containers).
    #[inline(always)]
    pub(crate) fn as_ptr(self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// Whether two handles are the same object.
    #[inline(always)]
    pub fn ptr_eq(a: Obj<'gc, T>, b: Obj<'gc, T>) -> bool {
        a.ptr == b.ptr
    }
}

impl<T> Clone for Obj<'_, T> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Obj<'_, T> {}

impl<T> Deref for Obj<'_, T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: as in `into_ref`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> PartialEq for Obj<'_, T> {
    #[inline(always)]
    fn eq(&self, other: &Self) -> bool {
        self.ptr == other.ptr
    }
}

impl<T> Eq for Obj<'_, T> {}

impl<T> Hash for Obj<'_, T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ptr.hash(state)
    }
}

impl<T> fmt::Debug for Obj<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Obj<{}>({:#x})", std::any::type_name::<T>(), self.addr())
    }
}
