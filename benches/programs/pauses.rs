//! pauses: stop-the-world pauses and allocation latency with a large live
//! heap that keeps changing. Builds a live heap of `--live-mib` MiB (default
//! 1024) of small objects, then for `--secs` seconds (default 20; or
//! `--ops N` replacements) keeps replacing parts of it, so garbage flows
//! while the live size stays constant, and prints one summary line.
//!
//! The live heap, per mutator thread (`--threads N`, default 1, each
//! mutating its own private part of `live / N`): a table (a pointer array)
//! whose slots hold
//! - 13 of 16 slots: a complete binary tree of depth 10 of 48-byte nodes
//!   (2047 nodes, two pointer words and four data words each, 96 KiB);
//! - 2 of 16: an 8 KiB pointer array of 1024 words, each word a list of two
//!   32-byte cells (72 KiB);
//! - 1 of 16: a 64 KiB no-scan block (a large object).
//!
//! One operation replaces a random slot with a freshly built value of the
//! same kind (the old one becomes garbage) and swaps the children of the
//! root of another random tree (a pointer store through the write barrier).
//!
//! Mode: `MARROW_GCMODE` if set, concurrent otherwise (the other
//! `MARROW_*` settings apply too).
//!
//! Measured, over the whole run (build included):
//! - every stop-the-world pause, from `Gc::recent_pauses` (a ring of 4096,
//!   polled every 10 ms by the main thread, which is no mutator): count,
//!   max, p99, p50;
//! - time to safepoint, per cycle, from `Gc::last_cycle` (polled likewise;
//!   cycles that ended between two polls are counted as missed);
//! - the mutators' own allocation latency: `Instant` around `Mutator::alloc`
//!   for every 64th allocation (it includes parking for a pause, assists,
//!   sweeping and refills): max and p99.9 of the samples; and the time of
//!   every operation (about 2000 allocations, so no stall escapes it):
//!   max, p99, p50.
//!
//! Run: `cargo run --release -p marrow-suite --bin pauses -- --live-mib 1024`
//! (`--secs S`, `--ops N`, `--threads N`, `--quiet` for the line alone,
//! `--slow-ms MS` to print every operation that took MS or more, with its
//! time since start, to compare with `MARROW_GCTRACE=1`;
//! `MARROW_GCMODE=stw` for contrast).

use marrow_gc::runtime::{AllocError, Type};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[path = "../../tests/support/rng.rs"]
mod rng;
use rng::Rng;

/// Depth of the trees in the table (2047 nodes).
const TREE_DEPTH: u32 = 10;
/// Node: `{left, right, 4 data words}`.
const NODE_SIZE: usize = 48;
/// Words of a pointer-array slot, and cells per list.
const ARRAY_LEN: usize = 1024;
const LIST_LEN: usize = 2;
/// Cell: `{next, 3 data words}`.
const CELL_SIZE: usize = 32;
/// A no-scan block slot.
const BLOB_SIZE: usize = 64 << 10;
/// Every SAMPLE_EVERY-th allocation is timed (a power of two).
const SAMPLE_EVERY: u64 = 64;
/// Allocation latency histogram: buckets of 1 µs up to 100 ms.
const HIST_BUCKETS: usize = 100_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tree,
    Array,
    Blob,
}

fn kind(slot: usize) -> Kind {
    match slot % 16 {
        15 => Kind::Blob,
        3 | 11 => Kind::Array,
        _ => Kind::Tree,
    }
}

fn kind_bytes(k: Kind) -> usize {
    match k {
        Kind::Tree => ((1 << (TREE_DEPTH + 1)) - 1) * NODE_SIZE,
        Kind::Array => ARRAY_LEN * 8 + ARRAY_LEN * LIST_LEN * CELL_SIZE,
        Kind::Blob => BLOB_SIZE,
    }
}

/// Slots needed for `bytes` of live data (the table itself aside).
fn slots_for(bytes: usize) -> usize {
    let mut n = 0;
    let mut total = 0;
    while total < bytes {
        total += kind_bytes(kind(n));
        n += 1;
    }
    n.max(16)
}

