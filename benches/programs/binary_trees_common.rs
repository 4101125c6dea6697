//! What `binary-trees` and `binary-trees-typed` share: arguments, the
//! depths and their iteration counts, splitting work across threads, and
//! the `--stats` line.

use marrow_gc::{Gc, GcMode, Mutator};
use std::fmt::Display;
use std::sync::Arc;
use std::time::Instant;

/// The command line: `[--stats] [--threads N] DEPTH`.
pub struct Args {
    pub depth: u32,
    pub stats: bool,
    pub threads: u64,
}

impl Args {
    pub fn parse(program: &str) -> Args {
        let usage = || -> ! {
            eprintln!("usage: {program} [--stats] [--threads N] DEPTH");
            std::process::exit(2);
        };
        let mut args = std::env::args().skip(1);
        let mut out = Args {
            depth: 10,
            stats: false,
            threads: 1,
        };
        while let Some(a) = args.next() {
            if a == "--stats" {
                out.stats = true;
            } else if a == "--threads" || a.starts_with("--threads=") {
                let v = match a.strip_prefix("--threads=") {
                    Some(v) => v.to_string(),
                    None => args.next().unwrap_or_else(|| usage()),
                };
                out.threads = match v.parse() {
                    Ok(t) if (1..=256).contains(&t) => t,
                    _ => usage(),
                };
            } else {
                out.depth = a.parse().unwrap_or_else(|_| usage());
            }
        }
        out
    }
}

/// Reports a fatal error and exits.
pub fn die(e: &dyn Display) -> ! {
    eprintln!("binary-trees: {e}");
    std::process::exit(1)
}

/// `(min_depth, max_depth)` for the depth asked.
pub fn depth_range(n: u32) -> (u32, u32) {
    let min_depth = 4;
    (min_depth, n.max(min_depth + 2))
}

/// The iterations at each depth: `(depth, iterations)`.
pub fn depths(min_depth: u32, max_depth: u32) -> Vec<(u32, u64)> {
    (min_depth..=max_depth)
        .step_by(2)
        .map(|d| (d, 1u64 << (max_depth - d + min_depth)))
        .collect()
}

/// Worker `k` of `n`'s share of `iters` iterations.
pub fn share(iters: u64, k: u64, n: u64) -> u64 {
    iters * (k + 1) / n - iters * k / n
}

/// Runs `worker(work, k, n)` on `n` threads and sums their check sums per
/// depth.
pub fn split_across_threads(
    n: u64,
    work: &[(u32, u64)],
    worker: impl Fn(&[(u32, u64)], u64, u64) -> Vec<u64> + Sync,
) -> Vec<u64> {
    let parts: Vec<Vec<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let worker = &worker;
                s.spawn(move || worker(work, k, n))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    (0..work.len()).map(|i| parts.iter().map(|p| p[i]).sum()).collect()
}

/// The `--stats` line on stderr.
pub fn print_stats(program: &str, gc: &Arc<Gc>, m: &mut Mutator, start: Instant, threads: u64) {
    let s = m.stats();
    let wall = start.elapsed();
    let pauses = gc.recent_pauses();
    let max_pause = pauses.iter().copied().max().unwrap_or(0);
    let mode = match gc.config().mode {
        GcMode::StopTheWorld => "stw",
        GcMode::Incremental => "incremental",
        GcMode::Concurrent => "concurrent",
    };
    eprintln!(
        "{program}: {:.3} s, {} GCs, pause total {:.3} s ({:.1}% of run), max pause {:.3} ms{}, mode {mode}, {threads} thread(s), mallocs {}, heap_sys {} MiB, sys {} MiB (span metadata {} MiB, GC bitmap {} MiB)",
        wall.as_secs_f64(),
        s.num_gc,
        s.pause_total_ns as f64 / 1e9,
        s.pause_total_ns as f64 / wall.as_nanos() as f64 * 100.0,
        max_pause as f64 / 1e6,
        if pauses.len() >= 4096 { " (of the last 4096)" } else { "" },
        s.mallocs,
        s.heap_sys >> 20,
        s.sys >> 20,
        s.mspan_sys >> 20,
        s.gc_sys >> 20
    );
}
