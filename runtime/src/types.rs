//! Type descriptors, allocation flags and the tag rule for immediates.
//!
//! A [`Type`] gives an object's size, alignment and pointer mask (bit i set:
//! word i may hold a pointer). Allocating a scan object copies its mask into
//! the GC bitmap, repeated for every element of an array, so the collector
//! can scan any object from the bitmap alone.

use crate::sizeclass::PAGE_SIZE;
use smallvec::SmallVec;
use std::fmt;

/// Flags for `mallocgc`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocFlags(u8);

impl AllocFlags {
    /// No flags: a scan object (if the type has pointers), zeroed.
    pub const NONE: AllocFlags = AllocFlags(0);
    /// The object holds no pointers: it goes to a no-scan span and is never
    /// scanned. Under 16 bytes it is packed by the tiny allocator.
    pub const NOSCAN: AllocFlags = AllocFlags(1);
    /// The memory need not be zeroed. Honoured for large no-scan objects,
    /// where zeroing costs most; small objects come from slots zeroed in
    /// bulk when their span was cached, and a scan object must start zeroed
    /// or the collector could follow stale words.
    pub const NOZERO: AllocFlags = AllocFlags(2);

    /// Whether all of `other`'s flags are set.
    #[inline(always)]
    pub const fn contains(self, other: AllocFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for AllocFlags {
    type Output = AllocFlags;
    fn bitor(self, rhs: AllocFlags) -> AllocFlags {
        AllocFlags(self.0 | rhs.0)
    }
}

/// Why a type descriptor was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeError {
    /// Alignment is not a power of two, or exceeds the page size.
    BadAlign(usize),
    /// A pointer slot is not word aligned or lies outside the object.
    BadPointerOffset(usize),
    /// A type holding pointers must have a size that is a multiple of 8.
    SizeNotWords(usize),
    /// Larger than any heap can hold (over [`MAX_TYPE_SIZE`]).
    TooLarge(usize),
}

/// The largest type size accepted: 1 TiB, beyond any arena.
pub const MAX_TYPE_SIZE: usize = 1 << 40;

impl fmt::Display for TypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeError::BadAlign(a) => write!(f, "alignment {a} is not a power of two up to {PAGE_SIZE}"),
            TypeError::TooLarge(s) => write!(f, "a type of {s} bytes is larger than any heap ({MAX_TYPE_SIZE} bytes)"),
            TypeError::BadPointerOffset(o) => write!(f, "pointer offset {o} is not a word inside the object"),
            TypeError::SizeNotWords(s) => {
                write!(f, "a type with pointers must be a whole number of words, not {s} bytes")
            }
        }
    }
}

impl std::error::Error for TypeError {}

/// A type descriptor: size, alignment and which words hold pointers.
///
/// Invariants: `align` is a power of two ≤ 8 KiB; if the mask has any bit
/// set, `size` is a multiple of 8 and every set bit is below `size / 8`;
/// `pattern`, when present, is the mask repeated over 64 words (the element
/// is a power-of-two number of words ≤ 64); `has_ptrs == (pattern != Some(0))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    name: String,
    size: usize,
    align: usize,
    ptrmask: SmallVec<[u64; 1]>,
    pattern: Option<u64>,
    /// `pattern != Some(0)`, kept as a flag: the allocation fast path asks
    /// it on every call, and a bool costs one load where the Option costs two.
    has_ptrs: bool,
    /// `ptrmask[0]`, kept out of the SmallVec for the allocation fast path.
    mask0: u64,
}

impl Type {
    /// A type whose pointer slots are at the given byte offsets.
    pub fn new(name: &str, size: usize, align: usize, pointer_offsets: &[usize]) -> Result<Type, TypeError> {
        if size > MAX_TYPE_SIZE {
            return Err(TypeError::TooLarge(size));
        }
        // The mask reaches only as far as the last pointer slot.
        let last = pointer_offsets.iter().max().map_or(0, |&o| o.min(size) / 8);
        let mut mask: SmallVec<[u64; 1]> = SmallVec::from_elem(0, last / 64 + 1);
        for &off in pointer_offsets {
            if off % 8 != 0 || off.checked_add(8).is_none_or(|end| end > size) {
                return Err(TypeError::BadPointerOffset(off));
            }
            mask[off / 64 / 8] |= 1 << ((off / 8) % 64);
        }
        Type::from_mask(name, size, align, &mask)
    }

    /// A type with a pointer mask given as words (bit i of word k: word
    /// `64k + i` of the object is a pointer slot).
    pub fn from_mask(name: &str, size: usize, align: usize, mask: &[u64]) -> Result<Type, TypeError> {
        if !align.is_power_of_two() || align > PAGE_SIZE {
            return Err(TypeError::BadAlign(align));
        }
        if size > MAX_TYPE_SIZE {
            return Err(TypeError::TooLarge(size));
        }
        let nwords = size / 8;
        // Trailing zero words carry nothing: `mask_chunk` reads past the
        // end as zero.
        let used = mask.iter().rposition(|&w| w != 0).map_or(1, |k| k + 1);
        let mut ptrmask: SmallVec<[u64; 1]> = SmallVec::from_slice(&mask[..used.min(mask.len())]);
        ptrmask.resize(used, 0);
        let any = mask.iter().any(|&w| w != 0);
        if any && !size.is_multiple_of(8) {
            return Err(TypeError::SizeNotWords(size));
        }
        for (k, &w) in mask.iter().enumerate() {
            if w == 0 {
                continue;
            }
            let top = k * 64 + 63 - w.leading_zeros() as usize;
            if top >= nwords {
                return Err(TypeError::BadPointerOffset(top * 8));
            }
        }
        let pattern = if any && nwords <= 64 && nwords.is_power_of_two() {
            let mut p = 0u64;
            let mut i = 0;
            while i < 64 {
                p |= ptrmask[0] << i;
                i += nwords;
            }
            Some(p)
        } else if !any {
            Some(0)
        } else {
            None
        };
        Ok(Type {
            has_ptrs: pattern != Some(0),
            mask0: ptrmask[0],
            name: name.to_string(),
            size,
            align: align.max(1),
            ptrmask,
            pattern,
        })
    }

