// A span's marks, sweep and allocation state are the runtime's: a span
// reached through the collector interface can only be read.
use marrow_runtime::collector_interface::{span_of, EMPTY_SPAN};
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let p = heap.new_cache().mallocgc(16, None, Default::default()).as_ptr() as usize;
    let s = span_of(&heap, p).unwrap();
    let _ = unsafe { s.alloc_count() };
    let _ = unsafe { s.next_free() };
    let _ = marrow_runtime::collector_interface::MSpan::new_dead();
    let _ = EMPTY_SPAN.object_addr(0);
    let _ = marrow_runtime::span::EMPTY_SPAN;
}
