// The scope's context cannot be used from another thread.
use marrow_gc::typed::Trace;
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Leaf(i64);

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    m.mutate(|mc| {
        std::thread::scope(|s| {
            s.spawn(|| mc.alloc(Leaf(1)).is_ok());
        });
    });
}
