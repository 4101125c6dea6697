//! The pacer: all of the collector's pacing arithmetic, as a pure state
//! machine. It reads no clock and no heap; the collector feeds it what a
//! cycle measured and applies what it answers, and the tests feed it
//! simulated cycles. These quantities are decided here:
//!
//! | quantity | used by | where applied |
//! |---|---|---|
//! | heap goal | triggers, assists, the memory limit | [`Pacer::goal`] |
//! | trigger | the runtime's poll bit (`Heap::set_gc_trigger`) | [`Pacer::trigger`] |
//! | sweep pace | proportional sweeping (`Heap::begin_sweep`) | [`Pacer::sweep_pages_per_byte`] |
//! | assist ratio | mutator assists (assist.rs) | [`assist_work_per_byte`] |
//! | CPU cap | the goal under a memory limit | [`Pacer::cpu_cap_runway`] |
//! | retained goal | the scavenger (`Heap::set_retained`) | [`Pacer::retained`] |
//! | background workers | concurrent marking (workers.rs) | [`background_workers`] |
//!
//! Goal, as in Go: `live × (1 + GOGC/100)`, at least `min_heap`; with
//! GOGC=off, no goal (unless a memory limit is set). A soft memory limit
//! lowers the goal to `limit − overhead`, where overhead is mapped memory
//! that is not heap objects (span table, bitmap, metadata, idle pages), so
//! the whole process stays under the limit. The goal never falls below
//! `live + min(live/16, 1 MiB)` (and [`MIN_GOAL_RUNWAY`] above live at least):
//! a limit set below the live heap makes collections frequent, not
//! continuous.
//!
//! CPU cap (against death spirals near the limit): the runway the mutator
//! needs to run at least as long as the last pause is its allocation rate
//! since the previous cycle times that pause ([`Pacer::cpu_cap_runway`]);
//! when the memory limit sets the goal, the goal never leaves less than
//! that, so the collector's share of the time stays near or below 50%
//! however low the limit is set: a limit too low slows the program rather
//! than stopping it. (Without a binding limit the cap does not apply: the
//! rate comes from one cycle and a preempted pause would inflate it, and
//! GOGC already sets the runway.)
//!
//! Trigger. In the stop-the-world collector the trigger equals the goal: a
//! cycle starts when heapLive reaches it. When marking runs alongside the
//! mutators (incremental and concurrent modes), the cycle must start early
//! enough that marking ends near the goal: the trigger is a fraction of the
//! runway, `live + r × (goal − live)`, and `r` is learnt with Go 1.5's
//! proportional controller. After each cycle, with `a` the fraction of the
//! runway used by the time marking ended, `u` the collector's CPU share
//! during marking ([`utilization`]) and `U` its target
//! ([`GOAL_UTILIZATION`]): `r += ½ × ((1 − r) − (u/U)(a − r))`, clamped to
//! [`MIN_TRIGGER`]..[`MAX_TRIGGER`]. A cycle that overran the goal, or used
//! more CPU than its share (heavy assists), moves the next trigger earlier;
//! one that ended far below the goal moves it later.
//!
//! Sweep pace (Go's sweep pacing): every page in use when a sweep cycle
//! begins must be swept by the time heapLive reaches the next trigger, so
//! the runtime sweeps `in-use pages / (trigger − live)` pages for every
//! byte allocated. The sweeper itself is runtime/src/sweep.rs.
//!
//! Assist ratio (Go's `assistWorkPerByte`): scan work still expected this
//! cycle over heap runway left before the goal, with both floored
//! ([`MIN_ASSIST_WORK`], [`MIN_ASSIST_RUNWAY`]) so that the last bytes
//! before the goal do not demand unbounded work per byte. The expected work
//! is what the last mark scanned ([`Pacer::expected_scan_work`]). How
//! mutators pay is assist.rs.
//!
//! Retained goal: after a cycle the heap keeps Ready about 10% over the
//! goal, and under a memory limit no more than the limit leaves beside the
//! non-heap mapped memory; the scavenger returns the rest to the OS.

