// A collected heap hands out no allocation cache: one would allocate
// where the collector can neither stop it nor see its roots. `Gc::heap`
// and `Mutator::heap` give a plain `&Heap`, and caches need the `Arc`.
use marrow_gc::{Gc, GcConfig, Mutator};

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut cache = gc.heap().new_cache();
    let m = Mutator::new(&gc).unwrap();
    let mut cache2 = m.heap().new_cache();
    let heap: std::sync::Arc<marrow_gc::runtime::Heap> = gc.heap().clone();
}
