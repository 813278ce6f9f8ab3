//! Reading the 2-D arrays of `transference import` and the query files of `transference
//! search`: `.npy` (through `npyz`), safetensors and TensorBoard Projector TSV (one row per line, tab-separated values, as
//! [`crate::index::projector`] writes `vectors.tsv`). Every reader checks the explicit limits
//! below before allocating and names the file in its errors.

use std::path::Path;

use npyz::{DType, NpyFile, Order, TypeChar, WriterBuilder as _};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};

/// Largest input file read, in bytes (2 GiB).
pub const MAX_FILE_BYTES: u64 = 2 << 30;
/// Most rows (items, or codebook entries) an import accepts.
pub const MAX_ROWS: usize = 1_000_000;
/// Most columns (embedding dimensions, or codes per item) an import accepts.
pub const MAX_COLS: usize = 8192;
/// Most values in one array (rows x columns): 256 Mi, 1 GiB of f32.
pub const MAX_VALUES: usize = 1 << 28;

/// A row-major 2-D array `[rows, cols]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<T>,
}

impl<T> Matrix<T> {
    /// Row `i` (`cols` values).
    pub fn row(&self, i: usize) -> &[T] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }
}

/// The file formats an array can come in, decided by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayFormat {
    Npy,
    Safetensors,
    Tsv,
}

/// Extensions of each format, for messages and `--help`.
pub const ARRAY_EXTENSIONS: &str = ".npy, .safetensors, .tsv (or .txt)";

/// Number kind wanted from a file: floats (embeddings, codebook) or integers (codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
}

fn import_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Import {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The format of `path` by its extension.
pub fn format_of(path: &Path) -> Result<ArrayFormat> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "npy" => Ok(ArrayFormat::Npy),
        "safetensors" => Ok(ArrayFormat::Safetensors),
        "tsv" | "txt" => Ok(ArrayFormat::Tsv),
        _ => Err(import_err(
            path,
            format!("unknown array format `.{ext}`; expected one of {ARRAY_EXTENSIONS}"),
        )),
    }
}

