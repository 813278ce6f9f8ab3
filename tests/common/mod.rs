//! Shared test helpers: a tiny bundle with random weights (saved and reloaded through the
//! real format), and tiny input files written with real encoders.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use transference::Modality;
use transference::bundle::manifest::{
    AudioPreprocess, FeatureNormalization, Labels, Manifest, Preprocess, Provenance, TextPreprocess,
};
use transference::bundle::weights::{self, HuggingFaceBert};
use transference::bundle::{self as bundle_mod, BundleContents, Gallery, GalleryItem};
use transference::model::{
    AudioEncoderConfig, BertConfig, EmbeddingSource, ImageEncoderConfig, ModelConfig,
    TextEncoderConfig,
};
use transference::preprocess::audio::AudioConfig;
use transference::preprocess::image::ImageConfig;
use transference::preprocess::mnist::MNIST_SIDE_PX;
use transference::train::config::TrainConfig;

/// Side of an MNIST digit as an index.
const SIDE: usize = MNIST_SIDE_PX as usize;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn minilm_dir() -> PathBuf {
    repo().join("models/minilm")
}

/// A tiny BERT with the real vocabulary size (so the real tokenizer works).
pub fn tiny_bert() -> BertConfig {
    BertConfig {
        vocab_size: 30522,
        hidden_size: 16,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        intermediate_size: 32,
        max_position_embeddings: 64,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
    }
}

pub const TINY_D: usize = 8;
pub const TINY_K: usize = 12;

pub fn tiny_manifest() -> Manifest {
    let audio = AudioConfig {
        n_frames: 32,
        ..AudioConfig::default()
    };
    Manifest {
        format_version: transference::bundle::manifest::FORMAT_VERSION,
        name: "tiny".into(),
        description: "random weights for tests".into(),
        weights: "model.safetensors".into(),
        gallery: Some("gallery".into()),
        card: "README.md".into(),
        architecture: ModelConfig {
            d_model: TINY_D,
            codebook_size: TINY_K,
            embedding_source: EmbeddingSource::Quantized,
            temperature: 0.1,
            image: Some(ImageEncoderConfig {
                in_channels: 1,
                input_size: [MNIST_SIDE_PX as usize; 2],
                hidden_channels: vec![4, 4, 4, 4],
                d_model: TINY_D,
                global_context: true,
                // Blank paper as the default recipe says (`image_blank_cell_ink`).
                blank_cell_max: Some(
                    ImageConfig::default()
                        .normalised_gray(TrainConfig::default().image_blank_cell_ink),
                ),
            }),
            audio: Some(AudioEncoderConfig {
                n_mels: audio.n_mels,
                n_frames: audio.n_frames,
                hidden_channels: vec![4, 4, 4],
                d_model: TINY_D,
            }),
            speech: None,
            text: Some(TextEncoderConfig {
                bert: tiny_bert(),
                d_model: TINY_D,
            }),
        },
        preprocess: Preprocess {
            image: Some(ImageConfig::default()),
            audio: Some(AudioPreprocess {
                audio,
                normalization: FeatureNormalization::default(),
                speech_weights: None,
            }),
            text: Some(TextPreprocess {
                tokenizer: minilm_dir().join("tokenizer.json").display().to_string(),
                max_tokens: 16,
                transformer_weights: "bert.safetensors".into(),
            }),
        },
        labels: Labels {
            names: (0..10).map(|d| d.to_string()).collect(),
            prompts: vec!["{label}".into(), "the digit {label}".into()],
            aliases: BTreeMap::new(),
            unseen: vec![],
        },
        provenance: Provenance::default(),
        metrics: BTreeMap::new(),
        vectors: None,
        generation: None,
    }
}

/// Writes a tiny bundle with random weights and a 3-item gallery into `dir`.
/// The tiny transformer is written with Hugging Face names, like a converted model.
pub fn write_tiny_bundle(dir: &Path) -> Manifest {
    write_tiny_bundle_with_gallery(dir, 3)
}

