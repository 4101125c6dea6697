// A handle cannot be stored in a variable that outlives its scope.
use marrow_gc::typed::Trace;
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Leaf(i64);

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let mut kept = None;
    m.mutate(|mc| {
        kept = Some(mc.alloc(Leaf(1)).unwrap());
    });
    m.gc(&());
    println!("{}", kept.unwrap().0);
}
