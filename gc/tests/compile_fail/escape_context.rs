// The scope's context cannot leave the scope either.
use marrow_gc::{Gc, GcConfig, Mutator};

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let mut kept = None;
    m.mutate(|mc| kept = Some(mc));
    drop(kept);
}
