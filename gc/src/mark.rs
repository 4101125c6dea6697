//! Marking: tri-colour tracing from the roots through the GC bitmap.
//!
//! White objects have a clear mark bit; grey objects are marked and on the
//! work list; black objects are marked and scanned. The work list is an
//! explicit stack (no recursion), so a list of ten million pairs needs no
//! native stack. Scanning reads an object's pointer bits from the GC bitmap,
//! or from its span when the span keeps one pointer layout for all its
//! objects (`MSpan::ptr_layout`; no type information needed either way),
//! filters each word through the heap's tag
//! rule and resolves it (interior pointers included) with `find_object`.
//! No-scan objects are marked but never pushed. Objects larger than
//! [`CHUNK_WORDS`] words are scanned a chunk at a time: the rest of the
//! object goes back on the stack, so one huge array cannot monopolise a step.
//!
//! The same tracer runs over a second, private bitmap for checkmark mode
//! ([`MarkBits::Check`]): after the real mark, re-mark from scratch and
//! report any object the re-mark reached that the real mark missed.
//!
//! Several markers run at once (parallel and concurrent marking): mark bits
//! are then set with an atomic read-modify-write, so exactly one marker
//! greys an object, and grey work is shared through the [`WorkPool`]
//! (work.rs). A marker alone in a stopped world (one worker) sets mark bits
//! with a plain store instead ([`MarkBits::Exclusive`]).

use crate::roots::RootVisitor;
use crate::work::{self, Drain, WorkPool};
use bitvec::prelude::*;
use marrow_runtime::collector_interface::{self as ci, MSpan, MarkBitmap, EMPTY_SPAN};
use marrow_runtime::{Heap, ObjectInfo, TagRule};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Words scanned in one piece of a large object (128 KiB).
pub const CHUNK_WORDS: usize = 16 << 10;

/// A piece of an object still to scan: `addr`, and in `what` either the
/// number of words (the pointer bits are in the GC bitmap) or
/// [`SPAN_LAYOUT`] with the object's pointer mask (bit j: word j; slots
/// with a span-level layout have at most 63 words, so the tag bit is free).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Work {
    addr: usize,
    what: usize,
}

/// Tag in [`Work::what`]: the rest is a pointer mask, not a word count.
const SPAN_LAYOUT: usize = 1 << 63;

/// Where mark bits go.
#[derive(Debug)]
pub(crate) enum MarkBits {
    /// The heap's GC bitmap, shared with other markers.
    Heap,
    /// The heap's GC bitmap, this marker alone in a stopped world.
    Exclusive,
    /// A private bit per arena word, for checkmark mode.
    Check(BitVec<u64, Lsb0>),
}

/// What every marker of a cycle found, summed as markers publish.
#[derive(Debug, Default)]
pub(crate) struct MarkTotals {
    pub(crate) bytes: AtomicU64,
    pub(crate) objects: AtomicU64,
    pub(crate) scanned_words: AtomicU64,
}

impl MarkTotals {
    /// Reads and clears the totals: (bytes, objects, words scanned).
    pub(crate) fn take(&self) -> (u64, u64, u64) {
        (
            self.bytes.swap(0, Relaxed),
            self.objects.swap(0, Relaxed),
            self.scanned_words.swap(0, Relaxed),
        )
    }
}

/// A tracer.
///
/// Invariant: every object on `grey` is marked in `bits`; an object is
/// pushed at most once per mark (only by the call that marked it).
#[derive(Debug)]
pub(crate) struct Marker<'h> {
    heap: &'h Heap,
    bitmap: MarkBitmap<'h>,
    tag: TagRule,
    arena_base: usize,
    grey: Vec<Work>,
    bits: MarkBits,
    /// The span the last pointer resolved to, and its page range.
    last_span: &'h MSpan,
    last_base: usize,
    last_len: usize,
    /// Bytes of objects marked (slot sizes).
    pub(crate) marked_bytes: u64,
    /// Objects marked.
    pub(crate) marked_objects: u64,
    /// Words scanned.
    pub(crate) scanned_words: u64,
    /// Where the counts above go when published (None: private, checkmark).
    totals: Option<&'h MarkTotals>,
    published: (u64, u64, u64),
}

impl<'h> Marker<'h> {
    pub(crate) fn new(heap: &'h Heap, bits: MarkBits) -> Marker<'h> {
        Marker {
            heap,
            bitmap: ci::mark_bitmap(heap),
            tag: heap.tag_rule(),
            arena_base: heap.arena_base(),
            grey: Vec::new(),
            bits,
            last_span: &EMPTY_SPAN,
            last_base: 0,
            last_len: 0,
            marked_bytes: 0,
            marked_objects: 0,
            scanned_words: 0,
            totals: None,
            published: (0, 0, 0),
        }
    }

    /// A marker of the heap's mark bits that publishes its counts to `totals`.
    pub(crate) fn shared(heap: &'h Heap, exclusive: bool, totals: &'h MarkTotals) -> Marker<'h> {
        let mut m = Marker::new(heap, if exclusive { MarkBits::Exclusive } else { MarkBits::Heap });
        m.totals = Some(totals);
        m
    }

