//! [`Value`]: one word that is nil, a boolean, a float, an integer or a
//! handle, for dynamically typed VMs.
//!
//! The encoding is JavaScriptCore's (NaN-boxing with the offset on the
//! floats, not on the pointers), so that a handle is its plain address
//! and the collector recognises it like any other pointer word:
//!
//! | word (64 bits)                          | value                              |
//! |-----------------------------------------|------------------------------------|
//! | `0`                                     | nil (so zeroed memory reads as nil)|
//! | `0x06`, `0x07`                          | false, true                        |
//! | top 16 bits 0, low 3 bits 0, not 0      | a handle (an 8-byte-aligned address below 2^48) |
//! | `0x0002_...` to `0xFFFA_...`            | a float: its bits plus 2^49 (NaNs made canonical first, keeping their sign) |
//! | top 16 bits `0xFFFF`                    | a 48-bit signed integer            |
//!
//! Adding 2^49 moves every float (whose bits are at most `0xFFF8...`, the
//! negative quiet NaN, once NaNs are canonical) out of the range of
//! addresses and away from the integer tag, so the three kinds never overlap and a float can
//! never be mistaken for a heap pointer: the collector, which checks
//! every pointer word against the heap, sees floats and integers as words
//! outside it. Floats are unboxed: arithmetic allocates nothing.

use crate::typed::cell::Word;
use crate::typed::handle::Obj;
use crate::typed::trace::{pointer_word_type, Rootable, Trace};
use marrow_runtime::Type;
use std::fmt;
use std::marker::PhantomData;

const FALSE: usize = 0x06;
const TRUE: usize = 0x07;
const DOUBLE_OFFSET: usize = 1 << 49;
const INT_TAG: usize = 0xFFFF << 48;
/// The quiet NaN; NaN payloads are dropped, the sign is kept.
const CANONICAL_NAN: u64 = 0x7FF8_0000_0000_0000;
/// Bits that are zero in every handle.
const NOT_POINTER: usize = INT_TAG | 7;

/// The largest integer a [`Value`] holds (2^47 - 1).
pub const MAX_INT: i64 = (1 << 47) - 1;
/// The smallest integer a [`Value`] holds (-2^47).
pub const MIN_INT: i64 = -(1 << 47);

/// A dynamically typed value whose objects are of type `T` (a VM's object
/// type, typically an enum of its kinds of object): nil, a boolean, a
/// float, a 48-bit integer or an [`Obj`]. One word; see the module
/// documentation for the encoding.
///
/// Invariant: `word` is one of the encodings above, and a handle word is
/// the address of a live `T` of the scope `'gc`.
pub struct Value<'gc, T> {
    word: usize,
    _t: PhantomData<Obj<'gc, T>>,
}

/// A [`Value`] taken apart, for `match`.
pub enum Unpacked<'gc, T> {
    /// Nil.
    Nil,
    /// A boolean.
    Bool(bool),
    /// A 48-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// An object.
    Obj(Obj<'gc, T>),
}

impl<T> fmt::Debug for Unpacked<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unpacked::Nil => write!(f, "Nil"),
            Unpacked::Bool(b) => write!(f, "Bool({b})"),
            Unpacked::Int(i) => write!(f, "Int({i})"),
            Unpacked::Float(x) => write!(f, "Float({x:?})"),
            Unpacked::Obj(o) => write!(f, "Obj({o:?})"),
        }
    }
}

impl<'gc, T> Value<'gc, T> {
    /// Nil.
    pub const NIL: Value<'gc, T> = Value::from_word_unchecked(0);

