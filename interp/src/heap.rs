//! Heap object layouts and the `Obj` accessor layer: every read and write of
//! a Scheme object's words goes through the small functions here, and every
//! allocation through [`Heap`], which owns the collector's [`Mutator`].
//!
//! Layouts (word 0 of a headered object is `len << 8 | kind << 1 | 1`):
//!
//! | kind        | scan? | words after the header                          |
//! |-------------|-------|-------------------------------------------------|
//! | pair        | scan  | (no header) car, cdr; value tag 010            |
//! | flonum      | no    | (no header) f64 bits; value tag 100            |
//! | Vector      | scan  | len elements                                   |
//! | Closure     | scan  | proto index (fixnum), len free variables       |
//! | Box         | scan  | value                                          |
//! | Record      | scan  | rtd, len-1 fields                              |
//! | Values      | scan  | len values (multiple values)                   |
//! | Cont        | scan  | saved registers (fixnums), stack, frames       |
//! | Table       | scan  | weak?=no: kind, count, bucket vector           |
//! | String      | no    | len chars as u32, packed two per word          |
//! | Symbol      | no    | len bytes of UTF-8                             |
//! | Bytevector  | no    | len bytes                                      |
//! | Bignum      | no    | sign word, len u32 limbs packed                |

use crate::value::*;
use marrow_gc::{Mutator, RootSource, RootVisitor};
use marrow_runtime::{AllocError, Type};
use std::ptr::NonNull;

/// Kinds of headered objects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Kind {
    Vector = 1,
    Closure,
    Box,
    Record,
    Rtd,
    Values,
    Cont,
    Table,
    Promise,
    Param,
    Error,
    Port,
    CaseLambda,
    String,
    Symbol,
    Bytevector,
    Bignum,
}

const KINDS: [Kind; 17] = [
    Kind::Vector,
    Kind::Closure,
    Kind::Box,
    Kind::Record,
    Kind::Rtd,
    Kind::Values,
    Kind::Cont,
    Kind::Table,
    Kind::Promise,
    Kind::Param,
    Kind::Error,
    Kind::Port,
    Kind::CaseLambda,
    Kind::String,
    Kind::Symbol,
    Kind::Bytevector,
    Kind::Bignum,
];

/// The header word of an object of `kind` with `len` elements.
#[inline(always)]
pub fn header(kind: Kind, len: usize) -> usize {
    (len << 8) | ((kind as usize) << 1) | 1
}

/// Errors raised by the heap layer and builtins (converted to Scheme
/// conditions by the VM).
#[derive(Debug, Clone)]
pub enum SErr {
    /// An error with a full message (e.g. `car: expected a pair, got 42`).
    Msg(String),
    /// `(error msg irritant ...)`: the message and irritants are on the VM stack
    /// at the given position (so they stay rooted).
    Raise(Value, bool),
    /// The heap could not satisfy an allocation.
    Oom(String),
    /// An error of a kind `file-error?` or `read-error?` recognises
    /// (the kind is stored in the condition's third slot).
    Kinded(String, CondKind),
    /// `(exit code)`.
    Exit(i32),
}

/// Kinds of error conditions the standard's predicates tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CondKind {
    /// A file could not be opened or read (`file-error?`).
    File = 1,
    /// The reader met malformed input (`read-error?`).
    Read = 2,
}

pub type R<T> = Result<T, SErr>;

impl From<AllocError> for SErr {
    fn from(e: AllocError) -> SErr {
        // The runtime's messages for exhaustion already say "out of memory".
        let msg = e.to_string();
        SErr::Oom(if msg.starts_with("out of memory") {
            msg
        } else {
            format!("out of memory: {msg}")
        })
    }
}

/// Every root of the VM, reported to each allocation.
#[derive(Debug, Default)]
pub struct Roots {
    /// The value stack (frames, locals, temporaries).
    pub stack: Vec<Value>,
    /// Global variable values.
    pub globals: Vec<Value>,
    /// Interned symbols and compiled constants (never freed).
    pub perm: Vec<Value>,
    /// Temporaries held by native code across an allocation.
    pub tmp: Vec<Value>,
    /// The symbol table's weak references (two-word no-scan objects whose
    /// word 0 is a symbol): the holders are roots, the symbols are not.
    pub sym_holders: Vec<Value>,
}

