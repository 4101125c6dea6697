//! Collector behaviour: deep structures without native recursion, memory
//! reuse under a steady garbage stream, pacing, handles, chunked scanning of
//! huge arrays, tagged immediates, and the debug modes catching real faults
//! (checkmark against a store that bypasses the write barrier during
//! incremental marking, clobber-on-free against a write after free).

use marrow_gc::runtime::{AllocError, AllocFlags, TagRule, Type};
use marrow_gc::{Gc, GcConfig, GcMode, Mutator};
use std::ptr::NonNull;

fn pair() -> Type {
    Type::new("pair", 16, 8, &[0, 8]).unwrap()
}

fn mutator(config: GcConfig) -> Mutator {
    let gc = Gc::new(config).unwrap();
    Mutator::new(&gc).unwrap()
}

fn word(p: usize, k: usize) -> usize {
    // SAFETY: callers pass live objects with more than k words.
    unsafe { (p as *const usize).add(k).read() }
}

fn set(m: &mut Mutator, p: usize, k: usize, v: usize) {
    // SAFETY: callers pass live objects with more than k words.
    unsafe { m.write_ptr(NonNull::new(p as *mut u8).unwrap(), k, v) }
}

#[test]
fn a_list_of_ten_million_pairs_collects_without_recursion() {
    let mut m = mutator(GcConfig::default());
    let t = pair();
    let mut head = [0usize; 1];
    for i in 0..10_000_000usize {
        let p = m.alloc(&t, &head).unwrap().as_ptr() as usize;
        set(&mut m, p, 0, i << 1 | 1);
        set(&mut m, p, 1, head[0]);
        head[0] = p;
    }
    let r = m.gc(&head);
    assert_eq!(r.live_objects, 10_000_000);
    // Walk it: intact and in order.
    let (mut p, mut n) = (head[0], 10_000_000usize);
    while p != 0 {
        n -= 1;
        assert_eq!(word(p, 0), n << 1 | 1);
        p = word(p, 1);
    }
    assert_eq!(n, 0);
    head[0] = 0;
    m.gc(&head);
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn garbage_far_beyond_the_goal_keeps_the_heap_bounded() {
    let mut m = mutator(GcConfig::default());
    let t = Type::new("node", 48, 8, &[0, 8]).unwrap();
    let mut live = vec![0usize; 256];
    let mut max_inuse = 0;
    // 2 GiB of allocation with a small live set.
    for i in 0..(2usize << 30) / 48 {
        let p = m.alloc(&t, &live).unwrap().as_ptr() as usize;
        if i % 1000 == 0 {
            live[(i / 1000) % 256] = p;
        }
        if i % 100_000 == 0 {
            max_inuse = max_inuse.max(m.stats().heap_inuse);
        }
    }
    let s = m.stats();
    eprintln!(
        "garbage: {} collections, max HeapInuse {:.1} MiB, HeapSys {:.1} MiB",
        s.num_gc,
        max_inuse as f64 / 1048576.0,
        s.heap_sys as f64 / 1048576.0
    );
    assert!(s.num_gc > 50, "only {} collections", s.num_gc);
    // The live set is tiny, so the goal is min_heap (4 MiB): HeapInuse
    // stays within it plus a span's rounding, HeapSys at most 2 MiB above.
    assert!(max_inuse <= (4 << 20) + (1 << 20), "HeapInuse grew to {max_inuse}");
    assert!(s.heap_sys <= 6 << 20, "HeapSys grew to {}", s.heap_sys);
    s.check().unwrap();
}

#[test]
fn the_pacer_holds_the_heap_near_its_goal() {
    // Stop-the-world: the trigger is the goal, and the live heap is exact
    // (no objects allocated black during a concurrent mark).
    let mut m = mutator(GcConfig {
        mode: GcMode::StopTheWorld,
        ..GcConfig::default()
    });
    let t = pair();
    // A live list of ~32 MiB, mostly in 16 KiB no-scan blobs (cheap to
    // mark: the CPU cap, which lifts the goal when collections take more
    // than half the time, stays out of this test), then garbage.
    let mut head = [0usize; 1];
    for _ in 0..2_000 {
        let p = m.alloc(&t, &head).unwrap().as_ptr() as usize;
        set(&mut m, p, 1, head[0]);
        head[0] = p;
        let blob = m.alloc_bytes(16 << 10, &head).unwrap().as_ptr() as usize;
        set(&mut m, p, 0, blob);
    }
    let before = m.stats().num_gc;
    let mut peak = 0;
    // 256 MiB of garbage: about 8 runways of 33 MiB.
    for i in 0..16_000_000 {
        m.alloc(&t, &head).unwrap();
        if i % 10_000 == 0 {
            let s = m.stats();
            peak = peak.max(s.heap_alloc);
        }
    }
    let s = m.stats();
    assert!(s.num_gc > before + 2, "{} cycles", s.num_gc - before);
    let live = 2_000u64 * (16 + (16 << 10));
    assert!(
        // Goal = live x (1 + GOGC/100) with GOGC 100, live exact here.
        s.next_gc >= 2 * live && s.next_gc < 2 * live + (64 << 10),
        "goal {} for live {live}",
        s.next_gc
    );
    eprintln!("pacer: peak {peak}, goal {}, live {live}", s.next_gc);
    assert!(
        peak <= s.next_gc + (1 << 20),
        "heap_alloc peaked at {peak}, goal {}",
        s.next_gc
    );
    let g = m.gc_handle().clone();
    g.set_gogc(None);
    let n = m.stats().num_gc;
    for _ in 0..4_000_000 {
        m.alloc(&t, &head).unwrap();
    }
    assert_eq!(m.stats().num_gc, n, "GOGC=off still collected");
}

#[test]
fn handles_keep_objects_alive_and_release_them() {
    let mut m = mutator(GcConfig::default());
    let t = pair();
    let a = m.alloc(&t, &()).unwrap().as_ptr() as usize;
    let h = m.root(a);
    let b = m.alloc(&t, &()).unwrap().as_ptr() as usize;
    set(&mut m, a, 0, b);
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 2);
    assert_eq!(h.get(), a);
    assert_eq!(word(a, 0), b);
    assert_eq!(m.live_handles(), 1);
    drop(h);
    assert_eq!(m.live_handles(), 0);
    m.gc(&());
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn huge_arrays_are_scanned_in_chunks_to_the_end() {
    let mut m = mutator(GcConfig {
        checkmark: true,
        ..GcConfig::default()
    });
    let slot = Type::new("slot", 8, 8, &[0]).unwrap();
    let t = pair();
    // 4 million slots (32 MiB): far more than one chunk.
    let arr = m.alloc_array(&slot, 4_000_000, &()).unwrap().as_ptr() as usize;
    let roots = [arr];
    let mut kept = vec![];
    for i in [0usize, 1, 16 << 10, 3_999_999] {
        let p = m.alloc(&t, &roots).unwrap().as_ptr() as usize;
        set(&mut m, arr, i, p);
        kept.push(p);
    }
    m.alloc(&t, &roots).unwrap(); // garbage
    m.gc(&roots);
    assert_eq!(m.stats().heap_objects, 5);
    for p in kept {
        assert!(m.heap().find_object(p).is_some());
    }
}

#[test]
fn tagged_immediates_and_noscan_words_do_not_keep_objects_alive() {
    let mut config = GcConfig::default();
    config.heap.tag_rule = TagRule::low_bits(3, 0);
    let mut m = mutator(config);
    let t = pair();
    let target = m.alloc(&t, &()).unwrap().as_ptr() as usize;
    // A pointer with a tag (fails the rule), and a noscan object holding the
    // exact address.
    let holder = m.alloc(&t, &()).unwrap().as_ptr() as usize;
    set(&mut m, holder, 0, target | 1);
    let bytes = m.mallocgc(64, None, AllocFlags::NOSCAN, &[holder]).unwrap().as_ptr() as usize;
    // SAFETY: 64-byte object.
    unsafe { (bytes as *mut usize).write(target) };
    m.gc(&[holder, bytes]);
    assert_eq!(m.stats().heap_objects, 2, "only holder and bytes survive");
    assert!(m.heap().find_object(target).is_none());
    // Interior pointers do keep objects alive.
    let t2 = m.alloc(&t, &[holder]).unwrap().as_ptr() as usize;
    m.gc(&[t2 + 8]);
    assert!(m.heap().find_object(t2).is_some());
}

/// The bug the deletion barrier exists to prevent: during incremental
/// marking, cut the only path to an object with a raw store (no barrier)
/// before the marker got there, and hide the object in a new (black, never
/// scanned) object. The mark misses it; the checkmark re-mark from the
/// roots finds it and aborts the process with a report. Runs in a child
/// process (this test binary again), which must die naming the object.
fn hide_an_object_from_incremental_marking() {
    let mut m = mutator(GcConfig {
        mode: GcMode::Incremental,
        checkmark: true,
        ..GcConfig::default()
    });
    let t = pair();
    let a = m.alloc(&t, &()).unwrap().as_ptr() as usize;
    let b = m.alloc(&t, &[a]).unwrap().as_ptr() as usize;
    set(&mut m, a, 0, b);
    // A long list behind `a`, so that marking takes many assists.
    for _ in 0..100_000 {
        let p = m.alloc(&t, &[a]).unwrap().as_ptr() as usize;
        set(&mut m, p, 1, word(a, 1));
        set(&mut m, a, 1, p);
    }
    let gc = m.gc_handle().clone();
    // Allocate garbage until a cycle starts.
    while !gc.is_marking() {
        m.alloc(&t, &[a]).unwrap();
    }
    // SAFETY: `a` is live; the store deliberately skips the barrier.
    unsafe { (a as *mut usize).write(0) };
    let c = m.alloc(&t, &[a]).unwrap().as_ptr() as usize;
    set(&mut m, c, 0, b);
    eprintln!("hidden object {b:#x}");
    while gc.is_marking() {
        m.alloc(&t, &[a, c]).unwrap();
    }
}

#[test]
fn checkmark_reports_objects_the_mark_missed() {
    const CHILD: &str = "MARROW_TEST_CHECKMARK_CHILD";
    if std::env::var_os(CHILD).is_some() {
        hide_an_object_from_incremental_marking();
        return; // not reached: the checkmark aborts
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "checkmark_reports_objects_the_mark_missed",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child survived a failed checkmark:\n{err}");
    let hidden = err
        .lines()
        .find_map(|l| l.strip_prefix("hidden object "))
        .unwrap_or_else(|| panic!("the child did not get to hide the object:\n{err}"));
    assert!(
        err.contains("checkmark failed") && err.contains(&format!("object {hidden} ")),
        "{err}"
    );
}

#[test]
fn clobber_catches_a_write_after_free() {
    let mut m = mutator(GcConfig {
        clobber: true,
        ..GcConfig::default()
    });
    let t = Type::new("n", 32, 8, &[0]).unwrap();
    let mut objs = vec![];
    for _ in 0..100 {
        objs.push(m.alloc(&t, &objs).unwrap().as_ptr() as usize);
    }
    let keep = vec![objs[0]];
    m.gc(&keep);
    // A dangling write into a freed object...
    // SAFETY: the memory is still mapped (its span holds a live object);
    // this is the bug the mode exists to catch.
    unsafe { ((objs[50] + 8) as *mut u64).write(42) };
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..200 {
            m.alloc(&t, &keep).unwrap();
        }
    }))
    .expect_err("clobber check must fail");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("written after it was freed") && msg.contains(&format!("{:#x}", objs[50])),
        "{msg}"
    );
}

