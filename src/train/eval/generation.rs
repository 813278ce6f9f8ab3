//! Cycle accuracy of cross-modal generation: held-out inputs of one modality are decoded into
//! the other ([`Pipeline::decode_batch`]), the model reads the generated items back, and its
//! own zero-shot label for them is compared with the source's true label. A decoder that
//! carries the class across modalities scores high; one that makes noise scores at chance.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::Pipeline;
use crate::error::Result;
use crate::modality::Modality;
use crate::train::eval::score::{Accuracy, zero_shot_predictions};
use crate::train::eval::sets::{EncodedSet, encode_audio_items, encode_images, labelled};

/// Marks the start of the generated section of a model card (replaced on the next run).
pub const CARD_BEGIN: &str = "<!-- generation: written by `transference decoders` -->";
/// Marks its end.
pub const CARD_END: &str = "<!-- /generation -->";

/// Generated items per decode-and-encode pass.
const GENERATION_CHUNK: usize = 256;
/// Sources per class scored when generated sound is heard through Griffin-Lim (a model on
/// the frozen speech encoder): about a second of CPU per clip, so a large test set is scored
/// on its first items of each class, not all of them.
pub const GRIFFIN_LIM_CYCLE_PER_CLASS: usize = 50;

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
    /// The model's zero-shot accuracy on the source items themselves: what the decoder is
    /// given to work with (a source the model mislabels rarely survives the trip).
    #[serde(default)]
    pub source_zero_shot_accuracy: f32,
    /// Cycle accuracy on the sources the model labels correctly by zero-shot (`None` when it
    /// labels none correctly).
    #[serde(default)]
    pub cycle_accuracy_where_source_correct: Option<f32>,
}

/// The first `per_class` items of each class, in set order.
fn first_per_class(set: &EncodedSet, per_class: usize) -> EncodedSet {
    let mut taken = std::collections::BTreeMap::<usize, usize>::new();
    let mut out = EncodedSet::default();
    for (item, &label) in set.items.iter().zip(&set.labels) {
        let n = taken.entry(label).or_default();
        if *n < per_class {
            *n += 1;
            out.items.push(item.clone());
            out.labels.push(label);
        }
    }
    out
}

/// The report key of generating `to` from `from` (`image_to_audio`).
pub fn direction_key(from: Modality, to: Modality) -> String {
    format!("{from}_to_{to}")
}

/// Decodes every item of `set` into `to`, encodes the results and scores the model's zero-shot
/// label of each against the item's label, beside the zero-shot accuracy of the sources.
/// `classes`: one unit-length embedding per class; `source` names the set in the report.
pub fn report(
    p: &Pipeline,
    set: &EncodedSet,
    to: Modality,
    classes: &[Vec<f32>],
    source: &str,
) -> Result<GenerationReport> {
    let capped;
    let set = if to == Modality::Audio && p.bundle.model.speech.is_some() {
        capped = first_per_class(set, GRIFFIN_LIM_CYCLE_PER_CLASS);
        &capped
    } else {
        set
    };
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
            // A model on the frozen speech encoder hears a generated log-mel as the app plays
            // it: through Griffin-Lim, then the speech path.
            Modality::Audio if p.bundle.model.speech.is_some() => {
                let mel_len = values.len() / labels.len().max(1);
                let clips: Vec<_> = values
                    .par_chunks_exact(mel_len.max(1))
                    .map(|mel| p.prepared_generated_audio(mel.to_vec()))
                    .collect::<Result<_>>()?;
                let refs: Vec<_> = clips.iter().collect();
                labelled(p.encode_prepared_clips(&refs)?, labels)?
            }
            Modality::Audio => encode_audio_items(p, &values, labels)?,
            _ => encode_images(p, &values, labels)?,
        };
        generated.items.extend(encoded.items);
        generated.labels.extend(encoded.labels);
    }
    let cycle = zero_shot_predictions(&generated, classes)?;
    let heard = zero_shot_predictions(set, classes)?;
    Ok(scored(&set.labels, &heard, &cycle, classes.len(), source))
}

