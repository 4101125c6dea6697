// A reference into Rust memory cannot live in the heap.
use marrow_gc::typed::Trace;

#[derive(Trace)]
struct Bad<'a> {
    name: &'a str,
}

fn main() {}
