//! Evaluation of a bundle on held-out data: cross-modal generalisation (CMG's protocol),
//! zero-shot by text prompts, retrieval and codebook health, as an [`EvalReport`];
//! `transference eval` (in `cli/eval_cmd.rs`) prints it.
//!
//! - [`sets`]: encoding, seeded class-balanced fit sets, test folders;
//! - [`score`]: the figures, from encoded sets only;
//! - [`agreement`]: per-class code agreement between modalities (histogram intersection,
//!   most used code);
//! - [`export`]: the encoded sets as a gallery for the independent baseline script;
//! - [`unseen`]: zero-shot split into seen and unseen classes, for bundles trained with classes
//!   held out;
//! - [`generation`]: cycle accuracy of the cross-modal generation decoders, when a bundle has them;
//! - [`low_resource`]: accuracy against labels per class, alone, helped, zero-shot.

pub mod agreement;
pub mod export;
pub mod generation;
pub mod low_resource;
pub mod score;
pub mod sets;
pub mod unseen;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use agreement::{ClassAgreement, CodeAgreement};
pub use score::{
    Accuracy, CodebookReport, CodebookUse, EvalSets, FitReport, FitSet, PRIMARY_AUDIO,
    PRIMARY_IMAGE, Retrieval, SetReport, TestSet,
};
pub use sets::{
    EncodedSet, FIT_SEED, MAX_FIT_PER_CLASS, MIN_FIT_PER_CLASS, audio_from_dir, balanced_indices,
    digit_from_name, encode_audio_items, encode_images, encode_set, images_from_dir,
    take_per_class,
};

use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::modality::Modality;
use crate::model::EncodedItem;
use crate::train::data::{DigitsData, LabeledSet};

/// The full report; `--json` prints it as one object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub bundle: String,
    pub n_images: usize,
    pub n_audio: usize,
    /// Where the primary test data came from.
    pub test_data: String,
    /// Where the transfer classifiers' training data came from.
    pub fit_data: String,
    /// The fit set of each modality: source, size and items per class.
    pub fit: BTreeMap<String, FitReport>,
    /// Classifier on pooled quantised vectors (CMG's protocol), primary test sets.
    pub transfer: BTreeMap<String, Accuracy>,
    /// Classifier on the bag of codes only, primary test sets.
    pub transfer_bag_of_codes: BTreeMap<String, Accuracy>,
    /// Per-class code agreement of the primary sets, by pair: `image_audio` (the primary
    /// image and audio test sets), `image_text` and `audio_text` (against the class prompts).
    /// Every held-out set's own is in `sets`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub code_agreement: BTreeMap<String, CodeAgreement>,
    /// Nearest class prompt, primary test sets.
    pub zero_shot: BTreeMap<String, Accuracy>,
    pub retrieval: BTreeMap<String, Retrieval>,
    pub codebook: CodebookReport,
    /// Every test set (the primary ones and the held-out validation sets) with all figures.
    pub sets: BTreeMap<String, SetReport>,
    /// Cross-modal generation (`image_to_audio`, `audio_to_image`), when the bundle has
    /// decoders: the model's own zero-shot label for generated outputs of held-out inputs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generation: BTreeMap<String, generation::GenerationReport>,
    /// Zero-shot on seen and unseen classes, for a bundle with `labels.unseen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<unseen::UnseenReport>,
    /// Low-resource curves per primary modality (`image`, `audio`).
    #[serde(default)]
    pub low_resource: BTreeMap<String, crate::index::low_resource::LowResourceReport>,
}

