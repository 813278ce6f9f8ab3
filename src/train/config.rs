//! Trainer configuration (TOML). Every CMG component can be switched off for ablations.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Invalid, Result};
use crate::invalid;
use crate::train::data::DIGIT_WORDS;

/// Loss weights.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossWeights {
    pub reconstruction: f32,
    pub commitment: f32,
    pub cross_cpc: f32,
    pub club: f32,
    pub text_contrastive: f32,
    /// Cross-modal code matching (CMG's L_cmcm). The default model's 2.0 against 0.5 moved
    /// bag-of-codes transfer image → audio from 83 to 95 % (docs/evaluation.md).
    pub code_matching: f32,
    /// Commitment of each modality's features to its partner's code vectors (CMG commits
    /// to its own at 2β and to the partner's at β); the default model's 0.5 is five times
    /// `commitment`, which pulled the modalities onto each other's codes more than 0.05 did.
    pub cross_commitment: f32,
    /// Class-level code agreement ([`crate::train::losses::code_agreement`]), with
    /// `components.code_agreement`. At 2.0 it moved image–audio same-digit code overlap from
    /// 0.288 to 0.548 and text–audio from 0.223 to 0.489; the default model uses 4.0 beside
    /// code separation (docs/evaluation.md).
    pub code_agreement: f32,
    /// Class-level code separation ([`crate::train::losses::code_separation`]), with
    /// `components.code_separation`. The default model's 2.0 (with agreement at 4.0) moved
    /// image–audio other-digit overlap from 0.140 to 0.048 and the digits whose most used code
    /// agrees from 7 to 10 of 10 (docs/evaluation.md).
    pub code_separation: f32,
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            reconstruction: 0.2,
            commitment: 0.1,
            cross_cpc: 0.5,
            club: 0.05,
            text_contrastive: 1.0,
            code_matching: 2.0,
            cross_commitment: 0.5,
            code_agreement: 1.0,
            code_separation: 1.0,
        }
    }
}

/// How often each training source is drawn: relative weights among the pools of a
/// modality that hold the batch's class (a weight of 0 leaves a pool out).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataMix {
    /// MNIST training digits as they are (white ink on black, centred).
    pub mnist: f32,
    /// MNIST training digits rendered as scans/photos and re-preprocessed.
    pub scan: f32,
    /// Printed digits in the training typefaces.
    pub print: f32,
    /// FSDD recordings of the training speakers.
    pub fsdd: f32,
    /// Synthetic voices (espeak-ng, flite, festival) not held out.
    pub synth: f32,
    /// Augmented copies (speed, vocal tract, noise, reverb) of the training clips.
    pub augmented: f32,
}

impl Default for DataMix {
    fn default() -> Self {
        DataMix {
            mnist: 0.4,
            scan: 0.3,
            print: 0.3,
            fsdd: 0.3,
            synth: 0.2,
            augmented: 0.5,
        }
    }
}

/// Which parts of CMG are on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Components {
    /// Shared discrete codebook; off = plain continuous embedding.
    pub codebook: bool,
    /// Multi-modal EMA codebook updates; off = per-modality EMA.
    pub multimodal_ema: bool,
    pub cross_cpc: bool,
    pub club: bool,
    /// Contrastive pull of pooled embeddings toward class-prompt text embeddings.
    pub text_contrastive: bool,
    /// Decoders reconstructing each modality's features from semantic + specific parts.
    pub reconstruction: bool,
    /// Cross-modal code matching: paired items' soft code distributions made to agree.
    pub code_matching: bool,
    /// Each modality's features also committed to the partner's code vectors.
    pub cross_commitment: bool,
    /// Class-level code agreement: for each pair of modalities, the code histogram of a class
    /// in one made to overlap the same class's in the other (what the eval's code agreement
    /// measures). Off by default: not part of CMG, and the shipped models were trained
    /// without it.
    pub code_agreement: bool,
    /// Class-level code separation: for each pair of modalities, the code histogram of a
    /// class in one made to overlap the *other* classes' in the other as little as possible
    /// (the eval's other-class overlap). Off by default, like `code_agreement`.
    pub code_separation: bool,
    /// Positions past a clip's end and past a prompt's tokens, and an image's blank cells
    /// (with `blank_cell_mask`), are masked out of every loss, the EMA update and the pooled
    /// embedding during training; off = they train like any other position (the ablation of
    /// CMG's attention masks). The speech cache keeps only a clip's own positions, so a
    /// clip's padding is zero features, not Whisper's features of silence.
    pub padding_mask: bool,
    /// The model masks an image's grid cells of blank paper (brightest pixel at most
    /// `image_blank_cell_ink`): they get no code, in training and in the app. Off = every
    /// cell is a position (the recipe before 2026-12-07 afternoon).
    pub blank_cell_mask: bool,
}

