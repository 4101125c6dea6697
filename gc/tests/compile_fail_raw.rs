//! Misuse of a collected heap that the types reject: making an allocation
//! cache on it, or driving the collector's hooks (black allocation,
//! sweeping, mark bits) from safe code. Each file under
//! tests/compile_fail_raw/ must fail to compile, with the error in its
//! `.stderr` file (regenerate with `TRYBUILD=overwrite` and read the diff).
#![cfg(not(loom))]

#[test]
fn collected_heap_misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail_raw/*.rs");
}
