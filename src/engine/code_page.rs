//! A code's page: the facts of one code over the bundle's gallery and codebook
//! ([`crate::index::code_facts`]), when it was last reset (if the manifest records it), and the
//! code vector itself made visible and audible by the bundle's generation decoders. The one
//! route to a page: `transference code-page` calls [`Pipeline::code_page`] on the calling
//! thread, the window's worker calls it for a [`crate::engine::Job::CodePage`].

use serde::{Deserialize, Serialize};

use crate::bundle::gallery::Gallery;
use crate::engine::pipeline::Pipeline;
use crate::error::{Error, Result};
use crate::index::code_facts::{CodeFacts, CodeSource};
use crate::modality::Modality;
use crate::preprocess::audio::Waveform;

/// The code vector decoded as a picture: 8-bit gray pixels, row-major.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// The code vector decoded as a sound (a log-mel turned into a waveform by Griffin–Lim).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecodedSound {
    pub sample_rate_hz: u32,
    pub duration_secs: f64,
    /// Mono samples in `[-1, 1]` (not written to JSON; the window's export writes a WAV).
    #[serde(skip)]
    pub samples: Vec<f32>,
}

/// Why the code vector was not decoded into one modality.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotDecoded {
    pub modality: Modality,
    pub reason: String,
}

/// The code vector as the decoders show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DecodedCode {
    pub image: Option<DecodedImage>,
    pub sound: Option<DecodedSound>,
    /// One entry per modality not decoded, with the reason.
    pub not_decoded: Vec<NotDecoded>,
}

/// Everything a code's page shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CodePage {
    /// The bundle's name.
    pub model: String,
    #[serde(flatten)]
    pub facts: CodeFacts,
    /// True when the bundle records the trainer's code resets
    /// (`[provenance.last_reset_step]`, [`crate::bundle::manifest::Provenance`]).
    pub resets_recorded: bool,
    /// Training step at which the code was last reset (`None`: never reset, or not recorded).
    pub last_reset_step: Option<u64>,
    pub decoded: DecodedCode,
}

impl CodePage {
    /// When the code was last reset, as the page and `code-page` say it.
    pub fn last_reset_text(&self) -> String {
        match (self.resets_recorded, self.last_reset_step) {
            (_, Some(step)) => format!("last reset at training step {step}"),
            (true, None) => "never reset in training".into(),
            (false, None) => "last reset: not recorded by this bundle".into(),
        }
    }

    /// The page as one JSON object (what `code-page --json` prints and the window exports).
    pub fn to_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(self).map_err(|e| Error::Internal(e.to_string()))
    }
}

impl Pipeline {
    /// The page of `code`: its facts over the gallery and codebook and its decoded vector.
    /// An error when the code is not in the codebook.
    pub fn code_page(&self, code: u32) -> Result<CodePage> {
        let manifest = &self.bundle.manifest;
        let empty = Gallery::default();
        let codebook = self.bundle.codebook_vectors();
        let classes = self.gallery_labels();
        let source = CodeSource {
            gallery: self.bundle.gallery.as_ref().unwrap_or(&empty),
            classes: &classes,
            codebook_size: manifest.architecture.codebook_size,
            codebook: codebook.as_deref(),
            image_grid: manifest.architecture.image.as_ref().map(|c| c.grid()),
        };
        let facts = source.facts(code)?;
        let resets = manifest.provenance.last_reset_step.as_ref();
        Ok(CodePage {
            model: manifest.name.clone(),
            facts,
            resets_recorded: resets.is_some(),
            last_reset_step: resets.and_then(|r| r.get(&code.to_string()).copied()),
            decoded: self.decode_code(code, codebook.as_deref()),
        })
    }

    /// Code `code`'s vector, L2-normalised (the embedding of an item whose every position
    /// takes this code), decoded into a picture and a sound where the bundle has decoders.
    fn decode_code(&self, code: u32, codebook: Option<&[f32]>) -> DecodedCode {
        let d = self.bundle.manifest.architecture.d_model;
        let vector = codebook.and_then(|v| v.get(code as usize * d..(code as usize + 1) * d));
        let targets = self.generation_targets();
        let mut decoded = DecodedCode::default();
        for modality in [Modality::Image, Modality::Audio] {
            let reason = match vector {
                None => "this bundle has no code vectors".to_string(),
                Some(_) if !targets.contains(&modality) => {
                    format!("this bundle has no {modality} decoder")
                }
                Some(v) => {
                    let mut embedding = v.to_vec();
                    crate::index::l2_normalize(&mut embedding);
                    match self.decode_one(&embedding, modality, &mut decoded) {
                        Ok(()) => continue,
                        Err(e) => e.to_string(),
                    }
                }
            };
            decoded.not_decoded.push(NotDecoded { modality, reason });
        }
        decoded
    }

    /// Decodes one embedding into `modality` and stores the result in `into`.
    fn decode_one(
        &self,
        embedding: &[f32],
        modality: Modality,
        into: &mut DecodedCode,
    ) -> Result<()> {
        let values = self.decode_batch(embedding, modality)?;
        match modality {
            Modality::Image => {
                let prepared = self.prepared_generated_image(&values)?;
                into.image = Some(DecodedImage {
                    width: prepared.width,
                    height: prepared.height,
                    pixels: prepared.preview,
                });
            }
            Modality::Audio => {
                let wave: Waveform = self.prepared_generated_audio(values)?.waveform;
                into.sound = Some(DecodedSound {
                    sample_rate_hz: wave.sample_rate_hz,
                    duration_secs: wave.duration_secs(),
                    samples: wave.samples,
                });
            }
            Modality::Text => {}
        }
        Ok(())
    }
}
