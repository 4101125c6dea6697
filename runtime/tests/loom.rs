#![cfg(loom)]
//! Loom models of the runtime's lock-free protocols: the span set under the
//! central lists (`spanset`), the ownership handoff it carries between a
//! cache and the central lists, the sweep-generation claim (`sweep.rs`) and
//! the publication of a span's pointer layout (`ptrlayout`).
//! They run the runtime's own code on loom's primitives (`sync`), with a
//! span set block of 2 slots and a first spine of 1 block, so that block
//! retirement, block reuse and spine growth (with epoch reclamation of the
//! old spine) all happen within a few operations.
//!
//! Run (about a minute on 2 cores; see the README):
//!
//! ```text
//! RUSTFLAGS="--cfg loom --cfg crossbeam_loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test -p marrow-runtime --test loom --release --target-dir /work/target-loom
//! ```

use loom::thread;
use marrow_runtime::spanset::{SpanSet, BLOCK_ENTRIES};
use marrow_runtime::sync::{epoch, Arc, AtomicBool, AtomicU32, AtomicU64, Ordering, UnsafeCell};
use marrow_runtime::{ptrlayout, sweep};

/// A `&'static` value for the span set (one small leak per execution).
fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

/// Waits (yielding to loom) until `flag` is set.
fn wait(flag: &AtomicBool) {
    while !flag.load(Ordering::Acquire) {
        thread::yield_now();
    }
}

/// A model thread whose crossbeam-epoch bookkeeping is kept out of the
/// interleavings: it registers with the collector (its first pin) before
/// the next thread starts, and exits (unregisters, handing its garbage to
/// the global queue) only when joined, one thread at a time. What runs
/// concurrently is then the span set's own code, pins and deferred
/// destruction included. (Crossbeam checks its registration and exit
/// protocols with its own loom tests; with them interleaved, a model of
/// three threads here takes many minutes instead of seconds.)
struct Worker<R> {
    handle: thread::JoinHandle<R>,
    may_exit: Arc<AtomicBool>,
}

impl<R: 'static> Worker<R> {
    fn spawn(f: impl FnOnce() -> R + 'static) -> Worker<R> {
        let registered = Arc::new(AtomicBool::new(false));
        let may_exit = Arc::new(AtomicBool::new(false));
        let handle = {
            let (registered, may_exit) = (registered.clone(), may_exit.clone());
            thread::spawn(move || {
                drop(epoch::pin());
                registered.store(true, Ordering::Release);
                let r = f();
                wait(&may_exit);
                r
            })
        };
        wait(&registered);
        Worker { handle, may_exit }
    }

    fn join(self) -> R {
        self.may_exit.store(true, Ordering::Release);
        self.handle.join().unwrap()
    }
}

/// Pops everything left (the model's threads have all been joined).
fn drain(set: &SpanSet<u32>, got: &mut Vec<u32>) {
    while let Some(x) = set.pop() {
        got.push(*x);
    }
}

#[test]
fn models_use_tiny_blocks() {
    assert_eq!(BLOCK_ENTRIES, 2);
}

/// Thread A pushes and pops, thread B pushes, the main thread pops: every
/// item pushed is popped exactly once. With one item already in block 0,
/// the two pushes take entries 1 and 2: the push of entry 2 adds block 1,
/// growing the spine from 1 to 2 entries (the old spine is handed to the
/// epoch collector) while the poppers may be reading it; a pop may claim
/// an entry whose push has not stored yet and wait for it; the pops of
/// entries 0 and 1 retire block 0, possibly before the push of entry 2
/// takes it back from the pool as block 1.
#[test]
fn span_set_push_pop_three_threads() {
    loom::model(|| {
        let items = leak([10u32, 11, 12]);
        let set = Arc::new(SpanSet::<u32>::new());
        set.push(&items[0]);
        let a = {
            let set = set.clone();
            Worker::spawn(move || {
                set.push(&items[1]);
                set.pop().copied()
            })
        };
        let b = {
            let set = set.clone();
            Worker::spawn(move || set.push(&items[2]))
        };
        let mut got: Vec<u32> = set.pop().copied().into_iter().collect();
        got.extend(a.join());
        b.join();
        assert_eq!(set.len(), 3 - got.len());
        drain(&set, &mut got);
        got.sort_unstable();
        assert_eq!(got, [10, 11, 12]);
        assert!(set.is_empty());
    });
}

