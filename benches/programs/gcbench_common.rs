//! What `gcbench` and `gcbench-typed` share: the benchmark's sizes and
//! iteration counts (Ellis, Kovac and Boehm's).

pub const STRETCH_TREE_DEPTH: u32 = 18;
pub const LONG_LIVED_TREE_DEPTH: u32 = 16;
pub const ARRAY_SIZE: usize = 500_000;
pub const MIN_TREE_DEPTH: u32 = 4;
pub const MAX_TREE_DEPTH: u32 = 16;

/// Nodes in a complete tree of depth `i`.
pub fn tree_size(i: u32) -> u64 {
    (1 << (i + 1)) - 1
}

/// Trees built at depth `i`: as many nodes in all as two stretch trees.
pub fn num_iters(i: u32) -> u64 {
    2 * tree_size(STRETCH_TREE_DEPTH) / tree_size(i)
}
