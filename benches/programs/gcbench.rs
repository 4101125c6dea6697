//! GCBench (Ellis, Kovac, Boehm) on the Marrow heap: a stretch tree, a
//! long-lived tree and array, then trees built top-down and bottom-up at
//! depths 4..16. Prints the same text as the Go, C and Scheme versions in
//! benches/peers/gcbench (node counts; phase times on stderr).
//!
//! Run: `cargo run --release -p marrow-suite --bin gcbench` (`--stats` for MemStats).

use marrow_gc::runtime::Type;
use marrow_gc::{Gc, GcConfig, Mutator};
use std::io::Write;
use std::time::Instant;

#[path = "gcbench_common.rs"]
mod common;
use common::*;

/// A node: `{left, right, i: i32, j: i32}`, 24 bytes, two pointer words.
struct Ctx {
    m: Mutator,
    stack: Vec<usize>,
    node: Type,
    built: u64,
}

impl Ctx {
    fn new_node(&mut self, l: usize, r: usize) -> usize {
        self.built += 1;
        let n = self.m.alloc(&self.node, &self.stack).unwrap_or_else(|e| {
            eprintln!("gcbench: {e}");
            std::process::exit(1)
        });
        if l != 0 {
            // SAFETY: a fresh node of three words.
            unsafe {
                self.m.write_ptr(n, 0, l);
                self.m.write_ptr(n, 1, r);
            }
        }
        n.as_ptr() as usize
    }

    fn set_child(&mut self, n: usize, slot: usize, child: usize) {
        // SAFETY: `n` is a live node (rooted on the stack by the caller).
        unsafe {
            self.m
                .write_ptr(std::ptr::NonNull::new_unchecked(n as *mut u8), slot, child)
        };
    }

    /// Top-down: the parent exists before its children.
    fn populate(&mut self, depth: u32, n: usize) {
        if depth == 0 {
            return;
        }
        self.stack.push(n);
        let l = self.new_node(0, 0);
        self.set_child(n, 0, l);
        let r = self.new_node(0, 0);
        self.set_child(n, 1, r);
        self.populate(depth - 1, l);
        self.populate(depth - 1, r);
        self.stack.pop();
    }

    /// Bottom-up: children before the parent.
    fn make_tree(&mut self, depth: u32) -> usize {
        if depth == 0 {
            return self.new_node(0, 0);
        }
        let l = self.make_tree(depth - 1);
        self.stack.push(l);
        let r = self.make_tree(depth - 1);
        self.stack.push(r);
        let n = self.new_node(l, r);
        self.stack.truncate(self.stack.len() - 2);
        n
    }
}

fn count(n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    // SAFETY: `n` is a live node.
    let (l, r) = unsafe { ((n as *const usize).read(), (n as *const usize).add(1).read()) };
    1 + count(l) + count(r)
}

fn main() {
    let stats = std::env::args().any(|a| a == "--stats");
    let config = GcConfig::from_env().unwrap_or_else(|e| {
        eprintln!("gcbench: {e}");
        std::process::exit(2)
    });
    let gc = Gc::new(config).unwrap_or_else(|e| {
        eprintln!("gcbench: {e}");
        std::process::exit(1)
    });
    let mut cx = Ctx {
        m: Mutator::new(&gc).expect("first mutator"),
        stack: Vec::with_capacity(64),
        node: Type::new("node", 24, 8, &[0, 8]).expect("valid type"),
        built: 0,
    };
    let start = Instant::now();
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    writeln!(out, "Garbage Collector Test").unwrap();
    writeln!(
        out,
        " Stretching memory with a binary tree of depth {STRETCH_TREE_DEPTH}"
    )
    .unwrap();
    let before = cx.built;
    cx.make_tree(STRETCH_TREE_DEPTH);
    writeln!(out, "\tStretch tree built {} nodes", cx.built - before).unwrap();

    writeln!(
        out,
        " Creating a long-lived binary tree of depth {LONG_LIVED_TREE_DEPTH}"
    )
    .unwrap();
    let before = cx.built;
    let long_lived = cx.new_node(0, 0);
    cx.stack.push(long_lived);
    cx.populate(LONG_LIVED_TREE_DEPTH, long_lived);
    writeln!(out, "\tLong-lived tree built {} nodes", cx.built - before).unwrap();

    writeln!(out, " Creating a long-lived array of {ARRAY_SIZE} doubles").unwrap();
    let array = cx.m.alloc_bytes(ARRAY_SIZE * 8, &cx.stack).unwrap_or_else(|e| {
        eprintln!("gcbench: {e}");
        std::process::exit(1)
    });
    cx.stack.push(array.as_ptr() as usize);
    let doubles = array.as_ptr() as *mut f64;
    for i in 1..ARRAY_SIZE / 2 {
        // SAFETY: the array holds ARRAY_SIZE doubles and stays rooted.
        unsafe { doubles.add(i).write(1.0 / i as f64) };
    }

    let mut d = MIN_TREE_DEPTH;
    while d <= MAX_TREE_DEPTH {
        let iters = num_iters(d);
        writeln!(out, "Creating {iters} trees of depth {d}").unwrap();
        let t = Instant::now();
        let before = cx.built;
        for _ in 0..iters {
            let temp = cx.new_node(0, 0);
            cx.populate(d, temp);
        }
        writeln!(out, "\tTop down construction built {} nodes", cx.built - before).unwrap();
        eprintln!(
            "\tTop down construction of depth {d} took {} msec",
            t.elapsed().as_millis()
        );
        let t = Instant::now();
        let before = cx.built;
        for _ in 0..iters {
            cx.make_tree(d);
        }
        writeln!(out, "\tBottom up construction built {} nodes", cx.built - before).unwrap();
        eprintln!(
            "\tBottom up construction of depth {d} took {} msec",
            t.elapsed().as_millis()
        );
        d += 2;
    }
    writeln!(out, "Long-lived tree has {} nodes", count(long_lived)).unwrap();
    // SAFETY: the array is rooted and holds ARRAY_SIZE doubles.
    if unsafe { doubles.add(1000).read() } != 1.0 / 1000.0 {
        writeln!(out, "Failed: long-lived array corrupted").unwrap();
        out.flush().unwrap();
        std::process::exit(1);
    }
    writeln!(out, "Long-lived array is intact").unwrap();
    writeln!(out, "Total nodes built: {}", cx.built).unwrap();
    out.flush().unwrap();
    eprintln!("Completed in {} msec.", start.elapsed().as_millis());
    if stats {
        let s = cx.m.stats();
        let wall = start.elapsed();
        eprintln!(
            "gcbench: {:.3} s, {} GCs, pause total {:.3} s ({:.1}% of run), heap_sys {} MiB",
            wall.as_secs_f64(),
            s.num_gc,
            s.pause_total_ns as f64 / 1e9,
            s.pause_total_ns as f64 / wall.as_nanos() as f64 * 100.0,
            s.heap_sys >> 20
        );
    }
}
