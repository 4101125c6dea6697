// A handle cannot be returned from its scope.
use marrow_gc::typed::{Obj, Trace};
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Leaf(i64);

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let leaf: Obj<'_, Leaf> = m.mutate(|mc| mc.alloc(Leaf(1)).unwrap());
    m.gc(&());
    println!("{}", leaf.0);
}