#[test]
fn stress_mode_collects_every_n_allocations() {
    let mut m = mutator(GcConfig {
        stress: 10,
        mode: GcMode::StopTheWorld,
        ..GcConfig::default()
    });
    let t = pair();
    for _ in 0..1000 {
        m.alloc(&t, &()).unwrap();
    }
    assert_eq!(m.stats().num_gc, 100);
    // Incremental: every 10th allocation starts a cycle or advances the
    // one under way; cycles complete.
    let mut m = mutator(GcConfig {
        stress: 10,
        mode: GcMode::Incremental,
        ..GcConfig::default()
    });
    for _ in 0..1000 {
        m.alloc(&t, &()).unwrap();
    }
    assert!(m.stats().num_gc >= 10, "{} cycles", m.stats().num_gc);
}

#[test]
fn mutators_register_and_leave() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let a = Mutator::new(&gc).unwrap();
    let g = gc.clone();
    let b = std::thread::spawn(move || {
        let b = Mutator::new(&g).unwrap();
        assert_eq!(g.mutators(), 2);
        drop(b);
    });
    b.join().unwrap();
    assert_eq!(gc.mutators(), 1);
    drop(a);
    assert_eq!(gc.mutators(), 0);
}

#[test]
fn a_second_mutator_on_one_thread_is_refused() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let a = Mutator::new(&gc).unwrap();
    assert!(matches!(Mutator::new(&gc), Err(marrow_gc::GcError::MutatorExists)));
    // Of another collector, it is fine; and once the first is dropped, too.
    let other = Gc::new(GcConfig::default()).unwrap();
    let _c = Mutator::new(&other).unwrap();
    drop(a);
    let _b = Mutator::new(&gc).unwrap();
}

