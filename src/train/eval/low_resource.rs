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

/// The curves of each primary modality, keyed `image` and `audio`.
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
            .ok_or_else(|| Error::InvalidRequest(format!("no {m} fit set to draw labels from")))
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
        let report = low_resource_curves(
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
        )?;
        out.insert(name.to_string(), report);
    }
    Ok(out)
}
