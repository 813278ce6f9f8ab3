//! `transference decoders` (train a bundle's cross-modal generation decoders) and
//! `transference generate` (show one input in another modality: a PNG or a WAV file, and the
//! model's own reading of it).

use std::path::{Path, PathBuf};

use clap::Args;
use image::ImageEncoder as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use crate::cli::encode_cmd::InputArgs;
use crate::engine::{InputView, Pipeline};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::train::decoders::{DecoderOptions, DecoderReport, train_decoders};

/// Arguments of `decoders`.
#[derive(Args, Debug, Clone)]
pub struct DecodersArgs {
    /// The bundle to add decoders to (default: the default model).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Prepared data (`transference data`): training splits to fit on, test splits to score.
    #[arg(long, default_value = "data/digits")]
    pub data: PathBuf,
    /// Training steps.
    #[arg(long, default_value_t = DecoderOptions::default().steps)]
    pub steps: usize,
    /// Hidden width of each decoder.
    #[arg(long, default_value_t = DecoderOptions::default().hidden)]
    pub hidden: usize,
}

/// Runs `decoders`.
pub fn decoders(args: &DecodersArgs, model: Option<&Path>, json_out: bool) -> Result<()> {
    let dir = crate::bundle::locate::model_dir(args.bundle.as_deref().or(model))?;
    let data = crate::train::data::load(&args.data)?;
    let opts = DecoderOptions {
        steps: args.steps,
        hidden: args.hidden,
        ..DecoderOptions::default()
    };
    let bar = if json_out {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(opts.steps as u64).with_style(
            ProgressStyle::with_template("decoders {bar:30} {pos}/{len} steps ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    };
    let report = train_decoders(&dir, &data, &opts, &mut |step, _| {
        bar.set_position(step as u64)
    })?;
    bar.finish_and_clear();
    if json_out {
        let value = serde_json::to_value(&report).map_err(|e| Error::Internal(e.to_string()))?;
        println!("{value}");
    } else {
        print!("{}", decoder_report_text(&report));
    }
    Ok(())
}

/// The report as text.
pub fn decoder_report_text(r: &DecoderReport) -> String {
    let mut s = format!(
        "decoders for {}: {} steps on {} images and {} clips in {:.1} s\n",
        r.bundle, r.steps, r.image_items, r.audio_items, r.train_secs
    );
    for (k, v) in &r.final_loss {
        s.push_str(&format!("  final {k} loss {v:.4}\n"));
    }
    for (k, v) in &r.generation {
        s.push_str(&format!(
            "  {k}: cycle accuracy {:.3} on {} held-out items ({}); zero-shot on the sources {:.3}\n",
            v.cycle_accuracy, v.n, v.source, v.source_zero_shot_accuracy
        ));
    }
    s
}

/// Arguments of `generate`.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The modality to show the input in (image or audio).
    #[arg(long, value_enum, ignore_case = true)]
    pub to: Modality,
    /// Where to write it: a PNG for an image, a WAV for audio.
    #[arg(long)]
    pub out: PathBuf,
}

/// Runs `generate`: writes the generated item and prints the model's zero-shot label of it.
pub fn generate(p: &mut Pipeline, args: &GenerateArgs, json_out: bool) -> Result<()> {
    let to = args.to;
    let source = p.encode(&args.input.to_source()?)?;
    let generated = p.generate(&source, to)?;
    match &generated.view {
        InputView::Image {
            preview,
            width,
            height,
            ..
        } => {
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(preview, *width, *height, image::ExtendedColorType::L8)
                .map_err(|e| Error::Internal(format!("PNG encoding: {e}")))?;
            crate::safe_write::write_file(&args.out, &png)?;
        }
        InputView::Audio {
            samples,
            sample_rate_hz,
            ..
        } => crate::preprocess::wav_write::write_wav_mono(&args.out, samples, *sample_rate_hz)?,
        _ => {
            return Err(Error::Internal(format!(
                "generation to {to} gave no {to} view"
            )));
        }
    }
    let labels = p.bundle.manifest.labels.names.clone();
    let templates = p.bundle.manifest.labels.prompts.clone();
    let source_scores = p.classify(&source.item.embedding, &labels, &templates)?;
    let scores = p.classify(&generated.item.embedding, &labels, &templates)?;
    let top = |s: &[crate::engine::LabelScore]| s.first().map(|x| x.label.clone());
    if json_out {
        println!(
            "{}",
            json!({
                "source": source.name,
                "source_modality": source.modality,
                "source_label": top(&source_scores),
                "to": to,
                "out": args.out,
                "label": top(&scores),
                "scores": scores,
                "codes": generated.item.codes,
            })
        );
    } else {
        println!(
            "wrote {} ({to} generated from {}); the model reads it as {:?} (the source as {:?})",
            args.out.display(),
            source.name,
            top(&scores).unwrap_or_default(),
            top(&source_scores).unwrap_or_default()
        );
    }
    Ok(())
}
