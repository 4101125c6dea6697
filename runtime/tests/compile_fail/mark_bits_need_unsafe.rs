// Setting or clearing a mark bit, or reading the bitmap, is unsafe: the
// bitmap does not check addresses, and a cleared mark lets the sweep free
// a reachable object.
use marrow_runtime::collector_interface::mark_bitmap;
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let bm = mark_bitmap(&heap);
    let far = heap.arena_base() + (1 << 30);
    bm.try_mark(far);
    bm.try_mark_exclusive(far);
    bm.clear_mark(far);
    let _ = bm.is_marked(far);
    let _ = bm.is_pointer_slot(far);
    bm.for_each_pointer_slot(far, 1 << 20, |_| {});
}
