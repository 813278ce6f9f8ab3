//! The inference pipeline: a loaded bundle on a device, turning inputs into codes,
//! embeddings, zero-shot scores and neighbours. Used directly by the CLI and owned by the
//! worker thread for the app.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, Gallery};
use crate::device::{ComputeDevice, DeviceRequest};
use crate::engine::input::{InputSource, InputView, modality_of_file};
use crate::engine::ms_since;
use crate::error::{Error, Result};
use crate::index::search::{DeviceIndex, Hit};
use crate::modality::Modality;
use crate::model::{EncodedItem, int_tensor_from_vec, tensor_from_vec};
use crate::preprocess::{audio, image as img};

/// An encoded input with everything the UI or CLI shows about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncodedInput {
    pub name: String,
    pub modality: Modality,
    pub view: InputView,
    pub item: EncodedItem,
    pub preprocess_ms: f64,
    pub encode_ms: f64,
}

impl EncodedInput {
    /// Cells of an image's grid without a code (blank paper); `None` for audio and text.
    pub fn blank_cells(&self) -> Option<usize> {
        match &self.view {
            InputView::Image { grid, .. } => {
                Some((grid[0] * grid[1]).saturating_sub(self.item.codes.len()))
            }
            _ => None,
        }
    }
}

/// Zero-shot probability of one label.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelScore {
    pub label: String,
    /// Cosine similarity with the label's prompt embedding.
    pub cosine: f32,
    /// Softmax over labels at the model's temperature.
    pub probability: f32,
}

/// A gallery neighbour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub index: usize,
    pub score: f32,
    pub modality: Modality,
    pub label: Option<String>,
    pub source: String,
    pub text: Option<String>,
    pub media: Option<PathBuf>,
}

/// A loaded model ready for inference.
pub struct Pipeline {
    pub bundle: Bundle,
    pub device: ComputeDevice,
    /// Gallery per modality: (gallery row indices, device index over them).
    gallery_indices: Vec<(Modality, Vec<usize>, DeviceIndex)>,
    /// Cached class embeddings: (labels, templates, `[labels x D]`).
    class_cache: Option<(Vec<String>, Vec<String>, Vec<f32>)>,
}

/// Largest batch of texts encoded at once.
pub const TEXT_BATCH: usize = 64;

impl Pipeline {
    /// Loads a bundle on the requested device.
    pub fn open(dir: &Path, request: DeviceRequest) -> Result<Self> {
        let device = crate::device::resolve(request)?;
        Self::open_on(dir, device)
    }

    /// Loads a bundle on a resolved device.
    pub fn open_on(dir: &Path, device: ComputeDevice) -> Result<Self> {
        let bundle = Bundle::load(dir, &device.device)?;
        let mut pipeline = Pipeline {
            bundle,
            device,
            gallery_indices: Vec::new(),
            class_cache: None,
        };
        pipeline.rebuild_gallery_index()?;
        Ok(pipeline)
    }

    /// Re-uploads the gallery (after it changed).
    pub fn rebuild_gallery_index(&mut self) -> Result<()> {
        self.gallery_indices.clear();
        let Some(gallery) = &self.bundle.gallery else {
            return Ok(());
        };
        for modality in Modality::ALL {
            let rows = gallery.indices_of(modality);
            if rows.is_empty() {
                continue;
            }
            let mut base = Vec::with_capacity(rows.len() * gallery.dim);
            for &r in &rows {
                base.extend_from_slice(&gallery.embedding(r));
            }
            let index = DeviceIndex::new(&base, gallery.dim, &self.device.device)?;
            self.gallery_indices.push((modality, rows, index));
        }
        Ok(())
    }

    /// Replaces the gallery (e.g. one built by `index`).
    pub fn set_gallery(&mut self, gallery: Option<Gallery>) -> Result<()> {
        self.bundle.gallery = gallery;
        self.rebuild_gallery_index()
    }

    /// The model's gallery, or [`Error::NoGallery`].
    pub fn gallery(&self) -> Result<&Gallery> {
        self.bundle
            .gallery
            .as_ref()
            .ok_or_else(|| Error::NoGallery {
                model: self.bundle.dir.clone(),
            })
    }

    /// Labels of a gallery: the manifest's names, else the sorted distinct item labels.
    pub fn gallery_labels(&self) -> Vec<String> {
        let names = &self.bundle.manifest.labels.names;
        if !names.is_empty() {
            return names.clone();
        }
        let mut set: Vec<String> = self
            .bundle
            .gallery
            .iter()
            .flat_map(|g| g.items.iter().filter_map(|i| i.label.clone()))
            .collect();
        set.sort();
        set.dedup();
        set
    }

