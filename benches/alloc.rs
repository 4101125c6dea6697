//! Allocation benchmarks: `mallocgc` (scan and no-scan) and `newobject`
//! on the Marrow heap, each beside the same size from the system allocator.
//!
//! Every timed iteration is one allocation; objects are kept alive in
//! batches of `BATCH`, and freed outside the timed section (Marrow: the
//! cache is released and a collection that finds nothing alive sweeps the
//! heap; system: the boxes are dropped), so both allocators hand out a
//! batch of fresh objects per round. Each benchmark has its own heap. The
//! per-iteration time criterion reports is the time per allocation.
//!
//! Run: `cargo bench --bench alloc -- --warm-up-time 1 --measurement-time 3`.
//! Note that no-scan requests under 16 bytes (here: 8) go through the tiny
//! allocator, which packs two 8-byte objects into one 16-byte block.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use marrow_runtime::{AllocFlags, Heap, HeapConfig, MCache, Type};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Objects kept alive at once; freed together, outside the timing.
const BATCH: usize = 1000;

/// A heap and a cache that allocates from it.
struct Marrow {
    heap: Arc<Heap>,
    cache: MCache,
}

impl Marrow {
    fn new() -> Marrow {
        let heap = Heap::new(HeapConfig::default()).expect("heap");
        let cache = heap.new_cache();
        Marrow { heap, cache }
    }

    /// A collection in which nothing survives: every object of the batch dies.
    fn free_everything(&mut self) {
        self.cache.release_all();
        // SAFETY: nothing is marked and nothing allocated so far is used
        // again (the benchmark only keeps addresses it never dereferences).
        unsafe { self.heap.begin_sweep(0.0) };
        black_box(self.heap.sweep_all());
    }

    /// Times `iters` allocations by `alloc`, in batches of `BATCH`.
    fn time(&mut self, iters: u64, mut alloc: impl FnMut(&mut MCache) -> usize) -> Duration {
        let mut keep = vec![0usize; BATCH];
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(BATCH as u64) as usize;
            let start = Instant::now();
            for slot in &mut keep[..n] {
                *slot = alloc(&mut self.cache);
            }
            total += start.elapsed();
            black_box(&keep);
            left -= n as u64;
            self.free_everything();
        }
        total
    }
}

/// Times `iters` system allocations by `alloc`, in batches of `BATCH`.
fn time_system<T>(iters: u64, mut alloc: impl FnMut() -> Box<T>) -> Duration {
    let mut keep: Vec<Box<T>> = Vec::with_capacity(BATCH);
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH as u64) as usize;
        let start = Instant::now();
        for _ in 0..n {
            keep.push(alloc());
        }
        total += start.elapsed();
        black_box(&keep);
        left -= n as u64;
        keep.clear();
    }
    total
}

/// One size: Marrow no-scan, Marrow scan (a pointer in word 0), and a
/// zeroed `Box<[u64; W]>` of the same size from the system allocator.
fn bench_size<const W: usize>(c: &mut Criterion) {
    let size = W * 8;
    let mut g = c.benchmark_group(format!("mallocgc/{size}"));
    let mut m = Marrow::new();
    g.bench_function(BenchmarkId::new("marrow", "noscan"), |b| {
        b.iter_custom(|iters| {
            m.time(iters, |c| {
                c.mallocgc(black_box(size), None, AllocFlags::NOSCAN).as_ptr() as usize
            })
        })
    });
    let t = Type::new("scan", size, 8, &[0]).expect("type");
    let mut m = Marrow::new();
    g.bench_function(BenchmarkId::new("marrow", "scan"), |b| {
        b.iter_custom(|iters| {
            m.time(iters, |c| {
                c.mallocgc(black_box(size), Some(&t), AllocFlags::NONE).as_ptr() as usize
            })
        })
    });
    g.bench_function(BenchmarkId::new("system", "box"), |b| {
        b.iter_custom(|iters| time_system(iters, || Box::new(black_box([0u64; W]))))
    });
    g.finish();
}

/// `newobject` of a 16-byte pair of pointers, beside `Box<[usize; 2]>`.
fn bench_newobject(c: &mut Criterion) {
    let mut g = c.benchmark_group("newobject/pair");
    let pair = Type::new("pair", 16, 8, &[0, 8]).expect("type");
    let mut m = Marrow::new();
    g.bench_function(BenchmarkId::new("marrow", "newobject"), |b| {
        b.iter_custom(|iters| m.time(iters, |c| c.newobject(black_box(&pair)).as_ptr() as usize))
    });
    g.bench_function(BenchmarkId::new("system", "box"), |b| {
        b.iter_custom(|iters| time_system(iters, || Box::new(black_box([0usize; 2]))))
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_size::<1>(c);
    bench_size::<2>(c);
    bench_size::<4>(c);
    bench_size::<8>(c);
    bench_size::<16>(c);
    bench_size::<128>(c);
    bench_newobject(c);
}

criterion_group!(alloc, benches);
criterion_main!(alloc);
