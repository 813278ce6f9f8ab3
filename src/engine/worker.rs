//! The worker thread that owns the model. Callers (the window) submit [`Job`]s and poll
//! plain-data [`Event`]s; they never block on inference and never see a tensor. A failed
//! or panicking job produces an error event; the worker keeps running.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};
use serde::{Deserialize, Serialize};

use crate::device::DeviceRequest;
use crate::engine::InputSource;
use crate::engine::pipeline::{EncodedInput, LabelScore, Neighbour, Pipeline};
use crate::error::{Error, Result};
use crate::index::pca::Pca2;
use crate::index::stats::CodebookStats;
use crate::index::transfer::{self, FitSettings, TransferFeatures, TransferItem, TransferReport};
use crate::modality::Modality;
use crate::model::float_to_vec;

/// Work for the worker.
#[derive(Clone, Debug)]
pub enum Job {
    /// Load a bundle (replacing the current one).
    Load { dir: PathBuf, device: DeviceRequest },
    /// Encode an input, classify it zero-shot and find its neighbours in every modality.
    Analyze {
        request_id: u64,
        input: InputSource,
        labels: Vec<String>,
        templates: Vec<String>,
        k: usize,
    },
    /// Re-score an embedding against new labels or templates.
    Classify {
        request_id: u64,
        embedding: Vec<f32>,
        labels: Vec<String>,
        templates: Vec<String>,
    },
    /// Fit on one modality's gallery items, test on another's.
    Transfer {
        source: Modality,
        target: Modality,
        features: TransferFeatures,
    },
    /// Write the gallery (and `extra` rows, e.g. the window's current inputs) as TensorBoard
    /// Embedding Projector files `vectors.tsv` and `metadata.tsv` in `dir`.
    ExportProjector {
        dir: PathBuf,
        extra: Vec<ProjectorRow>,
    },
    /// Stop the thread.
    Shutdown,
}

/// An extra row of an Embedding Projector export (not from the gallery).
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectorRow {
    pub modality: Modality,
    pub label: String,
    pub source: String,
    pub embedding: Vec<f32>,
}

/// A gallery item placed on the map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GalleryPoint {
    pub index: usize,
    pub modality: Modality,
    pub label: Option<String>,
    pub source: String,
    pub text: Option<String>,
    pub media: Option<PathBuf>,
    pub xy: [f32; 2],
    pub codes: Vec<u32>,
}

/// Everything the window shows about a loaded model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub dir: PathBuf,
    pub name: String,
    pub description: String,
    /// The model card (Markdown).
    pub card: String,
    pub modalities: Vec<Modality>,
    pub codebook_size: usize,
    pub d_model: usize,
    pub temperature: f32,
    pub labels: Vec<String>,
    pub prompts: Vec<String>,
    pub device: String,
    pub metrics: BTreeMap<String, f64>,
    pub gallery: Vec<GalleryPoint>,
    /// Code vectors (normalised) on the same 2-D projection as the gallery.
    pub codebook_xy: Vec<[f32; 2]>,
    pub stats: Option<CodebookStats>,
    /// Fraction of variance the 2-D map shows (0 when there is no map).
    pub map_explained: f32,
    /// Image feature grid `[rows, cols]`, if the model reads images.
    pub image_grid: Option<[usize; 2]>,
    pub load_ms: f64,
}

/// Result of [`Job::Analyze`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub request_id: u64,
    pub input: EncodedInput,
    /// Position on the embedding map.
    pub xy: Option<[f32; 2]>,
    /// Zero-shot scores, or why there are none (no text tower, no labels).
    pub zero_shot: std::result::Result<Vec<LabelScore>, String>,
    /// Nearest gallery items per modality.
    pub neighbours: Vec<(Modality, Vec<Neighbour>)>,
    pub total_ms: f64,
}

/// What the worker reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Loading {
        dir: PathBuf,
    },
    Loaded(Box<ModelSummary>),
    LoadFailed {
        dir: PathBuf,
        error: String,
    },
    Analyzed(Box<Analysis>),
    Classified {
        request_id: u64,
        scores: Vec<LabelScore>,
    },
    TransferDone(Box<TransferReport>),
    /// [`Job::ExportProjector`] wrote `files` with `rows` rows each.
    Exported {
        dir: PathBuf,
        files: Vec<PathBuf>,
        rows: usize,
    },
    /// A job failed; `what` names the job (e.g. the input's file name).
    Failed {
        request_id: Option<u64>,
        what: String,
        error: String,
    },
}

