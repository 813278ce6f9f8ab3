//! Two models side by side: the [`Comparison`] of bundle A (the one in use) and bundle B.
//! The table of every figure either manifest reports with the difference (and the dead codes
//! derived from each); model B's gallery map laid onto A's by orthogonal Procrustes on the
//! items both galleries hold ([`crate::index::compare`]); every input read by both models,
//! its zero-shot label and codes under each and whether the labels disagree; and on labelled
//! folders ([`crate::engine::labelled_files`]) the accuracy per class under each model. The
//! one route for `transference compare` and the window's Compare tab (through the worker).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::Gallery;
use crate::engine::batch::prepare_files;
use crate::engine::gallery_map::gallery_map;
use crate::engine::input::InputSource;
use crate::engine::labelled_files::{LABELLED_IMAGE_EXTENSIONS, digit_from_name, labelled_files};
use crate::engine::pipeline::{EncodedInput, Pipeline};
use crate::error::{Error, Result};
use crate::index::accuracy::Accuracy;
use crate::index::compare::{
    ItemKey, MapAlignment, MetricRow, align_maps, match_items, metric_rows, with_dead_codes,
};
use crate::modality::Modality;
use crate::preprocess::audio_formats::AUDIO_EXTENSIONS;

/// File name of the exported table.
pub const COMPARISON_CSV: &str = "comparison.csv";
/// File name of the exported comparison.
pub const COMPARISON_JSON: &str = "comparison.json";

/// Which bundle a side of the comparison is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSide {
    pub dir: PathBuf,
    pub name: String,
    pub codebook_size: usize,
    pub gallery_items: usize,
}

impl ModelSide {
    fn of(p: &Pipeline) -> Self {
        let m = &p.bundle.manifest;
        ModelSide {
            dir: p.bundle.dir.clone(),
            name: m.name.clone(),
            codebook_size: m.architecture.codebook_size,
            gallery_items: p.bundle.gallery.as_ref().map_or(0, Gallery::len),
        }
    }
}

/// How one model read an input.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Reading {
    /// Encoded: the zero-shot label over the model's own labels and prompts (none without a
    /// text tower or labels) and the codes.
    Read {
        label: Option<String>,
        probability: Option<f32>,
        codes: Vec<u32>,
    },
    /// The model could not read it (a format it does not take, a modality it lacks).
    Failed { reason: String },
}

impl Reading {
    /// The label (`-` when the model has none to give), or why the model could not read it.
    pub fn label_text(&self) -> String {
        match self {
            Reading::Read { label, .. } => label.clone().unwrap_or_else(|| "-".into()),
            Reading::Failed { reason } => format!("failed: {reason}"),
        }
    }

    /// The first `shown` codes, space-separated, `…` when there are more.
    pub fn codes_text(&self, shown: usize) -> String {
        let Reading::Read { codes, .. } = self else {
            return String::new();
        };
        let mut out: Vec<String> = codes.iter().take(shown).map(u32::to_string).collect();
        if codes.len() > shown {
            out.push("…".into());
        }
        out.join(" ")
    }

    /// The zero-shot label, when read and labelled.
    pub fn label(&self) -> Option<&str> {
        match self {
            Reading::Read { label, .. } => label.as_deref(),
            Reading::Failed { .. } => None,
        }
    }
}

/// One input read by both models.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputRow {
    pub name: String,
    pub modality: Option<Modality>,
    /// The label its file name or folder gives (`{digit}_…`), when it has one.
    pub truth: Option<String>,
    pub a: Reading,
    pub b: Reading,
}

impl InputRow {
    /// True when both models labelled it, differently.
    pub fn disagrees(&self) -> bool {
        matches!((self.a.label(), self.b.label()), (Some(a), Some(b)) if a != b)
    }
}

/// Accuracy of both models on one labelled folder.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SetComparison {
    pub modality: Modality,
    /// The folder.
    pub source: PathBuf,
    /// Class names (model A's), in class order.
    pub labels: Vec<String>,
    pub a: Accuracy,
    pub b: Accuracy,
}

/// Everything the comparison of two bundles shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    pub a: ModelSide,
    pub b: ModelSide,
    /// Every figure of either manifest's `[metrics]`, plus the derived dead codes.
    pub metrics: Vec<MetricRow>,
    /// Model B's map laid onto A's; `None` with the reason in `alignment_unavailable`.
    pub alignment: Option<MapAlignment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alignment_unavailable: Option<String>,
    /// Labelled folders: accuracy and per class under each model.
    pub sets: Vec<SetComparison>,
    /// Every input read by both.
    pub inputs: Vec<InputRow>,
}

