//! The evaluation's inputs: encoding labelled items in batches, seeded class-balanced fit
//! sets, and test folders of `{digit}_*.ext` files read through the model's own preprocessing.

use std::path::Path;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::engine::Pipeline;
pub use crate::engine::labelled_files::digit_from_name;
use crate::engine::labelled_files::{LABELLED_IMAGE_EXTENSIONS, labelled_files};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::EncodedItem;
use crate::preprocess::{audio, image as img};
use crate::train::data::LabeledSet;
use crate::train::data::speech_cache::CACHED_POSITIONS;

/// Fewest fit items of every class: below this a transfer figure is refused, not reported.
pub const MIN_FIT_PER_CLASS: usize = 100;
/// Most fit items taken of each class (the fit set is `classes x min(smallest class, this)`).
pub const MAX_FIT_PER_CLASS: usize = 400;
/// Seed of the fit-set sample; the same data always gives the same fit set.
pub const FIT_SEED: u64 = 0x6576_616c_5f66_6974;

/// Encoded, labelled items of one modality.
#[derive(Clone, Debug, Default)]
pub struct EncodedSet {
    pub items: Vec<EncodedItem>,
    pub labels: Vec<usize>,
}

impl EncodedSet {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the set holds no items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Items of each class `0..n_classes` (labels outside are not counted).
    pub fn per_class(&self, n_classes: usize) -> Vec<usize> {
        let mut counts = vec![0; n_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l) {
                *c += 1;
            }
        }
        counts
    }

    /// The items at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> EncodedSet {
        EncodedSet {
            items: indices.iter().map(|&i| self.items[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
        }
    }
}

/// A seeded, class-balanced sample of `labels`: the same number of items of every class
/// (the smallest class's count, at most `max_per_class`), drawn at random within each class
/// and interleaved. Never "the first N rows": prepared data is often sorted by class.
///
/// Refuses, naming `what` and the class, when any class has fewer than `min_per_class` items.
pub fn balanced_indices(
    labels: &[usize],
    class_names: &[String],
    min_per_class: usize,
    max_per_class: usize,
    seed: u64,
    what: &str,
) -> Result<Vec<usize>> {
    let n_classes = class_names.len();
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(v) = by_class.get_mut(l) {
            v.push(i);
        }
    }
    if let Some((c, v)) = by_class
        .iter()
        .enumerate()
        .find(|(_, v)| v.len() < min_per_class)
    {
        let counts: Vec<String> = by_class.iter().map(|v| v.len().to_string()).collect();
        return Err(Error::InvalidRequest(format!(
            "{what}: class {c} (`{}`) has {} fit items, fewer than the {min_per_class} per class \
             a balanced fit set needs (items per class: {})",
            class_names[c],
            v.len(),
            counts.join(", ")
        )));
    }
    let take = by_class
        .iter()
        .map(Vec::len)
        .min()
        .unwrap_or(0)
        .min(max_per_class);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(take * n_classes);
    for v in &mut by_class {
        v.shuffle(&mut rng);
        v.truncate(take);
    }
    for k in 0..take {
        out.extend(by_class.iter().map(|v| v[k]));
    }
    Ok(out)
}

/// Pairs encoded items with their labels.
pub(crate) fn labelled(items: Vec<EncodedItem>, labels: &[usize]) -> Result<EncodedSet> {
    if items.len() != labels.len() {
        return Err(Error::Internal(format!(
            "{} items encoded for {} labels",
            items.len(),
            labels.len()
        )));
    }
    Ok(EncodedSet {
        items,
        labels: labels.to_vec(),
    })
}

/// Encodes model-view images (`[N, 28*28]` in 0..1) in batches.
pub fn encode_images(p: &Pipeline, pixels: &[f32], labels: &[usize]) -> Result<EncodedSet> {
    labelled(p.encode_image_batch(pixels)?, labels)
}

/// Encodes prepared audio items in batches: cached frozen speech features
/// (`[N, CACHED_POSITIONS * H]`, see [`crate::train::data::speech_cache`]) for a model on the
/// speech encoder, raw log-mels (`[N, n_mels * n_frames]`) for a log-mel model.
pub fn encode_audio_items(p: &Pipeline, values: &[f32], labels: &[usize]) -> Result<EncodedSet> {
    if p.bundle.model.speech.is_some() {
        labelled(p.encode_speech_features(values, CACHED_POSITIONS)?, labels)
    } else {
        labelled(p.encode_mel_batch(values)?, labels)
    }
}

/// The item shape [`encode_audio_items`] expects for `p`'s model.
pub fn audio_item_shape(p: &Pipeline) -> Result<Vec<usize>> {
    match &p.bundle.manifest.architecture.speech {
        Some(s) => Ok(vec![CACHED_POSITIONS, s.whisper.d_model]),
        None => {
            let a = &p.audio_config()?.audio;
            Ok(vec![a.n_mels, a.n_frames])
        }
    }
}