/// Handle to the worker thread.
pub struct Worker {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread. `notify` is called after every event (e.g. to request a repaint).
    pub fn spawn(notify: impl Fn() + Send + 'static) -> Self {
        let (jobs_tx, jobs_rx) = unbounded::<Job>();
        let (events_tx, events_rx) = unbounded::<Event>();
        let thread = std::thread::Builder::new()
            .name("transference-worker".into())
            .spawn(move || worker_loop(jobs_rx, events_tx, notify))
            .ok();
        Worker {
            jobs: jobs_tx,
            events: events_rx,
            thread,
        }
    }

    /// Queues a job; never blocks.
    pub fn submit(&self, job: Job) {
        let _ = self.jobs.send(job);
    }

    /// Next event, if any; never blocks.
    pub fn try_recv(&self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    /// Waits for the next event (for tests and scripts).
    pub fn recv_timeout(&self, timeout: std::time::Duration) -> Option<Event> {
        self.events.recv_timeout(timeout).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.jobs.send(Job::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    pipeline: Option<Pipeline>,
    pca: Option<Pca2>,
}

fn worker_loop(jobs: Receiver<Job>, events: Sender<Event>, notify: impl Fn()) {
    let mut state = State {
        pipeline: None,
        pca: None,
    };
    while let Ok(job) = jobs.recv() {
        if matches!(job, Job::Shutdown) {
            break;
        }
        // Skip stale analyses: when several are queued, only the newest matters for the UI.
        let job = match job {
            Job::Analyze { .. } => newest_analysis(job, &jobs, &mut state, &events, &notify),
            other => Some(other),
        };
        let Some(job) = job else { break };
        let describe = describe(&job);
        let request_id = request_id(&job);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            handle(&mut state, job, &events, &notify)
        }));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = events.send(Event::Failed {
                    request_id,
                    what: describe,
                    error: e.to_string(),
                });
            }
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                let _ = events.send(Event::Failed {
                    request_id,
                    what: describe,
                    error: format!("internal error: {msg}"),
                });
            }
        }
        notify();
    }
}

/// Drains queued analyses, keeping the newest one; other jobs met on the way are run first.
fn newest_analysis(
    first: Job,
    jobs: &Receiver<Job>,
    state: &mut State,
    events: &Sender<Event>,
    notify: &impl Fn(),
) -> Option<Job> {
    let mut newest = first;
    while let Ok(next) = jobs.try_recv() {
        match next {
            Job::Analyze { .. } => newest = next,
            Job::Shutdown => return None,
            other => {
                let what = describe(&other);
                let id = request_id(&other);
                if let Err(e) = handle(state, other, events, notify) {
                    let _ = events.send(Event::Failed {
                        request_id: id,
                        what,
                        error: e.to_string(),
                    });
                }
            }
        }
    }
    Some(newest)
}

fn describe(job: &Job) -> String {
    match job {
        Job::Load { dir, .. } => format!("loading {}", dir.display()),
        Job::Analyze { input, .. } => input.display_name(),
        Job::Classify { .. } => "zero-shot classification".into(),
        Job::Transfer { source, target, .. } => format!("transfer {source} → {target}"),
        Job::ExportProjector { dir, .. } => format!("export to {}", dir.display()),
        Job::Shutdown => "shutdown".into(),
    }
}

fn request_id(job: &Job) -> Option<u64> {
    match job {
        Job::Analyze { request_id, .. } | Job::Classify { request_id, .. } => Some(*request_id),
        _ => None,
    }
}

fn no_model() -> Error {
    Error::InvalidRequest("no model is loaded; open a bundle first".into())
}