/// [`write_tiny_bundle`] with `items` random gallery items (modality and label cycle through
/// the three modalities and labels "0", "1", "2").
pub fn write_tiny_bundle_with_gallery(dir: &Path, items: usize) -> Manifest {
    write_tiny_bundle_from_gallery(dir, &tiny_gallery(items))
}

/// Like [`write_tiny_bundle_with_gallery`] with the same items in reverse order (and other
/// random weights): a second model whose gallery holds the first one's items.
pub fn write_tiny_bundle_with_reversed_gallery(dir: &Path, items: usize) -> Manifest {
    let forward = tiny_gallery(items);
    let mut gallery = Gallery::default();
    for i in (0..forward.len()).rev() {
        gallery
            .push(
                forward.items[i].clone(),
                &forward.embedding(i),
                forward.codes[i].clone(),
            )
            .unwrap();
    }
    write_tiny_bundle_from_gallery(dir, &gallery)
}

/// `items` gallery items cycling through the modalities, seeded random unit embeddings.
fn tiny_gallery(items: usize) -> Gallery {
    let mut gallery = Gallery::default();
    let mut rng = 1u32;
    for i in 0..items {
        let modality = &Modality::ALL[i % Modality::ALL.len()];
        let mut e: Vec<f32> = (0..TINY_D)
            .map(|_| {
                rng = rng.wrapping_mul(1664525).wrapping_add(1013904223);
                (rng >> 8) as f32 / (1u32 << 24) as f32 - 0.5
            })
            .collect();
        transference::index::l2_normalize(&mut e);
        gallery
            .push(
                GalleryItem {
                    modality: *modality,
                    label: Some((i % Modality::ALL.len()).to_string()),
                    source: format!("test item {i}"),
                    media: None,
                    text: (*modality == Modality::Text).then(|| "seven".to_string()),
                },
                &e,
                vec![(i % Modality::ALL.len()) as u32, 1, 2],
            )
            .unwrap();
    }
    gallery
}

