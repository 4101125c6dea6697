// A copy of the GC bitmap cannot outlive its heap: once the heap is
// dropped its bitmap is unmapped, and a mark through the copy would write
// to unmapped memory.
use marrow_runtime::collector_interface::mark_bitmap;
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let p = heap.new_cache().mallocgc(16, None, Default::default()).as_ptr() as usize;
    let bm = mark_bitmap(&heap);
    drop(heap);
    // SAFETY: (not reached: the drop above does not compile)
    unsafe { bm.try_mark(p) };
}