fn words(v: &[Value]) -> &[usize] {
    // SAFETY: Value is repr(transparent) over usize.
    unsafe { std::slice::from_raw_parts(v.as_ptr() as *const usize, v.len()) }
}

impl RootSource for Roots {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(words(&self.stack));
        v.visit_slice(words(&self.globals));
        v.visit_slice(words(&self.perm));
        v.visit_slice(words(&self.tmp));
        v.visit_slice(words(&self.sym_holders));
    }
}

/// The allocator side of the VM: the mutator and the type descriptors.
#[derive(Debug)]
pub struct Heap {
    pub m: Mutator,
    pair_ty: Type,
    slot_ty: Type,
    /// `small_ty[w]`: a scan object of exactly `w` pointer words, so small
    /// objects take the allocator's fixed-type fast path (`Mutator::alloc`).
    small_ty: Vec<Type>,
}

/// Largest object (in words, header included) with a fixed type.
const SMALL_WORDS: usize = 8;

#[inline(always)]
fn base(v: Value) -> *mut usize {
    (v.0 & !7) as *mut usize
}

#[inline(always)]
fn nn(v: Value) -> NonNull<u8> {
    // SAFETY: pointer-tagged values are non-zero arena addresses.
    unsafe { NonNull::new_unchecked(base(v) as *mut u8) }
}

/// Reads word `i` of the object `v` points to.
#[inline(always)]
pub fn word(v: Value, i: usize) -> usize {
    // SAFETY: by the Value invariant `v` points to a live object; callers
    // only pass indexes inside it (checked by the kind/length tests above them).
    unsafe { *base(v).add(i) }
}

#[inline(always)]
fn set_raw(v: Value, i: usize, w: usize) {
    // SAFETY: as for `word`; used only for non-pointer words (headers, raw data).
    unsafe { *base(v).add(i) = w }
}

/// The kind of a headered object, or None for other values.
#[inline(always)]
pub fn kind(v: Value) -> Option<Kind> {
    if v.is_obj() {
        let k = (word(v, 0) >> 1) & 0x7F;
        KINDS.get(k.wrapping_sub(1)).copied()
    } else {
        None
    }
}

#[inline(always)]
pub fn is_kind(v: Value, k: Kind) -> bool {
    v.is_obj() && (word(v, 0) & 0xFF) == ((k as usize) << 1 | 1)
}

/// Length field of a headered object.
#[inline(always)]
pub fn len(v: Value) -> usize {
    word(v, 0) >> 8
}

/// Slot `i` (0-based, after the header) of a scan object.
#[inline(always)]
pub fn slot(v: Value, i: usize) -> Value {
    Value(word(v, i + 1))
}

#[inline(always)]
pub fn car(p: Value) -> Value {
    Value(word(p, 0))
}
#[inline(always)]
pub fn cdr(p: Value) -> Value {
    Value(word(p, 1))
}

pub fn flo(v: Value) -> f64 {
    f64::from_bits(word(v, 0) as u64)
}

/// Bytes of a no-scan object's payload (after the header).
pub fn bytes(v: Value) -> &'static [u8] {
    let n = match kind(v) {
        Some(Kind::String) => len(v) * 4,
        Some(Kind::Bignum) => 8 + len(v) * 4,
        _ => len(v),
    };
    // SAFETY: the object is live and its payload holds n bytes; the slice is
    // used before any allocation could free it (the VM keeps it rooted).
    unsafe { std::slice::from_raw_parts(base(v).add(1) as *const u8, n) }
}

pub fn bytes_mut(v: Value) -> &'static mut [u8] {
    let n = len(v);
    // SAFETY: as for `bytes`; bytevectors only, no other reference is live.
    unsafe { std::slice::from_raw_parts_mut(base(v).add(1) as *mut u8, n) }
}

