//! Moving module parameters to and from safetensors files, with validation.
//!
//! Loading walks the module (every float parameter has a path such as
//! `image.convs.0.weight`), finds each tensor in the file through a naming function,
//! and checks dtype, shape and finiteness before anything is replaced. A file that fails
//! any check is refused whole, naming the file and the tensor.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};

use crate::bundle::param_paths::{self, MapByPath, VisitByPath};
use crate::error::{Error, Result};

/// How a parameter path maps to a tensor name in a file.
pub trait Naming {
    /// File tensor name for `path` (relative to the scope), and whether the stored matrix
    /// is the transpose of the parameter. `None`: the parameter is not in this file.
    fn name(&self, path: &str) -> Option<(String, bool)>;
    /// File tensors that may be present but are not loaded (e.g. a BERT pooler).
    fn ignored(&self, _name: &str) -> bool {
        false
    }
}

/// Tensor names equal parameter paths.
pub struct Identity;

impl Naming for Identity {
    fn name(&self, path: &str) -> Option<(String, bool)> {
        Some((path.to_string(), false))
    }
}

/// Hugging Face BERT names (see [`crate::model::text_encoder::hf_bert_name`]).
pub struct HuggingFaceBert;

impl Naming for HuggingFaceBert {
    fn name(&self, path: &str) -> Option<(String, bool)> {
        crate::model::text_encoder::hf_bert_name(path)
    }
    fn ignored(&self, name: &str) -> bool {
        name.starts_with("pooler.") || name == "embeddings.position_ids"
    }
}

/// The converted Whisper encoder's names (see
/// [`crate::model::whisper_encoder::whisper_tensor_name`]).
pub struct WhisperCt2;

impl Naming for WhisperCt2 {
    fn name(&self, path: &str) -> Option<(String, bool)> {
        crate::model::whisper_encoder::whisper_tensor_name(path)
    }
}

/// One float tensor as host data.
#[derive(Clone, Debug, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

/// A safetensors file read into memory and indexed.
pub struct WeightFile {
    path: PathBuf,
    tensors: BTreeMap<String, HostTensor>,
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    match dtype {
        Dtype::F32 => Some(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        Dtype::F16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        Dtype::BF16 => Some(
            bytes
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        ),
        _ => None,
    }
}

impl WeightFile {
    /// Reads and checks a safetensors file: header, every float tensor's dtype and
    /// finiteness. Non-float tensors are kept out (they are reported only if requested).
    pub fn read(path: &Path, naming: &dyn Naming) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::from_bytes(&bytes, path, naming)
    }

    /// As [`WeightFile::read`], from bytes; `path` names the source in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path, naming: &dyn Naming) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| Error::Safetensors {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if naming.ignored(&name) {
                continue;
            }
            let values = to_f32(view.dtype(), view.data()).ok_or_else(|| Error::TensorDtype {
                path: path.to_path_buf(),
                tensor: name.clone(),
                found: format!("{:?}", view.dtype()),
            })?;
            let count = values.iter().filter(|v| !v.is_finite()).count();
            if count > 0 {
                return Err(Error::NonFinite {
                    path: path.to_path_buf(),
                    tensor: name,
                    count,
                });
            }
            tensors.insert(
                name,
                HostTensor {
                    shape: view.shape().to_vec(),
                    values,
                },
            );
        }
        Ok(WeightFile {
            path: path.to_path_buf(),
            tensors,
        })
    }

    /// Path the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensor names in the file (ignored ones excluded).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// One tensor.
    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }
}

fn transpose_2d(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = values[r * cols + c];
        }
    }
    out
}

struct Loader<'a> {
    file: &'a WeightFile,
    naming: &'a dyn Naming,
    scope: &'a str,
    device: Device,
    used: BTreeSet<String>,
    error: Option<Error>,
}

impl Loader<'_> {
    fn relative_path(&self, full: &str) -> Option<String> {
        if self.scope.is_empty() {
            return Some(full.to_string());
        }
        full.strip_prefix(self.scope)
            .and_then(|rest| rest.strip_prefix('.'))
            .map(str::to_string)
    }

    fn lookup(&mut self, path: &str, expected: &[usize]) -> Option<Vec<f32>> {
        if self.error.is_some() {
            return None;
        }
        let relative = self.relative_path(path)?;
        let (name, transposed) = self.naming.name(&relative)?;
        let file_path = self.file.path.clone();
        let Some(tensor) = self.file.tensors.get(&name) else {
            self.error = Some(Error::MissingTensor {
                path: file_path,
                tensor: name,
                expected: expected.to_vec(),
            });
            return None;
        };
        let stored_expected: Vec<usize> = if transposed {
            expected.iter().rev().copied().collect()
        } else {
            expected.to_vec()
        };
        if tensor.shape != stored_expected {
            self.error = Some(Error::TensorShape {
                path: file_path,
                tensor: name,
                expected: stored_expected,
                found: tensor.shape.clone(),
            });
            return None;
        }
        self.used.insert(name);
        Some(if transposed {
            transpose_2d(&tensor.values, tensor.shape[0], tensor.shape[1])
        } else {
            tensor.values.clone()
        })
    }
}

impl MapByPath for Loader<'_> {
    fn map<const D: usize>(&mut self, path: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let shape: [usize; D] = match param.lazy_shape().dims::<D>().as_slice().try_into() {
            Ok(shape) => shape,
            Err(_) => return param,
        };
        match self.lookup(path, &shape) {
            Some(values) => {
                let tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
                let id = param.id;
                param.transform_for_load(tensor, id)
            }
            None => param,
        }
    }
}