fn handle(state: &mut State, job: Job, events: &Sender<Event>, notify: &impl Fn()) -> Result<()> {
    match job {
        Job::Load { dir, device } => {
            let _ = events.send(Event::Loading { dir: dir.clone() });
            notify();
            let t0 = Instant::now();
            match Pipeline::open(&dir, device) {
                Ok(pipeline) => {
                    let (summary, pca) = summarize(&pipeline, t0.elapsed().as_secs_f64() * 1000.0);
                    state.pipeline = Some(pipeline);
                    state.pca = pca;
                    let _ = events.send(Event::Loaded(Box::new(summary)));
                }
                Err(e) => {
                    let _ = events.send(Event::LoadFailed {
                        dir,
                        error: e.to_string(),
                    });
                }
            }
            Ok(())
        }
        Job::Analyze {
            request_id,
            input,
            labels,
            templates,
            k,
        } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(no_model)?;
            let t0 = Instant::now();
            let encoded = pipeline.encode(&input)?;
            let zero_shot = if !pipeline.modalities().contains(&Modality::Text) {
                Err("this model has no text tower".to_string())
            } else if labels.is_empty() {
                Err("no labels".to_string())
            } else {
                pipeline
                    .classify(&encoded.item.embedding, &labels, &templates)
                    .map_err(|e| e.to_string())
            };
            let mut neighbours = Vec::new();
            if pipeline.bundle.gallery.is_some() {
                for m in Modality::ALL {
                    let hits = pipeline.retrieve(&encoded.item.embedding, Some(m), k)?;
                    if !hits.is_empty() {
                        neighbours.push((m, hits));
                    }
                }
            }
            let xy = state
                .pca
                .as_ref()
                .map(|p| p.project(&encoded.item.embedding));
            let _ = events.send(Event::Analyzed(Box::new(Analysis {
                request_id,
                input: encoded,
                xy,
                zero_shot,
                neighbours,
                total_ms: t0.elapsed().as_secs_f64() * 1000.0,
            })));
            Ok(())
        }
        Job::Classify {
            request_id,
            embedding,
            labels,
            templates,
        } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(no_model)?;
            let scores = pipeline.classify(&embedding, &labels, &templates)?;
            let _ = events.send(Event::Classified { request_id, scores });
            Ok(())
        }
        Job::Transfer {
            source,
            target,
            features,
        } => {
            let pipeline = state.pipeline.as_ref().ok_or_else(no_model)?;
            let report = gallery_transfer(pipeline, source, target, features)?;
            let _ = events.send(Event::TransferDone(Box::new(report)));
            Ok(())
        }
        Job::ExportProjector { dir, extra } => {
            let gallery = state
                .pipeline
                .as_ref()
                .and_then(|p| p.bundle.gallery.as_ref());
            let (files, rows) = write_projector(&dir, gallery, &extra)?;
            let _ = events.send(Event::Exported { dir, files, rows });
            Ok(())
        }
        Job::Shutdown => Ok(()),
    }
}

/// One TSV field: tabs and line breaks become spaces.
fn tsv_field(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Writes `vectors.tsv` (one embedding per line, tab-separated) and `metadata.tsv` (header
/// `modality\tlabel\tsource`) for the TensorBoard Embedding Projector. Returns the files and
/// the number of rows.
pub fn write_projector(
    dir: &std::path::Path,
    gallery: Option<&crate::bundle::Gallery>,
    extra: &[ProjectorRow],
) -> Result<(Vec<PathBuf>, usize)> {
    use std::fmt::Write as _;
    let mut rows: Vec<(Modality, String, String, &[f32])> = Vec::new();
    if let Some(g) = gallery {
        for (i, item) in g.items.iter().enumerate() {
            rows.push((
                item.modality,
                item.label.clone().unwrap_or_default(),
                item.source.clone(),
                g.embedding(i),
            ));
        }
    }
    for r in extra {
        rows.push((r.modality, r.label.clone(), r.source.clone(), &r.embedding));
    }
    if rows.is_empty() {
        return Err(Error::InvalidRequest(
            "nothing to export: the model has no gallery and there are no inputs".into(),
        ));
    }
    let dim = rows[0].3.len();
    if let Some(bad) = rows.iter().find(|r| r.3.len() != dim) {
        return Err(Error::InvalidRequest(format!(
            "cannot export {}: its embedding has {} values, the others {dim}",
            bad.2,
            bad.3.len()
        )));
    }
    let mut vectors = String::new();
    let mut metadata = String::from("modality\tlabel\tsource\n");
    for (m, label, source, e) in &rows {
        for (j, v) in e.iter().enumerate() {
            if j > 0 {
                vectors.push('\t');
            }
            let _ = write!(vectors, "{v}");
        }
        vectors.push('\n');
        let _ = writeln!(metadata, "{m}\t{}\t{}", tsv_field(label), tsv_field(source));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut files = Vec::new();
    for (name, text) in [("vectors.tsv", vectors), ("metadata.tsv", metadata)] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::Write {
            path: path.clone(),
            source: e,
        })?;
        files.push(path);
    }
    Ok((files, rows.len()))
}

/// Labels of a gallery: the manifest's names, else the sorted distinct item labels.
pub fn gallery_labels(pipeline: &Pipeline) -> Vec<String> {
    let names = &pipeline.bundle.manifest.labels.names;
    if !names.is_empty() {
        return names.clone();
    }
    let mut set: Vec<String> = pipeline
        .bundle
        .gallery
        .iter()
        .flat_map(|g| g.items.iter().filter_map(|i| i.label.clone()))
        .collect();
    set.sort();
    set.dedup();
    set
}

/// The transfer experiment on the gallery's labelled items.
pub fn gallery_transfer(
    pipeline: &Pipeline,
    source: Modality,
    target: Modality,
    features: TransferFeatures,
) -> Result<TransferReport> {
    let gallery = pipeline
        .bundle
        .gallery
        .as_ref()
        .ok_or_else(|| Error::InvalidRequest("this model has no gallery".into()))?;
    let labels = gallery_labels(pipeline);
    let items_of = |m: Modality| -> Vec<TransferItem> {
        gallery
            .indices_of(m)
            .into_iter()
            .filter_map(|i| {
                let label = gallery.items[i].label.as_ref()?;
                let idx = labels.iter().position(|l| l == label)?;
                Some(TransferItem {
                    codes: gallery.codes[i].clone(),
                    embedding: gallery.embedding(i).to_vec(),
                    label: idx,
                })
            })
            .collect()
    };
    let src = items_of(source);
    if src.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "the gallery has no labelled {source} items to fit on"
        )));
    }
    transfer::run_transfer(
        source,
        target,
        &src,
        &items_of(target),
        &labels,
        pipeline.bundle.manifest.architecture.codebook_size,
        features,
        FitSettings::default(),
    )
}

