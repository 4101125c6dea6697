// The object accessors trust that a value is a live object of this heap:
// they are not reachable from outside the crate.
use marrow_interp::value::Value;

fn main() {
    let v = Value::fix(1);
    let _ = marrow_interp::heap::car(v);
}
