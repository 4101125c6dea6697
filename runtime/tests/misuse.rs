//! Misuse of the runtime's safe surface that compiles and is refused at
//! run time: a made-up, foreign or stale `ObjectInfo` handed to
//! `Heap::for_each_pointer_slot` (whose public fields would otherwise let
//! it read far past the GC bitmap), and reading the collector's statistics
//! record while another thread needs it (no lock guard leaves the heap).
#![cfg(not(loom))]

use marrow_runtime::collector_interface as ci;
use marrow_runtime::{Heap, HeapConfig, ObjectInfo, Type};
use std::sync::Arc;

fn small_heap() -> Arc<Heap> {
    Heap::new(HeapConfig {
        arena_size: 16 << 20,
        min_arena_size: 16 << 20,
        ..HeapConfig::default()
    })
    .expect("a 16 MiB heap")
}

fn slots_of(heap: &Heap, info: &ObjectInfo) -> Option<Vec<usize>> {
    let mut got = Vec::new();
    heap.for_each_pointer_slot(info, |a| got.push((a - info.base) / 8))
        .then_some(got)
}

#[test]
fn a_real_object_reports_its_pointer_slots() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let t = Type::new("t", 24, 8, &[8]).unwrap();
    let p = c.newobject(&t).as_ptr() as usize;
    let info = heap.find_object(p).unwrap();
    assert_eq!(slots_of(&heap, &info), Some(vec![1]));
}

#[test]
fn a_made_up_object_is_refused() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let t = Type::new("t", 24, 8, &[8]).unwrap();
    let p = c.newobject(&t).as_ptr() as usize;
    let real = heap.find_object(p).unwrap();
    // The example: a real base with a gigabyte of size would read
    // far past the bitmap's mapped part.
    for fake in [
        ObjectInfo { size: 1 << 30, ..real },
        ObjectInfo {
            size: real.size + 8,
            ..real
        },
        ObjectInfo {
            base: real.base + 8,
            ..real
        },
        ObjectInfo { noscan: true, ..real },
        ObjectInfo {
            base: heap.arena_base() + (8 << 20),
            size: 64,
            noscan: false,
        },
        ObjectInfo {
            base: 0,
            size: usize::MAX,
            noscan: false,
        },
        ObjectInfo {
            base: usize::MAX - 7,
            size: 1 << 40,
            noscan: false,
        },
    ] {
        assert_eq!(slots_of(&heap, &fake), None, "{fake:?} was accepted");
    }
}

#[test]
fn an_object_of_another_heap_is_refused() {
    let (a, b) = (small_heap(), small_heap());
    let t = Type::new("t", 4096, 8, &[0, 4088]).unwrap();
    let p = a.new_cache().newobject(&t).as_ptr() as usize;
    let info = a.find_object(p).unwrap();
    // Make heap b hold an object at the same offset, to be sure the check
    // is of the heap and not of the address alone.
    let q = b.new_cache().newobject(&t).as_ptr() as usize;
    assert_eq!(q - b.arena_base(), p - a.arena_base());
    assert_eq!(slots_of(&b, &info), None);
    assert_eq!(slots_of(&a, &info), Some(vec![0, 511]));
}

#[test]
fn a_freed_object_is_refused() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let t = Type::new("t", 32, 8, &[0]).unwrap();
    let p = c.newobject(&t).as_ptr() as usize;
    let info = heap.find_object(p).unwrap();
    c.release_all();
    // SAFETY: nothing is marked, and nothing of the heap is used again but
    // through `find_object` and `for_each_pointer_slot`; one thread.
    unsafe { ci::begin_sweep(&heap, 0.0) };
    // SAFETY: as above.
    let r = unsafe { ci::sweep_all(&heap) };
    assert_eq!(r.objects_freed, 1);
    assert_eq!(heap.find_object(p), None);
    assert_eq!(slots_of(&heap, &info), None);
}

#[test]
fn the_statistics_record_is_a_copy_and_holds_no_lock() {
    let heap = small_heap();
    let mut rec = heap.gc_record();
    rec.num_gc = 7;
    // Kept across a statistics read on another thread: with a lock guard
    // here, that thread would block until this one let go.
    let h = heap.clone();
    let seen = std::thread::spawn(move || h.mem_stats().num_gc).join().unwrap();
    assert_eq!(seen, 0, "the copy is not the record");
    ci::set_gc_record(&heap, rec.clone());
    assert_eq!(heap.mem_stats().num_gc, 7);
    assert_eq!(rec.num_gc, heap.gc_record().num_gc);
}

#[test]
fn a_span_answers_nothing_for_addresses_outside_it() {
    let heap = small_heap();
    let mut c = heap.new_cache();
    let t = Type::new("t", 48, 8, &[0]).unwrap();
    let p = c.newobject(&t).as_ptr() as usize;
    let s = ci::span_of(&heap, p).unwrap();
    assert_eq!(s.object_at(p).map(|o| o.base), Some(p));
    // Below the span (this used to overflow) and far past it: outside its
    // contract, but no panic, and nothing outside the span.
    for a in [s.base().wrapping_sub(8), 0, s.end() + (1 << 20), usize::MAX - 7] {
        if let Some(o) = s.object_at(a) {
            assert!(o.base >= s.base() && o.base + o.size <= s.end(), "{a:#x} gave {o:?}");
        }
    }
}
