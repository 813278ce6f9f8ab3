//! `transference import`: turn embeddings (and codes, a codebook, metadata) computed
//! elsewhere into a vectors-only bundle the window and the other commands open.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::bundle::import::{self, ImportRequest, arrays};
use crate::error::Result;
use crate::modality::Modality;

/// Arguments of `import`.
#[derive(Args, Debug, Clone)]
#[command(after_help = import_help())]
pub struct ImportArgs {
    /// Embeddings, a float array [N, D] (float16/32/64): .npy, .safetensors (tensor
    /// `embeddings`, else the only 2-D float tensor) or Projector vectors .tsv.
    #[arg(long)]
    pub embeddings: PathBuf,
    /// Metadata TSV, one line per embedding: a single column is the label (no header);
    /// more columns need a header naming them: label, modality, path, source, text.
    #[arg(long)]
    pub metadata: Option<PathBuf>,
    /// Codes per item, an integer array [N, T] (.npy, .safetensors tensor `codes`, .tsv);
    /// -1 marks padding for items with fewer codes.
    #[arg(long)]
    pub codes: Option<PathBuf>,
    /// Codebook, a float array [K, D] (.npy, .safetensors tensor `codebook`, .tsv).
    #[arg(long)]
    pub codebook: Option<PathBuf>,
    /// Codebook size K when --codes come without --codebook (default: largest code + 1).
    #[arg(long)]
    pub codebook_size: Option<usize>,
    /// Modality of items whose metadata has no `modality` (or when there is no metadata).
    #[arg(long, value_enum, default_value = "image")]
    pub modality: Modality,
    /// Bundle name (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Output bundle folder; replaced as a whole when the import succeeds.
    #[arg(long)]
    pub out: PathBuf,
}

/// Text after the options of `import --help`; the limits are the ones the readers enforce.
fn import_help() -> String {
    format!(
        "The result is a vectors-only bundle: open it with `transference --model DIR` (the \
         window), `info DIR`, or `retrieve --gallery-item I`. It has no encoders, so new \
         images, sounds and text cannot be analysed; the map, neighbours, codebook usage and \
         the transfer lab work on the imported items. Embeddings are L2-normalised. Media \
         files in the metadata `path` column (relative to the metadata file) are copied into \
         the bundle, so it can be moved whole.\n\n\
         Limits: {} rows, {} columns, {} values per array, {} MiB per input file, {} MiB per \
         media file.",
        arrays::MAX_ROWS,
        arrays::MAX_COLS,
        arrays::MAX_VALUES,
        arrays::MAX_FILE_BYTES >> 20,
        import::MAX_MEDIA_BYTES >> 20,
    )
}

/// Runs `import`.
pub fn run(args: &ImportArgs, json_out: bool) -> Result<()> {
    let report = import::import(&ImportRequest {
        embeddings: args.embeddings.clone(),
        metadata: args.metadata.clone(),
        codes: args.codes.clone(),
        codebook: args.codebook.clone(),
        codebook_size: args.codebook_size,
        default_modality: args.modality,
        name: args.name.clone(),
        out: args.out.clone(),
    })?;
    if json_out {
        println!("{}", json!(report));
        return Ok(());
    }
    println!(
        "imported {} vectors of {} dimensions into {}",
        report.items,
        report.dim,
        report.out.display()
    );
    let per: Vec<String> = report
        .per_modality
        .iter()
        .map(|(m, n)| format!("{n} {m}"))
        .collect();
    println!("items      {}", per.join(", "));
    if report.defaulted_modality > 0 {
        println!(
            "           {} items had no modality and were imported as {}",
            report.defaulted_modality, args.modality
        );
    }
    println!("labelled   {}", report.labelled_items);
    println!(
        "codes      {}",
        if report.has_codes {
            format!(
                "{} positions over a codebook of {}{}",
                report.code_positions,
                report.codebook_size,
                if report.has_codebook {
                    " (codebook vectors imported)"
                } else {
                    " (no codebook vectors)"
                }
            )
        } else {
            "none (codebook usage and the bag-of-codes transfer stay empty)".into()
        }
    );
    if report.media_copied > 0 {
        println!("media      {} files copied", report.media_copied);
    }
    if !report.ignored_columns.is_empty() {
        println!(
            "ignored    metadata columns {}",
            report.ignored_columns.join(", ")
        );
    }
    Ok(())
}