impl EvalReport {
    /// Flat `key -> value` metrics, as stored in a manifest.
    pub fn flat_metrics(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for (k, v) in &self.transfer {
            m.insert(format!("transfer.{k}.accuracy"), v.accuracy as f64);
        }
        for (k, v) in &self.transfer_bag_of_codes {
            m.insert(
                format!("transfer_bag_of_codes.{k}.accuracy"),
                v.accuracy as f64,
            );
        }
        for (k, v) in &self.zero_shot {
            m.insert(format!("zero_shot.{k}.accuracy"), v.accuracy as f64);
        }
        for (k, v) in &self.code_agreement {
            v.insert_metrics(&mut m, &format!("code_agreement.{k}"));
        }
        for (k, v) in &self.retrieval {
            m.insert(
                format!("retrieval.{k}.precision_at_1"),
                v.precision_at_1 as f64,
            );
            m.insert(
                format!("retrieval.{k}.precision_at_10"),
                v.precision_at_10 as f64,
            );
        }
        for (k, v) in &self.sets {
            m.insert(
                format!("sets.{k}.zero_shot.accuracy"),
                v.zero_shot.accuracy as f64,
            );
            m.insert(
                format!("sets.{k}.transfer.accuracy"),
                v.transfer.accuracy as f64,
            );
            for (pair, a) in &v.code_agreement {
                a.insert_metrics(&mut m, &format!("sets.{k}.code_agreement.{pair}"));
            }
        }
        for (k, v) in &self.generation {
            m.insert(
                format!("generation.{k}.cycle_accuracy"),
                v.cycle_accuracy as f64,
            );
        }
        if let Some(u) = &self.unseen {
            for (k, v) in &u.sets {
                m.insert(format!("unseen.{k}.seen_accuracy"), v.seen_accuracy as f64);
                m.insert(
                    format!("unseen.{k}.unseen_accuracy"),
                    v.unseen_accuracy as f64,
                );
                m.insert(
                    format!("unseen.{k}.unseen_only_accuracy"),
                    v.unseen_only_accuracy as f64,
                );
            }
        }
        m.insert(
            "codebook.shared_fraction".into(),
            self.codebook.shared_fraction as f64,
        );
        m.insert(
            "codebook.active_codes".into(),
            self.codebook.active_codes as f64,
        );
        for (k, v) in &self.codebook.per_modality {
            m.insert(format!("codebook.{k}.perplexity"), v.perplexity as f64);
            m.insert(format!("codebook.{k}.active_codes"), v.active_codes as f64);
        }
        m
    }

    /// Builds the report from scored sets.
    pub fn from_scores(bundle: String, s: score::Scores) -> Self {
        let primary = |name: &str| s.sets.get(name);
        let mut r = EvalReport {
            bundle,
            n_images: primary(PRIMARY_IMAGE).map(|x| x.n).unwrap_or(0),
            n_audio: primary(PRIMARY_AUDIO).map(|x| x.n).unwrap_or(0),
            test_data: [PRIMARY_IMAGE, PRIMARY_AUDIO]
                .iter()
                .filter_map(|n| primary(n).map(|x| x.source.clone()))
                .collect::<Vec<_>>()
                .join("; "),
            fit_data: s
                .fit
                .values()
                .map(|f| f.source.clone())
                .collect::<Vec<_>>()
                .join("; "),
            ..EvalReport::default()
        };
        for (set, direction) in [
            (PRIMARY_AUDIO, "image_to_audio"),
            (PRIMARY_IMAGE, "audio_to_image"),
        ] {
            if let Some(x) = primary(set) {
                r.transfer.insert(direction.into(), x.transfer.clone());
                r.transfer_bag_of_codes
                    .insert(direction.into(), x.transfer_bag_of_codes.clone());
                r.zero_shot.insert(set.into(), x.zero_shot.clone());
            }
        }
        for (set, pair) in [
            (PRIMARY_IMAGE, "image_audio"),
            (PRIMARY_IMAGE, "image_text"),
            (PRIMARY_AUDIO, "audio_text"),
        ] {
            if let Some(a) = primary(set).and_then(|x| x.code_agreement.get(pair)) {
                r.code_agreement.insert(pair.into(), a.clone());
            }
        }
        r.fit = s.fit;
        r.retrieval = s.retrieval;
        r.codebook = s.codebook;
        r.sets = s.sets;
        r
    }
}

/// Where evaluation data comes from.
pub struct EvalInputs<'a> {
    /// Replaces the primary image test set.
    pub images_dir: Option<&'a Path>,
    /// Replaces the primary audio test set.
    pub audio_dir: Option<&'a Path>,
    /// Prepared data: held-out test and validation sets and the fit sets.
    pub data: Option<&'a DigitsData>,
}

/// A prepared held-out set: (name, modality, items, where they came from).
type DataSet<'a> = (&'static str, Modality, &'a LabeledSet, String);

