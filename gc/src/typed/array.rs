//! Variable-sized objects: [`Array`] (a fixed number of one-word
//! elements), [`GcVec`] (a growable vector of them) and [`Bytes`] /
//! [`Str`] (immutable byte and UTF-8 strings).
//!
//! An object's size is not recorded by the heap exactly (it is rounded to
//! a size class), so each of these keeps its length in its first word.
//! Array elements are one-word values ([`Word`]) held in atomic words, like
//! [`crate::typed::GcCell`]: stores of pointers go through the write
//! barrier. An array's first word is marked as a pointer word too, so the
//! whole object is one repeated "pointer word" layout; the length there is
//! a small integer, which the collector finds outside the heap and
//! ignores.
//!
//! The elements are reached through the handle (`Obj<'gc, Array<T>>`),
//! whose pointer covers the whole object; `&Array<T>` covers only the
//! length word.
//!
//! A [`GcVec`] is not synchronised: a vector handed to several threads
//! needs a lock of the program's own to be used coherently (racing pushes
//! may lose elements), though never unsafely (every access is bounds
//! checked against the buffer it reads).

use crate::typed::cell::Word;
use crate::typed::handle::Obj;
use crate::typed::scope::Mutation;
use crate::typed::trace::{pointer_word_type, Rootable, Trace};
use marrow_runtime::{AllocError, Type};
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An index past the end of an array or vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    /// The index asked for.
    pub index: usize,
    /// The length.
    pub len: usize,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "index {} out of bounds for length {}", self.index, self.len)
    }
}

impl std::error::Error for OutOfBounds {}

/// A heap array of `len` one-word elements of type `T` (a [`Word`]).
/// Made by [`Mutation::alloc_array`]; used through its handle.
///
/// Invariant: the object is `len + 1` words; words 1..=len hold
/// `to_word` of `T`s, except in a [`GcVec`]'s buffer (never handed out),
/// whose words at and beyond the vector's length are 0.
#[repr(C)]
pub struct Array<T> {
    len: usize,
    _t: PhantomData<T>,
}

impl<T> Array<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

// SAFETY: the struct itself is the length word (no pointer); arrays are
// allocated only by `alloc_array`, which describes every word, and values
// of `Array` cannot be made otherwise; no drop glue.
unsafe impl<T: Trace> Trace for Array<T> {
    const POINTER_WORDS: u64 = 0;
    type Static = Array<T::Static>;
    fn heap_type() -> &'static Type {
        <usize as Trace>::heap_type()
    }
}

// SAFETY: changes the brand of the elements only.
unsafe impl<R: Rootable> Rootable for Array<R> {
    type At<'gc> = Array<R::At<'gc>>;
}

impl<'gc, T: Word<'gc>> Obj<'gc, Array<T>> {
    /// The element words.
    fn words(self) -> *const AtomicUsize {
        // SAFETY: word 1 is inside the object (it has len + 1 words, and
        // word 1 is one past the end when len is 0, which is only formed,
        // never read).
        unsafe { (self.as_ptr() as *const AtomicUsize).add(1) }
    }

    /// Element `i`.
    #[inline]
    pub fn get(self, i: usize) -> Option<T> {
        if i >= self.len {
            return None;
        }
        // SAFETY: `i < len`, so the word is an element (type invariant),
        // holding a `T` whose objects are alive in this scope.
        let w = unsafe { &*self.words().add(i) }.load(Ordering::Acquire);
        // SAFETY: as above.
        Some(unsafe { T::from_word(w) })
    }

    /// Stores `v` as element `i`, through the write barrier.
    #[inline]
    pub fn set(self, mc: &Mutation<'gc>, i: usize, v: T) -> Result<(), OutOfBounds> {
        if i >= self.len {
            return Err(OutOfBounds {
                index: i,
                len: self.len,
            });
        }
        self.store_word(mc, i, v.to_word());
        Ok(())
    }

    /// Stores word `w` as element `i < len`, through the write barrier if
    /// `T` may hold pointers.
    fn store_word(self, mc: &Mutation<'gc>, i: usize, w: usize) {
        debug_assert!(i < self.len);
        // SAFETY: `i < len` (callers check): an element word.
        let slot = unsafe { &*self.words().add(i) };
        if T::POINTER_WORDS != 0 {
            mc.write_word(slot, w);
        } else {
            slot.store(w, Ordering::Relaxed);
        }
    }
}

impl<'gc> Mutation<'gc> {
    /// Allocates an array of `len` elements, each `fill`.
    pub fn alloc_array<T: Word<'gc>>(&self, len: usize, fill: T) -> Result<Obj<'gc, Array<T>>, AllocError> {
        self.alloc_array_words(len, fill.to_word())
    }

