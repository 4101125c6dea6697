//! Tagged 64-bit values: the representation of every Scheme value.
//!
//! Low bits of a word (the heap's tag rule is "even and non-zero = pointer"):
//!
//! | pattern        | meaning                                              |
//! |----------------|------------------------------------------------------|
//! | `...000`       | pointer to a headered heap object (see heap.rs)      |
//! | `...010`       | pointer + 2 to a pair (two words, no header)         |
//! | `...100`       | pointer + 4 to a flonum (8 bytes, no-scan, tiny)     |
//! | `...x01`       | fixnum: 62-bit signed integer `n << 2 | 1`          |
//! | `..00011`      | special constant: `#f #t () unspecified eof ...`     |
//! | `..01011`      | primitive procedure: index into the builtin table    |
//! | `...111`       | character: code point `c << 3 | 7`                   |
//!
//! Object headers are odd words (`len << 8 | kind << 1 | 1`), so the
//! collector never mistakes a header for a pointer.

/// A Scheme value. Invariant: a pointer-tagged value was produced by the
/// allocator in heap.rs and is kept alive by the VM's roots while in use.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Value(pub(crate) usize);

/// `#f`.
pub const FALSE: Value = Value(0x003);
/// `#t`.
pub const TRUE: Value = Value(0x103);
/// The empty list.
pub const NIL: Value = Value(0x203);
/// The unspecified value (printed as nothing by the REPL).
pub const UNSPEC: Value = Value(0x303);
/// The eof object.
pub const EOF: Value = Value(0x403);
/// The default object (missing optional arguments).
pub const DEFAULT: Value = Value(0x503);
/// Marks an unbound global or an uninitialised letrec variable.
pub const UNBOUND: Value = Value(0x603);
/// A private "not found" marker for table lookups.
pub const ABSENT: Value = Value(0x703);

/// Smallest fixnum.
pub const FIX_MIN: i64 = -(1 << 61);
/// Largest fixnum.
pub const FIX_MAX: i64 = (1 << 61) - 1;

impl Value {
    /// The raw word.
    #[inline(always)]
    pub fn raw(self) -> usize {
        self.0
    }

    /// A fixnum; the caller guarantees `FIX_MIN <= n <= FIX_MAX`.
    #[inline(always)]
    pub fn fix(n: i64) -> Value {
        debug_assert!((FIX_MIN..=FIX_MAX).contains(&n));
        Value(((n << 2) | 1) as usize)
    }
    /// Whether `n` fits a fixnum.
    #[inline(always)]
    pub fn fits_fix(n: i64) -> bool {
        (FIX_MIN..=FIX_MAX).contains(&n)
    }
    #[inline(always)]
    pub fn is_fix(self) -> bool {
        self.0 & 3 == 1
    }
    /// The fixnum's integer (only meaningful when `is_fix`).
    #[inline(always)]
    pub fn fixval(self) -> i64 {
        (self.0 as i64) >> 2
    }
    #[inline(always)]
    pub fn as_fix(self) -> Option<i64> {
        if self.is_fix() {
            Some(self.fixval())
        } else {
            None
        }
    }
    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        if b {
            TRUE
        } else {
            FALSE
        }
    }
    #[inline(always)]
    pub fn is_true(self) -> bool {
        self != FALSE
    }
    #[inline(always)]
    pub fn chr(c: char) -> Value {
        Value(((c as usize) << 3) | 7)
    }
    #[inline(always)]
    pub fn is_char(self) -> bool {
        self.0 & 7 == 7
    }
    pub fn as_char(self) -> Option<char> {
        if self.is_char() {
            char::from_u32((self.0 >> 3) as u32)
        } else {
            None
        }
    }
    #[inline(always)]
    pub fn prim(idx: usize) -> Value {
        Value((idx << 8) | 0x0B)
    }
    #[inline(always)]
    pub fn is_prim(self) -> bool {
        self.0 & 0xFF == 0x0B
    }
    #[inline(always)]
    pub fn prim_index(self) -> usize {
        self.0 >> 8
    }
    /// A pointer to a headered object.
    #[inline(always)]
    pub fn is_obj(self) -> bool {
        self.0 & 7 == 0 && self.0 != 0
    }
    #[inline(always)]
    pub fn is_pair(self) -> bool {
        self.0 & 7 == 2
    }
    #[inline(always)]
    pub fn is_flonum(self) -> bool {
        self.0 & 7 == 4
    }
    #[inline(always)]
    pub fn is_null(self) -> bool {
        self == NIL
    }
    /// Whether the word is an immediate (never a heap pointer).
    #[inline(always)]
    pub fn is_immediate(self) -> bool {
        self.0 & 1 == 1
    }
}
