//! The human-readable manifest (`manifest.toml`) of a model bundle.

use crate::invalid;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Invalid, Result};
use crate::model::ModelConfig;
use crate::preprocess::audio::AudioConfig;
use crate::preprocess::image::ImageConfig;

/// File name of the manifest inside a bundle folder.
pub const MANIFEST_FILE: &str = "manifest.toml";
/// Manifest format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Text preprocessing and the frozen transformer's weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextPreprocess {
    /// tokenizer.json, relative to the bundle folder.
    pub tokenizer: String,
    /// Maximum tokens per text, [CLS] and [SEP] included.
    pub max_tokens: usize,
    /// Safetensors file with the frozen transformer (Hugging Face BERT names), relative to
    /// the bundle folder. The projection is in the bundle's own weights.
    pub transformer_weights: String,
}

/// Normalisation of log-mel features before the audio encoder: (x - mean) / std.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureNormalization {
    pub mean: f32,
    pub std: f32,
}

impl Default for FeatureNormalization {
    fn default() -> Self {
        FeatureNormalization {
            mean: -6.0,
            std: 4.0,
        }
    }
}

/// Audio preprocessing plus feature normalisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AudioPreprocess {
    #[serde(flatten)]
    pub audio: AudioConfig,
    #[serde(default)]
    pub normalization: FeatureNormalization,
    /// Safetensors file with the frozen Whisper encoder (made by `transference
    /// convert-whisper`), relative to the bundle folder: present exactly when the model has
    /// `[architecture.speech]`. The adapter is in the bundle's own weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_weights: Option<String>,
}

/// Preprocessing per modality.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preprocess {
    pub image: Option<ImageConfig>,
    pub audio: Option<AudioPreprocess>,
    pub text: Option<TextPreprocess>,
}

/// Class labels and the prompts used for zero-shot classification.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// Class names in class-index order.
    #[serde(default)]
    pub names: Vec<String>,
    /// Prompt templates; `{label}` is replaced by the label (or each of its aliases); read
    /// by the rule of [`crate::bundle::prompts`].
    #[serde(default)]
    pub prompts: Vec<String>,
    /// Other spellings of a label (e.g. "7" -> ["seven"]); each gets every template.
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Labels the model never saw an image or a sound of in training (held out; present only
    /// as text prompts): zero-shot to these is zero-shot to unseen classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unseen: Vec<String>,
}

/// Where the weights came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub data: Vec<String>,
    #[serde(default)]
    pub notes: String,
    /// Free-form training settings (the trainer's config, seed, steps...).
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
    /// `[provenance.last_reset_step]`: the training step at which each code was last reset by
    /// the trainer's dead-code restart, keyed by code id (`"17" = 2300`); codes never reset
    /// are absent. `None` when the bundle does not record resets (made elsewhere, imported,
    /// or trained before they were recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reset_step: Option<BTreeMap<String, u64>>,
}

/// `[vectors]`: present only in a vectors-only bundle, one imported from embeddings (and
/// optionally codes and a codebook) computed elsewhere by `transference import`. Such a bundle
/// has no encoder: `[architecture]` names no image/audio/text encoder, there is no
/// `[preprocess]`, and everything is read from the gallery. Its presence is the one fact
/// telling the two kinds of bundle apart (see [`Manifest::is_vectors_only`]); the imported
/// files are listed in `[provenance] data`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorsSection {
    /// True when the bundle weights hold an imported codebook (`codebook.vectors`
    /// `[codebook_size, d_model]`); false when there is none (no weights file is read).
    pub codebook: bool,
    /// True when gallery items carry imported codes; false when they have none (codebook
    /// statistics and the bag-of-codes transfer are then empty).
    pub codes: bool,
}

