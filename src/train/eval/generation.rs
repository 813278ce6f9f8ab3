//! Cycle accuracy of cross-modal generation: held-out inputs of one modality are decoded into
//! the other ([`Pipeline::decode_batch`]), the model reads the generated items back, and its
//! own zero-shot label for them is compared with the source's true label. A decoder that
//! carries the class across modalities scores high; one that makes noise scores at chance.

use serde::{Deserialize, Serialize};

use crate::engine::Pipeline;
use crate::error::Result;
use crate::modality::Modality;
use crate::train::eval::score::{Accuracy, zero_shot_predictions};
use crate::train::eval::sets::{EncodedSet, encode_images, encode_mels};

/// Generated items per decode-and-encode pass.
const GENERATION_CHUNK: usize = 256;

/// One direction of generation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationReport {
    /// Share of generated items whose zero-shot label is the source's label.
    pub cycle_accuracy: f32,
    /// Generated items scored.
    pub n: usize,
    /// The held-out source items.
    pub source: String,
    /// Per-class accuracy and confusion of the cycle labels.
    pub detail: Accuracy,
}

/// The report key of generating `to` from `from` (`image_to_audio`).
pub fn direction_key(from: Modality, to: Modality) -> String {
    format!("{from}_to_{to}")
}

/// Decodes every item of `set` into `to`, encodes the results and scores the model's zero-shot
/// label of each against the item's label. `classes`: one unit-length embedding per class.
pub fn cycle_accuracy(
    p: &Pipeline,
    set: &EncodedSet,
    to: Modality,
    classes: &[Vec<f32>],
) -> Result<Accuracy> {
    let mut generated = EncodedSet::default();
    for (items, labels) in set
        .items
        .chunks(GENERATION_CHUNK)
        .zip(set.labels.chunks(GENERATION_CHUNK))
    {
        let embeddings: Vec<f32> = items
            .iter()
            .flat_map(|i| i.embedding.iter().copied())
            .collect();
        let values = p.decode_batch(&embeddings, to)?;
        let encoded = match to {
            Modality::Audio => encode_mels(p, &values, labels)?,
            _ => encode_images(p, &values, labels)?,
        };
        generated.items.extend(encoded.items);
        generated.labels.extend(encoded.labels);
    }
    let predicted = zero_shot_predictions(&generated, classes)?;
    Ok(Accuracy::from_predictions(
        &generated.labels,
        &predicted,
        classes.len(),
    ))
}
