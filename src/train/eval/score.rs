//! Scoring encoded evaluation sets: transfer classifiers fitted on one modality and tested
//! on the other (CMG's protocol), zero-shot by class prompts, retrieval and codebook use.
//! Plain data in, figures out: no model, so a fixture of exported embeddings is scored by
//! exactly this code (and by `scripts/baseline_eval.py`, independently).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::agreement::{CodeAgreement, code_agreement};
use super::sets::EncodedSet;
use crate::error::{Error, Result};
pub use crate::index::accuracy::Accuracy;
use crate::index::search::top_k_cpu;
use crate::index::stats::CodebookStats;
use crate::index::transfer::{FitSettings, LinearClassifier, TransferFeatures, features_of};
use crate::modality::Modality;

/// Name of the primary image test set (headline `transfer`/`zero_shot` keys).
pub const PRIMARY_IMAGE: &str = "image";
/// Name of the primary audio test set.
pub const PRIMARY_AUDIO: &str = "audio";

/// Precision of a retrieval direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Retrieval {
    pub precision_at_1: f32,
    pub precision_at_10: f32,
    pub queries: usize,
}

/// Codebook use of one modality on the evaluation data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodebookUse {
    pub perplexity: f32,
    pub active_codes: usize,
}

/// Codebook summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CodebookReport {
    pub size: usize,
    pub active_codes: usize,
    pub shared_codes: usize,
    /// Share of active codes used by at least two modalities.
    pub shared_fraction: f32,
    pub per_modality: BTreeMap<String, CodebookUse>,
}

/// The set a transfer classifier was fitted on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Where the items came from.
    pub source: String,
    pub n: usize,
    /// Items of each class: equal by construction (seeded, class-balanced sample).
    pub per_class: Vec<usize>,
}

/// Every figure for one test set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SetReport {
    pub modality: String,
    /// Where the items came from, and what makes them held out.
    pub source: String,
    pub n: usize,
    /// Nearest class prompt.
    pub zero_shot: Accuracy,
    /// Classifier fitted on the other modality's pooled quantised vectors.
    pub transfer: Accuracy,
    /// Classifier fitted on the other modality's bag of codes.
    pub transfer_bag_of_codes: Accuracy,
    /// Per-class code agreement with each other modality, by pair name (`image_audio`,
    /// `image_text`, `audio_text`; see [`super::agreement`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub code_agreement: BTreeMap<String, CodeAgreement>,
}

/// A labelled set to fit a transfer classifier on.
#[derive(Clone, Debug)]
pub struct FitSet {
    pub modality: Modality,
    pub source: String,
    pub set: EncodedSet,
}

/// A labelled held-out set to score.
#[derive(Clone, Debug)]
pub struct TestSet {
    /// Key in the report (`image` and `audio` are the primary sets).
    pub name: String,
    pub modality: Modality,
    pub source: String,
    pub set: EncodedSet,
}

/// Everything scoring needs, already encoded.
#[derive(Clone, Debug, Default)]
pub struct EvalSets {
    /// Fit set per modality (image and audio).
    pub fit: Vec<FitSet>,
    pub tests: Vec<TestSet>,
    /// One L2-normalised embedding per class (its prompts, averaged), `[C][D]`.
    pub classes: Vec<Vec<f32>>,
    /// Every class prompt encoded, labelled by class: codebook use of the text modality and
    /// code agreement with text.
    pub prompts: EncodedSet,
}

/// The figures [`score`] produces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scores {
    pub fit: BTreeMap<String, FitReport>,
    pub sets: BTreeMap<String, SetReport>,
    pub retrieval: BTreeMap<String, Retrieval>,
    pub codebook: CodebookReport,
}

/// Predicted class of every item of `set` by `clf`.
fn predict(clf: &LinearClassifier, set: &EncodedSet, features: TransferFeatures) -> Vec<usize> {
    set.items
        .iter()
        .map(|item| clf.predict(&features_of(&item.codes, &item.embedding, features)))
        .collect()
}

fn fit_classifier(
    fit: &EncodedSet,
    features: TransferFeatures,
    codebook_size: usize,
    n_classes: usize,
) -> Result<LinearClassifier> {
    let n_features = match features {
        TransferFeatures::BagOfCodes => codebook_size,
        TransferFeatures::Embedding => fit.items.first().map(|i| i.embedding.len()).unwrap_or(0),
    };
    let data: Vec<_> = fit
        .items
        .iter()
        .zip(&fit.labels)
        .filter(|(_, l)| **l < n_classes)
        .map(|(i, &l)| (features_of(&i.codes, &i.embedding, features), l))
        .collect();
    LinearClassifier::fit(&data, n_features, n_classes, FitSettings::default())
}

