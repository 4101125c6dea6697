//! The collector with several mutator threads: each thread has its own
//! `Mutator`, reports its own roots, and stores pointers through the write
//! barrier, while the others allocate, mutate and collect (triggered and
//! forced cycles, in every marking mode, with checkmark and clobber-on-free
//! on). These tests check what a multi-threaded VM relies on:
//!
//! - private graphs built and mutated by several threads stay intact across
//!   many collections that run while the threads run;
//! - one graph shared by several threads (mutated under a lock, lists handed
//!   from thread to thread through the heap and through a Rust-side mailbox
//!   every thread reports as roots) stays intact, and what it dropped is
//!   reclaimed exactly;
//! - a thread parked in a safe region never blocks a collection, and its
//!   objects survive; a loop that polls `safepoint` does not either;
//! - a thread that exits leaves nothing behind: its garbage is reclaimed and
//!   it is no longer counted as a mutator, also when threads keep coming
//!   and going while others collect;
//! - the cycle report's time to safepoint and mutator count reflect the
//!   other threads.
//!
//! Every node carries its id in a word that is not a pointer slot and a
//! checksum of the id in a pointer slot, as an odd (tagged) immediate that the
//! tag rule `low_bits(1, 0)` tells the collector to ignore. A node freed while
//! reachable is filled with the clobber byte, so its checksum no longer
//! matches; a node replaced by another thread's carries a foreign id.
//!
//! A test that deadlocks fails after a timeout instead of hanging the run.
//! The whole file takes a few seconds; `GC_THREADS_SCALE=N` multiplies the
//! two big workloads for soak runs.

use marrow_gc::runtime::{Heap, TagRule, Type};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator, RootSource, RootVisitor};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier, Mutex, MutexGuard, TryLockError};
use std::thread;
use std::time::{Duration, Instant};

#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

const MODES: [GcMode; 3] = [GcMode::StopTheWorld, GcMode::Incremental, GcMode::Concurrent];

/// Mutator threads of the multi-threaded workloads.
const THREADS: usize = 4;

/// How long a whole test may run before it is taken to be deadlocked.
const DEADLOCK: Duration = Duration::from_secs(120);

/// Multiplies the work of the two big workloads (tests 1 and 2), for soak
/// runs: `GC_THREADS_SCALE=20 cargo test --test gc_threads`.
fn scaled(ops: usize) -> usize {
    ops * std::env::var("GC_THREADS_SCALE")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
}

/// How long collections may take while another thread sits in a safe
/// region or polls safepoints (they take well under a second).
const PATIENCE: Duration = Duration::from_secs(60);

/// Checkmark and clobber on; a 1 MiB minimum heap and GOGC 50, so triggered
/// cycles are frequent; immediates are odd words.
fn config(mode: GcMode) -> GcConfig {
    let mut c = GcConfig {
        mode,
        checkmark: true,
        clobber: true,
        gogc: Some(50),
        min_heap: 1 << 20,
        workers: 2,
        ..GcConfig::default()
    };
    c.heap.tag_rule = TagRule::low_bits(1, 0);
    c.heap.arena_size = 1 << 30;
    c
}

/// Runs `f` on its own thread and fails if it has not finished within
/// `limit` (a deadlock), passing its panic on otherwise.
fn within<T: Send + 'static>(what: &str, limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let h = thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let v = f();
            let _ = tx.send(());
            v
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        Err(RecvTimeoutError::Timeout) => panic!("{what}: not finished after {limit:?}: a deadlock?"),
    }
}

/// Waits for a thread's result on `rx`, failing after `limit`; if the
/// thread died, passes its panic on.
fn await_result<T>(rx: &mpsc::Receiver<T>, h: &mut Option<thread::JoinHandle<()>>, limit: Duration, what: &str) -> T {
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("{what}: no answer within {limit:?}"),
        Err(RecvTimeoutError::Disconnected) => {
            if let Some(Err(p)) = h.take().map(|h| h.join()) {
                std::panic::resume_unwind(p)
            }
            panic!("{what}: the thread ended without answering")
        }
    }
}

// Node layout (every node type): word 0 left (or next), word 1 right,
// word 2 the checksum (a pointer slot holding an odd immediate), word 3 the
// id (not a pointer slot).
const LEFT: usize = 0;
const RIGHT: usize = 1;
const CHECK: usize = 2;
const ID: usize = 3;

/// Node types of three size classes: small, medium, and large (a span of
/// its own).
struct Types {
    small: Type,
    medium: Type,
    large: Type,
}

impl Types {
    fn new() -> Types {
        let ptrs = [LEFT * 8, RIGHT * 8, CHECK * 8];
        Types {
            small: Type::new("node", 32, 8, &ptrs).unwrap(),
            medium: Type::new("node512", 512, 8, &ptrs).unwrap(),
            large: Type::new("node40k", 40 << 10, 8, &ptrs).unwrap(),
        }
    }

    /// The type of a thread's `n`th node: mostly small.
    fn pick(&self, n: usize) -> &Type {
        if n.is_multiple_of(1009) {
            &self.large
        } else if n.is_multiple_of(61) {
            &self.medium
        } else {
            &self.small
        }
    }
}

/// Node ids carry their thread (1-based) in bits 40 and up.
fn id_of(thread: usize, n: usize) -> usize {
    (thread + 1) << 40 | n
}

fn thread_of(id: usize) -> usize {
    (id >> 40).wrapping_sub(1)
}

/// The checksum of an id: odd, so an immediate under the tag rule.
fn checksum(id: usize) -> usize {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) << 1 | 1
}

/// Word `k` of object `p`, read atomically (markers may read it too).
fn word(p: usize, k: usize) -> usize {
    // SAFETY: callers pass live objects with more than k words; object
    // words are aligned, and concurrent readers and writers use atomics.
    unsafe { (*(p as *const AtomicUsize).add(k)).load(Ordering::Relaxed) }
}

