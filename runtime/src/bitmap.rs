//! The GC bitmap: pointer bits and mark bits for every word of the arena,
//! and the word-level bit loops the hot paths need.
//!
//! Layout: two planes, interleaved in chunks. Each 64 arena words (512
//! bytes) have one 64-bit word of pointer bits and one of mark bits; the
//! bitmap stores [`PLANE_WORDS`] pointer words (a half-chunk of 64 KiB,
//! covering 4 MiB of arena), then the mark words for the same arena, then
//! the next chunk. The bitmap's mapped prefix therefore grows with the
//! arena as before, and the two planes sit on different OS pages: spans
//! whose pointer layout is kept on the span (`MSpan::ptr_layout`, the
//! common case of spans holding one type) never write their pointer words,
//! and those pages are never faulted in.
//!
//! - Pointer bit set: the word is a pointer slot of a scan object (it may
//!   still hold a tagged immediate; the heap's tag rule decides). Only
//!   meaningful for spans without a span-level layout.
//! - Mark bit set on an object's first word: the object is marked.
//!
//! Bits are stored in atomics so that a collector thread can read them while
//! a mutator writes bits of other objects. Writers of pointer bits use plain
//! load/store (no read-modify-write): a bitmap word never covers two spans
//! (spans are 8 KiB aligned), and only the span's owner writes its pointer
//! bits. Mark bits are set with `fetch_or` so that several markers can race
//! on one word.

use crate::sync::{AtomicU64, Ordering::Relaxed};

/// Arena bytes covered by one pointer word (and one mark word).
pub const GROUP_COVERS: usize = 64 * 8;
/// Bitmap bytes per arena byte: 16 bytes of bitmap per 512 of arena (1/32).
pub const BITMAP_DIVISOR: usize = GROUP_COVERS / 16;
/// Words of one plane in a chunk (64 KiB: separate OS pages on kernels with
/// pages of up to 64 KiB).
pub const PLANE_WORDS: usize = 8192;
/// Bitmap bytes of one chunk (both planes), the unit the bitmap is mapped in.
pub const BITMAP_CHUNK: usize = 2 * PLANE_WORDS * 8;

/// Bitmap bytes needed for the first `arena_bytes` of the arena: whole chunks.
pub fn bitmap_bytes_for(arena_bytes: usize) -> usize {
    (arena_bytes / BITMAP_DIVISOR).div_ceil(BITMAP_CHUNK) * BITMAP_CHUNK
}

/// A view of the GC bitmap for one arena. Private to the runtime: its
/// methods trust the addresses they are given, and it does not keep the
/// heap alive. The collector gets a lifetime-bound copy whose methods are
/// `unsafe` (`collector_interface::MarkBitmap`).
///
/// Invariant: `words` points to the bitmap region of a live heap
/// reservation (laid out as the module describes), and the chunks for
/// `[arena_base, arena_base + mapped)` are mapped whenever an address in that
/// range is passed in; callers only pass addresses of arena pages that belong
/// to in-use spans.
#[derive(Clone, Copy, Debug)]
pub struct GcBitmap {
    words: *const AtomicU64,
    arena_base: usize,
}

// SAFETY: the bitmap is only accessed through atomics, and the memory it
// points to outlives every heap handle that holds a copy of it.
unsafe impl Send for GcBitmap {}
// SAFETY: as above; every access is atomic.
unsafe impl Sync for GcBitmap {}

impl GcBitmap {
    /// # Safety
    /// `words` must point to a bitmap region covering the arena at
    /// `arena_base` (see the type's invariant) for as long as the view is used.
    pub(crate) unsafe fn new(words: *const AtomicU64, arena_base: usize) -> GcBitmap {
        GcBitmap { words, arena_base }
    }

    /// The pointer word for `addr` and the bit of `addr` in it; the mark
    /// word is [`PLANE_WORDS`] further on.
    #[inline(always)]
    fn locate_ptr(&self, addr: usize) -> (*const AtomicU64, u32) {
        let word = (addr - self.arena_base) >> 3;
        let group = word >> 6;
        let at = (group / PLANE_WORDS) * 2 * PLANE_WORDS + group % PLANE_WORDS;
        // SAFETY: by the type's invariant, `addr` lies in a mapped part of
        // the arena, so its chunk lies in the mapped part of the bitmap.
        (unsafe { self.words.add(at) }, (word & 63) as u32)
    }

