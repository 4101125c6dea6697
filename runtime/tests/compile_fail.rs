//! Misuse of the runtime that its types reject: reaching the collector's
//! internals (mark bits, sweeping, black allocation, spans, span sets, the
//! statistics lock) from safe code, or keeping the GC bitmap past its heap.
//! Each file under tests/compile_fail/ must fail to compile, with the error
//! in its `.stderr` file (regenerate with `TRYBUILD=overwrite` after a
//! compiler upgrade changes the wording, and read the diff).
#![cfg(not(loom))]

#[test]
fn collector_internals_are_out_of_reach_of_safe_code() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