/// Pacer state.
///
/// Invariant: `goal >= live` and `trigger <= goal` after every call.
#[derive(Clone, Debug, PartialEq)]
pub struct Pacer {
    gogc: Option<u32>,
    memlimit: Option<u64>,
    min_heap: u64,
    live: u64,
    overhead: u64,
    min_runway: u64,
    goal: u64,
    /// Words scanned by the last mark (0 before the first).
    scan_work: u64,
    /// Marking runs alongside the mutators: trigger before the goal.
    concurrent: bool,
    /// The trigger's fraction of the runway (see the module docs).
    trigger_ratio: f64,
}

/// The collector's target share of CPU while marking (Go's 25%).
pub const GOAL_UTILIZATION: f64 = 0.25;
/// Earliest trigger, as a fraction of the runway.
pub const MIN_TRIGGER: f64 = 0.5;
/// Latest trigger, as a fraction of the runway.
pub const MAX_TRIGGER: f64 = 0.95;
/// The first cycle's trigger ratio (Go's 7/8).
const INITIAL_TRIGGER: f64 = 0.875;

/// The least runway a goal leaves above the live heap.
pub const MIN_GOAL_RUNWAY: u64 = 256 << 10;

/// The least scan work (words) an assist does once it starts, to amortise
/// taking a work buffer (Go's gcOverAssistWork is 64 KiB of scan work);
/// also the least work the assist ratio assumes is left.
pub const MIN_ASSIST_WORK: u64 = 8 << 10;

/// The smallest runway the assist ratio assumes, so that the last bytes
/// before the goal do not demand unbounded work per byte.
pub const MIN_ASSIST_RUNWAY: u64 = 64 << 10;

impl Pacer {
    /// A pacer for a fresh heap.
    pub fn new(gogc: Option<u32>, memlimit: Option<u64>, min_heap: u64) -> Pacer {
        let mut p = Pacer {
            gogc,
            memlimit,
            min_heap,
            live: 0,
            overhead: 0,
            min_runway: 0,
            goal: 0,
            scan_work: 0,
            concurrent: false,
            trigger_ratio: INITIAL_TRIGGER,
        };
        p.recompute();
        p
    }

    fn recompute(&mut self) {
        let by_gogc = match self.gogc {
            Some(g) => self
                .live
                .saturating_add(self.live.saturating_mul(g as u64) / 100)
                .max(self.min_heap),
            None => u64::MAX,
        };
        let by_limit = match self.memlimit {
            Some(l) => l.saturating_sub(self.overhead),
            None => u64::MAX,
        };
        let mut runway = (self.live / 16).clamp(MIN_GOAL_RUNWAY, 1 << 20);
        if by_limit < by_gogc {
            // The CPU cap guards against the limit only: GOGC's own runway
            // is the user's choice of trade-off, as in Go.
            runway = runway.max(self.min_runway);
        }
        self.goal = by_gogc.min(by_limit).max(self.live + runway);
    }

    /// Records the end of a mark that found `live` bytes reachable, with
    /// `overhead` bytes of mapped memory that are not heap objects. Returns
    /// the new goal.
    pub fn end_cycle(&mut self, live: u64, overhead: u64) -> u64 {
        self.end_cycle_capped(live, overhead, 0)
    }

    /// [`Pacer::end_cycle`], leaving the mutator at least `min_runway`
    /// bytes before the next cycle (the CPU cap; see the module docs).
    pub fn end_cycle_capped(&mut self, live: u64, overhead: u64, min_runway: u64) -> u64 {
        self.min_runway = min_runway;
        self.live = live;
        self.overhead = overhead;
        self.recompute();
        self.goal
    }

