// A Root belongs to its mutator's thread (a SharedRoot is the way across).
use marrow_gc::typed::Trace;
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Leaf(i64);

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let root = m.mutate(|mc| mc.root(mc.alloc(Leaf(1)).unwrap()));
    std::thread::spawn(move || drop(root)).join().unwrap();
}
