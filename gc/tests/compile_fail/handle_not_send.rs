// Handles belong to their thread's scope: they are not Send.
use marrow_gc::typed::Trace;
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Leaf(i64);

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    m.mutate(|mc| {
        let leaf = mc.alloc(Leaf(1)).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || println!("{}", leaf.0));
        });
    });
}