/// Builds the model summary: gallery map (PCA), codebook projection and statistics.
pub fn summarize(pipeline: &Pipeline, load_ms: f64) -> (ModelSummary, Option<Pca2>) {
    let m = &pipeline.bundle.manifest;
    let card = std::fs::read_to_string(pipeline.bundle.dir.join(&m.card)).unwrap_or_default();
    let gallery = pipeline.bundle.gallery.as_ref();
    let pca = gallery.and_then(|g| Pca2::fit(&g.embeddings, g.dim));
    let points = gallery
        .map(|g| {
            (0..g.len())
                .map(|i| {
                    let item = &g.items[i];
                    GalleryPoint {
                        index: i,
                        modality: item.modality,
                        label: item.label.clone(),
                        source: item.source.clone(),
                        text: item.text.clone(),
                        media: g.media_path(i),
                        xy: pca
                            .as_ref()
                            .map(|p| p.project(g.embedding(i)))
                            .unwrap_or([0.0, 0.0]),
                        codes: g.codes[i].clone(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let codebook_xy = match &pca {
        Some(p) => {
            let vectors = float_to_vec(pipeline.bundle.model.codebook.vectors.val());
            vectors
                .chunks_exact(m.architecture.d_model)
                .map(|v| {
                    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    let unit: Vec<f32> = v.iter().map(|x| x / n).collect();
                    p.project(&unit)
                })
                .collect()
        }
        None => Vec::new(),
    };
    let stats = gallery.map(|g| {
        CodebookStats::compute(
            m.architecture.codebook_size,
            g.items
                .iter()
                .zip(&g.codes)
                .map(|(it, c)| (it.modality, c.as_slice())),
        )
    });
    let summary = ModelSummary {
        dir: pipeline.bundle.dir.clone(),
        name: m.name.clone(),
        description: m.description.clone(),
        card,
        modalities: m.architecture.modalities(),
        codebook_size: m.architecture.codebook_size,
        d_model: m.architecture.d_model,
        temperature: m.architecture.temperature,
        labels: m.labels.names.clone(),
        prompts: m.labels.prompts.clone(),
        device: pipeline.device.description.clone(),
        metrics: m.metrics.clone(),
        gallery: points,
        codebook_xy,
        stats,
        map_explained: pca.as_ref().map(|p| p.explained_fraction).unwrap_or(0.0),
        image_grid: m.architecture.image.as_ref().map(|c| c.grid()),
        load_ms,
    };
    (summary, pca)
}
