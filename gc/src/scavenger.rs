//! The background sweeper and scavenger: one thread per heap that finishes
//! sweeping the last cycle's spans (so the pages of dead spans go back to the
//! page heap even when the program stops allocating) and returns free pages
//! beyond the retained goal to the OS, highest addresses first, in chunks.
//! This file is the thread and its duty cycle; the sweeping it does is
//! runtime/src/sweep.rs, the releasing runtime/src/scavenge.rs, and the
//! retained goal comes from the pacer.
//!
//! Pacing: releasing memory costs about 1% of one CPU: after each chunk the
//! thread sleeps 99 times as long as the chunk took (9 times, about 10%,
//! while more than twice the retained size is held, so that a heap that
//! just dropped most of its data shrinks within seconds). Sweeping runs only
//! while the mutators are quiet (no allocation slow path since the last
//! look: an allocating mutator sweeps lazily itself, and a benchmark is
//! never slowed or helped by a second core), and then at half duty. With
//! nothing to do the thread sleeps until the collector wakes it at the end
//! of a cycle (or 100 ms pass). The retained goal is set by the collector
//! after every cycle (`Heap::set_retained`, `Pacer::retained`: the next heap
//! goal plus 10%, lowered by the memory limit); the page heap also releases
//! synchronously before growing past it. Background sweeps never overlap a
//! mark: the collector holds the heap's sweep gate while it finishes one
//! sweep cycle (which leaves nothing unswept) and while it begins the next,
//! and in between there is nothing to sweep (runtime/src/sweep.rs).
//!
//! Invariants: the thread holds an `Arc<Heap>`, so the heap outlives it;
//! `Gc`'s drop sets `stop` and joins the thread before the heap can go.

use marrow_runtime::Heap;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Spans swept per batch.
const SWEEP_BATCH: usize = 16;
/// Bytes released per batch (512 pages).
const RELEASE_CHUNK: usize = 4 << 20;
/// Longest sleep when there is nothing to do.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// Work time x this = sleep time: about 1% of a CPU.
const DUTY_DIVISOR: u32 = 99;
/// The same when more than twice the retained size is held (a large heap
/// just dropped): about 10% of a CPU, so RSS falls within seconds.
const CATCH_UP_DIVISOR: u32 = 9;

#[derive(Debug, Default)]
struct State {
    stop: bool,
    woken: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Handle to a heap's background thread.
#[derive(Debug)]
pub(crate) struct Scavenger {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Scavenger {
    /// Starts the thread, if `enabled` and the OS lets us (without it the
    /// heap still works: sweeping is lazy, and the page heap releases
    /// synchronously before growing past the retained goal).
    pub(crate) fn start(heap: &Arc<Heap>, enabled: bool) -> Option<Scavenger> {
        if !enabled {
            return None;
        }
        let shared = Arc::new(Shared::default());
        let (h, s) = (heap.clone(), shared.clone());
        let thread = std::thread::Builder::new()
            .name("marrow-scavenger".into())
            .spawn(move || run(&h, &s))
            .ok()?;
        Some(Scavenger {
            shared,
            thread: Some(thread),
        })
    }

    /// A cycle ended: there may be spans to sweep and pages to release.
    pub(crate) fn wake(&self) {
        self.shared.lock().woken = true;
        self.shared.cv.notify_one();
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(mut self) {
        self.shared.lock().stop = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(heap: &Heap, shared: &Shared) {
    let mut reported = false;
    let mut last_activity = heap.activity();
    loop {
        let start = Instant::now();
        let mut swept = 0;
        let activity = heap.activity();
        let quiet = activity == last_activity;
        last_activity = activity;
        while quiet && swept < SWEEP_BATCH {
            match heap.background_sweep_one() {
                Some(r) if r.spans > 0 => swept += 1,
                _ => break,
            }
        }
        let swept_for = start.elapsed();
        let release_start = Instant::now();
        let (debt, retained) = heap.scavenge_debt();
        let mut released = 0;
        // Sweep first: it turns dead spans into free pages to release.
        if debt > 0 && swept == 0 {
            match heap.scavenge(debt.min(RELEASE_CHUNK)) {
                Ok(n) => released = n,
                Err(e) => {
                    if !reported {
                        eprintln!("marrow: scavenger: {e}");
                        reported = true;
                    }
                }
            }
        }
        // Each kind of work buys its own sleep: releasing at 1% duty,
        // sweeping at half duty.
        let divisor = if debt > retained {
            CATCH_UP_DIVISOR
        } else {
            DUTY_DIVISOR
        };
        let owed = release_start.elapsed() * divisor * (released > 0) as u32 + swept_for;
        let wait = if released > 0 || swept > 0 {
            owed.clamp(Duration::from_micros(20), IDLE_POLL)
        } else if !quiet {
            // Mutators are allocating: look again soon.
            Duration::from_millis(10)
        } else {
            IDLE_POLL
        };
        let mut st = shared.lock();
        if st.stop {
            return;
        }
        if !st.woken {
            st = shared.cv.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner()).0;
        }
        st.woken = false;
        if st.stop {
            return;
        }
    }
}
