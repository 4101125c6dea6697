//! Memory comes back without the program's help: after a collection leaves
//! most of the heap free, the background sweeper and scavenger bring RSS
//! down near the live heap within seconds while the program sits idle; and
//! a memory limit holds RSS under it on a workload that would otherwise grow
//! without bound. RSS is process-wide, so the two run one after the other
//! in one test.

use marrow_gc::runtime::Type;
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;

/// RSS the idle heap must fall to.
const IDLE_RSS: u64 = 40 * MIB;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let resident: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    resident * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

fn idle_heap_returns_to_the_os() {
    // Stop-the-world marking: the first cycle after the drop frees the
    // list. (A concurrent cycle already marking when the list is dropped
    // keeps it, by its snapshot, until the next cycle.)
    let gc = Gc::new(GcConfig {
        mode: GcMode::StopTheWorld,
        ..GcConfig::default()
    })
    .unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let node = Type::new("node", 32, 8, &[0]).unwrap();
    // ~300 MiB live in small objects.
    let mut roots = [0usize];
    for _ in 0..9_000_000usize {
        let p = m.alloc(&node, &roots).unwrap();
        // SAFETY: a fresh four-word node.
        unsafe { m.write_ptr(p, 0, roots[0]) };
        roots[0] = p.as_ptr() as usize;
    }
    let grown = rss_bytes();
    assert!(grown > 250 * MIB, "grown to {} MiB", grown / MIB);
    // Drop it all but a little, then allocate a bit of garbage: the pacer
    // runs a collection on its own (not a forced, sweep-everything one), so
    // the dead spans are left for lazy sweeping.
    // From here on `roots` is never passed to the collector: the list is dead.
    let cycles = m.stats().num_gc;
    let mut small = [0usize];
    while m.stats().num_gc == cycles {
        small[0] = m.alloc(&node, &small).unwrap().as_ptr() as usize;
    }
    // Now sit idle: no allocation, no call into the heap.
    let start = Instant::now();
    let mut rss = rss_bytes();
    // docs/benchmarks.md: 294 MiB fall to 33 MiB within 0.5 s. The bounds
    // leave room for a loaded machine: 40 MiB within 1.5 s.
    while rss > IDLE_RSS && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        rss = rss_bytes();
    }
    let took = start.elapsed();
    let st = m.stats();
    assert!(
        rss <= IDLE_RSS,
        "RSS still {} MiB after {:?} idle (was {} MiB); {st:?}",
        rss / MIB,
        took,
        grown / MIB
    );
    assert!(took < Duration::from_millis(1500), "RSS took {took:?} to fall");
    let s = m.stats();
    s.check().unwrap();
    assert!(
        s.heap_released > grown - IDLE_RSS,
        "released {} MiB of {} MiB",
        s.heap_released / MIB,
        grown / MIB
    );
    eprintln!("idle: RSS {} MiB -> {} MiB in {:?}", grown / MIB, rss / MIB, took);
}

fn memory_limit_holds_rss() {
    // GOGC=off: without the limit nothing would ever be collected and the
    // heap would grow to the 2 GiB this loop allocates.
    let limit = 96 * MIB;
    let gc = Gc::new(GcConfig {
        gogc: None,
        memlimit: Some(limit),
        ..GcConfig::default()
    })
    .unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let node = Type::new("node", 64, 8, &[0]).unwrap();
    let mut live = vec![0usize; 4096];
    let base = rss_bytes();
    let mut peak = 0;
    for i in 0..(2u64 << 30) / 64 {
        let p = m.alloc(&node, &live).unwrap().as_ptr() as usize;
        // Keep ~16 MiB live: a ring of 4096 chains.
        let slot = (i % 4096) as usize;
        if i % 64 == 0 {
            live[slot] = p;
        }
        if i % 200_000 == 0 {
            peak = peak.max(rss_bytes());
        }
    }
    let s = m.stats();
    s.check().unwrap();
    assert!(s.num_gc > 5, "the limit never triggered a collection");
    assert!(
        s.sys <= limit + MIB,
        "mapped {} MiB over a {} MiB limit",
        s.sys / MIB,
        limit / MIB
    );
    assert!(
        peak <= base + limit,
        "RSS peaked at {} MiB (base {} MiB) under a {} MiB limit",
        peak / MIB,
        base / MIB,
        limit / MIB
    );
    eprintln!(
        "limit: peak RSS {} MiB (base {} MiB), mapped {} MiB, {} cycles",
        peak / MIB,
        base / MIB,
        s.sys / MIB,
        s.num_gc
    );
}

#[test]
fn memory_comes_back_and_limits_hold() {
    idle_heap_returns_to_the_os();
    memory_limit_holds_rss();
}