#[test]
fn a_root_is_refused_after_its_mutator_is_dropped() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let m = Mutator::new(&gc).unwrap();
    let r = m.root(0x1000);
    assert_eq!(r.get(), 0x1000);
    drop(m);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.get()));
    assert!(caught.is_err(), "a stale root must not hand out its word");
}

/// A panic in a root source while another thread stops the world would
/// leave that thread waiting forever; the process aborts with a report
/// instead (in a child process).
#[test]
fn a_panic_while_the_world_stops_aborts_with_a_report() {
    const CHILD: &str = "MARROW_TEST_STOP_PANIC_CHILD";
    struct Panicking;
    impl marrow_gc::RootSource for Panicking {
        fn visit_roots(&self, _: &mut dyn marrow_gc::RootVisitor) {
            panic!("root source failed");
        }
    }
    if std::env::var_os(CHILD).is_some() {
        let gc = Gc::new(GcConfig::default()).unwrap();
        let mut m = Mutator::new(&gc).unwrap();
        m.gc(&Panicking);
        unreachable!("the collection must not return");
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_panic_while_the_world_stops_aborts_with_a_report",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("root source failed"), "{err}");
    assert!(err.contains("marrow: fatal: a panic"), "{err}");
}

#[test]
fn stats_record_pauses_and_forced_cycles() {
    let mut m = mutator(GcConfig::default());
    m.gc(&());
    m.gc(&());
    let s = m.stats();
    assert_eq!(s.num_gc, 2);
    assert_eq!(s.num_forced_gc, 2);
    assert!(s.pause_total_ns > 0);
    assert_eq!(s.pause_ns.len(), marrow_gc::runtime::PAUSE_HISTORY);
    assert_eq!(s.pause_ns[0] + s.pause_ns[1], s.pause_total_ns);
    assert!(s.next_gc >= 4 << 20);
}

#[test]
fn tiny_objects_survive_through_their_block() {
    let mut m = mutator(GcConfig {
        checkmark: true,
        clobber: true,
        ..GcConfig::default()
    });
    let mut kept: Vec<usize> = Vec::new();
    for i in 0..10_000u32 {
        let p = m.mallocgc(4, None, AllocFlags::NOSCAN, &kept).unwrap().as_ptr() as usize;
        // SAFETY: a fresh 4-byte object.
        unsafe { (p as *mut u32).write(i) };
        if i % 10 == 0 {
            kept.push(p);
        }
    }
    m.gc(&kept);
    for (k, &p) in kept.iter().enumerate() {
        // SAFETY: rooted tiny objects stay allocated.
        assert_eq!(unsafe { (p as *const u32).read() }, k as u32 * 10);
    }
    // Four 4-byte objects share a 16-byte block: every kept object's block
    // survives, plus the block the cache was filling when the cycle began
    // (a root while the cache holds it), and nothing else.
    let blocks: std::collections::HashSet<usize> = kept.iter().map(|p| p & !15).collect();
    let live = m.stats().heap_objects as usize;
    assert!(
        live == blocks.len() || live == blocks.len() + 1,
        "{live} live, {} blocks",
        blocks.len()
    );
    kept.clear();
    m.gc(&kept);
    assert_eq!(m.stats().heap_objects, 0);
}

#[test]
fn gctrace_line_reports_the_cycle() {
    let mut m = mutator(GcConfig::default());
    let t = pair();
    let mut keep = vec![];
    for _ in 0..1000 {
        keep.push(m.alloc(&t, &keep).unwrap().as_ptr() as usize);
    }
    let r = m.gc(&keep);
    let line = r.to_string();
    assert!(line.starts_with("gc 1 @"), "{line}");
    assert!(line.contains("ms pause (ttsp "), "{line}");
    assert!(line.contains("MB goal, 1000 objects live, 1 mutators"), "{line}");
    assert!(line.ends_with("(forced)"), "{line}");
    assert_eq!(r.live, 16_000);
    assert_eq!(m.gc_handle().last_cycle(), r);
}

#[test]
fn an_exhausted_arena_refuses_then_recovers() {
    let mut config = GcConfig::default();
    config.heap.arena_size = 16 << 20;
    config.heap.min_arena_size = 16 << 20;
    let mut m = mutator(config);
    let t = Type::new("node", 64, 8, &[0]).unwrap();
    let mut head = [0usize];
    let mut n = 0u64;
    let err = loop {
        match m.alloc(&t, &head) {
            Ok(p) => {
                set(&mut m, p.as_ptr() as usize, 0, head[0]);
                head[0] = p.as_ptr() as usize;
                n += 1;
            }
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { .. }), "{err}");
    assert!(err.to_string().contains("out of memory"));
    assert!(n > 200_000, "only {n} objects fit");
    let s = m.stats();
    s.check().unwrap();
    assert_eq!(s.heap_objects, n, "the refused request changed nothing");
    // Drop the list: the heap works again, for more than it held.
    head[0] = 0;
    for _ in 0..2 * n {
        m.alloc(&t, &head).unwrap();
    }
    m.gc(&head);
    assert_eq!(m.stats().heap_objects, 0);
    m.heap().check_invariants();
}

#[test]
fn a_limit_below_the_live_heap_slows_the_program_but_does_not_stop_it() {
    // 32 MiB live under a 4 MiB limit: without the CPU cap every allocation
    // slow path would collect.
    let mut m = mutator(GcConfig {
        memlimit: Some(4 << 20),
        ..GcConfig::default()
    });
    let t = Type::new("node", 32, 8, &[0]).unwrap();
    let mut head = [0usize];
    for _ in 0..1_000_000 {
        let p = m.alloc(&t, &head).unwrap().as_ptr() as usize;
        set(&mut m, p, 0, head[0]);
        head[0] = p;
    }
    // 256 MiB of garbage on top.
    for _ in 0..8_000_000 {
        m.alloc(&t, &head).unwrap();
    }
    let s = m.stats();
    s.check().unwrap();
    // Each cycle marks 32 MiB; the cap leaves the mutator a runway of what
    // it allocates in one pause, so cycles stay a small multiple of
    // (allocation / live) rather than one per span.
    eprintln!(
        "low limit: {} collections, {:.0}% in the collector",
        s.num_gc,
        s.gc_cpu_fraction * 100.0
    );
    assert!(s.num_gc < 500, "{} collections", s.num_gc);
    // The CPU cap keeps collections to about half the time (docs/gc-cycle.md).
    assert!(
        s.gc_cpu_fraction < 0.55,
        "collector took {:.0}% of the time",
        s.gc_cpu_fraction * 100.0
    );
}

#[test]
fn concurrent_marking_ends_near_the_goal() {
    // Incremental and concurrent modes trigger before the goal so that
    // marking, paid for by assists as the mutator allocates, ends near it.
    for mode in [GcMode::Incremental, GcMode::Concurrent] {
        let mut m = mutator(GcConfig {
            mode,
            ..GcConfig::default()
        });
        let t = pair();
        // 16 MiB live in a list of pairs (real marking work), then garbage.
        let mut head = [0usize; 1];
        for _ in 0..1_000_000 {
            let p = m.alloc(&t, &head).unwrap().as_ptr() as usize;
            set(&mut m, p, 1, head[0]);
            head[0] = p;
        }
        let gc = m.gc_handle().clone();
        let before = m.stats().num_gc;
        let mut worst = 0f64;
        for i in 0..8_000_000 {
            m.alloc(&t, &head).unwrap();
            if i % 10_000 == 0 {
                // heapLive (bytes in spans taken since the last mark)
                // against the goal of the cycle that will account for them.
                let s = m.stats();
                worst = worst.max(m.heap().heap_live() as f64 / s.next_gc as f64);
            }
        }
        let s = m.stats();
        let r = gc.last_cycle();
        eprintln!(
            "{mode:?}: {} cycles, worst heap/goal {worst:.3}, last {r}",
            s.num_gc - before
        );
        assert!(s.num_gc >= before + 3, "{mode:?}: {} cycles", s.num_gc - before);
        assert!(r.concurrent && r.end_pause_ns > 0, "{mode:?}: {r}");
        assert!(r.trigger < r.goal, "{mode:?}: trigger {} goal {}", r.trigger, r.goal);
        assert!(worst < 1.1, "{mode:?}: heap reached {worst:.3} x the goal");
        // Everything reachable survived the concurrent cycles.
        let (mut p, mut n) = (head[0], 0);
        while p != 0 {
            n += 1;
            p = word(p, 1);
        }
        assert_eq!(n, 1_000_000);
    }
}