    /// Changes GOGC (None: off) and recomputes the goal from the last mark.
    pub fn set_gogc(&mut self, gogc: Option<u32>) {
        self.gogc = gogc;
        self.recompute();
    }

    /// Changes the memory limit and recomputes the goal.
    pub fn set_memlimit(&mut self, limit: Option<u64>) {
        self.memlimit = limit;
        self.recompute();
    }

    /// The heap size at which the next cycle must be finished.
    pub fn goal(&self) -> u64 {
        self.goal
    }

    /// The heap size at which the next cycle starts: the goal while
    /// marking is stop-the-world, earlier when it runs alongside the
    /// mutators (`u64::MAX` if there is no goal).
    pub fn trigger(&self) -> u64 {
        if !self.concurrent || self.goal == u64::MAX {
            return self.goal;
        }
        let runway = self.goal - self.live;
        self.live + (runway as f64 * self.trigger_ratio) as u64
    }

    /// Marking runs alongside the mutators (`true`) or stops the world.
    pub fn set_concurrent(&mut self, on: bool) {
        self.concurrent = on;
    }

    /// The trigger's current fraction of the runway.
    pub fn trigger_ratio(&self) -> f64 {
        self.trigger_ratio
    }

    /// Learns from a cycle that marked alongside the mutators: heapLive was
    /// `heap_at_end` when marking ended, and the collector used
    /// `utilization` of the CPU meanwhile. Call before
    /// [`Pacer::end_cycle`] (it reads this cycle's live heap and goal).
    pub fn learn(&mut self, heap_at_end: u64, utilization: f64) {
        if self.goal == u64::MAX || self.goal <= self.live {
            return;
        }
        let runway = (self.goal - self.live) as f64;
        let used = heap_at_end.saturating_sub(self.live) as f64 / runway;
        let r = self.trigger_ratio;
        let error = (1.0 - r) - (utilization / GOAL_UTILIZATION) * (used - r);
        self.trigger_ratio = (r + 0.5 * error).clamp(MIN_TRIGGER, MAX_TRIGGER);
    }

    /// Live bytes found by the last mark.
    pub fn live(&self) -> u64 {
        self.live
    }

    /// The CPU cap's runway for the cycle now ending (see the module docs):
    /// heapLive was `live_before` when it started, `mutator_ns` after the
    /// previous cycle ended, and it has paused `paused_ns` so far. The
    /// mutators allocated `live_before − live` in `mutator_ns`; at that rate
    /// they get as long as the pause. Pass the result to
    /// [`Pacer::end_cycle_capped`].
    pub fn cpu_cap_runway(&self, live_before: u64, mutator_ns: u128, paused_ns: u64) -> u64 {
        let allocated = live_before.saturating_sub(self.live) as u128;
        (allocated * paused_ns as u128 / mutator_ns.max(1)) as u64
    }

    /// Records the scan work (words) of the mark that just ended.
    pub fn record_scan_work(&mut self, words: u64) {
        self.scan_work = words;
    }

    /// Scan work the next mark is expected to need: what the last one
    /// scanned, or before any, a word per 16 bytes of `heap_live`.
    pub fn expected_scan_work(&self, heap_live: u64) -> u64 {
        if self.scan_work > 0 {
            self.scan_work
        } else {
            heap_live / 16
        }
    }

    /// Sweep pace for the sweep cycle that starts with the current goal and
    /// trigger: pages to sweep per byte added to heapLive so that
    /// `inuse_pages` are swept before heapLive reaches the trigger (0:
    /// no proportional sweeping). heapLive is [`Pacer::live`] then.
    pub fn sweep_pages_per_byte(&self, inuse_pages: u64) -> f64 {
        let distance = self.trigger().saturating_sub(self.live);
        if distance == 0 || distance == u64::MAX {
            0.0
        } else {
            inuse_pages as f64 / distance as f64
        }
    }