/// A tiny bundle whose gallery holds `per_class` image and `per_class` audio items of each of
/// the 10 labels: codes and embeddings carry the class (code `class`, embedding axis
/// `class % TINY_D`) plus item noise, shared by both modalities.
pub fn write_tiny_bundle_with_labelled_gallery(dir: &Path, per_class: usize) -> Manifest {
    let mut gallery = Gallery::default();
    let mut rng = 7u32;
    let mut next = || {
        rng = rng.wrapping_mul(1664525).wrapping_add(1013904223);
        (rng >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    for modality in [Modality::Image, Modality::Audio] {
        for class in 0..10usize {
            for i in 0..per_class {
                let mut e: Vec<f32> = (0..TINY_D).map(|_| 0.6 * next()).collect();
                e[class % TINY_D] += 1.0;
                transference::index::l2_normalize(&mut e);
                let noise_code = ((next() + 0.5) * TINY_K as f32) as u32 % TINY_K as u32;
                gallery
                    .push(
                        GalleryItem {
                            modality,
                            label: Some(class.to_string()),
                            source: format!("{modality} {class} #{i}"),
                            media: None,
                            text: None,
                        },
                        &e,
                        vec![
                            class as u32 % TINY_K as u32,
                            class as u32 % TINY_K as u32,
                            noise_code,
                        ],
                    )
                    .unwrap();
            }
        }
    }
    write_tiny_bundle_from_gallery(dir, &gallery)
}

/// Writes the tiny bundle (random weights) with `gallery` into `dir`.
fn write_tiny_bundle_from_gallery(dir: &Path, gallery: &Gallery) -> Manifest {
    let manifest = tiny_manifest();
    let device = Device::flex();
    let model = manifest.architecture.init(&device);
    bundle_mod::save(
        dir,
        &BundleContents {
            manifest: &manifest,
            model: &model,
            card: "# tiny\nRandom weights.\n",
            gallery: Some(gallery),
            gallery_media: &[],
        },
    )
    .unwrap();
    let bert = &model.text.as_ref().unwrap().bert;
    let tensors = weights::export_with_naming(bert, &HuggingFaceBert);
    let bytes = weights::to_safetensors_bytes(&tensors, None).unwrap();
    std::fs::write(dir.join("bert.safetensors"), bytes).unwrap();
    manifest
}

/// A 28x28 gray PNG with a white "1" stroke on black.
pub fn write_digit_png(path: &Path) {
    let mut img = image::GrayImage::new(MNIST_SIDE_PX, MNIST_SIDE_PX);
    for y in 5..23 {
        for x in 13..16 {
            img.put_pixel(x, y, image::Luma([255]));
        }
    }
    img.save(path).unwrap();
}

/// A 0.5 s 16-bit mono WAV at 8 kHz with a 440 Hz tone.
pub fn write_tone_wav(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..4000 {
        let t = i as f32 / 8000.0;
        w.write_sample(((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 12000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// A tiny in-memory digits data set: bars and tones per class, a few items each.
pub fn tiny_digits_data() -> transference::train::data::DigitsData {
    use transference::train::data::*;
    // The tiny bundle's clip length, so its model can encode these sets.
    let audio_cfg = AudioConfig {
        n_frames: 32,
        ..AudioConfig::default()
    };
    let (n_mels, n_frames) = (audio_cfg.n_mels, audio_cfg.n_frames);
    let image = |n: usize| {
        let mut s = LabeledSet::new(vec![SIDE, SIDE]);
        for c in 0..10u8 {
            for k in 0..n {
                let mut px = vec![0f32; MNIST_PIXELS];
                for y in 4..24 {
                    for x in 0..3 {
                        px[y * SIDE + 2 + 2 * c as usize + x + (k % 2)] = 1.0;
                    }
                }
                s.features.extend(px);
                s.labels.push(c);
                s.groups.push(0);
            }
        }
        s
    };
    let audio = |n: usize, group: u32| {
        let mut s = LabeledSet::new(vec![n_mels, n_frames]);
        for c in 0..10u8 {
            for k in 0..n {
                let mut mel = vec![-10f32; n_mels * n_frames];
                for f in 4..(14 + k % 10).min(n_frames) {
                    mel[(3 + 3 * c as usize) * n_frames + f] = 0.0;
                }
                s.features.extend(mel);
                s.labels.push(c);
                s.groups.push(group);
            }
        }
        s
    };
    DigitsData {
        // 100 per class: the fewest a transfer fit set accepts.
        image_train: image(100),
        image_test: image(2),
        image_print_train: LabeledSet::new(vec![SIDE, SIDE]),
        image_print_val: LabeledSet::new(vec![SIDE, SIDE]),
        image_scan_train: LabeledSet::new(vec![SIDE, SIDE]),
        image_scan_test: LabeledSet::new(vec![SIDE, SIDE]),
        audio_train: audio(100, 0),
        audio_val: audio(2, 1),
        audio_synth: audio(1, 0),
        audio_synth_val: LabeledSet::new(vec![n_mels, n_frames]),
        audio_aug: LabeledSet::new(vec![n_mels, n_frames]),
        speech: Some(tiny_speech_cache([100, 2, 1, 0, 0])),
        meta: DataMeta {
            format: META_FORMAT,
            sources: vec![],
            speakers: vec!["jackson".into(), "george".into()],
            validation_speaker: "george".into(),
            synth_voices: vec![],
            held_out_voices: vec![],
            typefaces: vec![],
            print: Default::default(),
            augment: Default::default(),
            mel_mean: -9.0,
            mel_std: 3.0,
            mel_stats: Default::default(),
            audio_config: audio_cfg,
            image_config: ImageConfig::default(),
            skipped: vec![],
            counts: Default::default(),
            synth: Default::default(),
            clips: vec![],
            created_at: String::new(),
        },
    }
}

/// [`tiny_digits_data`] as a model on the frozen speech encoder trains on it.
pub fn tiny_speech_data() -> transference::train::data::DigitsData {
    tiny_digits_data()
        .with_speech_audio()
        .expect("tiny speech cache")
}

/// Fake frozen speech features for [`tiny_digits_data`]'s audio sets (`per_class` items per
/// class in train, val, synth, synth_val, aug order): a class-dependent feature at a varying
/// number of positions, zero rows after, as the speech cache stores them; recorded as made
/// with the repository's Whisper weights, so the trainer's check passes.
pub fn tiny_speech_cache(
    per_class: [usize; 5],
) -> transference::train::data::speech_cache::SpeechCache {
    use transference::train::data::speech_cache::*;
    use transference::train::data::tensor_names as tn;
    let width = transference::model::WhisperEncoderConfig::tiny_en().d_model;
    let names = [
        tn::AUDIO_TRAIN,
        tn::AUDIO_VAL,
        tn::AUDIO_SYNTH,
        tn::AUDIO_SYNTH_VAL,
        tn::AUDIO_AUG,
    ];
    let mut sets = std::collections::BTreeMap::new();
    for (name, n) in names.into_iter().zip(per_class) {
        let mut f = SpeechFeatures {
            width,
            ..Default::default()
        };
        for c in 0..10usize {
            for k in 0..n {
                let positions = 3 + k % 8;
                let mut item = vec![0f32; CACHED_POSITIONS * width];
                for t in 0..positions {
                    for j in 0..width {
                        item[t * width + j] = if j % 10 == c { 1.0 } else { 0.1 };
                    }
                }
                f.values.extend(item);
                f.positions.push(positions as u32);
            }
        }
        sets.insert(name.to_string(), f);
    }
    SpeechCache {
        sets,
        weights_sha256: file_sha256(
            &repo().join(transference::train::data::DEFAULT_SPEECH_WEIGHTS),
        )
        .expect("whisper weights"),
    }
}

/// A training configuration small enough to run a few steps in seconds on the tiny data;
/// checkpoints every 2 steps, work files under `tmp`.
pub fn tiny_train_config(steps: usize, tmp: &Path) -> transference::train::config::TrainConfig {
    transference::train::config::TrainConfig {
        steps,
        batch_size: 6,
        d_model: 16,
        codebook_size: 24,
        specific_dim: 8,
        image_channels: vec![4, 4, 4, 4],
        speech_adapter_hidden: 8,
        speech_weights: repo().join(transference::train::data::DEFAULT_SPEECH_WEIGHTS),
        dead_code_steps: 2,
        gallery_per_class: 1,
        checkpoint_every: 2,
        transformer_dir: minilm_dir(),
        data_dir: tmp.join("data"),
        ..Default::default()
    }
}

/// Saves the bundle `p` has loaded (manifest, weights, gallery; card "copy") to `dir`.
pub fn save_copy(p: &transference::engine::Pipeline, dir: &Path) -> transference::Result<()> {
    bundle_mod::save(
        dir,
        &BundleContents {
            manifest: &p.bundle.manifest,
            model: &p.bundle.model,
            card: "copy",
            gallery: p.bundle.gallery.as_ref(),
            gallery_media: &[],
        },
    )
}

/// A temporary folder holding the tiny bundle at `tmp/tiny` (keep the `TempDir` alive).
pub fn tiny_bundle() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    write_tiny_bundle(&dir);
    (tmp, dir)
}

/// The wgpu adapters of this machine; `None` (the test skips, or fails under CI) when there
/// are none. Enumeration errors are not swallowed.
pub fn wgpu_adapters() -> Option<Vec<transference::device::AdapterSummary>> {
    let adapters = transference::device::try_enumerate_adapters().unwrap();
    if adapters.is_empty() {
        transference::test_support::skip_unless_ci(
            "no wgpu adapter on this machine (install mesa-vulkan-drivers)",
        );
        return None;
    }
    Some(adapters)
}

/// A [`transference::engine::Job::AnalyzeBatch`] of one input: how the window, the lessons
/// and the tests ask for one analysis.
pub fn analyse_one(
    request_id: u64,
    input: transference::engine::InputSource,
    labels: Vec<String>,
    templates: Vec<String>,
    k: usize,
) -> transference::engine::Job {
    transference::engine::Job::AnalyzeBatch {
        items: vec![transference::engine::protocol::BatchItem { request_id, input }],
        labels,
        templates,
        k,
        cancel: Default::default(),
    }
}
