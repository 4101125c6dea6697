//! The collector ([`Gc`], shared by every mutator of a heap) and the life
//! of a cycle. The mutator side (allocation, polls, assists, safepoints) is
//! in mutator.rs, the write barrier in barrier.rs; stopping the world in
//! world.rs; the mark work pool in work.rs; the worker threads in
//! workers.rs (what their jobs do is here, `JobRunner for Core`); every
//! pacing number in pacer.rs; sweeping in the runtime's sweep.rs.
//!
//! The life of a cycle (docs/gc-cycle.md):
//! 1. A trigger fires: a mutator's allocation slow path found heapLive past
//!    the pacer's trigger, stress mode counted N allocations, an allocation
//!    failed, or the program called `gc()`.
//! 2. The mutator that starts it sweeps what is left of the last cycle
//!    (while the others run), then stops the world. Every mutator makes
//!    itself safe: returns its cached spans, flushes its write-barrier
//!    buffer, reports its roots. Time to safepoint is measured.
//! 3. Mark start (world stopped): sweeping is finished, roots are marked.
//!    - Stop-the-world mode marks everything now, on `workers` threads, and
//!      goes straight to termination.
//!    - Incremental and concurrent modes turn on the write barrier and
//!      black allocation, set the assist ratio and restart the world.
//!      Mutators assist as they allocate; concurrent mode also runs
//!      background workers. Whoever finds marking quiescent claims
//!      termination.
//! 4. Mark termination (world stopped again): mutators flush their caches
//!    (objects they allocated become marked) and barrier buffers; what
//!    that adds is drained, within a budget (over budget: restart the
//!    world and keep marking concurrently). Checkmark mode re-marks from
//!    scratch and compares. heapLive becomes the marked bytes; the pacer
//!    learns and sets the next goal and trigger; the sweep generation
//!    advances; the world restarts. `Core::mark_termination` is these
//!    steps by name: `drain_within_pause` (or `resume_marking`),
//!    `stop_marking`, `checkmark`, `pace_next_cycle`, `start_sweep`,
//!    `record_cycle`.
//! 5. Spans are swept lazily and proportionally as mutators allocate, and
//!    in the background when they are quiet (all at once for `gc()`).

use crate::assist::AssistCredit;
use crate::config::{GcConfig, GcMode};
use crate::mark::{MarkTotals, Marker, Work};
use crate::pacer::{self, Pacer};
use crate::roots::RootVisitor;
use crate::scavenger::Scavenger;
use crate::sync::lock;
use crate::typed::SharedRootTable;
use crate::weak::{WeakCounts, WeakTables};
use crate::work::WorkPool;
use crate::workers::{Job, JobRunner, WorkerControl};
use crate::world::{MutatorId, World};
use marrow_runtime::collector_interface as ci;
use marrow_runtime::mem::Purpose;
use marrow_runtime::sizeclass::PAGE_SHIFT;
use marrow_runtime::{GcRecord, Heap, HeapError};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why the collector could not be created or used.
#[derive(Debug)]
pub enum GcError {
    /// The heap could not be created.
    Heap(HeapError),
    /// A setting is out of range.
    InvalidConfig(String),
    /// The calling thread already has a mutator of this collector (a
    /// second one would wait for the first at the next stop, forever).
    MutatorExists,
}

