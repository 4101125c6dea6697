//! The collector ([`Gc`], shared) and the mutator ([`Mutator`], one per
//! allocating thread): allocation with GC triggers, the write path, and the
//! stop-the-world cycle.
//!
//! The life of a cycle (see docs/gc-cycle.md):
//! 1. A trigger fires: an allocation slow path found heapLive past the
//!    pacer's trigger (the runtime raises a flag the mutator polls before
//!    its next allocation), stress mode counted N allocations, an
//!    allocation failed (emergency collection), or the program called `gc()`.
//! 2. The world stops (today: the single mutator is inside the collector).
//!    Its cache returns every span to the central lists.
//! 3. Sweeping of the previous cycle is finished, so every span's mark bits
//!    are clear.
//! 4. Mark: roots (the caller's [`RootSource`], the handle table, the tiny
//!    block) are marked, then the grey stack is drained.
//! 5. Checkmark mode re-marks from scratch into a private bitmap and
//!    panics with a report if the real mark missed anything.
//! 6. heapLive becomes the marked bytes; the pacer sets the next goal and
//!    trigger; the sweep generation advances, making every span unswept.
//! 7. The world restarts. Spans are swept lazily as caches ask for them
//!    (or all at once for an explicit `gc()`).

use crate::config::GcConfig;
use crate::mark::{MarkBits, Marker};
use crate::pacer::Pacer;
use crate::roots::{HandleTable, Root, RootSource, RootVisitor};
use crate::scavenger::Scavenger;
use marrow_runtime::mem::Purpose;
use marrow_runtime::{AllocError, AllocFlags, Heap, HeapError, MCache, MemStats, Type};
use std::fmt;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Why the collector could not be created or used.
#[derive(Debug)]
pub enum GcError {
    /// The heap could not be created.
    Heap(HeapError),
    /// This collector already has a mutator. Until several mutators are
    /// supported (stop-the-world across threads), a heap has one.
    MutatorExists,
}

impl fmt::Display for GcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcError::Heap(e) => write!(f, "{e}"),
            GcError::MutatorExists => write!(f, "this heap already has a mutator"),
        }
    }
}

impl std::error::Error for GcError {}

/// What started a cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcReason {
    /// heapLive reached the pacer's trigger.
    Heap,
    /// The program asked (`gc()`).
    Forced,
    /// Stress mode: every N allocations.
    Stress,
    /// An allocation failed; collect and retry once.
    Emergency,
}

/// Figures from one cycle, for gctrace and tests. Its `Display` is the
/// gctrace line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CycleReport {
    /// Cycle number (1-based).
    pub n: u32,
    /// What started the cycle.
    pub reason: GcReason,
    /// Seconds since the heap was created, at the end of the cycle.
    pub at_secs: f64,
    /// Share of time spent in the collector since the heap was created.
    pub cpu_fraction: f64,
    /// Heap objects' bytes before the cycle.
    pub heap_before: u64,
    /// Heap objects' bytes after the cycle (before lazy sweeping, unless
    /// the cycle swept everything).
    pub heap_after: u64,
    /// Bytes marked live.
    pub live: u64,
    /// Objects marked live.
    pub live_objects: u64,
    /// The next goal.
    pub goal: u64,
    /// Stop-the-world pause in nanoseconds.
    pub pause_ns: u64,
    /// Time marking (ns).
    pub mark_ns: u64,
    /// Time sweeping inside the pause (ns): the rest of the last cycle, and
    /// everything for forced cycles.
    pub sweep_ns: u64,
}

impl Default for CycleReport {
    fn default() -> Self {
        CycleReport {
            n: 0,
            reason: GcReason::Heap,
            at_secs: 0.0,
            cpu_fraction: 0.0,
            heap_before: 0,
            heap_after: 0,
            live: 0,
            live_objects: 0,
            goal: 0,
            pause_ns: 0,
            mark_ns: 0,
            sweep_ns: 0,
        }
    }
}

