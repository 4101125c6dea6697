//! Memory that comes back: after the live heap shrinks, `free_os_memory`
//! returns the free pages to the OS (RSS falls, measured from
//! /proc/self/statm), HeapReleased and Sys say so, and pages reused later
//! are counted back and read as zero. One test per process: RSS is a
//! process-wide figure.

use marrow_gc::runtime::Type;
use marrow_gc::{Gc, GcConfig, Mutator};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let resident: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    resident * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

#[test]
fn free_os_memory_returns_a_dropped_heap() {
    const MIB: u64 = 1 << 20;
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let node = Type::new("node", 48, 8, &[0]).unwrap();
    // ~300 MiB live: small scan objects in a list, and large no-scan blocks.
    let mut roots = vec![0usize; 2];
    for i in 0..3_000_000usize {
        let p = m.alloc(&node, &roots).unwrap();
        // SAFETY: a fresh node of six words.
        unsafe {
            m.write_ptr(p, 0, roots[0]);
            (p.as_ptr() as *mut usize).add(1).write(i);
        }
        roots[0] = p.as_ptr() as usize;
    }
    let mut blocks = Vec::new();
    for _ in 0..150 {
        let b = m.alloc_bytes(1 << 20, &(&roots, &blocks)).unwrap();
        // SAFETY: 1 MiB no-scan block; touch every page.
        unsafe { std::ptr::write_bytes(b.as_ptr(), 1, 1 << 20) };
        blocks.push(b.as_ptr() as usize);
    }
    m.gc(&(&roots, &blocks));
    let live_rss = rss_bytes();
    assert!(
        live_rss > 250 * MIB,
        "the live heap is resident: {} MiB",
        live_rss / MIB
    );

    // Drop nearly everything; keep a small list.
    let mut p = roots[0];
    for _ in 0..10_000 {
        // SAFETY: p is a live node of the list.
        p = unsafe { (p as *const usize).read() };
    }
    // SAFETY: p is a live node; cutting the list here frees the rest.
    unsafe { m.write_ptr(std::ptr::NonNull::new(p as *mut u8).unwrap(), 0, 0) };
    blocks.clear();
    let released = m.free_os_memory(&roots).unwrap();
    let s = m.stats();
    s.check().unwrap();
    // The background scavenger may have returned part of it already (the
    // freed blocks, as soon as the cycle that freed them ended): count
    // what the heap has released in all, of which this call did the rest.
    assert!(
        s.heap_released > 250 * MIB,
        "released {} MiB ({} MiB by this call)",
        s.heap_released / MIB,
        released as u64 / MIB
    );
    assert!(released as u64 <= s.heap_released);
    assert_eq!(s.heap_released, s.heap_idle, "every free page is released");
    assert!(s.sys < s.heap_sys, "Sys no longer counts released pages");
    let after = rss_bytes();
    assert!(
        after < 40 * MIB + s.heap_inuse,
        "RSS {} MiB after release, in use {} MiB",
        after / MIB,
        s.heap_inuse / MIB
    );

    // Reusing released pages counts them back and they read as zero.
    let b = m.alloc_bytes(64 << 20, &roots).unwrap();
    // SAFETY: a fresh 64 MiB no-scan block.
    let bytes = unsafe { std::slice::from_raw_parts(b.as_ptr(), 64 << 20) };
    assert!(bytes.iter().step_by(4096).all(|&x| x == 0));
    let s2 = m.stats();
    s2.check().unwrap();
    assert!(
        s2.heap_released <= s.heap_released - (64 << 20),
        "reused pages are no longer released"
    );
    // The kept list is intact.
    let (mut p, mut n) = (roots[0], 0);
    while p != 0 {
        n += 1;
        // SAFETY: p is a live node.
        p = unsafe { (p as *const usize).read() };
    }
    assert_eq!(n, 10_001);
}
