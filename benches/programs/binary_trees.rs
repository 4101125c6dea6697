//! binary-trees (the Benchmarks Game program) on the Marrow heap: build
//! complete binary trees bottom-up, walk them, drop them, with one long-lived
//! tree kept throughout. Output is exactly the Benchmarks Game's.
//!
//! Run: `cargo run --release -p marrow-suite --bin binary-trees -- 21`
//! (`--stats` prints MemStats, the GC share, the longest pause and the GC
//! mode on stderr; `MARROW_GCMODE=stw|incremental|concurrent` picks the mode).
//!
//! `--threads N` (default 1) splits the iterations of each depth across N
//! threads, each with its own mutator and shadow stack, as the parallel
//! Go and C versions of the Benchmarks Game do; the output is the same for
//! any N. The stretch and long-lived trees are built on the main thread,
//! which keeps the long-lived tree rooted and waits for the workers in a
//! safe region (a blocked mutator would otherwise hold up every stop of
//! the world).

use marrow_gc::runtime::Type;
use marrow_gc::{Gc, GcConfig, Mutator};
use std::io::Write;
use std::ptr::NonNull;
use std::sync::Arc;

#[path = "binary_trees_common.rs"]
mod common;

/// A mutator and the shadow stack that holds its roots.
struct Ctx {
    m: Mutator,
    stack: Vec<usize>,
    node: Type,
}

/// The node type: two pointer words.
fn node_type() -> Type {
    Type::new("node", 16, 8, &[0, 8]).expect("valid type")
}

impl Ctx {
    fn new(gc: &Arc<Gc>) -> Ctx {
        Ctx {
            m: Mutator::new(gc).unwrap_or_else(|e| common::die(&e)),
            stack: Vec::with_capacity(64),
            node: node_type(),
        }
    }

    /// Builds and checks `iters` trees of depth `d`; returns the sum of
    /// the checks.
    fn trees(&mut self, d: u32, iters: u64) -> u64 {
        let mut sum = 0;
        for _ in 0..iters {
            let t = self.bottom_up(d);
            sum += check(t);
        }
        sum
    }

    fn new_node(&mut self, left: usize, right: usize) -> usize {
        let n = self
            .m
            .alloc(&self.node, &self.stack)
            .unwrap_or_else(|e| common::die(&e));
        if left != 0 {
            // SAFETY: `n` is a fresh node of two words.
            unsafe {
                self.m.write_ptr(n, 0, left);
                self.m.write_ptr(n, 1, right);
            }
        }
        n.as_ptr() as usize
    }

    fn bottom_up(&mut self, depth: u32) -> usize {
        if depth == 0 {
            return self.new_node(0, 0);
        }
        let l = self.bottom_up(depth - 1);
        self.stack.push(l);
        let r = self.bottom_up(depth - 1);
        self.stack.push(r);
        let n = self.new_node(l, r);
        self.stack.truncate(self.stack.len() - 2);
        n
    }
}

fn check(n: usize) -> u64 {
    // SAFETY: `n` is a live node (reachable from a root or from the caller's
    // node), two words.
    let (l, r) = unsafe {
        let p = NonNull::new_unchecked(n as *mut usize);
        (p.as_ptr().read(), p.as_ptr().add(1).read())
    };
    if l == 0 {
        1
    } else {
        1 + check(l) + check(r)
    }
}

/// Worker `k` of `n`: its share of each depth's iterations, on its own
/// mutator. Returns its partial check sum per depth.
fn worker(gc: &Arc<Gc>, work: &[(u32, u64)], k: u64, n: u64) -> Vec<u64> {
    let mut cx = Ctx::new(gc);
    work.iter()
        .map(|&(d, iters)| cx.trees(d, common::share(iters, k, n)))
        .collect()
}

fn main() {
    let args = common::Args::parse("binary-trees");
    let config = GcConfig::from_env().unwrap_or_else(|e| common::die(&e));
    let gc = Gc::new(config).unwrap_or_else(|e| common::die(&e));
    let start = std::time::Instant::now();
    let mut cx = Ctx::new(&gc);
    let (min_depth, max_depth) = common::depth_range(args.depth);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());

    let stretch = max_depth + 1;
    let t = cx.bottom_up(stretch);
    writeln!(out, "stretch tree of depth {stretch}\t check: {}", check(t)).unwrap();

    let long_lived = cx.bottom_up(max_depth);
    cx.stack.push(long_lived);

    let work = common::depths(min_depth, max_depth);
    let sums: Vec<u64> = if args.threads == 1 {
        work.iter().map(|&(d, iters)| cx.trees(d, iters)).collect()
    } else {
        // The workers allocate while this thread waits: it must not hold
        // up their collections, so it waits in a safe region, with the
        // long-lived tree among the roots it reports.
        cx.m.in_safe_region(&cx.stack, || {
            common::split_across_threads(args.threads, &work, |work, k, n| worker(&gc, work, k, n))
        })
    };
    for (&(d, iters), sum) in work.iter().zip(sums) {
        writeln!(out, "{iters}\t trees of depth {d}\t check: {sum}").unwrap();
    }
    writeln!(
        out,
        "long lived tree of depth {max_depth}\t check: {}",
        check(long_lived)
    )
    .unwrap();
    out.flush().unwrap();
    if args.stats {
        common::print_stats("binary-trees", &gc, &mut cx.m, start, args.threads);
    }
}
