// The central lists' span sets and the sweep generation protocol are the
// runtime's (public only in the loom model build).
use marrow_runtime::spanset::SpanSet;
use marrow_runtime::sweep::claim;

fn main() {}