/// Nearest class embedding (cosine: rows are unit length) of every item.
pub(crate) fn zero_shot_predictions(set: &EncodedSet, classes: &[Vec<f32>]) -> Result<Vec<usize>> {
    let dim = classes.first().map(Vec::len).unwrap_or(0);
    let flat_classes: Vec<f32> = classes.iter().flatten().copied().collect();
    let flat_q: Vec<f32> = set
        .items
        .iter()
        .flat_map(|i| i.embedding.iter().copied())
        .collect();
    let hits = top_k_cpu(&flat_q, &flat_classes, dim, 1)?;
    Ok(hits
        .iter()
        .map(|h| h.first().map(|x| x.index).unwrap_or(usize::MAX))
        .collect())
}

/// Precision@1 and @10 of `queries` against `base`, by label.
fn retrieval(queries: &[Vec<f32>], query_labels: &[usize], base: &EncodedSet) -> Result<Retrieval> {
    let dim = base.items.first().map(|i| i.embedding.len()).unwrap_or(0);
    let flat_base: Vec<f32> = base
        .items
        .iter()
        .flat_map(|i| i.embedding.iter().copied())
        .collect();
    let flat_q: Vec<f32> = queries.iter().flatten().copied().collect();
    let hits = top_k_cpu(&flat_q, &flat_base, dim, 10)?;
    let (mut p1, mut p10) = (0f32, 0f32);
    for (h, &l) in hits.iter().zip(query_labels) {
        p1 += h
            .first()
            .map(|x| (base.labels[x.index] == l) as u8 as f32)
            .unwrap_or(0.0);
        p10 +=
            h.iter().filter(|x| base.labels[x.index] == l).count() as f32 / h.len().max(1) as f32;
    }
    let n = queries.len().max(1) as f32;
    Ok(Retrieval {
        precision_at_1: p1 / n,
        precision_at_10: p10 / n,
        queries: queries.len(),
    })
}

