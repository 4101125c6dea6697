// Generic heap types are not supported by the derive.
use marrow_gc::typed::Trace;

#[derive(Trace)]
struct Boxed<T> {
    value: T,
}

fn main() {}