impl Comparison {
    /// The table: the manifests' figures, then for each labelled folder the accuracy and the
    /// accuracy per class under both models (`inputs.{modality}.accuracy`,
    /// `inputs.{modality}.per_class.{label}`).
    pub fn table(&self) -> Vec<MetricRow> {
        let mut rows = self.metrics.clone();
        for s in &self.sets {
            let m = s.modality.name();
            rows.push(MetricRow::new(
                format!("inputs.{m}.accuracy"),
                Some(f64::from(s.a.accuracy)),
                Some(f64::from(s.b.accuracy)),
            ));
            for (c, label) in s.labels.iter().enumerate() {
                let at = |a: &Accuracy| a.per_class.get(c).copied().flatten().map(f64::from);
                if at(&s.a).is_none() && at(&s.b).is_none() {
                    continue;
                }
                rows.push(MetricRow::new(
                    format!("inputs.{m}.per_class.{label}"),
                    at(&s.a),
                    at(&s.b),
                ));
            }
        }
        rows
    }

    /// Inputs the two models label differently.
    pub fn disagreements(&self) -> usize {
        self.inputs.iter().filter(|r| r.disagrees()).count()
    }

    /// Writes [`Comparison::table`] as CSV (`key,a,b,difference`; an empty cell where a model
    /// does not report the figure).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        crate::safe_write::write_csv(path, &self.table())
    }

    /// The comparison as one JSON object, with the whole [`Comparison::table`] as `table`.
    pub fn to_json(&self) -> Result<serde_json::Value> {
        let internal = |e: serde_json::Error| Error::Internal(e.to_string());
        let mut value = serde_json::to_value(self).map_err(internal)?;
        value["table"] = serde_json::to_value(self.table()).map_err(internal)?;
        Ok(value)
    }

    /// Writes [`COMPARISON_CSV`] (the table) and [`COMPARISON_JSON`] (everything) into `dir`
    /// (created if missing), each safely; returns the two paths.
    pub fn export(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let csv_path = dir.join(COMPARISON_CSV);
        self.write_csv(&csv_path)?;
        let json_path = dir.join(COMPARISON_JSON);
        let json = serde_json::to_vec_pretty(&self.to_json()?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        crate::safe_write::write_file(&json_path, &json)?;
        Ok(vec![csv_path, json_path])
    }
}

/// Labelled folders to read with both models.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompareFolders<'a> {
    pub audio: Option<&'a Path>,
    pub images: Option<&'a Path>,
}

/// Compares the loaded bundles `a` and `b`: the table, the maps' alignment and, for each
/// folder, every file read by both and the accuracy per class.
pub fn compare(
    a: &mut Pipeline,
    b: &mut Pipeline,
    folders: CompareFolders<'_>,
) -> Result<Comparison> {
    let mut c = compare_models(a, b);
    for (modality, dir, exts) in [
        (Modality::Audio, folders.audio, AUDIO_EXTENSIONS),
        (Modality::Image, folders.images, LABELLED_IMAGE_EXTENSIONS),
    ] {
        let Some(dir) = dir else { continue };
        let files = labelled_files(dir, exts)?;
        let sources: Vec<InputSource> = files
            .iter()
            .map(|(path, _)| InputSource::File(path.clone()))
            .collect();
        let names = a.bundle.manifest.labels.names.clone();
        let mut rows = read_inputs(a, b, &sources, &[])?;
        for (row, (_, label)) in rows.iter_mut().zip(&files) {
            row.truth = names.get(*label).cloned();
        }
        let truth: Vec<usize> = files.iter().map(|(_, l)| *l).collect();
        let predicted = |side: &dyn Fn(&InputRow) -> &Reading, labels: &[String]| -> Vec<usize> {
            rows.iter()
                .map(|r| {
                    side(r)
                        .label()
                        .and_then(|l| labels.iter().position(|x| x == l))
                        .unwrap_or(usize::MAX)
                })
                .collect()
        };
        let pred_a = predicted(&|r| &r.a, &names);
        let pred_b = predicted(&|r| &r.b, &b.bundle.manifest.labels.names);
        c.sets.push(SetComparison {
            modality,
            source: dir.to_path_buf(),
            a: Accuracy::from_predictions(&truth, &pred_a, names.len()),
            b: Accuracy::from_predictions(&truth, &pred_b, names.len()),
            labels: names,
        });
        c.inputs.extend(rows);
    }
    Ok(c)
}

/// The table and the maps' alignment of two loaded bundles (no inputs).
pub fn compare_models(a: &Pipeline, b: &Pipeline) -> Comparison {
    let ma = &a.bundle.manifest;
    let mb = &b.bundle.manifest;
    let metrics = metric_rows(
        &with_dead_codes(&ma.metrics, ma.architecture.codebook_size),
        &with_dead_codes(&mb.metrics, mb.architecture.codebook_size),
    );
    let (alignment, alignment_unavailable) = match align_galleries(a, b) {
        Ok(al) => (Some(al), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Comparison {
        a: ModelSide::of(a),
        b: ModelSide::of(b),
        metrics,
        alignment,
        alignment_unavailable,
        sets: Vec::new(),
        inputs: Vec::new(),
    }
}

/// B's gallery map (PCA) laid onto A's over the items both galleries hold.
fn align_galleries(a: &Pipeline, b: &Pipeline) -> Result<MapAlignment> {
    let (ga, gb) = (a.gallery()?, b.gallery()?);
    let pairs = match_items(&item_keys(ga), &item_keys(gb));
    let map = |g: &Gallery, p: &Pipeline| {
        gallery_map(g).map(|(_, xy)| xy).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "{}: the gallery's map could not be computed (fewer than 2 items or \
                 non-finite embeddings)",
                p.bundle.dir.display()
            ))
        })
    };
    align_maps(&map(ga, a)?, &map(gb, b)?, pairs)
}