impl fmt::Display for GcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GcError::Heap(e) => write!(f, "{e}"),
            GcError::InvalidConfig(m) => write!(f, "invalid collector configuration: {m}"),
            GcError::MutatorExists => write!(f, "this thread already has a mutator of this collector"),
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
    /// Whether marking ran alongside the mutators.
    pub concurrent: bool,
    /// Seconds since the heap was created, at the end of the cycle.
    pub at_secs: f64,
    /// Share of time spent in the collector's pauses since the heap was created.
    pub cpu_fraction: f64,
    /// Heap objects' bytes before the cycle.
    pub heap_before: u64,
    /// Heap objects' bytes after the cycle (before lazy sweeping, unless
    /// the cycle swept everything).
    pub heap_after: u64,
    /// Bytes marked live (objects allocated during marking included).
    pub live: u64,
    /// Objects marked live.
    pub live_objects: u64,
    /// The next goal.
    pub goal: u64,
    /// The next trigger.
    pub trigger: u64,
    /// Total stop-the-world pause in nanoseconds (both pauses).
    pub pause_ns: u64,
    /// The mark-start pause (the whole mark in stop-the-world mode).
    pub start_pause_ns: u64,
    /// The mark-termination pause (0 in stop-the-world mode).
    pub end_pause_ns: u64,
    /// Longest time to safepoint: from the stop request until every
    /// mutator was safe.
    pub ttsp_ns: u64,
    /// Time marking (ns): inside the pause, or from start to termination.
    pub mark_ns: u64,
    /// Time sweeping inside the pauses (ns).
    pub sweep_ns: u64,
    /// Mutators registered.
    pub mutators: usize,
    /// Marking threads of the stop-the-world mark (1: the caller alone).
    pub workers: usize,
    /// What weak processing did (weak references cleared, ephemerons,
    /// guardians, cleanups).
    pub weak: WeakCounts,
}

impl Default for CycleReport {
    fn default() -> Self {
        CycleReport {
            n: 0,
            reason: GcReason::Heap,
            concurrent: false,
            at_secs: 0.0,
            cpu_fraction: 0.0,
            heap_before: 0,
            heap_after: 0,
            live: 0,
            live_objects: 0,
            goal: 0,
            trigger: 0,
            pause_ns: 0,
            start_pause_ns: 0,
            end_pause_ns: 0,
            ttsp_ns: 0,
            mark_ns: 0,
            sweep_ns: 0,
            mutators: 0,
            workers: 0,
            weak: WeakCounts::default(),
        }
    }
}

impl fmt::Display for CycleReport {
    /// One line in the spirit of Go's gctrace: cycle, time, pause share,
    /// pauses (start + termination, time to safepoint), mark and sweep
    /// times, heap before -> after -> live, goal, live objects, mutators,
    /// weak processing (when there was any), and why the cycle ran if not
    /// the pacer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mb = |b: u64| b as f64 / (1 << 20) as f64;
        let ms = |ns: u64| ns as f64 / 1e6;
        write!(
            f,
            "gc {} @{:.3}s {:.0}%: {:.3}+{:.3} ms pause (ttsp {:.3}), mark {:.3} ms{} + sweep {:.3}, {:.1}->{:.1}->{:.1} MB, ",
            self.n,
            self.at_secs,
            self.cpu_fraction * 100.0,
            ms(self.start_pause_ns),
            ms(self.end_pause_ns),
            ms(self.ttsp_ns),
            ms(self.mark_ns),
            if self.concurrent { " concurrent" } else { "" },
            ms(self.sweep_ns),
            mb(self.heap_before),
            mb(self.heap_after),
            mb(self.live),
        )?;
        if self.goal == u64::MAX {
            write!(f, "no goal")?;
        } else {
            write!(f, "{:.1} MB goal", mb(self.goal))?;
        }
        write!(
            f,
            ", {} objects live, {} mutators, {} workers",
            self.live_objects, self.mutators, self.workers
        )?;
        let w = &self.weak;
        if *w != WeakCounts::default() {
            write!(
                f,
                ", weak: {} cleared, ephemerons {} kept {} cleared, {} guarded returned, {} cleanups queued",
                w.weak_cleared, w.ephemerons_kept, w.ephemerons_cleared, w.guarded_returned, w.cleanups_queued
            )?;
        }
        match self.reason {
            GcReason::Heap => Ok(()),
            GcReason::Forced => write!(f, " (forced)"),
            GcReason::Stress => write!(f, " (stress)"),
            GcReason::Emergency => write!(f, " (emergency)"),
        }
    }
}

/// Phases (Go's gcphase, plus who owns termination).
pub(crate) const PHASE_OFF: u8 = 0;
/// Marking alongside the mutators.
pub(crate) const PHASE_MARK: u8 = 1;
/// A thread has claimed mark termination.
pub(crate) const PHASE_TERMINATING: u8 = 2;

/// Individual pauses kept for [`Gc::recent_pauses`].
const PAUSE_LOG: usize = 4096;