/// The held-out sets of prepared data: the primary test sets first, then every validation
/// set that is not empty.
pub fn data_test_sets(d: &DigitsData) -> Vec<DataSet<'_>> {
    let sets: Vec<DataSet<'_>> = vec![
        (
            PRIMARY_IMAGE,
            Modality::Image,
            &d.image_test,
            "held-out MNIST test split".into(),
        ),
        (
            PRIMARY_AUDIO,
            Modality::Audio,
            &d.audio_val,
            format!(
                "FSDD speaker `{}`, never trained on",
                d.meta.validation_speaker
            ),
        ),
        (
            "print_unseen_typefaces",
            Modality::Image,
            &d.image_print_val,
            format!(
                "printed digits in {} typefaces never trained on, scan/photo degradations",
                d.meta.typefaces.iter().filter(|t| t.held_out).count()
            ),
        ),
        (
            "scan_unseen_handwriting",
            Modality::Image,
            &d.image_scan_test,
            "held-out MNIST test digits rendered as scans/photos (ink on paper, blur, noise, \
             JPEG, low resolution, uneven light)"
                .into(),
        ),
        (
            "unseen_voices",
            Modality::Audio,
            &d.audio_synth_val,
            format!(
                "{} synthetic voices never trained on: {}",
                d.meta.held_out_voices.len(),
                voices_summary(&d.meta.held_out_voices)
            ),
        ),
    ];
    sets.into_iter().filter(|s| !s.2.is_empty()).collect()
}

/// A short list of voice names (`a, b, … (+n more)`).
fn voices_summary(voices: &[String]) -> String {
    const SHOWN: usize = 4;
    let mut s = voices
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if voices.len() > SHOWN {
        s.push_str(&format!(" (+{} more)", voices.len() - SHOWN));
    }
    s
}

/// The labelled fit pool of each modality: (modality, items, where they came from).
fn fit_pools(d: &DigitsData) -> [(Modality, &LabeledSet, String); 2] {
    [
        (
            Modality::Image,
            &d.image_train,
            "MNIST training split".into(),
        ),
        (
            Modality::Audio,
            &d.audio_train,
            format!(
                "FSDD training speakers (all but `{}`)",
                d.meta.validation_speaker
            ),
        ),
    ]
}

/// The fit sets from the bundle's gallery (when no prepared data is given).
fn gallery_fit_sets(p: &Pipeline, class_names: &[String]) -> Result<[EncodedSet; 2]> {
    let g = p.bundle.gallery.as_ref().ok_or_else(|| {
        Error::InvalidRequest(
            "no data to fit the transfer classifiers: prepare data with `transference data` \
             or use a bundle with a gallery"
                .into(),
        )
    })?;
    let mut sets = [EncodedSet::default(), EncodedSet::default()];
    for i in 0..g.len() {
        let it = &g.items[i];
        let Some(l) = it
            .label
            .as_ref()
            .and_then(|l| class_names.iter().position(|x| x == l))
        else {
            continue;
        };
        let slot = match it.modality {
            Modality::Image => 0,
            Modality::Audio => 1,
            Modality::Text => continue,
        };
        sets[slot].items.push(EncodedItem {
            modality: it.modality,
            codes: g.codes[i].clone(),
            positions: g.positions[i].clone(),
            distances: vec![],
            embedding: g.embedding(i).to_vec(),
        });
        sets[slot].labels.push(l);
    }
    Ok(sets)
}