/// The report of `cycle` labels for sources whose truth is `truth` and whose own zero-shot
/// labels are `heard`.
fn scored(
    truth: &[usize],
    heard: &[usize],
    cycle: &[usize],
    n_classes: usize,
    source: &str,
) -> GenerationReport {
    let detail = Accuracy::from_predictions(truth, cycle, n_classes);
    let source_acc = Accuracy::from_predictions(truth, heard, n_classes);
    let (mut kept, mut kept_right) = (0usize, 0usize);
    for ((t, h), c) in truth.iter().zip(heard).zip(cycle) {
        if h == t {
            kept += 1;
            kept_right += usize::from(c == t);
        }
    }
    GenerationReport {
        cycle_accuracy: detail.accuracy,
        n: detail.n,
        source: source.to_string(),
        source_zero_shot_accuracy: source_acc.accuracy,
        cycle_accuracy_where_source_correct: (kept > 0).then(|| kept_right as f32 / kept as f32),
        detail,
    }
}

/// The model card's "Cross-modal generation" section for `reports`, between [`CARD_BEGIN`]
/// and [`CARD_END`]. `how` says how the decoders were trained.
pub fn card_section(
    reports: &std::collections::BTreeMap<String, GenerationReport>,
    how: &str,
) -> String {
    let mut s = format!(
        "{CARD_BEGIN}\n## Cross-modal generation\n\n{how}\n\nCycle accuracy: held-out inputs of \
         one modality are decoded into the other, the model reads the generated item back, and \
         its own zero-shot label is compared with the source's label (`transference eval \
         --json` reports `generation.*.cycle_accuracy`). The model's zero-shot accuracy on the \
         sources themselves is what the decoder has to work with; the last column is the cycle \
         accuracy on the sources it labels correctly.\n\n| direction | held-out source | n | \
         cycle accuracy | zero-shot on the sources | cycle, sources labelled correctly |\n\
         |---|---|---|---|---|---|\n"
    );
    for (k, v) in reports {
        s.push_str(&format!(
            "| {} | {} | {} | {:.1} % | {:.1} % | {} |\n",
            k.replace("_to_", " → "),
            v.source,
            v.n,
            v.cycle_accuracy * 100.0,
            v.source_zero_shot_accuracy * 100.0,
            v.cycle_accuracy_where_source_correct
                .map_or("–".to_string(), |a| format!("{:.1} %", a * 100.0))
        ));
    }
    s.push_str(&format!("\n{CARD_END}\n"));
    s
}

/// `card` with its generation section replaced by `section` (appended when it has none).
pub fn replace_card_section(card: &str, section: &str) -> String {
    match (card.find(CARD_BEGIN), card.find(CARD_END)) {
        (Some(a), Some(b)) if b > a => {
            let mut end = b + CARD_END.len();
            if card[end..].starts_with('\n') {
                end += 1;
            }
            format!("{}{section}{}", &card[..a], &card[end..])
        }
        _ => {
            let sep = if card.ends_with('\n') { "\n" } else { "\n\n" };
            format!("{card}{sep}{section}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_card_section_is_replaced_not_repeated() {
        let mut reports = std::collections::BTreeMap::new();
        reports.insert(
            "image_to_audio".to_string(),
            scored(
                &[0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
                &[0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
                &[0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
                2,
                "test",
            ),
        );
        let first = replace_card_section("# card\n", &card_section(&reports, "how"));
        assert!(
            first.contains("| image → audio | test | 10 | 80.0 % | 90.0 % | 88.9 % |"),
            "{first}"
        );
        reports.get_mut("image_to_audio").unwrap().cycle_accuracy = 0.5;
        let second = replace_card_section(&first, &card_section(&reports, "how"));
        assert_eq!(second.matches(CARD_BEGIN).count(), 1);
        assert!(second.contains("| 50.0 % |") && !second.contains("| 80.0 % |"));
        assert!(second.starts_with("# card\n"));
    }
}
