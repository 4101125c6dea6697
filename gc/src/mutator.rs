//! The mutator ([`Mutator`], one per allocating thread): allocation with
//! its polls, assists, safepoints and safe regions. The write barrier it
//! stores through is barrier.rs; the assist accounts assist.rs.
//!
//! The allocation fast path tests one byte of the cache (poll bits raised
//! by its slow paths: trigger crossed, assist owed; or always set in
//! stress mode) and the world's stop flag; both are clear on the common
//! path, so a small allocation stays a handful of instructions. Everything
//! else is in `poll_slow`.

use crate::assist::MutatorCredit;
use crate::barrier::{self, SatbBuffer};
use crate::collector::{Core, CycleReport, Gc, GcError, GcReason, PHASE_MARK, PHASE_OFF};
use crate::roots::{HandleTable, Root, RootSource, RootVisitor};
use crate::typed::RootRegistry;
use crate::world::MutatorId;
use marrow_runtime::{AllocError, AllocFlags, Heap, MCache, MemStats, Type, POLL_ASSIST};
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// Scan work (words) an assist does between safepoint polls: about 50 µs
/// of marking at the roughly 350 words per µs measured on binary-trees 18
/// (stop-the-world, one worker: 1.05 M words in 3.0 ms). A quarter of the
/// termination budget (collector.rs), at the same rate.
const ASSIST_SLICE: u64 = 16 << 10;

/// A thread's handle for allocating from a collected heap: its cache, its
/// handle table, its write-barrier buffer and its share of the
/// collector's work. Not `Send`: create one per thread.
///
/// Invariants: registered with the collector's world under `id` until
/// dropped; `satb` is empty whenever the collector is not marking (it is
/// flushed every time the world stops and on drop).
pub struct Mutator {
    gc: Arc<Gc>,
    pub(crate) core: Arc<Core>,
    id: MutatorId,
    pub(crate) cache: MCache,
    pub(crate) handles: Rc<HandleTable>,
    /// The typed API's rooted vectors, scanned with the handles.
    pub(crate) typed_roots: Rc<RootRegistry>,
    /// Allocations left before stress mode's next cycle (0: stress off;
    /// then the cache's poll byte has POLL_ALWAYS set).
    pub(crate) allocs_until_stress: u64,
    pub(crate) satb: SatbBuffer,
    /// Roots reported at the last safepoint.
    root_buf: Vec<usize>,
    pub(crate) credit: MutatorCredit,
    /// Work a typed scope put off until its end (`typed::deferred` bits);
    /// 0 outside scopes.
    pub(crate) deferred: u8,
}

impl fmt::Debug for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutator")
            .field("id", &self.id)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Collects root words.
struct Collect<'a>(&'a mut Vec<usize>);

impl RootVisitor for Collect<'_> {
    fn visit(&mut self, word: usize) {
        self.0.push(word);
    }

    fn visit_slice(&mut self, words: &[usize]) {
        self.0.extend_from_slice(words);
    }
}

/// Leaves the safe region when dropped, also when the code run in it
/// unwinds. Private, so the region cannot be left open by forgetting it.
struct SafeRegion<'a> {
    m: &'a mut Mutator,
}

impl Drop for SafeRegion<'_> {
    fn drop(&mut self) {
        self.m.core.world.leave_safe_region(self.m.id);
    }
}

/// Aborts the process if dropped while unwinding: held while this thread
/// stops the world or runs a collector pause, and while it reports its
/// roots for another thread's stop. A panic there (in a `RootSource`, or
/// an internal invariant) would otherwise leave every other mutator
/// parked, or the stopper waiting, forever.
pub(crate) struct AbortOnUnwind(pub(crate) &'static str);

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "marrow: fatal: a panic {} (other threads would wait for this one forever); aborting",
                self.0
            );
            std::process::abort();
        }
    }
}

