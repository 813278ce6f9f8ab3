//! `eval --export-embeddings DIR`: the encoded evaluation sets written as a gallery (the
//! format `transference index` writes), so an independent script
//! (`scripts/baseline_eval.py`) can re-derive every figure, and read back into [`EvalSets`].
//!
//! Each item's `source` says its role: `fit` (a transfer classifier's training item),
//! `test:NAME` (an item of test set NAME), `class` (a class's averaged prompt embedding) or
//! `prompt` (one class prompt, with its codes: code agreement with text).
//! Set descriptions go in `sets.json` beside the gallery.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::score::{EvalSets, FitSet, TestSet};
use super::sets::EncodedSet;
use crate::bundle::{Gallery, GalleryItem};
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::EncodedItem;

/// Role prefix of fit items.
pub const FIT_SOURCE: &str = "fit";
/// Role prefix of test items (`test:NAME`).
pub const TEST_SOURCE_PREFIX: &str = "test:";
/// Role of class embeddings.
pub const CLASS_SOURCE: &str = "class";
/// Role of encoded class prompts.
pub const PROMPT_SOURCE: &str = "prompt";
/// Descriptions of the sets, beside the gallery files.
pub const SETS_FILE: &str = "sets.json";

/// What `sets.json` holds: the class names in order and where each set came from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedSets {
    pub class_names: Vec<String>,
    pub codebook_size: usize,
    /// Fit set source by modality name.
    pub fit: BTreeMap<String, String>,
    /// Test set (modality name, source) by set name.
    pub tests: BTreeMap<String, (String, String)>,
}

fn push_set(g: &mut Gallery, set: &EncodedSet, source: &str, class_names: &[String]) -> Result<()> {
    for (item, &label) in set.items.iter().zip(&set.labels) {
        g.push_at(
            GalleryItem {
                modality: item.modality,
                label: class_names.get(label).cloned(),
                source: source.to_string(),
                media: None,
                text: None,
            },
            &item.embedding,
            item.codes.clone(),
            item.positions.clone(),
        )?;
    }
    Ok(())
}

/// Writes `sets` into the folder `dir` (replaced safely if it exists).
pub fn write(
    dir: &Path,
    sets: &EvalSets,
    class_names: &[String],
    codebook_size: usize,
) -> Result<()> {
    let mut g = Gallery::default();
    let mut meta = ExportedSets {
        class_names: class_names.to_vec(),
        codebook_size,
        ..ExportedSets::default()
    };
    for fit in &sets.fit {
        push_set(&mut g, &fit.set, FIT_SOURCE, class_names)?;
        meta.fit
            .insert(fit.modality.name().to_string(), fit.source.clone());
    }
    for test in &sets.tests {
        let source = format!("{TEST_SOURCE_PREFIX}{}", test.name);
        push_set(&mut g, &test.set, &source, class_names)?;
        meta.tests.insert(
            test.name.clone(),
            (test.modality.name().to_string(), test.source.clone()),
        );
    }
    push_set(&mut g, &sets.prompts, PROMPT_SOURCE, class_names)?;
    for (c, row) in sets.classes.iter().enumerate() {
        g.push(
            GalleryItem {
                modality: Modality::Text,
                label: class_names.get(c).cloned(),
                source: CLASS_SOURCE.into(),
                media: None,
                text: class_names.get(c).cloned(),
            },
            row,
            Vec::new(),
        )?;
    }
    let json = serde_json::to_string_pretty(&meta).map_err(|e| Error::Internal(e.to_string()))?;
    crate::safe_write::replace_dir(dir, |tmp| {
        g.write(tmp)?;
        crate::safe_write::write_file(&tmp.join(SETS_FILE), json.as_bytes())
    })
}

/// Reads a folder written by [`write`]: the sets, the class names and the codebook size.
pub fn read(dir: &Path) -> Result<(EvalSets, Vec<String>, usize)> {
    let path = dir.join(SETS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let meta: ExportedSets = serde_json::from_str(&text).map_err(|e| Error::Gallery {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let dim = {
        let tensors = dir.join(crate::bundle::gallery::GALLERY_TENSORS);
        let bytes = std::fs::read(&tensors).map_err(|e| Error::io(&tensors, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| Error::Safetensors {
            path: tensors.clone(),
            reason: e.to_string(),
        })?;
        let view = st.tensor("embeddings").map_err(|_| Error::MissingTensor {
            path: tensors.clone(),
            tensor: "embeddings".into(),
            expected: vec![],
        })?;
        view.shape().get(1).copied().unwrap_or(0)
    };
    let g = Gallery::read(dir, dim, meta.codebook_size)?;
    let mut fit: BTreeMap<Modality, EncodedSet> = BTreeMap::new();
    let mut tests: BTreeMap<String, EncodedSet> = BTreeMap::new();
    let mut classes = vec![Vec::new(); meta.class_names.len()];
    let mut prompts = EncodedSet::default();
    for (i, it) in g.items.iter().enumerate() {
        let label = it
            .label
            .as_ref()
            .and_then(|l| meta.class_names.iter().position(|c| c == l))
            .ok_or_else(|| Error::Gallery {
                path: dir.to_path_buf(),
                reason: format!("item {i} has label {:?}, not one of the classes", it.label),
            })?;
        let item = EncodedItem {
            modality: it.modality,
            codes: g.codes[i].clone(),
            positions: g.positions[i].clone(),
            distances: vec![],
            embedding: g.embedding(i).to_vec(),
        };
        let target = if it.source == CLASS_SOURCE {
            classes[label] = item.embedding;
            continue;
        } else if it.source == PROMPT_SOURCE {
            &mut prompts
        } else if it.source == FIT_SOURCE {
            fit.entry(it.modality).or_default()
        } else if let Some(name) = it.source.strip_prefix(TEST_SOURCE_PREFIX) {
            tests.entry(name.to_string()).or_default()
        } else {
            return Err(Error::Gallery {
                path: dir.to_path_buf(),
                reason: format!("item {i} has an unknown role `{}`", it.source),
            });
        };
        target.items.push(item);
        target.labels.push(label);
    }
    let sets =
        EvalSets {
            fit: fit
                .into_iter()
                .map(|(modality, set)| FitSet {
                    modality,
                    source: meta.fit.get(modality.name()).cloned().unwrap_or_default(),
                    set,
                })
                .collect(),
            tests: tests
                .into_iter()
                .map(|(name, set)| {
                    let (m, source) = meta.tests.get(&name).cloned().unwrap_or_default();
                    TestSet {
                        modality: set.items.first().map(|i| i.modality).unwrap_or(
                            if m == "audio" {
                                Modality::Audio
                            } else {
                                Modality::Image
                            },
                        ),
                        name,
                        source,
                        set,
                    }
                })
                .collect(),
            classes,
            prompts,
        };
    Ok((sets, meta.class_names, meta.codebook_size))
}
