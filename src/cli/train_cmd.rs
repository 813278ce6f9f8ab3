//! `transference train`: train, export and evaluate a bundle, then print the
//! [`TrainReport`]; ablation runs are announced on stderr as they go.

use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceRequest;
use crate::error::{Error, Result};
use crate::train::run::{TrainEvent, TrainOptions, TrainReport};

/// Arguments of `train`.
#[derive(Args, Debug, Clone)]
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
    /// Also train the ablations ("full", then each `[components]` switch turned off in turn:
    /// "no code matching", "no code agreement", ..., "no codebook (continuous)"), each for
    /// this many steps, and put the table in the model card.
    #[arg(long)]
    pub ablation_steps: Option<usize>,
    /// Seeds per ablation variant (the config's seed, then the next ones).
    #[arg(long, default_value_t = 3)]
    pub ablation_seeds: u64,
    /// Only these ablation variants, comma-separated (e.g. "full,no code matching"); default:
    /// all of them.
    #[arg(long, value_delimiter = ',')]
    pub ablation_only: Vec<String>,
}

/// Runs `train`.
pub fn run(args: TrainArgs, device: DeviceRequest, json_out: bool) -> Result<()> {
    let opts = TrainOptions {
        config: args.config,
        out: args.out,
        steps: args.steps,
        data: args.data,
        resume: args.resume,
        ablation_steps: args.ablation_steps,
        ablation_seeds: args.ablation_seeds,
        ablation_only: args.ablation_only,
        progress: !json_out,
    };
    let mut announce = |event: TrainEvent<'_>| {
        if !json_out {
            eprint!("{}", event_text(event));
        }
    };
    let report = crate::train::run::train_bundle(&opts, device, &mut announce)?;
    if json_out {
        let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
        println!("{value}");
    } else {
        print!("{}", report_text(&report));
    }
    Ok(())
}

/// One progress event as text (ending in a new line).
fn event_text(event: TrainEvent<'_>) -> String {
    match event {
        TrainEvent::AblationStarted {
            variant,
            seed,
            steps,
        } => format!("ablation `{variant}`, seed {seed}: {steps} steps\n"),
        TrainEvent::AblationFinished(row) => format!(
            "  {}\n",
            serde_json::to_string(&row.metrics).unwrap_or_default()
        ),
    }
}

/// The report as text: what was trained, then the evaluation.
pub fn report_text(r: &TrainReport) -> String {
    format!(
        "trained {} steps in {:.1} min on {}\n{}",
        r.steps,
        r.train_secs / 60.0,
        r.device,
        super::eval_cmd::report_text(&r.eval)
    )
}