/// Stores into word `k` of object `p` through the write barrier.
fn set(m: &mut Mutator, p: usize, k: usize, v: usize) {
    // SAFETY: callers pass live objects of this heap with more than k words.
    unsafe { m.write_ptr(NonNull::new(p as *mut u8).unwrap(), k, v) }
}

/// Allocates a node with id `id` (a safepoint: the caller's pointers must
/// be reachable from `roots`). Returns its address, not yet linked anywhere:
/// the caller links it before its next safepoint.
fn new_node(m: &mut Mutator, t: &Type, id: usize, roots: &dyn RootSource) -> usize {
    let p = m.alloc(t, roots).expect("allocation").as_ptr() as usize;
    for k in 0..4 {
        assert_eq!(word(p, k), 0, "fresh node {p:#x} not zeroed (word {k})");
    }
    set(m, p, CHECK, checksum(id));
    // SAFETY: word ID of a fresh node; not a pointer slot, so no barrier.
    unsafe { (*(p as *const AtomicUsize).add(ID)).store(id, Ordering::Relaxed) };
    p
}

/// Checks that `p` is an allocated node with a matching checksum; returns
/// its id.
fn check_node(heap: &Heap, p: usize) -> usize {
    let info = heap
        .find_object(p)
        .unwrap_or_else(|| panic!("node {p:#x} is reachable but not allocated"));
    assert_eq!(info.base, p, "node {p:#x} is inside another object at {:#x}", info.base);
    let id = word(p, ID);
    assert_eq!(
        word(p, CHECK),
        checksum(id),
        "node {p:#x} (id {id:#x}): checksum {:#x} is wrong (freed and reused, or clobbered)",
        word(p, CHECK)
    );
    id
}

/// The node `k` steps along the list at `head`.
fn nth(head: usize, k: usize) -> usize {
    (0..k).fold(head, |p, _| word(p, LEFT))
}

/// Checks the list at `head` holds exactly the nodes `ids`, in order.
fn verify_list(heap: &Heap, head: usize, ids: &[usize], what: &str) {
    let mut got = Vec::with_capacity(ids.len());
    let mut p = head;
    while p != 0 {
        assert!(got.len() <= ids.len(), "{what}: longer than its {} nodes", ids.len());
        got.push(check_node(heap, p));
        assert_eq!(word(p, RIGHT), 0, "{what}: node {p:#x} has a right link");
        p = word(p, LEFT);
    }
    assert_eq!(got, ids, "{what}: wrong nodes");
}

/// Builds a list of `len` new nodes (ids `next+1 ..`) rooted at
/// `roots_vec[slot]` while it grows; returns the ids from the head.
fn build_list(
    m: &mut Mutator,
    types: &Types,
    thread: usize,
    next: &mut usize,
    len: usize,
    roots: &mut ThreadRoots<'_>,
    slot: usize,
) -> Vec<usize> {
    roots.private[slot] = 0;
    let mut ids = Vec::with_capacity(len);
    for _ in 0..len {
        *next += 1;
        let id = id_of(thread, *next);
        let p = new_node(m, types.pick(*next), id, &*roots);
        set(m, p, LEFT, roots.private[slot]);
        roots.private[slot] = p;
        ids.push(id);
    }
    ids.reverse();
    ids
}

// ---------------------------------------------------------------------------
// 1. Private graphs

/// Trees (or lists) per thread.
const TREES: usize = 16;

/// One thread's trees and their model.
struct Forest {
    m: Mutator,
    types: Types,
    rng: Rng,
    thread: usize,
    next: usize,
    /// The roots of the trees: the thread's only roots.
    roots: Vec<usize>,
    /// Per tree: nodes, and the wrapping sum of their ids.
    model: Vec<(usize, usize)>,
}

#[derive(Debug, Default)]
struct ForestReport {
    nodes: usize,
    ops_while_marking: usize,
    saw_concurrent_cycle: bool,
    forced: usize,
}

impl Forest {
    fn node(&mut self) -> (usize, usize) {
        self.next += 1;
        let id = id_of(self.thread, self.next);
        let p = new_node(&mut self.m, self.types.pick(self.next), id, &self.roots);
        (p, id)
    }

