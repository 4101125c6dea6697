//! Weak references, ephemerons, guardians and cleanups: what the collector
//! does for objects that are held without being kept alive, and for
//! objects whose death the program wants to hear about.
//!
//! All four are *registered* with the collector when they are made (a
//! mutex-protected table, [`WeakTables`]): the collector finds them there,
//! not by scanning, so a program that uses none of them pays nothing (no
//! test on the allocation or barrier fast paths), and mark time grows only
//! with the number registered.
//!
//! - A **weak reference** is a small no-scan object holding one word, its
//!   referent: the marker never looks inside it, so the referent is not
//!   kept alive by it.
//! - An **ephemeron** is a no-scan object holding a key and a value: the
//!   value is alive if the ephemeron and its key are. A weak-keyed table
//!   built on ephemerons does not leak when a value refers to its own key
//!   (a weak key with a strong value would).
//! - A **guardian** (Chez Scheme's, Guile's) is a queue: an object
//!   registered with it is, once unreachable, kept alive and put on the
//!   queue, for the program to clean up after or to resurrect. An object
//!   registered twice comes back twice.
//! - A **cleanup** (Go's `runtime.AddCleanup`) is a function run after an
//!   object has died; it cannot see the object, so it cannot resurrect it.
//!
//! # When, in the cycle
//!
//! Everything happens at mark termination, with the world stopped, after
//! the ordinary mark has drained (`Core::mark_termination`, step
//! "weak processing"), in this order:
//!
//! 1. **Ephemerons, to a fixpoint.** Each live ephemeron whose key is
//!    marked (or is not a heap object) has its value marked, and the new
//!    grey objects are drained; that may mark more keys, so the ephemerons
//!    still pending are tried again until a round marks nothing. Each
//!    round looks only at the pending ephemerons, never at the whole heap.
//! 2. **Guardians.** Each registered object that is still unmarked, whose
//!    guardian is alive, is marked again (resurrected), drained, and moved
//!    to its guardian's queue; the queues are roots. Resurrected objects
//!    may hold ephemeron keys, so step 1 runs again, and so on until
//!    nothing changes.
//! 3. **Weak references and dead ephemerons are cleared**: a referent (a
//!    key) that is a heap object and unmarked is replaced by 0 (an
//!    ephemeron loses its value too). Clearing after resurrection means a
//!    weak reference to an object a guardian returned still finds it (as
//!    in Chez): the object is alive again.
//! 4. **Cleanups** of objects still unmarked are queued to run.
//! 5. Dead entries (a weak reference or ephemeron object that is itself
//!    unmarked, a guardian that died) leave the tables.
//!
//! This is correct because after step 1 and 2 nothing can become marked
//! any more (the world is stopped, marking is complete), so "unmarked" in
//! steps 3 and 4 means "will be freed by this cycle's sweep". The checkmark
//! mode re-marks from the roots without following weak references or
//! ephemeron values, so it checks the strong part of the graph as before.
//!
//! # Reads while marking
//!
//! With snapshot-at-the-beginning marking, a mutator that reads a weak
//! referent (or an ephemeron's key or value) during a mark and stores it
//! somewhere already scanned would hide a live object from the mark, and
//! step 3 would clear or free it. So a read during marking *shades* what it
//! returns: the word goes into the mutator's barrier buffer, like an
//! overwritten value, and is marked before termination (the typed API's
//! `WeakRef::get` and `Ephemeron::key`/`value` do this). A read outside
//! marking costs a load and the test of the marking flag. Stores into an
//! ephemeron go through the write barrier like any store.
//!
//! # Where cleanups run
//!
//! Never inside a pause or an allocation: step 4 only queues them. They
//! run on a mutator, in the order their objects were found dead, when it
//! calls [`crate::Mutator::run_cleanups`], and by default at the end of
//! [`crate::Mutator::gc`] and after a typed scope that ran a collection.
//! Guardian queues are polled by the program.
//!
//! Generations do not exist yet; when they do, a minor cycle must treat
//! old weak holders as registered (they are: registration is not by age).

use crate::mark::Marker;
use crate::roots::RootVisitor;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A cleanup function, queued by the collector, run by a mutator.
pub(crate) type Cleanup = Box<dyn FnOnce() + Send>;