thread_local! {
    /// The collectors (their `Core` addresses) this thread has a mutator of.
    static THREAD_MUTATORS: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Mutator {
    /// A mutator for the calling thread. Any number of threads may each
    /// have one (waits while a collection has the world stopped).
    ///
    /// A thread has at most one mutator of a collector: a second is
    /// refused with [`GcError::MutatorExists`] (it would deadlock the next
    /// stop, which waits for the first while this thread is in the second).
    pub fn new(gc: &Arc<Gc>) -> Result<Mutator, GcError> {
        let key = Arc::as_ptr(&gc.core) as usize;
        let fresh = THREAD_MUTATORS.with(|t| {
            let mut t = t.borrow_mut();
            let fresh = !t.contains(&key);
            if fresh {
                t.push(key);
            }
            fresh
        });
        if !fresh {
            return Err(GcError::MutatorExists);
        }
        let core = gc.core.clone();
        let id = core.world.register();
        let mut cache = core.heap.new_cache();
        // Stress mode: every allocation takes the poll path to count.
        cache.set_poll_always(core.config.stress != 0);
        Ok(Mutator {
            gc: gc.clone(),
            cache,
            id,
            handles: Rc::new(HandleTable::default()),
            typed_roots: Rc::new(RootRegistry::default()),
            allocs_until_stress: core.config.stress,
            satb: SatbBuffer::new(),
            root_buf: Vec::new(),
            credit: MutatorCredit::default(),
            deferred: 0,
            core,
        })
    }

    /// The collector.
    pub fn gc_handle(&self) -> &Arc<Gc> {
        &self.gc
    }

    /// The heap.
    pub fn heap(&self) -> &Arc<Heap> {
        &self.core.heap
    }

    /// Roots `word` with an RAII handle, so it survives collections while
    /// native code holds it.
    pub fn root(&self, word: usize) -> Root {
        self.handles.new_root(word)
    }

    /// Number of live RAII handles.
    pub fn live_handles(&self) -> usize {
        self.handles.live()
    }

    /// Allocates `size` bytes with type `typ` (see `MCache::try_mallocgc`).
    /// This is a safepoint and may collect or assist first, with `roots`
    /// as the caller's roots: every pointer the caller holds must be
    /// reachable from `roots` or a handle.
    #[inline(always)]
    pub fn mallocgc(
        &mut self,
        size: usize,
        typ: Option<&Type>,
        flags: AllocFlags,
        roots: &dyn RootSource,
    ) -> Result<NonNull<u8>, AllocError> {
        if (self.cache.poll() != 0) | self.core.world.stop_requested() {
            self.poll_slow(roots);
        }
        match self.cache.try_mallocgc(size, typ, flags) {
            Ok(p) => Ok(p),
            Err(e) => self.alloc_failed(e, size, typ, flags, roots),
        }
    }

    /// The world is stopping, a collection is due, an assist is owed, or
    /// stress mode counts.
    #[cold]
    #[inline(never)]
    pub(crate) fn poll_slow(&mut self, roots: &dyn RootSource) {
        self.safepoint(roots);
        if self.cache.take_gc_request() && self.core.phase() == PHASE_OFF {
            self.start_cycle(roots, GcReason::Heap, false);
        }
        if self.cache.poll() & POLL_ASSIST != 0 {
            let bytes = self.cache.take_charge();
            if self.core.phase() == PHASE_MARK {
                self.assist(bytes, roots);
            }
        }
        if self.allocs_until_stress != 0 {
            self.allocs_until_stress -= 1;
            if self.allocs_until_stress == 0 {
                self.allocs_until_stress = self.core.config.stress;
                match self.core.phase() {
                    PHASE_OFF => {
                        self.start_cycle(roots, GcReason::Stress, false);
                    }
                    PHASE_MARK => {
                        self.help_mark(roots, crate::pacer::MIN_ASSIST_WORK);
                    }
                    _ => {}
                }
            }
        }
    }

    /// An allocation was refused: if memory ran out, collect (sweeping
    /// everything) and try once more.
    #[cold]
    #[inline(never)]
    fn alloc_failed(
        &mut self,
        e: AllocError,
        size: usize,
        typ: Option<&Type>,
        flags: AllocFlags,
        roots: &dyn RootSource,
    ) -> Result<NonNull<u8>, AllocError> {
        match e {
            AllocError::OutOfMemory { .. } | AllocError::Os(_) => {
                self.collect_full(roots, GcReason::Emergency);
                self.cache.try_mallocgc(size, typ, flags)
            }
            e => Err(e),
        }
    }

    /// Allocates one zeroed object of type `t`.
    #[inline]
    pub fn alloc(&mut self, t: &Type, roots: &dyn RootSource) -> Result<NonNull<u8>, AllocError> {
        self.mallocgc(t.size(), Some(t), AllocFlags::NONE, roots)
    }

    /// Allocates a zeroed array of `n` elements of type `t`.
    pub fn alloc_array(&mut self, t: &Type, n: usize, roots: &dyn RootSource) -> Result<NonNull<u8>, AllocError> {
        let size = t.size().checked_mul(n).ok_or(AllocError::Overflow {
            count: n,
            elem_size: t.size(),
        })?;
        self.mallocgc(size, Some(t), AllocFlags::NONE, roots)
    }

    /// Allocates `size` bytes that hold no pointers (zeroed).
    #[inline]
    pub fn alloc_bytes(&mut self, size: usize, roots: &dyn RootSource) -> Result<NonNull<u8>, AllocError> {
        self.mallocgc(size, None, AllocFlags::NOSCAN, roots)
    }

    /// The write path: stores `val` into word `slot` of object `obj`. Every
    /// pointer store into a heap object must come through here: while
    /// marking runs, the barrier records the value overwritten (barrier.rs).
    ///
    /// # Safety
    /// `obj` must be a live object of this heap with more than `slot` words.
    #[inline(always)]
    pub unsafe fn write_ptr(&mut self, obj: NonNull<u8>, slot: usize, val: usize) {
        // SAFETY: forwarded from the caller.
        unsafe { barrier::write_ptr(&self.core, &mut self.satb, obj, slot, val) }
    }

    /// Makes this mutator safe for a stopped world: returns its spans to
    /// the central lists (marking what it allocated black), flushes its
    /// barrier buffer, and gathers its roots (the caller's, its handles,
    /// its tiny block) into `root_buf`.
    fn make_safe(&mut self, roots: &dyn RootSource) {
        let tiny = self.cache.tiny_block();
        self.cache.release_all();
        self.satb.flush(&self.core);
        self.root_buf.clear();
        let mut c = Collect(&mut self.root_buf);
        roots.visit_roots(&mut c);
        self.handles.visit(&mut c);
        self.typed_roots.visit(&mut c);
        c.0.extend(tiny);
    }

    /// A safepoint poll, for long loops that do not allocate: if a
    /// collection is stopping the world, parks here (reporting `roots`)
    /// until it restarts.
    #[inline]
    pub fn safepoint(&mut self, roots: &dyn RootSource) {
        while self.core.world.stop_requested() {
            let _guard = AbortOnUnwind("while reporting roots for a stop of the world");
            self.make_safe(roots);
            self.core.world.park(self.id, &self.root_buf);
        }
    }

    /// Runs `f` in a safe region, for code that blocks (a lock, a channel,
    /// I/O, joining a thread): collections proceed meanwhile without
    /// waiting for this thread, marking from `roots` as they are now, so
    /// objects reachable from them stay alive. `f` cannot touch the heap
    /// through this mutator (it is borrowed). The region is left when `f`
    /// returns or unwinds, waiting if the world is stopped.
    pub fn in_safe_region<R>(&mut self, roots: &dyn RootSource, f: impl FnOnce() -> R) -> R {
        {
            let _guard = AbortOnUnwind("while reporting roots to enter a safe region");
            self.make_safe(roots);
        }
        self.core.world.enter_safe_region(self.id, &self.root_buf);
        let _region = SafeRegion { m: self };
        f()
    }

    /// Becomes the stopper, parking at safepoints while another thread
    /// holds the world.
    fn become_stopper(&mut self, roots: &dyn RootSource) {
        while !self.core.world.try_stop() {
            self.safepoint(roots);
            std::thread::yield_now();
        }
    }

    /// Starts a cycle (the stop-the-world mark and its termination in
    /// stop-the-world mode or with `force_stw`; the mark start otherwise).
    /// Returns the report of a cycle finished here; None if another
    /// thread's cycle made this one unnecessary, or marking goes on.
    pub(crate) fn start_cycle(
        &mut self,
        roots: &dyn RootSource,
        reason: GcReason,
        force_stw: bool,
    ) -> Option<CycleReport> {
        let core = self.core.clone();
        let heap = &core.heap;
        // A trigger bit raised during the last mark is stale once that
        // cycle has ended.
        if reason == GcReason::Heap && heap.heap_live() < heap.gc_trigger() {
            return None;
        }
        // Finish the last cycle's sweep before stopping anyone (Go's
        // gcStart), yielding to another thread's stop. Proportional
        // sweeping has normally left nothing.
        while !core.world.stop_requested() && heap.sweep_one().spans > 0 {}
        self.become_stopper(roots);
        let _guard = AbortOnUnwind("while this thread had the world stopped (mark start)");
        let t0 = Instant::now();
        if core.phase() != PHASE_OFF || (reason == GcReason::Heap && heap.heap_live() < heap.gc_trigger()) {
            core.world.restart();
            return None;
        }
        self.make_safe(roots);
        let ttsp = core.world.wait_stopped(Some(self.id));
        core.mark_start(Some(self.id), &self.root_buf, reason, t0, ttsp, force_stw)
    }

    /// Mark termination claimed by this mutator: stop the world and finish.
    fn terminate(&mut self, roots: &dyn RootSource) -> Option<CycleReport> {
        self.become_stopper(roots);
        let _guard = AbortOnUnwind("while this thread had the world stopped (mark termination)");
        let t = Instant::now();
        self.make_safe(roots);
        let core = self.core.clone();
        let ttsp = core.world.wait_stopped(Some(self.id));
        core.mark_termination(Some(self.id), &self.root_buf, t, ttsp)
    }

    /// Marks up to `budget` words from the pool, in slices between which
    /// it answers stops (so a long assist never delays a pause); if marking
    /// is then quiescent, claims and runs termination. Returns the words
    /// scanned.
    pub(crate) fn help_mark(&mut self, roots: &dyn RootSource, budget: u64) -> u64 {
        let mut done = 0;
        while done < budget && self.core.phase() == PHASE_MARK {
            self.safepoint(roots);
            let (scanned, quiescent) = self.mark_slice((budget - done).min(ASSIST_SLICE));
            done += scanned;
            if quiescent && self.core.claim_termination() {
                self.terminate(roots);
                break;
            }
            if scanned == 0 {
                break; // nothing to take: others hold the work
            }
        }
        done
    }

    /// Marks up to `budget` words from the pool, accounting the time as
    /// marking CPU. Returns the words scanned and whether marking then
    /// looked finished.
    pub(crate) fn mark_slice(&mut self, budget: u64) -> (u64, bool) {
        let t = Instant::now();
        let mut m = self.core.marker(false);
        let done = m.drain_budget(&self.core.pool, budget);
        drop(m);
        self.core.mark_cpu_ns.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        done
    }

    /// Pays for `bytes` allocated while marking (see assist.rs).
    fn assist(&mut self, bytes: u64, roots: &dyn RootSource) {
        let goal_reached = self.pay_for_allocation(bytes, |m, words| m.help_mark(roots, words));
        if goal_reached && self.core.phase() == PHASE_MARK {
            // The goal is reached with marking unfinished: finish it now
            // rather than let the heap outgrow the goal.
            self.finish_mark(roots);
        }
    }

    /// The assist's accounts: charges `bytes` allocated while marking,
    /// steals what background workers banked, and pays the rest with
    /// `mark(self, words)` (which returns the words it scanned). Returns
    /// whether heapLive has reached the cycle's goal.
    pub(crate) fn pay_for_allocation(&mut self, bytes: u64, mut mark: impl FnMut(&mut Mutator, u64) -> u64) -> bool {
        let core = self.core.clone();
        let heap_live = core.heap.heap_live();
        let wpb = core
            .assist
            .work_per_byte(heap_live, core.totals.scanned_words.load(Relaxed));
        let owed = self.credit.charge(bytes, wpb);
        if owed > 0 {
            let stolen = core.assist.steal(owed);
            self.credit.pay(stolen, wpb);
            if owed > stolen {
                let scanned = mark(self, owed - stolen);
                self.credit.pay(scanned, wpb);
            }
        }
        heap_live >= core.assist.goal()
    }

    /// Marks until the current mark is over (helping, and terminating when
    /// quiescent), parking for other threads' stops meanwhile.
    pub(crate) fn finish_mark(&mut self, roots: &dyn RootSource) {
        loop {
            match self.core.phase() {
                PHASE_OFF => return,
                PHASE_MARK => {
                    if self.help_mark(roots, u64::MAX) == 0 {
                        self.safepoint(roots);
                        std::thread::yield_now();
                    }
                }
                _ => {
                    self.safepoint(roots);
                    std::thread::yield_now();
                }
            }
        }
    }

    /// A full collection: finishes any mark under way, then runs a
    /// stop-the-world cycle that sweeps everything.
    fn collect_full(&mut self, roots: &dyn RootSource, reason: GcReason) -> CycleReport {
        loop {
            self.finish_mark(roots);
            if let Some(r) = self.start_cycle(roots, reason, true) {
                return r;
            }
        }
    }

    /// Runs a full collection now and sweeps everything (Go's `runtime.GC`).
    /// Then runs the cleanups of objects it found dead (see
    /// [`Mutator::run_cleanups`]).
    pub fn gc(&mut self, roots: &dyn RootSource) -> CycleReport {
        let report = self.collect_full(roots, GcReason::Forced);
        self.run_cleanups();
        report
    }

    /// Runs, on this thread, the cleanups (`typed::Mutation::add_cleanup`)
    /// of objects that collections found dead, in the order found; returns
    /// how many ran. Never called inside a pause or an allocation: by
    /// default at the end of [`Mutator::gc`] and after a typed scope that
    /// ran a collection, and whenever the embedder calls it.
    pub fn run_cleanups(&mut self) -> usize {
        if !self.core.weak.cleanups_pending() {
            return 0;
        }
        let cleanups = self.core.weak.take_cleanups();
        let n = cleanups.len();
        for f in cleanups {
            f();
        }
        n
    }

    /// Collects, sweeps everything, and returns every free page to the OS
    /// (Go's `debug.FreeOSMemory`). Returns the bytes released.
    pub fn free_os_memory(&mut self, roots: &dyn RootSource) -> Result<usize, marrow_runtime::mem::MemError> {
        self.collect_full(roots, GcReason::Forced);
        self.core.heap.release_free_pages()
    }

    /// A statistics snapshot, exact for this mutator (other mutators'
    /// caches publish their counts when they refill or stop).
    pub fn stats(&mut self) -> MemStats {
        self.cache.flush_stats();
        self.core.heap.mem_stats()
    }
}

impl Drop for Mutator {
    fn drop(&mut self) {
        self.satb.flush(&self.core);
        self.cache.release_all();
        self.core.world.unregister(self.id);
        self.handles.close();
        let key = Arc::as_ptr(&self.core) as usize;
        // `try_with`: during thread exit the list may be gone already.
        let _ = THREAD_MUTATORS.try_with(|t| t.borrow_mut().retain(|&k| k != key));
    }
}