impl fmt::Display for CycleReport {
    /// One line in the spirit of Go's gctrace: cycle, time, GC share,
    /// pause (mark + sweep), heap before -> after -> live, goal, live
    /// objects, and why the cycle ran if not the pacer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        write!(
            f,
            "gc {} @{:.3}s {:.0}%: {:.3} ms pause (mark {:.3} + sweep {:.3}), {:.1}->{:.1}->{:.1} MB, ",
            self.n,
            self.at_secs,
            self.cpu_fraction * 100.0,
            self.pause_ns as f64 / 1e6,
            self.mark_ns as f64 / 1e6,
            self.sweep_ns as f64 / 1e6,
            mb(self.heap_before),
            mb(self.heap_after),
            mb(self.live),
        )?;
        if self.goal == u64::MAX {
            write!(f, "no goal")?;
        } else {
            write!(f, "{:.1} MB goal", mb(self.goal))?;
        }
        write!(f, ", {} objects live", self.live_objects)?;
        match self.reason {
            GcReason::Heap => Ok(()),
            GcReason::Forced => write!(f, " (forced)"),
            GcReason::Stress => write!(f, " (stress)"),
            GcReason::Emergency => write!(f, " (emergency)"),
        }
    }
}

#[derive(Debug)]
struct GcState {
    pacer: Pacer,
    gc_time_ns: u64,
    last: CycleReport,
    /// When the last cycle ended and what it found live: the mutator's
    /// allocation rate since then feeds the pacer's CPU cap.
    last_end: Option<Instant>,
    last_live: u64,
}

/// The collector of one heap, shared by its mutators.
pub struct Gc {
    heap: Arc<Heap>,
    config: GcConfig,
    state: Mutex<GcState>,
    created: Instant,
    mutators: AtomicUsize,
    /// True while marking is in progress (the write barrier's fast-path test).
    marking: AtomicBool,
    /// The background sweeper and scavenger thread, if enabled.
    scavenger: Option<Scavenger>,
}

impl fmt::Debug for Gc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gc")
            .field("heap", &self.heap)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Gc {
    /// Creates a heap and its collector.
    pub fn new(config: GcConfig) -> Result<Arc<Gc>, GcError> {
        let heap = Heap::new(config.heap_config()).map_err(GcError::Heap)?;
        let heap_for_thread = heap.clone();
        let scavenge = config.scavenge;
        let pacer = Pacer::new(config.gogc, config.memlimit, config.min_heap);
        heap.set_gc_trigger(pacer.trigger());
        heap.gc_record().next_gc = pacer.goal();
        Ok(Arc::new(Gc {
            heap,
            config,
            state: Mutex::new(GcState {
                pacer,
                gc_time_ns: 0,
                last: CycleReport::default(),
                last_end: None,
                last_live: 0,
            }),
            created: Instant::now(),
            mutators: AtomicUsize::new(0),
            marking: AtomicBool::new(false),
            scavenger: Scavenger::start(&heap_for_thread, scavenge),
        }))
    }

    /// The heap.
    pub fn heap(&self) -> &Arc<Heap> {
        &self.heap
    }

    /// The settings.
    pub fn config(&self) -> &GcConfig {
        &self.config
    }

    fn state(&self) -> MutexGuard<'_, GcState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last cycle's figures.
    pub fn last_cycle(&self) -> CycleReport {
        self.state().last
    }

    /// Changes GOGC at run time (None: off).
    pub fn set_gogc(&self, gogc: Option<u32>) {
        let mut st = self.state();
        st.pacer.set_gogc(gogc);
        self.heap.set_gc_trigger(st.pacer.trigger());
        self.heap.gc_record().next_gc = st.pacer.goal();
    }

    /// Changes the soft memory limit at run time.
    pub fn set_memlimit(&self, limit: Option<u64>) {
        let mut st = self.state();
        st.pacer.set_memlimit(limit);
        self.heap.set_gc_trigger(st.pacer.trigger());
        self.heap.gc_record().next_gc = st.pacer.goal();
    }

    /// Whether marking is in progress.
    #[inline(always)]
    pub fn is_marking(&self) -> bool {
        self.marking.load(Ordering::Relaxed)
    }
}

/// A thread's handle for allocating from a collected heap: its cache, its
/// handle table, and its share of the collector's work.
pub struct Mutator {
    gc: Arc<Gc>,
    cache: MCache,
    handles: Rc<HandleTable>,
    allocs_until_stress: u64,
    /// Stress mode is on (`stress > 0`): every allocation takes the poll path.
    stress_on: bool,
}

impl fmt::Debug for Mutator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutator")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// Visits the collector's own roots and the caller's.
struct AllRoots<'a> {
    user: &'a dyn RootSource,
    handles: &'a HandleTable,
    tiny: Option<usize>,
}

impl RootSource for AllRoots<'_> {
    fn visit_roots(&self, v: &mut dyn RootVisitor) {
        self.user.visit_roots(v);
        self.handles.visit(v);
        if let Some(t) = self.tiny {
            v.visit(t);
        }
    }
}