    /// The modalities the model encodes.
    pub fn modalities(&self) -> Vec<Modality> {
        self.bundle.manifest.architecture.modalities()
    }

    pub(crate) fn missing(&self, modality: Modality) -> Error {
        let available = if self.bundle.has_encoders() {
            self.modalities()
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "no encoder at all: a vectors-only bundle from `transference import`".into()
        };
        Error::MissingModality {
            modality: modality.name().into(),
            available,
        }
    }

    pub(crate) fn source(&self) -> crate::model::EmbeddingSource {
        self.bundle.manifest.architecture.embedding_source
    }

    /// Encodes one input.
    pub fn encode(&self, input: &InputSource) -> Result<EncodedInput> {
        let name = input.display_name();
        match input {
            InputSource::File(path) => match modality_of_file(path)? {
                Modality::Image => {
                    let cfg = self.image_config()?;
                    let t0 = Instant::now();
                    let prepared = img::prepare_image_file(path, cfg)?;
                    self.encode_prepared_image(name, prepared, t0)
                }
                Modality::Audio => {
                    let cfg = self.audio_config()?;
                    let t0 = Instant::now();
                    let prepared = audio::prepare_audio_file(path, &cfg.audio)?;
                    self.encode_prepared_audio(name, prepared, t0)
                }
                Modality::Text => Err(Error::UnsupportedInput { path: path.clone() }),
            },
            InputSource::Text(text) => self.encode_text(text),
            InputSource::Drawing {
                width,
                height,
                values,
            } => {
                let cfg = self.image_config()?;
                let t0 = Instant::now();
                let gray = img::gray_from_unit_floats(values, *width, *height)?;
                let dynamic = image::DynamicImage::ImageLuma8(gray);
                let prepared = img::prepare_image(&dynamic, cfg, Path::new("<drawing>"))?;
                self.encode_prepared_image(name, prepared, t0)
            }
            InputSource::GalleryItem(i) => self.encode_gallery_item(*i),
            InputSource::Recording {
                name,
                samples,
                sample_rate_hz,
            } => {
                let cfg = self.audio_config()?;
                let t0 = Instant::now();
                let wave = audio::Waveform {
                    samples: samples.clone(),
                    sample_rate_hz: *sample_rate_hz,
                };
                let prepared = audio::prepare_audio(wave, 1, &cfg.audio, Path::new(name))?;
                self.encode_prepared_audio(name.clone(), prepared, t0)
            }
            InputSource::Generated { from, to } => {
                let mut generated = self.generate(&self.encode(from)?, *to)?;
                generated.name = name;
                Ok(generated)
            }
        }
    }

