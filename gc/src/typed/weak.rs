//! The typed API's weak references, ephemerons, guardians and cleanups
//! (the mechanism, and where each is processed in the cycle, is
//! gc/src/weak.rs).
//!
//! Each weak holder is its own small heap object, registered with the
//! collector when made: [`WeakRef`] (one referent), [`Ephemeron`] (a key
//! and a value kept alive only while the key is), [`Guardian`] (a queue of
//! registered objects found unreachable, resurrected for the program).
//! Reads of a referent, key or value during a mark shade what they
//! return, so that an object handed to the program is never cleared or
//! freed by the mark under way.

use crate::typed::cell::Word;
use crate::typed::handle::Obj;
use crate::typed::scope::Mutation;
use crate::typed::trace::{Rootable, Trace};
use marrow_runtime::{AllocError, Type};
use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A weak reference to an object of type `T`: it does not keep the object
/// alive; once a collection finds the object otherwise unreachable, it
/// reads as `None`. Made by [`Mutation::alloc_weak`].
///
/// Invariant: registered with the collector; `referent` is 0 or the
/// address of a `T` that is alive or will be cleared at the termination
/// that finds it dead (before it is freed).
#[repr(C)]
pub struct WeakRef<T> {
    referent: AtomicUsize,
    _pad: usize,
    _t: PhantomData<T>,
}

/// A key and a value, the value kept alive exactly as long as the key
/// (and the ephemeron) is, however the value refers back to the key. Made
/// by [`Mutation::alloc_ephemeron`]. Once the key dies, both read as
/// `None`.
///
/// Invariant: registered; `key` is 0 (cleared) or a live `K`; `value`
/// holds a `V` while the key is set.
#[repr(C)]
pub struct Ephemeron<K, V> {
    key: AtomicUsize,
    value: AtomicUsize,
    _t: PhantomData<(K, V)>,
}

/// A guardian (Chez Scheme's): objects registered with it are, once
/// unreachable, kept alive and handed back by [`Obj::poll`] (once per
/// registration), so the program can release what they hold or resurrect
/// them. A guardian that dies forgets its objects. Made by
/// [`Mutation::alloc_guardian`].
#[repr(C)]
pub struct Guardian<T> {
    _id: [usize; 2],
    _t: PhantomData<T>,
}

macro_rules! weak_holder {
    ($ty:ident <$($p:ident),*>) => {
        // SAFETY: a weak holder's words are not pointers the collector
        // follows (that is the point); the collector finds it through its
        // registration. No drop glue; atomics only.
        unsafe impl<$($p: Trace),*> Trace for $ty<$($p),*> {
            const POINTER_WORDS: u64 = 0;
            type Static = $ty<$($p::Static),*>;
            fn heap_type() -> &'static Type {
                <u8 as Trace>::heap_type()
            }
        }
        // SAFETY: changes the brands of the parameters only.
        unsafe impl<$($p: Rootable),*> Rootable for $ty<$($p),*> {
            type At<'gc> = $ty<$($p::At<'gc>),*>;
        }
        impl<$($p),*> fmt::Debug for $ty<$($p),*> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($ty))
            }
        }
    };
}

weak_holder!(WeakRef<T>);
weak_holder!(Ephemeron<K, V>);
weak_holder!(Guardian<T>);

