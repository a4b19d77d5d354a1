//! What the macros accept, and what they refuse with which message.

#[test]
fn sse_view() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/sse_view/pass/*.rs");
    cases.compile_fail("tests/sse_view/fail/*.rs");
}

#[test]
fn sse_routes() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/sse_routes/pass/*.rs");
    cases.compile_fail("tests/sse_routes/fail/*.rs");
}

#[test]
fn sse_event() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/sse_event/pass/*.rs");
    cases.compile_fail("tests/sse_event/fail/*.rs");
}
