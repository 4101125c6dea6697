// What an evaluation returns is a rooted handle, not a raw value that a
// later collection could free.
use marrow_gc::GcConfig;
use marrow_interp::{Interp, Value};

fn main() {
    let mut it = Interp::new(GcConfig::default(), 1000).unwrap();
    let v: Value = it.eval_str("(list 1 2 3)", "<test>").unwrap();
    println!("{}", it.write(v));
}
