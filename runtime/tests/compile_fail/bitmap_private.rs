// The heap's own GC bitmap is private: it takes any address unchecked,
// and it is not tied to the heap's lifetime.
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let bm = *heap.bitmap();
    bm.try_mark(heap.arena_base());
    let _ = marrow_runtime::bitmap::bitmap_bytes_for(0);
}
