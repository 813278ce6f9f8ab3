//! `transference compare A B [--audio DIR] [--images DIR] [--csv FILE]`: two bundles side by
//! side ([`crate::engine::compare`]): every figure either manifest reports with the
//! difference B − A, how B's gallery map lies on A's, and on labelled folders the accuracy
//! per class and every file's label and codes under both, disagreements marked. As text or
//! (`--json`) one JSON object; `--csv` also writes the table.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;

use crate::device::DeviceRequest;
use crate::engine::Pipeline;
use crate::engine::compare::{CompareFolders, Comparison, Reading, compare};
use crate::error::Result;
use crate::index::compare::{MetricRow, figure_text};

/// Codes shown per model in an input's line.
const SHOWN_CODES: usize = 6;

/// Arguments of `compare`.
#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// Bundle A: the model in use (differences are B − A).
    pub a: PathBuf,
    /// Bundle B: the model compared with it.
    pub b: PathBuf,
    /// Labelled audio read by both: files named {digit}_{anything}.ext or in subfolders 0 to 9.
    #[arg(long, value_name = "DIR")]
    pub audio: Option<PathBuf>,
    /// Labelled images read by both, named or foldered the same way.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Also write the table (figures and per-class accuracy) as CSV here.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

/// Runs `compare`.
pub fn run(args: &CompareArgs, device: DeviceRequest, json_out: bool) -> Result<()> {
    let mut a = Pipeline::open(&args.a, device)?;
    let mut b = Pipeline::open(&args.b, device)?;
    let c = compare(
        &mut a,
        &mut b,
        CompareFolders {
            audio: args.audio.as_deref(),
            images: args.images.as_deref(),
        },
    )?;
    if let Some(path) = &args.csv {
        c.write_csv(path)?;
    }
    if json_out {
        println!("{}", c.to_json()?);
    } else {
        print!("{}", comparison_text(&c));
    }
    Ok(())
}

/// The comparison as text: the table, the alignment, each folder's per-class accuracy and
/// every input under both models (`≠` where the labels disagree); every line ends in a new
/// line.
pub fn comparison_text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "A  {}  ({})", c.a.name, c.a.dir.display());
    let _ = writeln!(out, "B  {}  ({})", c.b.name, c.b.dir.display());
    let width = c
        .table()
        .iter()
        .map(|r| r.key.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let _ = writeln!(
        out,
        "{:<width$}  {:>10}  {:>10}  {:>10}",
        "figure", "A", "B", "B - A"
    );
    for MetricRow {
        key,
        a,
        b,
        difference,
    } in c.table()
    {
        let _ = writeln!(
            out,
            "{key:<width$}  {:>10}  {:>10}  {:>10}",
            figure_text(a, false),
            figure_text(b, false),
            figure_text(difference, true)
        );
    }
    match (&c.alignment, &c.alignment_unavailable) {
        (Some(al), _) => {
            let _ = writeln!(
                out,
                "maps: B laid onto A on {} shared gallery items: rotated {:.1}°{}, residual {:.4} \
                 ({:.1} % of A's spread)",
                al.matched,
                al.rotation_deg,
                if al.reflected { ", mirrored" } else { "" },
                al.residual_rms,
                100.0 * al.residual_fraction
            );
        }
        (None, Some(why)) => {
            let _ = writeln!(out, "maps: not aligned: {why}");
        }
        (None, None) => {}
    }
    for s in &c.sets {
        let _ = writeln!(
            out,
            "{} from {}: {} files, accuracy A {:.1} %, B {:.1} %",
            s.modality,
            s.source.display(),
            s.a.n,
            100.0 * s.a.accuracy,
            100.0 * s.b.accuracy
        );
    }
    if !c.inputs.is_empty() {
        let _ = writeln!(
            out,
            "{} inputs, {} labelled differently (≠):",
            c.inputs.len(),
            c.disagreements()
        );
        for r in &c.inputs {
            let _ = writeln!(
                out,
                "{} {:<32} truth {:<8} A {:<24} B {}",
                if r.disagrees() { "≠" } else { " " },
                r.name,
                r.truth.as_deref().unwrap_or("-"),
                reading_text(&r.a),
                reading_text(&r.b)
            );
        }
    }
    out
}

/// A label and the first codes, or why the model could not read the input.
fn reading_text(r: &Reading) -> String {
    match r {
        Reading::Read { .. } => format!("{} [{}]", r.label_text(), r.codes_text(SHOWN_CODES)),
        Reading::Failed { .. } => r.label_text(),
    }
}