    /// The image preprocessing, or the missing-modality error.
    pub fn image_config(&self) -> Result<&img::ImageConfig> {
        self.bundle
            .manifest
            .preprocess
            .image
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Image))
    }

    /// The audio preprocessing, or the missing-modality error.
    pub fn audio_config(&self) -> Result<&crate::bundle::manifest::AudioPreprocess> {
        self.bundle
            .manifest
            .preprocess
            .audio
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Audio))
    }

    fn encode_gallery_item(&self, i: usize) -> Result<EncodedInput> {
        let gallery = self.gallery()?;
        let item = gallery.items.get(i).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "no gallery item {i}: the gallery has {n} items, expected an index below {n}",
                n = gallery.len()
            ))
        })?;
        if !self.bundle.has_encoders() {
            return Ok(stored_gallery_item(gallery, i));
        }
        match (&item.text, gallery.media_path(i)) {
            (Some(text), _) if item.modality == Modality::Text => self.encode_text(text),
            (_, Some(path)) => {
                let mut encoded = self.encode(&InputSource::File(path))?;
                encoded.name = format!("gallery: {}", item.source);
                Ok(encoded)
            }
            // Media not shipped (recordings that may not be redistributed): the embedding and
            // codes the model gave it at export.
            _ => Ok(stored_gallery_item(gallery, i)),
        }
    }

    /// Encodes an already preprocessed image (a batch of one: the same forward pass as
    /// [`Pipeline::encode_prepared_batch`]).
    pub fn encode_prepared_image(
        &self,
        name: String,
        prepared: img::PreparedImage,
        t0: Instant,
    ) -> Result<EncodedInput> {
        let preprocess_ms = ms_since(t0);
        let t1 = Instant::now();
        let item = self
            .encode_normalised_image_batch(&prepared.pixels)?
            .pop()
            .ok_or_else(|| self.missing(Modality::Image))?;
        let encode_ms = ms_since(t1);
        self.image_input(name, prepared, item, preprocess_ms, encode_ms)
    }

    /// Encodes already preprocessed audio.
    pub fn encode_prepared_audio(
        &self,
        name: String,
        prepared: audio::PreparedAudio,
        t0: Instant,
    ) -> Result<EncodedInput> {
        let preprocess_ms = ms_since(t0);
        let t1 = Instant::now();
        let read = self
            .encode_clips_read(&[&prepared])?
            .pop()
            .ok_or_else(|| self.missing(Modality::Audio))?;
        let encode_ms = ms_since(t1);
        Ok(self.audio_input(name, prepared, read, preprocess_ms, encode_ms))
    }

    /// Encodes one text.
    pub fn encode_text(&self, text: &str) -> Result<EncodedInput> {
        let tokenizer = self
            .bundle
            .tokenizer
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Text))?;
        let t0 = Instant::now();
        let tokenized = tokenizer.encode(text)?;
        let preprocess_ms = ms_since(t0);
        let t1 = Instant::now();
        let l = tokenized.ids.len();
        let ids = int_tensor_from_vec(
            tokenized.ids.iter().map(|&i| i as i64).collect(),
            [1, l],
            &self.device.device,
        );
        let mask = tensor_from_vec(vec![1.0; l], [1, l], &self.device.device);
        let batch = self
            .bundle
            .model
            .encode_text(ids, mask, self.source())
            .ok_or_else(|| self.missing(Modality::Text))?;
        let item = batch.to_items(Modality::Text).remove(0);
        Ok(EncodedInput {
            name: InputSource::Text(text.to_string()).display_name(),
            modality: Modality::Text,
            view: InputView::Text {
                text: text.to_string(),
                tokens: tokenized.tokens,
                truncated: tokenized.truncated,
            },
            item,
            preprocess_ms,
            encode_ms: ms_since(t1),
        })
    }

    /// Encodes many texts in padded batches.
    pub fn encode_texts(&self, texts: &[String]) -> Result<Vec<EncodedItem>> {
        let tokenizer = self
            .bundle
            .tokenizer
            .as_ref()
            .ok_or_else(|| self.missing(Modality::Text))?;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(TEXT_BATCH) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let (ids, mask, l) = tokenizer.encode_batch(&refs)?;
            let b = chunk.len();
            let ids = int_tensor_from_vec(
                ids.iter().map(|&i| i as i64).collect(),
                [b, l],
                &self.device.device,
            );
            let mask = tensor_from_vec(
                mask.iter().map(|&m| m as f32).collect(),
                [b, l],
                &self.device.device,
            );
            let batch = self
                .bundle
                .model
                .encode_text(ids, mask, self.source())
                .ok_or_else(|| self.missing(Modality::Text))?;
            out.extend(batch.to_items(Modality::Text));
        }
        Ok(out)
    }

    /// Class embeddings for labels: the normalised mean of each label's prompt embeddings.
    /// Cached for the last (labels, templates) pair.
    pub fn class_embeddings(
        &mut self,
        labels: &[String],
        templates: &[String],
    ) -> Result<Vec<f32>> {
        if let Some((l, t, e)) = &self.class_cache
            && l == labels
            && t == templates
        {
            return Ok(e.clone());
        }
        if labels.is_empty() {
            return Err(Error::InvalidRequest(
                "no labels given for zero-shot classification".into(),
            ));
        }
        let d = self.bundle.manifest.architecture.d_model;
        let aliases = self.bundle.manifest.labels.aliases.clone();
        let mut all_prompts = Vec::new();
        let mut owners = Vec::new();
        for (li, label) in labels.iter().enumerate() {
            let label = label.trim();
            if label.is_empty() {
                return Err(Error::InvalidRequest(format!("label {} is empty", li + 1)));
            }
            for prompt in crate::bundle::manifest::prompts_for(templates, &aliases, label) {
                all_prompts.push(prompt);
                owners.push(li);
            }
        }
        let items = self.encode_texts(&all_prompts)?;
        let mut classes = vec![0f32; labels.len() * d];
        for (item, &li) in items.iter().zip(&owners) {
            for (c, v) in classes[li * d..(li + 1) * d]
                .iter_mut()
                .zip(&item.embedding)
            {
                *c += v;
            }
        }
        crate::index::l2_normalize_rows(&mut classes, d);
        self.class_cache = Some((labels.to_vec(), templates.to_vec(), classes.clone()));
        Ok(classes)
    }

    /// Zero-shot scores of one embedding against labels, best first.
    pub fn classify(
        &mut self,
        embedding: &[f32],
        labels: &[String],
        templates: &[String],
    ) -> Result<Vec<LabelScore>> {
        let classes = self.class_embeddings(labels, templates)?;
        let temperature = self.bundle.manifest.architecture.temperature;
        Ok(zero_shot_scores(embedding, &classes, labels, temperature))
    }

    /// Every gallery item's zero-shot label: per item, in gallery order, the index in
    /// `labels` of the class embedding most similar to its embedding.
    pub fn gallery_zero_shot(
        &mut self,
        labels: &[String],
        templates: &[String],
    ) -> Result<Vec<u32>> {
        if !self.modalities().contains(&Modality::Text) {
            return Err(self.missing(Modality::Text));
        }
        let classes = self.class_embeddings(labels, templates)?;
        let gallery = self.gallery()?;
        Ok((0..gallery.len())
            .map(|i| best_class(&gallery.embedding(i), &classes) as u32)
            .collect())
    }

    /// Every gallery item's cosine similarity to `embedding` (L2-normalised, as every
    /// embedding this pipeline makes), in gallery order.
    pub fn gallery_similarity(&self, embedding: &[f32]) -> Result<Vec<f32>> {
        let gallery = self.gallery()?;
        Ok((0..gallery.len())
            .map(|i| crate::index::search::dot(&gallery.embedding(i), embedding))
            .collect())
    }

    /// Nearest gallery items of one modality (or all, best first).
    pub fn retrieve(
        &self,
        embedding: &[f32],
        target: Option<Modality>,
        k: usize,
    ) -> Result<Vec<Neighbour>> {
        let gallery = self.gallery()?;
        let mut hits: Vec<Hit> = Vec::new();
        for (modality, rows, index) in &self.gallery_indices {
            if target.is_some_and(|t| t != *modality) {
                continue;
            }
            let found = index.top_k(embedding, k)?;
            hits.extend(found.into_iter().flatten().map(|h| Hit {
                index: rows[h.index],
                score: h.score,
            }));
        }
        crate::index::search::sort_hits(&mut hits);
        hits.truncate(k);
        Ok(hits
            .into_iter()
            .map(|h| {
                let item = &gallery.items[h.index];
                Neighbour {
                    index: h.index,
                    score: h.score,
                    modality: item.modality,
                    label: item.label.clone(),
                    source: item.source.clone(),
                    text: item.text.clone(),
                    media: gallery.media_path(h.index),
                }
            })
            .collect())
    }
}