/// What one cycle's weak processing did (for the cycle's report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeakCounts {
    /// Weak references whose referent died (cleared).
    pub weak_cleared: u64,
    /// Ephemerons whose key was alive, so their value was kept.
    pub ephemerons_kept: u64,
    /// Ephemerons whose key died (cleared, with their value).
    pub ephemerons_cleared: u64,
    /// Objects a guardian resurrected and queued.
    pub guarded_returned: u64,
    /// Cleanups queued because their object died.
    pub cleanups_queued: u64,
    /// Cleanups run (in `Gc::weak_totals` only: a cycle queues them, mutators run them).
    pub cleanups_run: u64,
}

impl std::ops::AddAssign for WeakCounts {
    fn add_assign(&mut self, o: WeakCounts) {
        self.weak_cleared += o.weak_cleared;
        self.ephemerons_kept += o.ephemerons_kept;
        self.ephemerons_cleared += o.ephemerons_cleared;
        self.guarded_returned += o.guarded_returned;
        self.cleanups_queued += o.cleanups_queued;
        self.cleanups_run += o.cleanups_run;
    }
}

/// The collector's registry of weak holders, guardians and cleanups.
///
/// Invariants: every weak reference and ephemeron object made by the typed
/// API is in `weak_refs` / `ephemerons` until the termination that finds it
/// dead; `ready` holds objects returned by guardians and not yet polled
/// (roots); `any` is true once anything was ever registered.
#[derive(Default)]
pub(crate) struct WeakTables {
    inner: Mutex<Tables>,
    any: AtomicBool,
    /// Cleanups waiting to run (a fast test for mutators).
    pending: AtomicUsize,
    /// What weak processing has done since the heap was made.
    totals: Mutex<WeakCounts>,
}

#[derive(Default)]
struct Tables {
    /// Addresses of weak reference objects: word 0 is the referent.
    weak_refs: Vec<usize>,
    /// Addresses of ephemeron objects: word 0 the key, word 1 the value.
    ephemerons: Vec<usize>,
    /// (object, guardian) registrations.
    guarded: Vec<(usize, usize)>,
    /// Per guardian, the objects returned and not yet polled.
    ready: HashMap<usize, std::collections::VecDeque<usize>>,
    /// (object, cleanup) registrations.
    cleanups: Vec<(usize, Cleanup)>,
    /// Cleanups of dead objects, in the order found.
    to_run: Vec<Cleanup>,
}

impl fmt::Debug for WeakTables {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.lock();
        f.debug_struct("WeakTables")
            .field("weak_refs", &t.weak_refs.len())
            .field("ephemerons", &t.ephemerons.len())
            .field("guarded", &t.guarded.len())
            .field("cleanups", &t.cleanups.len())
            .finish()
    }
}

/// A word read from a heap object (reads are atomic: markers may read too).
///
/// # Safety
/// `addr` is the address of a word of a live object.
unsafe fn load(addr: usize) -> usize {
    // SAFETY: the caller's contract; heap words are accessed atomically.
    unsafe { (*(addr as *const AtomicUsize)).load(Ordering::Acquire) }
}

/// Stores a word into a heap object.
///
/// # Safety
/// As [`load`].
unsafe fn store(addr: usize, w: usize) {
    // SAFETY: the caller's contract.
    unsafe { (*(addr as *const AtomicUsize)).store(w, Ordering::Release) }
}

