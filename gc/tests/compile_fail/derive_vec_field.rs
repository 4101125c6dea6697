// A field the collector cannot see into is refused.
use marrow_gc::typed::Trace;

#[derive(Trace)]
struct Bad {
    items: Vec<u64>,
}

fn main() {}
