//! Mutable heap words: [`Word`] and [`GcCell`].
//!
//! Heap objects are shared: markers on other threads read their pointer
//! words while the mutator runs, and an object handed over through a
//! shared root is read by two mutators. So nothing in the heap is mutated
//! through a plain `&mut`: a field that changes is a [`GcCell`], one word
//! accessed atomically: a plain `mov` on x86-64 (an acquire load and a
//! release store for handles, so that a thread that reads a handle also
//! sees the object's initialisation; relaxed for numbers). Its [`GcCell::set`] takes the scope's
//! [`Mutation`], because a store of a pointer is where the write barrier
//! runs (see `gc/src/mutator.rs`): while marking, the old value is
//! recorded first, so no object reachable when marking started can be
//! hidden from the collector. That is the only way to store a pointer into
//! the typed heap, so no store can skip the barrier; a store of a value
//! with no pointer words (a number) skips it at compile time.

use crate::typed::handle::Obj;
use crate::typed::scope::Mutation;
use crate::typed::trace::{Rootable, Trace};
use marrow_runtime::Type;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

/// A value that is one machine word and can be stored in a [`GcCell`] or
/// an array: numbers, `bool`, `char`, [`Obj`], `Option<Obj>` and
/// [`crate::typed::Value`]. `'gc` is the brand of the handles it holds
/// (any, for a number).
///
/// # Safety
/// `from_word(to_word(v))` is `v`; `POINTER_WORDS` is 1 if the word may be
/// a heap pointer and 0 otherwise; the type is at most 8 bytes.
pub unsafe trait Word<'gc>: Trace + Copy + 'gc {
    /// The word that represents `self`.
    fn to_word(self) -> usize;
    /// The value a word represents.
    ///
    /// # Safety
    /// `w` came from `to_word` of a value of this type, at this brand or
    /// one whose objects are still alive (a rooted copy).
    unsafe fn from_word(w: usize) -> Self;
}

macro_rules! word_int {
    ($($t:ty),*) => {$(
        // SAFETY: an integer of at most 64 bits round-trips through usize.
        unsafe impl<'gc> Word<'gc> for $t {
            #[inline(always)]
            fn to_word(self) -> usize {
                self as usize
            }
            #[inline(always)]
            unsafe fn from_word(w: usize) -> Self {
                w as $t
            }
        }
    )*};
}

word_int!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

// SAFETY: the bits round-trip.
unsafe impl<'gc> Word<'gc> for f64 {
    #[inline(always)]
    fn to_word(self) -> usize {
        self.to_bits() as usize
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        f64::from_bits(w as u64)
    }
}

// SAFETY: 0 or 1 round-trips.
unsafe impl<'gc> Word<'gc> for bool {
    #[inline(always)]
    fn to_word(self) -> usize {
        self as usize
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        w != 0
    }
}

// SAFETY: a char's scalar value round-trips; `from_word` is only given
// words made by `to_word`.
unsafe impl<'gc> Word<'gc> for char {
    #[inline(always)]
    fn to_word(self) -> usize {
        self as usize
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        char::from_u32(w as u32).unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

// SAFETY: a handle is its address; `from_word` is given addresses of live
// objects of this type (contract).
unsafe impl<'gc, T: Trace + 'gc> Word<'gc> for Obj<'gc, T> {
    #[inline(always)]
    fn to_word(self) -> usize {
        self.addr()
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        // SAFETY: `w` is the non-null address of a live `T` (contract).
        unsafe { Obj::from_ptr(std::ptr::NonNull::new_unchecked(w as *mut T)) }
    }
}

// SAFETY: `None` is 0, `Some` its address.
unsafe impl<'gc, T: Trace + 'gc> Word<'gc> for Option<Obj<'gc, T>> {
    #[inline(always)]
    fn to_word(self) -> usize {
        self.map_or(0, Obj::addr)
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        // SAFETY: a non-zero `w` is the address of a live `T` (contract).
        std::ptr::NonNull::new(w as *mut T).map(|p| unsafe { Obj::from_ptr(p) })
    }
}

/// A mutable heap word holding a `T` ([`Word`]): reads are a load, and
/// stores go through the write barrier.
///
/// Invariant: `word` holds `to_word` of a `T`.
#[repr(transparent)]
pub struct GcCell<T> {
    word: AtomicUsize,
    _t: PhantomData<T>,
}

impl<T> GcCell<T> {
    /// A cell holding `v`, to be moved into a new object.
    #[inline(always)]
    pub fn new<'gc>(v: T) -> GcCell<T>
    where
        T: Word<'gc>,
    {
        GcCell {
            word: AtomicUsize::new(v.to_word()),
            _t: PhantomData,
        }
    }

    /// The value.
    #[inline(always)]
    pub fn get<'gc>(&self) -> T
    where
        T: Word<'gc>,
    {
        // Acquire pairs with the Release of `set`: a handle read here
        // comes with the initialisation of its object (Relaxed for numbers).
        let w = if T::POINTER_WORDS != 0 {
            self.word.load(Acquire)
        } else {
            self.word.load(Relaxed)
        };
        // SAFETY: the word was stored from a `T` (type invariant); a cell
        // holding handles of brand 'gc is only reachable in that scope, or
        // through a root that keeps its objects alive.
        unsafe { T::from_word(w) }
    }

    /// Stores `v`, through the write barrier if `T` may hold a pointer.
    #[inline(always)]
    pub fn set<'gc>(&self, mc: &Mutation<'gc>, v: T)
    where
        T: Word<'gc>,
    {
        if T::POINTER_WORDS != 0 {
            mc.write_word(&self.word, v.to_word());
        } else {
            self.word.store(v.to_word(), Relaxed);
        }
    }
}

// SAFETY: one word, a pointer word iff `T`'s is (`T` is a `Word`, checked
// to be one word where the mask is computed); no drop glue.
unsafe impl<T: Trace> Trace for GcCell<T> {
    const POINTER_WORDS: u64 = {
        assert!(size_of::<T>() <= 8, "marrow: a GcCell holds one word");
        if T::POINTER_WORDS != 0 {
            1
        } else {
            0
        }
    };
    type Static = GcCell<T::Static>;
    fn heap_type() -> &'static Type {
        if Self::POINTER_WORDS != 0 {
            crate::typed::trace::pointer_word_type()
        } else {
            <u64 as Trace>::heap_type()
        }
    }
}

// SAFETY: changes the brand of `R` only.
unsafe impl<R: Rootable> Rootable for GcCell<R> {
    type At<'gc> = GcCell<R::At<'gc>>;
}

impl<T> fmt::Debug for GcCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcCell({:#x})", self.word.load(Relaxed))
    }
}