impl WeakTables {
    fn lock(&self) -> MutexGuard<'_, Tables> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn touch(&self) {
        self.any.store(true, Ordering::Relaxed);
    }

    /// Registers the weak reference object at `obj` (word 0: referent).
    pub(crate) fn add_weak_ref(&self, obj: usize) {
        self.touch();
        self.lock().weak_refs.push(obj);
    }

    /// Registers the ephemeron object at `obj` (words 0, 1: key, value).
    pub(crate) fn add_ephemeron(&self, obj: usize) {
        self.touch();
        self.lock().ephemerons.push(obj);
    }

    /// Registers `obj` with the guardian at `guardian`.
    pub(crate) fn guard(&self, obj: usize, guardian: usize) {
        self.touch();
        self.lock().guarded.push((obj, guardian));
    }

    /// Takes the next object the guardian at `guardian` returned.
    pub(crate) fn poll_guardian(&self, guardian: usize) -> Option<usize> {
        let mut t = self.lock();
        let q = t.ready.get_mut(&guardian)?;
        let obj = q.pop_front();
        if q.is_empty() {
            t.ready.remove(&guardian);
        }
        obj
    }

    /// Registers `f` to run after `obj` dies.
    pub(crate) fn add_cleanup(&self, obj: usize, f: Cleanup) {
        self.touch();
        self.lock().cleanups.push((obj, f));
    }

    /// Whether cleanups are waiting to run.
    #[inline]
    pub(crate) fn cleanups_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Takes the cleanups waiting to run (counted as run).
    pub(crate) fn take_cleanups(&self) -> Vec<Cleanup> {
        let mut t = self.lock();
        self.pending.store(0, Ordering::Relaxed);
        let run = std::mem::take(&mut t.to_run);
        self.totals.lock().unwrap_or_else(|e| e.into_inner()).cleanups_run += run.len() as u64;
        run
    }

    /// What weak processing has done since the heap was made.
    pub(crate) fn totals(&self) -> WeakCounts {
        *self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reports the guardians' queues (roots: returned objects stay alive
    /// until polled).
    pub(crate) fn visit_roots(&self, v: &mut dyn RootVisitor) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        for q in self.lock().ready.values() {
            for &obj in q {
                v.visit(obj);
            }
        }
    }

    /// Mark termination's weak processing (steps 1 to 5 of the module
    /// documentation), with the world stopped and the ordinary mark
    /// complete; `m` marks and drains what it resurrects.
    pub(crate) fn process(&self, m: &mut Marker<'_>) -> WeakCounts {
        let mut counts = WeakCounts::default();
        if !self.any.load(Ordering::Relaxed) {
            return counts;
        }
        let mut t = self.lock();
        let t = &mut *t;
        // Ephemerons whose value is not yet known to be alive.
        let mut pending: Vec<usize> = t
            .ephemerons
            .iter()
            .copied()
            .filter(|&e| m.is_marked(e) == Some(true))
            .collect();
        // Guardians that are alive (decided before resurrection).
        let live_guardians: std::collections::HashSet<usize> = t
            .guarded
            .iter()
            .map(|&(_, g)| g)
            .chain(t.ready.keys().copied())
            .filter(|&g| m.is_marked(g) == Some(true))
            .collect();
        loop {
            // Step 1: ephemerons to a fixpoint.
            loop {
                let before = pending.len();
                pending.retain(|&e| {
                    // SAFETY: `e` is a live (marked) ephemeron: two words.
                    let key = unsafe { load(e) };
                    if m.is_marked(key) == Some(false) {
                        return true; // key not (yet) alive
                    }
                    // SAFETY: as above.
                    m.mark_word(unsafe { load(e + 8) });
                    counts.ephemerons_kept += 1;
                    false
                });
                m.drain();
                if pending.len() == before {
                    break;
                }
            }
            // Step 2: guardians resurrect their dead objects (all that are
            // unmarked now, before marking any: an object registered twice
            // comes back twice).
            let dead: Vec<bool> = t
                .guarded
                .iter()
                .map(|&(obj, g)| m.is_marked(obj) == Some(false) && live_guardians.contains(&g))
                .collect();
            let mut resurrected = false;
            let mut keep = dead.iter();
            let mut returned = Vec::new();
            t.guarded.retain(|&entry| {
                let is_dead = *keep.next().unwrap_or(&false);
                if is_dead {
                    returned.push(entry);
                }
                !is_dead
            });
            for (obj, g) in returned {
                t.ready.entry(g).or_default().push_back(obj);
                m.mark_word(obj);
                counts.guarded_returned += 1;
                resurrected = true;
            }
            if !resurrected {
                break;
            }
            m.drain();
        }
        // Step 3: clear what died.
        t.weak_refs.retain(|&w| {
            if m.is_marked(w) != Some(true) {
                return false; // the weak reference itself died
            }
            // SAFETY: `w` is a live weak reference object.
            let referent = unsafe { load(w) };
            if m.is_marked(referent) == Some(false) {
                // SAFETY: as above.
                unsafe { store(w, 0) };
                counts.weak_cleared += 1;
            }
            true
        });
        t.ephemerons.retain(|&e| {
            if m.is_marked(e) != Some(true) {
                return false;
            }
            // SAFETY: `e` is a live ephemeron object.
            let key = unsafe { load(e) };
            if m.is_marked(key) == Some(false) {
                // SAFETY: as above.
                unsafe {
                    store(e, 0);
                    store(e + 8, 0);
                }
                counts.ephemerons_cleared += 1;
            }
            true
        });
        // Step 4: cleanups of dead objects, in registration order (one
        // pass: many may die at once).
        let (dead, live): (Vec<_>, Vec<_>) = std::mem::take(&mut t.cleanups)
            .into_iter()
            .partition(|(obj, _)| m.is_marked(*obj) == Some(false));
        t.cleanups = live;
        counts.cleanups_queued += dead.len() as u64;
        t.to_run.extend(dead.into_iter().map(|(_, f)| f));
        self.pending.store(t.to_run.len(), Ordering::Relaxed);
        *self.totals.lock().unwrap_or_else(|e| e.into_inner()) += counts;
        // Step 5: registrations of dead guardians go.
        t.guarded.retain(|&(_, g)| live_guardians.contains(&g));
        t.ready.retain(|g, _| live_guardians.contains(g));
        counts
    }
}

