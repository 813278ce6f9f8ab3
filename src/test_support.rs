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

/// A little-endian `.npy` file's bytes with dtype `descr` (e.g. `<f4`, `<u2`), a Python shape
/// tuple `shape` (e.g. `(2, 3)`, `(3,)`) and `data` in C or Fortran order, written by hand so
/// tests can make dtypes and orders the library's own writer does not.
pub fn npy_bytes(descr: &str, shape: &str, fortran: bool, data: &[u8]) -> Vec<u8> {
    let order = if fortran { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// Pearson correlation of two equally long byte images (how alike two views are).
pub fn correlation(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len() as f64;
    let mean = |v: &[u8]| v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt()
}
