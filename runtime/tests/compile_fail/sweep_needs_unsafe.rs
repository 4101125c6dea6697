// Sweeping is unsafe: it frees every unmarked object, so it is correct
// only inside a collector's protocol (and `begin_sweep` only after a
// complete mark). Holding the sweep gate would stop the collector.
use marrow_runtime::collector_interface::{background_sweep_one, begin_sweep, stop_background_sweep, sweep_all, sweep_one};
use marrow_runtime::{Heap, HeapConfig};

fn main() {
    let heap = Heap::new(HeapConfig::default()).unwrap();
    begin_sweep(&heap, 0.0);
    sweep_one(&heap);
    sweep_all(&heap);
    background_sweep_one(&heap);
    let _gate = stop_background_sweep(&heap);
}
