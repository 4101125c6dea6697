//! What the collector must know of a heap type: which of its words may
//! hold pointers ([`Trace`]), and how to name it without its brand
//! ([`Rootable`]).
//!
//! Marrow finds pointers by a mask over an object's words, so a typed heap
//! type is described by a constant, not by a tracing function: bit i of
//! [`Trace::POINTER_WORDS`] says word i may hold a pointer. The collector
//! checks every word it is told about against the heap before following
//! it, so an over-approximate mask (an enum's every word) only retains,
//! while a missing bit lets the collector free a reachable object: that is
//! why the trait is `unsafe` and why `#[derive(Trace)]` computes the mask
//! from the fields instead of letting anyone write it.
//!
//! Types carry their brand `'gc` in their handles (`Node<'gc>` holds
//! `Obj<'gc, Node<'gc>>`). A rooted handle lives outside any scope, so it
//! names the type at `'static` ([`Trace::Static`], `Node<'static>`) and
//! re-brands it in the scope that reads it ([`Rootable::At`]). No value of
//! a `'static`-branded type can hold a handle: handles are only made at a
//! scope's own brand.

use crate::typed::handle::Obj;
use marrow_runtime::Type;
use std::sync::Mutex;

/// A type whose values can live in the Marrow heap: its layout is known
/// to the collector.
///
/// Implement it with `#[derive(Trace)]`; the implementations here cover
/// plain numbers, [`Obj`] and `Option<Obj>`, and fixed-size arrays.
///
/// # Safety
/// - Bit i of `POINTER_WORDS` is set for every 8-byte word i of `Self`
///   that may hold a heap pointer (an `Obj` or anything containing one).
/// - `Self` has no drop glue (objects are freed without destructors) and
///   no interior mutability except through atomics (another thread may
///   read an object through a shared root while this one writes it).
/// - `Static` is `Self` with its brand lifetime replaced by `'static`, and
///   `<Self::Static as Rootable>::At<'gc>` is `Self` at brand `'gc`.
/// - `heap_type()` describes `Self`: its size, alignment and mask.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be stored in a Marrow heap object",
    label = "this type is not `Trace`",
    note = "heap fields are numbers, `bool`, `Obj`, `Option<Obj>`, `Value`, `GcCell`, arrays of these, or types with `#[derive(Trace)]`",
    note = "`Box`, `Vec`, `String`, `Rc`, references and the `Cell`s are refused: objects are freed without running destructors, and the collector cannot see the pointers they hold"
)]
pub unsafe trait Trace {
    /// Bit i: word i of a value may hold a heap pointer.
    const POINTER_WORDS: u64;
    /// This type with its brand set to `'static`: how rooted handles name it.
    type Static: Rootable;
    /// The runtime's descriptor of this type (size, alignment, mask).
    fn heap_type() -> &'static Type;

    /// Writes `self` to `dst`, leaving every byte that is padding in
    /// `self` as it was: the derive writes field by field, so padding in a
    /// value (which a plain move leaves uninitialised) stays zero in the
    /// heap, where a marker may read it as part of a word that is a
    /// pointer in another variant of an enum.
    ///
    /// # Safety
    /// `dst` is valid for writes of `Self`, aligned, and zeroed.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn write_into(self, dst: *mut Self)
    where
        Self: Sized,
    {
        // SAFETY: the caller's contract.
        unsafe { dst.write(self) }
    }
}

/// A heap type named at `'static`, for handles that outlive a scope
/// ([`crate::typed::Root`], [`crate::typed::RootVec`],
/// [`crate::typed::SharedRoot`]).
///
/// # Safety
/// `At<'gc>` is `Self` with its brand set to `'gc`, and its
/// [`Trace::Static`] is `Self`.
pub unsafe trait Rootable: 'static {
    /// The type at brand `'gc`.
    type At<'gc>: Trace + 'gc;
}

/// Implements [`Trace`] for types that never hold pointers.
macro_rules! plain {
    ($($t:ty),*) => {$(
        // SAFETY: no word of a number holds a pointer; no drop glue.
        unsafe impl Trace for $t {
            const POINTER_WORDS: u64 = 0;
            type Static = $t;
            fn heap_type() -> &'static Type {
                static T: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
                T.get_or_init(|| __derive::heap_type::<$t>(stringify!($t)))
            }
        }
        // SAFETY: the type has no brand.
        unsafe impl Rootable for $t {
            type At<'gc> = $t;
        }
    )*};
}

plain!(
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    isize,
    f32,
    f64,
    bool,
    char,
    ()
);

/// The descriptor shared by every one-word pointer type.
pub(crate) fn pointer_word_type() -> &'static Type {
    static T: std::sync::OnceLock<Type> = std::sync::OnceLock::new();
    T.get_or_init(|| Type::from_mask("pointer", 8, 8, &[1]).unwrap_or_else(|e| unreachable!("{e}")))
}

// SAFETY: a handle is one pointer word; `Static`/`At` change the brand only.
unsafe impl<'gc, T: Trace> Trace for Obj<'gc, T> {
    const POINTER_WORDS: u64 = 1;
    type Static = Obj<'static, T::Static>;
    fn heap_type() -> &'static Type {
        pointer_word_type()
    }
}

// SAFETY: as above.
unsafe impl<R: Rootable> Rootable for Obj<'static, R> {
    type At<'gc> = Obj<'gc, R::At<'gc>>;
}

