// The heap's own collector-side methods are private: the collector
// reaches them only through `collector_interface`.
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    heap.set_alloc_black(false);
    heap.sweep_one();
    heap.sweep_all();
    let _gate = heap.stop_background_sweep();
    let _ = heap.span_of(heap.arena_base());
    heap.set_gc_trigger(0);
    let _ = heap.take_black_allocs();
}
