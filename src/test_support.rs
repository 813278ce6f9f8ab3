//! Helpers shared by the unit tests and the integration tests (`tests/`); not part of the
//! application.

/// True when running under CI (`CI` set to anything but empty, `0` or `false`).
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// For a test that cannot run on this machine (a tool or driver is missing): passes with a
/// note locally, but panics under CI, where `.ci/run` installs everything the tests need.
pub fn skip_unless_ci(why: &str) {
    if under_ci() {
        panic!("cannot run under CI: {why}");
    }
    eprintln!("SKIPPED: {why}");
}