    /// A type with no pointers.
    pub fn noscan(name: &str, size: usize, align: usize) -> Result<Type, TypeError> {
        Type::from_mask(name, size, align, &[])
    }

    /// The type's name (for diagnostics).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Alignment in bytes.
    pub fn align(&self) -> usize {
        self.align
    }

    /// Whether any word may hold a pointer.
    #[inline(always)]
    pub fn has_pointers(&self) -> bool {
        self.has_ptrs
    }

    /// The first word of the pointer mask (words 0..64 of the object).
    #[inline(always)]
    pub fn mask0(&self) -> u64 {
        self.mask0
    }

    /// The pointer mask words, as far as the last pointer slot reaches
    /// (words past the end are zero); at least one word.
    pub fn ptrmask(&self) -> &[u64] {
        &self.ptrmask
    }

    /// Bit of word `w` of the mask.
    #[inline]
    fn ptr_bit(&self, w: usize) -> u64 {
        self.ptrmask.get(w / 64).map_or(0, |m| m >> (w % 64) & 1)
    }

    /// The pointer bits for words `64k .. 64k+64` of an array of `n`
    /// elements of this type (one element when `n == 1`).
    #[inline]
    pub fn mask_chunk(&self, k: usize, n: usize) -> u64 {
        let ew = self.size / 8;
        if n == 1 || ew == 0 {
            return self.ptrmask.get(k).copied().unwrap_or(0);
        }
        if let Some(p) = self.pattern {
            let words = ew * n;
            let lo = k * 64;
            if lo >= words {
                return 0;
            }
            let valid = words - lo;
            return if valid >= 64 { p } else { p & ((1u64 << valid) - 1) };
        }
        let mut out = 0;
        let lo = k * 64;
        for i in 0..64 {
            let w = lo + i;
            if w >= ew * n {
                break;
            }
            out |= self.ptr_bit(w % ew) << i;
        }
        out
    }
}

/// Which words in a pointer slot are real pointers, for VMs that keep
/// tagged immediates (fixnums, booleans) in pointer slots.
///
/// A word `w` is a pointer candidate iff `w != 0 && w & mask == value`;
/// candidates are further checked against the heap (`find_object`). The
/// default (mask 0) treats every non-zero word as a candidate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TagRule {
    /// Bits that carry the tag.
    pub mask: usize,
    /// Tag value that marks a pointer.
    pub value: usize,
}

impl TagRule {
    /// Pointers carry `value` in their low `bits` bits; anything else is an immediate.
    pub const fn low_bits(bits: u32, value: usize) -> TagRule {
        TagRule {
            mask: (1 << bits) - 1,
            value,
        }
    }

    /// Whether `w` may be a pointer under this rule.
    #[inline(always)]
    pub fn may_be_pointer(&self, w: usize) -> bool {
        w != 0 && w & self.mask == self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_from_offsets() {
        let t = Type::new("pair", 16, 8, &[0, 8]).unwrap();
        assert_eq!(t.ptrmask(), &[0b11]);
        assert!(t.has_pointers());
        assert_eq!(t.mask_chunk(0, 1), 0b11);
        assert_eq!(t.mask_chunk(0, 40), u64::MAX);
        assert_eq!(t.mask_chunk(1, 40), (1 << 16) - 1);
        let t3 = Type::new("triple", 24, 8, &[8]).unwrap();
        assert_eq!(t3.mask_chunk(0, 3), 0b010_010_010);
        let big = Type::new("big", 800, 8, &[0, 792]).unwrap();
        assert_eq!(big.ptrmask().len(), 2);
        assert_eq!(big.mask_chunk(1, 1), 1 << (99 - 64));
    }

    #[test]
    fn bad_types_are_refused() {
        assert_eq!(Type::new("x", 16, 3, &[]), Err(TypeError::BadAlign(3)));
        assert_eq!(Type::new("x", 16, 8, &[4]), Err(TypeError::BadPointerOffset(4)));
        assert_eq!(Type::new("x", 16, 8, &[16]), Err(TypeError::BadPointerOffset(16)));
        assert_eq!(Type::from_mask("x", 12, 8, &[1]), Err(TypeError::SizeNotWords(12)));
        assert!(!Type::noscan("bytes", 13, 1).unwrap().has_pointers());
        assert_eq!(
            Type::noscan("huge", usize::MAX, 8),
            Err(TypeError::TooLarge(usize::MAX))
        );
        assert_eq!(
            Type::new("huge", usize::MAX, 8, &[0]),
            Err(TypeError::TooLarge(usize::MAX))
        );
        // A big array type keeps a mask only as long as its pointers reach.
        let t = Type::new("big", 1 << 30, 8, &[8]).unwrap();
        assert_eq!(t.ptrmask(), &[0b10]);
        assert_eq!(t.mask_chunk(5, 1), 0);
    }

    #[test]
    fn tag_rule() {
        let r = TagRule::low_bits(1, 0);
        assert!(r.may_be_pointer(0x1000));
        assert!(!r.may_be_pointer(0x1001));
        assert!(!r.may_be_pointer(0));
        assert!(TagRule::default().may_be_pointer(7));
    }
}
