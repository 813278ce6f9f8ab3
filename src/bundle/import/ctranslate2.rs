//! Reader of CTranslate2's `model.bin` (format version 6, little-endian), as written by
//! CTranslate2's `specs/model_spec.py`:
//!
//! ```text
//! u32 version · string spec name · u32 revision · u32 variable count
//! per variable: string name · u8 rank · u32 per dimension · u8 dtype · u32 byte count · bytes
//! u32 alias count · per alias: string alias · string target
//! string: u16 length (with the trailing NUL) · bytes · NUL
//! dtype: 0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16
//! ```
//!
//! Every read is bounds-checked: a truncated or malformed file is refused with the byte offset
//! and the variable being read, never a panic.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The only format version this reader knows.
pub const CT2_FORMAT_VERSION: u32 = 6;

/// Element type of a stored variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ct2Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Ct2Dtype {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Ct2Dtype::F32,
            1 => Ct2Dtype::I8,
            2 => Ct2Dtype::I16,
            3 => Ct2Dtype::I32,
            4 => Ct2Dtype::F16,
            5 => Ct2Dtype::Bf16,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size_bytes(self) -> usize {
        match self {
            Ct2Dtype::I8 => 1,
            Ct2Dtype::I16 | Ct2Dtype::F16 | Ct2Dtype::Bf16 => 2,
            Ct2Dtype::F32 | Ct2Dtype::I32 => 4,
        }
    }
}

/// One variable: its name (`encoder/conv1/weight`), shape, element type and raw bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Ct2Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: Ct2Dtype,
    pub bytes: Vec<u8>,
}

/// A whole `model.bin`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ct2Model {
    /// The spec's name, e.g. `WhisperSpec`.
    pub spec: String,
    pub revision: u32,
    pub variables: Vec<Ct2Variable>,
    /// `(alias, target)` pairs.
    pub aliases: Vec<(String, String)>,
}