/// Scan work (words) the termination pause may drain before it gives up
/// and lets marking go on concurrently: about 200 µs of marking at the
/// roughly 350 words per µs measured on binary-trees 18 (four assist
/// slices, mutator.rs).
const TERMINATION_BUDGET: u64 = 64 << 10;

/// The collector's memory between cycles: the pacer (which remembers the
/// last mark's live heap and scan work) and what the gctrace line and
/// [`Gc::last_cycle`] report. The statistics Go's MemStats reports (cycle
/// count, pauses, next goal, pause share) live once, in the heap's
/// `GcRecord`.
#[derive(Debug)]
struct GcState {
    pacer: Pacer,
    last: CycleReport,
    /// When the last cycle ended: the mutators' allocation rate since then
    /// feeds the pacer's CPU cap.
    last_end: Option<Instant>,
}

/// What a finished mark found (termination step 2).
#[derive(Clone, Copy, Debug)]
struct MarkResult {
    /// Bytes and objects marked live (allocated black included).
    live: u64,
    live_objects: u64,
    /// Words scanned.
    scanned: u64,
    /// heapLive when marking ended.
    heap_at_end: u64,
    /// Time marking.
    mark_ns: u64,
}

/// A cycle between its start and its termination.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    reason: GcReason,
    concurrent: bool,
    /// When the mark-start stop was requested.
    t0: Instant,
    mark_start: Instant,
    heap_before: u64,
    live_before: u64,
    start_pause_ns: u64,
    ttsp_ns: u64,
    sweep_ns: u64,
}

/// The collector's shared state: everything mutators and workers touch.
/// Owned through `Arc` by the [`Gc`] handle, its mutators and its worker
/// threads (which hold no `Gc`, so dropping the last `Gc` can join them).
///
/// Invariants: `marking` is true exactly while `phase != PHASE_OFF`, and
/// both change only while the world is stopped; `heap.alloc_black()`
/// follows `marking`; `inflight` is Some while `phase != PHASE_OFF`.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) heap: Arc<Heap>,
    pub(crate) config: GcConfig,
    state: Mutex<GcState>,
    inflight: Mutex<Option<InFlight>>,
    created: Instant,
    pub(crate) world: World,
    pub(crate) pool: WorkPool<Work>,
    pub(crate) assist: AssistCredit,
    pub(crate) totals: MarkTotals,
    phase: AtomicU8,
    /// The write barrier's fast-path test.
    pub(crate) marking: AtomicBool,
    /// CPU time spent marking alongside mutators this cycle (assists and
    /// background workers), for the pacer's utilization.
    pub(crate) mark_cpu_ns: AtomicU64,
    /// `mark_cpu_ns` summed over every finished cycle (for `--stats`).
    mark_cpu_total_ns: AtomicU64,
    pub(crate) workers: WorkerControl,
    pauses: Mutex<VecDeque<u64>>,
    /// The typed API's shared roots (`typed::SharedRoot`).
    pub(crate) shared_roots: SharedRootTable,
    /// Weak references, ephemerons, guardians and cleanups (weak.rs).
    pub(crate) weak: WeakTables,
    /// The background sweeper and scavenger thread, if enabled (woken at
    /// the end of each cycle; taken and stopped when the `Gc` drops).
    scavenger: Mutex<Option<Scavenger>>,
}

/// The collector of one heap, shared by its mutators.
pub struct Gc {
    pub(crate) core: Arc<Core>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Gc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gc")
            .field("heap", &self.core.heap)
            .field("config", &self.core.config)
            .finish_non_exhaustive()
    }
}