/// One pusher, one popper, three items: block 0 fills and empties (the
/// popper retires it, clearing its slots) while the pusher may be adding
/// block 1, perhaps reusing block 0 for it, and the popper may claim entry
/// 2 before its push stores: no stale slot is ever popped, nothing is lost
/// or popped twice.
#[test]
fn span_set_block_retire_and_reuse() {
    loom::model(|| {
        let items = leak([20u32, 21, 22]);
        let set = Arc::new(SpanSet::<u32>::new());
        drop(epoch::pin());
        let a = {
            let set = set.clone();
            Worker::spawn(move || {
                for x in items {
                    set.push(x);
                }
            })
        };
        let mut got = vec![];
        for _ in 0..3 {
            if let Some(x) = set.pop() {
                got.push(*x);
            }
        }
        a.join();
        drain(&set, &mut got);
        got.sort_unstable();
        assert_eq!(got, [20, 21, 22]);
    });
}

/// Three pushers race across a block boundary: whichever push lands in
/// block 1 adds the blocks for every index up to its own, so a push still
/// on block 0 never finds a hole in the spine (Go adds only the block
/// asked for: if both pushes of block 0 stall before the push of block 1
/// takes the spine lock, they find no block 0). Reaching that schedule
/// takes 3 preemptions: with `LOOM_MAX_PREEMPTIONS=3` Go's variant crashes
/// here (after about 4 minutes); at 2 the model checks three pushers
/// growing the spine at once.
#[test]
fn span_set_pushes_add_blocks_in_order() {
    loom::model(|| {
        let items = leak([30u32, 31, 32]);
        let set = Arc::new(SpanSet::<u32>::new());
        drop(epoch::pin());
        let a = {
            let set = set.clone();
            Worker::spawn(move || set.push(&items[0]))
        };
        let b = {
            let set = set.clone();
            Worker::spawn(move || set.push(&items[1]))
        };
        set.push(&items[2]);
        a.join();
        b.join();
        let mut got = vec![];
        drain(&set, &mut got);
        got.sort_unstable();
        assert_eq!(got, [30, 31, 32]);
    });
}

/// A test span: owner fields that only the span's current owner touches,
/// as `MSpan`'s are.
struct TestSpan {
    owner: UnsafeCell<u64>,
}

/// Cache-to-central handoff and back: thread A owns the span, writes its
/// owner fields and pushes it (an uncache); thread B pops it (a refill),
/// reads and writes the fields, and pushes it on a second set; A pops it
/// from there and reads B's write. Loom reports a data race if a push/pop
/// pair does not order the previous owner's accesses before the next
/// owner's.
///
/// Both threads stay pinned throughout, so the set's own pins are
/// re-entrant and execute no fence: crossbeam-epoch under loom stands in a
/// SeqCst fence for the compiler fence in `pin`, and loom's SeqCst fences
/// order every pinning thread after every earlier one, which would hide a
/// missing Release/Acquire on the slot. (Checked: with the slot's store
/// made Relaxed this model reports the race; without the guards it does not.)
#[test]
fn span_set_ownership_handoff() {
    loom::model(|| {
        let span = leak(TestSpan {
            owner: UnsafeCell::new(0),
        });
        let to_b = Arc::new(SpanSet::<TestSpan>::new());
        let to_a = Arc::new(SpanSet::<TestSpan>::new());
        // Put block 0 in each set first, as a long-lived set has its
        // blocks: otherwise adding the block (the spine lock, spine_len's
        // Release) would order the handoff, and the slot's own
        // Release/Acquire would go unchecked.
        let dummy = leak(TestSpan {
            owner: UnsafeCell::new(0),
        });
        for set in [&to_b, &to_a] {
            set.push(dummy);
            assert!(set.pop().is_some());
        }
        let pop_wait = |set: &SpanSet<TestSpan>| loop {
            if let Some(s) = set.pop() {
                return s;
            }
            thread::yield_now();
        };
        drop(epoch::pin());
        let b = {
            let (to_b, to_a) = (to_b.clone(), to_a.clone());
            Worker::spawn(move || {
                let guard = epoch::pin();
                let s = pop_wait(&to_b);
                // SAFETY: B owns the span now (popped it).
                s.owner.with_mut(|p| unsafe {
                    assert_eq!(*p, 1);
                    *p = 2;
                });
                to_a.push(s);
                drop(guard);
            })
        };
        let guard = epoch::pin();
        // SAFETY: A owns the span until it pushes it.
        span.owner.with_mut(|p| unsafe { *p = 1 });
        to_b.push(span);
        let s = pop_wait(&to_a);
        drop(guard);
        // SAFETY: A owns the span again (popped it back).
        let v = s.owner.with(|p| unsafe { *p });
        assert_eq!(v, 2);
        b.join();
    });
}