    /// Allocates an array of `len` elements whose words are `w`: a `T`'s
    /// word, or 0 for a vector's buffer (see the invariant of [`Array`]).
    fn alloc_array_words<T: Word<'gc>>(&self, len: usize, w: usize) -> Result<Obj<'gc, Array<T>>, AllocError> {
        let words = len.checked_add(1).ok_or(AllocError::Overflow {
            count: len,
            elem_size: 8,
        })?;
        let size = words.checked_mul(8).ok_or(AllocError::Overflow {
            count: len,
            elem_size: 8,
        })?;
        let t = if T::POINTER_WORDS != 0 {
            pointer_word_type()
        } else {
            <usize as Trace>::heap_type()
        };
        let p = self.alloc_raw(size, t)?;
        let base = p.as_ptr() as *const AtomicUsize;
        // SAFETY: the object is fresh, `len + 1` zeroed words, reachable by
        // nobody else yet; element words are written atomically because
        // markers may read pointer words.
        unsafe {
            (*base).store(len, Ordering::Relaxed);
            if w != 0 {
                for i in 1..=len {
                    (*base.add(i)).store(w, Ordering::Relaxed);
                }
            }
        }
        // SAFETY: initialised as an `Array<T>` of `len` elements (or a
        // vector's buffer), allocated in this scope.
        Ok(unsafe { Obj::from_ptr(p.cast()) })
    }
}

/// A growable heap vector of one-word elements of type `T` (a [`Word`]).
/// Made by [`Mutation::alloc_vec`]; used through its handle.
///
/// Invariant: `buf` is 0 or the address of an `Array<T>` whose length is
/// at least `len`.
#[repr(C)]
pub struct GcVec<T> {
    len: AtomicUsize,
    buf: AtomicUsize,
    _t: PhantomData<T>,
}

// SAFETY: `buf` (word 1) is the only pointer; no drop glue.
unsafe impl<T: Trace> Trace for GcVec<T> {
    const POINTER_WORDS: u64 = 0b10;
    type Static = GcVec<T::Static>;
    fn heap_type() -> &'static Type {
        static T: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
        T.get_or_init(|| Type::from_mask("GcVec", 16, 8, &[0b10]).unwrap_or_else(|e| unreachable!("{e}")))
    }
}

// SAFETY: changes the brand of the elements only.
unsafe impl<R: Rootable> Rootable for GcVec<R> {
    type At<'gc> = GcVec<R::At<'gc>>;
}

impl<T> GcVec<T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'gc, T: Word<'gc>> Obj<'gc, GcVec<T>> {
    /// The buffer, if any.
    fn buf(self) -> Option<Obj<'gc, Array<T>>> {
        // SAFETY: `buf` is 0 or a live `Array<T>` of this heap, reachable
        // through this vector (type invariant).
        unsafe { <Option<Obj<'gc, Array<T>>> as Word<'gc>>::from_word(self.buf.load(Ordering::Acquire)) }
    }

    /// Element `i`.
    #[inline]
    pub fn get(self, i: usize) -> Option<T> {
        if i >= self.len() {
            return None;
        }
        self.buf()?.get(i)
    }

    /// Stores `v` as element `i`.
    pub fn set(self, mc: &Mutation<'gc>, i: usize, v: T) -> Result<(), OutOfBounds> {
        let len = self.len();
        match self.buf() {
            Some(b) if i < len => b.set(mc, i, v),
            _ => Err(OutOfBounds { index: i, len }),
        }
    }

    /// Appends `v`, growing the buffer (doubling) when full.
    pub fn push(self, mc: &Mutation<'gc>, v: T) -> Result<(), AllocError> {
        let len = self.len();
        let buf = match self.buf() {
            Some(b) if b.len > len => b,
            old => {
                let cap = (len * 2).max(4);
                let new = mc.alloc_array_words::<T>(cap, 0)?;
                if let Some(old) = old {
                    for i in 0..len {
                        if let Some(x) = old.get(i) {
                            // In bounds: cap > len.
                            let _ = new.set(mc, i, x);
                        }
                    }
                }
                mc.write_word(&self.buf, new.addr());
                new
            }
        };
        // In bounds: the buffer holds more than `len` elements.
        let _ = buf.set(mc, len, v);
        self.len.store(len + 1, Ordering::Release);
        Ok(())
    }

    /// Removes and returns the last element.
    pub fn pop(self, mc: &Mutation<'gc>) -> Option<T> {
        let len = self.len();
        let buf = self.buf()?;
        let last = len.checked_sub(1)?;
        let v = buf.get(last)?;
        self.len.store(last, Ordering::Release);
        // Clear the slot through the barrier, so the popped object is not
        // kept by the buffer (and a marking cycle still sees it); words
        // beyond the length are 0 (invariant of `Array`).
        buf.store_word(mc, last, 0);
        Some(v)
    }

    /// Shortens the vector to `len` elements (no-op if it is shorter).
    pub fn truncate(self, mc: &Mutation<'gc>, len: usize) {
        while self.len() > len {
            self.pop(mc);
        }
    }
}

