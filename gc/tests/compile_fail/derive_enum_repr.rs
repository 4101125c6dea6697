// An enum with fields needs a primitive representation, which fixes its
// fields' offsets.
use marrow_gc::typed::{Obj, Trace};

#[derive(Trace)]
enum Bad<'gc> {
    Nothing,
    Something(Obj<'gc, Bad<'gc>>),
}

fn main() {}