    #[inline(always)]
    fn ptr_word(&self, addr: usize) -> (&AtomicU64, u32) {
        let (p, bit) = self.locate_ptr(addr);
        // SAFETY: `p` is a mapped word of the bitmap (locate_ptr).
        (unsafe { &*p }, bit)
    }

    #[inline(always)]
    fn mark_word(&self, addr: usize) -> (&AtomicU64, u32) {
        let (p, bit) = self.locate_ptr(addr);
        // SAFETY: the mark word sits PLANE_WORDS after its pointer word,
        // in the same mapped chunk.
        (unsafe { &*p.add(PLANE_WORDS) }, bit)
    }

    /// Whether the word at `addr` is a pointer slot.
    #[inline]
    pub fn is_pointer_slot(&self, addr: usize) -> bool {
        let (g, bit) = self.ptr_word(addr);
        g.load(Relaxed) >> bit & 1 != 0
    }

    /// Writes the pointer bits for `nwords` words from `addr`: bit `i` of the
    /// mask produced by `mask_word(k)` (the k-th group of 64 words of the
    /// object) describes word `64k + i`. Bits beyond `nwords` are cleared.
    #[inline]
    pub fn write_ptr_bits(&self, addr: usize, nwords: usize, mut mask_word: impl FnMut(usize) -> u64) {
        let (g, bit) = self.ptr_word(addr);
        if bit as usize + nwords <= 64 {
            // The common case: a small object inside one group.
            let field = if nwords == 64 { u64::MAX } else { (1u64 << nwords) - 1 };
            let bits = mask_word(0) & field;
            let old = g.load(Relaxed);
            g.store((old & !(field << bit)) | (bits << bit), Relaxed);
            return;
        }
        let mut done = 0;
        let mut k = 0;
        let mut pending = 0u64; // bits of chunk k not yet written
        let mut pending_n = 0usize;
        while done < nwords {
            if pending_n == 0 {
                pending = mask_word(k);
                pending_n = (nwords - 64 * k).min(64);
                if pending_n < 64 {
                    pending &= (1u64 << pending_n) - 1;
                }
                k += 1;
            }
            let (g, bit) = self.ptr_word(addr + done * 8);
            let room = (64 - bit) as usize;
            let n = room.min(pending_n);
            let field = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            let bits = pending & field;
            let old = g.load(Relaxed);
            g.store((old & !(field << bit)) | (bits << bit), Relaxed);
            pending = if n == 64 { 0 } else { pending >> n };
            pending_n -= n;
            done += n;
        }
    }

    /// Clears the pointer bits of `nwords` words from `addr`.
    #[cfg(test)]
    pub fn clear_ptr_bits(&self, addr: usize, nwords: usize) {
        self.write_ptr_bits(addr, nwords, |_| 0)
    }

