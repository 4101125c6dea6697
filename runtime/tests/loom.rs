#![cfg(loom)]
//! Loom models of the runtime's lock-free protocols: the span set under the
//! central lists (`spanset`), the ownership handoff it carries between a
//! cache and the central lists, and the sweep-generation claim (`sweepgen`).
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
use marrow_runtime::sweepgen;
use marrow_runtime::sync::{Arc, AtomicBool, AtomicU32, Ordering, UnsafeCell};

/// A `&'static` value for the span set (one small leak per execution).
fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
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

/// Two pushers, one popper: every item pushed is popped exactly once. Three
/// pushes fill block 0 and start block 1, which grows the spine from 1 to 2
/// entries (the old spine goes to the epoch collector) while the popper may
/// be reading it.
#[test]
fn span_set_push_push_pop() {
    loom::model(|| {
        let items = leak([10u32, 11, 12]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = {
            let set = set.clone();
            thread::spawn(move || {
                set.push(&items[0]);
                set.push(&items[1]);
            })
        };
        let b = {
            let set = set.clone();
            thread::spawn(move || set.push(&items[2]))
        };
        let c = {
            let set = set.clone();
            thread::spawn(move || {
                let mut got = vec![];
                for _ in 0..2 {
                    if let Some(x) = set.pop() {
                        got.push(*x);
                    }
                }
                got
            })
        };
        a.join().unwrap();
        b.join().unwrap();
        let mut got = c.join().unwrap();
        assert_eq!(set.len(), 3 - got.len());
        drain(&set, &mut got);
        got.sort_unstable();
        assert_eq!(got, [10, 11, 12]);
        assert!(set.is_empty());
    });
}

/// A popper empties block 0 (retiring it to the pool, clearing its slots)
/// while the pusher may be adding block 1, perhaps reusing block 0 for it:
/// no stale slot is ever popped and nothing is lost or popped twice.
#[test]
fn span_set_block_retire_and_reuse() {
    loom::model(|| {
        let items = leak([20u32, 21, 22]);
        let set = Arc::new(SpanSet::<u32>::new());
        let a = {
            let set = set.clone();
            thread::spawn(move || {
                for x in items {
                    set.push(x);
                }
            })
        };
        let b = {
            let set = set.clone();
            thread::spawn(move || {
                let mut got = vec![];
                for _ in 0..3 {
                    if let Some(x) = set.pop() {
                        got.push(*x);
                    }
                }
                got
            })
        };
        a.join().unwrap();
        let mut got = b.join().unwrap();
        drain(&set, &mut got);
        got.sort_unstable();
        assert_eq!(got, [20, 21, 22]);
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
#[test]
fn span_set_ownership_handoff() {
    loom::model(|| {
        let span = leak(TestSpan {
            owner: UnsafeCell::new(0),
        });
        let to_b = Arc::new(SpanSet::<TestSpan>::new());
        let to_a = Arc::new(SpanSet::<TestSpan>::new());
        let pop_wait = |set: &SpanSet<TestSpan>| loop {
            if let Some(s) = set.pop() {
                return s;
            }
            thread::yield_now();
        };
        let b = {
            let (to_b, to_a) = (to_b.clone(), to_a.clone());
            thread::spawn(move || {
                let s = pop_wait(&to_b);
                // SAFETY: B owns the span now (popped it).
                s.owner.with_mut(|p| unsafe {
                    assert_eq!(*p, 1);
                    *p = 2;
                });
                to_a.push(s);
            })
        };
        // SAFETY: A owns the span until it pushes it.
        span.owner.with_mut(|p| unsafe { *p = 1 });
        to_b.push(span);
        let s = pop_wait(&to_a);
        // SAFETY: A owns the span again (popped it back).
        let v = s.owner.with(|p| unsafe { *p });
        assert_eq!(v, 2);
        b.join().unwrap();
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
                    if !sweepgen::claim(&s.sweepgen, SG) {
                        return false;
                    }
                    // SAFETY: the claim makes us the span's only sweeper.
                    s.data.with_mut(|p| unsafe { *p = id });
                    sweepgen::finish(&s.sweepgen, SG);
                    true
                })
            })
            .collect();
        if sweepgen::is_swept(&s.sweepgen, SG) {
            // SAFETY: finish (Release) ordered the sweep's write before this.
            let v = s.data.with(|p| unsafe { *p });
            assert!((1..=3).contains(&v), "swept span shows {v}");
        }
        let wins = sweepers.into_iter().map(|h| h.join().unwrap()).filter(|&w| w).count();
        assert_eq!(wins, 1);
        assert!(sweepgen::is_swept(&s.sweepgen, SG));
        assert!(!sweepgen::claim(&s.sweepgen, SG));
    });
}
