// Objects are freed without destructors: a heap type cannot need Drop.
use marrow_gc::typed::Trace;

#[derive(Trace)]
struct Noisy(u64);

impl Drop for Noisy {
    fn drop(&mut self) {
        println!("dropped");
    }
}

fn main() {}
