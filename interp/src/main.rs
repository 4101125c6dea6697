//! The `marrow` binary: runs Scheme scripts on the Marrow heap (being built; see issue 4).
fn main() {
    eprintln!("marrow: the Scheme interpreter is not built yet");
    std::process::exit(2);
}