    const fn from_word_unchecked(word: usize) -> Value<'gc, T> {
        Value { word, _t: PhantomData }
    }

    /// A boolean.
    #[inline(always)]
    pub fn bool(b: bool) -> Value<'gc, T> {
        Value::from_word_unchecked(if b { TRUE } else { FALSE })
    }

    /// A float (a NaN becomes the quiet NaN of its sign).
    #[inline(always)]
    pub fn float(f: f64) -> Value<'gc, T> {
        let bits = if f.is_nan() {
            CANONICAL_NAN | (f.to_bits() & (1 << 63))
        } else {
            f.to_bits()
        };
        Value::from_word_unchecked(bits as usize + DOUBLE_OFFSET)
    }

    /// An integer, if it fits in 48 bits ([`MIN_INT`] to [`MAX_INT`]).
    #[inline(always)]
    pub fn int(i: i64) -> Option<Value<'gc, T>> {
        (MIN_INT..=MAX_INT)
            .contains(&i)
            .then(|| Value::from_word_unchecked(INT_TAG | (i as usize & ((1 << 48) - 1))))
    }

    /// An object.
    #[inline(always)]
    pub fn obj(o: Obj<'gc, T>) -> Value<'gc, T> {
        let w = o.addr();
        debug_assert_eq!(w & NOT_POINTER, 0, "heap addresses are aligned and below 2^48");
        Value::from_word_unchecked(w)
    }

    /// Whether it is nil.
    #[inline(always)]
    pub fn is_nil(self) -> bool {
        self.word == 0
    }

    /// The boolean, if it is one.
    #[inline(always)]
    pub fn as_bool(self) -> Option<bool> {
        match self.word {
            TRUE => Some(true),
            FALSE => Some(false),
            _ => None,
        }
    }

    /// Whether it is a float.
    #[inline(always)]
    pub fn is_float(self) -> bool {
        self.word.wrapping_sub(DOUBLE_OFFSET) < INT_TAG - DOUBLE_OFFSET
    }

    /// The float, if it is one.
    #[inline(always)]
    pub fn as_float(self) -> Option<f64> {
        self.is_float()
            .then(|| f64::from_bits((self.word - DOUBLE_OFFSET) as u64))
    }

    /// The integer, if it is one.
    #[inline(always)]
    pub fn as_int(self) -> Option<i64> {
        (self.word & INT_TAG == INT_TAG).then_some(((self.word << 16) as i64) >> 16)
    }

    /// Whether it is an object.
    #[inline(always)]
    pub fn is_obj(self) -> bool {
        self.word & NOT_POINTER == 0 && self.word != 0
    }

    /// The object, if it is one.
    #[inline(always)]
    pub fn as_obj(self) -> Option<Obj<'gc, T>>
    where
        T: Trace + 'gc,
    {
        if self.is_obj() {
            // SAFETY: a handle word is the address of a live `T` of this
            // scope (type invariant).
            Some(unsafe { <Obj<'gc, T> as Word<'gc>>::from_word(self.word) })
        } else {
            None
        }
    }

    /// Taken apart.
    #[inline(always)]
    pub fn unpack(self) -> Unpacked<'gc, T>
    where
        T: Trace + 'gc,
    {
        if let Some(o) = self.as_obj() {
            Unpacked::Obj(o)
        } else if let Some(f) = self.as_float() {
            Unpacked::Float(f)
        } else if let Some(i) = self.as_int() {
            Unpacked::Int(i)
        } else if let Some(b) = self.as_bool() {
            Unpacked::Bool(b)
        } else {
            Unpacked::Nil
        }
    }

    /// Whether two values are the same word: the same object, the same
    /// immediate, or floats with the same bits (so NaN is identical to
    /// itself and 0.0 is not -0.0; numeric equality is the VM's to define).
    #[inline(always)]
    pub fn identical(self, other: Value<'gc, T>) -> bool {
        self.word == other.word
    }

    /// The encoded word (for hashing by identity).
    #[inline(always)]
    pub fn bits(self) -> u64 {
        self.word as u64
    }
}

impl<T> Clone for Value<'_, T> {
    #[inline(always)]
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Value<'_, T> {}

impl<T> Default for Value<'_, T> {
    fn default() -> Self {
        Value::NIL
    }
}

impl<'gc, T> From<Obj<'gc, T>> for Value<'gc, T> {
    fn from(o: Obj<'gc, T>) -> Self {
        Value::obj(o)
    }
}

impl<T> From<f64> for Value<'_, T> {
    fn from(f: f64) -> Self {
        Value::float(f)
    }
}

impl<T> From<bool> for Value<'_, T> {
    fn from(b: bool) -> Self {
        Value::bool(b)
    }
}

impl<'gc, T: Trace + 'gc> fmt::Debug for Value<'gc, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.unpack().fmt(f)
    }
}

// SAFETY: one word, which may be a pointer; `Static`/`At` change the
// brand only.
unsafe impl<T: Trace> Trace for Value<'_, T> {
    const POINTER_WORDS: u64 = 1;
    type Static = Value<'static, T::Static>;
    fn heap_type() -> &'static Type {
        pointer_word_type()
    }
}

// SAFETY: as above.
unsafe impl<R: Rootable> Rootable for Value<'static, R> {
    type At<'gc> = Value<'gc, R::At<'gc>>;
}

// SAFETY: the word round-trips; `from_word` is given words of values of
// this type whose objects are alive (contract).
unsafe impl<'gc, T: Trace + 'gc> Word<'gc> for Value<'gc, T> {
    #[inline(always)]
    fn to_word(self) -> usize {
        self.word
    }
    #[inline(always)]
    unsafe fn from_word(w: usize) -> Self {
        Value::from_word_unchecked(w)
    }
}
