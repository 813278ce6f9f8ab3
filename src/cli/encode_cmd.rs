//! The commands on one input: `codes`, `embed`, `classify` (zero-shot through the text
//! tower) and `retrieve` (nearest gallery items).

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use crate::engine::{EncodedInput, InputSource, InputView, Pipeline};
use crate::error::{Error, Result};
use crate::modality::Modality;

/// Exactly one input.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct InputArgs {
    /// An image file (PNG, JPEG, BMP, GIF, TIFF, WebP, PNM).
    #[arg(long)]
    pub image: Option<PathBuf>,
    /// An audio file: WAV (8/16/24/32-bit integer or 32-bit float), FLAC, MP3, OGG/Vorbis or
    /// M4A/AAC, detected from the content; any rate, any channel count.
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// A text.
    #[arg(long)]
    pub text: Option<String>,
    /// A file whose contents are the text.
    #[arg(long)]
    pub text_file: Option<PathBuf>,
    /// A gallery item of the bundle, by index (as `info --json` and the map number them).
    /// A vectors-only bundle (`transference import`) answers with the item's stored embedding
    /// and codes; a model bundle re-encodes the item's media or text. The item itself is its
    /// own nearest neighbour.
    #[arg(long)]
    pub gallery_item: Option<usize>,
}

impl InputArgs {
    /// The input to encode; a file given as the wrong kind (`--audio x.png`) is refused.
    pub fn to_source(&self) -> Result<InputSource> {
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
        if let Some(i) = self.gallery_item {
            return Ok(InputSource::GalleryItem(i));
        }
        Err(Error::InvalidRequest(
            "give one input: --image FILE, --audio FILE, --text TEXT, --text-file FILE or \
             --gallery-item INDEX"
                .into(),
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

/// Arguments of `classify`.
#[derive(Args, Debug, Clone)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Labels, comma-separated (default: the model's labels).
    #[arg(long, value_delimiter = ',')]
    pub labels: Option<Vec<String>>,
    /// Prompt templates separated by `|`; {label} marks the label's place and is appended
    /// to a template without it (default: the model's).
    #[arg(long)]
    pub prompts: Option<String>,
}

/// Arguments of `retrieve`.
#[derive(Args, Debug, Clone)]
pub struct RetrieveArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Target modality: image, audio or text (default: all).
    #[arg(long, ignore_case = true, hide_possible_values = true)]
    pub to: Option<Modality>,
    /// Number of neighbours.
    #[arg(short = 'k', long, default_value_t = 5)]
    pub k: usize,
}

/// `codes`: the code of every position.
pub fn codes(p: &Pipeline, input: &InputArgs, json_out: bool) -> Result<()> {
    let e = p.encode(&input.to_source()?)?;
    if json_out {
        println!("{}", encoded_json(&e, false));
    } else {
        print!("{}", codes_text(&e));
    }
    Ok(())
}

/// `embed`: the embedding vector.
pub fn embed(p: &Pipeline, input: &InputArgs, json_out: bool) -> Result<()> {
    let e = p.encode(&input.to_source()?)?;
    if json_out {
        println!("{}", encoded_json(&e, true));
    } else {
        println!(
            "{} ({}), {} dimensions:",
            e.name,
            e.modality,
            e.item.embedding.len()
        );
        let text: Vec<String> = e.item.embedding.iter().map(|v| format!("{v:.5}")).collect();
        println!("{}", text.join(" "));
    }
    Ok(())
}

/// `classify`: zero-shot scores against the labels and templates (the model's by default).
pub fn classify(p: &mut Pipeline, args: &ClassifyArgs, json_out: bool) -> Result<()> {
    let labels = match &args.labels {
        Some(given) => {
            let labels = crate::bundle::prompts::labels_from_parts(given);
            if labels.is_empty() {
                return Err(Error::InvalidRequest(
                    "--labels is empty; give labels separated by commas, e.g. --labels \"a,b,c\""
                        .into(),
                ));
            }
            labels
        }
        None => p.bundle.manifest.labels.names.clone(),
    };
    if labels.is_empty() {
        return Err(Error::InvalidRequest(
            "this model has no labels; pass --labels \"a,b,c\"".into(),
        ));
    }
    let templates = match &args.prompts {
        Some(t) => crate::bundle::prompts::parse_templates(t),
        None => p.bundle.manifest.labels.prompts.clone(),
    };
    let e = p.encode(&args.input.to_source()?)?;
    let scores = p.classify(&e.item.embedding, &labels, &templates)?;
    if json_out {
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

/// `retrieve`: the nearest gallery items, of one modality or all.
pub fn retrieve(p: &Pipeline, args: &RetrieveArgs, json_out: bool) -> Result<()> {
    let e = p.encode(&args.input.to_source()?)?;
    let hits = p.retrieve(&e.item.embedding, args.to, args.k)?;
    if json_out {
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

fn encoded_json(e: &EncodedInput, with_embedding: bool) -> serde_json::Value {
    let mut v = json!({
        "input": e.name,
        "modality": e.modality,
        "codes": e.item.codes,
        "positions": e.item.positions,
        "distances": e.item.distances,
        "preprocess_ms": e.preprocess_ms,
        "encode_ms": e.encode_ms,
    });
    if let InputView::Image { grid, .. } = &e.view {
        v["grid"] = json!(grid);
    }
    if let InputView::Text {
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

/// The codes as text: a grid for images, one line per token for text, a row for audio.
fn codes_text(e: &EncodedInput) -> String {
    let mut distinct = e.item.codes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let mut out = format!(
        "{} ({}): {} positions, {} distinct codes\n",
        e.name,
        e.modality,
        e.item.codes.len(),
        distinct.len()
    );
    match &e.view {
        InputView::Image { grid, .. } => match e.item.grid_cells(*grid) {
            Some(at) => {
                // Cells of blank paper have no code: shown as "·".
                let mut cells = vec!["   ·".to_string(); grid[0] * grid[1]];
                for (&i, c) in at.iter().zip(&e.item.codes) {
                    cells[i] = format!("{c:>4}");
                }
                for row in cells.chunks(grid[1].max(1)) {
                    out.push_str(&format!("  {}\n", row.join("")));
                }
            }
            None => {
                let codes: Vec<String> = e.item.codes.iter().map(|c| c.to_string()).collect();
                out.push_str(&format!("  codes (not on the grid): {}\n", codes.join(" ")));
            }
        },
        InputView::Text {
            tokens, truncated, ..
        } => {
            for (t, c) in tokens.iter().zip(&e.item.codes) {
                out.push_str(&format!("  {t:>14}  {c}\n"));
            }
            if *truncated {
                out.push_str("  (text truncated to the model's maximum length)\n");
            }
        }
        InputView::Audio { .. } => {
            let cells: Vec<String> = e.item.codes.iter().map(|c| c.to_string()).collect();
            out.push_str(&format!("  time → {}\n", cells.join(" ")));
        }
        InputView::Stored { .. } => {
            let cells: Vec<String> = e.item.codes.iter().map(|c| c.to_string()).collect();
            out.push_str(&format!("  stored codes: {}\n", cells.join(" ")));
        }
    }
    out
}