/// The raw API's side of weak holders, for embedders on the untyped layer
/// (the Scheme's weak symbol table and weak hash tables). A holder is any
/// object of at least two words; the collector reads and clears its first
/// word (weak reference) or first two (ephemeron: key, value).
impl crate::Mutator {
    /// Registers the object at `obj` as a weak reference: its word 0 is
    /// not kept alive by it, and is set to 0 by the collection that finds
    /// its referent otherwise unreachable.
    ///
    /// # Safety
    /// `obj` is a live object of this mutator's heap of at least two words
    /// that holds no pointer the program relies on in word 0 being traced
    /// (allocate it no-scan), and word 0 is read only with
    /// [`crate::Mutator::read_weak`] from then on.
    pub unsafe fn register_weak_ref(&self, obj: std::ptr::NonNull<u8>) {
        self.core.weak.add_weak_ref(obj.as_ptr() as usize);
    }

    /// Registers the object at `obj` as an ephemeron: word 1 (the value)
    /// is kept alive while word 0 (the key) is; both are set to 0 by the
    /// collection that finds the key otherwise unreachable.
    ///
    /// # Safety
    /// As [`crate::Mutator::register_weak_ref`], for words 0 and 1.
    pub unsafe fn register_ephemeron(&self, obj: std::ptr::NonNull<u8>) {
        self.core.weak.add_ephemeron(obj.as_ptr() as usize);
    }

    /// Reads word `slot` of a weak holder: the referent, key or value, or
    /// 0 once cleared. During a mark the word read is shaded, so the mark
    /// keeps what the program now holds.
    ///
    /// # Safety
    /// `obj` is a live object of this heap with more than `slot` words.
    pub unsafe fn read_weak(&mut self, obj: std::ptr::NonNull<u8>, slot: usize) -> usize {
        // SAFETY: the caller's contract.
        let w = unsafe { load(obj.as_ptr() as usize + slot * 8) };
        if self.core.marking.load(Ordering::Relaxed) {
            self.satb.shade(&self.core, w);
        }
        w
    }

    /// Registers `obj` with the guardian object at `guardian` (see
    /// [`crate::typed::Guardian`]): once `obj` is unreachable it is kept
    /// alive and returned by [`crate::Mutator::poll_guardian`]. Words that
    /// are not objects of this heap are never returned.
    pub fn guard(&self, obj: usize, guardian: usize) {
        self.core.weak.guard(obj, guardian);
    }

    /// The next object the guardian at `guardian` returned, if any.
    pub fn poll_guardian(&self, guardian: usize) -> Option<usize> {
        self.core.weak.poll_guardian(guardian)
    }

    /// Runs `f` after the object at `obj` has died (see
    /// [`crate::typed::Mutation::add_cleanup`]); never, if `obj` is not an
    /// object of this heap.
    pub fn add_cleanup(&self, obj: usize, f: impl FnOnce() + Send + 'static) {
        self.core.weak.add_cleanup(obj, Box::new(f));
    }
}