/// Scores every test set: zero-shot, and transfer from the classifier fitted on the other
/// modality (images are scored by the audio classifier and the reverse).
pub fn score(sets: &EvalSets, class_names: &[String], codebook_size: usize) -> Result<Scores> {
    let n_classes = class_names.len();
    if sets.classes.len() != n_classes {
        return Err(Error::Internal(format!(
            "{} class embeddings for {n_classes} labels",
            sets.classes.len()
        )));
    }
    let mut out = Scores::default();
    let mut agreement = code_agreement(sets, n_classes, codebook_size);
    let mut classifiers = BTreeMap::new();
    for fit in &sets.fit {
        let name = fit.modality.name().to_string();
        out.fit.insert(
            name.clone(),
            FitReport {
                source: fit.source.clone(),
                n: fit.set.len(),
                per_class: fit.set.per_class(n_classes),
            },
        );
        let emb = fit_classifier(
            &fit.set,
            TransferFeatures::Embedding,
            codebook_size,
            n_classes,
        )?;
        let bag = fit_classifier(
            &fit.set,
            TransferFeatures::BagOfCodes,
            codebook_size,
            n_classes,
        )?;
        classifiers.insert(fit.modality, (emb, bag));
    }
    for test in &sets.tests {
        let other = match test.modality {
            Modality::Image => Modality::Audio,
            _ => Modality::Image,
        };
        let (emb, bag) = classifiers.get(&other).ok_or_else(|| {
            Error::Internal(format!(
                "no {other} fit set to transfer to the {} test set `{}`",
                test.modality, test.name
            ))
        })?;
        let truth = &test.set.labels;
        let acc = |pred: Vec<usize>| Accuracy::from_predictions(truth, &pred, n_classes);
        out.sets.insert(
            test.name.clone(),
            SetReport {
                modality: test.modality.name().to_string(),
                source: test.source.clone(),
                n: test.set.len(),
                zero_shot: acc(zero_shot_predictions(&test.set, &sets.classes)?),
                transfer: acc(predict(emb, &test.set, TransferFeatures::Embedding)),
                transfer_bag_of_codes: acc(predict(bag, &test.set, TransferFeatures::BagOfCodes)),
                code_agreement: agreement.remove(&test.name).unwrap_or_default(),
            },
        );
    }
    // Retrieval and codebook use on the primary sets.
    let primary = |name: &str| sets.tests.iter().find(|t| t.name == name).map(|t| &t.set);
    let class_labels: Vec<usize> = (0..n_classes).collect();
    let embeddings =
        |s: &EncodedSet| -> Vec<Vec<f32>> { s.items.iter().map(|i| i.embedding.clone()).collect() };
    if let Some(images) = primary(PRIMARY_IMAGE) {
        out.retrieval.insert(
            "text_to_image".into(),
            retrieval(&sets.classes, &class_labels, images)?,
        );
    }
    if let Some(audio) = primary(PRIMARY_AUDIO) {
        out.retrieval.insert(
            "text_to_audio".into(),
            retrieval(&sets.classes, &class_labels, audio)?,
        );
    }
    if let (Some(images), Some(audio)) = (primary(PRIMARY_IMAGE), primary(PRIMARY_AUDIO)) {
        out.retrieval.insert(
            "audio_to_image".into(),
            retrieval(&embeddings(audio), &audio.labels, images)?,
        );
        out.retrieval.insert(
            "image_to_audio".into(),
            retrieval(&embeddings(images), &images.labels, audio)?,
        );
    }
    let stats = CodebookStats::compute(
        codebook_size,
        [PRIMARY_IMAGE, PRIMARY_AUDIO]
            .iter()
            .filter_map(|n| primary(n))
            .flat_map(|s| s.items.iter())
            .chain(&sets.prompts.items)
            .map(|i| (i.modality, i.codes.as_slice())),
    );
    out.codebook = CodebookReport {
        size: codebook_size,
        active_codes: stats.active_any,
        shared_codes: stats.shared,
        shared_fraction: stats.shared_fraction,
        per_modality: stats
            .per_modality
            .iter()
            .map(|u| {
                (
                    u.modality.name().to_string(),
                    CodebookUse {
                        perplexity: u.perplexity,
                        active_codes: u.active,
                    },
                )
            })
            .collect(),
    };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedItem;

    fn item(modality: Modality, class: usize, codes: Vec<u32>) -> EncodedItem {
        let mut embedding = vec![0.0; 4];
        embedding[class] = 1.0;
        EncodedItem {
            modality,
            positions: crate::bundle::gallery::contiguous_positions(codes.len()),
            codes,
            distances: vec![],
            embedding,
        }
    }

    fn set(modality: Modality, per_class: usize, code_shift: u32) -> EncodedSet {
        let mut s = EncodedSet::default();
        for c in 0..4 {
            for _ in 0..per_class {
                s.items
                    .push(item(modality, c, vec![c as u32 + code_shift; 2]));
                s.labels.push(c);
            }
        }
        s
    }

    #[test]
    fn aligned_modalities_transfer_and_classify_perfectly() {
        let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
        let classes: Vec<Vec<f32>> = (0..4)
            .map(|c| item(Modality::Text, c, vec![]).embedding)
            .collect();
        let sets = EvalSets {
            fit: vec![
                FitSet {
                    modality: Modality::Image,
                    source: "fit images".into(),
                    set: set(Modality::Image, 5, 0),
                },
                FitSet {
                    modality: Modality::Audio,
                    source: "fit audio".into(),
                    set: set(Modality::Audio, 5, 0),
                },
            ],
            tests: vec![
                TestSet {
                    name: PRIMARY_IMAGE.into(),
                    modality: Modality::Image,
                    source: "test".into(),
                    set: set(Modality::Image, 2, 0),
                },
                TestSet {
                    name: PRIMARY_AUDIO.into(),
                    modality: Modality::Audio,
                    // Audio uses codes 4..8: the bag-of-codes classifier cannot transfer.
                    source: "test".into(),
                    set: set(Modality::Audio, 2, 4),
                },
            ],
            classes,
            prompts: EncodedSet::default(),
        };
        let s = score(&sets, &names, 8).unwrap();
        assert_eq!(s.fit["image"].per_class, vec![5; 4]);
        let audio = &s.sets[PRIMARY_AUDIO];
        assert_eq!(audio.zero_shot.accuracy, 1.0);
        assert_eq!(audio.transfer.accuracy, 1.0);
        assert!(audio.transfer_bag_of_codes.accuracy <= 0.25 + 1e-6);
        assert_eq!(s.sets[PRIMARY_IMAGE].transfer_bag_of_codes.accuracy, 1.0);
        assert_eq!(s.retrieval["text_to_image"].precision_at_1, 1.0);
        // Images use codes 0..4, audio 4..8: nothing shared, no class agrees.
        assert_eq!(s.codebook.shared_codes, 0);
        for name in [PRIMARY_IMAGE, PRIMARY_AUDIO] {
            let a = &s.sets[name].code_agreement;
            assert_eq!(a.keys().collect::<Vec<_>>(), ["image_audio"], "no prompts");
            let a = &a["image_audio"];
            assert_eq!((a.a.as_str(), a.b.as_str()), (PRIMARY_IMAGE, PRIMARY_AUDIO));
            assert_eq!((a.classes, a.same_class, a.top_code_agree), (4, 0.0, 0));
        }
        assert_eq!(s.codebook.active_codes, 8);
    }
}
