//! Evaluation of a bundle on held-out data: cross-modal generalisation (CMG's protocol),
//! zero-shot by text prompts, retrieval and codebook health. `transference eval` prints it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::Pipeline;
use crate::error::{Error, Result};
use crate::index::search::top_k_cpu;
use crate::index::stats::CodebookStats;
use crate::index::transfer::{self, FitSettings, TransferFeatures, TransferItem};
use crate::modality::Modality;
use crate::model::{EncodedItem, tensor_from_vec};
use crate::preprocess::{audio, image as img};
use crate::train::data::DigitsData;

/// Items encoded per forward pass.
const EVAL_BATCH: usize = 256;
/// Largest number of training items per modality used to fit the transfer classifier.
pub const MAX_FIT_ITEMS: usize = 4000;

/// Encoded, labelled items of one modality.
#[derive(Clone, Debug, Default)]
pub struct EncodedSet {
    pub items: Vec<EncodedItem>,
    pub labels: Vec<usize>,
}

impl EncodedSet {
    fn transfer_items(&self) -> Vec<TransferItem> {
        self.items
            .iter()
            .zip(&self.labels)
            .map(|(i, &l)| TransferItem {
                codes: i.codes.clone(),
                embedding: i.embedding.clone(),
                label: l,
            })
            .collect()
    }
}

/// Encodes items in batches of [`EVAL_BATCH`]: `values` holds `item_len` floats per item,
/// normalised as `(v - mean) / std`, and `encode` runs one batch of `n` items.
fn encode_batched(
    values: &[f32],
    labels: &[usize],
    item_len: usize,
    (mean, std): (f32, f32),
    modality: Modality,
    mut encode: impl FnMut(Vec<f32>, usize) -> Option<crate::model::EncodedBatch>,
) -> Result<EncodedSet> {
    let mut out = EncodedSet::default();
    for (chunk, lab) in values
        .chunks(EVAL_BATCH * item_len)
        .zip(labels.chunks(EVAL_BATCH))
    {
        let normalised = chunk.iter().map(|v| (v - mean) / std).collect();
        let batch = encode(normalised, lab.len())
            .ok_or_else(|| Error::InvalidRequest(format!("model has no {modality} encoder")))?;
        out.items.extend(batch.to_items(modality));
        out.labels.extend_from_slice(lab);
    }
    Ok(out)
}

/// Encodes model-view images (`[N, 28*28]` in 0..1) in batches.
pub fn encode_images(p: &Pipeline, pixels: &[f32], labels: &[usize]) -> Result<EncodedSet> {
    let cfg = p.image_config()?;
    let (h, w) = (cfg.height as usize, cfg.width as usize);
    let source = p.bundle.manifest.architecture.embedding_source;
    encode_batched(
        pixels,
        labels,
        h * w,
        (cfg.mean[0], cfg.std[0]),
        Modality::Image,
        |x, n| {
            p.bundle
                .model
                .encode_image(tensor_from_vec(x, [n, 1, h, w], &p.device.device), source)
        },
    )
}

/// Encodes raw log-mels (`[N, n_mels*n_frames]`) in batches.
pub fn encode_mels(p: &Pipeline, mels: &[f32], labels: &[usize]) -> Result<EncodedSet> {
    let pre = p.audio_config()?;
    let (m, f) = (pre.audio.n_mels, pre.audio.n_frames);
    let norm = pre.normalization;
    let source = p.bundle.manifest.architecture.embedding_source;
    encode_batched(
        mels,
        labels,
        m * f,
        (norm.mean, norm.std),
        Modality::Audio,
        |x, n| {
            p.bundle
                .model
                .encode_audio(tensor_from_vec(x, [n, m, f], &p.device.device), source)
        },
    )
}

