// Turning black allocation off while a collector marks lets its sweep
// free objects allocated meanwhile: only an unsafe collector hook can.
use marrow_runtime::collector_interface::set_alloc_black;
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    set_alloc_black(&heap, false);
}
