//! Bad input and exhausted resources in marrow-runtime: zero-size and
//! overflowing requests, requests larger than the arena, a full arena (the
//! refusal is typed, the heap stays usable and recovers after a
//! collection), the panicking `mallocgc` variant, invalid heap settings and
//! invalid type descriptors.

use marrow_runtime::sizeclass::PAGE_SIZE;
use marrow_runtime::{
    AllocError, AllocFlags, Heap, HeapConfig, HeapError, MCache, SweepResult, TagRule, Type, TypeError,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

const MIB: usize = 1 << 20;

fn small_heap() -> Arc<Heap> {
    Heap::new(HeapConfig {
        arena_size: 16 * MIB,
        min_arena_size: 16 * MIB,
        ..HeapConfig::default()
    })
    .expect("a 16 MiB heap")
}

/// A simulated collection in which exactly `survivors` stay alive.
fn collect(heap: &Heap, cache: &mut MCache, survivors: &[usize]) -> SweepResult {
    cache.release_all();
    for &a in survivors {
        heap.bitmap().try_mark(a);
    }
    // SAFETY: every object the test still uses is in `survivors`, marked;
    // nothing is allocated between the marking and the sweep.
    unsafe { heap.begin_sweep(0.0) };
    heap.sweep_all()
}

/// Stats are consistent and count `objects` live objects.
fn check_stats(heap: &Heap, cache: &mut MCache, objects: usize) {
    cache.flush_stats();
    let st = heap.mem_stats();
    st.check().unwrap_or_else(|e| panic!("{e}: {st:?}"));
    assert_eq!(st.heap_objects, objects as u64, "{st:?}");
    heap.check_invariants();
}

#[test]
fn zero_bytes_are_refused() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    assert_eq!(c.try_mallocgc(0, None, AllocFlags::NOSCAN), Err(AllocError::ZeroSize));
    assert_eq!(c.try_mallocgc(0, None, AllocFlags::NONE), Err(AllocError::ZeroSize));
    let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
    assert_eq!(
        c.try_mallocgc(0, Some(&pair), AllocFlags::NONE),
        Err(AllocError::ZeroSize)
    );
    assert_eq!(c.try_newarray(&pair, 0), Err(AllocError::ZeroSize));
    let empty = Type::noscan("unit", 0, 1).unwrap();
    assert_eq!(c.try_newobject(&empty), Err(AllocError::ZeroSize));
    assert_eq!(c.try_newarray(&empty, 1000), Err(AllocError::ZeroSize));
    assert_eq!(AllocError::ZeroSize.to_string(), "allocation of zero bytes");
    // Nothing was allocated.
    check_stats(&heap, &mut c, 0);
    assert_eq!(heap.mem_stats().mallocs, 0);
}

#[test]
fn newarray_overflow_is_refused() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let mut c = heap.new_cache();
    let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
    let n = usize::MAX / 16 + 1;
    let e = c.try_newarray(&pair, n).unwrap_err();
    assert_eq!(
        e,
        AllocError::Overflow {
            count: n,
            elem_size: 16
        }
    );
    assert!(e.to_string().contains("overflows"), "{e}");
    assert_eq!(
        c.try_newarray(&pair, usize::MAX),
        Err(AllocError::Overflow {
            count: usize::MAX,
            elem_size: 16
        })
    );
    // Rounding up for an over-aligned type overflows too.
    let wide = Type::noscan("wide", 64, 64).unwrap();
    assert!(matches!(
        c.try_mallocgc(usize::MAX - 3, Some(&wide), AllocFlags::NONE),
        Err(AllocError::Overflow { .. })
    ));
    // Fits in usize, but not in the arena.
    let n = usize::MAX / 16;
    assert!(matches!(c.try_newarray(&pair, n), Err(AllocError::TooLarge { .. })));
    check_stats(&heap, &mut c, 0);
}

#[test]
fn larger_than_the_arena_is_refused() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let arena = heap.arena_size();
    assert_eq!(arena, 16 * MIB);
    for size in [arena + 1, arena + PAGE_SIZE, 1 << 40, usize::MAX] {
        let e = c.try_mallocgc(size, None, AllocFlags::NOSCAN).unwrap_err();
        assert_eq!(
            e,
            AllocError::TooLarge {
                size,
                arena_size: arena
            }
        );
        assert!(e.to_string().contains("exceeds the arena"), "{e}");
    }
    let word = Type::new("word", 8, 8, &[0]).unwrap();
    assert!(matches!(
        c.try_newarray(&word, arena / 8 + 1),
        Err(AllocError::TooLarge { .. })
    ));
    // The heap never grew for them.
    assert_eq!(heap.arena_mapped(), 0);
    check_stats(&heap, &mut c, 0);
    // And exactly the arena's size is allowed.
    let p = c
        .try_mallocgc(arena, None, AllocFlags::NOSCAN)
        .expect("the whole arena");
    assert_eq!(
        heap.find_object(p.as_ptr() as usize + arena - 1).unwrap().base,
        p.as_ptr() as usize
    );
    check_stats(&heap, &mut c, 1);
}