/// The first `per_class` items of each of the 10 classes: (features, labels, indices).
pub fn take_per_class(
    set: &crate::train::data::LabeledSet,
    per_class: usize,
) -> (Vec<f32>, Vec<usize>, Vec<usize>) {
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

/// Label of a file named `{digit}_{anything}.ext`.
pub fn digit_from_name(path: &Path) -> Option<usize> {
    let stem = path.file_stem()?.to_string_lossy().to_string();
    let first = stem.split('_').next()?;
    first.parse::<usize>().ok().filter(|&d| d < 10)
}

fn files_with_ext(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if exts.contains(&ext.as_str()) && digit_from_name(&path).is_some() {
            out.push(path);
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "{}: no files named {{digit}}_{{anything}}.{}",
            dir.display(),
            exts.join("|")
        )));
    }
    Ok(out)
}

/// Reads `{digit}_*.png` files through the model's own preprocessing.
pub fn images_from_dir(p: &Pipeline, dir: &Path) -> Result<(Vec<f32>, Vec<usize>)> {
    let cfg = p.image_config()?;
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for path in files_with_ext(dir, &["png", "jpg", "jpeg", "bmp"])? {
        let prepared = img::prepare_image_file(&path, cfg)?;
        pixels.extend(prepared.preview.iter().map(|&v| v as f32 / 255.0));
        labels.push(digit_from_name(&path).unwrap_or(0));
    }
    Ok((pixels, labels))
}

/// Reads `{digit}_*.wav` files through the model's own preprocessing (raw log-mel).
pub fn mels_from_dir(p: &Pipeline, dir: &Path) -> Result<(Vec<f32>, Vec<usize>)> {
    let pre = p.audio_config()?;
    let mut mels = Vec::new();
    let mut labels = Vec::new();
    for path in files_with_ext(dir, &["wav"])? {
        let prepared = audio::prepare_wav_file(&path, &pre.audio)?;
        mels.extend_from_slice(&prepared.mel.data);
        labels.push(digit_from_name(&path).unwrap_or(0));
    }
    Ok((mels, labels))
}

/// Accuracy of one experiment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    pub accuracy: f32,
    pub n: usize,
}

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

/// The full report; `--json` prints it as one object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub bundle: String,
    pub n_images: usize,
    pub n_audio: usize,
    /// Where the test data came from.
    pub test_data: String,
    /// Where the transfer classifier's training data came from.
    pub fit_data: String,
    /// Classifier on pooled quantised vectors (CMG's protocol).
    pub transfer: BTreeMap<String, Accuracy>,
    /// Classifier on the bag of codes only.
    pub transfer_bag_of_codes: BTreeMap<String, Accuracy>,
    pub zero_shot: BTreeMap<String, Accuracy>,
    pub retrieval: BTreeMap<String, Retrieval>,
    pub codebook: CodebookReport,
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
}

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

/// Where evaluation data comes from.
pub struct EvalInputs<'a> {
    pub images_dir: Option<&'a Path>,
    pub audio_dir: Option<&'a Path>,
    /// Prepared data: held-out test sets and the transfer classifier's training sets.
    pub data: Option<&'a DigitsData>,
}

