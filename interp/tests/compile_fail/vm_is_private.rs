// The VM's state, which its unsafe code relies on, is private.
use marrow_gc::GcConfig;
use marrow_interp::Interp;

fn main() {
    let mut it = Interp::new(GcConfig::default(), 1000).unwrap();
    it.vm.fuel = 0;
}
