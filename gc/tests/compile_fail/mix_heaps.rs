// Handles of two scopes (here of two heaps) never mix: a node of one
// heap cannot point into the other.
use marrow_gc::typed::{GcCell, Obj, Trace};
use marrow_gc::{Gc, GcConfig, Mutator};

#[derive(Trace)]
struct Node<'gc> {
    next: GcCell<Option<Obj<'gc, Node<'gc>>>>,
}

fn main() {
    let (ga, gb) = (Gc::new(GcConfig::default()).unwrap(), Gc::new(GcConfig::default()).unwrap());
    let (mut ma, mut mb) = (Mutator::new(&ga).unwrap(), Mutator::new(&gb).unwrap());
    ma.mutate(|a| {
        let na = a.alloc(Node { next: GcCell::new(None) }).unwrap();
        mb.mutate(|b| {
            let nb = b.alloc(Node { next: GcCell::new(None) }).unwrap();
            na.next.set(a, Some(nb));
        });
    });
}