/// Runs every evaluation on a loaded digits-style bundle.
pub fn evaluate(p: &mut Pipeline, inputs: &EvalInputs<'_>) -> Result<EvalReport> {
    let labels = p.bundle.manifest.labels.names.clone();
    if labels.len() != 10 {
        return Err(Error::InvalidRequest(format!(
            "evaluation expects a digits model with 10 labels, this one has {}",
            labels.len()
        )));
    }
    let to_usize = |v: &[u8]| v.iter().map(|&x| x as usize).collect::<Vec<_>>();
    let mut test_data = Vec::new();
    let images = match (inputs.images_dir, inputs.data) {
        (Some(dir), _) => {
            test_data.push(format!("images from {}", dir.display()));
            let (px, lab) = images_from_dir(p, dir)?;
            encode_images(p, &px, &lab)?
        }
        (None, Some(d)) => {
            test_data.push("held-out MNIST test split".to_string());
            encode_images(p, &d.image_test.features, &to_usize(&d.image_test.labels))?
        }
        (None, None) => {
            return Err(Error::InvalidRequest(
                "no test images: pass --images DIR or prepare data with `transference data`".into(),
            ));
        }
    };
    let audio_set = match (inputs.audio_dir, inputs.data) {
        (Some(dir), _) => {
            test_data.push(format!("audio from {}", dir.display()));
            let (m, lab) = mels_from_dir(p, dir)?;
            encode_mels(p, &m, &lab)?
        }
        (None, Some(d)) => {
            test_data.push(format!(
                "FSDD validation speaker `{}`",
                d.meta.validation_speaker
            ));
            encode_mels(p, &d.audio_val.features, &to_usize(&d.audio_val.labels))?
        }
        (None, None) => {
            return Err(Error::InvalidRequest(
                "no test audio: pass --audio DIR or prepare data with `transference data`".into(),
            ));
        }
    };
    // Transfer: fit on one modality's training items, test on the other's test items.
    let (fit_images, fit_audio, fit_data) = match inputs.data {
        Some(d) => {
            let ni = d.image_train.len().min(MAX_FIT_ITEMS);
            let na = d.audio_train.len().min(MAX_FIT_ITEMS);
            let il = d.image_train.item_len();
            let al = d.audio_train.item_len();
            (
                encode_images(
                    p,
                    &d.image_train.features[..ni * il],
                    &to_usize(&d.image_train.labels[..ni]),
                )?,
                encode_mels(
                    p,
                    &d.audio_train.features[..na * al],
                    &to_usize(&d.audio_train.labels[..na]),
                )?,
                format!(
                    "{ni} MNIST training images, {na} FSDD training clips (speakers other than `{}`)",
                    d.meta.validation_speaker
                ),
            )
        }
        None => {
            let g = p.bundle.gallery.as_ref().ok_or_else(|| Error::InvalidRequest("no data to fit the transfer classifier: prepare data or use a bundle with a gallery".into()))?;
            let mut sets = [EncodedSet::default(), EncodedSet::default()];
            for i in 0..g.len() {
                let it = &g.items[i];
                let Some(l) = it
                    .label
                    .as_ref()
                    .and_then(|l| labels.iter().position(|x| x == l))
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
                    distances: vec![],
                    embedding: g.embedding(i).to_vec(),
                });
                sets[slot].labels.push(l);
            }
            let [a, b] = sets;
            (a, b, "the bundle's gallery items".to_string())
        }
    };
    let k = p.bundle.manifest.architecture.codebook_size;
    // CMG's protocol: the classifier reads the quantised representation (the mean of the
    // code vectors each position was assigned, i.e. the bundle's embedding); the bag-of-codes
    // variant reads only which codes were used.
    let mut transfer_map = BTreeMap::new();
    let mut transfer_codes = BTreeMap::new();
    for (name, src_m, tgt_m, src, tgt) in [
        (
            "image_to_audio",
            Modality::Image,
            Modality::Audio,
            &fit_images,
            &audio_set,
        ),
        (
            "audio_to_image",
            Modality::Audio,
            Modality::Image,
            &fit_audio,
            &images,
        ),
    ] {
        for (features, map) in [
            (TransferFeatures::Embedding, &mut transfer_map),
            (TransferFeatures::BagOfCodes, &mut transfer_codes),
        ] {
            let r = transfer::run_transfer(
                src_m,
                tgt_m,
                &src.transfer_items(),
                &tgt.transfer_items(),
                &labels,
                k,
                features,
                FitSettings::default(),
            )?;
            map.insert(
                name.to_string(),
                Accuracy {
                    accuracy: r.accuracy,
                    n: r.n_test,
                },
            );
        }
    }
    // Zero-shot with the bundle's prompts.
    let templates = p.bundle.manifest.labels.prompts.clone();
    let classes = p.class_embeddings(&labels, &templates)?;
    let d = p.bundle.manifest.architecture.d_model;
    let class_rows: Vec<Vec<f32>> = classes.chunks_exact(d).map(|c| c.to_vec()).collect();
    let mut zero_shot = BTreeMap::new();
    for (name, set) in [("image", &images), ("audio", &audio_set)] {
        let flat_q: Vec<f32> = set
            .items
            .iter()
            .flat_map(|i| i.embedding.iter().copied())
            .collect();
        let hits = top_k_cpu(&flat_q, &classes, d, 1)?;
        let correct = hits
            .iter()
            .zip(&set.labels)
            .filter(|(h, l)| h.first().map(|x| x.index) == Some(**l))
            .count();
        zero_shot.insert(
            name.to_string(),
            Accuracy {
                accuracy: correct as f32 / set.items.len().max(1) as f32,
                n: set.items.len(),
            },
        );
    }
    let class_labels: Vec<usize> = (0..10).collect();
    let mut retrieval_map = BTreeMap::new();
    retrieval_map.insert(
        "text_to_image".into(),
        retrieval(&class_rows, &class_labels, &images)?,
    );
    retrieval_map.insert(
        "text_to_audio".into(),
        retrieval(&class_rows, &class_labels, &audio_set)?,
    );
    let audio_queries: Vec<Vec<f32>> = audio_set
        .items
        .iter()
        .map(|i| i.embedding.clone())
        .collect();
    retrieval_map.insert(
        "audio_to_image".into(),
        retrieval(&audio_queries, &audio_set.labels, &images)?,
    );
    let image_queries: Vec<Vec<f32>> = images.items.iter().map(|i| i.embedding.clone()).collect();
    retrieval_map.insert(
        "image_to_audio".into(),
        retrieval(&image_queries, &images.labels, &audio_set)?,
    );
    // Codebook: test items of both modalities and every prompt.
    let prompts: Vec<String> = labels
        .iter()
        .flat_map(|l| p.bundle.manifest.prompts_for(l))
        .collect();
    let text_items = p.encode_texts(&prompts)?;
    let stats = CodebookStats::compute(
        k,
        images
            .items
            .iter()
            .chain(&audio_set.items)
            .chain(&text_items)
            .map(|i| (i.modality, i.codes.as_slice())),
    );
    let per_modality = stats
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
        .collect();
    Ok(EvalReport {
        bundle: p.bundle.dir.display().to_string(),
        n_images: images.items.len(),
        n_audio: audio_set.items.len(),
        test_data: test_data.join("; "),
        fit_data,
        transfer: transfer_map,
        transfer_bag_of_codes: transfer_codes,
        zero_shot,
        retrieval: retrieval_map,
        codebook: CodebookReport {
            size: k,
            active_codes: stats.active_any,
            shared_codes: stats.shared,
            shared_fraction: stats.shared_fraction,
            per_modality,
        },
    })
}