impl Gc {
    /// Creates a heap and its collector (and its worker threads).
    pub fn new(config: GcConfig) -> Result<Arc<Gc>, GcError> {
        if !(1..=64).contains(&config.workers) {
            return Err(GcError::InvalidConfig(format!(
                "workers must be 1 to 64, not {}",
                config.workers
            )));
        }
        let heap = Heap::new(config.heap_config()).map_err(GcError::Heap)?;
        let mut pacer = Pacer::new(config.gogc, config.memlimit, config.min_heap);
        pacer.set_concurrent(config.mode.is_concurrent());
        ci::set_gc_trigger(&heap, pacer.trigger());
        ci::set_gc_record(
            &heap,
            GcRecord {
                next_gc: pacer.goal(),
                ..heap.gc_record()
            },
        );
        let scavenger = Scavenger::start(&heap, config.scavenge);
        let nthreads = match config.mode {
            GcMode::Concurrent => config.workers.max(2) - 1,
            _ => config.workers - 1,
        };
        let core = Arc::new(Core {
            heap,
            config,
            state: Mutex::new(GcState {
                pacer,
                last: CycleReport::default(),
                last_end: None,
            }),
            inflight: Mutex::new(None),
            created: Instant::now(),
            world: World::new(),
            pool: WorkPool::new(),
            assist: AssistCredit::new(),
            totals: MarkTotals::default(),
            phase: AtomicU8::new(PHASE_OFF),
            marking: AtomicBool::new(false),
            mark_cpu_ns: AtomicU64::new(0),
            mark_cpu_total_ns: AtomicU64::new(0),
            workers: WorkerControl::new(),
            pauses: Mutex::new(VecDeque::new()),
            shared_roots: SharedRootTable::default(),
            weak: WeakTables::default(),
            scavenger: Mutex::new(scavenger),
        });
        let threads = crate::workers::spawn(&core, nthreads);
        Ok(Arc::new(Gc { core, threads }))
    }

    /// The heap, for reading (statistics, `find_object`). Not an
    /// `Arc<Heap>`: an allocation cache made on a collected heap would
    /// allocate where the collector cannot stop it, so only [`Mutator`]s
    /// allocate here.
    ///
    /// [`Mutator`]: crate::Mutator
    pub fn heap(&self) -> &Heap {
        &self.core.heap
    }

    /// The settings.
    pub fn config(&self) -> &GcConfig {
        &self.core.config
    }

    /// The last cycle's figures.
    pub fn last_cycle(&self) -> CycleReport {
        self.core.state().last
    }

    /// Recent stop-the-world pauses in nanoseconds, oldest first (up to
    /// 4096; a concurrent cycle has two).
    pub fn recent_pauses(&self) -> Vec<u64> {
        lock(&self.core.pauses).iter().copied().collect()
    }

    /// Changes GOGC at run time (None: off).
    pub fn set_gogc(&self, gogc: Option<u32>) {
        self.core.update_pacer(|p| p.set_gogc(gogc));
    }

    /// Changes the soft memory limit at run time.
    pub fn set_memlimit(&self, limit: Option<u64>) {
        self.core.update_pacer(|p| p.set_memlimit(limit));
    }

    /// CPU time (ns) spent marking alongside the mutators, in assists and
    /// background workers, over every finished cycle; with the pauses
    /// (`MemStats::pause_total_ns`) it is the collector's CPU cost.
    pub fn concurrent_mark_cpu_ns(&self) -> u64 {
        self.core.mark_cpu_total_ns.load(Ordering::Relaxed)
    }

    /// Whether marking is in progress.
    #[inline(always)]
    pub fn is_marking(&self) -> bool {
        self.core.marking.load(Ordering::Relaxed)
    }

    /// What weak processing has done since the heap was made: weak
    /// references cleared, ephemerons, guardians, cleanups queued and run.
    pub fn weak_totals(&self) -> WeakCounts {
        self.core.weak.totals()
    }

    /// Registered mutators.
    pub fn mutators(&self) -> usize {
        self.core.world.mutators()
    }
}

impl Drop for Gc {
    fn drop(&mut self) {
        self.core.workers.shut_down(&self.core.pool);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let scavenger = lock(&self.core.scavenger).take();
        if let Some(s) = scavenger {
            s.stop();
        }
    }
}

/// Marks root words into a marker.
struct RootMarker<'a, 'h>(&'a mut Marker<'h>);

impl RootVisitor for RootMarker<'_, '_> {
    fn visit(&mut self, word: usize) {
        self.0.mark_word(word);
    }
}

