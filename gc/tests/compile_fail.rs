//! Misuse of the typed API that the types reject: each file under
//! tests/compile_fail/ must fail to compile, with the error in its
//! `.stderr` file (regenerate with `TRYBUILD=overwrite` after a compiler
//! upgrade changes the wording, and read the diff).

#[test]
fn typed_api_misuse_does_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