#[test]
fn a_full_arena_refuses_then_recovers() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let pair = Type::new("pair", 16, 8, &[0, 8]).unwrap();
    // A cached span of pairs with room left.
    let mut pairs: Vec<usize> = (0..10).map(|_| c.newobject(&pair).as_ptr() as usize).collect();
    // Fill the arena with 1 MiB objects until it refuses.
    let mut big = Vec::new();
    let err = loop {
        match c.try_mallocgc(MIB, None, AllocFlags::NOSCAN) {
            Ok(p) => big.push(p.as_ptr() as usize),
            Err(e) => break e,
        }
        assert!(big.len() <= 16, "a 16 MiB arena held {} MiB objects", big.len());
    };
    assert!(
        matches!(err, AllocError::OutOfMemory { size, mapped } if size == MIB && mapped == 16 * MIB),
        "{err:?}"
    );
    assert!(err.to_string().contains("out of memory"), "{err}");
    assert_eq!(big.len(), 15, "one page of pairs leaves room for 15 MiB objects");
    assert_eq!(heap.arena_mapped(), 16 * MIB);
    // Refused again, and again, without harm.
    for _ in 0..3 {
        assert!(matches!(
            c.try_mallocgc(MIB, None, AllocFlags::NOSCAN),
            Err(AllocError::OutOfMemory { .. })
        ));
    }
    assert!(matches!(
        c.try_mallocgc(16 * MIB, None, AllocFlags::NOSCAN),
        Err(AllocError::OutOfMemory { .. })
    ));
    check_stats(&heap, &mut c, pairs.len() + big.len());
    // Small allocations still succeed: from the cached span, and from new
    // spans in the pages the big objects left.
    for _ in 0..100 {
        pairs.push(c.newobject(&pair).as_ptr() as usize);
    }
    let mut small: Vec<usize> = (0..50)
        .map(|_| c.mallocgc(4000, None, AllocFlags::NONE).as_ptr() as usize)
        .collect();
    for &p in pairs.iter().chain(&small) {
        assert_eq!(heap.find_object(p).map(|i| i.base), Some(p));
    }
    check_stats(&heap, &mut c, pairs.len() + big.len() + small.len());
    // Exhaust the small path too: it refuses with the same error.
    let err = loop {
        match c.try_mallocgc(32 << 10, None, AllocFlags::NOSCAN) {
            Ok(p) => small.push(p.as_ptr() as usize),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, AllocError::OutOfMemory { .. }), "{err:?}");
    check_stats(&heap, &mut c, pairs.len() + big.len() + small.len());
    // A collection that keeps only the pairs frees the rest...
    let r = collect(&heap, &mut c, &pairs);
    assert_eq!(r.objects_freed, big.len() + small.len());
    check_stats(&heap, &mut c, pairs.len());
    // ...and one that frees everything makes room for the whole arena.
    let r = collect(&heap, &mut c, &[]);
    assert_eq!(r.objects_freed, pairs.len());
    check_stats(&heap, &mut c, 0);
    assert_eq!(heap.mem_stats().heap_inuse, 0);
    let p = c
        .try_mallocgc(16 * MIB, None, AllocFlags::NONE)
        .expect("after a collection that frees everything, the whole arena");
    let p = p.as_ptr() as usize;
    // SAFETY: the object has 16 MiB; reused pages were zeroed for it.
    let bytes = unsafe { std::slice::from_raw_parts(p as *const u8, 16 * MIB) };
    assert!(bytes.iter().all(|&b| b == 0), "reused pages are zeroed");
    assert_eq!(heap.find_object(p + 16 * MIB - 1).unwrap().base, p);
    check_stats(&heap, &mut c, 1);
}

#[test]
fn the_panicking_variant_panics_with_out_of_memory() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let keep = c.mallocgc(100, None, AllocFlags::NONE).as_ptr() as usize;
    let mut big = Vec::new();
    while let Ok(p) = c.try_mallocgc(MIB, None, AllocFlags::NOSCAN) {
        big.push(p.as_ptr() as usize);
    }
    let message = |r: std::thread::Result<_>| -> String {
        let payload = r.expect_err("the allocation must panic");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .expect("a panic message")
    };
    let msg = message(catch_unwind(AssertUnwindSafe(|| {
        c.mallocgc(MIB, None, AllocFlags::NOSCAN)
    })));
    assert!(msg.contains("out of memory"), "{msg}");
    let t = Type::noscan("block", MIB, 8).unwrap();
    let msg = message(catch_unwind(AssertUnwindSafe(|| c.newobject(&t))));
    assert!(msg.contains("out of memory"), "{msg}");
    let msg = message(catch_unwind(AssertUnwindSafe(|| c.newarray(&t, 2))));
    assert!(msg.contains("out of memory"), "{msg}");
    // Bad input panics with its own message.
    let msg = message(catch_unwind(AssertUnwindSafe(|| c.mallocgc(0, None, AllocFlags::NONE))));
    assert!(msg.contains("zero bytes"), "{msg}");
    // The cache and the heap survive the panics.
    let q = c.mallocgc(100, None, AllocFlags::NONE).as_ptr() as usize;
    assert_eq!(heap.find_object(q).map(|i| i.base), Some(q));
    check_stats(&heap, &mut c, big.len() + 2);
    let r = collect(&heap, &mut c, &[keep, q]);
    assert_eq!(r.objects_freed, big.len());
    check_stats(&heap, &mut c, 2);
    c.mallocgc(MIB, None, AllocFlags::NOSCAN);
}

