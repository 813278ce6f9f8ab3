//! Training checkpoints: the trainable weights, the EMA codebook state, the step, and the Adam
//! optimiser state, so `--resume` continues exactly where the run stopped.
//!
//! Layout of a checkpoint folder (replaced as a whole, see [`crate::safe_write::replace_dir`]):
//! - `cmg.safetensors`: every parameter except the frozen transformer, keyed by module path;
//! - `optimizer.bpk`: burn's optimiser record (Adam moments), keyed by parameter id;
//! - `state.json`: [`CheckpointState`], including the path -> parameter id map that lets the
//!   optimiser record find its parameters again in a freshly built model.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Param, ParamId};
use burn::optim::{ModuleOptimizer, OptimizerRecord};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::bundle::param_paths::{self, MapByPath, VisitByPath};
use crate::bundle::weights::{self, Naming, WeightFile};
use crate::error::{Error, Result};
use crate::train::cmg::CmgModel;
use crate::train::config::TrainConfig;
use crate::train::ema::EmaCodebook;

/// Weights file inside a checkpoint folder.
pub const WEIGHTS_FILE: &str = "cmg.safetensors";
/// Optimiser record inside a checkpoint folder.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// Training state inside a checkpoint folder.
pub const STATE_FILE: &str = "state.json";

/// State saved in a checkpoint besides the weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckpointState {
    pub step: usize,
    pub config: TrainConfig,
    pub ema: EmaCodebook,
    pub elapsed_secs: f64,
    /// Module path -> burn parameter id at save time (the keys of `optimizer.bpk`).
    /// Empty in checkpoints written before the optimiser state was saved.
    #[serde(default)]
    pub param_ids: BTreeMap<String, u64>,
}

/// What [`load`] restores.
pub struct Restored {
    pub model: CmgModel,
    pub state: CheckpointState,
    /// `None` for an older checkpoint without optimiser state (Adam then restarts from zero).
    pub optimizer: Option<OptimizerRecord>,
}

/// Naming that leaves the frozen transformer out of checkpoints.
struct SkipTransformer;

impl Naming for SkipTransformer {
    fn name(&self, path: &str) -> Option<(String, bool)> {
        (!is_frozen(path)).then(|| (path.to_string(), false))
    }
}

/// True for the frozen encoders' parameters inside the training model (its `semantic`
/// field is the inference model; see [`crate::bundle::is_frozen_param`]); they are never
/// trained, so never checkpointed.
pub fn is_frozen(path: &str) -> bool {
    path.strip_prefix("semantic.")
        .is_some_and(crate::bundle::is_frozen_param)
}

/// Writes a checkpoint folder; the previous checkpoint stays in place until the new one is
/// complete.
pub fn save(
    dir: &Path,
    model: &CmgModel,
    optimizer: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<()> {
    let mut state = state.clone();
    state.param_ids = param_ids(model);
    crate::safe_write::replace_dir(dir, |tmp| {
        let tensors = weights::collect(model, &|p| !is_frozen(p));
        let bytes = weights::to_safetensors_bytes(&tensors, None)?;
        crate::safe_write::write_file(&tmp.join(WEIGHTS_FILE), &bytes)?;
        let record_path = tmp.join(OPTIMIZER_FILE);
        optimizer
            .to_record()
            .save(&record_path)
            .map_err(|e| Error::Internal(format!("{}: {e}", record_path.display())))?;
        let json = serde_json::to_string(&state).map_err(|e| Error::Internal(e.to_string()))?;
        crate::safe_write::write_file(&tmp.join(STATE_FILE), json.as_bytes())
    })
}

/// Reads the checkpoint in `dir` into `model` (built with the same configuration). The
/// parameters get the ids they had when saved, so the optimiser record applies to them.
pub fn load(dir: &Path, model: CmgModel, device: &Device) -> Result<Restored> {
    let state_path = dir.join(STATE_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: CheckpointState = serde_json::from_str(&text)
        .map_err(|e| Error::InvalidRequest(unreadable(&state_path, e)))?;
    let file = WeightFile::read(&dir.join(WEIGHTS_FILE), &SkipTransformer)?;
    let mut model = weights::load_into(model, &file, &SkipTransformer, "", true, device)?;
    let record_path = dir.join(OPTIMIZER_FILE);
    let optimizer = if state.param_ids.is_empty() || !record_path.exists() {
        tracing::warn!(
            checkpoint = %dir.display(),
            "checkpoint has no optimiser state; Adam restarts from zero"
        );
        None
    } else {
        model = reassign_ids(model, &state.param_ids)?;
        Some(
            OptimizerRecord::load(&record_path)
                .map_err(|e| Error::InvalidRequest(unreadable(&record_path, e)))?,
        )
    };
    Ok(Restored {
        model,
        state,
        optimizer,
    })
}

/// A checkpoint file that cannot be read back: which, why, and how to go on.
fn unreadable(path: &Path, e: impl std::fmt::Display) -> String {
    format!(
        "{}: unreadable checkpoint file ({e}); train without --resume to start over",
        path.display()
    )
}

/// Module path -> parameter id of every trainable parameter.
fn param_ids(model: &CmgModel) -> BTreeMap<String, u64> {
    struct Ids(BTreeMap<String, u64>);
    impl VisitByPath for Ids {
        fn visit<const D: usize>(&mut self, path: &str, param: &Param<Tensor<D>>) {
            if !is_frozen(path) {
                self.0.insert(path.to_string(), param.id.val());
            }
        }
    }
    let mut ids = Ids(BTreeMap::new());
    param_paths::visit(model, &mut ids);
    ids.0
}

/// Gives every trainable parameter of `model` the id recorded for its path.
fn reassign_ids(model: CmgModel, ids: &BTreeMap<String, u64>) -> Result<CmgModel> {
    struct Reassign<'a> {
        ids: &'a BTreeMap<String, u64>,
        missing: Option<String>,
    }
    impl MapByPath for Reassign<'_> {
        fn map<const D: usize>(&mut self, path: &str, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if is_frozen(path) {
                return param;
            }
            match self.ids.get(path) {
                Some(&id) => {
                    let (_, value, mapper) = param.consume();
                    Param::from_mapped_value(ParamId::from(id), value, mapper)
                }
                None => {
                    self.missing.get_or_insert_with(|| path.to_string());
                    param
                }
            }
        }
    }
    let mut mapper = Reassign { ids, missing: None };
    let model = param_paths::map(model, &mut mapper);
    match mapper.missing {
        Some(path) => Err(Error::InvalidRequest(format!(
            "checkpoint state names no parameter id for {path}; was it written by another model?"
        ))),
        None => Ok(model),
    }
}
