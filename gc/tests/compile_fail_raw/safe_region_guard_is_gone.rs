// A safe region is entered only around a closure: there is no guard that
// `mem::forget` could leak, leaving the thread marked safe while it runs.
use marrow_gc::{Gc, GcConfig, Mutator};

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    std::mem::forget(m.enter_safe_region(&()));
}
