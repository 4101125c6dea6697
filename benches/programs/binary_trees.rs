//! binary-trees (the Benchmarks Game program) on the Marrow heap: build
//! complete binary trees bottom-up, walk them, drop them, with one long-lived
//! tree kept throughout. Output is exactly the Benchmarks Game's.
//!
//! Run: `cargo run --release -p marrow-suite --bin binary-trees -- 21`
//! (`--stats` prints MemStats and the GC share on stderr).

use marrow_gc::runtime::Type;
use marrow_gc::{Gc, GcConfig, Mutator};
use std::io::Write;
use std::ptr::NonNull;

/// A mutator and the shadow stack that holds its roots.
struct Ctx {
    m: Mutator,
    stack: Vec<usize>,
    node: Type,
}

impl Ctx {
    fn new_node(&mut self, left: usize, right: usize) -> usize {
        let n = match self.m.alloc(&self.node, &self.stack) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("binary-trees: {e}");
                std::process::exit(1);
            }
        };
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

fn main() {
    let mut args = std::env::args().skip(1);
    let mut n = 10;
    let mut stats = false;
    for a in args.by_ref() {
        if a == "--stats" {
            stats = true;
        } else {
            n = match a.parse() {
                Ok(v) => v,
                Err(_) => {
                    eprintln!("usage: binary-trees [--stats] DEPTH");
                    std::process::exit(2);
                }
            };
        }
    }
    let config = GcConfig::from_env().unwrap_or_else(|e| {
        eprintln!("binary-trees: {e}");
        std::process::exit(2)
    });
    let gc = Gc::new(config).unwrap_or_else(|e| {
        eprintln!("binary-trees: {e}");
        std::process::exit(1)
    });
    let start = std::time::Instant::now();
    let mut cx = Ctx {
        m: Mutator::new(&gc).expect("first mutator"),
        stack: Vec::with_capacity(64),
        node: Type::new("node", 16, 8, &[0, 8]).expect("valid type"),
    };
    let min_depth = 4;
    let max_depth = n.max(min_depth + 2);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());

    let stretch = max_depth + 1;
    let t = cx.bottom_up(stretch);
    writeln!(out, "stretch tree of depth {stretch}\t check: {}", check(t)).unwrap();

    let long_lived = cx.bottom_up(max_depth);
    cx.stack.push(long_lived);

    let mut d = min_depth;
    while d <= max_depth {
        let iters = 1u64 << (max_depth - d + min_depth);
        let mut sum = 0;
        for _ in 0..iters {
            let t = cx.bottom_up(d);
            sum += check(t);
        }
        writeln!(out, "{iters}\t trees of depth {d}\t check: {sum}").unwrap();
        d += 2;
    }
    writeln!(
        out,
        "long lived tree of depth {max_depth}\t check: {}",
        check(long_lived)
    )
    .unwrap();
    out.flush().unwrap();
    if stats {
        let s = cx.m.stats();
        let wall = start.elapsed();
        eprintln!(
            "binary-trees: {:.3} s, {} GCs, pause total {:.3} s ({:.1}% of run), mallocs {}, heap_sys {} MiB, sys {} MiB (span metadata {} MiB, GC bitmap {} MiB)",
            wall.as_secs_f64(),
            s.num_gc,
            s.pause_total_ns as f64 / 1e9,
            s.pause_total_ns as f64 / wall.as_nanos() as f64 * 100.0,
            s.mallocs,
            s.heap_sys >> 20,
            s.sys >> 20,
            s.mspan_sys >> 20,
            s.gc_sys >> 20
        );
    }
}
