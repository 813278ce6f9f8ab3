//! Model bundles: a folder with a manifest, safetensors weights, an optional gallery and a
//! model card (DESIGN.md §4).
//!
//! ```text
//! models/digits/
//!   manifest.toml        architecture, preprocessing, labels, provenance, metrics
//!   model.safetensors    encoders, projection, codebook (paths as tensor names, F32)
//!   README.md            model card
//!   gallery/             optional: items.json, gallery.safetensors, media files
//! ```
//! The frozen text transformer is referenced by path (`preprocess.text.transformer_weights`),
//! so the third-party weights are stored once in `models/minilm/`.
//!
//! A vectors-only bundle (manifest section `[vectors]`, written by [`import`]) has the same
//! layout without encoders: the weights hold only the imported codebook (or are absent), and
//! the gallery holds the imported embeddings and codes.

pub mod embedding_store;
pub mod gallery;
pub mod import;
pub mod locate;
pub mod manifest;
pub mod param_paths;
pub mod prompts;
pub mod weights;

use std::path::{Path, PathBuf};

use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::model::speech_encoder::SPEECH_FROZEN_SCOPE;
use crate::model::{GenerationConfig, GenerationDecoders, MultimodalModel};
use crate::preprocess::text::TextTokenizer;
use crate::safe_write::{replace_dir, write_file};
pub use embedding_store::EmbeddingStore;
pub use gallery::{Gallery, GalleryItem};
pub use manifest::{MANIFEST_FILE, Manifest};
use weights::{HuggingFaceBert, Identity, Naming, WeightFile, WhisperCt2};

/// Parameter-path prefix of the frozen transformer (stored outside the bundle weights).
pub const TRANSFORMER_SCOPE: &str = "text.bert";

/// A loaded bundle.
pub struct Bundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub model: MultimodalModel,
    pub tokenizer: Option<TextTokenizer>,
    pub gallery: Option<Gallery>,
    /// Cross-modal generation decoders (`[generation]`), when the bundle has them.
    pub decoders: Option<GenerationDecoders>,
}

/// True for a parameter of a frozen pretrained encoder, whose weights live outside the
/// bundle (the text transformer, the Whisper encoder).
pub fn is_frozen_param(path: &str) -> bool {
    path.starts_with(TRANSFORMER_SCOPE) || path.starts_with(SPEECH_FROZEN_SCOPE)
}

/// Bundle weights hold every parameter except the frozen encoders'.
struct BundleNaming;

impl Naming for BundleNaming {
    fn name(&self, path: &str) -> Option<(String, bool)> {
        if is_frozen_param(path) {
            None
        } else {
            Identity.name(path)
        }
    }
}

/// Resolves a manifest-relative path.
pub fn resolve(dir: &Path, relative: &str) -> PathBuf {
    dir.join(relative)
}

impl Bundle {
    /// Loads and validates a bundle folder onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Manifest {
                path: dir.to_path_buf(),
                reason: "not a folder; a model bundle is a folder with manifest.toml".into(),
            });
        }
        if !dir.join(MANIFEST_FILE).exists() {
            return Err(Error::NotABundle {
                path: dir.to_path_buf(),
            });
        }
        let manifest = Manifest::read(dir)?;
        let mut model = manifest.architecture.init(device);
        // A vectors-only bundle without an imported codebook has no weights file; its model is
        // then an unused placeholder codebook (`has_codebook` says so) and no encoder.
        if manifest.has_codebook() {
            let weights_path = resolve(dir, &manifest.weights);
            let file = WeightFile::read(&weights_path, &BundleNaming)?;
            model = weights::load_into(model, &file, &BundleNaming, "", true, device)?;
        }
        let mut tokenizer = None;
        if let Some(text) = &manifest.preprocess.text {
            let transformer_path = locate::frozen_file(dir, &text.transformer_weights)?;
            let file = WeightFile::read(&transformer_path, &HuggingFaceBert)?;
            model = weights::load_into(
                model,
                &file,
                &HuggingFaceBert,
                TRANSFORMER_SCOPE,
                true,
                device,
            )?;
            let tokenizer_path = locate::frozen_file(dir, &text.tokenizer)?;
            tokenizer = Some(TextTokenizer::from_file(&tokenizer_path, text.max_tokens)?);
        }
        if let Some(rel) = manifest
            .preprocess
            .audio
            .as_ref()
            .and_then(|a| a.speech_weights.as_ref())
        {
            let file = WeightFile::read(&locate::frozen_file(dir, rel)?, &WhisperCt2)?;
            model =
                weights::load_into(model, &file, &WhisperCt2, SPEECH_FROZEN_SCOPE, true, device)?;
        }
        let gallery = match &manifest.gallery {
            Some(rel) => Some(Gallery::read(
                &resolve(dir, rel),
                manifest.architecture.d_model,
                manifest.architecture.codebook_size,
            )?),
            None => None,
        };
        let decoders = match &manifest.generation {
            Some(g) => Some(load_decoders(dir, &manifest, g, device)?),
            None => None,
        };
        Ok(Bundle {
            dir: dir.to_path_buf(),
            manifest,
            model,
            tokenizer,
            gallery,
            decoders,
        })
    }
}