    /// Heap bytes to keep Ready (in use plus free but not yet released)
    /// until the next cycle: 10% over the goal, and under a memory limit
    /// no more than the limit leaves beside the non-heap mapped memory.
    pub fn retained(&self) -> u64 {
        let by_goal = self.goal.saturating_add(self.goal / 10);
        match self.memlimit {
            Some(l) => by_goal.min(l.saturating_sub(self.overhead)),
            None => by_goal,
        }
    }
}

/// Background mark workers for a concurrent mark on `workers` threads: a
/// quarter of them (Go's dedicated workers for its [`GOAL_UTILIZATION`]),
/// at least one.
pub fn background_workers(workers: usize) -> usize {
    workers.div_ceil(4).max(1)
}

/// The assist ratio (Go's assistWorkPerByte): scan work owed per byte
/// allocated when heapLive is `heap_live`, `work_done` of `work_expected`
/// words are scanned, and the cycle's goal is `goal` (see the module docs).
pub fn assist_work_per_byte(work_expected: u64, work_done: u64, goal: u64, heap_live: u64) -> f64 {
    let remaining = work_expected.saturating_sub(work_done).max(MIN_ASSIST_WORK);
    let runway = goal.saturating_sub(heap_live).max(MIN_ASSIST_RUNWAY);
    remaining as f64 / runway as f64
}