impl Default for Components {
    fn default() -> Self {
        Components {
            codebook: true,
            multimodal_ema: true,
            cross_cpc: true,
            club: true,
            text_contrastive: true,
            reconstruction: true,
            code_matching: true,
            cross_commitment: true,
            code_agreement: false,
            code_separation: false,
            padding_mask: true,
            blank_cell_mask: true,
        }
    }
}

/// The whole trainer configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub name: String,
    /// Prepared data (`transference data --out DIR`).
    pub data_dir: PathBuf,
    /// Folder with the frozen text transformer (model.safetensors + tokenizer.json).
    pub transformer_dir: PathBuf,
    pub seed: u64,
    pub steps: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub grad_clip_norm: f32,
    pub d_model: usize,
    pub codebook_size: usize,
    pub specific_dim: usize,
    pub image_channels: Vec<usize>,
    /// Whether each image position also reads the whole picture's mean feature
    /// ([`crate::model::ImageEncoderConfig::global_context`]).
    pub image_global_context: bool,
    /// With `components.blank_cell_mask`, a grid cell of an image whose brightest pixel (0
    /// paper, 1 full ink, before the normalisation) is at most this is blank paper: masked
    /// like a clip's padding, it gets no code
    /// ([`crate::model::ImageEncoderConfig::blank_cell_max`]).
    pub image_blank_cell_ink: f32,
    /// The frozen speech encoder (`transference convert-whisper`); the data's speech cache
    /// must come from the same file (its sha256 is checked).
    pub speech_weights: PathBuf,
    /// Hidden width of the trained adapter on the frozen speech features.
    pub speech_adapter_hidden: usize,
    pub ema_decay: f32,
    pub ema_epsilon: f32,
    pub dead_code_steps: usize,
    /// Temperature of the contrastive terms.
    pub contrastive_temperature: f32,
    /// Temperature of the soft code assignment that code matching and code agreement compare,
    /// `softmax_k(-‖z - e_k‖ / τ)`. CMG uses 1. With codes about 1 apart (the shipped
    /// codebook's median nearest-code distance is 1.05) that puts most of a position's mass on
    /// codes other than its own; smaller is closer to the hard assignment. Measured: 0.25 with
    /// code matching alone made each modality's codes *more* private (docs/evaluation.md).
    pub code_matching_temperature: f32,
    /// Zero-shot softmax temperature written into the bundle.
    pub zero_shot_temperature: f32,
    pub weights: LossWeights,
    pub components: Components,
    /// Share of each data source in the batches.
    pub mix: DataMix,
    /// Add espeak-ng/flite synthetic speech to the audio training set.
    pub use_synthetic_speech: bool,
    pub checkpoint_every: usize,
    /// Gallery items per modality written into the bundle.
    pub gallery_per_class: usize,
    /// Evaluate every this many steps (0 = only at the end).
    pub eval_every: usize,
    /// Classes (digit words) kept out of image and audio training and of the text-contrastive
    /// term: they exist only as text prompts, for zero-shot to unseen classes (Socher et al.,
    /// 2013). Empty: every class is trained.
    pub held_out_classes: Vec<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            name: "digits".into(),
            data_dir: "data/digits".into(),
            transformer_dir: "models/minilm".into(),
            seed: 7,
            steps: 2500,
            batch_size: 40,
            learning_rate: 1e-3,
            grad_clip_norm: 0.5,
            d_model: 256,
            codebook_size: 400,
            specific_dim: 64,
            image_channels: vec![16, 32, 64, 64],
            image_global_context: false,
            image_blank_cell_ink: 0.3,
            speech_weights: crate::train::data::DEFAULT_SPEECH_WEIGHTS.into(),
            speech_adapter_hidden: 512,
            ema_decay: 0.99,
            ema_epsilon: 1e-5,
            dead_code_steps: 100,
            contrastive_temperature: 0.1,
            code_matching_temperature: 1.0,
            zero_shot_temperature: 0.05,
            weights: LossWeights::default(),
            components: Components::default(),
            mix: DataMix::default(),
            use_synthetic_speech: true,
            checkpoint_every: 500,
            gallery_per_class: 30,
            eval_every: 0,
            held_out_classes: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// Reads a TOML config; missing keys take defaults.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: TrainConfig = toml::from_str(&text).map_err(|e| {
            Error::InvalidRequest(format!(
                "{}: not a valid training config: {e}",
                path.display()
            ))
        })?;
        cfg.validate()
            .map_err(|e| Error::InvalidRequest(format!("{}: {e}", path.display())))?;
        Ok(cfg)
    }

    /// Range checks.
    pub fn validate(&self) -> std::result::Result<(), Invalid> {
        if self.batch_size < 2 {
            return Err("batch_size must be >= 2 (contrastive terms need negatives)".into());
        }
        if self.d_model == 0 || self.codebook_size == 0 || self.specific_dim == 0 {
            return Err("d_model, codebook_size and specific_dim must be positive".into());
        }
        if self.image_channels.len() < 2 {
            return Err("image_channels needs at least 2 layers".into());
        }
        if self.speech_adapter_hidden == 0 {
            return Err("speech_adapter_hidden must be positive".into());
        }
        let ink = self.image_blank_cell_ink;
        if !(0.0..1.0).contains(&ink) {
            return Err(invalid!(
                "image_blank_cell_ink must be in [0, 1) (0 paper, 1 full ink), got {ink}"
            ));
        }
        let tau = self.code_matching_temperature;
        if !tau.is_finite() || tau <= 0.0 {
            return Err(invalid!(
                "code_matching_temperature must be finite and > 0, got {tau}"
            ));
        }
        let w = &self.weights;
        if [
            w.code_matching,
            w.cross_commitment,
            w.code_agreement,
            w.code_separation,
        ]
        .iter()
        .any(|v| !v.is_finite() || *v < 0.0)
        {
            return Err("loss weights must be finite and >= 0".into());
        }
        let m = &self.mix;
        if [m.mnist, m.scan, m.print, m.fsdd, m.synth, m.augmented]
            .iter()
            .any(|w| !w.is_finite() || *w < 0.0)
        {
            return Err("mix weights must be finite and >= 0".into());
        }
        if !(0.0..1.0).contains(&self.ema_decay) {
            return Err("ema_decay must be in [0, 1)".into());
        }
        if self.learning_rate.is_nan() || self.learning_rate <= 0.0 {
            return Err("learning_rate must be > 0".into());
        }
        self.held_out_ids()?;
        Ok(())
    }

    /// Class ids of [`Self::held_out_classes`], sorted; an unknown word, a repeat, or fewer
    /// than two trained classes left is an error.
    pub fn held_out_ids(&self) -> std::result::Result<Vec<usize>, Invalid> {
        let mut ids = Vec::new();
        for word in &self.held_out_classes {
            let id = DIGIT_WORDS.iter().position(|w| w == word).ok_or_else(|| {
                invalid!(
                    "held_out_classes: unknown class {word:?}; expected digit words: {}",
                    DIGIT_WORDS.join(", ")
                )
            })?;
            if ids.contains(&id) {
                return Err(invalid!("held_out_classes: {word:?} is listed twice"));
            }
            ids.push(id);
        }
        if DIGIT_WORDS.len() - ids.len() < 2 {
            return Err("held_out_classes: at least two classes must stay in training".into());
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// The classes training batches are drawn from: every class not held out.
    pub fn trained_classes(&self) -> std::result::Result<Vec<usize>, Invalid> {
        let held = self.held_out_ids()?;
        Ok((0..DIGIT_WORDS.len())
            .filter(|c| !held.contains(c))
            .collect())
    }

    /// TOML text of this config.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_classes_are_checked_words_and_leave_the_rest_trained() {
        let cfg = TrainConfig {
            held_out_classes: vec!["seven".into(), "three".into()],
            ..TrainConfig::default()
        };
        assert_eq!(cfg.held_out_ids().unwrap(), vec![3, 7]);
        assert_eq!(cfg.trained_classes().unwrap(), vec![0, 1, 2, 4, 5, 6, 8, 9]);
        let typo = TrainConfig {
            held_out_classes: vec!["sevn".into()],
            ..TrainConfig::default()
        };
        let err = typo.validate().unwrap_err();
        assert!(
            err.0.contains("\"sevn\"") && err.0.contains("seven"),
            "{err}"
        );
        let twice = TrainConfig {
            held_out_classes: vec!["one".into(), "one".into()],
            ..TrainConfig::default()
        };
        assert!(twice.validate().unwrap_err().0.contains("twice"));
        let all_but_one = TrainConfig {
            held_out_classes: DIGIT_WORDS[1..].iter().map(|w| w.to_string()).collect(),
            ..TrainConfig::default()
        };
        assert!(
            all_but_one
                .validate()
                .unwrap_err()
                .0
                .contains("at least two")
        );
    }

    #[test]
    fn a_typo_in_the_config_is_an_error_not_a_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train.toml");
        std::fs::write(&path, "steps = 10\n[mix]\nprnt = 0.5\n").unwrap();
        let err = TrainConfig::read(&path).unwrap_err().to_string();
        assert!(err.contains("train.toml") && err.contains("prnt"), "{err}");
        std::fs::write(&path, "stpes = 10\n").unwrap();
        let err = TrainConfig::read(&path).unwrap_err().to_string();
        assert!(err.contains("stpes"), "{err}");
        std::fs::write(&path, "steps = 10\n[mix]\nprint = -1.0\n").unwrap();
        let err = TrainConfig::read(&path).unwrap_err().to_string();
        assert!(err.contains("mix weights"), "{err}");
        // A config written by to_toml reads back the same.
        let cfg = TrainConfig::default();
        std::fs::write(&path, cfg.to_toml()).unwrap();
        assert_eq!(TrainConfig::read(&path).unwrap(), cfg);
    }
}
