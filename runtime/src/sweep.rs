//! Sweeping: turning the marks of a finished cycle into free slots and free
//! pages (Go's `mgcsweep.go`). Every piece of the sweeper is here except the
//! per-span primitive, which works on a span's private fields and lives
//! with them ([`MSpan::take_marks`](crate::MSpan::take_marks) and `MSpan::sweep` in span.rs, over
//! [`GcBitmap::take_marks`](crate::bitmap::GcBitmap::take_marks)).
//!
//! # Generations
//!
//! The heap's sweep generation `sg` advances by 2 when a sweep cycle begins
//! ([`Heap::begin_sweep`](crate::Heap::begin_sweep), called by the collector at mark termination with
//! the world stopped). Relative to it a span's own sweepgen is `sg - 2`
//! (needs sweeping), `sg - 1` (being swept), or `sg` (swept); `sg + 1` and
//! `sg + 3` mark a span held by a mutator cache. A sweeper takes a span with
//! [`claim`], a compare-and-swap from `sg - 2` to `sg - 1`, so among any
//! number of racing sweepers exactly one wins and sweeps the span; it
//! publishes its work with [`finish`], and anyone who then sees the span
//! swept ([`is_swept`]) sees every write the sweep made (Release/Acquire).
//! Arithmetic wraps: generations are compared for equality only. These three
//! functions are the protocol the loom models check (runtime/tests/loom.rs),
//! which is why they take a bare atomic and compile under `--cfg loom`.
//!
//! The central lists keep swept and unswept sets per class indexed by the
//! generation (mcentral.rs), so advancing `sg` makes every span unswept at
//! once, with no list walking.
//!
//! # Who sweeps, and when
//!
//! A span is swept exactly once per cycle, by whichever of these gets to it
//! first:
//!
//! - **Lazily**, on the allocation path: a cache that needs a span of a
//!   class sweeps unswept spans of that class until one has room
//!   (`sweep_for_cache`, bounded as in Go).
//! - **Proportionally**, on every allocation slow path: enough spans of any
//!   class that the pages swept keep pace with the bytes allocated since the
//!   sweep cycle began (Go's `deductSweepCredit`), so that sweeping is done
//!   before the next cycle must start and no pause has to finish it. The
//!   pace (pages per byte) is pacing arithmetic and comes from the
//!   collector's pacer (gc/src/pacer.rs) as the argument of
//!   [`Heap::begin_sweep`](crate::Heap::begin_sweep).
//! - **In the background**, while the mutators are quiet: the collector's
//!   background thread (gc/src/scavenger.rs) calls
//!   [`Heap::background_sweep_one`](crate::Heap::background_sweep_one).
//! - **Before a cycle**: the mutator that starts a cycle sweeps what is
//!   left before it stops the world ([`Heap::sweep_one`](crate::Heap::sweep_one)
//!   in a loop, yielding to another thread's stop; Go's `gcStart` does the
//!   same), and the collector finishes any remainder with the world stopped
//!   (its `finish_sweep`). Proportional sweeping normally leaves nothing.
//! - **All at once**: a forced cycle (`gc()`) sweeps everything before it
//!   returns ([`Heap::sweep_all`](crate::Heap::sweep_all)).
//!
//! # The sweep gate
//!
//! Background sweeps take the heap's sweep gate for reading around each span;
//! the collector takes it for writing ([`Heap::stop_background_sweep`](crate::Heap::stop_background_sweep)) only
//! while it finishes the previous sweep and while it starts the next one,
//! not for the whole cycle. That is enough for a background sweep never to
//! overlap a mark: when `finish_sweep` returns no span is being swept (the
//! write lock waited for it) and none is left unswept, so until the next
//! `begin_sweep` a background sweeper finds nothing to do. The gate also keeps
//! background sweepers out of `begin_sweep`'s rewinding of the central sets.
//!
//! # Soundness
//!
//! Sweeping frees every unmarked object, so it may only run on a complete
//! mark: [`Heap::begin_sweep`](crate::Heap::begin_sweep) is `unsafe` and its caller promises that
//! every reachable object is marked. Everything after that is safe, since
//! every sweeper claims its span before it touches it.

use crate::sync::{AtomicU32, Ordering};

/// Tries to claim a span for sweeping in heap generation `heap_sg`: true
/// if this caller moved the span's sweepgen from `heap_sg - 2` to
/// `heap_sg - 1`, and so owns the sweep (and must call [`finish`]).
///
/// Acquire on success: the winner sees everything done to the span before
/// it became unswept. Release on success orders the claim before the
/// sweep's writes for anyone who synchronises with it.
#[inline]
pub fn claim(span_sg: &AtomicU32, heap_sg: u32) -> bool {
    span_sg
        .compare_exchange(
            heap_sg.wrapping_sub(2),
            heap_sg.wrapping_sub(1),
            Ordering::AcqRel,
            Ordering::Relaxed,
        )
        .is_ok()
}

