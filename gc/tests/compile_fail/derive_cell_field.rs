// Non-atomic interior mutability is refused (objects may be read by
// other threads); GcCell is the mutable field.
use marrow_gc::typed::Trace;
use std::cell::Cell;

#[derive(Trace)]
struct Bad {
    count: Cell<u64>,
}

fn main() {}
