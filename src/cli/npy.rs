//! NumPy `.npy` matrices in and out (through the `npyz` crate): the query files of `search`.

use std::path::Path;

use npyz::{DType, Order, TypeChar, WriterBuilder as _};

use crate::error::{Error, Result};

/// Largest matrix read from a `.npy` file, in values (1 GiB of f32).
pub const MAX_NPY_VALUES: usize = 256 * 1024 * 1024;

/// A row-major f32 matrix read from a `.npy` file.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyMatrix {
    /// `[rows, cols]` row-major.
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("{}: {what}", path.display()))
}

/// Reads a 2-D float32 or float64 array (`[rows, cols]`, C or Fortran order; a 1-D `[cols]`
/// array is one row). float64 values are rounded to f32.
pub fn read_matrix(path: &Path) -> Result<NpyMatrix> {
    const EXPECTED: &str =
        "expected a .npy file holding a float32 or float64 array of shape [Q, D]";
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(file))
        .map_err(|e| bad(path, format!("not a readable .npy file ({e}); {EXPECTED}")))?;
    let (rows, cols) = match *npy.shape() {
        [cols] => (1, cols),
        [rows, cols] => (rows, cols),
        ref other => return Err(bad(path, format!("array of shape {other:?}; {EXPECTED}"))),
    };
    let (rows, cols) = (
        usize::try_from(rows).unwrap_or(usize::MAX),
        usize::try_from(cols).unwrap_or(usize::MAX),
    );
    if rows.saturating_mul(cols) > MAX_NPY_VALUES {
        return Err(bad(
            path,
            format!("array of {rows} x {cols} values is larger than the limit of {MAX_NPY_VALUES}"),
        ));
    }
    let fortran = npy.order() == Order::Fortran;
    let width = match npy.dtype() {
        DType::Plain(ts) if ts.type_char() == TypeChar::Float => ts.num_bytes(),
        _ => None,
    };
    let read_err = |e: std::io::Error| bad(path, format!("cannot read the array data ({e})"));
    let values: Vec<f32> = match width {
        Some(4) => npy.into_vec::<f32>().map_err(read_err)?,
        Some(8) => npy
            .into_vec::<f64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        _ => {
            return Err(bad(
                path,
                format!("array of dtype {}; {EXPECTED}", npy.dtype().descr()),
            ));
        }
    };
    let values = if fortran && rows > 1 && cols > 1 {
        // Column-major on disk: value (r, c) is at c * rows + r.
        (0..rows * cols)
            .map(|i| values[(i % cols) * rows + i / cols])
            .collect()
    } else {
        values
    };
    Ok(NpyMatrix { values, rows, cols })
}

/// Writes `values` (`[rows, cols]` row-major) as a float32 `.npy` file.
pub fn write_matrix(path: &Path, values: &[f32], rows: usize, cols: usize) -> Result<()> {
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    if values.len() != rows * cols {
        return Err(Error::InvalidRequest(format!(
            "{}: {} values do not make a {rows} x {cols} matrix",
            path.display(),
            values.len()
        )));
    }
    let file = std::fs::File::create(path).map_err(werr)?;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(&[rows as u64, cols as u64])
        .writer(std::io::BufWriter::new(file))
        .begin_nd()
        .map_err(werr)?;
    writer.extend(values.iter().copied()).map_err(werr)?;
    writer.finish().map_err(werr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.npy");
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        write_matrix(&p, &v, 2, 3).unwrap();
        let m = read_matrix(&p).unwrap();
        assert_eq!((m.rows, m.cols, m.values.as_slice()), (2, 3, &v[..]));
        let junk = dir.path().join("junk.npy");
        std::fs::write(&junk, b"not numpy at all").unwrap();
        let err = read_matrix(&junk).unwrap_err().to_string();
        assert!(
            err.contains("junk.npy") && err.contains("float32 or float64"),
            "{err}"
        );
    }
}
