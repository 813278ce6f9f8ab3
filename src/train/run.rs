//! Training a bundle: ablations (optional), the main run, export and evaluation. Returns a
//! [`TrainReport`]; `transference train` (in `cli/train_cmd.rs`) prints it.

use std::path::PathBuf;

use serde::Serialize;

use crate::device::DeviceRequest;
use crate::error::{Error, Result};
use crate::train::card::AblationRow;
use crate::train::config::TrainConfig;
use crate::train::eval::EvalReport;
use crate::train::export;
use crate::train::trainer::{self, StepLog};

/// What to train and where to write it.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// Trainer config (TOML); `None` = defaults.
    pub config: Option<PathBuf>,
    /// Output bundle folder.
    pub out: PathBuf,
    /// Overrides the config's number of steps.
    pub steps: Option<usize>,
    /// Overrides the config's prepared data folder.
    pub data: Option<PathBuf>,
    /// Continue from the last checkpoint of this run.
    pub resume: bool,
    /// Also train every ablation variant for this many steps (table in the model card).
    pub ablation_steps: Option<usize>,
    /// Seeds per ablation variant (the config's seed, then the next ones); at least 1.
    pub ablation_seeds: u64,
    /// The ablation variants to train, by name (see [`ablation_variants`]); empty: all.
    pub ablation_only: Vec<String>,
    /// Show progress bars.
    pub progress: bool,
}

/// What happened during [`train_bundle`], for the caller to show as it goes.
#[derive(Clone, Copy, Debug)]
pub enum TrainEvent<'a> {
    /// An ablation variant starts training.
    AblationStarted {
        variant: &'a str,
        seed: u64,
        steps: usize,
    },
    /// An ablation variant is trained, exported and evaluated.
    AblationFinished(&'a AblationRow),
}

/// The result of [`train_bundle`]; `--json` prints it as one object.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// The bundle written.
    pub bundle: PathBuf,
    /// Wall-clock training time of the main run, seconds.
    pub train_secs: f64,
    /// Losses of the last step.
    pub last_step: StepLog,
    /// Evaluation of the exported bundle.
    pub eval: EvalReport,
    /// Steps of the main run.
    #[serde(skip)]
    pub steps: usize,
    /// The device trained on, in words.
    #[serde(skip)]
    pub device: String,
}

/// Changes one config into an ablation variant.
pub type AblationEdit = fn(&mut TrainConfig);

/// The ablation variants: (name, config edit).
pub fn ablation_variants() -> Vec<(&'static str, AblationEdit)> {
    vec![
        ("full", |_| {}),
        ("no multi-modal EMA", |c| {
            c.components.multimodal_ema = false
        }),
        ("no Cross-CPC", |c| c.components.cross_cpc = false),
        ("no CLUB", |c| c.components.club = false),
        ("no code matching", |c| c.components.code_matching = false),
        ("no cross commitment", |c| {
            c.components.cross_commitment = false
        }),
        ("no code agreement", |c| c.components.code_agreement = false),
        ("no code separation", |c| {
            c.components.code_separation = false
        }),
        ("no padding mask", |c| c.components.padding_mask = false),
        ("no blank-cell mask", |c| {
            c.components.blank_cell_mask = false
        }),
        ("no codebook (continuous)", |c| {
            c.components.codebook = false
        }),
    ]
}

/// The variants of [`ablation_variants`] named in `only` (all when `only` is empty), in the
/// list's order. An unknown name is refused, listing the variants.
pub fn chosen_variants(only: &[String]) -> Result<Vec<(&'static str, AblationEdit)>> {
    let all = ablation_variants();
    if let Some(unknown) = only
        .iter()
        .find(|n| !all.iter().any(|(name, _)| name == &n.trim()))
    {
        let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
        return Err(Error::InvalidRequest(format!(
            "unknown ablation variant `{unknown}`; the variants are: {}",
            names.join(", ")
        )));
    }
    Ok(all
        .into_iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|n| n.trim() == *name))
        .collect())
}

