//! The shared mark work pool and mark termination detection.
//!
//! Markers (the coordinating thread, background workers, assisting
//! mutators) each keep a private grey stack and share work through this
//! pool in buffers, as Go's `gcWork` shares `workbuf`s through `work.full`.
//! A marker that runs dry takes a buffer; one that holds much while the pool
//! is empty gives some away, so idle workers find work.
//!
//! Termination: marking is *quiescent* when the pool is empty and no marker
//! is active (holds work taken from the pool or found itself). Markers
//! become active by taking a buffer ([`WorkPool::try_get`],
//! [`WorkPool::get_or_wait`]) or by announcing that they hold work
//! ([`WorkPool::enter`]), and stop being active only under the pool's lock
//! after giving back what they did not scan ([`WorkPool::release`]), so
//! "empty and nobody active" is never observed while some grey object is
//! still held privately. Quiescence is final while the world is stopped;
//! during concurrent marking a mutator's write barrier may add work again,
//! which is why the collector stops the world to terminate and drains
//! what that adds (docs/gc-cycle.md).
//!
//! Invariant (under the lock): every grey object is in a pool buffer or in
//! the private stack of an active marker; `active` counts those markers.
//!
//! The markers' side of the protocol is here too, generic over what is
//! scanned ([`Drain`]): [`drain_shared`] (scan, share when the pool is
//! hungry, take more or stop at quiescence; background and stop-the-world
//! workers), [`drain_budget`] (bounded: assists and mark termination's
//! re-check), [`share_greyed`] (grey work found outside the markers: the
//! write barrier's buffer flush) and [`balance`] (which half to share).
//! mark.rs and barrier.rs run them over heap objects, and the loom models
//! (tests/loom.rs) run the same functions over a small graph, so the models
//! check the code the collector runs, not copies of it.

use crate::sync::{lock, wait, AtomicUsize, Condvar, Mutex, Ordering};

/// Items per shared buffer.
pub(crate) const BUF_LEN: usize = 256;

#[derive(Debug)]
struct PoolState<T> {
    full: Vec<Vec<T>>,
    active: usize,
    /// Bumped by [`WorkPool::wake_all`]: waiters return even if not quiescent.
    wake_epoch: u64,
}

/// The pool (see the module docs).
#[derive(Debug)]
pub struct WorkPool<T> {
    state: Mutex<PoolState<T>>,
    cv: Condvar,
    /// Buffers in the pool, readable without the lock (a hint for sharing).
    nfull: AtomicUsize,
    /// Markers blocked in `get_or_wait` (a hint for sharing).
    waiting: AtomicUsize,
}

/// Why [`WorkPool::try_get`] found nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoWork {
    /// The pool is empty but another marker is active: work may appear.
    Busy,
    /// The pool is empty and no marker is active: marking is done (for now).
    Quiescent,
}

