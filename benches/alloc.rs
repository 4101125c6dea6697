//! Allocation benchmarks (being written).
fn main() {}