impl Ct2Model {
    /// The variable called `name`.
    pub fn get(&self, name: &str) -> Option<&Ct2Variable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// Parses `bytes` (the contents of `path`, which only names the file in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self> {
        let mut r = Reader {
            bytes,
            pos: 0,
            path: path.to_path_buf(),
        };
        let version = r.u32("the format version")?;
        if version != CT2_FORMAT_VERSION {
            return Err(r.error(format!(
                "CTranslate2 format version {version}; expected {CT2_FORMAT_VERSION}"
            )));
        }
        let spec = r.string("the spec name")?;
        let revision = r.u32("the spec revision")?;
        let count = r.u32("the variable count")? as usize;
        let mut variables = Vec::with_capacity(count.min(4096));
        for index in 0..count {
            let what = |field: &str| format!("{field} of variable {index}");
            let name = r.string(&what("the name"))?;
            let what = |field: &str| format!("{field} of `{name}`");
            let rank = r.u8(&what("the rank"))? as usize;
            let shape = (0..rank)
                .map(|_| r.u32(&what("a dimension")).map(|d| d as usize))
                .collect::<Result<Vec<_>>>()?;
            let code = r.u8(&what("the dtype"))?;
            let dtype = Ct2Dtype::from_code(code)
                .ok_or_else(|| r.error(format!("`{name}` has unknown dtype code {code}")))?;
            let n_bytes = r.u32(&what("the byte count"))? as usize;
            let elements: usize = shape.iter().product();
            if elements.checked_mul(dtype.size_bytes()) != Some(n_bytes) {
                return Err(r.error(format!(
                    "`{name}` stores {n_bytes} bytes, but shape {shape:?} of {dtype:?} needs {}",
                    elements.saturating_mul(dtype.size_bytes())
                )));
            }
            let bytes = r.take(n_bytes, &what("the values"))?.to_vec();
            variables.push(Ct2Variable {
                name,
                shape,
                dtype,
                bytes,
            });
        }
        let n_aliases = r.u32("the alias count")? as usize;
        let mut aliases = Vec::with_capacity(n_aliases.min(4096));
        for _ in 0..n_aliases {
            let alias = r.string("an alias")?;
            let target = r.string(&format!("the target of alias `{alias}`"))?;
            aliases.push((alias, target));
        }
        if r.pos != bytes.len() {
            return Err(r.error(format!(
                "{} bytes follow the end of the model",
                bytes.len() - r.pos
            )));
        }
        Ok(Ct2Model {
            spec,
            revision,
            variables,
            aliases,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: PathBuf,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: String) -> Error {
        Error::Import {
            path: self.path.clone(),
            reason: format!("not a CTranslate2 model.bin: {reason}"),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(self.error(format!(
                "the file ends at byte {} while reading {what} ({n} bytes from byte {}); \
                 is it truncated?",
                self.bytes.len(),
                self.pos
            )));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.u16(what)? as usize;
        let raw = self.take(n, what)?;
        let text = raw.strip_suffix(&[0]).unwrap_or(raw);
        String::from_utf8(text.to_vec())
            .map_err(|_| self.error(format!("{what} is not UTF-8 text")))
    }
}

/// Writes a `model.bin` in the same format (for tests of the reader and of converters).
pub fn write(model: &Ct2Model) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend(((s.len() + 1) as u16).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }
    let mut out = Vec::new();
    out.extend(CT2_FORMAT_VERSION.to_le_bytes());
    string(&mut out, &model.spec);
    out.extend(model.revision.to_le_bytes());
    out.extend((model.variables.len() as u32).to_le_bytes());
    for v in &model.variables {
        string(&mut out, &v.name);
        out.push(v.shape.len() as u8);
        for d in &v.shape {
            out.extend((*d as u32).to_le_bytes());
        }
        out.push(match v.dtype {
            Ct2Dtype::F32 => 0,
            Ct2Dtype::I8 => 1,
            Ct2Dtype::I16 => 2,
            Ct2Dtype::I32 => 3,
            Ct2Dtype::F16 => 4,
            Ct2Dtype::Bf16 => 5,
        });
        out.extend((v.bytes.len() as u32).to_le_bytes());
        out.extend(&v.bytes);
    }
    out.extend((model.aliases.len() as u32).to_le_bytes());
    for (alias, target) in &model.aliases {
        string(&mut out, alias);
        string(&mut out, target);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Ct2Model {
        Ct2Model {
            spec: "WhisperSpec".into(),
            revision: 3,
            variables: vec![
                Ct2Variable {
                    name: "encoder/conv1/bias".into(),
                    shape: vec![2],
                    dtype: Ct2Dtype::F16,
                    bytes: vec![0, 60, 0, 64],
                },
                Ct2Variable {
                    name: "encoder/num_heads".into(),
                    shape: vec![],
                    dtype: Ct2Dtype::I16,
                    bytes: vec![6, 0],
                },
            ],
            aliases: vec![("a/b".into(), "encoder/conv1/bias".into())],
        }
    }

    #[test]
    fn round_trips_through_the_writer() {
        let model = tiny();
        let parsed = Ct2Model::parse(&write(&model), Path::new("m.bin")).unwrap();
        assert_eq!(parsed, model);
        assert_eq!(parsed.get("encoder/num_heads").unwrap().bytes, vec![6, 0]);
    }

    #[test]
    fn every_truncation_is_refused_with_the_offset_and_no_panic() {
        let bytes = write(&tiny());
        for cut in 0..bytes.len() {
            let err = Ct2Model::parse(&bytes[..cut], Path::new("m.bin")).unwrap_err();
            let text = err.to_string();
            assert!(
                text.starts_with("m.bin: not a CTranslate2 model.bin"),
                "{text}"
            );
            assert!(text.contains("truncated"), "cut {cut}: {text}");
        }
    }

    #[test]
    fn a_wrong_version_size_or_trailing_bytes_are_named() {
        let mut bytes = write(&tiny());
        bytes[0] = 5;
        let text = Ct2Model::parse(&bytes, Path::new("m.bin"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("format version 5; expected 6"), "{text}");

        let mut model = tiny();
        model.variables[0].shape = vec![3];
        let text = Ct2Model::parse(&write(&model), Path::new("m.bin"))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("`encoder/conv1/bias` stores 4 bytes"),
            "{text}"
        );

        let mut bytes = write(&tiny());
        bytes.push(0);
        let text = Ct2Model::parse(&bytes, Path::new("m.bin"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("1 bytes follow the end"), "{text}");
    }
}
