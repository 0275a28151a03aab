//! What the macros refuse, and the message they give (trybuild: each `tests/ui/*.rs` must
//! fail to compile with exactly the `.stderr` next to it).

#[test]
fn refusals_name_what_to_use() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