impl<'gc> Mutation<'gc> {
    /// Allocates an empty vector.
    pub fn alloc_vec<T: Word<'gc>>(&self) -> Result<Obj<'gc, GcVec<T>>, AllocError> {
        self.alloc(GcVec {
            len: AtomicUsize::new(0),
            buf: AtomicUsize::new(0),
            _t: PhantomData,
        })
    }
}

/// An immutable byte string in the heap. Made by [`Mutation::alloc_bytes`].
///
/// Invariant: the object is a length word followed by `len` bytes.
#[repr(C)]
pub struct Bytes {
    len: usize,
}

/// An immutable UTF-8 string in the heap. Made by [`Mutation::alloc_str`].
///
/// Invariant: as [`Bytes`], and the bytes are UTF-8.
#[repr(C)]
pub struct Str {
    bytes: Bytes,
}

macro_rules! noscan_heap_type {
    ($t:ty) => {
        // SAFETY: no pointers; only `alloc_bytes`/`alloc_str` make these,
        // and values cannot be made otherwise; no drop glue.
        unsafe impl Trace for $t {
            const POINTER_WORDS: u64 = 0;
            type Static = $t;
            fn heap_type() -> &'static Type {
                <u8 as Trace>::heap_type()
            }
        }
        // SAFETY: no brand.
        unsafe impl Rootable for $t {
            type At<'gc> = $t;
        }
    };
}

noscan_heap_type!(Bytes);
noscan_heap_type!(Str);

impl Bytes {
    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Str {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.len == 0
    }
}

impl<'gc> Obj<'gc, Bytes> {
    /// The bytes, for the scope.
    #[inline]
    pub fn as_bytes(self) -> &'gc [u8] {
        // SAFETY: the object is a length word and `len` bytes, written
        // before the handle was made and never changed (type invariant);
        // it lives for the scope.
        unsafe { std::slice::from_raw_parts((self.as_ptr() as *const u8).add(8), self.len) }
    }
}

impl<'gc> Obj<'gc, Str> {
    /// The string, for the scope.
    #[inline]
    pub fn as_str(self) -> &'gc str {
        // SAFETY: as `Bytes::as_bytes`; the bytes are UTF-8 (invariant).
        unsafe {
            let bytes = std::slice::from_raw_parts((self.as_ptr() as *const u8).add(8), self.bytes.len);
            std::str::from_utf8_unchecked(bytes)
        }
    }
}

impl<'gc> Mutation<'gc> {
    /// Copies `bytes` into a new byte string.
    pub fn alloc_bytes(&self, bytes: &[u8]) -> Result<Obj<'gc, Bytes>, AllocError> {
        let p = self.alloc_byte_object(bytes)?;
        // SAFETY: initialised as `Bytes`, allocated in this scope.
        Ok(unsafe { Obj::from_ptr(p.cast()) })
    }

    /// Copies `s` into a new string.
    pub fn alloc_str(&self, s: &str) -> Result<Obj<'gc, Str>, AllocError> {
        let p = self.alloc_byte_object(s.as_bytes())?;
        // SAFETY: initialised as `Str` (UTF-8 bytes), allocated in this scope.
        Ok(unsafe { Obj::from_ptr(p.cast()) })
    }

    fn alloc_byte_object(&self, bytes: &[u8]) -> Result<std::ptr::NonNull<u8>, AllocError> {
        let size = bytes.len().checked_add(8).ok_or(AllocError::Overflow {
            count: bytes.len(),
            elem_size: 1,
        })?;
        let p = self.alloc_raw(size, <u8 as Trace>::heap_type())?;
        // SAFETY: fresh memory of `8 + len` bytes, 8-aligned, unreachable
        // by anyone else; a no-scan object, so no marker reads it.
        unsafe {
            (p.as_ptr() as *mut usize).write(bytes.len());
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.as_ptr().add(8), bytes.len());
        }
        Ok(p)
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes(len {})", self.len)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Str(len {})", self.bytes.len)
    }
}

impl<T> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Array(len {})", self.len)
    }
}

impl<T> fmt::Debug for GcVec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GcVec(len {})", self.len())
    }
}
