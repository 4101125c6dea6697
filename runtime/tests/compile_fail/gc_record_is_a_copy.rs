// The collector's statistics record is read as a copy: no lock guard of
// the heap reaches safe code (holding one would stop the collector).
use marrow_runtime::{Heap, HeapConfig};
use std::sync::MutexGuard;

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    let _guard: MutexGuard<'_, marrow_runtime::GcRecord> = heap.gc_record();
}