/// Character `i` of a string.
pub fn str_char(s: Value, i: usize) -> char {
    // SAFETY: i < len(s), the payload holds len u32 code points.
    let c = unsafe { *(base(s).add(1) as *const u32).add(i) };
    char::from_u32(c).unwrap_or('\u{FFFD}')
}

pub fn str_set(s: Value, i: usize, c: char) {
    // SAFETY: i < len(s) (checked by callers); no-scan payload.
    unsafe { *(base(s).add(1) as *mut u32).add(i) = c as u32 }
}

/// Rewrites a string in place to hold `text`, cut to the first `cap`
/// characters, where `cap` must not exceed the number of characters the
/// string was allocated with (its payload holds `cap` code points). Nothing
/// is allocated: this is how the VM fills in the message of its preallocated
/// out-of-memory condition while the heap is full.
pub fn refill_string(s: Value, cap: usize, text: &str) {
    let mut n = 0;
    for c in text.chars().take(cap) {
        str_set(s, n, c);
        n += 1;
    }
    set_raw(s, 0, header(Kind::String, n));
}

/// The string's contents as a Rust string.
pub fn string_of(s: Value) -> String {
    (0..len(s)).map(|i| str_char(s, i)).collect()
}

/// A symbol's name.
pub fn sym_name(s: Value) -> &'static str {
    std::str::from_utf8(bytes(s)).unwrap_or("?")
}

/// Walks a list's pairs with Floyd's cycle check: `next` returns the next
/// pair, `Err` once the walk has gone round a cycle.
#[derive(Debug)]
pub struct Walk {
    x: Value,
    slow: Value,
    n: usize,
}

impl Walk {
    pub fn new(l: Value) -> Walk {
        Walk { x: l, slow: l, n: 0 }
    }
    /// The next pair, `Ok(None)` at the end (the rest is then
    /// [`Walk::tail`]), or `Err(Circular)` on a circular list.
    pub fn next_pair(&mut self) -> Result<Option<Value>, Circular> {
        if !self.x.is_pair() {
            return Ok(None);
        }
        let p = self.x;
        self.x = cdr(p);
        self.n += 1;
        if self.n.is_multiple_of(2) {
            self.slow = cdr(self.slow);
            if self.slow == self.x && self.x.is_pair() {
                return Err(Circular);
            }
        }
        Ok(Some(p))
    }
    /// What follows the last pair (`()` for a proper list).
    pub fn tail(&self) -> Value {
        self.x
    }
}

/// A list walk went round a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Circular;

pub fn circular(who: &str) -> SErr {
    SErr::Msg(format!("{who}: circular list"))
}

/// The value of a bignum object.
pub fn big_of(v: Value) -> crate::numbers::Big {
    let (neg, mag) = big_parts(v);
    crate::numbers::Big { neg, mag }
}

/// Bignum limbs and sign.
pub fn big_parts(v: Value) -> (bool, Vec<u32>) {
    let neg = word(v, 1) != 0;
    let n = len(v);
    // SAFETY: a bignum holds n u32 limbs after its sign word.
    let limbs = unsafe { std::slice::from_raw_parts(base(v).add(2) as *const u32, n) };
    (neg, limbs.to_vec())
}

impl Heap {
    pub fn new(m: Mutator) -> Heap {
        Heap {
            m,
            pair_ty: Type::new("pair", 16, 8, &[0, 8]).expect("pair type"),
            slot_ty: Type::new("slot", 8, 8, &[0]).expect("slot type"),
            small_ty: (0..=SMALL_WORDS)
                .map(|w| {
                    let offs: Vec<usize> = (0..w.max(1)).map(|i| i * 8).collect();
                    Type::new("obj", w.max(1) * 8, 8, &offs).expect("object type")
                })
                .collect(),
        }
    }

    /// Stores a pointer-slot word through the write barrier.
    #[inline(always)]
    pub fn write(&mut self, obj: Value, w: usize, val: Value) {
        // SAFETY: obj is a live object and w one of its words (callers check).
        unsafe { self.m.write_ptr(nn(obj), w, val.0) }
    }