/// Encodes a prepared set of `modality` (images: `[28, 28]` in 0..1; audio: raw log-mels).
pub fn encode_set(p: &Pipeline, modality: Modality, set: &LabeledSet) -> Result<EncodedSet> {
    let expected = match modality {
        Modality::Image => {
            let c = p.image_config()?;
            vec![c.height as usize, c.width as usize]
        }
        Modality::Audio => audio_item_shape(p)?,
        Modality::Text => vec![],
    };
    if modality != Modality::Text && set.feature_shape != expected {
        return Err(Error::InvalidRequest(format!(
            "prepared {modality} items have shape {:?}, the model expects {expected:?}: \
             prepare data with this model's preprocessing",
            set.feature_shape
        )));
    }
    let labels: Vec<usize> = set.labels.iter().map(|&l| usize::from(l)).collect();
    match modality {
        Modality::Image => encode_images(p, &set.features, &labels),
        Modality::Audio => encode_audio_items(p, &set.features, &labels),
        Modality::Text => Err(Error::Internal(
            "text sets are encoded from prompts, not prepared features".into(),
        )),
    }
}

/// Encodes the items of `set` at `indices`.
pub fn encode_subset(
    p: &Pipeline,
    modality: Modality,
    set: &LabeledSet,
    indices: &[usize],
) -> Result<EncodedSet> {
    let mut sub = LabeledSet::new(set.feature_shape.clone());
    for &i in indices {
        sub.features.extend_from_slice(set.item(i));
        sub.labels.push(set.labels[i]);
        sub.groups.push(set.groups[i]);
    }
    encode_set(p, modality, &sub)
}

/// The first `per_class` items of each of the 10 classes: (features, labels, indices).
/// For picking gallery items in data order; fit sets use [`balanced_indices`].
pub fn take_per_class(set: &LabeledSet, per_class: usize) -> (Vec<f32>, Vec<usize>, Vec<usize>) {
    let mut taken = [0usize; 10];
    let (mut features, mut labels, mut indices) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..set.len() {
        let l = set.labels[i] as usize;
        if l < 10 && taken[l] < per_class {
            taken[l] += 1;
            features.extend_from_slice(set.item(i));
            labels.push(l);
            indices.push(i);
        }
    }
    (features, labels, indices)
}

/// Reads the labelled images of `dir` ([`labelled_files`]) through the model's own preprocessing.
pub fn images_from_dir(p: &Pipeline, dir: &Path) -> Result<(Vec<f32>, Vec<usize>)> {
    let cfg = p.image_config()?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (path, label) in labelled_files(dir, LABELLED_IMAGE_EXTENSIONS)? {
        let prepared = img::prepare_image_file(&path, cfg)?;
        pixels.extend(prepared.preview.iter().map(|&v| v as f32 / 255.0));
        labels.push(label);
    }
    Ok((pixels, labels))
}

/// Encodes every labelled audio file of `dir` ([`labelled_files`]) the way
/// the app does: decode, prepare, encode ([`Pipeline::encode_prepared_clips`]).
pub fn audio_from_dir(p: &Pipeline, dir: &Path) -> Result<EncodedSet> {
    let pre = p.audio_config()?;
    let mut prepared = Vec::new();
    let mut labels = Vec::new();
    for (path, label) in labelled_files(dir, crate::preprocess::audio_formats::AUDIO_EXTENSIONS)? {
        prepared.push(audio::prepare_audio_file(&path, &pre.audio)?);
        labels.push(label);
    }
    let refs: Vec<&audio::PreparedAudio> = prepared.iter().collect();
    labelled(p.encode_prepared_clips(&refs)?, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn balanced_sample_takes_every_class_equally_from_sorted_data() {
        // Sorted by class, uneven counts: 150, 120, 300 items.
        let labels: Vec<usize> = [(0, 150), (1, 120), (2, 300)]
            .iter()
            .flat_map(|&(c, n)| std::iter::repeat_n(c, n))
            .collect();
        let idx = balanced_indices(&labels, &names(3), 100, 400, 1, "fit").unwrap();
        assert_eq!(idx.len(), 3 * 120);
        let mut counts = [0; 3];
        for &i in &idx {
            counts[labels[i]] += 1;
        }
        assert_eq!(counts, [120, 120, 120]);
        // Interleaved, not blocks of one class.
        assert_eq!(
            idx[..3].iter().map(|&i| labels[i]).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        // Class 2 is a random sample of its 300 items, not its first 120.
        assert!(idx.iter().any(|&i| labels[i] == 2 && i >= 150 + 120 + 120));
        // Seeded: same seed, same sample; another seed, another sample.
        assert_eq!(
            idx,
            balanced_indices(&labels, &names(3), 100, 400, 1, "fit").unwrap()
        );
        assert_ne!(
            idx,
            balanced_indices(&labels, &names(3), 100, 400, 2, "fit").unwrap()
        );
        // Capped per class.
        assert_eq!(
            balanced_indices(&labels, &names(3), 100, 110, 1, "fit")
                .unwrap()
                .len(),
            330
        );
    }

    #[test]
    fn balanced_sample_refuses_a_thin_class() {
        let mut labels = vec![0; 200];
        labels.extend(vec![1; 99]);
        let err = balanced_indices(&labels, &names(2), 100, 400, 1, "image fit set").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("image fit set") && msg.contains("class 1 (`c1`) has 99"),
            "{msg}"
        );
        // A class with no items at all is refused too.
        let err = balanced_indices(&[0; 300], &names(2), 100, 400, 1, "x").unwrap_err();
        assert!(err.to_string().contains("has 0 fit items"), "{err}");
    }
}