/// Sampled allocation latencies of one mutator.
struct Latency {
    count: u64,
    samples: u64,
    max_ns: u64,
    /// Samples per microsecond bucket (the last bucket: 100 ms and over).
    hist: Vec<u32>,
}

impl Latency {
    fn new() -> Latency {
        Latency {
            count: 0,
            samples: 0,
            max_ns: 0,
            hist: vec![0; HIST_BUCKETS],
        }
    }

    fn record(&mut self, ns: u64) {
        self.samples += 1;
        self.max_ns = self.max_ns.max(ns);
        self.hist[((ns / 1000) as usize).min(HIST_BUCKETS - 1)] += 1;
    }

    fn merge(&mut self, o: &Latency) {
        self.count += o.count;
        self.samples += o.samples;
        self.max_ns = self.max_ns.max(o.max_ns);
        for (a, b) in self.hist.iter_mut().zip(&o.hist) {
            *a += b;
        }
    }

    /// The `q` quantile of the samples, in ns (upper edge of its bucket).
    fn quantile_ns(&self, q: f64) -> u64 {
        let want = ((self.samples as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.hist.iter().enumerate() {
            seen += c as u64;
            if seen >= want {
                return ((i as u64 + 1) * 1000).min(self.max_ns);
            }
        }
        self.max_ns
    }
}

/// Runs one allocation, timing every SAMPLE_EVERY-th; exits on failure.
#[inline(always)]
fn timed(lat: &mut Latency, f: impl FnOnce() -> Result<NonNull<u8>, AllocError>) -> NonNull<u8> {
    lat.count += 1;
    let r = if lat.count & (SAMPLE_EVERY - 1) == 0 {
        let t = Instant::now();
        let r = f();
        lat.record(t.elapsed().as_nanos() as u64);
        r
    } else {
        f()
    };
    r.unwrap_or_else(|e| {
        eprintln!("pauses: allocation failed: {e}");
        std::process::exit(1)
    })
}

/// One mutator thread and its private part of the heap: the table is
/// `stack[0]`, the rest of the stack holds what a build has in hand.
struct Ctx {
    m: Mutator,
    stack: Vec<usize>,
    node: Type,
    cell: Type,
    word: Type,
    lat: Latency,
    rng: Rng,
    table: usize,
    slots: usize,
}

impl Ctx {
    fn alloc_node(&mut self) -> NonNull<u8> {
        let Ctx {
            m, stack, node, lat, ..
        } = self;
        timed(lat, || m.alloc(node, stack))
    }

    fn alloc_cell(&mut self) -> NonNull<u8> {
        let Ctx {
            m, stack, cell, lat, ..
        } = self;
        timed(lat, || m.alloc(cell, stack))
    }

    fn alloc_array(&mut self, n: usize) -> NonNull<u8> {
        let Ctx {
            m, stack, word, lat, ..
        } = self;
        timed(lat, || m.alloc_array(word, n, stack))
    }

    fn store(&mut self, obj: usize, slot: usize, val: usize) {
        // SAFETY: every `obj` passed here is a live object of this heap
        // (rooted on the shadow stack or reachable from the table) with
        // more than `slot` words.
        unsafe { self.m.write_ptr(NonNull::new_unchecked(obj as *mut u8), slot, val) };
    }

    /// A complete tree of `depth`, built bottom-up.
    fn tree(&mut self, depth: u32) -> usize {
        if depth == 0 {
            let n = self.alloc_node().as_ptr() as usize;
            // SAFETY: a fresh node of six words; data words are not pointers.
            unsafe { (n as *mut usize).add(2).write(depth as usize) };
            return n;
        }
        let l = self.tree(depth - 1);
        self.stack.push(l);
        let r = self.tree(depth - 1);
        self.stack.push(r);
        let n = self.alloc_node().as_ptr() as usize;
        self.store(n, 0, l);
        self.store(n, 1, r);
        // SAFETY: as above.
        unsafe { (n as *mut usize).add(2).write(depth as usize) };
        self.stack.truncate(self.stack.len() - 2);
        n
    }

    /// A pointer array whose words are lists of LIST_LEN cells.
    fn array(&mut self) -> usize {
        let a = self.alloc_array(ARRAY_LEN).as_ptr() as usize;
        self.stack.push(a);
        for i in 0..ARRAY_LEN {
            let mut head = 0;
            for _ in 0..LIST_LEN {
                self.stack.push(head);
                let c = self.alloc_cell().as_ptr() as usize;
                self.stack.pop();
                self.store(c, 0, head);
                // SAFETY: a fresh cell of four words.
                unsafe { (c as *mut usize).add(1).write(i) };
                head = c;
            }
            self.store(a, i, head);
        }
        self.stack.pop();
        a
    }

    fn blob(&mut self) -> usize {
        let Ctx { m, stack, lat, .. } = self;
        let b = timed(lat, || m.alloc_bytes(BLOB_SIZE, stack));
        // SAFETY: a fresh block of BLOB_SIZE bytes.
        unsafe { b.as_ptr().write_bytes(0x5a, 64) };
        b.as_ptr() as usize
    }

    fn build(&mut self, k: Kind) -> usize {
        match k {
            Kind::Tree => self.tree(TREE_DEPTH),
            Kind::Array => self.array(),
            Kind::Blob => self.blob(),
        }
    }

    fn slot(&self, i: usize) -> usize {
        // SAFETY: the table is rooted (stack[0]) and has `slots` words;
        // words are read atomically as markers may read them.
        unsafe { (*(self.table as *const std::sync::atomic::AtomicUsize).add(i)).load(Relaxed) }
    }

    /// Fills the table.
    fn fill(&mut self) {
        for i in 0..self.slots {
            let v = self.build(kind(i));
            self.store(self.table, i, v);
        }
    }

    /// One operation: replace a slot, swap the children of a tree's root.
    fn op(&mut self) {
        let i = self.rng.index(self.slots);
        let v = self.build(kind(i));
        self.store(self.table, i, v);
        let j = self.rng.index(self.slots);
        if kind(j) == Kind::Tree {
            let root = self.slot(j);
            // SAFETY: `root` is a live node reachable from the table.
            let (l, r) = unsafe { ((root as *const usize).read(), (root as *const usize).add(1).read()) };
            self.store(root, 0, r);
            self.store(root, 1, l);
        }
    }
}

fn check_tree(n: usize, depth: u32) -> u64 {
    // SAFETY: `n` is a live node reachable from the table.
    let (l, r, d) = unsafe {
        let p = n as *const usize;
        (p.read(), p.add(1).read(), p.add(2).read())
    };
    assert_eq!(d, depth as usize, "pauses: tree node corrupted");
    if depth == 0 {
        assert_eq!(l | r, 0, "pauses: leaf corrupted");
        1
    } else {
        1 + check_tree(l, depth - 1) + check_tree(r, depth - 1)
    }
}

/// Stop-the-world pauses and per-cycle time to safepoint, gathered by a
/// thread that is no mutator.
#[derive(Default)]
struct Monitor {
    pauses: Vec<u64>,
    prev: Vec<u64>,
    ring_lost: bool,
    last_n: u32,
    cycles_seen: u32,
    ttsp_max_ns: u64,
    ttsp_missed: u32,
}

impl Monitor {
    fn poll(&mut self, gc: &Gc) {
        let cur = gc.recent_pauses();
        // The ring only grows until it holds 4096; then the oldest fall
        // out. Find where the new snapshot overlaps the last one.
        let fresh = if cur.len() > self.prev.len() && cur[..self.prev.len()] == self.prev[..] {
            &cur[self.prev.len()..]
        } else if cur == self.prev {
            &cur[cur.len()..]
        } else {
            let mut k = self.prev.len().min(cur.len());
            while k > 0 && self.prev[self.prev.len() - k..] != cur[..k] {
                k -= 1;
            }
            if k == 0 && !self.prev.is_empty() {
                self.ring_lost = true;
            }
            &cur[k..]
        };
        self.pauses.extend_from_slice(fresh);
        self.prev = cur;
        let c = gc.last_cycle();
        if c.n != self.last_n {
            if c.n > self.last_n + 1 {
                self.ttsp_missed += c.n - self.last_n - 1;
            }
            self.last_n = c.n;
            self.cycles_seen += 1;
            self.ttsp_max_ns = self.ttsp_max_ns.max(c.ttsp_ns);
        }
    }
}

fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn usage() -> ! {
    eprintln!("usage: pauses [--live-mib MIB] [--secs S | --ops N] [--threads N] [--quiet] [--slow-ms MS]");
    std::process::exit(2)
}

fn main() {
    let mut live_mib: usize = 1024;
    let mut secs: f64 = 20.0;
    let mut ops: Option<u64> = None;
    let mut threads: usize = 1;
    let mut quiet = false;
    let mut slow_ms: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next()).unwrap_or_else(|| usage());
        match name.as_str() {
            "--live-mib" => live_mib = value().parse().ok().filter(|&v| v >= 1).unwrap_or_else(|| usage()),
            "--secs" => {
                secs = value()
                    .parse()
                    .ok()
                    .filter(|&v: &f64| v > 0.0)
                    .unwrap_or_else(|| usage())
            }
            "--ops" => ops = Some(value().parse().unwrap_or_else(|_| usage())),
            "--threads" => {
                threads = value()
                    .parse()
                    .ok()
                    .filter(|&v| (1..=64).contains(&v))
                    .unwrap_or_else(|| usage())
            }
            "--quiet" => quiet = true,
            "--slow-ms" => slow_ms = Some(value().parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
    }
    let mut config = GcConfig::from_env().unwrap_or_else(|e| {
        eprintln!("pauses: {e}");
        std::process::exit(2)
    });
    if std::env::var_os("MARROW_GCMODE").is_none() {
        config.mode = GcMode::Concurrent;
    }
    let mode = match config.mode {
        GcMode::StopTheWorld => "stw",
        GcMode::Incremental => "incremental",
        GcMode::Concurrent => "concurrent",
    };
    let gc = Gc::new(config).unwrap_or_else(|e| {
        eprintln!("pauses: {e}");
        std::process::exit(1)
    });
    let start = Instant::now();
    let part = (live_mib << 20) / threads;
    let slots = slots_for(part);
    let done = AtomicBool::new(false);
    let built = AtomicU64::new(0);
    let total_ops = AtomicU64::new(0);
    let mut build_secs = vec![0.0f64; threads];
    let mut mon = Monitor::default();
    let mut lat = Latency::new();
    let mut op_lat = Latency::new();
    let mut mutate_start = None;

    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let (gc, done, built, total_ops) = (&gc, &done, &built, &total_ops);
                s.spawn(move || {
                    let mut cx = Ctx {
                        m: Mutator::new(gc).unwrap_or_else(|e| {
                            eprintln!("pauses: {e}");
                            std::process::exit(1)
                        }),
                        stack: Vec::with_capacity(64),
                        node: Type::new("node", NODE_SIZE, 8, &[0, 8]).expect("valid type"),
                        cell: Type::new("cell", CELL_SIZE, 8, &[0]).expect("valid type"),
                        word: Type::new("word", 8, 8, &[0]).expect("valid type"),
                        lat: Latency::new(),
                        rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (k as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1)),
                        table: 0,
                        slots,
                    };
                    cx.table = cx.alloc_array(slots).as_ptr() as usize;
                    cx.stack.push(cx.table);
                    let t0 = Instant::now();
                    cx.fill();
                    let build = t0.elapsed().as_secs_f64();
                    built.fetch_add(1, Relaxed);
                    // Mutate once every part is built, so the phases do
                    // not overlap.
                    cx.m.in_safe_region(&cx.stack, || {
                        while built.load(Relaxed) < threads as u64 {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                    let my_ops = ops.map(|n| n / threads as u64 + u64::from((k as u64) < n % threads as u64));
                    let mut n = 0u64;
                    let mut op_lat = Latency::new();
                    loop {
                        match my_ops {
                            Some(max) if n >= max => break,
                            None if done.load(Relaxed) => break,
                            _ => {}
                        }
                        let t = Instant::now();
                        cx.op();
                        let ns = t.elapsed().as_nanos() as u64;
                        op_lat.record(ns);
                        if slow_ms.is_some_and(|l| ns >= l * 1_000_000) {
                            eprintln!(
                                "pauses: thread {k}: op at {:.3} s took {:.3} ms",
                                t.duration_since(start).as_secs_f64(),
                                ns as f64 / 1e6
                            );
                        }
                        n += 1;
                    }
                    total_ops.fetch_add(n, Relaxed);
                    // Check that the heap is intact: every tree complete.
                    let mut nodes = 0;
                    for i in (0..cx.slots).filter(|&i| kind(i) == Kind::Tree) {
                        nodes += check_tree(cx.slot(i), TREE_DEPTH);
                        // A long loop without allocation must poll, or a
                        // stop of the world would wait for it.
                        cx.m.safepoint(&cx.stack);
                    }
                    assert_eq!(
                        nodes,
                        (cx.slots as u64 - (0..cx.slots).filter(|&i| kind(i) != Kind::Tree).count() as u64)
                            * ((1 << (TREE_DEPTH + 1)) - 1)
                    );
                    (build, cx.lat, op_lat)
                })
            })
            .collect();
        // This thread is no mutator: it polls the collector's figures
        // and ends the mutation phase.
        let mut deadline = None;
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(10));
            mon.poll(&gc);
            if built.load(Relaxed) == threads as u64 && deadline.is_none() {
                mutate_start = Some(Instant::now());
                deadline = Some(Instant::now() + Duration::from_secs_f64(secs));
            }
            if ops.is_none() && deadline.is_some_and(|d| Instant::now() >= d) {
                done.store(true, Relaxed);
            }
        }
        for (k, h) in handles.into_iter().enumerate() {
            let (b, l, o) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            build_secs[k] = b;
            lat.merge(&l);
            op_lat.merge(&o);
        }
    });
    mon.poll(&gc);
    let total = start.elapsed().as_secs_f64();
    let mutate = mutate_start.map_or(0.0, |t| t.elapsed().as_secs_f64());
    let build = build_secs.iter().copied().fold(0.0, f64::max);
    let mut p = mon.pauses.clone();
    p.sort_unstable();
    let ms = |ns: u64| ns as f64 / 1e6;
    let cycles = gc.last_cycle().n;
    let rss_mib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .map_or(0, |kb| kb >> 10);
    if !quiet {
        for (k, &b) in build_secs.iter().enumerate() {
            eprintln!("pauses: thread {k}: {slots} slots built in {b:.2} s");
        }
        if mon.ring_lost {
            eprintln!("pauses: warning: the pause ring overflowed between two polls; some pauses are missing");
        }
    }
    println!(
        "pauses: live {live_mib} MiB, mode {mode}, {threads} thread(s), build {build:.2} s, mutate {mutate:.2} s ({} ops), total {total:.2} s, {cycles} cycles, {} pauses: max {:.3} ms, p99 {:.3} ms, p50 {:.3} ms, max ttsp {:.3} ms{}, alloc latency (1/{SAMPLE_EVERY} sampled, {} samples): max {:.3} ms, p99.9 {:.3} ms, op latency: max {:.3} ms, p99 {:.3} ms, p50 {:.3} ms, peak RSS {rss_mib} MiB",
        total_ops.load(Relaxed),
        p.len(),
        ms(p.last().copied().unwrap_or(0)),
        ms(quantile(&p, 0.99)),
        ms(quantile(&p, 0.50)),
        ms(mon.ttsp_max_ns),
        if mon.ttsp_missed > 0 {
            format!(" ({} of {} cycles seen)", mon.cycles_seen, mon.cycles_seen + mon.ttsp_missed)
        } else {
            String::new()
        },
        lat.samples,
        ms(lat.max_ns),
        ms(lat.quantile_ns(0.999)),
        ms(op_lat.max_ns),
        ms(op_lat.quantile_ns(0.99)),
        ms(op_lat.quantile_ns(0.50)),
    );
}
