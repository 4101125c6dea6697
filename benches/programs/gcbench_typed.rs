//! GCBench on the typed embedding API (marrow_gc::typed), with no
//! `unsafe`: the same program and output as `gcbench` (the raw API with a
//! shadow stack), to measure what the typed layer costs.
//!
//! Each tree is built inside one scope; top-down construction stores the
//! children into a parent that already exists, through `GcCell::set`
//! (the write barrier). The long-lived tree and array are kept across
//! scopes by `Root`s.
//!
//! Run: `cargo run --release -p marrow-suite --bin gcbench-typed`.

#![forbid(unsafe_code)]

use marrow_gc::typed::{Array, GcCell, Mutation, Obj, Root, Trace};
use marrow_gc::{Gc, GcConfig, Mutator};
use std::cell::Cell;
use std::io::Write;
use std::time::Instant;

#[path = "gcbench_common.rs"]
mod common;
use common::*;

/// A node: `{left, right, i, j}`, 24 bytes, two pointer words.
#[derive(Trace)]
struct Node<'gc> {
    left: GcCell<Option<Obj<'gc, Node<'gc>>>>,
    right: GcCell<Option<Obj<'gc, Node<'gc>>>>,
    i: i32,
    j: i32,
}

fn die(e: &dyn std::fmt::Display) -> ! {
    eprintln!("gcbench-typed: {e}");
    std::process::exit(1)
}

/// Node construction, counting the nodes built.
struct Builder<'a, 'gc> {
    mc: &'a Mutation<'gc>,
    built: &'a Cell<u64>,
}

impl<'gc> Builder<'_, 'gc> {
    fn node(&self, l: Option<Obj<'gc, Node<'gc>>>, r: Option<Obj<'gc, Node<'gc>>>) -> Obj<'gc, Node<'gc>> {
        self.built.set(self.built.get() + 1);
        let n = Node {
            left: GcCell::new(l),
            right: GcCell::new(r),
            i: 0,
            j: 0,
        };
        self.mc.alloc(n).unwrap_or_else(|e| die(&e))
    }

    /// Top-down: the parent exists before its children.
    fn populate(&self, depth: u32, n: Obj<'gc, Node<'gc>>) {
        if depth == 0 {
            return;
        }
        let l = self.node(None, None);
        n.left.set(self.mc, Some(l));
        let r = self.node(None, None);
        n.right.set(self.mc, Some(r));
        self.populate(depth - 1, l);
        self.populate(depth - 1, r);
    }

    /// Bottom-up: children before the parent.
    fn make_tree(&self, depth: u32) -> Obj<'gc, Node<'gc>> {
        if depth == 0 {
            return self.node(None, None);
        }
        let l = self.make_tree(depth - 1);
        let r = self.make_tree(depth - 1);
        self.node(Some(l), Some(r))
    }
}

fn count(n: Option<Obj<'_, Node<'_>>>) -> u64 {
    n.map_or(0, |n| 1 + count(n.left.get()) + count(n.right.get()))
}

fn main() {
    let stats = std::env::args().any(|a| a == "--stats");
    let config = GcConfig::from_env().unwrap_or_else(|e| die(&e));
    let gc = Gc::new(config).unwrap_or_else(|e| die(&e));
    let mut m = Mutator::new(&gc).unwrap_or_else(|e| die(&e));
    let built = Cell::new(0u64);
    let start = Instant::now();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    writeln!(out, "Garbage Collector Test").unwrap();
    writeln!(
        out,
        " Stretching memory with a binary tree of depth {STRETCH_TREE_DEPTH}"
    )
    .unwrap();
    let before = built.get();
    m.mutate(|mc| {
        Builder { mc, built: &built }.make_tree(STRETCH_TREE_DEPTH);
    });
    writeln!(out, "\tStretch tree built {} nodes", built.get() - before).unwrap();

    writeln!(
        out,
        " Creating a long-lived binary tree of depth {LONG_LIVED_TREE_DEPTH}"
    )
    .unwrap();
    let before = built.get();
    let long_lived: Root<Node<'static>> = m.mutate(|mc| {
        let b = Builder { mc, built: &built };
        let n = b.node(None, None);
        b.populate(LONG_LIVED_TREE_DEPTH, n);
        mc.root(n)
    });
    writeln!(out, "\tLong-lived tree built {} nodes", built.get() - before).unwrap();

    writeln!(out, " Creating a long-lived array of {ARRAY_SIZE} doubles").unwrap();
    let array: Root<Array<f64>> = m.mutate(|mc| {
        let a = mc.alloc_array(ARRAY_SIZE, 0.0).unwrap_or_else(|e| die(&e));
        for i in 1..ARRAY_SIZE / 2 {
            // In bounds: i < ARRAY_SIZE.
            let _ = a.set(mc, i, 1.0 / i as f64);
        }
        mc.root(a)
    });

    let mut d = MIN_TREE_DEPTH;
    while d <= MAX_TREE_DEPTH {
        let iters = num_iters(d);
        writeln!(out, "Creating {iters} trees of depth {d}").unwrap();
        let t = Instant::now();
        let before = built.get();
        for _ in 0..iters {
            m.mutate(|mc| {
                let b = Builder { mc, built: &built };
                let temp = b.node(None, None);
                b.populate(d, temp);
            });
        }
        writeln!(out, "\tTop down construction built {} nodes", built.get() - before).unwrap();
        eprintln!(
            "\tTop down construction of depth {d} took {} msec",
            t.elapsed().as_millis()
        );
        let t = Instant::now();
        let before = built.get();
        for _ in 0..iters {
            m.mutate(|mc| {
                Builder { mc, built: &built }.make_tree(d);
            });
        }
        writeln!(out, "\tBottom up construction built {} nodes", built.get() - before).unwrap();
        eprintln!(
            "\tBottom up construction of depth {d} took {} msec",
            t.elapsed().as_millis()
        );
        d += 2;
    }
    let (nodes, intact) = m.mutate(|mc| {
        (
            count(Some(long_lived.get(mc))),
            array.get(mc).get(1000) == Some(1.0 / 1000.0),
        )
    });
    writeln!(out, "Long-lived tree has {nodes} nodes").unwrap();
    if !intact {
        writeln!(out, "Failed: long-lived array corrupted").unwrap();
        out.flush().unwrap();
        std::process::exit(1);
    }
    writeln!(out, "Long-lived array is intact").unwrap();
    writeln!(out, "Total nodes built: {}", built.get()).unwrap();
    out.flush().unwrap();
    eprintln!("Completed in {} msec.", start.elapsed().as_millis());
    if stats {
        let s = m.stats();
        let wall = start.elapsed();
        eprintln!(
            "gcbench-typed: {:.3} s, {} GCs, pause total {:.3} s ({:.1}% of run), heap_sys {} MiB",
            wall.as_secs_f64(),
            s.num_gc,
            s.pause_total_ns as f64 / 1e9,
            s.pause_total_ns as f64 / wall.as_nanos() as f64 * 100.0,
            s.heap_sys >> 20
        );
    }
}