/// A gallery item as stored (a vectors-only bundle cannot re-encode it): its embedding and
/// codes as imported, no distances, no preprocessing.
fn stored_gallery_item(gallery: &Gallery, i: usize) -> EncodedInput {
    let item = &gallery.items[i];
    EncodedInput {
        name: format!("gallery: {}", item.source),
        modality: item.modality,
        view: InputView::Stored {
            media: gallery.media_path(i),
            text: item.text.clone(),
        },
        item: EncodedItem {
            modality: item.modality,
            codes: gallery.codes[i].clone(),
            positions: gallery.positions[i].clone(),
            distances: Vec::new(),
            embedding: gallery.embedding(i).to_vec(),
        },
        preprocess_ms: 0.0,
        encode_ms: 0.0,
    }
}

/// The row of `classes` (row-major, rows as long as `embedding`) with the largest dot
/// product with `embedding`; the first on ties, 0 when there is none.
pub fn best_class(embedding: &[f32], classes: &[f32]) -> usize {
    classes
        .chunks_exact(embedding.len().max(1))
        .map(|c| crate::index::search::dot(embedding, c))
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(0, |(i, _)| i)
}

/// Softmax over cosine / temperature, best first.
pub fn zero_shot_scores(
    embedding: &[f32],
    classes: &[f32],
    labels: &[String],
    temperature: f32,
) -> Vec<LabelScore> {
    let d = embedding.len();
    let cosines: Vec<f32> = classes
        .chunks_exact(d.max(1))
        .map(|c| crate::index::search::dot(embedding, c))
        .collect();
    let max = cosines.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = cosines
        .iter()
        .map(|c| ((c - max) / temperature).exp())
        .collect();
    let sum: f32 = exps.iter().sum();
    let mut scores: Vec<LabelScore> = labels
        .iter()
        .zip(cosines.iter().zip(&exps))
        .map(|(label, (&cosine, &e))| LabelScore {
            label: label.clone(),
            cosine,
            probability: e / sum,
        })
        .collect();
    scores.sort_by(|a, b| b.probability.total_cmp(&a.probability));
    scores
}