impl<T> WorkPool<T> {
    /// An empty pool with no active marker.
    pub fn new() -> WorkPool<T> {
        WorkPool {
            state: Mutex::new(PoolState {
                full: Vec::new(),
                active: 0,
                wake_epoch: 0,
            }),
            cv: Condvar::new(),
            nfull: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Adds a buffer of grey work. Anyone may call it, active or not (a
    /// mutator flushing its write-barrier buffer is not a marker).
    pub fn put(&self, buf: Vec<T>) {
        if buf.is_empty() {
            return;
        }
        let mut st = lock(&self.state);
        st.full.push(buf);
        self.nfull.store(st.full.len(), Ordering::Relaxed);
        drop(st);
        self.cv.notify_one();
    }

    /// Whether sharing work would help: the pool is empty or someone waits.
    pub fn hungry(&self) -> bool {
        self.nfull.load(Ordering::Relaxed) == 0 || self.waiting.load(Ordering::Relaxed) > 0
    }

    /// The caller becomes active without taking a buffer (it found work
    /// itself: roots). Pair with [`WorkPool::release`] or `get_or_wait`.
    pub fn enter(&self) {
        lock(&self.state).active += 1;
    }

    /// Takes a buffer without waiting; on success the caller is active.
    pub fn try_get(&self) -> Result<Vec<T>, NoWork> {
        let mut st = lock(&self.state);
        match st.full.pop() {
            Some(b) => {
                st.active += 1;
                self.nfull.store(st.full.len(), Ordering::Relaxed);
                Ok(b)
            }
            None if st.active == 0 => Err(NoWork::Quiescent),
            None => Err(NoWork::Busy),
        }
    }

    /// An active caller that has run out of work takes another buffer,
    /// waiting while others are active; returns None (the caller no longer
    /// active) when marking is quiescent or [`WorkPool::wake_all`] was called.
    pub fn get_or_wait(&self) -> Option<Vec<T>> {
        let mut st = lock(&self.state);
        st.active -= 1;
        let epoch = st.wake_epoch;
        loop {
            if let Some(b) = st.full.pop() {
                st.active += 1;
                self.nfull.store(st.full.len(), Ordering::Relaxed);
                return Some(b);
            }
            if st.active == 0 {
                drop(st);
                self.cv.notify_all();
                return None;
            }
            if st.wake_epoch != epoch {
                return None;
            }
            self.waiting.fetch_add(1, Ordering::Relaxed);
            st = wait(&self.cv, st);
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// An active caller stops (it gave back what it did not scan).
    pub fn release(&self) {
        let mut st = lock(&self.state);
        st.active -= 1;
        let quiescent = st.active == 0 && st.full.is_empty();
        drop(st);
        if quiescent {
            self.cv.notify_all();
        }
    }

    /// Whether marking is quiescent now.
    pub fn is_quiescent(&self) -> bool {
        let st = lock(&self.state);
        st.active == 0 && st.full.is_empty()
    }

    /// Wakes every marker blocked in `get_or_wait` (they return None).
    pub fn wake_all(&self) {
        lock(&self.state).wake_epoch += 1;
        self.cv.notify_all();
    }
}

/// A marker as [`drain_shared`], [`drain_budget`] and [`share_greyed`]
/// drive it: a private grey stack and a way to scan one item (pushing what
/// it greys onto that stack).
pub trait Drain<T> {
    /// Items scanned between two looks at whether to share work.
    const BALANCE_EVERY: u32 = 64;

    /// The marker's private grey stack.
    fn grey(&mut self) -> &mut Vec<T>;

    /// Scans one grey item, pushing the items it greys onto [`Drain::grey`];
    /// returns the work done (words scanned), which budgets count.
    fn scan(&mut self, item: T) -> u64;

    /// Called every [`Drain::BALANCE_EVERY`] items (after sharing) and when
    /// the stack runs dry in [`drain_shared`] (before [`Drain::publish`]):
    /// progress reporting.
    fn progress(&mut self) {}

    /// Called before the marker stops being active in the pool (or asks it
    /// for more): a marker publishes its counts here, so they are complete
    /// once marking is quiescent.
    fn publish(&mut self) {}
}

/// Gives the oldest half of `grey` (at most a buffer) to the pool if other
/// markers could use it (the oldest entries are farthest from what this
/// marker is scanning, so its walk through memory stays sequential).
#[inline]
pub fn balance<T>(grey: &mut Vec<T>, pool: &WorkPool<T>) {
    if grey.len() >= 2 && pool.hungry() {
        let half = (grey.len() / 2).min(BUF_LEN);
        let rest = grey.split_off(half);
        pool.put(std::mem::replace(grey, rest));
    }
}

/// Hands everything on `grey` to the pool, in buffers.
pub fn flush<T: Clone>(grey: &mut Vec<T>, pool: &WorkPool<T>) {
    for chunk in std::mem::take(grey).chunks(BUF_LEN) {
        pool.put(chunk.to_vec());
    }
}

/// Scans until the pool is quiescent, sharing work with the other markers.
/// The caller must be active in the pool (it entered, or took a buffer);
/// on return it is not, and its stack is empty.
#[inline(always)]
pub fn drain_shared<T, D: Drain<T>>(d: &mut D, pool: &WorkPool<T>) {
    loop {
        let mut since_balance = 0u32;
        while let Some(w) = d.grey().pop() {
            d.scan(w);
            since_balance += 1;
            if since_balance == D::BALANCE_EVERY {
                since_balance = 0;
                balance(d.grey(), pool);
                d.progress();
            }
        }
        d.progress();
        d.publish();
        match pool.get_or_wait() {
            Some(buf) => *d.grey() = buf,
            None => return,
        }
    }
}

/// Scans at most about `budget` work, taking work from the pool; gives back
/// what is left. The caller is not active in the pool, before or after,
/// and its stack is empty. Returns the work done and whether marking was
/// quiescent when this marker ran out of work (it was the last). Mark
/// termination's re-check and mutators' assists are this.
pub fn drain_budget<T: Clone, D: Drain<T>>(d: &mut D, pool: &WorkPool<T>, budget: u64) -> (u64, bool) {
    let mut done = 0;
    let mut quiescent = false;
    'outer: while done < budget {
        match pool.try_get() {
            Ok(buf) => *d.grey() = buf,
            Err(e) => {
                quiescent = e == NoWork::Quiescent;
                break;
            }
        }
        while let Some(w) = d.grey().pop() {
            done += d.scan(w);
            if done >= budget {
                flush(d.grey(), pool);
                d.publish();
                pool.release();
                break 'outer;
            }
        }
        d.publish();
        pool.release();
    }
    (done, quiescent)
}

/// Greys work found outside the markers (a mutator's write-barrier buffer)
/// and hands it to the pool: the caller becomes active, `grey_them` marks
/// onto `d`'s stack, the stack goes to the pool, and the caller stops being
/// active, so termination cannot be observed between the marking and the
/// handing over. `d`'s stack must be empty.
pub fn share_greyed<T: Clone, D: Drain<T>>(d: &mut D, pool: &WorkPool<T>, grey_them: impl FnOnce(&mut D)) {
    pool.enter();
    grey_them(d);
    flush(d.grey(), pool);
    d.publish();
    pool.release();
}
