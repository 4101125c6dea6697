// The collector's hooks into its heap are unsafe: turning black
// allocation off mid-mark, or sweeping from another thread, can free a
// reachable object.
use marrow_gc::runtime::collector_interface as ci;
use marrow_gc::{Gc, GcConfig};

fn main() {
    let gc = Gc::new(GcConfig::default()).unwrap();
    ci::set_alloc_black(gc.heap(), false);
    ci::sweep_one(gc.heap());
    ci::sweep_all(gc.heap());
    let _gate = ci::stop_background_sweep(gc.heap());
    ci::mark_bitmap(gc.heap()).clear_mark(gc.heap().arena_base());
}