impl Mutator {
    /// A mutator for the calling thread.
    pub fn new(gc: &Arc<Gc>) -> Result<Mutator, GcError> {
        if gc
            .mutators
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return Err(GcError::MutatorExists);
        }
        Ok(Mutator {
            gc: gc.clone(),
            cache: gc.heap.new_cache(),
            handles: Rc::new(HandleTable::default()),
            allocs_until_stress: gc.config.stress,
            stress_on: gc.config.stress != 0,
        })
    }

    /// The collector.
    pub fn gc_handle(&self) -> &Arc<Gc> {
        &self.gc
    }

    /// The heap.
    pub fn heap(&self) -> &Arc<Heap> {
        &self.gc.heap
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
    /// May collect first, with `roots` as the caller's roots: every pointer
    /// the caller holds must be reachable from `roots` or a handle.
    #[inline(always)]
    pub fn mallocgc(
        &mut self,
        size: usize,
        typ: Option<&Type>,
        flags: AllocFlags,
        roots: &dyn RootSource,
    ) -> Result<NonNull<u8>, AllocError> {
        if self.cache.gc_requested() | self.stress_on {
            self.poll_slow(roots);
        }
        match self.cache.try_mallocgc(size, typ, flags) {
            Ok(p) => Ok(p),
            Err(e) => self.alloc_failed(e, size, typ, flags, roots),
        }
    }

    /// A collection is due (the trigger fired) or stress mode counts.
    #[cold]
    #[inline(never)]
    fn poll_slow(&mut self, roots: &dyn RootSource) {
        if self.cache.take_gc_request() {
            self.collect(roots, GcReason::Heap);
        }
        if self.stress_on {
            self.allocs_until_stress -= 1;
            if self.allocs_until_stress == 0 {
                self.allocs_until_stress = self.gc.config.stress;
                self.collect(roots, GcReason::Stress);
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
                self.collect(roots, GcReason::Emergency);
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
    /// pointer store into a heap object must come through here, so that
    /// incremental and concurrent marking can keep their invariant.
    ///
    /// # Safety
    /// `obj` must be a live object of this heap with more than `slot` words.
    #[inline(always)]
    pub unsafe fn write_ptr(&mut self, obj: NonNull<u8>, slot: usize, val: usize) {
        debug_assert!(self
            .gc
            .heap
            .find_object(obj.as_ptr() as usize + slot * 8)
            .is_some_and(|o| o.base == obj.as_ptr() as usize));
        if self.gc.is_marking() {
            self.write_barrier_slow(obj, slot, val);
        }
        // SAFETY: the caller guarantees the slot lies in a live object.
        unsafe { (obj.as_ptr() as *mut usize).add(slot).write(val) };
    }

    #[cold]
    fn write_barrier_slow(&mut self, _obj: NonNull<u8>, _slot: usize, _val: usize) {
        // Marking is stop-the-world today: a mutator never runs while the
        // flag is set. Incremental marking shades the old value here.
    }

    /// Runs a full collection now and sweeps everything (Go's `runtime.GC`).
    pub fn gc(&mut self, roots: &dyn RootSource) -> CycleReport {
        self.collect(roots, GcReason::Forced)
    }

    /// Collects, sweeps everything, and returns every free page to the OS
    /// (Go's `debug.FreeOSMemory`). Returns the bytes released.
    pub fn free_os_memory(&mut self, roots: &dyn RootSource) -> Result<usize, marrow_runtime::mem::MemError> {
        self.collect(roots, GcReason::Forced);
        self.gc.heap.release_free_pages()
    }

    /// A statistics snapshot, exact for this mutator.
    pub fn stats(&mut self) -> MemStats {
        self.cache.flush_stats();
        self.gc.heap.mem_stats()
    }

    /// One stop-the-world cycle.
    fn collect(&mut self, roots: &dyn RootSource, reason: GcReason) -> CycleReport {
        let gc = self.gc.clone();
        let heap = &gc.heap;
        let t0 = Instant::now();
        // A trigger raised before this cycle is answered by it.
        self.cache.take_gc_request();
        self.cache.flush_stats();
        let heap_before = heap.mem_stats().heap_alloc;
        let tiny = self.cache.tiny_block();
        self.cache.release_all();
        let live_before = heap.heap_live();
        // No background sweeping from here until the next sweep cycle starts.
        let gate = heap.stop_background_sweep();

        // Finish the previous cycle's sweep: every mark bit is then clear.
        let sweep_start = Instant::now();
        heap.sweep_all();
        let mut sweep_ns = sweep_start.elapsed().as_nanos() as u64;

        let all = AllRoots {
            user: roots,
            handles: &self.handles,
            tiny,
        };
        let mark_start = Instant::now();
        gc.marking.store(true, Ordering::Relaxed);
        let mut m = Marker::new(heap, MarkBits::Heap);
        all.visit_roots(&mut m);
        m.drain();
        gc.marking.store(false, Ordering::Relaxed);
        let mark_ns = mark_start.elapsed().as_nanos() as u64;
        let (live, live_objects) = (m.marked_bytes, m.marked_objects);
        drop(m);

        if gc.config.checkmark {
            let mut c = Marker::new(heap, Marker::check_bits(heap));
            all.visit_roots(&mut c);
            c.drain();
            let missed = c.missed_by_heap_mark(16);
            if !missed.is_empty() {
                let list: Vec<String> = missed
                    .iter()
                    .map(|o| {
                        format!(
                            "  object {:#x} ({} bytes, {})",
                            o.base,
                            o.size,
                            if o.noscan { "noscan" } else { "scan" }
                        )
                    })
                    .collect();
                panic!(
                    "marrow: checkmark failed: {} reachable object(s) were not marked, e.g.:\n{}",
                    missed.len(),
                    list.join("\n")
                );
            }
        }

        heap.set_heap_live(live);
        let acct = heap.accounting();
        let overhead = acct.mapped_ready() - acct.ready(Purpose::Heap);
        let mut report = {
            let mut st = gc.state();
            // CPU cap: leave the mutator the bytes it allocates, at its rate
            // since the last cycle, in as long as this cycle has paused.
            let min_runway = st.last_end.map_or(0, |end| {
                let mutator_ns = t0.duration_since(end).as_nanos().max(1);
                let allocated = live_before.saturating_sub(st.last_live) as u128;
                (allocated * t0.elapsed().as_nanos() / mutator_ns) as u64
            });
            let goal = st.pacer.end_cycle_capped(live, overhead, min_runway);
            heap.set_gc_trigger(st.pacer.trigger());
            heap.set_retained(retained_goal(goal, gc.config.memlimit, overhead));
            // SAFETY: the mark above reached every object reachable from
            // the roots (all mutators' roots: this is the only mutator), and
            // nothing was allocated since.
            unsafe { heap.begin_sweep() };
            if reason == GcReason::Forced || reason == GcReason::Emergency {
                let s = Instant::now();
                heap.sweep_all();
                sweep_ns += s.elapsed().as_nanos() as u64;
            }
            drop(gate);
            let pause_ns = t0.elapsed().as_nanos() as u64;
            st.gc_time_ns += pause_ns;
            st.last_end = Some(Instant::now());
            st.last_live = live;
            let mut rec = heap.gc_record();
            rec.record_pause(pause_ns);
            if reason == GcReason::Forced {
                rec.num_forced_gc += 1;
            }
            rec.next_gc = goal;
            rec.gc_cpu_fraction = st.gc_time_ns as f64 / gc.created.elapsed().as_nanos().max(1) as f64;
            rec.last_gc_unix_ns = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            CycleReport {
                n: rec.num_gc,
                reason,
                at_secs: gc.created.elapsed().as_secs_f64(),
                cpu_fraction: rec.gc_cpu_fraction,
                heap_before,
                heap_after: 0,
                live,
                live_objects,
                goal,
                pause_ns,
                mark_ns,
                sweep_ns,
            }
        };
        report.heap_after = self.stats().heap_alloc;
        if let Some(s) = &gc.scavenger {
            s.wake();
        }
        gc.state().last = report;
        if gc.config.gctrace {
            eprintln!("{report}");
        }
        report
    }
}

impl Drop for Mutator {
    fn drop(&mut self) {
        self.cache.release_all();
        self.gc.mutators.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Heap bytes to keep Ready after a cycle with goal `goal`: about 10% over
/// what the goal needs, and under a memory limit no more than the limit
/// leaves beside the non-heap mapped memory (`overhead`).
fn retained_goal(goal: u64, memlimit: Option<u64>, overhead: u64) -> u64 {
    let by_goal = goal.saturating_add(goal / 10);
    match memlimit {
        Some(l) => by_goal.min(l.saturating_sub(overhead)),
        None => by_goal,
    }
}

impl Drop for Gc {
    fn drop(&mut self) {
        if let Some(s) = self.scavenger.take() {
            s.stop();
        }
    }
}