    #[inline(always)]
    pub fn set_car(&mut self, p: Value, v: Value) {
        self.write(p, 0, v)
    }
    #[inline(always)]
    pub fn set_cdr(&mut self, p: Value, v: Value) {
        self.write(p, 1, v)
    }
    /// Sets slot `i` (after the header) of a scan object.
    #[inline(always)]
    pub fn set_slot(&mut self, o: Value, i: usize, v: Value) {
        self.write(o, i + 1, v)
    }

    /// A pair; `a` and `b` must be rooted by the caller.
    #[inline(always)]
    pub fn pair(&mut self, roots: &Roots, a: Value, b: Value) -> R<Value> {
        let p = self.m.alloc(&self.pair_ty, roots)?;
        let v = Value(p.as_ptr() as usize | 2);
        self.write(v, 0, a);
        self.write(v, 1, b);
        Ok(v)
    }

    /// A scan object of `n` slots left zeroed (0 is not a pointer to the
    /// collector); the caller must store every slot before the object is
    /// used as a Scheme value.
    #[inline(always)]
    pub fn obj_uninit(&mut self, roots: &Roots, k: Kind, n: usize) -> R<Value> {
        let p = if n < SMALL_WORDS {
            self.m.alloc(&self.small_ty[n + 1], roots)?
        } else {
            self.m.alloc_array(&self.slot_ty, n + 1, roots)?
        };
        let v = Value(p.as_ptr() as usize);
        set_raw(v, 0, header(k, n));
        Ok(v)
    }

    /// A scan object of `n` slots, all set to `fill` (which must be rooted).
    pub fn obj(&mut self, roots: &Roots, k: Kind, n: usize, fill: Value) -> R<Value> {
        let v = self.obj_uninit(roots, k, n)?;
        for i in 0..n {
            self.write(v, i + 1, fill);
        }
        Ok(v)
    }

    /// A no-scan object of `k` with `len` in the header and `nbytes` of payload.
    pub fn raw(&mut self, roots: &Roots, k: Kind, len: usize, nbytes: usize) -> R<Value> {
        let p = self.m.alloc_bytes(8 + nbytes.div_ceil(8) * 8, roots)?;
        let v = Value(p.as_ptr() as usize);
        set_raw(v, 0, header(k, len));
        Ok(v)
    }

    pub fn flonum(&mut self, roots: &Roots, x: f64) -> R<Value> {
        let p = self.m.alloc_bytes(8, roots)?;
        let v = Value(p.as_ptr() as usize | 4);
        set_raw(v, 0, x.to_bits() as usize);
        Ok(v)
    }

    pub fn string(&mut self, roots: &Roots, s: &str) -> R<Value> {
        let n = s.chars().count();
        let v = self.raw(roots, Kind::String, n, n * 4)?;
        for (i, c) in s.chars().enumerate() {
            str_set(v, i, c);
        }
        Ok(v)
    }

    pub fn string_fill(&mut self, roots: &Roots, n: usize, c: char) -> R<Value> {
        let v = self.raw(roots, Kind::String, n, n * 4)?;
        for i in 0..n {
            str_set(v, i, c);
        }
        Ok(v)
    }

    pub fn bytevector(&mut self, roots: &Roots, b: &[u8]) -> R<Value> {
        let v = self.raw(roots, Kind::Bytevector, b.len(), b.len())?;
        bytes_mut(v).copy_from_slice(b);
        Ok(v)
    }

    pub fn symbol_obj(&mut self, roots: &Roots, name: &str) -> R<Value> {
        let b = name.as_bytes();
        let v = self.raw(roots, Kind::Symbol, b.len(), b.len())?;
        // SAFETY: fresh no-scan object with room for the name.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), base(v).add(1) as *mut u8, b.len()) };
        Ok(v)
    }

    pub fn bignum(&mut self, roots: &Roots, neg: bool, limbs: &[u32]) -> R<Value> {
        let v = self.raw(roots, Kind::Bignum, limbs.len(), 8 + limbs.len() * 4)?;
        set_raw(v, 1, neg as usize);
        // SAFETY: fresh no-scan object with room for the limbs.
        unsafe { std::ptr::copy_nonoverlapping(limbs.as_ptr(), base(v).add(2) as *mut u32, limbs.len()) };
        Ok(v)
    }
}
