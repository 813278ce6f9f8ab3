//! `transference train`: ablations (optional), the main run, export and evaluation.

use std::path::PathBuf;

use serde_json::json;

use crate::device::DeviceRequest;
use crate::error::{Error, Result};
use crate::train::config::TrainConfig;
use crate::train::export::{self, AblationRow};
use crate::train::trainer::{self, attach_transformer, inference_model};

/// Arguments of the command.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Trainer config (TOML); missing keys take defaults.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output bundle folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Override the number of steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override the prepared data folder.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Continue from the last checkpoint of this run.
    #[arg(long)]
    pub resume: bool,
    /// Also train the ablations (full, no multi-modal EMA, no Cross-CPC, no CLUB, no
    /// codebook), each for this many steps, and put the table in the model card.
    #[arg(long)]
    pub ablation_steps: Option<usize>,
    /// Seeds per ablation variant (the config's seed, then the next ones).
    #[arg(long, default_value_t = 3)]
    pub ablation_seeds: u64,
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
        ("no codebook (continuous)", |c| {
            c.components.codebook = false
        }),
    ]
}

/// Runs the command.
pub fn train_command(args: TrainArgs, device: DeviceRequest, json_out: bool) -> Result<()> {
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::read(p)?,
        None => TrainConfig::default(),
    };
    if let Some(s) = args.steps {
        cfg.steps = s;
    }
    if let Some(d) = &args.data {
        cfg.data_dir = d.clone();
    }
    cfg.validate().map_err(Error::InvalidRequest)?;
    let data = crate::train::data::load(&cfg.data_dir)?;
    let compute = crate::device::resolve(device)?;
    let progress = !json_out;
    let work = cfg.data_dir.join("runs").join(&cfg.name);
    let mut ablations = Vec::new();
    if let Some(steps) = args.ablation_steps {
        for (name, edit) in ablation_variants() {
            for seed in cfg.seed..cfg.seed + args.ablation_seeds.max(1) {
                let mut v = cfg.clone();
                v.steps = steps;
                v.seed = seed;
                edit(&mut v);
                if !json_out {
                    eprintln!("ablation `{name}`, seed {seed}: {steps} steps");
                }
                let trained = trainer::train(&v, &data, &compute.device, None, false, progress)?;
                let model = attach_transformer(
                    inference_model(&trained.model),
                    &v.transformer_dir,
                    &export::export_device(),
                )?;
                let dir = work
                    .join("ablations")
                    .join(format!("{}-seed{seed}", name.replace([' ', '(', ')'], "_")));
                let report = export::export_bundle(
                    &dir,
                    &v,
                    &data,
                    &model,
                    trained.model_config.clone(),
                    trained.elapsed_secs,
                    &compute.description,
                    &[],
                )?;
                let row = AblationRow {
                    variant: name.into(),
                    steps,
                    seed,
                    train_secs: trained.elapsed_secs,
                    metrics: report.flat_metrics(),
                };
                if !json_out {
                    eprintln!(
                        "  {}",
                        serde_json::to_string(&row.metrics).unwrap_or_default()
                    );
                }
                ablations.push(row);
            }
        }
        std::fs::create_dir_all(&work).ok();
        std::fs::write(
            work.join("ablations.json"),
            serde_json::to_string_pretty(&ablations).unwrap_or_default(),
        )
        .map_err(|e| Error::Write {
            path: work.join("ablations.json"),
            source: e,
        })?;
    } else if let Ok(text) = std::fs::read_to_string(work.join("ablations.json")) {
        ablations = serde_json::from_str::<Vec<AblationRow>>(&text).unwrap_or_default();
    }
    let checkpoints = work.join("checkpoint");
    let trained = trainer::train(
        &cfg,
        &data,
        &compute.device,
        Some(&checkpoints),
        args.resume,
        progress,
    )?;
    let model = attach_transformer(
        inference_model(&trained.model),
        &cfg.transformer_dir,
        &export::export_device(),
    )?;
    let report = export::export_bundle(
        &args.out,
        &cfg,
        &data,
        &model,
        trained.model_config.clone(),
        trained.elapsed_secs,
        &compute.description,
        &ablations,
    )?;
    let last = trained.log.last().cloned().unwrap_or_default();
    if json_out {
        println!(
            "{}",
            json!({"bundle": args.out, "train_secs": trained.elapsed_secs, "last_step": last, "eval": report})
        );
    } else {
        println!(
            "trained {} steps in {:.1} min on {}",
            cfg.steps,
            trained.elapsed_secs / 60.0,
            compute.description
        );
        crate::train::eval::print_report(&report);
    }
    Ok(())
}