    /// Walks the tree at `root` checking every node; returns (nodes, id sum).
    fn walk(&self, root: usize) -> (usize, usize) {
        let heap = self.m.heap();
        let (mut n, mut sum) = (0usize, 0usize);
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            if p == 0 {
                continue;
            }
            let id = check_node(heap, p);
            assert_eq!(
                thread_of(id),
                self.thread,
                "thread {}: node {p:#x} belongs to thread {}",
                self.thread,
                thread_of(id)
            );
            n += 1;
            sum = sum.wrapping_add(id);
            stack.push(word(p, LEFT));
            stack.push(word(p, RIGHT));
        }
        (n, sum)
    }

    fn verify(&self, s: usize) {
        let got = self.walk(self.roots[s]);
        assert_eq!(got, self.model[s], "thread {} tree {s}: (nodes, id sum)", self.thread);
    }

    fn verify_all(&self) {
        for s in 0..TREES {
            self.verify(s);
        }
    }

    /// A random node of the tree at `root` (not 0).
    fn pick_node(&mut self, root: usize) -> usize {
        let mut p = root;
        loop {
            if self.rng.chance(25) {
                return p;
            }
            let c = word(p, self.rng.index(2));
            if c == 0 {
                return p;
            }
            p = c;
        }
    }

    /// Hangs `sub` (not 0) under a random free child slot of tree `t`.
    fn attach(&mut self, t: usize, sub: usize) {
        if self.roots[t] == 0 {
            self.roots[t] = sub;
            return;
        }
        let mut q = self.roots[t];
        loop {
            let d = self.rng.index(2);
            let c = word(q, d);
            if c == 0 {
                set(&mut self.m, q, d, sub);
                return;
            }
            q = c;
        }
    }

    /// Adds a node to tree `s`: at its head as a list, or at a random leaf.
    fn insert(&mut self, s: usize, list: bool) {
        let (p, id) = self.node();
        if list && self.roots[s] != 0 {
            set(&mut self.m, p, LEFT, self.roots[s]);
            self.roots[s] = p;
        } else {
            self.attach(s, p);
        }
        self.model[s].0 += 1;
        self.model[s].1 = self.model[s].1.wrapping_add(id);
    }

    /// Replaces tree `s` with a new tree or list (the old one is garbage).
    fn rebuild(&mut self, s: usize) {
        self.roots[s] = 0;
        self.model[s] = (0, 0);
        let n = 1 + self.rng.index(300);
        let list = self.rng.chance(30);
        for _ in 0..n {
            self.insert(s, list);
        }
    }

    /// Cuts off a random subtree of tree `s` (or drops the whole tree).
    fn prune(&mut self, s: usize) {
        let root = self.roots[s];
        if root == 0 {
            return;
        }
        if self.rng.chance(5) {
            self.roots[s] = 0;
            self.model[s] = (0, 0);
            return;
        }
        let p = self.pick_node(root);
        let d = self.rng.index(2);
        let c = word(p, d);
        if c == 0 {
            return;
        }
        let (n, sum) = self.walk(c);
        set(&mut self.m, p, d, 0);
        self.model[s].0 -= n;
        self.model[s].1 = self.model[s].1.wrapping_sub(sum);
    }

    /// Moves a random subtree (sometimes the whole tree) of tree `s` into
    /// tree `t`.
    fn transplant(&mut self, s: usize, t: usize) {
        let root = self.roots[s];
        if root == 0 {
            return;
        }
        let sub = if self.rng.chance(10) {
            self.roots[s] = 0;
            root
        } else {
            let p = self.pick_node(root);
            let d = self.rng.index(2);
            let c = word(p, d);
            if c == 0 {
                return;
            }
            set(&mut self.m, p, d, 0);
            c
        };
        // `sub` is held only here until attached: no safepoint in between.
        self.attach(t, sub);
        let (n, sum) = self.walk(sub);
        self.model[s].0 -= n;
        self.model[s].1 = self.model[s].1.wrapping_sub(sum);
        self.model[t].0 += n;
        self.model[t].1 = self.model[t].1.wrapping_add(sum);
    }
}

fn run_forest(gc: Arc<Gc>, thread: usize, ops: usize, start: &Barrier) -> ForestReport {
    let mut f = Forest {
        m: Mutator::new(&gc).unwrap(),
        types: Types::new(),
        rng: Rng::new(1000 + thread as u64),
        thread,
        next: 0,
        roots: vec![0; TREES],
        model: vec![(0, 0); TREES],
    };
    // Start together (blocked in a safe region meanwhile).
    f.m.in_safe_region(&f.roots, || start.wait());
    let mut report = ForestReport::default();
    for s in 0..TREES {
        f.rebuild(s);
    }
    for op in 0..ops {
        let s = f.rng.index(TREES);
        match f.rng.index(200) {
            0..=29 => f.rebuild(s),
            30..=79 => {
                for _ in 0..1 + f.rng.index(50) {
                    f.insert(s, false);
                }
            }
            80..=119 => f.prune(s),
            120..=159 => {
                let t = (s + 1 + f.rng.index(TREES - 1)) % TREES;
                f.transplant(s, t);
            }
            160..=198 => f.verify(s),
            _ => {
                if f.rng.chance(20) {
                    f.m.gc(&f.roots);
                    report.forced += 1;
                    f.verify_all();
                }
            }
        }
        if gc.is_marking() {
            report.ops_while_marking += 1;
        }
        if op % 32 == 0 {
            report.saw_concurrent_cycle |= gc.last_cycle().concurrent;
        }
        if op % 500 == 499 {
            f.verify_all();
        }
    }
    f.verify_all();
    report.nodes = f.model.iter().map(|m| m.0).sum();
    report
}