/// Trains (ablations first when asked), exports the bundle to `opts.out` and evaluates it.
/// Prints nothing; `on_event` hears about each ablation run.
pub fn train_bundle(
    opts: &TrainOptions,
    device: DeviceRequest,
    on_event: &mut dyn FnMut(TrainEvent<'_>),
) -> Result<TrainReport> {
    let mut cfg = match &opts.config {
        Some(p) => TrainConfig::read(p)?,
        None => TrainConfig::default(),
    };
    if let Some(s) = opts.steps {
        cfg.steps = s;
    }
    if let Some(d) = &opts.data {
        cfg.data_dir = d.clone();
    }
    cfg.validate().map_err(|e| Error::InvalidRequest(e.0))?;
    let data = crate::train::data::load(&cfg.data_dir)?.with_speech_audio()?;
    let compute = crate::device::resolve(device)?;
    let progress = opts.progress;
    let work = cfg.data_dir.join("runs").join(&cfg.name);
    let variants = chosen_variants(&opts.ablation_only)?;
    let mut ablations = Vec::new();
    if let Some(steps) = opts.ablation_steps {
        for (name, edit) in variants {
            for seed in cfg.seed..cfg.seed + opts.ablation_seeds.max(1) {
                let mut v = cfg.clone();
                v.steps = steps;
                v.seed = seed;
                edit(&mut v);
                on_event(TrainEvent::AblationStarted {
                    variant: name,
                    seed,
                    steps,
                });
                let trained = trainer::train(&v, &data, &compute.device, None, false, progress)?;
                let dir = work
                    .join("ablations")
                    .join(format!("{}-seed{seed}", name.replace([' ', '(', ')'], "_")));
                let report =
                    export::export_trained(&dir, &v, &data, &trained, &compute.description, &[])?;
                let row = AblationRow {
                    variant: name.into(),
                    steps,
                    seed,
                    train_secs: trained.elapsed_secs,
                    metrics: report.flat_metrics(),
                };
                on_event(TrainEvent::AblationFinished(&row));
                ablations.push(row);
            }
        }
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        let text = serde_json::to_string_pretty(&ablations)
            .map_err(|e| Error::Internal(format!("the ablation rows as JSON: {e}")))?;
        crate::safe_write::write_file(&work.join("ablations.json"), text.as_bytes())?;
    } else if let Ok(text) = std::fs::read_to_string(work.join("ablations.json")) {
        ablations = serde_json::from_str::<Vec<AblationRow>>(&text).unwrap_or_default();
    }
    let checkpoints = work.join("checkpoint");
    let trained = trainer::train(
        &cfg,
        &data,
        &compute.device,
        Some(&checkpoints),
        opts.resume,
        progress,
    )?;
    let report = export::export_trained(
        &opts.out,
        &cfg,
        &data,
        &trained,
        &compute.description,
        &ablations,
    )?;
    Ok(TrainReport {
        bundle: opts.out.clone(),
        train_secs: trained.elapsed_secs,
        last_step: trained.log.last().cloned().unwrap_or_default(),
        eval: report,
        steps: cfg.steps,
        device: compute.description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ablation_variants_are_chosen_by_name_and_unknown_names_refused() {
        let names = |v: Vec<(&'static str, AblationEdit)>| -> Vec<&str> {
            v.into_iter().map(|(n, _)| n).collect()
        };
        assert_eq!(
            names(chosen_variants(&[]).unwrap()),
            names(ablation_variants())
        );
        let only = ["no cross commitment".to_string(), " full".to_string()];
        assert_eq!(
            names(chosen_variants(&only).unwrap()),
            ["full", "no cross commitment"]
        );
        let err = chosen_variants(&["no codematching".to_string()])
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("`no codematching`"), "{err}");
        assert!(err.contains("no code matching"), "{err}");
    }
}