/// Marks a claimed span swept for `heap_sg` (Release: the sweep's writes
/// happen before any [`is_swept`] that sees it). Only the winner of
/// [`claim`] calls this.
#[inline]
pub fn finish(span_sg: &AtomicU32, heap_sg: u32) {
    span_sg.store(heap_sg, Ordering::Release);
}

/// Whether the span is swept for `heap_sg` (Acquire: if so, the sweeper's
/// writes are visible to the caller).
#[inline]
pub fn is_swept(span_sg: &AtomicU32, heap_sg: u32) -> bool {
    span_sg.load(Ordering::Acquire) == heap_sg
}

#[cfg(not(loom))]
pub use heap_sweep::SweepResult;

/// The sweeper over the real heap (not built for the loom models).
#[cfg(not(loom))]
mod heap_sweep {
    use super::{claim, finish};
    use crate::heap::Heap;
    use crate::sizeclass::SpanClass;
    use crate::span::MSpan;
    use std::sync::atomic::Ordering;
    use std::sync::RwLockWriteGuard;

    /// What a sweep did.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct SweepResult {
        /// Spans swept.
        pub spans: usize,
        /// Objects freed.
        pub objects_freed: usize,
        /// Bytes freed.
        pub bytes_freed: usize,
        /// Spans whose pages went back to the page heap.
        pub spans_freed: usize,
    }

    impl std::ops::AddAssign for SweepResult {
        fn add_assign(&mut self, o: SweepResult) {
            self.spans += o.spans;
            self.objects_freed += o.objects_freed;
            self.bytes_freed += o.bytes_freed;
            self.spans_freed += o.spans_freed;
        }
    }

    impl Heap {
        /// The current sweep generation.
        pub fn sweepgen(&self) -> u32 {
            self.sweepgen.load(Ordering::Acquire)
        }

        /// Starts a sweep cycle: every span becomes unswept, and proportional
        /// sweeping will sweep `pages_per_byte` pages for every byte added
        /// to heapLive from now on (0: none; the pacer's
        /// `sweep_pages_per_byte`). Call after a mark, with every cache
        /// flushed and the previous cycle fully swept.
        ///
        /// # Safety
        /// Every reachable object must be marked in the GC bitmap, and no
        /// object may be allocated between the mark and this call. No other
        /// thread may use the heap during the call (the world is stopped and
        /// background sweeps are shut out with [`Heap::stop_background_sweep`]).
        pub unsafe fn begin_sweep(&self, pages_per_byte: f64) {
            self.sweep_live_basis.store(self.heap_live(), Ordering::Relaxed);
            self.pages_swept.store(0, Ordering::Relaxed);
            self.sweep_pages_per_byte
                .store(pages_per_byte.to_bits(), Ordering::Relaxed);
            let sg = self.sweepgen();
            for c in self.central.iter() {
                // SAFETY: the caller has stopped the world and shut out
                // background sweeps (contract below), so no thread touches the
                // central sets; the last cycle is fully swept, so its unswept
                // sets are empty.
                unsafe { c.reset_unswept(sg) };
            }
            self.sweepgen.fetch_add(2, Ordering::AcqRel);
        }

        /// Sweeps a claimed span by its mark bits. Returns the span if it
        /// still holds objects, or is empty and `keep_empty` (still owned by
        /// the caller, swept for `sg`), or None if its pages went back to
        /// the page heap.
        ///
        /// # Safety
        /// The caller owns `s` (claimed it), and marking has finished: every
        /// reachable object in `s` is marked.
        unsafe fn sweep_claimed(
            &self,
            s: &'static MSpan,
            sg: u32,
            keep_empty: bool,
        ) -> (Option<&'static MSpan>, SweepResult) {
            let (live, _) = s.take_marks(&self.bitmap);
            let es = s.elemsize();
            self.pages_swept.fetch_add(s.npages() as u64, Ordering::Relaxed);
            // SAFETY: forwarded from the caller: unmarked objects are unreachable.
            let freed = unsafe { s.sweep(&live, self.config.clobber_free) };
            self.counters.add_frees(freed as u64, (freed * es) as u64);
            let mut r = SweepResult {
                spans: 1,
                objects_freed: freed,
                bytes_freed: freed * es,
                spans_freed: 0,
            };
            // SAFETY: we own the span.
            if !keep_empty && unsafe { s.alloc_count() } == 0 {
                // SAFETY: owned, and no object in it is reachable.
                unsafe { self.lock_mheap().free_span(s) };
                r.spans_freed = 1;
                return (None, r);
            }
            finish(&s.sweepgen, sg);
            (Some(s), r)
        }

        /// Lazy sweeping on the allocation path: sweep unswept spans of this
        /// class until one has room (bounded, as in Go).
        pub(crate) fn sweep_for_cache(&self, spc: SpanClass, sg: u32) -> Option<&'static MSpan> {
            let c = self.central(spc);
            let mut budget = 100;
            while budget > 0 {
                budget -= 1;
                let s = c.pop_partial_unswept(sg).or_else(|| c.pop_full_unswept(sg))?;
                if !claim(&s.sweepgen, sg) {
                    continue;
                }
                // SAFETY: we popped and claimed the span, so we own it; the
                // collector has marked everything reachable before advancing
                // sweepgen (begin_sweep's contract).
                // A span left empty is handed to the cache as it is, rather
                // than freed to the page heap and allocated again.
                let (kept, _) = unsafe { self.sweep_claimed(s, sg, true) };
                if let Some(s) = kept {
                    // SAFETY: we still own the span.
                    if unsafe { s.alloc_count() } < s.nelems() {
                        return Some(s);
                    }
                    c.push_swept(sg, s, false);
                }
            }
            None
        }

        /// Proportional sweeping on allocation slow paths (see the module
        /// docs): sweeps spans of any class until the pages swept keep pace
        /// with the bytes allocated since the sweep cycle began.
        pub(crate) fn sweep_proportional(&self) {
            let per_byte = f64::from_bits(self.sweep_pages_per_byte.load(Ordering::Relaxed));
            if per_byte == 0.0 {
                return;
            }
            let allocated = self
                .heap_live()
                .saturating_sub(self.sweep_live_basis.load(Ordering::Relaxed));
            let target = (allocated as f64 * per_byte) as u64;
            while self.pages_swept.load(Ordering::Relaxed) < target {
                let r = self.sweep_one();
                if r.spans == 0 {
                    self.sweep_pages_per_byte.store(0, Ordering::Relaxed);
                    return;
                }
            }
        }

        /// Sweeps one unswept span, if any remains; for proportional and
        /// background sweeping. Returns what it did (`spans == 0`: nothing left).
        pub fn sweep_one(&self) -> SweepResult {
            let sg = self.sweepgen();
            for c in self.central.iter() {
                while let Some(s) = c.pop_partial_unswept(sg).or_else(|| c.pop_full_unswept(sg)) {
                    if !claim(&s.sweepgen, sg) {
                        continue;
                    }
                    // SAFETY: popped and claimed, so owned; sweep cycles only
                    // start after a complete mark (begin_sweep's contract).
                    let (kept, r) = unsafe { self.sweep_claimed(s, sg, false) };
                    if let Some(s) = kept {
                        // SAFETY: still owned.
                        let has_free = unsafe { s.alloc_count() } < s.nelems();
                        c.push_swept(sg, s, has_free);
                    }
                    return r;
                }
            }
            SweepResult::default()
        }

        /// Sweeps every unswept span (the sweep-everything path of a full `gc()`).
        pub fn sweep_all(&self) -> SweepResult {
            let mut total = SweepResult::default();
            loop {
                let r = self.sweep_one();
                if r.spans == 0 {
                    return total;
                }
                total += r;
            }
        }

        /// A counter bumped by every allocation slow path; unchanged between
        /// two looks means no mutator needed a new span meanwhile (the
        /// background sweeper sweeps only then).
        pub fn activity(&self) -> u64 {
            self.activity.load(Ordering::Relaxed)
        }

        /// Sweeps one unswept span from a background thread, unless the
        /// collector holds the sweep gate (then returns None at once).
        pub fn background_sweep_one(&self) -> Option<SweepResult> {
            let _gate = self.sweep_gate.try_read().ok()?;
            Some(self.sweep_one())
        }

        /// Stops background sweeping until the guard is dropped, waiting for
        /// a span being swept in the background. The collector holds it while
        /// it finishes one sweep cycle and while it begins the next (see the
        /// module docs).
        pub fn stop_background_sweep(&self) -> RwLockWriteGuard<'_, ()> {
            self.sweep_gate.write().unwrap_or_else(|e| e.into_inner())
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_generation() {
        let s = AtomicU32::new(2);
        assert!(!claim(&s, 2), "swept span claimed");
        assert!(claim(&s, 4));
        assert!(!claim(&s, 4), "claimed twice");
        assert!(!is_swept(&s, 4));
        finish(&s, 4);
        assert!(is_swept(&s, 4));
        assert!(!claim(&s, 4));
    }

    #[test]
    fn wraps_around() {
        let s = AtomicU32::new(u32::MAX - 1);
        assert!(claim(&s, 0));
        assert_eq!(s.load(Ordering::Relaxed), u32::MAX);
        finish(&s, 0);
        assert!(is_swept(&s, 0));
    }
}