    /// Calls `f(word_addr)` for each pointer slot among `nwords` words from `addr`.
    #[inline(always)]
    pub fn for_each_pointer_slot(&self, addr: usize, nwords: usize, mut f: impl FnMut(usize)) {
        let mut done = 0;
        while done < nwords {
            let (g, bit) = self.ptr_word(addr + done * 8);
            let n = ((64 - bit) as usize).min(nwords - done);
            let mut bits = g.load(Relaxed) >> bit;
            if n < 64 {
                bits &= (1u64 << n) - 1;
            }
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                f(addr + (done + i) * 8);
                bits &= bits - 1;
            }
            done += n;
        }
    }

    /// Whether the object starting at `addr` is marked.
    #[inline]
    pub fn is_marked(&self, addr: usize) -> bool {
        let (g, bit) = self.mark_word(addr);
        g.load(Relaxed) >> bit & 1 != 0
    }

    /// Marks the object starting at `addr`; true if this call marked it
    /// (exactly one of several racing callers sees true).
    #[inline]
    pub fn try_mark(&self, addr: usize) -> bool {
        let (g, bit) = self.mark_word(addr);
        crate::markbit::set_once(g, 1u64 << bit)
    }

    /// Clears the mark bit of the object starting at `addr`.
    #[inline]
    pub fn clear_mark(&self, addr: usize) {
        let (g, bit) = self.mark_word(addr);
        g.fetch_and(!(1u64 << bit), Relaxed);
    }

    /// Gathers the mark bits of `n` objects of `elemsize` bytes from `base`
    /// into `out` (bit i = object i marked), clearing them in the bitmap.
    /// `div_mul` is the size class's multiply-shift divisor (see
    /// `sizeclass::div_by_class`); marks only ever sit on object starts.
    /// Returns the number of marked objects.
    pub fn take_marks(&self, base: usize, elemsize: usize, div_mul: u32, n: usize, out: &mut [u64]) -> usize {
        for w in out.iter_mut() {
            *w = 0;
        }
        if n == 1 {
            // A large object: only its first word can carry a mark.
            let (g, bit) = self.mark_word(base);
            let m = 1u64 << bit;
            let was = g.fetch_and(!m, Relaxed) & m != 0;
            out[0] = was as u64;
            return was as usize;
        }
        let mut count = 0;
        if elemsize == 8 {
            // One mark bit per object: copy whole words.
            let mut i = 0;
            while i < n {
                let (g, _) = self.mark_word(base + i * 8);
                let mut w = g.swap(0, Relaxed);
                if n - i < 64 {
                    w &= (1u64 << (n - i)) - 1;
                }
                out[i / 64] = w;
                count += w.count_ones() as usize;
                i += 64;
            }
            return count;
        }
        debug_assert_eq!((base - self.arena_base) % GROUP_COVERS, 0);
        // Objects of 2^k words start at the same bit positions in every
        // group; a group whose objects are all marked (long-lived data)
        // becomes a run of set bits without visiting each object.
        let e = elemsize / 8;
        let (all, per_group) = if e <= 64 && e.is_power_of_two() && elemsize.is_multiple_of(8) {
            let mut m = 0u64;
            let mut b = 0;
            while b < 64 {
                m |= 1 << b;
                b += e;
            }
            (m, 64 / e)
        } else {
            (0, 0)
        };
        let end = base + n * elemsize;
        let mut a = base;
        while a < end {
            let (g, _) = self.mark_word(a);
            let mut bits = g.swap(0, Relaxed);
            if all != 0 && bits == all {
                let first = (a - base) / GROUP_COVERS * per_group;
                if first + per_group <= n {
                    let run = if per_group == 64 {
                        u64::MAX
                    } else {
                        (1u64 << per_group) - 1
                    };
                    out[first / 64] |= run << (first % 64);
                    count += per_group;
                    a += GROUP_COVERS;
                    continue;
                }
            }
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let off = a - base + bit * 8;
                let i = crate::sizeclass::div_by_class(off, div_mul);
                debug_assert_eq!(off % elemsize, 0, "mark bit off an object start");
                if i < n {
                    out[i / 64] |= 1 << (i % 64);
                    count += 1;
                }
            }
            a += GROUP_COVERS;
        }
        count
    }

    /// Marks the object starting at `addr` without a read-modify-write;
    /// true if it was unmarked. Only for a marker that runs alone (no other
    /// thread sets mark bits meanwhile).
    #[inline]
    pub fn try_mark_exclusive(&self, addr: usize) -> bool {
        let (g, bit) = self.mark_word(addr);
        let m = 1u64 << bit;
        let old = g.load(Relaxed);
        if old & m != 0 {
            return false;
        }
        g.store(old | m, Relaxed);
        true
    }
}