/// The whole manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Bundle weights (everything but the frozen transformer), relative path.
    #[serde(default = "default_weights")]
    pub weights: String,
    /// Gallery folder, relative path; absent when the bundle has none.
    #[serde(default)]
    pub gallery: Option<String>,
    /// Model card, relative path.
    #[serde(default = "default_card")]
    pub card: String,
    pub architecture: ModelConfig,
    #[serde(default)]
    pub preprocess: Preprocess,
    #[serde(default)]
    pub labels: Labels,
    #[serde(default)]
    pub provenance: Provenance,
    /// Measured metrics, e.g. `"transfer.image_to_audio.accuracy" = 0.93`.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Present only in a vectors-only bundle (no encoders); see [`VectorsSection`].
    #[serde(default)]
    pub vectors: Option<VectorsSection>,
    /// Cross-modal generation decoders, when the bundle has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<crate::model::GenerationConfig>,
}

/// `[preprocess.audio]` flattens [`AudioConfig`], which serde cannot combine with
/// `deny_unknown_fields`; its keys are checked here against the fields the type writes, so a
/// typo is an error like everywhere else in the manifest rather than a silent default.
fn check_audio_keys(value: &toml::Value) -> std::result::Result<(), Invalid> {
    let Some(table) = value
        .get("preprocess")
        .and_then(|p| p.get("audio"))
        .and_then(toml::Value::as_table)
    else {
        return Ok(());
    };
    let probe = AudioPreprocess {
        audio: AudioConfig {
            target_rms_dbfs: Some(0.0),
            ..AudioConfig::default()
        },
        normalization: FeatureNormalization::default(),
        speech_weights: Some(String::new()),
    };
    let known = toml::Value::try_from(&probe)
        .ok()
        .and_then(|v| v.as_table().map(|t| t.keys().cloned().collect::<Vec<_>>()))
        .unwrap_or_default();
    match table.keys().find(|k| !known.contains(k)) {
        Some(key) => Err(invalid!(
            "unknown field `{key}` in [preprocess.audio], expected one of: {}",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

fn default_weights() -> String {
    "model.safetensors".into()
}

fn default_card() -> String {
    "README.md".into()
}

impl Manifest {
    /// Parses and validates manifest text; `path` names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let err = |reason: String| Error::Manifest {
            path: path.to_path_buf(),
            reason,
        };
        // Read the version first so a future format gets the right message, not a parse error.
        let value: toml::Value = toml::from_str(text).map_err(|e| err(e.message().to_string()))?;
        let version = value
            .get("format_version")
            .and_then(toml::Value::as_integer)
            .ok_or_else(|| err("missing integer `format_version`".into()))?;
        if version != FORMAT_VERSION as i64 {
            return Err(Error::ManifestVersion {
                path: path.to_path_buf(),
                found: u32::try_from(version).unwrap_or(u32::MAX),
                supported: FORMAT_VERSION,
            });
        }
        check_audio_keys(&value).map_err(|e| err(e.0))?;
        let manifest: Manifest = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        manifest.validate().map_err(|e| err(e.0))?;
        Ok(manifest)
    }

    /// Reads `dir/manifest.toml`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Self::parse(&text, &path)
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Internal(format!("manifest: {e}")))
    }

    /// True for a bundle imported by `transference import`: embeddings (and codes) without
    /// encoders.
    pub fn is_vectors_only(&self) -> bool {
        self.vectors.is_some()
    }

    /// True when the bundle weights hold a codebook (every model bundle; a vectors-only
    /// bundle only when one was imported).
    pub fn has_codebook(&self) -> bool {
        self.vectors.as_ref().is_none_or(|v| v.codebook)
    }

    /// Consistency between architecture and preprocessing.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        if self.is_vectors_only() {
            self.architecture.validate_dims()?;
            if !self.architecture.modalities().is_empty()
                || self.preprocess != Preprocess::default()
            {
                return Err(
                    "a bundle with [vectors] has no encoders: [architecture] must name \
                            no image/audio/text encoder and there must be no [preprocess]"
                        .into(),
                );
            }
            if self.gallery.is_none() {
                return Err("a bundle with [vectors] needs a `gallery` (its vectors)".into());
            }
            return Ok(());
        }
        self.architecture.validate()?;
        let arch = &self.architecture;
        if arch.image.is_some() != self.preprocess.image.is_some() {
            return Err(
                "[architecture.image] and [preprocess.image] must both be present or both absent"
                    .into(),
            );
        }
        let has_audio = arch.audio.is_some() || arch.speech.is_some();
        if has_audio != self.preprocess.audio.is_some() {
            return Err(
                "[architecture.audio] (or [architecture.speech]) and [preprocess.audio] \
                        must both be present or both absent"
                    .into(),
            );
        }
        if let Some(pre) = &self.preprocess.audio
            && arch.speech.is_some() != pre.speech_weights.is_some()
        {
            return Err(
                "[architecture.speech] and preprocess.audio.speech_weights (the frozen \
                        Whisper encoder) must both be present or both absent"
                    .into(),
            );
        }
        if arch.text.is_some() != self.preprocess.text.is_some() {
            return Err(
                "[architecture.text] and [preprocess.text] must both be present or both absent"
                    .into(),
            );
        }
        if let (Some(enc), Some(pre)) = (&arch.image, &self.preprocess.image) {
            pre.validate().map_err(|e| e.to_string())?;
            if enc.in_channels != pre.channels as usize
                || enc.input_size != [pre.height as usize, pre.width as usize]
            {
                return Err(invalid!(
                    "image encoder expects {}x{}x{} but preprocessing produces {}x{}x{}",
                    enc.in_channels,
                    enc.input_size[0],
                    enc.input_size[1],
                    pre.channels,
                    pre.height,
                    pre.width
                ));
            }
        }
        if let (Some(enc), Some(pre)) = (&arch.audio, &self.preprocess.audio) {
            pre.audio.validate().map_err(|e| e.to_string())?;
            if enc.n_mels != pre.audio.n_mels || enc.n_frames != pre.audio.n_frames {
                return Err(invalid!(
                    "audio encoder expects {} mels x {} frames but preprocessing produces {} x {}",
                    enc.n_mels,
                    enc.n_frames,
                    pre.audio.n_mels,
                    pre.audio.n_frames
                ));
            }
            if pre.normalization.std.is_nan() || pre.normalization.std <= 0.0 {
                return Err("preprocess.audio.normalization.std must be > 0".into());
            }
        }
        if arch.speech.is_some()
            && let Some(pre) = &self.preprocess.audio
        {
            pre.audio.validate().map_err(|e| e.to_string())?;
        }
        if let (Some(enc), Some(pre)) = (&arch.text, &self.preprocess.text)
            && (pre.max_tokens < 3 || pre.max_tokens > enc.bert.max_position_embeddings)
        {
            return Err(invalid!(
                "preprocess.text.max_tokens must be in 3..={}",
                enc.bert.max_position_embeddings
            ));
        }
        if let Some(g) = &self.generation {
            g.validate()?;
            if let Some(m) = g.modalities.iter().find(|m| !arch.modalities().contains(m)) {
                return Err(invalid!(
                    "[generation] lists a {m} decoder but the model has no {m} encoder"
                ));
            }
        }
        if let Some(u) = self
            .labels
            .unseen
            .iter()
            .find(|u| !self.labels.names.contains(u))
        {
            return Err(invalid!(
                "labels.unseen names {u:?}, which is not one of labels.names"
            ));
        }
        Ok(())
    }

    /// Every prompt text for each label, in label order (templates x aliases).
    pub fn prompts_for(&self, label: &str) -> Vec<String> {
        prompts_for(&self.labels.prompts, &self.labels.aliases, label)
    }
}

/// Prompt texts for one label: every template (read by
/// [`crate::bundle::prompts::templates_from_parts`]) applied to the label and to each alias.
pub fn prompts_for(
    templates: &[String],
    aliases: &BTreeMap<String, Vec<String>>,
    label: &str,
) -> Vec<String> {
    let mut words = vec![label.to_string()];
    if let Some(extra) = aliases.get(label) {
        words.extend(extra.iter().cloned());
    }
    let templates = crate::bundle::prompts::templates_from_parts(templates);
    let mut out = Vec::new();
    for word in &words {
        for template in &templates {
            let prompt = crate::bundle::prompts::apply_template(template, word);
            if !out.contains(&prompt) {
                out.push(prompt);
            }
        }
    }
    out
}
