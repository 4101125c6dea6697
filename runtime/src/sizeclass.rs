//! Size classes, generated at compile time by a `const fn`.
//!
//! The generator follows Go's `mksizeclasses.go`: walk sizes upward in steps
//! of a growing alignment; for each size pick the fewest 8 KiB pages whose
//! tail waste is at most 1/8 (one departure: the 8- and 16-byte classes get
//! spans of [`MAX_SPAN_OBJECTS`] objects, so 16-byte objects take two
//! pages and half as many span headers); merge a size into the previous class when both
//! give the same pages and object count; finally grow each class to the
//! largest size that still fits the same number of objects. The result is
//! 67 classes (plus class 0, "large") covering 8 bytes to 32 KiB.
//!
//! Lookups: sizes up to 1024 go through a table indexed by `(size+7)/8`,
//! larger small sizes through one indexed by `(size-1024+127)/128`, exactly
//! as Go does. Object indexes come from a multiply-shift (`div_mul`), never a
//! division.

/// Most objects a span can hold: the 1024 8-byte objects of a one-page
/// span, the densest class (spans size their alloc bits by it).
pub const MAX_SPAN_OBJECTS: usize = 1024;

/// Page size of the heap (not the OS page size): spans are whole pages.
pub const PAGE_SHIFT: usize = 13;
/// 8 KiB.
pub const PAGE_SIZE: usize = 1 << PAGE_SHIFT;
/// Largest object served from size classes; larger objects get their own span.
pub const MAX_SMALL_SIZE: usize = 32 << 10;
/// Objects up to this size use the fine lookup table.
pub const SMALL_SIZE_MAX: usize = 1024;
const SMALL_SIZE_DIV: usize = 8;
const LARGE_SIZE_DIV: usize = 128;
/// Maximum number of size classes the generator may produce.
const MAX_CLASSES: usize = 80;

/// One size class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeClass {
    /// Object size in bytes (0 for class 0, the large-object class).
    pub size: usize,
    /// Pages per span.
    pub npages: usize,
    /// Objects per span.
    pub nobjs: usize,
    /// `u32::MAX / size + 1`: `(offset * div_mul) >> 32 == offset / size`
    /// for every offset inside a span.
    pub div_mul: u32,
}

const fn is_pow2(x: usize) -> bool {
    x & (x - 1) == 0
}

struct Generated {
    classes: [SizeClass; MAX_CLASSES],
    n: usize,
}

const fn generate() -> Generated {
    let empty = SizeClass {
        size: 0,
        npages: 0,
        nobjs: 0,
        div_mul: 0,
    };
    let mut classes = [empty; MAX_CLASSES];
    let mut n = 1; // class 0 is the large-object class
    let mut align = 8;
    let mut size = align;
    while size <= MAX_SMALL_SIZE {
        if is_pow2(size) {
            if size >= 2048 {
                align = 256;
            } else if size >= 128 {
                align = size / 8;
            } else if size >= 32 {
                align = 16;
            }
        }
        assert!(is_pow2(align));
        // Fewest pages whose leftover is at most 1/8 of the span.
        let mut allocsize = PAGE_SIZE;
        while allocsize % size > allocsize / 8 {
            allocsize += PAGE_SIZE;
        }
        // A span's header (its fixed fields and its alloc bits for up to
        // MAX_SPAN_OBJECTS objects) costs the same whatever it holds, so
        // the two smallest classes, where that cost weighs most per object
        // (pairs, tree nodes and boxes in the heaps of Lisp-like VMs), get
        // spans that fill the alloc bits: 16-byte objects take two pages.
        while size <= 16 && 2 * allocsize / size <= MAX_SPAN_OBJECTS {
            allocsize *= 2;
        }
        let npages = allocsize / PAGE_SIZE;
        // Same pages and object count as the previous class: use this
        // (larger) size instead of adding a class.
        if n > 1 && npages == classes[n - 1].npages && allocsize / size == allocsize / classes[n - 1].size {
            classes[n - 1].size = size;
            size += align;
            continue;
        }
        classes[n] = SizeClass {
            size,
            npages,
            nobjs: 0,
            div_mul: 0,
        };
        n += 1;
        size += align;
    }
    // Grow classes to the largest size holding the same number of objects,
    // keeping LARGE_SIZE_DIV alignment so the coarse table stays exact.
    let mut i = 1;
    while i < n {
        let psize = classes[i].npages * PAGE_SIZE;
        let new_size = (psize / (psize / classes[i].size)) & !(LARGE_SIZE_DIV - 1);
        if new_size > classes[i].size {
            classes[i].size = new_size;
        }
        i += 1;
    }
    let mut i = 1;
    while i < n {
        let c = &mut classes[i];
        c.nobjs = c.npages * PAGE_SIZE / c.size;
        c.div_mul = (u32::MAX / c.size as u32) + 1;
        i += 1;
    }
    Generated { classes, n }
}

const GENERATED: Generated = generate();

/// Number of size classes, class 0 included.
pub const NUM_SIZE_CLASSES: usize = GENERATED.n;

/// The size classes; index 0 is the large-object class.
pub const CLASSES: [SizeClass; NUM_SIZE_CLASSES] = {
    let mut out = [GENERATED.classes[0]; NUM_SIZE_CLASSES];
    let mut i = 0;
    while i < NUM_SIZE_CLASSES {
        out[i] = GENERATED.classes[i];
        i += 1;
    }
    out
};