#[test]
fn invalid_heap_configs_are_refused() {
    let bad = |config: HeapConfig, says: &str| {
        let e = Heap::new(config).unwrap_err();
        assert!(matches!(e, HeapError::InvalidConfig(_)), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("invalid heap configuration") && msg.contains(says),
            "{msg}"
        );
    };
    bad(
        HeapConfig {
            min_arena_size: 64 << 10,
            ..HeapConfig::default()
        },
        "min_arena_size",
    );
    bad(
        HeapConfig {
            min_arena_size: 0,
            ..HeapConfig::default()
        },
        "min_arena_size",
    );
    bad(
        HeapConfig {
            arena_size: 8 * MIB,
            min_arena_size: 16 * MIB,
            ..HeapConfig::default()
        },
        "arena_size",
    );
    bad(
        HeapConfig {
            arena_size: 0,
            ..HeapConfig::default()
        },
        "arena_size",
    );
    bad(
        HeapConfig {
            tag_rule: TagRule { mask: 1, value: 2 },
            ..HeapConfig::default()
        },
        "tag",
    );
    // The edges are accepted.
    let h = Heap::new(HeapConfig {
        arena_size: MIB,
        min_arena_size: MIB,
        tag_rule: TagRule::low_bits(3, 0b101),
        ..HeapConfig::default()
    })
    .expect("a 1 MiB heap with a tag rule");
    assert_eq!(h.arena_size(), MIB);
    // An arena that is not a whole number of pages is rounded up.
    let h = Heap::new(HeapConfig {
        arena_size: 16 * MIB + 1,
        ..HeapConfig::default()
    })
    .unwrap();
    assert_eq!(h.arena_size(), 16 * MIB + PAGE_SIZE);
}

#[test]
fn invalid_types_are_refused() {
    assert_eq!(Type::new("x", 16, 0, &[]), Err(TypeError::BadAlign(0)));
    assert_eq!(Type::new("x", 16, 3, &[]), Err(TypeError::BadAlign(3)));
    assert_eq!(Type::new("x", 16, 24, &[]), Err(TypeError::BadAlign(24)));
    assert_eq!(Type::new("x", 16, 16 << 10, &[]), Err(TypeError::BadAlign(16 << 10)));
    assert!(Type::new("x", 16, 8 << 10, &[]).is_ok(), "page alignment is allowed");
    // Pointer slots must be whole words inside the object.
    assert_eq!(Type::new("x", 16, 8, &[4]), Err(TypeError::BadPointerOffset(4)));
    assert_eq!(Type::new("x", 16, 8, &[16]), Err(TypeError::BadPointerOffset(16)));
    assert_eq!(Type::new("x", 20, 8, &[16]), Err(TypeError::BadPointerOffset(16)));
    assert_eq!(Type::new("x", 0, 8, &[0]), Err(TypeError::BadPointerOffset(0)));
    // An offset so large that offset + 8 overflows is refused, not a panic.
    let huge = usize::MAX - 7;
    assert_eq!(Type::new("x", 16, 8, &[huge]), Err(TypeError::BadPointerOffset(huge)));
    // A type with pointers is a whole number of words.
    assert_eq!(Type::from_mask("x", 12, 8, &[1]), Err(TypeError::SizeNotWords(12)));
    assert_eq!(
        Type::from_mask("x", 16, 8, &[0b100]),
        Err(TypeError::BadPointerOffset(16))
    );
    assert_eq!(
        Type::from_mask("x", 16, 8, &[0, 1]),
        Err(TypeError::BadPointerOffset(512))
    );
    // Pointer-free types may be any size.
    assert!(Type::noscan("bytes", 13, 1).is_ok());
    assert!(Type::from_mask("x", 12, 4, &[0, 0]).is_ok());
    // The messages say what is wrong.
    for (e, says) in [
        (TypeError::BadAlign(3), "alignment 3"),
        (TypeError::BadPointerOffset(4), "pointer offset 4"),
        (TypeError::SizeNotWords(12), "12 bytes"),
    ] {
        assert!(e.to_string().contains(says), "{e}");
    }
}
