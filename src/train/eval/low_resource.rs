//! The `low_resource` section of the evaluation: for each primary modality (image, audio),
//! accuracy on its primary test set against its labels per class (0, 1, 2, 5, 10, 50), alone,
//! helped by the other modality's labels, and zero-shot, over seeded class-balanced draws
//! (see [`crate::index::low_resource`]). The label pool of each modality is its balanced fit
//! set (hundreds per class, so 50 per class is available); the test split is a seeded,
//! class-balanced sample of its primary test set; the features are the pooled quantised
//! vectors, as the headline `transfer` figures.

use std::collections::BTreeMap;

use super::score::{EvalSets, PRIMARY_AUDIO, PRIMARY_IMAGE};
use super::sets::{EncodedSet, FIT_SEED};
use crate::error::{Error, Result};
use crate::index::low_resource::{
    LowResourceInput, LowResourceReport, LowResourceSettings, balanced_sample, low_resource_curves,
};
use crate::index::transfer::{TransferFeatures, TransferItem};
use crate::modality::Modality;

/// Most test items per class in a low-resource test split.
pub const MAX_TEST_PER_CLASS: usize = 200;

fn transfer_items(set: &EncodedSet) -> Vec<TransferItem> {
    set.items
        .iter()
        .zip(&set.labels)
        .map(|(item, &label)| TransferItem {
            codes: item.codes.clone(),
            embedding: item.embedding.clone(),
            label,
        })
        .collect()
}

/// The curves of each primary modality, keyed `image` and `audio` (a modality whose curves
/// cannot be computed is left out, with a warning in the log).
pub fn low_resource(
    sets: &EvalSets,
    class_names: &[String],
    codebook_size: usize,
) -> Result<BTreeMap<String, LowResourceReport>> {
    let fit_of = |m: Modality| {
        sets.fit
            .iter()
            .find(|f| f.modality == m)
            .map(|f| transfer_items(&f.set))
            .ok_or_else(|| Error::Internal(format!("no {m} fit set to draw labels from")))
    };
    let mut out = BTreeMap::new();
    for (name, primary, helper) in [
        (PRIMARY_IMAGE, Modality::Image, Modality::Audio),
        (PRIMARY_AUDIO, Modality::Audio, Modality::Image),
    ] {
        let Some(test_set) = sets.tests.iter().find(|t| t.name == name) else {
            continue;
        };
        let test = balanced_sample(
            &transfer_items(&test_set.set),
            class_names.len(),
            MAX_TEST_PER_CLASS,
            FIT_SEED,
        );
        let (pool, helper_items) = (fit_of(primary)?, fit_of(helper)?);
        let curves = low_resource_curves(
            LowResourceInput {
                primary,
                helper,
                pool: &pool,
                test: &test,
                helper_items: &helper_items,
                class_embeddings: Ok(&sets.classes),
                labels: class_names,
                codebook_size,
            },
            &LowResourceSettings::new(TransferFeatures::Embedding),
            &|_| {},
        );
        // A test set without every class (e.g. a small `--images` folder) has no balanced
        // split: the section leaves that modality out rather than failing the evaluation.
        match curves {
            Ok(report) => {
                out.insert(name.to_string(), report);
            }
            Err(e) => tracing::warn!("low-resource curves on {name} left out: {e}"),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EncodedItem;
    use crate::train::eval::{FitSet, TestSet};

    /// `per_class` items of each of 3 classes, sorted by class: embedding on the class's axis.
    fn set(modality: Modality, per_class: usize, classes: &[usize]) -> EncodedSet {
        let mut s = EncodedSet::default();
        for &c in classes {
            for i in 0..per_class {
                let mut e = vec![0.05 * (i % 3) as f32; 4];
                e[c] = 1.0;
                s.items.push(EncodedItem {
                    modality,
                    codes: vec![c as u32],
                    positions: vec![0],
                    distances: vec![],
                    embedding: e,
                });
                s.labels.push(c);
            }
        }
        s
    }

    #[test]
    fn both_primaries_get_curves_up_to_50_and_an_incomplete_test_set_is_left_out() {
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let fit = |m| FitSet {
            modality: m,
            source: "fit".into(),
            set: set(m, 60, &[0, 1, 2]),
        };
        let test = |name: &str, m, classes: &[usize]| TestSet {
            name: name.into(),
            modality: m,
            source: "test".into(),
            set: set(m, 8, classes),
        };
        let sets = EvalSets {
            fit: vec![fit(Modality::Image), fit(Modality::Audio)],
            tests: vec![
                test(PRIMARY_IMAGE, Modality::Image, &[0, 1, 2]),
                // No items of class `c`: no balanced split.
                test(PRIMARY_AUDIO, Modality::Audio, &[0, 1]),
            ],
            classes: (0..3)
                .map(|c| (0..4).map(|j| f32::from(u8::from(j == c))).collect())
                .collect(),
            prompts: Default::default(),
        };
        let out = low_resource(&sets, &names, 4).unwrap();
        assert_eq!(out.keys().collect::<Vec<_>>(), ["image"]);
        let r = &out["image"];
        assert_eq!((r.primary, r.helper), (Modality::Image, Modality::Audio));
        assert_eq!((r.test_per_class, r.helper_per_class), (8, 50));
        let fifty = r.primary_only.last().unwrap();
        assert_eq!(fifty.labels_per_class, 50);
        assert_eq!(fifty.mean, Some(1.0));
        assert_eq!(r.zero_shot.accuracy, Some(1.0));
    }
}