const fn smallest_class_for(size: usize) -> u8 {
    let mut c = 1;
    while c < NUM_SIZE_CLASSES {
        if CLASSES[c].size >= size {
            return c as u8;
        }
        c += 1;
    }
    panic!("size beyond MAX_SMALL_SIZE")
}

/// Class by `(size + 7) / 8` for sizes up to 1024.
const SIZE_TO_CLASS8: [u8; SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1] = {
    let mut t = [0u8; SMALL_SIZE_MAX / SMALL_SIZE_DIV + 1];
    let mut i = 1;
    while i < t.len() {
        t[i] = smallest_class_for(i * SMALL_SIZE_DIV);
        i += 1;
    }
    t
};

/// Class by `(size - 1024 + 127) / 128` for sizes from 1025 to 32 KiB.
const SIZE_TO_CLASS128: [u8; (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1] = {
    let mut t = [0u8; (MAX_SMALL_SIZE - SMALL_SIZE_MAX) / LARGE_SIZE_DIV + 1];
    let mut i = 0;
    while i < t.len() {
        t[i] = smallest_class_for(SMALL_SIZE_MAX + i * LARGE_SIZE_DIV);
        i += 1;
    }
    t
};

/// The smallest size class that holds `size` bytes (`1..=MAX_SMALL_SIZE`).
#[inline(always)]
pub fn size_to_class(size: usize) -> u8 {
    debug_assert!(size > 0 && size <= MAX_SMALL_SIZE);
    if size <= SMALL_SIZE_MAX {
        SIZE_TO_CLASS8[size.div_ceil(SMALL_SIZE_DIV)]
    } else {
        SIZE_TO_CLASS128[(size - SMALL_SIZE_MAX).div_ceil(LARGE_SIZE_DIV)]
    }
}

/// `offset / size` for an offset inside a span of class `div_mul`'s class.
#[inline(always)]
pub fn div_by_class(offset: usize, div_mul: u32) -> usize {
    ((offset as u64 * div_mul as u64) >> 32) as usize
}

/// A size class plus the no-scan bit, as Go's `spanClass`: `class << 1 | noscan`.
///
/// Spans of the same size class but different scan-ness are kept apart, so
/// the collector never has to look inside no-scan spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanClass(pub u8);

/// Number of span classes.
pub const NUM_SPAN_CLASSES: usize = NUM_SIZE_CLASSES * 2;

impl SpanClass {
    /// Makes a span class.
    #[inline(always)]
    pub const fn new(sizeclass: u8, noscan: bool) -> SpanClass {
        SpanClass(sizeclass << 1 | noscan as u8)
    }

    /// The size class.
    #[inline(always)]
    pub const fn sizeclass(self) -> u8 {
        self.0 >> 1
    }

    /// Whether objects of this class hold no pointers.
    #[inline(always)]
    pub const fn noscan(self) -> bool {
        self.0 & 1 != 0
    }

    /// Index into per-span-class arrays.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_68_classes_spanning_8_bytes_to_32k() {
        assert_eq!(NUM_SIZE_CLASSES, 68, "{CLASSES:?}");
        assert_eq!(CLASSES[1].size, 8);
        // The two smallest classes fill a span's alloc bits.
        assert_eq!((CLASSES[1].npages, CLASSES[1].nobjs), (1, MAX_SPAN_OBJECTS));
        assert_eq!(
            (CLASSES[2].size, CLASSES[2].npages, CLASSES[2].nobjs),
            (16, 2, MAX_SPAN_OBJECTS)
        );
        assert_eq!(CLASSES[NUM_SIZE_CLASSES - 1].size, MAX_SMALL_SIZE);
        for w in CLASSES[1..].windows(2) {
            assert!(w[0].size < w[1].size);
        }
    }

    #[test]
    fn tail_waste_is_at_most_one_eighth() {
        for c in &CLASSES[1..] {
            let span = c.npages * PAGE_SIZE;
            assert!(span % c.size <= span / 8, "{c:?}");
            assert_eq!(c.nobjs, span / c.size);
            assert!(c.nobjs >= 1 && c.nobjs <= 1024);
        }
    }

    #[test]
    fn every_size_maps_to_the_smallest_class_that_fits() {
        for size in 1..=MAX_SMALL_SIZE {
            let c = size_to_class(size) as usize;
            assert!(CLASSES[c].size >= size, "size {size} -> class {c}");
            assert!(
                c == 1 || CLASSES[c - 1].size < size,
                "size {size} -> class {c} not smallest"
            );
        }
    }

    #[test]
    fn multiply_shift_equals_division_for_every_offset() {
        for c in &CLASSES[1..] {
            for off in 0..c.npages * PAGE_SIZE {
                assert_eq!(div_by_class(off, c.div_mul), off / c.size, "class {c:?} offset {off}");
            }
        }
    }

    #[test]
    fn objects_have_the_natural_alignment_of_their_class() {
        // Object i of a class sits at base + i*size with a page-aligned base,
        // so it is aligned to the largest power of two dividing the size, and
        // at least 8 bytes.
        for c in &CLASSES[1..] {
            assert_eq!(c.size % 8, 0);
            let natural = 1usize << c.size.trailing_zeros();
            for i in 0..c.nobjs {
                assert_eq!((i * c.size) % natural.min(PAGE_SIZE), 0);
            }
        }
    }

    #[test]
    fn span_class_round_trips() {
        for sc in 0..NUM_SIZE_CLASSES as u8 {
            for ns in [false, true] {
                let s = SpanClass::new(sc, ns);
                assert_eq!((s.sizeclass(), s.noscan()), (sc, ns));
                assert!(s.index() < NUM_SPAN_CLASSES);
            }
        }
    }
}
