//! binary-trees on the typed embedding API (marrow_gc::typed), with no
//! `unsafe`: the same program and output as `binary-trees` (the raw API
//! with a shadow stack), to measure what the typed layer costs.
//!
//! Each tree is built and checked inside one scope, so its nodes need no
//! roots (nothing is freed inside a scope); the long-lived tree is kept
//! across scopes by a `Root`. Collections that come due while a tree is
//! built run when its scope ends.
//!
//! Run: `cargo run --release -p marrow-suite --bin binary-trees-typed -- 21`
//! (`--stats` as for `binary-trees`; `MARROW_GCMODE` picks the mode).

#![forbid(unsafe_code)]

use marrow_gc::typed::{Mutation, Obj, Trace};
use marrow_gc::{Gc, GcConfig, Mutator};
use std::io::Write;

#[path = "binary_trees_common.rs"]
mod common;

/// A tree node: two handles, 16 bytes (a leaf has neither child).
#[derive(Trace)]
struct Node<'gc> {
    left: Option<Obj<'gc, Node<'gc>>>,
    right: Option<Obj<'gc, Node<'gc>>>,
}

fn bottom_up<'gc>(mc: &Mutation<'gc>, depth: u32) -> Obj<'gc, Node<'gc>> {
    let node = if depth == 0 {
        Node {
            left: None,
            right: None,
        }
    } else {
        let left = bottom_up(mc, depth - 1);
        let right = bottom_up(mc, depth - 1);
        Node {
            left: Some(left),
            right: Some(right),
        }
    };
    mc.alloc(node).unwrap_or_else(|e| common::die(&e))
}

fn check(n: Obj<'_, Node<'_>>) -> u64 {
    match (n.left, n.right) {
        (Some(l), Some(r)) => 1 + check(l) + check(r),
        _ => 1,
    }
}

/// Builds and checks `iters` trees of depth `d`, one scope each.
fn trees(m: &mut Mutator, d: u32, iters: u64) -> u64 {
    (0..iters).map(|_| m.mutate(|mc| check(bottom_up(mc, d)))).sum()
}

fn main() {
    let args = common::Args::parse("binary-trees-typed");
    let config = GcConfig::from_env().unwrap_or_else(|e| common::die(&e));
    let gc = Gc::new(config).unwrap_or_else(|e| common::die(&e));
    let start = std::time::Instant::now();
    let mut m = Mutator::new(&gc).unwrap_or_else(|e| common::die(&e));
    let (min_depth, max_depth) = common::depth_range(args.depth);
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());

    let stretch = max_depth + 1;
    let c = m.mutate(|mc| check(bottom_up(mc, stretch)));
    writeln!(out, "stretch tree of depth {stretch}\t check: {c}").unwrap();

    let long_lived = m.mutate(|mc| mc.root(bottom_up(mc, max_depth)));

    let work = common::depths(min_depth, max_depth);
    let sums: Vec<u64> = if args.threads == 1 {
        work.iter().map(|&(d, iters)| trees(&mut m, d, iters)).collect()
    } else {
        // This thread waits for the workers in a safe region (its only
        // root, the long-lived tree, is reported from its handle table).
        m.in_safe_region(&(), || {
            common::split_across_threads(args.threads, &work, |work, k, n| {
                let mut m = Mutator::new(&gc).unwrap_or_else(|e| common::die(&e));
                work.iter()
                    .map(|&(d, iters)| trees(&mut m, d, common::share(iters, k, n)))
                    .collect()
            })
        })
    };
    for (&(d, iters), sum) in work.iter().zip(sums) {
        writeln!(out, "{iters}\t trees of depth {d}\t check: {sum}").unwrap();
    }
    let c = m.mutate(|mc| check(long_lived.get(mc)));
    writeln!(out, "long lived tree of depth {max_depth}\t check: {c}").unwrap();
    out.flush().unwrap();
    if args.stats {
        common::print_stats("binary-trees-typed", &gc, &mut m, start, args.threads);
    }
}