/// Human-readable summary.
pub fn print_report(r: &EvalReport) {
    println!("bundle       {}", r.bundle);
    println!(
        "test data    {} ({} images, {} clips)",
        r.test_data, r.n_images, r.n_audio
    );
    println!("fit data     {}", r.fit_data);
    for (k, v) in &r.transfer {
        println!("transfer     {k:<16} {:.1}%", v.accuracy * 100.0);
    }
    for (k, v) in &r.transfer_bag_of_codes {
        println!(
            "transfer     {k:<16} {:.1}% (bag of codes)",
            v.accuracy * 100.0
        );
    }
    for (k, v) in &r.zero_shot {
        println!("zero-shot    {k:<16} {:.1}%", v.accuracy * 100.0);
    }
    for (k, v) in &r.retrieval {
        println!(
            "retrieval    {k:<16} P@1 {:.3}  P@10 {:.3}",
            v.precision_at_1, v.precision_at_10
        );
    }
    println!(
        "codebook     {} of {} codes active, {} shared by >= 2 modalities ({:.1}%)",
        r.codebook.active_codes,
        r.codebook.size,
        r.codebook.shared_codes,
        r.codebook.shared_fraction * 100.0
    );
    for (k, v) in &r.codebook.per_modality {
        println!(
            "             {k:<6} perplexity {:.1}, {} active",
            v.perplexity, v.active_codes
        );
    }
}