/// Index of the lowest set bit at or after `from` in `words`, if any below `limit`.
#[cfg(test)]
pub fn next_set_bit(words: &[u64], from: usize, limit: usize) -> Option<usize> {
    let mut i = from;
    while i < limit {
        let w = words[i / 64] >> (i % 64);
        if w != 0 {
            let r = i + w.trailing_zeros() as usize;
            return (r < limit).then_some(r);
        }
        i = (i / 64 + 1) * 64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_bitmap(f: impl FnOnce(GcBitmap, usize)) {
        let words: Vec<AtomicU64> = (0..2 * BITMAP_CHUNK / 8).map(|_| AtomicU64::new(0)).collect();
        let base = 0x10_0000;
        // SAFETY: the vector holds two chunks, covering 8 MiB of pretend
        // arena, and every address used below lies in it.
        let bm = unsafe { GcBitmap::new(words.as_ptr(), base) };
        f(bm, base);
    }

    #[test]
    fn pointer_bits_round_trip_across_groups() {
        with_bitmap(|bm, base| {
            let obj = base + 60 * 8; // straddles the first group boundary
            bm.write_ptr_bits(obj, 10, |_| 0b10_1100_0101);
            let mut seen = vec![];
            bm.for_each_pointer_slot(obj, 10, |a| seen.push((a - obj) / 8));
            assert_eq!(seen, vec![0, 2, 6, 7, 9]);
            // Neighbours untouched; rewriting clears.
            assert!(!bm.is_pointer_slot(obj - 8));
            bm.clear_ptr_bits(obj, 10);
            let mut n = 0;
            bm.for_each_pointer_slot(obj, 10, |_| n += 1);
            assert_eq!(n, 0);
        });
    }

    #[test]
    fn long_masks_use_every_chunk() {
        with_bitmap(|bm, base| {
            let obj = base + 8;
            bm.write_ptr_bits(obj, 200, |k| if k % 2 == 0 { 1 } else { 1 << 63 });
            let mut seen = vec![];
            bm.for_each_pointer_slot(obj, 200, |a| seen.push((a - obj) / 8));
            assert_eq!(seen, vec![0, 127, 128]);
        });
    }

    #[test]
    fn marks_are_taken_once() {
        with_bitmap(|bm, base| {
            assert!(bm.try_mark(base + 48));
            assert!(!bm.try_mark(base + 48));
            assert!(bm.is_marked(base + 48));
            assert!(bm.try_mark(base + 48 * 5));
            let mut out = [0u64; 16];
            assert_eq!(bm.take_marks(base, 48, u32::MAX / 48 + 1, 100, &mut out), 2);
            assert_eq!(out[0], 0b10_0010);
            assert!(!bm.is_marked(base + 48));
        });
    }

    #[test]
    fn fully_marked_groups_become_runs() {
        with_bitmap(|bm, base| {
            // 16-byte objects: 32 per group. Mark all of group 1 and one in group 0.
            for i in 32..64 {
                bm.try_mark(base + i * 16);
            }
            bm.try_mark(base + 5 * 16);
            let mut out = [0u64; 16];
            assert_eq!(bm.take_marks(base, 16, u32::MAX / 16 + 1, 512, &mut out), 33);
            assert_eq!(out[0], 0xFFFF_FFFF_0000_0000 | 1 << 5);
            assert_eq!(out[1..], [0; 15]);
            // Marks were taken.
            assert_eq!(bm.take_marks(base, 16, u32::MAX / 16 + 1, 512, &mut out), 0);
        });
    }

    #[test]
    fn eight_byte_marks_copy_words() {
        with_bitmap(|bm, base| {
            for i in [0, 63, 64, 100] {
                bm.try_mark(base + i * 8);
            }
            let mut out = [0u64; 16];
            assert_eq!(bm.take_marks(base, 8, u32::MAX / 8 + 1, 101, &mut out), 4);
            assert_eq!(out[0], 1 | 1 << 63);
            assert_eq!(out[1], 1 | 1 << 36);
        });
    }

    #[test]
    fn planes_and_chunks_do_not_alias() {
        with_bitmap(|bm, base| {
            let chunk_arena = PLANE_WORDS * GROUP_COVERS; // 4 MiB
            for obj in [
                base,
                base + chunk_arena - 8,
                base + chunk_arena,
                base + chunk_arena + 512,
            ] {
                bm.write_ptr_bits(obj, 1, |_| 1);
                assert!(bm.is_pointer_slot(obj));
                assert!(!bm.is_marked(obj), "a pointer bit is not a mark bit");
                assert!(bm.try_mark(obj));
                bm.clear_ptr_bits(obj, 1);
                assert!(bm.is_marked(obj), "clearing pointer bits leaves the mark");
                // The same offset in the other chunk is untouched.
                let other = if obj - base >= chunk_arena {
                    obj - chunk_arena
                } else {
                    obj + chunk_arena
                };
                assert!(!bm.is_marked(other));
                bm.clear_mark(obj);
            }
        });
    }

    #[test]
    fn the_bitmap_is_mapped_in_whole_chunks() {
        assert_eq!(bitmap_bytes_for(0), 0);
        assert_eq!(bitmap_bytes_for(8192), BITMAP_CHUNK);
        assert_eq!(bitmap_bytes_for(4 << 20), BITMAP_CHUNK);
        assert_eq!(bitmap_bytes_for((4 << 20) + 8192), 2 * BITMAP_CHUNK);
        assert_eq!(bitmap_bytes_for(64 << 30), (64 << 30) / 32);
    }

    #[test]
    fn next_set_bit_scans_words() {
        let w = [0u64, 1 << 5, 0];
        assert_eq!(next_set_bit(&w, 0, 192), Some(69));
        assert_eq!(next_set_bit(&w, 70, 192), None);
        assert_eq!(next_set_bit(&w, 0, 69), None);
    }
}