/// Flat sizes of one image and one log-mel of `manifest`'s model (0 for a missing encoder):
/// the output widths of its generation decoders.
pub fn decoder_output_lens(manifest: &Manifest) -> (usize, usize) {
    let image = manifest
        .architecture
        .image
        .as_ref()
        .map_or(0, |c| c.input_size[0] * c.input_size[1]);
    // The audio decoder writes a log-mel of the audio preprocessing (the encoder's input for a
    // log-mel model; for a speech model, what Griffin-Lim turns back into sound).
    let audio = manifest
        .preprocess
        .audio
        .as_ref()
        .map_or(0, |a| a.audio.n_mels * a.audio.n_frames);
    (image, audio)
}

/// Loads the generation decoders of `[generation]`, checking every tensor's shape.
fn load_decoders(
    dir: &Path,
    manifest: &Manifest,
    g: &GenerationConfig,
    device: &Device,
) -> Result<GenerationDecoders> {
    let (image_len, audio_len) = decoder_output_lens(manifest);
    let fresh = g.init(manifest.architecture.d_model, image_len, audio_len, device);
    let file = WeightFile::read(&resolve(dir, &g.weights), &Identity)?;
    weights::load_into(fresh, &file, &Identity, "", true, device)
}

impl Bundle {
    /// True when the bundle has encoders (a model bundle); false for a vectors-only bundle,
    /// whose items are read from the gallery and cannot be re-encoded.
    pub fn has_encoders(&self) -> bool {
        !self.manifest.is_vectors_only()
    }

    /// The codebook vectors, row-major `[codebook_size, d_model]`; `None` when a vectors-only
    /// bundle was imported without a codebook.
    pub fn codebook_vectors(&self) -> Option<Vec<f32>> {
        self.manifest
            .has_codebook()
            .then(|| crate::model::float_to_vec(self.model.codebook.vectors.val()))
    }
}

/// What to write into a new bundle folder.
pub struct BundleContents<'a> {
    pub manifest: &'a Manifest,
    pub model: &'a MultimodalModel,
    pub card: &'a str,
    pub gallery: Option<&'a Gallery>,
    /// Media files to copy into the gallery folder: (relative name, bytes).
    pub gallery_media: &'a [(String, Vec<u8>)],
}

/// Writes a bundle atomically: everything goes into a temporary sibling folder which is
/// renamed into place only when complete, so a failed save never leaves a half bundle and
/// never destroys the previous one.
pub fn save(dir: &Path, contents: &BundleContents<'_>) -> Result<()> {
    contents
        .manifest
        .validate()
        .map_err(|reason| Error::Manifest {
            path: dir.join(MANIFEST_FILE),
            reason: reason.0,
        })?;
    replace_dir(dir, |tmp| write_into(tmp, contents))
}

fn write_into(tmp: &Path, contents: &BundleContents<'_>) -> Result<()> {
    let manifest = contents.manifest;
    let tensors = weights::collect(contents.model, &|path| !is_frozen_param(path));
    // One metadata entry: safetensors writes a HashMap's entries in random order, and a
    // single key keeps the file byte-for-byte reproducible.
    let metadata = std::collections::HashMap::from([(
        "format".to_string(),
        format!("transference bundle `{}`", manifest.name),
    )]);
    if manifest.has_codebook() {
        let bytes = weights::to_safetensors_bytes(&tensors, Some(metadata))?;
        write_file(&tmp.join(&manifest.weights), &bytes)?;
    }
    write_file(&tmp.join(&manifest.card), contents.card.as_bytes())?;
    if let (Some(gallery), Some(rel)) = (contents.gallery, &manifest.gallery) {
        let gdir = tmp.join(rel);
        std::fs::create_dir_all(&gdir).map_err(|e| Error::Write {
            path: gdir.clone(),
            source: e,
        })?;
        gallery.write(&gdir)?;
        for (name, bytes) in contents.gallery_media {
            write_file(&gdir.join(name), bytes)?;
        }
    }
    // The manifest goes last: a folder without one is never mistaken for a bundle.
    write_file(&tmp.join(MANIFEST_FILE), manifest.to_toml()?.as_bytes())
}