impl<'gc> Mutation<'gc> {
    /// A fresh, zeroed two-word no-scan object (never packed by the tiny
    /// allocator: weak holders need their own mark bit).
    fn alloc_holder<H>(&self) -> Result<Obj<'gc, H>, AllocError> {
        debug_assert!(size_of::<H>() == 16);
        let p: NonNull<u8> = self.alloc_raw(16, <u8 as Trace>::heap_type())?;
        // SAFETY: 16 fresh zeroed bytes, 8-aligned; `H` is two atomic or
        // plain words, valid when zero. Allocated in this scope.
        Ok(unsafe { Obj::from_ptr(p.cast()) })
    }

    /// A weak reference to `target`.
    pub fn alloc_weak<T: Trace + 'gc>(&self, target: Obj<'gc, T>) -> Result<Obj<'gc, WeakRef<T>>, AllocError> {
        let w: Obj<'gc, WeakRef<T>> = self.alloc_holder()?;
        w.referent.store(target.addr(), Ordering::Release);
        self.mutator().core.weak.add_weak_ref(w.addr());
        Ok(w)
    }

    /// An ephemeron: `value` kept alive while `key` is.
    pub fn alloc_ephemeron<K: Trace + 'gc, V: Word<'gc>>(
        &self,
        key: Obj<'gc, K>,
        value: V,
    ) -> Result<Obj<'gc, Ephemeron<K, V>>, AllocError> {
        let e: Obj<'gc, Ephemeron<K, V>> = self.alloc_holder()?;
        e.key.store(key.addr(), Ordering::Relaxed);
        e.value.store(value.to_word(), Ordering::Release);
        self.mutator().core.weak.add_ephemeron(e.addr());
        Ok(e)
    }

    /// A guardian for objects of type `T`.
    pub fn alloc_guardian<T: Trace + 'gc>(&self) -> Result<Obj<'gc, Guardian<T>>, AllocError> {
        self.alloc_holder()
    }

    /// Runs `f` after `obj` has died (Go's `runtime.AddCleanup`). `f`
    /// cannot reach the object; it runs on a mutator thread, outside any
    /// pause (see [`crate::Mutator::run_cleanups`]).
    pub fn add_cleanup<T: Trace + 'gc>(&self, obj: Obj<'gc, T>, f: impl FnOnce() + Send + 'static) {
        self.mutator().core.weak.add_cleanup(obj.addr(), Box::new(f));
    }
}

impl<'gc, T: Trace + 'gc> Obj<'gc, WeakRef<T>> {
    /// The referent, if it is alive (shaded if a mark is under way).
    #[inline]
    pub fn get(self, mc: &Mutation<'gc>) -> Option<Obj<'gc, T>> {
        let w = self.referent.load(Ordering::Acquire);
        if w == 0 {
            return None;
        }
        mc.shade(w);
        // SAFETY: a non-zero referent is a live `T` (type invariant): it
        // is cleared at the termination that finds it dead, before the
        // sweep, and it is now shaded for any mark under way.
        Some(unsafe { <Obj<'gc, T> as Word<'gc>>::from_word(w) })
    }

    /// Points the reference at `target` (or clears it).
    pub fn set(self, mc: &Mutation<'gc>, target: Option<Obj<'gc, T>>) {
        // Through the barrier: the old referent may be reachable only
        // from here for a mark under way that read it.
        mc.write_word(&self.referent, target.map_or(0, Obj::addr));
    }
}

impl<'gc, K: Trace + 'gc, V: Word<'gc>> Obj<'gc, Ephemeron<K, V>> {
    /// The key, if it is alive (shaded if a mark is under way).
    pub fn key(self, mc: &Mutation<'gc>) -> Option<Obj<'gc, K>> {
        let k = self.key.load(Ordering::Acquire);
        if k == 0 {
            return None;
        }
        mc.shade(k);
        // SAFETY: a non-zero key is a live `K` (type invariant).
        Some(unsafe { <Obj<'gc, K> as Word<'gc>>::from_word(k) })
    }

    /// The value, if the key is alive (shaded if a mark is under way).
    pub fn value(self, mc: &Mutation<'gc>) -> Option<V> {
        self.key(mc)?;
        let v = self.value.load(Ordering::Acquire);
        mc.shade(v);
        // SAFETY: while the key is set, the value holds a live `V`.
        Some(unsafe { V::from_word(v) })
    }

    /// Replaces the value (through the write barrier); false if the key
    /// has died (the ephemeron is cleared and stays so).
    pub fn set_value(self, mc: &Mutation<'gc>, v: V) -> bool {
        if self.key.load(Ordering::Acquire) == 0 {
            return false;
        }
        mc.write_word(&self.value, v.to_word());
        true
    }
}

impl<'gc, T: Trace + 'gc> Obj<'gc, Guardian<T>> {
    /// Registers `obj`: once it is unreachable, it comes back from
    /// [`Obj::poll`] (once for each registration).
    pub fn register(self, mc: &Mutation<'gc>, obj: Obj<'gc, T>) {
        mc.mutator().core.weak.guard(obj.addr(), self.addr());
    }

    /// The next registered object found unreachable, if any.
    pub fn poll(self, mc: &Mutation<'gc>) -> Option<Obj<'gc, T>> {
        let obj = mc.mutator().core.weak.poll_guardian(self.addr())?;
        // SAFETY: the object was registered as a `T` of this heap and has
        // been kept alive (a root) since it was found unreachable; it is
        // alive for this scope (and marked for any mark under way, having
        // been a root when it began).
        Some(unsafe { <Obj<'gc, T> as Word<'gc>>::from_word(obj) })
    }
}