/// Loads the parameters under `scope` (e.g. `"text.bert"`, or `""` for all) from `file`.
/// Every parameter the naming maps must be present with the right shape; with
/// `reject_unused`, every tensor in the file must be used.
pub fn load_into<M: Module>(
    module: M,
    file: &WeightFile,
    naming: &dyn Naming,
    scope: &str,
    reject_unused: bool,
    device: &Device,
) -> Result<M> {
    let mut loader = Loader {
        file,
        naming,
        scope,
        device: device.clone(),
        used: BTreeSet::new(),
        error: None,
    };
    let module = param_paths::map(module, &mut loader);
    if let Some(error) = loader.error {
        return Err(error);
    }
    if reject_unused && let Some(extra) = file.names().find(|name| !loader.used.contains(*name)) {
        return Err(Error::UnexpectedTensor {
            path: file.path.clone(),
            tensor: extra.to_string(),
        });
    }
    Ok(module)
}

struct Collector<'a> {
    filter: &'a dyn Fn(&str) -> bool,
    out: BTreeMap<String, HostTensor>,
}

impl VisitByPath for Collector<'_> {
    fn visit<const D: usize>(&mut self, path: &str, param: &Param<Tensor<D>>) {
        if !(self.filter)(path) {
            return;
        }
        let tensor = param.transform_for_save().val();
        let shape = tensor.dims().to_vec();
        let values = crate::model::float_to_vec(tensor);
        self.out
            .insert(path.to_string(), HostTensor { shape, values });
    }
}

/// Every float parameter whose path passes `filter`, as host data keyed by path.
pub fn collect<M: Module>(
    module: &M,
    filter: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, HostTensor> {
    let mut collector = Collector {
        filter,
        out: BTreeMap::new(),
    };
    param_paths::visit(module, &mut collector);
    collector.out
}

/// Loads a BERT encoder with Hugging Face tensor names from a safetensors file, checking
/// every tensor against `cfg` (the frozen text tower of a bundle, or `models/minilm`).
pub fn load_bert(
    path: &Path,
    cfg: &crate::model::BertConfig,
    device: &Device,
) -> Result<crate::model::Bert> {
    let file = WeightFile::read(path, &HuggingFaceBert)?;
    load_into(cfg.init(device), &file, &HuggingFaceBert, "", true, device)
}

/// Loads the frozen Whisper encoder (`models/whisper-tiny-en/model.safetensors`), checking
/// every tensor's name, shape and finiteness against `cfg`; a tensor the encoder does not
/// use is refused too.
pub fn load_whisper(
    path: &Path,
    cfg: &crate::model::WhisperEncoderConfig,
    device: &Device,
) -> Result<crate::model::WhisperEncoder> {
    let file = WeightFile::read(path, &WhisperCt2)?;
    load_into(cfg.init(device), &file, &WhisperCt2, "", true, device)
}

/// A speech encoder whose frozen Whisper part is loaded from `path` (the converted file, as
/// [`load_whisper`] checks it); the adapter keeps the weights `cfg.init` gave it.
pub fn load_speech_frozen(
    path: &Path,
    cfg: &crate::model::SpeechEncoderConfig,
    device: &Device,
) -> Result<crate::model::SpeechEncoder> {
    let file = WeightFile::read(path, &WhisperCt2)?;
    load_into(
        cfg.init(device),
        &file,
        &WhisperCt2,
        "whisper",
        true,
        device,
    )
}

/// Every float parameter of `module` under the tensor names `naming` gives it, transposed
/// where the naming says so: the inverse of [`load_into`]. Parameters the naming does not map
/// are left out.
pub fn export_with_naming<M: Module>(
    module: &M,
    naming: &dyn Naming,
) -> BTreeMap<String, HostTensor> {
    collect(module, &|_| true)
        .into_iter()
        .filter_map(|(path, t)| {
            let (name, transposed) = naming.name(&path)?;
            if transposed && t.shape.len() == 2 {
                let values = transpose_2d(&t.values, t.shape[0], t.shape[1]);
                Some((
                    name,
                    HostTensor {
                        shape: vec![t.shape[1], t.shape[0]],
                        values,
                    },
                ))
            } else {
                Some((name, t))
            }
        })
        .collect()
}

/// Parameter paths and shapes of a module (no data read), for documentation and checks.
pub fn param_shapes<M: Module>(module: &M) -> BTreeMap<String, Vec<usize>> {
    struct Shapes(BTreeMap<String, Vec<usize>>);
    impl VisitByPath for Shapes {
        fn visit<const D: usize>(&mut self, path: &str, param: &Param<Tensor<D>>) {
            self.0
                .insert(path.to_string(), param.lazy_shape().dims::<D>().to_vec());
        }
    }
    let mut shapes = Shapes(BTreeMap::new());
    param_paths::visit(module, &mut shapes);
    shapes.0
}

/// Serialises host tensors as float32 safetensors bytes with string metadata.
pub fn to_safetensors_bytes(
    tensors: &BTreeMap<String, HostTensor>,
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    to_safetensors_bytes_as(tensors, metadata, false)
}

/// Serialises host tensors as safetensors bytes, float16 when `half` (half the size; the
/// loader widens them back to float32), else float32.
pub fn to_safetensors_bytes_as(
    tensors: &BTreeMap<String, HostTensor>,
    metadata: Option<std::collections::HashMap<String, String>>,
    half: bool,
) -> Result<Vec<u8>> {
    let raw: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = if half {
                t.values
                    .iter()
                    .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                    .collect()
            } else {
                t.values.iter().flat_map(|v| v.to_le_bytes()).collect()
            };
            (name.clone(), t.shape.clone(), bytes)
        })
        .collect();
    let dtype = if half { Dtype::F16 } else { Dtype::F32 };
    let views = raw
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(dtype, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
                .map_err(|e| Error::Internal(format!("tensor `{name}`: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(|e| Error::Internal(e.to_string()))
}