#[test]
fn many_threads_allocate_private_graphs() {
    const OPS: usize = 30_000;
    within("many_threads_allocate_private_graphs", DEADLOCK, || {
        for mode in MODES {
            let gc = Gc::new(config(mode)).unwrap();
            let start = Barrier::new(THREADS);
            let reports: Vec<ForestReport> = thread::scope(|sc| {
                let hs: Vec<_> = (0..THREADS)
                    .map(|t| {
                        let gc = gc.clone();
                        let start = &start;
                        sc.spawn(move || run_forest(gc, t, scaled(OPS), start))
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let s = gc.heap().mem_stats();
            let triggered = s.num_gc - s.num_forced_gc;
            eprintln!(
                "{mode:?}: {} cycles ({triggered} triggered), {} allocations, {} nodes live at the end, {} ops while marking",
                s.num_gc,
                s.mallocs,
                reports.iter().map(|r| r.nodes).sum::<usize>(),
                reports.iter().map(|r| r.ops_while_marking).sum::<usize>(),
            );
            assert!(triggered >= 10, "{mode:?}: only {triggered} triggered cycles");
            assert!(reports.iter().map(|r| r.forced).sum::<usize>() > 0);
            let marking_ops: usize = reports.iter().map(|r| r.ops_while_marking).sum();
            let saw_concurrent = reports.iter().any(|r| r.saw_concurrent_cycle);
            if mode == GcMode::StopTheWorld {
                assert_eq!(marking_ops, 0, "marking seen outside a pause in stop-the-world mode");
                assert!(!saw_concurrent, "a concurrent cycle in stop-the-world mode");
            } else {
                assert!(marking_ops > 0, "{mode:?}: no mutation ran during a mark");
                assert!(saw_concurrent, "{mode:?}: no concurrent cycle seen");
            }
            // The threads are gone, and so are their roots: everything is
            // garbage.
            assert_eq!(gc.mutators(), 0);
            let mut m = Mutator::new(&gc).unwrap();
            m.gc(&());
            let s = m.stats();
            s.check().unwrap();
            assert_eq!(s.heap_objects, 0, "{mode:?}: objects survive their threads");
            m.heap().check_invariants();
        }
    });
}

// ---------------------------------------------------------------------------
// 2. A shared graph

/// Lists in the shared table.
const LISTS: usize = 32;

/// A detached list in the mailbox: its head, its ids from the head, and
/// the thread that posted it.
type Parcel = (usize, Vec<usize>, usize);

/// What the threads of the shared-graph test share besides the heap.
struct Board {
    /// The ids of each list of the table, from the head: the model. Every
    /// change to the table's lists is made holding this lock.
    model: Mutex<Vec<Vec<usize>>>,
    /// Lists on their way from one thread to another, rooted only by every
    /// thread reporting the mailbox as roots.
    mailbox: Mutex<Vec<Parcel>>,
    /// Threads still running their operations.
    running: AtomicUsize,
    /// Times a thread found the model lock taken (and blocked in a safe
    /// region).
    contended: AtomicUsize,
    /// Lists a thread took from the mailbox that another thread posted.
    handed_over: AtomicUsize,
}

/// A thread's roots: its private words (the table, a list being built, a
/// list taken from the table or the mailbox) and every list in the mailbox.
/// Never visited while this thread holds the mailbox lock.
struct ThreadRoots<'a> {
    private: Vec<usize>,
    mailbox: Option<&'a Mutex<Vec<Parcel>>>,
}

impl RootSource for ThreadRoots<'_> {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        v.visit_slice(&self.private);
        if let Some(mb) = self.mailbox {
            for (head, _, _) in mb.lock().unwrap().iter() {
                v.visit(*head);
            }
        }
    }
}

// Private roots of a shared-graph thread: [the table, BUILD, TAKEN].
const BUILD: usize = 1;
const TAKEN: usize = 2;

/// Takes the model lock; blocks in a safe region if another thread holds
/// it (a thread blocked on a lock must not hold up a collection).
fn lock_model<'b>(m: &mut Mutator, roots: &ThreadRoots<'_>, board: &'b Board) -> MutexGuard<'b, Vec<Vec<usize>>> {
    match board.model.try_lock() {
        Ok(g) => g,
        Err(TryLockError::WouldBlock) => {
            board.contended.fetch_add(1, Ordering::Relaxed);
            m.in_safe_region(roots, || board.model.lock().unwrap())
        }
        Err(TryLockError::Poisoned(_)) => panic!("another thread failed holding the model lock"),
    }
}

/// Puts the detached list at `head` (ids `ids`; the caller's roots hold
/// it) in front of list `j` of the table. Model lock held.
fn install(m: &mut Mutator, table: usize, model: &mut [Vec<usize>], j: usize, mut ids: Vec<usize>, head: usize) {
    if !model[j].is_empty() {
        let tail = nth(head, ids.len() - 1);
        set(m, tail, LEFT, word(table, j));
    }
    set(m, table, j, head);
    ids.append(&mut model[j]);
    model[j] = ids;
}

fn share_worker(gc: Arc<Gc>, board: &Board, table: usize, thread: usize, ops: usize, start: &Barrier) {
    let mut m = Mutator::new(&gc).unwrap();
    let heap = m.heap().clone();
    let types = Types::new();
    let mut rng = Rng::new(2000 + thread as u64);
    let mut r = ThreadRoots {
        private: vec![table, 0, 0],
        mailbox: Some(&board.mailbox),
    };
    m.in_safe_region(&r, || start.wait());
    let mut next = 0;
    for _ in 0..ops {
        match rng.index(100) {
            // Replace a list with a new one, built privately.
            0..=19 => {
                let len = 1 + rng.index(40);
                let ids = build_list(&mut m, &types, thread, &mut next, len, &mut r, BUILD);
                let mut g = lock_model(&mut m, &r, board);
                let i = rng.index(LISTS);
                set(&mut m, table, i, r.private[BUILD]);
                g[i] = ids;
                drop(g);
                r.private[BUILD] = 0;
            }
            // Prepend new nodes to a list, allocating under the lock.
            20..=34 => {
                let mut g = lock_model(&mut m, &r, board);
                let i = rng.index(LISTS);
                for _ in 0..1 + rng.index(4) {
                    next += 1;
                    let id = id_of(thread, next);
                    let p = new_node(&mut m, types.pick(next), id, &r);
                    set(&mut m, p, LEFT, word(table, i));
                    set(&mut m, table, i, p);
                    g[i].insert(0, id);
                }
            }
            // Move a node from one list to another.
            35..=54 => {
                let mut g = lock_model(&mut m, &r, board);
                let i = rng.index(LISTS);
                let j = (i + 1 + rng.index(LISTS - 1)) % LISTS;
                if g[i].is_empty() {
                    continue;
                }
                let k = rng.index(g[i].len());
                let x = nth(word(table, i), k);
                let after = word(x, LEFT);
                if k == 0 {
                    set(&mut m, table, i, after);
                } else {
                    set(&mut m, nth(word(table, i), k - 1), LEFT, after);
                }
                let l = rng.index(g[j].len() + 1);
                if l == 0 {
                    set(&mut m, x, LEFT, word(table, j));
                    set(&mut m, table, j, x);
                } else {
                    let prev = nth(word(table, j), l - 1);
                    set(&mut m, x, LEFT, word(prev, LEFT));
                    set(&mut m, prev, LEFT, x);
                }
                let id = g[i].remove(k);
                g[j].insert(l, id);
            }
            // Cut a list short.
            55..=61 => {
                let mut g = lock_model(&mut m, &r, board);
                let i = rng.index(LISTS);
                if g[i].is_empty() {
                    continue;
                }
                let k = rng.index(g[i].len());
                if k == 0 {
                    set(&mut m, table, i, 0);
                } else {
                    set(&mut m, nth(word(table, i), k - 1), LEFT, 0);
                }
                g[i].truncate(k);
            }
            // Take a list out of the table, grow it privately, then post it
            // to the mailbox or put it back.
            62..=71 => {
                let mut ids = {
                    let mut g = lock_model(&mut m, &r, board);
                    let i = rng.index(LISTS);
                    if g[i].is_empty() {
                        continue;
                    }
                    r.private[TAKEN] = word(table, i);
                    set(&mut m, table, i, 0);
                    std::mem::take(&mut g[i])
                };
                verify_list(&heap, r.private[TAKEN], &ids, "a taken list");
                for _ in 0..rng.index(10) {
                    next += 1;
                    let id = id_of(thread, next);
                    let p = new_node(&mut m, types.pick(next), id, &r);
                    set(&mut m, p, LEFT, r.private[TAKEN]);
                    r.private[TAKEN] = p;
                    ids.insert(0, id);
                }
                verify_list(&heap, r.private[TAKEN], &ids, "a taken list, grown");
                if rng.chance(50) {
                    board.mailbox.lock().unwrap().push((r.private[TAKEN], ids, thread));
                } else {
                    let mut g = lock_model(&mut m, &r, board);
                    let j = rng.index(LISTS);
                    install(&mut m, table, &mut g, j, ids, r.private[TAKEN]);
                }
                r.private[TAKEN] = 0;
            }
            // Take a list from the mailbox (maybe another thread's) and put
            // it in the table.
            72..=81 => {
                let parcel = board.mailbox.lock().unwrap().pop();
                if let Some((head, ids, from)) = parcel {
                    if from != thread {
                        board.handed_over.fetch_add(1, Ordering::Relaxed);
                    }
                    r.private[TAKEN] = head;
                    verify_list(&heap, head, &ids, "a list from the mailbox");
                    let mut g = lock_model(&mut m, &r, board);
                    let j = rng.index(LISTS);
                    install(&mut m, table, &mut g, j, ids, head);
                    drop(g);
                    r.private[TAKEN] = 0;
                }
            }
            // Check a list against the model.
            82..=98 => {
                let g = lock_model(&mut m, &r, board);
                let i = rng.index(LISTS);
                verify_list(&heap, word(table, i), &g[i], &format!("shared list {i}"));
            }
            _ => {
                if rng.chance(10) {
                    m.gc(&r);
                }
            }
        }
        // Some garbage, to keep collections coming.
        build_list(&mut m, &types, thread, &mut next, 16, &mut r, BUILD);
        r.private[BUILD] = 0;
    }
    if board.running.fetch_sub(1, Ordering::SeqCst) == 1 {
        // The last thread out: nobody else reports the mailbox from now
        // on, so its lists go back into the table.
        loop {
            let parcel = board.mailbox.lock().unwrap().pop();
            let Some((head, ids, _)) = parcel else { break };
            r.private[TAKEN] = head;
            let mut g = lock_model(&mut m, &r, board);
            let j = rng.index(LISTS);
            install(&mut m, table, &mut g, j, ids, head);
            drop(g);
            r.private[TAKEN] = 0;
        }
    }
}

#[test]
fn threads_share_and_mutate_a_graph() {
    const OPS: usize = 20_000;
    within("threads_share_and_mutate_a_graph", DEADLOCK, || {
        for mode in MODES {
            let gc = Gc::new(config(mode)).unwrap();
            let mut m = Mutator::new(&gc).unwrap();
            let slot = Type::new("slot", 8, 8, &[0]).unwrap();
            let table = m.alloc_array(&slot, LISTS, &()).unwrap().as_ptr() as usize;
            let roots = vec![table];
            let board = Board {
                model: Mutex::new(vec![Vec::new(); LISTS]),
                mailbox: Mutex::new(Vec::new()),
                running: AtomicUsize::new(THREADS),
                contended: AtomicUsize::new(0),
                handed_over: AtomicUsize::new(0),
            };
            let start = Barrier::new(THREADS);
            thread::scope(|sc| {
                let hs: Vec<_> = (0..THREADS)
                    .map(|t| {
                        let gc = gc.clone();
                        let (board, start) = (&board, &start);
                        sc.spawn(move || share_worker(gc, board, table, t, scaled(OPS), start))
                    })
                    .collect();
                // The main thread keeps the table rooted, parked in a safe
                // region while the workers run.
                m.in_safe_region(&roots, || {
                    for h in hs {
                        h.join().unwrap();
                    }
                });
            });
            assert!(board.mailbox.lock().unwrap().is_empty());
            assert_eq!(gc.mutators(), 1);
            let r = m.gc(&roots);
            let model = board.model.lock().unwrap();
            let mut nodes = 0;
            let mut owners = [0usize; THREADS];
            for (i, ids) in model.iter().enumerate() {
                verify_list(m.heap(), word(table, i), ids, &format!("{mode:?}: shared list {i}"));
                nodes += ids.len();
                for &id in ids {
                    owners[thread_of(id)] += 1;
                }
            }
            let s = m.stats();
            let contended = board.contended.load(Ordering::Relaxed);
            let handed_over = board.handed_over.load(Ordering::Relaxed);
            eprintln!(
                "{mode:?}: {} cycles ({} forced), {} allocations, {nodes} nodes live (by thread {owners:?}), \
                 lock contended {contended} times, {handed_over} lists handed over",
                s.num_gc, s.num_forced_gc, s.mallocs
            );
            s.check().unwrap();
            assert_eq!(
                s.heap_objects as usize,
                1 + nodes,
                "{mode:?}: live objects vs the graph"
            );
            assert_eq!(
                r.live_objects as usize,
                1 + nodes,
                "{mode:?}: marked objects vs the graph"
            );
            assert!(
                s.num_gc - s.num_forced_gc >= 5,
                "{mode:?}: only {} triggered cycles",
                s.num_gc - s.num_forced_gc
            );
            assert!(
                s.mallocs > 20 * s.heap_objects,
                "{mode:?}: too little garbage to matter"
            );
            assert!(handed_over > 0, "{mode:?}: no list went from one thread to another");
            m.heap().check_invariants();
            drop(model);
            m.gc(&());
            assert_eq!(m.stats().heap_objects, 0, "{mode:?}: the dropped graph survives");
        }
    });
}

// ---------------------------------------------------------------------------
// 3. Safe regions

/// Builds a list of `len` small nodes of thread `thread` at `roots[0]`;
/// returns the ids from the head.
fn private_list(m: &mut Mutator, types: &Types, thread: usize, len: usize, roots: &mut Vec<usize>) -> Vec<usize> {
    let mut r = ThreadRoots {
        private: std::mem::take(roots),
        mailbox: None,
    };
    let mut next = 0;
    let ids = build_list(m, types, thread, &mut next, len, &mut r, 0);
    *roots = r.private;
    ids
}

/// Allocates `n` small garbage nodes.
fn garbage(m: &mut Mutator, types: &Types, n: usize, roots: &dyn RootSource) {
    for k in 0..n {
        new_node(m, &types.small, id_of(7, k), roots);
    }
}

fn safe_region_case(mode: GcMode) {
    const FORCED: u32 = 20;
    let gc = Gc::new(config(mode)).unwrap();
    let (ready_tx, ready_rx) = mpsc::channel::<(usize, Vec<usize>)>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (parked_tx, parked_rx) = mpsc::channel::<u32>();
    let g = gc.clone();
    let mut parked = Some(thread::spawn(move || {
        let mut m = Mutator::new(&g).unwrap();
        let heap = m.heap().clone();
        let types = Types::new();
        let mut roots = vec![0usize];
        let ids = private_list(&mut m, &types, 0, 500, &mut roots);
        verify_list(&heap, roots[0], &ids, "the parked thread's list");
        let before = heap.mem_stats().num_gc;
        m.in_safe_region(&roots, || {
            ready_tx.send((roots[0], ids.clone())).unwrap();
            // Blocked in "native code" until told.
            release_rx.recv().unwrap();
        });
        let during = heap.mem_stats().num_gc - before;
        verify_list(&heap, roots[0], &ids, "the parked thread's list, after");
        // Out of the region, it allocates and collects as before.
        roots.push(0);
        let mut r = ThreadRoots {
            private: roots,
            mailbox: None,
        };
        let mut next = 1000;
        let more = build_list(&mut m, &types, 0, &mut next, 2000, &mut r, 1);
        garbage(&mut m, &types, 20_000, &r);
        m.gc(&r);
        verify_list(&heap, r.private[0], &ids, "the parked thread's list, at the end");
        verify_list(&heap, r.private[1], &more, "the parked thread's new list");
        parked_tx.send(during).unwrap();
    }));
    let (head, ids) = await_result(&ready_rx, &mut parked, PATIENCE, "the parked thread");
    let g = gc.clone();
    let (done_tx, done_rx) = mpsc::channel::<u32>();
    let mut collector = Some(thread::spawn(move || {
        // Registered only now: a mutator waiting on a channel outside a
        // safe region would hold up the other thread's collections.
        let mut m = Mutator::new(&g).unwrap();
        let heap = m.heap().clone();
        let types = Types::new();
        let mut roots = vec![0usize];
        let mine = private_list(&mut m, &types, 1, 200, &mut roots);
        let n0 = heap.mem_stats().num_gc;
        for round in 0..FORCED {
            let r = m.gc(&roots);
            assert_eq!(r.mutators, 2, "round {round}: the parked thread is still a mutator");
            // The parked thread's list survives every cycle, rooted by
            // what it reported on entering the region.
            verify_list(&heap, head, &ids, "the parked thread's list, seen from the collector");
            verify_list(&heap, roots[0], &mine, "the collector's list");
            garbage(&mut m, &types, 5000, &roots);
        }
        done_tx.send(heap.mem_stats().num_gc - n0).unwrap();
    }));
    let cycles = await_result(
        &done_rx,
        &mut collector,
        PATIENCE,
        &format!("{mode:?}: collections while a thread sits in a safe region"),
    );
    assert!(cycles >= FORCED, "{mode:?}: {cycles} cycles");
    release_tx.send(()).unwrap();
    let during = await_result(&parked_rx, &mut parked, PATIENCE, "the parked thread, released");
    assert!(during >= FORCED, "{mode:?}: only {during} cycles while parked");
    for h in [parked, collector].into_iter().flatten() {
        h.join().unwrap();
    }
    assert_eq!(gc.mutators(), 0);
}

#[test]
fn a_thread_in_a_safe_region_never_blocks_a_collection() {
    within("a_thread_in_a_safe_region_never_blocks_a_collection", DEADLOCK, || {
        for mode in MODES {
            safe_region_case(mode);
        }
    });
}

// ---------------------------------------------------------------------------
// 4. Threads that exit

const EXITERS: usize = 3;

/// A thread that registers, checks every other is registered, allocates
/// `n` nodes keeping a third of them, and exits holding them.
fn exiter(gc: Arc<Gc>, thread: usize, barrier: &Barrier, n: usize) {
    let mut m = Mutator::new(&gc).unwrap();
    let types = Types::new();
    let mut roots = vec![0usize; 8];
    m.in_safe_region(&roots, || barrier.wait());
    assert_eq!(gc.mutators(), EXITERS + 1, "the main thread and every exiter");
    m.in_safe_region(&roots, || barrier.wait());
    let mut rng = Rng::new(3000 + thread as u64);
    for k in 1..=n {
        let p = new_node(&mut m, types.pick(k), id_of(thread, k), &roots);
        if k % 3 == 0 {
            let l = rng.index(roots.len());
            set(&mut m, p, LEFT, roots[l]);
            roots[l] = p;
        }
    }
    // Exits with its lists still in its roots: they die with the mutator.
}

#[test]
fn a_thread_that_exits_returns_its_spans() {
    within("a_thread_that_exits_returns_its_spans", DEADLOCK, || {
        const KEEP: usize = 1000;
        let gc = Gc::new(config(GcMode::Concurrent)).unwrap();
        let mut m = Mutator::new(&gc).unwrap();
        let heap = m.heap().clone();
        let types = Types::new();
        let mut roots = vec![0usize];
        let mut ids = Vec::new();
        for k in 1..=KEEP {
            let p = new_node(&mut m, &types.small, id_of(0, k), &roots);
            set(&mut m, p, LEFT, roots[0]);
            roots[0] = p;
            ids.insert(0, id_of(0, k));
        }
        for wave in 0..3 {
            let barrier = Barrier::new(EXITERS);
            thread::scope(|sc| {
                let hs: Vec<_> = (0..EXITERS)
                    .map(|t| {
                        let gc = gc.clone();
                        let barrier = &barrier;
                        sc.spawn(move || exiter(gc, t + 1, barrier, 30_000 * (t + 1)))
                    })
                    .collect();
                m.in_safe_region(&roots, || {
                    for h in hs {
                        h.join().unwrap();
                    }
                });
            });
            assert_eq!(gc.mutators(), 1, "wave {wave}: exited threads still registered");
            let before = m.stats();
            before.check().unwrap();
            assert!(
                before.heap_objects as usize >= KEEP + 10_000,
                "wave {wave}: the last thread's nodes are not there to reclaim ({} objects)",
                before.heap_objects
            );
            let r = m.gc(&roots);
            assert_eq!(r.mutators, 1);
            let s = m.stats();
            eprintln!(
                "wave {wave}: {} objects, {} KiB in use -> {} objects, {} KiB in use",
                before.heap_objects,
                before.heap_inuse >> 10,
                s.heap_objects,
                s.heap_inuse >> 10
            );
            s.check().unwrap();
            assert_eq!(
                s.heap_objects as usize, KEEP,
                "wave {wave}: the exited threads' nodes survive"
            );
            assert_eq!(s.heap_alloc as usize, KEEP * 32, "wave {wave}");
            // Spans of the exited threads went back to the page heap: only
            // the spans of the main thread's list stay in use.
            assert!(
                s.heap_inuse <= 128 << 10,
                "wave {wave}: {} KiB still in use",
                s.heap_inuse >> 10
            );
            heap.check_invariants();
            verify_list(&heap, roots[0], &ids, "the main thread's list");
        }
    });
}

/// Threads that register, allocate, collect and exit over and over, while
/// two steady threads allocate and collect: registration and exit race with
/// cycles in every phase, and no thread's objects are lost.
#[test]
fn threads_come_and_go_while_others_collect() {
    within("threads_come_and_go_while_others_collect", DEADLOCK, || {
        const LIVES: usize = 150;
        for mode in MODES {
            let gc = Gc::new(config(mode)).unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            thread::scope(|sc| {
                for t in 0..2 {
                    let (gc, stop) = (&gc, stop.clone());
                    sc.spawn(move || {
                        let _stop_steady = SetOnDrop(stop);
                        for life in 0..LIVES {
                            let mut m = Mutator::new(gc).unwrap();
                            let types = Types::new();
                            let mut roots = vec![0usize];
                            let ids = private_list(&mut m, &types, t, 100 + life, &mut roots);
                            garbage(&mut m, &types, 2000, &roots);
                            if life % 30 == 0 {
                                m.gc(&roots);
                            }
                            verify_list(m.heap(), roots[0], &ids, "a short-lived thread's list");
                        }
                    });
                }
                for t in 2..4 {
                    let (gc, stop) = (&gc, &stop);
                    sc.spawn(move || {
                        let mut m = Mutator::new(gc).unwrap();
                        let types = Types::new();
                        let mut roots = vec![0usize];
                        let ids = private_list(&mut m, &types, t, 300, &mut roots);
                        for k in 1.. {
                            if stop.load(Ordering::SeqCst) {
                                break;
                            }
                            garbage(&mut m, &types, 500, &roots);
                            if k % 200 == 0 {
                                m.gc(&roots);
                            }
                            verify_list(m.heap(), roots[0], &ids, "a steady thread's list");
                        }
                    });
                }
            });
            assert_eq!(gc.mutators(), 0);
            let mut m = Mutator::new(&gc).unwrap();
            m.gc(&());
            let s = m.stats();
            s.check().unwrap();
            assert_eq!(s.heap_objects, 0, "{mode:?}: objects outlive their threads");
            eprintln!(
                "{mode:?}: {} cycles ({} forced) while threads came and went",
                s.num_gc, s.num_forced_gc
            );
            // At least the cycles the short-lived threads forced during their
            // lives (the pacer's triggered ones vary: on a loaded machine long
            // pauses make its CPU cap raise the goal).
            assert!(s.num_forced_gc as usize >= 2 * LIVES / 30, "{mode:?}: {s:?}");
            m.heap().check_invariants();
        }
    });
}

// ---------------------------------------------------------------------------
// 5. Safepoint polls

/// Sets a flag when dropped (also on a panic), so a spinning thread stops.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn spin_case(mode: GcMode) {
    const FORCED: u32 = 20;
    let gc = Gc::new(config(mode)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (spun_tx, spun_rx) = mpsc::channel::<(u64, u32)>();
    let (g, flag) = (gc.clone(), stop.clone());
    let mut spinner = Some(thread::spawn(move || {
        let mut m = Mutator::new(&g).unwrap();
        let heap = m.heap().clone();
        let types = Types::new();
        let mut roots = vec![0usize];
        let ids = private_list(&mut m, &types, 0, 64, &mut roots);
        let expected: usize = ids.iter().fold(0, |a, &id| a.wrapping_add(id));
        ready_tx.send(()).unwrap();
        let n0 = heap.mem_stats().num_gc;
        let mut iterations = 0u64;
        // Never allocates: rotates its list through the write barrier and
        // polls for safepoints.
        while !flag.load(Ordering::SeqCst) {
            let h = roots[0];
            let second = word(h, LEFT);
            let tail = nth(h, ids.len() - 1);
            set(&mut m, tail, LEFT, h);
            set(&mut m, h, LEFT, 0);
            roots[0] = second;
            check_node(&heap, h);
            iterations += 1;
            m.safepoint(&roots);
        }
        let seen = heap.mem_stats().num_gc - n0;
        let (mut n, mut sum, mut p) = (0, 0usize, roots[0]);
        while p != 0 {
            sum = sum.wrapping_add(check_node(&heap, p));
            n += 1;
            p = word(p, LEFT);
        }
        assert_eq!((n, sum), (ids.len(), expected), "the spinner's list");
        spun_tx.send((iterations, seen)).unwrap();
    }));
    await_result(&ready_rx, &mut spinner, PATIENCE, "the spinner");
    let g = gc.clone();
    let (done_tx, done_rx) = mpsc::channel::<u32>();
    let flag = stop.clone();
    let mut collector = Some(thread::spawn(move || {
        let _stop_spinner = SetOnDrop(flag);
        let mut m = Mutator::new(&g).unwrap();
        let types = Types::new();
        let mut roots = vec![0usize];
        let mine = private_list(&mut m, &types, 1, 100, &mut roots);
        let n0 = m.stats().num_gc;
        for _ in 0..FORCED {
            let r = m.gc(&roots);
            assert_eq!(r.mutators, 2);
            garbage(&mut m, &types, 5000, &roots);
        }
        verify_list(m.heap(), roots[0], &mine, "the collector's list");
        done_tx.send(m.stats().num_gc - n0).unwrap();
    }));
    let cycles = await_result(
        &done_rx,
        &mut collector,
        PATIENCE,
        &format!("{mode:?}: collections while a thread spins polling safepoints"),
    );
    assert!(cycles >= FORCED);
    let (iterations, seen) = await_result(&spun_rx, &mut spinner, PATIENCE, "the spinner, stopped");
    assert!(iterations > 0);
    assert!(seen >= FORCED, "{mode:?}: only {seen} cycles while spinning");
    for h in [spinner, collector].into_iter().flatten() {
        h.join().unwrap();
    }
}

#[test]
fn long_loops_poll_safepoints() {
    within("long_loops_poll_safepoints", DEADLOCK, || {
        for mode in MODES {
            spin_case(mode);
        }
    });
}

// ---------------------------------------------------------------------------
// 6. Time to safepoint

enum Cmd {
    /// Spin this long without polling, then poll.
    Spin(Duration),
    Stop,
}

#[test]
fn time_to_safepoint_is_reported() {
    within("time_to_safepoint_is_reported", DEADLOCK, || {
        const SPIN: Duration = Duration::from_millis(100);
        const TTSP_MIN: Duration = Duration::from_millis(20);
        // GOGC off: the only cycles are the forced ones below, so the
        // collector's last report is ours.
        let mut c = config(GcMode::Concurrent);
        c.gogc = None;
        let gc = Gc::new(c).unwrap();
        let stop = AtomicBool::new(false);
        let (cmd_tx, cmd_rx) = mpsc::channel::<Cmd>();
        let (ack_tx, ack_rx) = mpsc::channel::<()>();
        let mut m = Mutator::new(&gc).unwrap();
        let types = Types::new();
        let mut roots = vec![0usize];
        let mine = private_list(&mut m, &types, 0, 100, &mut roots);
        thread::scope(|sc| {
            // Allocates garbage steadily (polling at every allocation).
            let allocator = sc.spawn(|| {
                let mut m = Mutator::new(&gc).unwrap();
                let types = Types::new();
                let mut roots = vec![0usize];
                private_list(&mut m, &types, 1, 100, &mut roots);
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    garbage(&mut m, &types, 200, &roots);
                    n += 200;
                    m.in_safe_region(&roots, || thread::sleep(Duration::from_millis(1)));
                }
                n
            });
            // Spins without polling when told.
            let spinner = sc.spawn({
                let gc = &gc;
                move || {
                    let mut m = Mutator::new(gc).unwrap();
                    let roots = [0usize];
                    while let Ok(Cmd::Spin(d)) = m.in_safe_region(&roots, || cmd_rx.recv()) {
                        ack_tx.send(()).unwrap();
                        let t = Instant::now();
                        while t.elapsed() < d {
                            std::hint::spin_loop();
                        }
                        m.safepoint(&roots);
                    }
                }
            });
            while gc.mutators() < 3 {
                m.in_safe_region(&roots, || thread::sleep(Duration::from_millis(1)));
            }
            // The spinner holds up the stop for most of SPIN; on a loaded
            // machine the stop may come late, so allow a few attempts.
            let mut longest = 0;
            for _ in 0..5 {
                cmd_tx.send(Cmd::Spin(SPIN)).unwrap();
                m.in_safe_region(&roots, || ack_rx.recv().unwrap());
                let r = m.gc(&roots);
                assert_eq!(r.mutators, 3, "{r}");
                assert!(r.ttsp_ns <= r.pause_ns, "time to safepoint is part of the pause: {r}");
                assert!(r.ttsp_ns < 30_000_000_000, "{r}");
                assert_eq!(gc.last_cycle(), r);
                assert_eq!(gc.recent_pauses().last(), Some(&r.pause_ns));
                longest = longest.max(r.ttsp_ns);
                if longest >= TTSP_MIN.as_nanos() as u64 {
                    break;
                }
            }
            eprintln!("time to safepoint with a thread spinning {SPIN:?}: {longest} ns");
            assert!(
                longest >= TTSP_MIN.as_nanos() as u64,
                "a thread spinning {SPIN:?} without polling: time to safepoint at most {longest} ns"
            );
            stop.store(true, Ordering::SeqCst);
            cmd_tx.send(Cmd::Stop).unwrap();
            let allocated = m.in_safe_region(&roots, || {
                spinner.join().unwrap();
                allocator.join().unwrap()
            });
            assert!(allocated > 0);
        });
        let r = m.gc(&roots);
        assert_eq!(r.mutators, 1);
        assert_eq!(gc.last_cycle().mutators, 1);
        verify_list(m.heap(), roots[0], &mine, "the main thread's list");
    });
}