/// Control: the same handoff through a Relaxed flag is a data race, and
/// loom reports it (so the model above is not passing vacuously).
#[test]
#[should_panic(expected = "Causality violation")]
fn loom_reports_a_handoff_without_release() {
    loom::model(|| {
        let span = Arc::new(TestSpan {
            owner: UnsafeCell::new(0),
        });
        let flag = Arc::new(AtomicBool::new(false));
        let b = {
            let (span, flag) = (span.clone(), flag.clone());
            thread::spawn(move || {
                if flag.load(Ordering::Relaxed) {
                    // SAFETY: none; this is the race loom must report.
                    span.owner.with_mut(|p| unsafe { *p = 2 });
                }
            })
        };
        // SAFETY: the only writer so far.
        span.owner.with_mut(|p| unsafe { *p = 1 });
        flag.store(true, Ordering::Relaxed);
        b.join().unwrap();
    });
}

/// A span's sweepgen and what sweeping it writes.
struct SweptSpan {
    sweepgen: AtomicU32,
    data: UnsafeCell<u32>,
}

/// Three sweepers race to claim one span: exactly one wins; its writes are
/// seen by a reader that observes `finish` (and a second winner's writes
/// would be reported as a race).
#[test]
fn sweepgen_claim_has_one_winner() {
    const SG: u32 = 6;
    loom::model(|| {
        let s = Arc::new(SweptSpan {
            sweepgen: AtomicU32::new(SG - 2),
            data: UnsafeCell::new(0),
        });
        let sweepers: Vec<_> = (1..=3)
            .map(|id| {
                let s = s.clone();
                thread::spawn(move || {
                    if !sweep::claim(&s.sweepgen, SG) {
                        return false;
                    }
                    // SAFETY: the claim makes us the span's only sweeper.
                    s.data.with_mut(|p| unsafe { *p = id });
                    sweep::finish(&s.sweepgen, SG);
                    true
                })
            })
            .collect();
        if sweep::is_swept(&s.sweepgen, SG) {
            // SAFETY: finish (Release) ordered the sweep's write before this.
            let v = s.data.with(|p| unsafe { *p });
            assert!((1..=3).contains(&v), "swept span shows {v}");
        }
        let wins = sweepers.into_iter().map(|h| h.join().unwrap()).filter(|&w| w).count();
        assert_eq!(wins, 1);
        assert!(sweep::is_swept(&s.sweepgen, SG));
        assert!(!sweep::claim(&s.sweepgen, SG));
    });
}

/// A marker scanning an object of a span whose owner drops the span's
/// pointer layout meanwhile: it gets the object's pointer words either from
/// the layout or, once it reads the layout gone, from the bitmap words the
/// owner wrote out first (`drop_with` clears the word with Release).
#[test]
fn ptr_layout_drop_publishes_the_bits() {
    const NODE: u64 = 0b11;
    loom::model(|| {
        let layout = Arc::new(AtomicU64::new(0));
        let bits = Arc::new(AtomicU64::new(0)); // the span's pointer words
        ptrlayout::adopt(&layout, NODE);
        let marker = {
            let (layout, bits) = (layout.clone(), bits.clone());
            thread::spawn(move || match ptrlayout::load(&layout) {
                0 => bits.load(Ordering::Relaxed),
                mask => mask,
            })
        };
        let dropped = ptrlayout::drop_with(&layout, |mask| bits.store(mask, Ordering::Relaxed));
        assert_eq!(dropped, NODE);
        assert_eq!(marker.join().unwrap(), NODE, "an old object's pointer words were lost");
    });
}

/// Control: the same drop with the layout cleared by a Relaxed store lets
/// the marker see the layout gone but not the bits, and the model catches
/// it (as it does when `drop_with` itself is mutated so).
#[test]
#[should_panic(expected = "pointer words were lost")]
fn loom_reports_a_layout_dropped_without_release() {
    loom::model(|| {
        let layout = Arc::new(AtomicU64::new(0b11));
        let bits = Arc::new(AtomicU64::new(0));
        let marker = {
            let (layout, bits) = (layout.clone(), bits.clone());
            thread::spawn(move || match ptrlayout::load(&layout) {
                0 => bits.load(Ordering::Relaxed),
                mask => mask,
            })
        };
        bits.store(0b11, Ordering::Relaxed);
        layout.store(0, Ordering::Relaxed);
        assert_eq!(marker.join().unwrap(), 0b11, "an old object's pointer words were lost");
    });
}
