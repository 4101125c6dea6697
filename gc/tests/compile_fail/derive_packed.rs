// Pointer words must be aligned: the collector reads them atomically.
use marrow_gc::typed::{Obj, Trace};

#[derive(Trace)]
#[repr(C, packed)]
struct Packed<'gc> {
    tag: u8,
    next: Option<Obj<'gc, Packed<'gc>>>,
}

fn main() {}
