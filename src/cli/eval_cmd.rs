//! `transference eval`: evaluate a bundle and print the [`EvalReport`].

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::train::eval::{Accuracy, EvalInputs, EvalReport};

/// Arguments of `eval`.
#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// Bundle folder (default: the bundled default model).
    pub bundle: Option<PathBuf>,
    /// Test images named {digit}_{anything}.png (default: held-out MNIST).
    #[arg(long)]
    pub images: Option<PathBuf>,
    /// Test clips named {digit}_{anything}.wav (default: the validation speaker).
    #[arg(long)]
    pub audio: Option<PathBuf>,
    /// Prepared data folder (held-out sets and the classifier's training sets).
    #[arg(long, default_value = "data/digits")]
    pub data: PathBuf,
    /// Also write every encoded fit, test and class embedding and the encoded class prompts
    /// here (a gallery folder) for `scripts/baseline_eval.py`.
    #[arg(long, value_name = "DIR")]
    pub export_embeddings: Option<PathBuf>,
}

/// Runs `eval` on the opened bundle `p`.
pub fn run(p: &mut Pipeline, args: &EvalArgs, json_out: bool) -> Result<()> {
    let loaded = if args.data.join(crate::train::data::DATA_FILE).exists() {
        Some(crate::train::data::load(&args.data)?.for_model(&p.bundle.manifest.architecture)?)
    } else {
        None
    };
    let report = crate::train::eval::evaluate_and_export(
        p,
        &EvalInputs {
            images_dir: args.images.as_deref(),
            audio_dir: args.audio.as_deref(),
            data: loaded.as_ref(),
        },
        args.export_embeddings.as_deref(),
    )?;
    if json_out {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| Error::Internal(e.to_string()))?
        );
    } else {
        print!("{}", report_text(&report));
    }
    Ok(())
}

fn pct(a: &Accuracy) -> String {
    format!("{:5.1}%", a.accuracy * 100.0)
}

/// Per-class accuracies as `0:98 1:100 …` (percent).
fn per_class_line(a: &Accuracy) -> String {
    a.per_class
        .iter()
        .enumerate()
        .map(|(c, v)| match v {
            Some(v) => format!("{c}:{:.0}", v * 100.0),
            None => format!("{c}:-"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The report as text, one line per fit set, test set, retrieval direction and codebook
/// figure; every line ends in a new line.
pub fn report_text(r: &EvalReport) -> String {
    // Writing to a String cannot fail.
    let mut out = String::new();
    let _ = writeln!(out, "bundle       {}", r.bundle);
    for (m, f) in &r.fit {
        let _ = writeln!(
            out,
            "fit {m:<8} {} items, per class {:?} ({})",
            f.n, f.per_class, f.source
        );
    }
    let _ = writeln!(
        out,
        "{:<24} {:>5} {:>9} {:>9} {:>9}   per-class zero-shot / transfer",
        "test set", "n", "zero-shot", "transfer", "bag"
    );
    for (name, s) in &r.sets {
        let _ = writeln!(
            out,
            "{name:<24} {:>5} {:>9} {:>9} {:>9}   {} / {}",
            s.n,
            pct(&s.zero_shot),
            pct(&s.transfer),
            pct(&s.transfer_bag_of_codes),
            per_class_line(&s.zero_shot),
            per_class_line(&s.transfer)
        );
        let _ = writeln!(out, "{:<24} {} ({})", "", s.modality, s.source);
    }
    if r.sets.values().any(|s| !s.code_agreement.is_empty()) {
        let _ = writeln!(
            out,
            "code agreement: per-class code histograms, intersection with the same class / \
             with other classes; classes whose most used code agrees; bag-of-codes transfer"
        );
        let _ = writeln!(
            out,
            "{:<24} {:<12} {:>6} {:>6}  {:<26} {:>9}",
            "test set", "pair", "same", "other", "top code agrees", "bag"
        );
    }
    for (name, s) in &r.sets {
        for (pair, a) in &s.code_agreement {
            let agree = format!(
                "{}/{} {:?}",
                a.top_code_agree, a.classes, a.top_code_agree_classes
            );
            let _ = writeln!(
                out,
                "{name:<24} {pair:<12} {:>6.3} {:>6.3}  {agree:<26} {:>9}",
                a.same_class,
                a.other_class,
                pct(&s.transfer_bag_of_codes)
            );
        }
    }
    for (k, v) in &r.retrieval {
        let _ = writeln!(
            out,
            "retrieval    {k:<16} P@1 {:.3}  P@10 {:.3}",
            v.precision_at_1, v.precision_at_10
        );
    }
    let _ = writeln!(
        out,
        "codebook     {} of {} codes active, {} shared by >= 2 modalities ({:.1}%)",
        r.codebook.active_codes,
        r.codebook.size,
        r.codebook.shared_codes,
        r.codebook.shared_fraction * 100.0
    );
    for (k, v) in &r.codebook.per_modality {
        let _ = writeln!(
            out,
            "             {k:<6} perplexity {:.1}, {} active",
            v.perplexity, v.active_codes
        );
    }
    for (name, c) in &r.low_resource {
        let cell = |p: &crate::index::low_resource::CurvePoint| match p.mean {
            Some(m) => format!("{:.1}±{:.1}", m * 100.0, p.sd.unwrap_or(0.0) * 100.0),
            None => "n/a".into(),
        };
        let levels: Vec<String> = c
            .primary_only
            .iter()
            .zip(&c.with_helper)
            .map(|(a, h)| format!("{}: {} / {}", a.labels_per_class, cell(a), cell(h)))
            .collect();
        let _ = writeln!(
            out,
            "low-resource {name:<6} labels per class: alone / +{} (%): {}; zero-shot {}",
            c.helper,
            levels.join(", "),
            c.zero_shot
                .accuracy
                .map(|z| format!("{:.1}%", z * 100.0))
                .unwrap_or_else(|| "n/a".into())
        );
    }
    out
}
