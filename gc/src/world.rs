//! Stopping the world: the registry of mutators, safepoints and safe regions.
//!
//! Protocol. One thread at a time is the *stopper* (a mutator that starts
//! or ends a cycle, or a background worker ending one). It raises `stop`,
//! which every mutator polls at each allocation (one relaxed load) and in
//! [`crate::Mutator::safepoint`]. A mutator that sees it first makes itself
//! safe (returns its cached spans, flushes its write-barrier buffer,
//! reports its roots) and then parks here until the world restarts. A mutator
//! blocked in native code stays in a *safe region*: it made itself safe
//! and reported its roots on entry, the stopper uses those, and leaving the
//! region waits while the world is stopped. The stopper proceeds once no
//! other mutator is running.
//!
//! Mutators report their own roots, so a [`crate::RootSource`] is only ever
//! read by its own thread and need not be `Sync`.
//!
//! Invariants (under the lock): `stopping` is true from a successful
//! [`World::try_stop`] to [`World::restart`], and `stop` mirrors it; while
//! a stopper holds a stopped world, every registered mutator but the stopper
//! is `Parked` or `SafeRegion`, with its roots in `roots`; no mutator
//! registers or leaves a safe region while `stopping`.

use crate::sync::{lock, wait, AtomicBool, Condvar, Mutex, Ordering};
use std::time::{Duration, Instant};

/// A registered mutator's number.
pub type MutatorId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Running mutator code; must reach a safepoint before the world stops.
    Running,
    /// Parked at a safepoint until the world restarts.
    Parked,
    /// In native code; its roots were reported on entry.
    SafeRegion,
}

#[derive(Debug)]
struct Slot {
    id: MutatorId,
    status: Status,
    roots: Vec<usize>,
}

#[derive(Debug, Default)]
struct WorldState {
    slots: Vec<Slot>,
    next_id: MutatorId,
    stopping: bool,
    /// Bumped at every restart: parked mutators wait for it to change.
    epoch: u64,
}

/// The mutator registry (see the module docs).
#[derive(Debug, Default)]
pub struct World {
    state: Mutex<WorldState>,
    cv: Condvar,
    stop: AtomicBool,
}

impl World {
    /// A world with no mutator and no stop requested.
    pub fn new() -> World {
        World::default()
    }

    /// Registers a new mutator (waiting while the world is stopped).
    pub fn register(&self) -> MutatorId {
        let mut st = lock(&self.state);
        while st.stopping {
            st = wait(&self.cv, st);
        }
        let id = st.next_id;
        st.next_id += 1;
        st.slots.push(Slot {
            id,
            status: Status::Running,
            roots: Vec::new(),
        });
        id
    }

    /// Removes a mutator (it flushed its cache first). A stopper waiting
    /// for it stops waiting.
    pub fn unregister(&self, id: MutatorId) {
        let mut st = lock(&self.state);
        st.slots.retain(|s| s.id != id);
        drop(st);
        self.cv.notify_all();
    }

    /// Registered mutators.
    pub fn mutators(&self) -> usize {
        lock(&self.state).slots.len()
    }

    /// Whether a stop is requested (the mutators' poll).
    #[inline(always)]
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Becomes the stopper, unless another stop is under way (then the
    /// caller, if a mutator, must park and may try again).
    pub fn try_stop(&self) -> bool {
        let mut st = lock(&self.state);
        if st.stopping {
            return false;
        }
        st.stopping = true;
        self.stop.store(true, Ordering::Relaxed);
        true
    }

    /// Becomes the stopper, waiting for any stop under way to end. Only
    /// for threads that are not mutators (they need not park).
    pub fn stop_blocking(&self) {
        let mut st = lock(&self.state);
        while st.stopping {
            st = wait(&self.cv, st);
        }
        st.stopping = true;
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The stopper waits until every mutator but `me` is parked or in a
    /// safe region; returns how long that took (time to safepoint).
    pub fn wait_stopped(&self, me: Option<MutatorId>) -> Duration {
        let t = Instant::now();
        let mut st = lock(&self.state);
        debug_assert!(st.stopping);
        while st.slots.iter().any(|s| Some(s.id) != me && s.status == Status::Running) {
            st = wait(&self.cv, st);
        }
        t.elapsed()
    }

    /// The stopper reads the roots every other mutator reported.
    pub fn for_each_reported_roots(&self, me: Option<MutatorId>, mut f: impl FnMut(&[usize])) {
        let st = lock(&self.state);
        for s in st.slots.iter().filter(|s| Some(s.id) != me) {
            f(&s.roots);
        }
    }

    /// The stopper restarts the world.
    pub fn restart(&self) {
        let mut st = lock(&self.state);
        st.stopping = false;
        st.epoch += 1;
        self.stop.store(false, Ordering::Relaxed);
        drop(st);
        self.cv.notify_all();
    }

    /// Parks mutator `id` until the world restarts, if a stop is under way
    /// (the caller made itself safe and passes its roots). Returns whether
    /// it parked.
    pub fn park(&self, id: MutatorId, roots: &[usize]) -> bool {
        let mut st = lock(&self.state);
        if !st.stopping {
            return false;
        }
        let epoch = st.epoch;
        set_status(&mut st, id, Status::Parked, Some(roots));
        self.cv.notify_all();
        while st.epoch == epoch {
            st = wait(&self.cv, st);
        }
        set_status(&mut st, id, Status::Running, None);
        true
    }

    /// Mutator `id` enters a safe region (it made itself safe and passes
    /// its roots): stops from now on do not wait for it.
    pub fn enter_safe_region(&self, id: MutatorId, roots: &[usize]) {
        let mut st = lock(&self.state);
        set_status(&mut st, id, Status::SafeRegion, Some(roots));
        drop(st);
        self.cv.notify_all();
    }

    /// Mutator `id` leaves its safe region, waiting while the world is stopped.
    pub fn leave_safe_region(&self, id: MutatorId) {
        let mut st = lock(&self.state);
        while st.stopping {
            st = wait(&self.cv, st);
        }
        set_status(&mut st, id, Status::Running, None);
    }
}

fn set_status(st: &mut WorldState, id: MutatorId, status: Status, roots: Option<&[usize]>) {
    let slot = st.slots.iter_mut().find(|s| s.id == id).expect("a registered mutator");
    slot.status = status;
    if let Some(r) = roots {
        slot.roots.clear();
        slot.roots.extend_from_slice(r);
    }
}