/// Encodes every set the evaluation scores: balanced fit sets, test sets, class prompts.
pub fn encode_sets(p: &mut Pipeline, inputs: &EvalInputs<'_>) -> Result<EvalSets> {
    let class_names = p.bundle.manifest.labels.names.clone();
    let mut sets = EvalSets::default();
    // Fit sets: a seeded, class-balanced sample of each modality's pool.
    let balanced = |labels: &[usize], what: &str| {
        balanced_indices(
            labels,
            &class_names,
            MIN_FIT_PER_CLASS,
            MAX_FIT_PER_CLASS,
            FIT_SEED,
            what,
        )
    };
    match inputs.data {
        Some(d) => {
            for (modality, pool, source) in fit_pools(d) {
                let labels: Vec<usize> = pool.labels.iter().map(|&l| usize::from(l)).collect();
                let idx = balanced(&labels, &format!("{modality} fit set ({source})"))?;
                sets.fit.push(FitSet {
                    modality,
                    source: format!("{source}: {} per class, seeded", idx.len() / 10),
                    set: sets::encode_subset(p, modality, pool, &idx)?,
                });
            }
        }
        None => {
            let pools = gallery_fit_sets(p, &class_names)?;
            for (modality, pool) in [Modality::Image, Modality::Audio].into_iter().zip(pools) {
                let what = format!(
                    "{modality} fit set (the bundle's gallery; prepare data with `transference \
                     data` and pass --data for a full one)"
                );
                let idx = balanced(&pool.labels, &what)?;
                sets.fit.push(FitSet {
                    modality,
                    source: format!("the bundle's gallery: {} per class", idx.len() / 10),
                    set: pool.select(&idx),
                });
            }
        }
    }
    // Test sets: folders replace the primary sets; prepared data adds its validation sets.
    let mut tests: Vec<TestSet> = Vec::new();
    if let Some(dir) = inputs.images_dir {
        let (px, lab) = images_from_dir(p, dir)?;
        tests.push(TestSet {
            name: PRIMARY_IMAGE.into(),
            modality: Modality::Image,
            source: format!("images from {}", dir.display()),
            set: encode_images(p, &px, &lab)?,
        });
    }
    if let Some(dir) = inputs.audio_dir {
        tests.push(TestSet {
            name: PRIMARY_AUDIO.into(),
            modality: Modality::Audio,
            source: format!("audio from {}", dir.display()),
            set: audio_from_dir(p, dir)?,
        });
    }
    if let Some(d) = inputs.data {
        for (name, modality, set, source) in data_test_sets(d) {
            if tests.iter().any(|t| t.name == name) {
                continue;
            }
            tests.push(TestSet {
                name: name.into(),
                modality,
                source,
                set: encode_set(p, modality, set)?,
            });
        }
    }
    for (name, what) in [(PRIMARY_IMAGE, "images"), (PRIMARY_AUDIO, "audio")] {
        if !tests.iter().any(|t| t.name == name) {
            return Err(Error::InvalidRequest(format!(
                "no test {what}: pass --{} DIR or prepare data with `transference data`",
                if name == PRIMARY_IMAGE {
                    "images"
                } else {
                    "audio"
                }
            )));
        }
    }
    sets.tests = tests;
    // Classes: the bundle's prompts, averaged per class; every prompt for codebook use.
    let templates = p.bundle.manifest.labels.prompts.clone();
    let d = p.bundle.manifest.architecture.d_model;
    sets.classes = p
        .class_embeddings(&class_names, &templates)?
        .chunks_exact(d)
        .map(<[f32]>::to_vec)
        .collect();
    let mut prompts: Vec<String> = Vec::new();
    for (c, l) in class_names.iter().enumerate() {
        for prompt in p.bundle.manifest.prompts_for(l) {
            prompts.push(prompt);
            sets.prompts.labels.push(c);
        }
    }
    sets.prompts.items = p.encode_texts(&prompts)?;
    Ok(sets)
}

/// Runs every evaluation on a loaded digits-style bundle.
pub fn evaluate(p: &mut Pipeline, inputs: &EvalInputs<'_>) -> Result<EvalReport> {
    evaluate_and_export(p, inputs, None)
}

/// [`evaluate`], also writing the encoded sets to `export_dir` (see [`export`]).
pub fn evaluate_and_export(
    p: &mut Pipeline,
    inputs: &EvalInputs<'_>,
    export_dir: Option<&Path>,
) -> Result<EvalReport> {
    let class_names = p.bundle.manifest.labels.names.clone();
    if class_names.len() != 10 {
        return Err(Error::InvalidRequest(format!(
            "evaluation expects a digits model with 10 labels, this one has {}",
            class_names.len()
        )));
    }
    let sets = encode_sets(p, inputs)?;
    let k = p.bundle.manifest.architecture.codebook_size;
    if let Some(dir) = export_dir {
        export::write(dir, &sets, &class_names, k)?;
    }
    let scores = score::score(&sets, &class_names, k)?;
    let mut report = EvalReport::from_scores(p.bundle.dir.display().to_string(), scores);
    report.generation = generation_reports(p, &sets)?;
    report.unseen = unseen::unseen_report(&sets, &class_names, &p.bundle.manifest.labels.unseen)?;
    report.low_resource = low_resource::low_resource(&sets, &class_names, k)?;
    Ok(report)
}

/// Cycle accuracy of each generation direction the bundle has a decoder for, on the primary
/// test sets.
pub fn generation_reports(
    p: &Pipeline,
    sets: &EvalSets,
) -> Result<BTreeMap<String, generation::GenerationReport>> {
    let targets = p.generation_targets();
    let mut out = BTreeMap::new();
    for (set_name, from, to) in [
        (PRIMARY_IMAGE, Modality::Image, Modality::Audio),
        (PRIMARY_AUDIO, Modality::Audio, Modality::Image),
    ] {
        let Some(test) = sets.tests.iter().find(|t| t.name == set_name) else {
            continue;
        };
        if !targets.contains(&to) {
            continue;
        }
        out.insert(
            generation::direction_key(from, to),
            generation::report(p, &test.set, to, &sets.classes, &test.source)?,
        );
    }
    Ok(out)
}