    /// Adds what this marker counted since the last call to its totals.
    /// Markers publish before they stop being active in the pool, so the
    /// totals are complete once marking is quiescent.
    pub(crate) fn publish(&mut self) {
        if let Some(t) = self.totals {
            let now = (self.marked_bytes, self.marked_objects, self.scanned_words);
            t.bytes.fetch_add(now.0 - self.published.0, Relaxed);
            t.objects.fetch_add(now.1 - self.published.1, Relaxed);
            t.scanned_words.fetch_add(now.2 - self.published.2, Relaxed);
            self.published = now;
        }
    }

    /// A private bitmap large enough for the arena mapped now.
    pub(crate) fn check_bits(heap: &Heap) -> MarkBits {
        MarkBits::Check(bitvec![u64, Lsb0; 0; heap.arena_mapped() / 8])
    }

    #[inline(always)]
    fn try_mark(&mut self, base: usize) -> bool {
        match &mut self.bits {
            // SAFETY: `base` starts an object that `object_at` found in an
            // in-use span of this heap; spans are not freed while marking.
            MarkBits::Heap => unsafe { self.bitmap.try_mark(base) },
            // No other marker can race on the mark words: skip the atomic
            // read-modify-write.
            // SAFETY: as above; and this marker is alone in a stopped world
            // (the collector makes an Exclusive marker only then).
            MarkBits::Exclusive => unsafe { self.bitmap.try_mark_exclusive(base) },
            MarkBits::Check(b) => {
                let i = (base - self.arena_base) / 8;
                !b.replace(i, true)
            }
        }
    }

    /// Whether the object `word` points into is marked in the heap's mark
    /// bits; None if `word` points into no object.
    pub(crate) fn is_marked(&self, word: usize) -> Option<bool> {
        if !self.tag.may_be_pointer(word) {
            return None;
        }
        let obj = self.heap.find_object(word)?;
        // SAFETY: `obj` was just found allocated in an in-use span of this
        // heap; weak processing asks with the world stopped and the mark
        // complete, when no span is freed.
        Some(unsafe { self.bitmap.is_marked(obj.base) })
    }

    /// Marks the object `word` points into, if it is one; greys it if it may
    /// hold pointers.
    #[inline(always)]
    pub(crate) fn mark_word(&mut self, word: usize) {
        if !self.tag.may_be_pointer(word) {
            return;
        }
        // Consecutive pointers mostly land in the span the last one did
        // (structures are allocated together): keep it, and skip the span
        // table and the span's state for them. Spans are neither freed nor
        // reused while marking.
        let span = if word.wrapping_sub(self.last_base) < self.last_len {
            self.last_span
        } else {
            let Some(s) = ci::span_of(self.heap, word) else { return };
            self.last_base = s.base();
            self.last_len = s.end() - s.base();
            self.last_span = s;
            s
        };
        if let Some(obj) = span.object_at(word) {
            self.mark_object(obj, span);
        }
    }

    #[inline(always)]
    fn mark_object(&mut self, obj: ObjectInfo, span: &MSpan) {
        if !self.try_mark(obj.base) {
            return;
        }
        self.marked_bytes += obj.size as u64;
        self.marked_objects += 1;
        if !obj.noscan {
            // The layout is read only for objects greyed here, not for
            // every pointer resolved.
            let what = match span.ptr_layout() {
                0 => obj.size / 8,
                mask => SPAN_LAYOUT | mask as usize,
            };
            self.grey.push(Work { addr: obj.base, what });
        }
    }

    /// Scans grey objects until none is left (this marker's own stack only).
    pub(crate) fn drain(&mut self) {
        while let Some(w) = self.grey.pop() {
            self.scan(w);
        }
    }