impl Core {
    fn state(&self) -> MutexGuard<'_, GcState> {
        lock(&self.state)
    }

    fn update_pacer(&self, f: impl FnOnce(&mut Pacer)) {
        let mut st = self.state();
        f(&mut st.pacer);
        if self.phase() == PHASE_OFF {
            ci::set_gc_trigger(&self.heap, st.pacer.trigger());
        }
        // Under the state lock, as every update of the record: none is lost.
        ci::set_gc_record(
            &self.heap,
            GcRecord {
                next_gc: st.pacer.goal(),
                ..self.heap.gc_record()
            },
        );
    }

    /// The current phase.
    #[inline]
    pub(crate) fn phase(&self) -> u8 {
        self.phase.load(Ordering::Acquire)
    }

    /// Claims mark termination; true for exactly one caller per mark.
    pub(crate) fn claim_termination(&self) -> bool {
        self.phase
            .compare_exchange(PHASE_MARK, PHASE_TERMINATING, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// A marker of the heap's mark bits publishing to this cycle's totals.
    pub(crate) fn marker(&self, exclusive: bool) -> Marker<'_> {
        Marker::shared(&self.heap, exclusive, &self.totals)
    }

    fn record_pause(&self, ns: u64) {
        let mut p = lock(&self.pauses);
        if p.len() == PAUSE_LOG {
            p.pop_front();
        }
        p.push_back(ns);
    }

    /// Marks the roots of every mutator: `own` (the stopper's, if it is a
    /// mutator) and those the others reported. World stopped.
    fn mark_roots(&self, m: &mut Marker<'_>, me: Option<MutatorId>, own: &[usize]) {
        let mut v = RootMarker(m);
        v.visit_slice(own);
        self.world.for_each_reported_roots(me, |r| v.visit_slice(r));
        self.shared_roots.visit(&mut v);
        self.weak.visit_roots(&mut v);
    }

    /// Finishes the last cycle's sweep with the world stopped: background
    /// sweeps are shut out while it runs, so none is in flight after it.
    /// Returns the nanoseconds it took.
    fn finish_sweep(&self) -> u64 {
        let t = Instant::now();
        // SAFETY: this is the heap's collector, with the world stopped:
        // no begin_sweep runs meanwhile (only this thread could start
        // one), and the gate is dropped when this returns.
        let _gate = unsafe { ci::stop_background_sweep(&self.heap) };
        // SAFETY: as above: the world is stopped and no begin_sweep runs.
        unsafe { ci::sweep_all(&self.heap) };
        t.elapsed().as_nanos() as u64
    }

    /// Mark start, with the world stopped by `me` (None: not a mutator) at
    /// `t0`, after `ttsp`. `own` are the stopper's roots. In stop-the-world
    /// mode (or `force_stw`) marks everything and terminates; otherwise
    /// starts concurrent marking. Restarts the world either way. Returns
    /// the report of a finished cycle.
    pub(crate) fn mark_start(
        &self,
        me: Option<MutatorId>,
        own: &[usize],
        reason: GcReason,
        t0: Instant,
        ttsp: Duration,
        force_stw: bool,
    ) -> Option<CycleReport> {
        debug_assert_eq!(self.phase(), PHASE_OFF);
        let heap = &self.heap;
        let heap_before = heap.mem_stats().heap_alloc;
        let live_before = heap.heap_live();
        let sweep_ns = self.finish_sweep();
        let concurrent = self.config.mode.is_concurrent() && !force_stw;
        let mark_start = Instant::now();
        let stw_workers = self.config.workers;
        self.totals.take();
        let _ = ci::take_black_allocs(heap);
        let mut m = self.marker(!concurrent && stw_workers == 1);
        self.pool.enter();
        self.mark_roots(&mut m, me, own);
        let flight = InFlight {
            reason,
            concurrent,
            t0,
            mark_start,
            heap_before,
            live_before,
            start_pause_ns: 0,
            ttsp_ns: ttsp.as_nanos() as u64,
            sweep_ns,
        };
        if !concurrent {
            if stw_workers > 1 {
                self.workers.post(Job::HelpStw, stw_workers - 1);
                m.drain_shared(&self.pool, |_| {});
            } else {
                m.drain();
                m.publish();
                self.pool.release();
            }
            drop(m);
            *lock(&self.inflight) = Some(flight);
            self.phase.store(PHASE_TERMINATING, Ordering::Release);
            return self.mark_termination(me, own, t0, Duration::ZERO);
        }
        m.flush_to(&self.pool);
        m.publish();
        self.pool.release();
        drop(m);
        let (expected, goal) = {
            let st = self.state();
            (st.pacer.expected_scan_work(live_before), st.pacer.goal())
        };
        self.assist.start_cycle(expected, goal);
        self.mark_cpu_ns.store(0, Ordering::Relaxed);
        // SAFETY: the world is stopped, so every cache has given its spans
        // back and nothing allocates; this is the heap's collector, turning
        // black allocation on as concurrent marking starts.
        unsafe { ci::set_alloc_black(heap, true) };
        self.marking.store(true, Ordering::Release);
        self.phase.store(PHASE_MARK, Ordering::Release);
        let pause = t0.elapsed().as_nanos() as u64;
        *lock(&self.inflight) = Some(InFlight {
            start_pause_ns: pause,
            ..flight
        });
        self.record_pause(pause);
        self.world.restart();
        if self.config.mode == GcMode::Concurrent {
            self.workers
                .post(Job::Background, pacer::background_workers(self.config.workers));
        }
        None
    }

    /// Mark termination, with the world stopped by `me` at `t_stop` after
    /// `ttsp` and this thread owning the termination (phase
    /// TERMINATING). Drains what the mutators' flushes added; if that
    /// takes more than a pause should, restarts the world with marking
    /// still on and returns None. Otherwise ends the cycle, restarts the
    /// world and returns its report.
    pub(crate) fn mark_termination(
        &self,
        me: Option<MutatorId>,
        own: &[usize],
        t_stop: Instant,
        ttsp: Duration,
    ) -> Option<CycleReport> {
        debug_assert_eq!(self.phase(), PHASE_TERMINATING);
        let flight = lock(&self.inflight).expect("a cycle in flight");
        if flight.concurrent && !self.drain_within_pause() {
            self.resume_marking(t_stop);
            return None;
        }
        let weak = self.process_weak();
        let mark = self.stop_marking(&flight);
        if self.config.checkmark {
            self.checkmark(me, own);
        }
        let mut st = self.state();
        let (goal, trigger) = self.pace_next_cycle(&mut st, &flight, &mark, t_stop);
        let sweep_ns = flight.sweep_ns + self.start_sweep(&st.pacer, flight.reason);
        *lock(&self.inflight) = None;
        self.phase.store(PHASE_OFF, Ordering::Release);
        let report = self.record_cycle(&mut st, &flight, &mark, weak, (goal, trigger), sweep_ns, t_stop, ttsp);
        drop(st);
        self.world.restart();
        if let Some(s) = lock(&self.scavenger).as_ref() {
            s.wake();
        }
        if self.config.gctrace {
            eprintln!("{report}");
        }
        Some(report)
    }

    /// Termination step 1 (concurrent marks): drains what the mutators'
    /// flushes added, within [`TERMINATION_BUDGET`]. False if marking is
    /// not finished within it.
    fn drain_within_pause(&self) -> bool {
        let mut m = self.marker(false);
        let (_, quiescent) = m.drain_budget(&self.pool, TERMINATION_BUDGET);
        quiescent && self.pool.is_quiescent()
    }

    /// Too much left for a short pause: restart the world with marking
    /// still on (the pause started at `t_stop`).
    fn resume_marking(&self, t_stop: Instant) {
        self.phase.store(PHASE_MARK, Ordering::Release);
        let pause = t_stop.elapsed().as_nanos() as u64;
        self.record_pause(pause);
        self.world.restart();
        if self.config.mode == GcMode::Concurrent {
            self.workers
                .post(Job::Background, pacer::background_workers(self.config.workers));
        }
    }

    /// Termination step 2: weak processing (weak.rs): ephemerons to a
    /// fixpoint, guardians, clearing dead referents, queueing cleanups.
    fn process_weak(&self) -> WeakCounts {
        let mut m = self.marker(false);
        let counts = self.weak.process(&mut m);
        m.publish();
        counts
    }

    /// Termination step 3: turns the barrier and black allocation off and
    /// takes the mark's totals; heapLive becomes the live bytes.
    fn stop_marking(&self, flight: &InFlight) -> MarkResult {
        let heap = &self.heap;
        self.marking.store(false, Ordering::Release);
        // SAFETY: termination runs with the world stopped (every cache gave
        // its spans back, so their black allocations are marked), and the
        // mark is complete: nothing allocated from now on needs marking.
        unsafe { ci::set_alloc_black(heap, false) };
        let mark_ns = flight.mark_start.elapsed().as_nanos() as u64;
        let (marked_bytes, marked_objects, scanned) = self.totals.take();
        let (black_objects, black_bytes) = ci::take_black_allocs(heap);
        let heap_at_end = heap.heap_live();
        let live = marked_bytes + black_bytes;
        ci::set_heap_live(heap, live);
        MarkResult {
            live,
            live_objects: marked_objects + black_objects,
            scanned,
            heap_at_end,
            mark_ns,
        }
    }

    /// Termination step 4: the pacer learns from the mark and sets the next
    /// goal, trigger and retained size, which go to the heap. Returns the
    /// goal and trigger.
    fn pace_next_cycle(&self, st: &mut GcState, flight: &InFlight, mark: &MarkResult, t_stop: Instant) -> (u64, u64) {
        let heap = &self.heap;
        let acct = heap.accounting();
        let overhead = acct.mapped_ready() - acct.ready(Purpose::Heap);
        self.mark_cpu_total_ns
            .fetch_add(self.mark_cpu_ns.load(Ordering::Relaxed), Ordering::Relaxed);
        if flight.concurrent {
            let wall = flight.mark_start.elapsed().as_nanos();
            let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
            let util = pacer::utilization(self.mark_cpu_ns.load(Ordering::Relaxed), wall, cpus);
            st.pacer.learn(mark.heap_at_end, util);
        }
        let paused = flight.start_pause_ns + t_stop.elapsed().as_nanos() as u64;
        let min_runway = st.last_end.map_or(0, |end| {
            st.pacer
                .cpu_cap_runway(flight.live_before, flight.t0.duration_since(end).as_nanos(), paused)
        });
        let goal = st.pacer.end_cycle_capped(mark.live, overhead, min_runway);
        let trigger = st.pacer.trigger();
        st.pacer.record_scan_work(mark.scanned);
        ci::set_gc_trigger(heap, trigger);
        heap.set_retained(st.pacer.retained());
        (goal, trigger)
    }

    /// Termination step 5: starts the sweep cycle at the pacer's pace, and
    /// for a forced or emergency cycle sweeps it all now. Returns the time
    /// spent sweeping everything (0 otherwise).
    fn start_sweep(&self, pacer: &Pacer, reason: GcReason) -> u64 {
        let heap = &self.heap;
        let inuse_pages = heap.mem_stats().heap_inuse >> PAGE_SHIFT;
        {
            // SAFETY: the heap's collector, world stopped; the gate is
            // dropped at the end of this block.
            let _gate = unsafe { ci::stop_background_sweep(heap) };
            // SAFETY: marking is complete: every object reachable from the
            // roots of every mutator at mark start is marked (the
            // snapshot, kept by the deletion barrier), and every object
            // allocated since is marked (black allocation; all caches were
            // flushed when the world stopped). No mutator runs, and the
            // gate shuts background sweeps out.
            unsafe { ci::begin_sweep(heap, pacer.sweep_pages_per_byte(inuse_pages)) };
        }
        if matches!(reason, GcReason::Forced | GcReason::Emergency) {
            let s = Instant::now();
            // SAFETY: the world is still stopped: no begin_sweep can run.
            unsafe { ci::sweep_all(heap) };
            return s.elapsed().as_nanos() as u64;
        }
        0
    }

    /// Termination step 6: records the pauses and the cycle in the heap's
    /// statistics record and builds the cycle's report.
    #[allow(clippy::too_many_arguments)]
    fn record_cycle(
        &self,
        st: &mut GcState,
        flight: &InFlight,
        mark: &MarkResult,
        weak: WeakCounts,
        (goal, trigger): (u64, u64),
        sweep_ns: u64,
        t_stop: Instant,
        ttsp: Duration,
    ) -> CycleReport {
        let heap = &self.heap;
        let end_pause_ns = if flight.concurrent {
            t_stop.elapsed().as_nanos() as u64
        } else {
            0
        };
        let start_pause_ns = if flight.concurrent {
            flight.start_pause_ns
        } else {
            t_stop.elapsed().as_nanos() as u64
        };
        let pause_ns = start_pause_ns + end_pause_ns;
        self.record_pause(if flight.concurrent {
            end_pause_ns
        } else {
            start_pause_ns
        });
        st.last_end = Some(Instant::now());
        let heap_after = heap.mem_stats().heap_alloc;
        let mut rec = heap.gc_record();
        rec.record_pause(pause_ns);
        if flight.reason == GcReason::Forced {
            rec.num_forced_gc += 1;
        }
        rec.next_gc = goal;
        rec.gc_cpu_fraction = rec.pause_total_ns as f64 / self.created.elapsed().as_nanos().max(1) as f64;
        rec.last_gc_unix_ns = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let report = CycleReport {
            n: rec.num_gc,
            reason: flight.reason,
            concurrent: flight.concurrent,
            at_secs: self.created.elapsed().as_secs_f64(),
            cpu_fraction: rec.gc_cpu_fraction,
            heap_before: flight.heap_before,
            heap_after,
            live: mark.live,
            live_objects: mark.live_objects,
            goal,
            trigger,
            pause_ns,
            start_pause_ns,
            end_pause_ns,
            ttsp_ns: flight.ttsp_ns.max(ttsp.as_nanos() as u64),
            mark_ns: mark.mark_ns,
            sweep_ns,
            mutators: self.world.mutators(),
            workers: self.config.workers,
            weak,
        };
        // Read and stored under the state lock (`st`): no update is lost.
        ci::set_gc_record(heap, rec);
        st.last = report;
        report
    }

    /// Checkmark: re-marks from the roots into a private bitmap and, if
    /// anything reachable is not marked, reports it on stderr and aborts.
    /// World stopped.
    fn checkmark(&self, me: Option<MutatorId>, own: &[usize]) {
        let heap = &self.heap;
        let mut c = Marker::new(heap, Marker::check_bits(heap));
        self.mark_roots(&mut c, me, own);
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
            let msg = format!(
                "marrow: checkmark failed: {} reachable object(s) were not marked, e.g.:\n{}",
                missed.len(),
                list.join("\n")
            );
            // The heap is corrupt and the world is stopped: nothing may run
            // on (a panic would leave every other thread, and this one's
            // next allocation, waiting forever for a restart). Like Go's
            // throw, report and abort.
            eprintln!("{msg}");
            std::process::abort();
        }
    }

    /// A background worker found marking quiescent and claimed termination:
    /// stop the world (it is no mutator: nothing of its own to report) and
    /// terminate.
    pub(crate) fn terminate_from_worker(&self) {
        let t = Instant::now();
        self.world.stop_blocking();
        let ttsp = self.world.wait_stopped(None);
        self.mark_termination(None, &[], t, ttsp);
    }
}

impl JobRunner for Core {
    fn board(&self) -> &WorkerControl {
        &self.workers
    }

    fn run_job(&self, job: Job) {
        match job {
            Job::HelpStw => {
                self.pool.enter();
                let mut m = self.marker(false);
                m.drain_shared(&self.pool, |_| {});
            }
            Job::Background => self.background_stint(),
        }
    }
}

impl Core {
    /// One background worker stint: mark until quiescent, banking the work
    /// as assist credit, then try to end the mark.
    fn background_stint(&self) {
        if self.phase() != PHASE_MARK {
            return;
        }
        let t = Instant::now();
        self.pool.enter();
        let mut m = self.marker(false);
        m.drain_shared(&self.pool, |words| self.assist.deposit(words));
        drop(m);
        self.mark_cpu_ns
            .fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if self.pool.is_quiescent() && self.claim_termination() {
            self.terminate_from_worker();
        }
    }
}
