//! The tensor store: the sets as one safetensors file ([`DATA_FILE`]) written safely, and
//! [`load`], which reads it back with [`META_FILE`], checking every tensor.

use std::borrow::Cow;
use std::path::Path;

use safetensors::tensor::View;
use safetensors::{Dtype, SafeTensors};

use super::tensor_names as tn;
use super::{DATA_FILE, DataMeta, DigitsData, LabeledSet, META_FILE, META_FORMAT};
use crate::error::{Error, Result};

/// The hint appended to every loading error.
pub(super) const RERUN_HINT: &str = "rerun `transference data`";

/// A tensor to serialise, converted to little-endian bytes only when written.
pub(super) enum OutTensor<'a> {
    F32(&'a [f32], Vec<usize>),
    I64(Vec<i64>, Vec<usize>),
}

impl View for &OutTensor<'_> {
    fn dtype(&self) -> Dtype {
        match self {
            OutTensor::F32(..) => Dtype::F32,
            OutTensor::I64(..) => Dtype::I64,
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            OutTensor::F32(_, s) | OutTensor::I64(_, s) => s,
        }
    }

    fn data(&self) -> Cow<'_, [u8]> {
        match self {
            OutTensor::F32(v, _) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            OutTensor::I64(v, _) => Cow::Owned(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        }
    }

    fn data_len(&self) -> usize {
        match self {
            OutTensor::F32(v, _) => v.len() * 4,
            OutTensor::I64(v, _) => v.len() * 8,
        }
    }
}

/// `(features name, labels name, groups name, set)`.
pub(super) type SetSpec<'a> = (&'a str, &'a str, Option<&'a str>, &'a LabeledSet);