// SAFETY: `Option<Obj>` is one word (the null niche), 0 for `None`.
unsafe impl<'gc, T: Trace> Trace for Option<Obj<'gc, T>> {
    const POINTER_WORDS: u64 = 1;
    type Static = Option<Obj<'static, T::Static>>;
    fn heap_type() -> &'static Type {
        pointer_word_type()
    }
}

// SAFETY: as above.
unsafe impl<R: Rootable> Rootable for Option<Obj<'static, R>> {
    type At<'gc> = Option<Obj<'gc, R::At<'gc>>>;
}

// SAFETY: the element's mask repeated at each element's offset (checked
// to stay within 64 words).
unsafe impl<T: Trace, const N: usize> Trace for [T; N] {
    const POINTER_WORDS: u64 = __derive::repeat_words::<T>(N);
    type Static = [T::Static; N];
    fn heap_type() -> &'static Type {
        registered_type::<Self>(std::any::type_name::<Self>())
    }
    unsafe fn write_into(self, dst: *mut Self) {
        for (i, x) in self.into_iter().enumerate() {
            // SAFETY: element i of a valid, zeroed array (contract).
            unsafe { T::write_into(x, (dst as *mut T).add(i)) }
        }
    }
}

// SAFETY: as above.
unsafe impl<R: Rootable, const N: usize> Rootable for [R; N] {
    type At<'gc> = [R::At<'gc>; N];
}

/// Descriptors for types that cannot keep a static of their own (generic
/// ones), looked up by layout. Off the allocation fast path for derived
/// and built-in types, which keep theirs in a `OnceLock`.
fn registered_type<T: Trace>(name: &str) -> &'static Type {
    type Key = (usize, usize, u64);
    static TYPES: Mutex<Vec<(Key, &'static Type)>> = Mutex::new(Vec::new());
    let key = (size_of::<T>(), align_of::<T>(), T::POINTER_WORDS);
    let mut types = TYPES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, t)) = types.iter().find(|(k, _)| *k == key) {
        return t;
    }
    let t: &'static Type = Box::leak(Box::new(__derive::heap_type::<T>(name)));
    types.push((key, t));
    t
}

/// What `#[derive(Trace)]` expands to calls; not an API.
#[doc(hidden)]
pub mod __derive {
    use super::Trace;
    pub use marrow_runtime::Type;

    /// The mask of a field of type `F` at byte `offset`.
    pub const fn field_words<F: Trace>(offset: usize) -> u64 {
        let m = F::POINTER_WORDS;
        if m == 0 {
            return 0;
        }
        assert!(
            offset.is_multiple_of(8),
            "marrow: a field that holds pointers is not word-aligned"
        );
        let first = offset / 8;
        assert!(
            first + size_of::<F>().div_ceil(8) <= 64,
            "marrow: a heap type may hold pointers only in its first 64 words (512 bytes); keep larger data in an Array"
        );
        m << first
    }

    /// `F`'s mask (and the check that `F` is `Trace`).
    pub const fn words_of<F: Trace>() -> u64 {
        F::POINTER_WORDS
    }

    /// An enum's mask: every word, if any field may hold a pointer.
    pub const fn enum_words<T>(any: u64) -> u64 {
        if any == 0 {
            return 0;
        }
        let words = size_of::<T>() / 8;
        assert!(
            words <= 64,
            "marrow: an enum that holds pointers may be at most 64 words (512 bytes)"
        );
        if words == 64 {
            u64::MAX
        } else {
            (1 << words) - 1
        }
    }

    /// The mask of `[T; n]`.
    pub const fn repeat_words<T: Trace>(n: usize) -> u64 {
        let m = T::POINTER_WORDS;
        if m == 0 || n == 0 {
            return 0;
        }
        let w = size_of::<T>() / 8;
        assert!(
            w * n <= 64,
            "marrow: an array that holds pointers may be at most 64 words (512 bytes) inside a heap type"
        );
        let mut out = 0;
        let mut i = 0;
        while i < n {
            out |= m << (i * w);
            i += 1;
        }
        out
    }

    /// Refuses, at compile time, a heap type with drop glue, an alignment
    /// the heap cannot give, or pointer words the collector could not
    /// read atomically (a packed type).
    pub const fn check_layout<T: Trace>() {
        assert!(
            !std::mem::needs_drop::<T>(),
            "marrow: a heap type may not need Drop: objects are freed without running destructors"
        );
        assert!(
            align_of::<T>() <= 4096,
            "marrow: a heap type's alignment may be at most 4096 bytes"
        );
        assert!(
            T::POINTER_WORDS == 0 || (align_of::<T>() >= 8 && size_of::<T>().is_multiple_of(8)),
            "marrow: a heap type that holds pointers must be 8-byte aligned (not packed)"
        );
    }

    /// The descriptor of `T`.
    pub fn heap_type<T: Trace>(name: &str) -> Type {
        let (size, align) = (size_of::<T>(), align_of::<T>());
        let t = if T::POINTER_WORDS == 0 {
            Type::noscan(name, size, align)
        } else {
            Type::from_mask(name, size, align, &[T::POINTER_WORDS])
        };
        // A type with pointer words is word-aligned with a size in words,
        // and its alignment was checked at compile time.
        t.unwrap_or_else(|e| unreachable!("heap type {name}: {e}"))
    }
}