/// Reads a float array `[N, D]` (f16/bf16/f32/f64), converted to f32. In a safetensors file
/// the tensor named `name` is used, else the only 2-D float tensor.
pub fn read_floats(path: &Path, name: &str) -> Result<Matrix<f32>> {
    let bytes = read_bytes(path)?;
    match format_of(path)? {
        ArrayFormat::Npy => npy_floats(path, &bytes),
        ArrayFormat::Safetensors => {
            safetensors_matrix(path, &bytes, name, Kind::Float, |dtype, b| match dtype {
                Dtype::F32 => Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                Dtype::F64 => Some(f64::from_le_bytes(b.try_into().ok()?) as f32),
                Dtype::F16 => Some(half::f16::from_le_bytes([b[0], b[1]]).to_f32()),
                Dtype::BF16 => Some(half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
                _ => None,
            })
        }
        ArrayFormat::Tsv => tsv_matrix(path, &bytes, |s| s.parse::<f32>().ok()),
    }
}

/// Reads an integer array `[N, T]` (any signed or unsigned width), or `[N]` read as `[N, 1]`.
/// In a safetensors file the tensor named `name` is used, else the only integer tensor.
pub fn read_ints(path: &Path, name: &str) -> Result<Matrix<i64>> {
    let bytes = read_bytes(path)?;
    match format_of(path)? {
        ArrayFormat::Npy => npy_ints(path, &bytes),
        ArrayFormat::Safetensors => {
            safetensors_matrix(path, &bytes, name, Kind::Int, |dtype, b| match dtype {
                Dtype::I8 => Some(i64::from(b[0] as i8)),
                Dtype::U8 => Some(i64::from(b[0])),
                Dtype::I16 => Some(i64::from(i16::from_le_bytes([b[0], b[1]]))),
                Dtype::U16 => Some(i64::from(u16::from_le_bytes([b[0], b[1]]))),
                Dtype::I32 => Some(i64::from(i32::from_le_bytes(b.try_into().ok()?))),
                Dtype::U32 => Some(i64::from(u32::from_le_bytes(b.try_into().ok()?))),
                Dtype::I64 => Some(i64::from_le_bytes(b.try_into().ok()?)),
                Dtype::U64 => i64::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok(),
                _ => None,
            })
        }
        ArrayFormat::Tsv => tsv_matrix(path, &bytes, |s| s.parse::<i64>().ok()),
    }
}

/// Writes `values` (`[rows, cols]` row-major) as a float32 `.npy` file.
pub fn write_npy(path: &Path, values: &[f32], rows: usize, cols: usize) -> Result<()> {
    let werr = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        source: e,
    };
    if values.len() != rows * cols {
        return Err(Error::Internal(format!(
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

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(import_err(
            path,
            format!("file is {size} bytes; the limit is {MAX_FILE_BYTES}"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.is_empty() {
        return Err(import_err(path, "file is empty"));
    }
    Ok(bytes)
}

/// Checks a shape against the limits; a 1-D shape is read as one column.
fn check_shape(path: &Path, shape: &[usize], allow_1d: bool) -> Result<(usize, usize)> {
    let (rows, cols) = match shape {
        [r, c] => (*r, *c),
        [r] if allow_1d => (*r, 1),
        _ => {
            return Err(import_err(
                path,
                format!(
                    "array has shape {shape:?}; expected 2 dimensions [rows, columns]{}",
                    if allow_1d { " (or 1)" } else { "" }
                ),
            ));
        }
    };
    if rows == 0 || cols == 0 {
        return Err(import_err(
            path,
            format!("array is empty (shape {shape:?}); expected at least one row and column"),
        ));
    }
    if rows > MAX_ROWS || cols > MAX_COLS || rows.saturating_mul(cols) > MAX_VALUES {
        return Err(import_err(
            path,
            format!(
                "array has shape {shape:?}; the limits are {MAX_ROWS} rows, {MAX_COLS} columns \
                 and {MAX_VALUES} values"
            ),
        ));
    }
    Ok((rows, cols))
}

fn npy_header<'a>(path: &Path, bytes: &'a [u8]) -> Result<(NpyFile<&'a [u8]>, String)> {
    let npy =
        NpyFile::new(bytes).map_err(|e| import_err(path, format!("not a .npy file ({e})")))?;
    let dtype = match npy.dtype() {
        DType::Plain(ts) => ts.to_string(),
        other => {
            return Err(import_err(
                path,
                format!(
                    "unsupported dtype {}; expected a plain numeric array",
                    other.descr()
                ),
            ));
        }
    };
    Ok((npy, dtype))
}

/// Reorders a Fortran-order array's values to row-major.
fn to_row_major<T: Copy>(values: Vec<T>, rows: usize, cols: usize, order: Order) -> Vec<T> {
    match order {
        Order::C => values,
        Order::Fortran => (0..rows * cols)
            .map(|k| values[(k % cols) * rows + k / cols])
            .collect(),
    }
}

fn npy_floats(path: &Path, bytes: &[u8]) -> Result<Matrix<f32>> {
    let (npy, dtype) = npy_header(path, bytes)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (rows, cols) = check_shape(path, &shape, false)?;
    let order = npy.order();
    let read_err = |e: std::io::Error| import_err(path, format!("cannot read the data ({e})"));
    let DType::Plain(ts) = npy.dtype() else {
        unreachable!("npy_header accepts plain dtypes only")
    };
    let values: Vec<f32> = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>().map_err(read_err)?,
        (TypeChar::Float, 8) => npy
            .into_vec::<f64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| v as f32)
            .collect(),
        (TypeChar::Float, 2) => npy
            .into_vec::<half::f16>()
            .map_err(read_err)?
            .into_iter()
            .map(half::f16::to_f32)
            .collect(),
        _ => {
            return Err(import_err(
                path,
                format!("unsupported dtype {dtype}; expected float16, float32 or float64"),
            ));
        }
    };
    Ok(Matrix {
        rows,
        cols,
        values: to_row_major(values, rows, cols, order),
    })
}

fn npy_ints(path: &Path, bytes: &[u8]) -> Result<Matrix<i64>> {
    let (npy, dtype) = npy_header(path, bytes)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let (rows, cols) = check_shape(path, &shape, true)?;
    let order = npy.order();
    let read_err = |e: std::io::Error| import_err(path, format!("cannot read the data ({e})"));
    let DType::Plain(ts) = npy.dtype() else {
        unreachable!("npy_header accepts plain dtypes only")
    };
    fn widen<T: Into<i64>>(v: Vec<T>) -> Vec<i64> {
        v.into_iter().map(Into::into).collect()
    }
    let values: Vec<i64> = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Int, 1) => widen(npy.into_vec::<i8>().map_err(read_err)?),
        (TypeChar::Int, 2) => widen(npy.into_vec::<i16>().map_err(read_err)?),
        (TypeChar::Int, 4) => widen(npy.into_vec::<i32>().map_err(read_err)?),
        (TypeChar::Int, 8) => npy.into_vec::<i64>().map_err(read_err)?,
        (TypeChar::Uint, 1) => widen(npy.into_vec::<u8>().map_err(read_err)?),
        (TypeChar::Uint, 2) => widen(npy.into_vec::<u16>().map_err(read_err)?),
        (TypeChar::Uint, 4) => widen(npy.into_vec::<u32>().map_err(read_err)?),
        (TypeChar::Uint, 8) => npy
            .into_vec::<u64>()
            .map_err(read_err)?
            .into_iter()
            .map(|v| i64::try_from(v).unwrap_or(i64::MAX))
            .collect(),
        _ => {
            return Err(import_err(
                path,
                format!(
                    "unsupported dtype {dtype}; expected an integer array (int8..int64, uint8..uint64)"
                ),
            ));
        }
    };
    Ok(Matrix {
        rows,
        cols,
        values: to_row_major(values, rows, cols, order),
    })
}

fn is_kind(dtype: Dtype, kind: Kind) -> bool {
    match kind {
        Kind::Float => matches!(dtype, Dtype::F16 | Dtype::BF16 | Dtype::F32 | Dtype::F64),
        Kind::Int => matches!(
            dtype,
            Dtype::I8
                | Dtype::U8
                | Dtype::I16
                | Dtype::U16
                | Dtype::I32
                | Dtype::U32
                | Dtype::I64
                | Dtype::U64
        ),
    }
}

/// The tensor `name`, else the only tensor of the wanted kind with 2 dimensions (1 or 2 for
/// integers), converted value by value with `convert(dtype, little-endian bytes)`.
fn safetensors_matrix<T>(
    path: &Path,
    bytes: &[u8],
    name: &str,
    kind: Kind,
    convert: impl Fn(Dtype, &[u8]) -> Option<T>,
) -> Result<Matrix<T>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Safetensors {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let allow_1d = kind == Kind::Int;
    let wanted = match kind {
        Kind::Float => "2-D float tensor",
        Kind::Int => "integer tensor",
    };
    let chosen = if st.names().contains(&name) {
        name.to_string()
    } else {
        let mut candidates: Vec<String> = st
            .tensors()
            .into_iter()
            .filter(|(_, v)| {
                is_kind(v.dtype(), kind)
                    && (v.shape().len() == 2 || allow_1d && v.shape().len() == 1)
            })
            .map(|(n, _)| n)
            .collect();
        candidates.sort();
        match candidates.as_slice() {
            [only] => only.clone(),
            [] => {
                return Err(import_err(
                    path,
                    format!("no tensor `{name}` and no {wanted} in the file; expected one"),
                ));
            }
            many => {
                return Err(import_err(
                    path,
                    format!(
                        "no tensor `{name}`, and {} candidates ({}); name the one to use `{name}`",
                        many.len(),
                        many.join(", ")
                    ),
                ));
            }
        }
    };
    let view = st
        .tensor(&chosen)
        .map_err(|e| import_err(path, format!("tensor `{chosen}`: {e}")))?;
    if !is_kind(view.dtype(), kind) {
        return Err(import_err(
            path,
            format!(
                "tensor `{chosen}` has unsupported dtype {:?}; expected a {wanted}",
                view.dtype()
            ),
        ));
    }
    let (rows, cols) = check_shape(path, view.shape(), allow_1d)?;
    let width = view.dtype().bitsize() / 8;
    let values = view
        .data()
        .chunks_exact(width)
        .map(|b| {
            convert(view.dtype(), b).ok_or_else(|| {
                import_err(
                    path,
                    format!("tensor `{chosen}` holds a value out of range"),
                )
            })
        })
        .collect::<Result<Vec<T>>>()?;
    Ok(Matrix { rows, cols, values })
}

/// One row per non-empty line, tab-separated numbers, every row the same length.
fn tsv_matrix<T>(
    path: &Path,
    bytes: &[u8],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Matrix<T>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| import_err(path, format!("not UTF-8 text ({e})")))?;
    let mut values = Vec::new();
    let mut cols = 0;
    let mut rows = 0;
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if rows == 0 {
            cols = fields.len();
            check_shape(path, &[1, cols], false)?;
        } else if fields.len() != cols {
            return Err(import_err(
                path,
                format!(
                    "line {} has {} values, expected {cols} like the first row",
                    line_no + 1,
                    fields.len()
                ),
            ));
        }
        for (j, field) in fields.iter().enumerate() {
            let v = parse(field.trim()).ok_or_else(|| {
                import_err(
                    path,
                    format!(
                        "line {}, column {}: `{field}` is not a number",
                        line_no + 1,
                        j + 1
                    ),
                )
            })?;
            values.push(v);
        }
        rows += 1;
        check_shape(path, &[rows, cols], false)?;
    }
    if rows == 0 {
        return Err(import_err(
            path,
            "no rows; expected one tab-separated row per item",
        ));
    }
    Ok(Matrix { rows, cols, values })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::npy_bytes as npy;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn npy_float64_and_fortran_order_read_row_major() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // [[1, 2, 3], [4, 5, 6]] stored column by column.
        let data: Vec<u8> = [1.0f64, 4.0, 2.0, 5.0, 3.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let path = write(tmp.path(), "f.npy", &npy("<f8", "(2, 3)", true, &data));
        let m = read_floats(&path, "embeddings").expect("read");
        assert_eq!((m.rows, m.cols), (2, 3));
        assert_eq!(m.values, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // uint16 codes, 1-D read as one column.
        let codes: Vec<u8> = [7u16, 0, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        let path = write(tmp.path(), "c.npy", &npy("<u2", "(3,)", false, &codes));
        let c = read_ints(&path, "codes").expect("codes");
        assert_eq!((c.rows, c.cols, c.values), (3, 1, vec![7, 0, 3]));
        // A 3-D array is refused with its shape.
        let path = write(
            tmp.path(),
            "3d.npy",
            &npy("<f4", "(1, 1, 1)", false, &[0; 4]),
        );
        let err = read_floats(&path, "embeddings").unwrap_err().to_string();
        assert!(
            err.contains("[1, 1, 1]") && err.contains("2 dimensions"),
            "{err}"
        );
    }

    #[test]
    fn safetensors_picks_the_named_tensor_or_the_only_candidate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let h: Vec<u8> = [half::f16::from_f32(0.5), half::f16::from_f32(-2.0)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let view = |dtype, shape: Vec<usize>, bytes| {
            safetensors::tensor::TensorView::new(dtype, shape, bytes).expect("view")
        };
        let two = safetensors::serialize(
            vec![
                ("a", view(Dtype::F32, vec![1, 2], &a)),
                ("b", view(Dtype::F16, vec![2, 1], &h)),
            ],
            None,
        )
        .expect("serialize");
        let path = write(tmp.path(), "two.safetensors", &two);
        let err = read_floats(&path, "embeddings").unwrap_err().to_string();
        assert!(err.contains("2 candidates (a, b)"), "{err}");
        let b = read_floats(&path, "b").expect("named");
        assert_eq!((b.rows, b.cols, b.values), (2, 1, vec![0.5, -2.0]));
        let err = read_ints(&path, "codes").unwrap_err().to_string();
        assert!(err.contains("no integer tensor"), "{err}");
    }

    #[test]
    fn tsv_rows_must_agree_and_hold_numbers() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = write(tmp.path(), "v.tsv", b"1\t2\n3\t4\n\n");
        let m = read_floats(&path, "embeddings").expect("tsv");
        assert_eq!((m.rows, m.cols), (2, 2));
        let path = write(tmp.path(), "r.tsv", b"1\t2\n3\n");
        let err = read_floats(&path, "embeddings").unwrap_err().to_string();
        assert!(err.contains("line 2 has 1 values, expected 2"), "{err}");
        let path = write(tmp.path(), "x.tsv", b"1\tx\n");
        let err = read_floats(&path, "embeddings").unwrap_err().to_string();
        assert!(
            err.contains("line 1, column 2: `x` is not a number"),
            "{err}"
        );
        let path = write(tmp.path(), "v.csv", b"1,2\n");
        let err = read_floats(&path, "embeddings").unwrap_err().to_string();
        assert!(err.contains("unknown array format `.csv`"), "{err}");
    }
}

#[cfg(test)]
mod npy_writer_tests {
    use super::*;

    #[test]
    fn written_npy_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.npy");
        let v = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        write_npy(&p, &v, 2, 3).unwrap();
        let m = read_floats(&p, "queries").unwrap();
        assert_eq!((m.rows, m.cols, m.values.as_slice()), (2, 3, &v[..]));
        assert!(
            write_npy(&p, &v, 4, 4)
                .unwrap_err()
                .to_string()
                .contains("4 x 4")
        );
    }
}