/// The collector's share of the CPU while a mark ran alongside the
/// mutators: `mark_cpu_ns` spent marking (assists and background workers)
/// over `wall_ns` of marking on `cpus` processors.
pub fn utilization(mark_cpu_ns: u64, wall_ns: u128, cpus: usize) -> f64 {
    mark_cpu_ns as f64 / (wall_ns.max(1) as f64 * cpus as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    /// A program with `live` bytes reachable that allocates `step` bytes at a
    /// time; returns the heap peaks of the last cycles.
    fn simulate(p: &mut Pacer, live: impl Fn(u64) -> u64, step: u64, cycles: u64) -> Vec<(u64, u64, u64)> {
        let mut heap = 0;
        let mut out = vec![];
        for c in 0..cycles {
            while heap < p.trigger() {
                heap += step;
            }
            let peak = heap;
            let l = live(c);
            let goal_before = p.goal();
            p.end_cycle(l, 0);
            heap = l; // swept: what remains is the live heap
            out.push((peak, goal_before, l));
        }
        out
    }

    #[test]
    fn settles_at_the_goal_for_a_steady_live_heap() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        let runs = simulate(&mut p, |_| 50 * MIB, 64 << 10, 20);
        for &(peak, goal, _) in &runs[2..] {
            assert_eq!(goal, 100 * MIB);
            assert!(peak >= goal && peak < goal + (64 << 10), "peak {peak} goal {goal}");
        }
        let mut p = Pacer::new(Some(50), None, 4 * MIB);
        p.end_cycle(40 * MIB, 0);
        assert_eq!(p.goal(), 60 * MIB);
    }

    #[test]
    fn follows_a_growing_heap_and_respects_the_minimum() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        assert_eq!(p.goal(), 4 * MIB);
        let runs = simulate(&mut p, |c| (c + 1) * 10 * MIB, 4096, 10);
        for w in runs.windows(2) {
            // Each cycle's goal is twice the previous cycle's live heap.
            assert_eq!(w[1].1, (2 * w[0].2).max(4 * MIB));
        }
        p.end_cycle(MIB, 0);
        assert_eq!(p.goal(), 4 * MIB);
    }

    #[test]
    fn gogc_off_means_no_goal_unless_limited() {
        let mut p = Pacer::new(None, None, 4 * MIB);
        p.end_cycle(100 * MIB, 0);
        assert_eq!(p.goal(), u64::MAX);
        p.set_memlimit(Some(512 * MIB));
        p.end_cycle(100 * MIB, 12 * MIB);
        assert_eq!(p.goal(), 500 * MIB);
    }

    #[test]
    fn the_cpu_cap_keeps_collections_at_most_half_the_time() {
        // A limit far below the live heap: without the cap every cycle
        // would leave 1 MiB of runway. Simulate: the mutator allocates 1 GB/s,
        // a cycle pauses 50 ms (marking 200 MiB live).
        let rate = 1.0e9 / 1e9; // bytes per ns
        let pause_ns = 50e6;
        let mut p = Pacer::new(Some(100), Some(64 * MIB), 4 * MIB);
        p.end_cycle_capped(200 * MIB, 8 * MIB, (rate * pause_ns) as u64);
        let mut gc_ns = 0.0;
        let mut mut_ns = 0.0;
        for _ in 0..20 {
            let runway = (p.goal() - p.live()) as f64;
            mut_ns += runway / rate;
            gc_ns += pause_ns;
            p.end_cycle_capped(200 * MIB, 8 * MIB, (rate * pause_ns) as u64);
        }
        let share = gc_ns / (gc_ns + mut_ns);
        assert!(share <= 0.51, "collector share {share}");
        // Without the cap the share would be far higher.
        let runway = (p.live() / 16).clamp(MIN_GOAL_RUNWAY, 1 << 20) as f64;
        assert!(pause_ns / (pause_ns + runway / rate) > 0.9);
    }

    /// A concurrent program: a cycle starting at `trigger` marks for
    /// `mark_bytes` of allocation at a collector share of `util`.
    fn concurrent_cycles(p: &mut Pacer, live: u64, mark_bytes: u64, util: f64, n: usize) -> Vec<(u64, u64)> {
        let mut out = vec![];
        for _ in 0..n {
            let end = p.trigger() + mark_bytes;
            out.push((end, p.goal()));
            p.learn(end, util);
            p.end_cycle(live, 0);
        }
        out
    }

    #[test]
    fn concurrent_trigger_learns_to_end_marking_at_the_goal() {
        // 100 MiB live, GOGC=100: 100 MiB of runway. Marking takes 30 MiB
        // of allocation at exactly the target CPU share: the controller
        // must settle on triggering 30 MiB before the goal.
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        p.set_concurrent(true);
        p.end_cycle(100 * MIB, 0);
        assert!(p.trigger() < p.goal());
        let runs = concurrent_cycles(&mut p, 100 * MIB, 30 * MIB, GOAL_UTILIZATION, 30);
        let (end, goal) = runs[runs.len() - 1];
        assert!(end.abs_diff(goal) < MIB, "marking ends at {end}, goal {goal}");
        assert!((p.trigger_ratio() - 0.7).abs() < 0.01);
    }

    #[test]
    fn heavy_assists_move_the_trigger_earlier() {
        // The same cycle at twice the CPU share settles earlier: the
        // controller trades heap for less assist work.
        let mut a = Pacer::new(Some(100), None, 4 * MIB);
        let mut b = a.clone();
        for p in [&mut a, &mut b] {
            p.set_concurrent(true);
            p.end_cycle(100 * MIB, 0);
        }
        concurrent_cycles(&mut a, 100 * MIB, 30 * MIB, GOAL_UTILIZATION, 30);
        concurrent_cycles(&mut b, 100 * MIB, 30 * MIB, 2.0 * GOAL_UTILIZATION, 30);
        assert!(b.trigger() < a.trigger());
        // Whatever happens, the trigger stays within its bounds.
        concurrent_cycles(&mut b, 100 * MIB, 200 * MIB, 1.0, 30);
        assert!((b.trigger_ratio() - MIN_TRIGGER).abs() < 1e-9);
        concurrent_cycles(&mut b, 100 * MIB, 0, 0.0, 30);
        assert!((b.trigger_ratio() - MAX_TRIGGER).abs() < 1e-9);
    }

    #[test]
    fn memory_limit_lowers_the_goal_but_not_below_live() {
        let mut p = Pacer::new(Some(100), Some(150 * MIB), 4 * MIB);
        p.end_cycle(100 * MIB, 10 * MIB);
        assert_eq!(p.goal(), 140 * MIB);
        p.end_cycle(145 * MIB, 10 * MIB);
        assert_eq!(p.goal(), 146 * MIB, "floor: live + 1 MiB");
        assert!(p.trigger() <= p.goal() && p.goal() >= p.live());
    }

    #[test]
    fn sweep_pace_sweeps_every_page_by_the_trigger() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        p.end_cycle(100 * MIB, 0);
        // Stop-the-world: trigger = goal = 200 MiB, 100 MiB of runway.
        let per_byte = p.sweep_pages_per_byte(25_600);
        assert!((per_byte * (100 * MIB) as f64 - 25_600.0).abs() < 1e-6);
        // Concurrent: the runway to the trigger is shorter, the pace faster.
        p.set_concurrent(true);
        assert!(p.sweep_pages_per_byte(25_600) > per_byte);
        // No goal and nothing live: no proportional sweeping.
        let p = Pacer::new(None, None, 4 * MIB);
        assert_eq!(p.sweep_pages_per_byte(1000), 0.0);
    }

    #[test]
    fn retained_is_ten_percent_over_the_goal_and_under_the_limit() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        p.end_cycle(100 * MIB, 5 * MIB);
        assert_eq!(p.retained(), 220 * MIB);
        p.set_memlimit(Some(210 * MIB));
        // The limit leaves the goal (200 MiB) but caps what is kept.
        assert_eq!(p.goal(), 200 * MIB);
        assert_eq!(p.retained(), 205 * MIB);
    }

    #[test]
    fn cpu_cap_runway_is_the_allocation_rate_times_the_pause() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        p.end_cycle(10 * MIB, 0);
        // 100 MiB allocated in one second; a 10 ms pause buys 1 MiB.
        assert_eq!(p.cpu_cap_runway(110 * MIB, 1_000_000_000, 10_000_000), MIB);
        assert_eq!(p.cpu_cap_runway(5 * MIB, 1_000_000_000, 10_000_000), 0);
        assert_eq!(p.cpu_cap_runway(110 * MIB, 0, 1), 100 * MIB, "no division by zero");
    }

    #[test]
    fn expected_scan_work_is_the_last_marks() {
        let mut p = Pacer::new(Some(100), None, 4 * MIB);
        assert_eq!(p.expected_scan_work(16 * MIB), MIB);
        p.record_scan_work(12345);
        assert_eq!(p.expected_scan_work(16 * MIB), 12345);
    }

    #[test]
    fn assist_ratio_is_remaining_work_over_runway_with_floors() {
        let r = assist_work_per_byte(1 << 20, 0, 100 << 20, 36 << 20);
        assert!((r - (1 << 20) as f64 / (64 << 20) as f64).abs() < 1e-12);
        // Work done beyond the expectation: the floor of remaining work.
        let r = assist_work_per_byte(1 << 20, 2 << 20, 100 << 20, 36 << 20);
        assert!((r - MIN_ASSIST_WORK as f64 / (64 << 20) as f64).abs() < 1e-12);
        // Past the goal: the floor of runway, a finite, steep ratio.
        let r = assist_work_per_byte(1 << 20, 0, 100 << 20, 200 << 20);
        assert!((r - (1 << 20) as f64 / MIN_ASSIST_RUNWAY as f64).abs() < 1e-12);
    }

    #[test]
    fn a_quarter_of_the_workers_mark_in_the_background() {
        assert_eq!(background_workers(1), 1);
        assert_eq!(background_workers(4), 1);
        assert_eq!(background_workers(5), 2);
        assert_eq!(background_workers(16), 4);
    }

    #[test]
    fn utilization_is_marking_time_over_wall_time_of_all_cpus() {
        assert!((utilization(500, 1000, 2) - 0.25).abs() < 1e-12);
        assert!(utilization(10, 0, 1).is_finite());
    }
}