/// What identifies each gallery item in another gallery.
fn item_keys(g: &Gallery) -> Vec<ItemKey<'_>> {
    g.items
        .iter()
        .map(|it| ItemKey {
            modality: it.modality,
            source: &it.source,
            label: it.label.as_deref(),
            text: it.text.as_deref(),
        })
        .collect()
}

/// Reads every input with both models: files in batches (each model's own preprocessing),
/// other inputs one by one; a gallery item of A is read by B as its matched item (`pairs`,
/// A index to B index) and fails there when B's gallery does not hold it. An input that one
/// model cannot read fails on that side alone.
pub fn read_inputs(
    a: &mut Pipeline,
    b: &mut Pipeline,
    sources: &[InputSource],
    pairs: &[(usize, usize)],
) -> Result<Vec<InputRow>> {
    let in_b: Vec<Option<InputSource>> = sources
        .iter()
        .map(|s| match s {
            InputSource::GalleryItem(i) => pairs
                .iter()
                .find(|(x, _)| x == i)
                .map(|&(_, j)| InputSource::GalleryItem(j)),
            other => Some(other.clone()),
        })
        .collect();
    let read_a = read_all(a, sources.iter().map(Some))?;
    let read_b = read_all(b, in_b.iter().map(Option::as_ref))?;
    let names = &a.bundle.manifest.labels.names;
    Ok(sources
        .iter()
        .zip(read_a.into_iter().zip(read_b))
        .map(|(source, ((modality_a, ra), (modality_b, rb)))| InputRow {
            name: source.display_name(),
            modality: modality_a.or(modality_b),
            truth: match source {
                InputSource::File(path) => digit_from_name(path)
                    .or_else(|| {
                        path.parent()
                            .and_then(|d| digit_from_name(Path::new(d.file_name()?)))
                    })
                    .and_then(|d| names.get(d).cloned()),
                _ => None,
            },
            a: ra,
            b: rb,
        })
        .collect())
}

/// Each input as `p` reads it (`None`: not in this model's gallery), with its modality.
fn read_all<'s>(
    p: &mut Pipeline,
    sources: impl Iterator<Item = Option<&'s InputSource>>,
) -> Result<Vec<(Option<Modality>, Reading)>> {
    let sources: Vec<Option<&InputSource>> = sources.collect();
    let files: Vec<PathBuf> = sources
        .iter()
        .filter_map(|s| match s {
            Some(InputSource::File(path)) => Some(path.clone()),
            _ => None,
        })
        .collect();
    // Files: preprocessed in parallel, then one forward pass per modality.
    let mut prepared_ok = Vec::new();
    let mut file_results: Vec<Option<Result<EncodedInput>>> = Vec::new();
    for r in prepare_files(&files, &p.file_configs()) {
        match r {
            Ok(f) => {
                prepared_ok.push(f);
                file_results.push(None);
            }
            Err(e) => file_results.push(Some(Err(e))),
        }
    }
    let mut encoded = p.encode_prepared_batch(prepared_ok).into_iter();
    let mut file_results = file_results.into_iter().map(|r| {
        r.unwrap_or_else(|| {
            encoded
                .next()
                .unwrap_or_else(|| Err(Error::Internal("batch encoding gave too few items".into())))
        })
    });
    let labels = p.bundle.manifest.labels.names.clone();
    let templates = p.bundle.manifest.labels.prompts.clone();
    let can_label = !labels.is_empty() && p.modalities().contains(&Modality::Text);
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let result = match source {
            None => Err(Error::InvalidRequest(
                "this model's gallery does not hold the item".into(),
            )),
            Some(InputSource::File(_)) => file_results.next().unwrap_or_else(|| {
                Err(Error::Internal("a file went missing from the batch".into()))
            }),
            Some(other) => p.encode(other),
        };
        out.push(match result {
            Ok(input) => {
                let top = if can_label {
                    p.classify(&input.item.embedding, &labels, &templates)?
                        .into_iter()
                        .next()
                } else {
                    None
                };
                (
                    Some(input.modality),
                    Reading::Read {
                        label: top.as_ref().map(|s| s.label.clone()),
                        probability: top.map(|s| s.probability),
                        codes: input.item.codes,
                    },
                )
            }
            Err(e) => (
                None,
                Reading::Failed {
                    reason: e.to_string(),
                },
            ),
        });
    }
    Ok(out)
}