    /// Scans a piece of grey work (a chunk of it, if large; the rest goes
    /// back on the stack); returns the words scanned.
    #[inline(always)]
    fn scan(&mut self, Work { addr, what }: Work) -> u64 {
        let first_pushed;
        let n = if what & SPAN_LAYOUT != 0 {
            first_pushed = self.grey.len();
            let mask = (what & !SPAN_LAYOUT) as u64;
            ci::for_each_pointer_word(
                addr,
                mask,
                #[inline(always)]
                |slot| self.visit_slot(slot),
            );
            (u64::BITS - mask.leading_zeros()) as usize
        } else {
            let n = what.min(CHUNK_WORDS);
            if what > n {
                self.grey.push(Work {
                    addr: addr + n * 8,
                    what: what - n,
                });
            }
            first_pushed = self.grey.len();
            let bitmap = self.bitmap;
            // SAFETY: the words are a piece of a grey object, allocated in
            // an in-use span of this heap (it was marked through
            // `object_at`); spans are not freed while marking.
            unsafe {
                bitmap.for_each_pointer_slot(
                    addr,
                    n,
                    #[inline(always)]
                    |slot| self.visit_slot(slot),
                )
            };
            n
        };
        self.scanned_words += n as u64;
        // Visit the nearest child first (push it last): programs build
        // structures in some order, and following the allocation order
        // through memory, up or down, is what keeps marking in cache.
        // Bottom-up trees put a node's right child just below it,
        // top-down ones its left child just above: nearest-first finds
        // the sequential walk in both.
        let pushed = &mut self.grey[first_pushed..];
        if (2..=16).contains(&pushed.len()) {
            pushed.sort_unstable_by_key(|w| std::cmp::Reverse(w.addr.abs_diff(addr)));
        }
        n as u64
    }

    /// Reads the pointer slot at `slot` and marks what it points to.
    #[inline(always)]
    fn visit_slot(&mut self, slot: usize) {
        // SAFETY: `slot` is a word of an allocated object in a mapped span
        // (the object was found by find_object and stays allocated while
        // marking). Read atomically: a mutator may store to it concurrently
        // when marking is concurrent.
        let w = unsafe { (*(slot as *const AtomicUsize)).load(Relaxed) };
        self.mark_word(w);
    }

    /// Hands everything on this marker's stack to the pool.
    pub(crate) fn flush_to(&mut self, pool: &WorkPool<Work>) {
        work::flush(&mut self.grey, pool);
    }

    /// Marks until the pool is quiescent, sharing work with the other
    /// markers (the protocol is [`work::drain_shared`]). The caller must be
    /// active in the pool (it entered, or took a buffer); on return it is not.
    /// `progress` is told the words scanned every so often (background
    /// workers bank them as assist credit).
    pub(crate) fn drain_shared(&mut self, pool: &WorkPool<Work>, progress: impl FnMut(u64)) {
        let reported = self.scanned_words;
        work::drain_shared(
            &mut SharedDrain {
                m: self,
                progress,
                reported,
            },
            pool,
        );
    }

    /// Scans at most about `budget` words, taking work from the pool; gives
    /// back what is left ([`work::drain_budget`]). Returns the words scanned
    /// and whether marking was quiescent when this marker ran out of work
    /// (it was the last).
    pub(crate) fn drain_budget(&mut self, pool: &WorkPool<Work>, budget: u64) -> (u64, bool) {
        work::drain_budget(self, pool, budget)
    }

    /// Objects marked in this private bitmap but not in the heap's mark
    /// bits (checkmark failures), up to `limit` of them.
    pub(crate) fn missed_by_heap_mark(&self, limit: usize) -> Vec<ObjectInfo> {
        let MarkBits::Check(b) = &self.bits else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in b.iter_ones() {
            let base = self.arena_base + i * 8;
            // SAFETY: `base` starts an object this private mark reached
            // (found by `object_at` in this heap) in a stopped world, where
            // no span is freed.
            if !unsafe { self.bitmap.is_marked(base) } {
                if let Some(o) = self.heap.find_object(base) {
                    out.push(o);
                }
                if out.len() >= limit {
                    break;
                }
            }
        }
        out
    }
}

impl RootVisitor for Marker<'_> {
    #[inline]
    fn visit(&mut self, word: usize) {
        self.mark_word(word);
    }
}

/// A marker as the pool's protocols (work.rs) drive it.
impl Drain<Work> for Marker<'_> {
    #[inline(always)]
    fn grey(&mut self) -> &mut Vec<Work> {
        &mut self.grey
    }

    #[inline(always)]
    fn scan(&mut self, w: Work) -> u64 {
        Marker::scan(self, w)
    }

    #[inline]
    fn publish(&mut self) {
        Marker::publish(self);
    }
}

/// A marker driven by [`work::drain_shared`], reporting progress in words
/// scanned.
struct SharedDrain<'a, 'h, F> {
    m: &'a mut Marker<'h>,
    progress: F,
    /// `m.scanned_words` when progress was last reported.
    reported: u64,
}

impl<F: FnMut(u64)> Drain<Work> for SharedDrain<'_, '_, F> {
    #[inline(always)]
    fn grey(&mut self) -> &mut Vec<Work> {
        &mut self.m.grey
    }

    #[inline(always)]
    fn scan(&mut self, w: Work) -> u64 {
        Marker::scan(self.m, w)
    }

    #[inline]
    fn progress(&mut self) {
        (self.progress)(self.m.scanned_words - self.reported);
        self.reported = self.m.scanned_words;
    }

    #[inline]
    fn publish(&mut self) {
        Marker::publish(self.m);
    }
}