/// Writes the sets to `path` safely ([`crate::safe_write::write_file_with`]).
pub(super) fn write_data_file(path: &Path, sets: &[SetSpec<'_>]) -> Result<()> {
    let mut tensors: Vec<(String, OutTensor<'_>)> = Vec::new();
    for &(features, labels, groups, set) in sets {
        let n = set.len();
        let mut shape = vec![n];
        shape.extend_from_slice(&set.feature_shape);
        if set.features.len() != n * set.item_len() {
            return Err(Error::Internal(format!(
                "{features}: {} values for {n} items of shape {:?}",
                set.features.len(),
                set.feature_shape
            )));
        }
        tensors.push((features.to_string(), OutTensor::F32(&set.features, shape)));
        tensors.push((
            labels.to_string(),
            OutTensor::I64(set.labels.iter().map(|&l| i64::from(l)).collect(), vec![n]),
        ));
        if let Some(groups) = groups {
            tensors.push((
                groups.to_string(),
                OutTensor::I64(set.groups.iter().map(|&g| i64::from(g)).collect(), vec![n]),
            ));
        }
    }
    let mut info = std::collections::HashMap::new();
    info.insert("format".to_string(), META_FORMAT.to_string());
    info.insert("created_by".to_string(), "transference data".to_string());
    write_tensor_file(path, &tensors, info)
}

/// Writes named tensors and header metadata to `path` safely
/// ([`crate::safe_write::write_file_with`]).
pub(super) fn write_tensor_file(
    path: &Path,
    tensors: &[(String, OutTensor<'_>)],
    info: std::collections::HashMap<String, String>,
) -> Result<()> {
    crate::safe_write::write_file_with(path, |tmp| {
        safetensors::serialize_to_file(
            tensors.iter().map(|(name, t)| (name.as_str(), t)),
            Some(info),
            tmp,
        )
        .map_err(|e| Error::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// Reads a whole file; a missing file is an [`Error::Data`] that says how to make it.
pub(super) fn read_required(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Data {
                path: path.to_path_buf(),
                reason: format!("not found; {RERUN_HINT}"),
            }
        } else {
            Error::io(path, e)
        }
    })
}

/// Reads prepared data from `dir` ([`META_FILE`] and [`DATA_FILE`]), checking every tensor's
/// presence, dtype and shape against the metadata, the labels (0..9) and the group indices.
///
/// Errors name the file and what is wrong: [`Error::Data`] for a missing file, an
/// unreadable or inconsistent `meta.json`, a missing tensor or a wrong dtype/shape/value;
/// [`Error::Safetensors`] for a file that is not safetensors; [`Error::Io`] for read failures.
pub fn load(dir: &Path) -> Result<DigitsData> {
    let meta_path = dir.join(META_FILE);
    let meta_bytes = read_required(&meta_path)?;
    let meta: DataMeta = serde_json::from_slice(&meta_bytes).map_err(|e| Error::Data {
        path: meta_path.clone(),
        reason: format!("not a valid data description ({e}); {RERUN_HINT}"),
    })?;
    drop(meta_bytes);
    if meta.format != META_FORMAT {
        return Err(Error::Data {
            path: meta_path,
            reason: format!(
                "format {} is not supported (this build reads format {META_FORMAT}); {RERUN_HINT}",
                meta.format
            ),
        });
    }
    if meta.image_config.channels != 1 {
        return Err(Error::Data {
            path: meta_path,
            reason: format!(
                "image_config.channels is {}, expected 1; {RERUN_HINT}",
                meta.image_config.channels
            ),
        });
    }
    let data_path = dir.join(DATA_FILE);
    let bytes = read_required(&data_path)?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
        path: data_path.clone(),
        reason: format!("{e}; {RERUN_HINT}"),
    })?;
    let reader = SetReader {
        st: &st,
        path: &data_path,
    };
    let image_shape = [
        meta.image_config.height as usize,
        meta.image_config.width as usize,
    ];
    let audio_shape = [meta.audio_config.n_mels, meta.audio_config.n_frames];
    let n_speakers = meta.speakers.len();
    let n_voices = meta.synth_voices.len();
    let image_train = reader.read(tn::IMAGE_TRAIN, tn::IMAGE_TRAIN_LABELS, None, &image_shape)?;
    let image_test = reader.read(tn::IMAGE_TEST, tn::IMAGE_TEST_LABELS, None, &image_shape)?;
    let n_typefaces = meta.typefaces.len();
    let mut data = DigitsData {
        image_print_train: reader.read(
            tn::IMAGE_PRINT_TRAIN,
            tn::IMAGE_PRINT_TRAIN_LABELS,
            Some((tn::IMAGE_PRINT_TRAIN_TYPEFACES, n_typefaces)),
            &image_shape,
        )?,
        image_print_val: reader.read(
            tn::IMAGE_PRINT_VAL,
            tn::IMAGE_PRINT_VAL_LABELS,
            Some((tn::IMAGE_PRINT_VAL_TYPEFACES, n_typefaces)),
            &image_shape,
        )?,
        image_scan_train: reader.read(
            tn::IMAGE_SCAN_TRAIN,
            tn::IMAGE_SCAN_TRAIN_LABELS,
            Some((tn::IMAGE_SCAN_TRAIN_SOURCES, image_train.len())),
            &image_shape,
        )?,
        image_scan_test: reader.read(
            tn::IMAGE_SCAN_TEST,
            tn::IMAGE_SCAN_TEST_LABELS,
            Some((tn::IMAGE_SCAN_TEST_SOURCES, image_test.len())),
            &image_shape,
        )?,
        image_train,
        image_test,
        audio_train: reader.read(
            tn::AUDIO_TRAIN,
            tn::AUDIO_TRAIN_LABELS,
            Some((tn::AUDIO_TRAIN_SPEAKERS, n_speakers)),
            &audio_shape,
        )?,
        audio_val: reader.read(
            tn::AUDIO_VAL,
            tn::AUDIO_VAL_LABELS,
            Some((tn::AUDIO_VAL_SPEAKERS, n_speakers)),
            &audio_shape,
        )?,
        audio_synth: reader.read(
            tn::AUDIO_SYNTH,
            tn::AUDIO_SYNTH_LABELS,
            Some((tn::AUDIO_SYNTH_VOICES, n_voices)),
            &audio_shape,
        )?,
        audio_synth_val: reader.read(
            tn::AUDIO_SYNTH_VAL,
            tn::AUDIO_SYNTH_VAL_LABELS,
            Some((tn::AUDIO_SYNTH_VAL_VOICES, n_voices)),
            &audio_shape,
        )?,
        audio_aug: reader.read(
            tn::AUDIO_AUG,
            tn::AUDIO_AUG_LABELS,
            Some((tn::AUDIO_AUG_GROUPS, n_speakers + n_voices)),
            &audio_shape,
        )?,
        speech: None,
        meta,
    };
    data.speech = super::speech_cache::read_speech_file(
        dir,
        &[
            (tn::AUDIO_TRAIN, data.audio_train.len()),
            (tn::AUDIO_VAL, data.audio_val.len()),
            (tn::AUDIO_SYNTH, data.audio_synth.len()),
            (tn::AUDIO_SYNTH_VAL, data.audio_synth_val.len()),
            (tn::AUDIO_AUG, data.audio_aug.len()),
        ],
    )?;
    Ok(data)
}

/// Reads the sets of one safetensors file, naming it in every error.
pub(super) struct SetReader<'a, 'data> {
    pub(super) st: &'a SafeTensors<'data>,
    pub(super) path: &'a Path,
}

impl SetReader<'_, '_> {
    pub(super) fn bad(&self, msg: String) -> Error {
        Error::Data {
            path: self.path.to_path_buf(),
            reason: format!("{msg}; {RERUN_HINT}"),
        }
    }

    pub(super) fn tensor(&self, name: &str, dtype: Dtype) -> Result<(Vec<usize>, &[u8])> {
        let view = self
            .st
            .tensor(name)
            .map_err(|_| self.bad(format!("missing tensor {name}")))?;
        if view.dtype() != dtype {
            return Err(self.bad(format!(
                "tensor {name} has dtype {:?}, expected {dtype:?}",
                view.dtype()
            )));
        }
        Ok((view.shape().to_vec(), view.data()))
    }

    pub(super) fn ints(&self, name: &str, n: usize, below: usize) -> Result<Vec<u32>> {
        let (shape, data) = self.tensor(name, Dtype::I64)?;
        if shape != [n] {
            return Err(self.bad(format!("tensor {name} has shape {shape:?}, expected [{n}]")));
        }
        data.chunks_exact(8)
            .map(|c| {
                let v = i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
                u32::try_from(v)
                    .ok()
                    .filter(|&u| (u as usize) < below)
                    .ok_or_else(|| self.bad(format!("tensor {name} holds {v}, outside 0..{below}")))
            })
            .collect()
    }

    fn read(
        &self,
        features: &str,
        labels: &str,
        groups: Option<(&str, usize)>,
        item_shape: &[usize],
    ) -> Result<LabeledSet> {
        let (shape, data) = self.tensor(features, Dtype::F32)?;
        if shape.len() != item_shape.len() + 1 || shape[1..] != *item_shape {
            return Err(self.bad(format!(
                "tensor {features} has shape {shape:?}, expected [N, {}]",
                item_shape
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let n = shape[0];
        let values: Vec<f32> = data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let non_finite = values.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            return Err(self.bad(format!(
                "tensor {features} holds {non_finite} NaN/infinite values"
            )));
        }
        let labels: Vec<u8> = self
            .ints(labels, n, 10)?
            .into_iter()
            .map(|l| l as u8)
            .collect();
        let groups = match groups {
            Some((name, count)) => self.ints(name, n, count)?,
            None => vec![0; n],
        };
        Ok(LabeledSet {
            features: values,
            feature_shape: item_shape.to_vec(),
            labels,
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::data::test_support::prepare_tiny;

    #[test]
    fn missing_or_broken_data_files_give_typed_errors_with_the_path() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (_, out) = prepare_tiny(tmp.path());
        let data_path = out.join(DATA_FILE);
        let good = std::fs::read(&data_path).expect("read");

        // Missing tensor: rewrite the file without audio_val.
        let st = SafeTensors::deserialize(&good).expect("deserialize");
        let kept: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
            .tensors()
            .into_iter()
            .filter(|(n, _)| n != tn::AUDIO_VAL)
            .collect();
        std::fs::write(&data_path, safetensors::serialize(kept, None).expect("ser"))
            .expect("write");
        match load(&out) {
            Err(e @ Error::Data { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(&data_path.display().to_string()), "{msg}");
                assert!(msg.contains("missing tensor audio_val"), "{msg}");
                assert!(msg.contains("transference data"), "{msg}");
            }
            other => panic!("expected Data, got {other:?}"),
        }

        // Garbled bytes.
        std::fs::write(&data_path, b"this is not a safetensors file at all").expect("write");
        match load(&out) {
            Err(Error::Safetensors { path, .. }) => assert_eq!(path, data_path),
            other => panic!("expected Safetensors, got {other:?}"),
        }
        // Truncated.
        std::fs::write(&data_path, &good[..good.len() / 2]).expect("write");
        assert!(matches!(load(&out), Err(Error::Safetensors { .. })));

        // Missing file.
        std::fs::remove_file(&data_path).expect("rm");
        match load(&out) {
            Err(e @ Error::Data { .. }) => {
                assert!(
                    e.to_string().contains(&data_path.display().to_string()),
                    "{e}"
                );
                assert!(e.is_bad_input());
            }
            other => panic!("expected Data, got {other:?}"),
        }

        // Garbled metadata.
        std::fs::write(&data_path, &good).expect("restore");
        load(&out).expect("restored");
        let meta_path = out.join(META_FILE);
        std::fs::write(&meta_path, "{\"format\": 1").expect("write");
        match load(&out) {
            Err(Error::Data { path, .. }) => assert_eq!(path, meta_path),
            other => panic!("expected Data, got {other:?}"),
        }
        assert!(matches!(
            load(&tmp.path().join("nowhere")),
            Err(Error::Data { .. })
        ));
    }
}
