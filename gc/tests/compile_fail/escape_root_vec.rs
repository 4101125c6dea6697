// A rooted vector's branded view lasts for the scope only.
use marrow_gc::typed::{RootVec, Value};
use marrow_gc::{Gc, GcConfig, Mutator};

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    let mut m = Mutator::new(&gc).unwrap();
    let mut stack: RootVec<Value<'static, i64>> = RootVec::new(&m);
    let view = m.mutate(|mc| stack.as_mut_vec(mc).len());
    let v = m.mutate(|mc| stack.as_mut_vec(mc));
    println!("{view} {}", v.len());
}
