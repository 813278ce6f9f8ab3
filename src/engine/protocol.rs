//! What the window and the worker thread say to each other: [`Job`]s in, [`Event`]s out, and
//! the plain-data payloads they carry (no tensors, no handles). Failures are typed: an
//! [`Event::Failed`] names the [`JobKind`] that failed and a [`JobError`] with its
//! [`ErrorKind`], so the window matches on types, never on message text.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::device::DeviceRequest;
use crate::engine::InputSource;
use crate::engine::code_page::CodePage;
use crate::engine::compare::{Comparison, InputRow};
use crate::engine::pipeline::{EncodedInput, LabelScore, Neighbour};
use crate::error::Error;
use crate::index::low_resource::LowResourceReport;
use crate::index::projection::Projection;
use crate::index::projector::ProjectorRow;
use crate::index::stats::CodebookStats;
use crate::index::transfer::{TransferFeatures, TransferReport};
use crate::modality::Modality;
use crate::preprocess::degrade::NoiseLevel;

/// What a low-resource run on the gallery asks for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GalleryCurves {
    pub primary: Modality,
    pub helper: Modality,
    pub features: TransferFeatures,
    pub noise: NoiseLevel,
}

/// Work for the worker.
#[derive(Clone, Debug)]
pub enum Job {
    /// Load a bundle (replacing the current one).
    Load { dir: PathBuf, device: DeviceRequest },
    /// Analyse inputs in order (a single input is a batch of one): encode each, classify it
    /// zero-shot and find its neighbours in every modality; preprocessing in parallel,
    /// encoding in batches of one modality. Results come back in chunks
    /// ([`Event::AnalyzedChunk`], one per [`analysis_chunk_len`] inputs or so); when `cancel`
    /// is set, the worker stops after the current chunk and answers the rest with
    /// [`Event::Cancelled`]. Every request ends in exactly one result, failure or cancellation.
    AnalyzeBatch {
        items: Vec<BatchItem>,
        labels: Vec<String>,
        templates: Vec<String>,
        k: usize,
        cancel: Arc<AtomicBool>,
    },
    /// Re-score an embedding against new labels or templates.
    Classify {
        request_id: u64,
        embedding: Vec<f32>,
        labels: Vec<String>,
        templates: Vec<String>,
    },
    /// Every gallery item's zero-shot label against `labels` and `templates`: answered by
    /// [`Event::GalleryZeroShot`].
    GalleryZeroShot {
        labels: Vec<String>,
        templates: Vec<String>,
    },
    /// Every gallery item's cosine similarity to a query: answered by
    /// [`Event::GallerySimilarity`].
    GallerySimilarity(SimilarityQuery),
    /// Fit on one modality's gallery items, test on another's.
    Transfer {
        source: Modality,
        target: Modality,
        features: TransferFeatures,
    },
    /// Low-resource curves on the gallery: accuracy on `run.primary` against its labels per
    /// class, alone, helped by `run.helper`'s labels, and zero-shot; the primary items degraded
    /// by `run.noise` (re-encoded from their media) first. Reports
    /// [`Event::LowResourceProgress`], then [`Event::LowResourceDone`].
    LowResource { run: GalleryCurves },
    /// Write the gallery (and `extra` rows, e.g. the window's current inputs) as TensorBoard
    /// Embedding Projector files in `dir` (see [`crate::index::projector`]).
    ExportProjector {
        dir: PathBuf,
        extra: Vec<ProjectorRow>,
    },
    /// Compute a 2-D map of the gallery. t-SNE and UMAP run on a thread of their own (the
    /// worker goes on with other jobs), reporting [`Event::ProjectionProgress`] with
    /// intermediate layouts and then [`Event::Projected`]; a new `Project` job or a new model
    /// stops the running one, which then reports nothing more. PCA (computed at load) is
    /// answered at once, so `Project { projection: Pca }` also stops a running map.
    Project { projection: Projection },
    /// The page of one code ([`crate::engine::Pipeline::code_page`]): answered by
    /// [`Event::CodePage`].
    CodePage { code: u32 },
    /// Compare the loaded model (A) with the bundle in `dir` (B), which the worker loads beside
    /// it (or keeps, when it is the one compared last): the figures, B's map laid onto A's and
    /// `inputs` read by both ([`crate::engine::compare`]). Answered by [`Event::Compared`].
    Compare {
        dir: PathBuf,
        device: DeviceRequest,
        inputs: Vec<InputSource>,
    },
    /// Read `inputs` with both models of the last comparison: [`Event::ComparedInputs`].
    CompareInputs { inputs: Vec<InputSource> },
    /// Stop the thread.
    Shutdown,
}

impl Job {
    /// Which job this is, for failure reports.
    pub fn kind(&self) -> JobKind {
        match self {
            Job::Load { dir, .. } => JobKind::Load { dir: dir.clone() },
            Job::AnalyzeBatch { items, .. } => JobKind::AnalyzeBatch {
                inputs: items.len(),
            },
            Job::Classify { request_id, .. } => JobKind::Classify {
                request_id: *request_id,
            },
            Job::GalleryZeroShot { .. } => JobKind::GalleryZeroShot,
            Job::GallerySimilarity(_) => JobKind::GallerySimilarity,
            Job::Transfer { source, target, .. } => JobKind::Transfer {
                source: *source,
                target: *target,
            },
            Job::LowResource { run } => JobKind::LowResource {
                primary: run.primary,
            },
            Job::ExportProjector { dir, .. } => JobKind::ExportProjector { dir: dir.clone() },
            Job::Project { projection } => JobKind::Project {
                projection: *projection,
            },
            Job::CodePage { code } => JobKind::CodePage { code: *code },
            Job::Compare { dir, .. } => JobKind::Compare { dir: dir.clone() },
            Job::CompareInputs { inputs } => JobKind::CompareInputs {
                inputs: inputs.len(),
            },
            Job::Shutdown => JobKind::Shutdown,
        }
    }
}

/// The job an [`Event::Failed`] is about, with what identifies it.
#[derive(Clone, Debug, PartialEq)]
pub enum JobKind {
    /// Loading the bundle in `dir`.
    Load { dir: PathBuf },
    /// A batch of `inputs` analyses as a whole (a failure of one input is reported per input
    /// in [`Event::AnalyzedChunk`]; this is the batch itself failing, e.g. no model).
    AnalyzeBatch { inputs: usize },
    /// Re-scoring an input's embedding.
    Classify { request_id: u64 },
    /// Zero-shot labels of every gallery item.
    GalleryZeroShot,
    /// Every gallery item's similarity to a query.
    GallerySimilarity,
    /// The transfer experiment.
    Transfer { source: Modality, target: Modality },
    /// The low-resource curves of a primary modality.
    LowResource { primary: Modality },
    /// The Embedding Projector export to `dir`.
    ExportProjector { dir: PathBuf },
    /// Computing a map of the gallery.
    Project { projection: Projection },
    /// Computing a code's page.
    CodePage { code: u32 },
    /// Comparing the loaded model with the bundle in `dir`.
    Compare { dir: PathBuf },
    /// Reading `inputs` inputs with both compared models.
    CompareInputs { inputs: usize },
    /// Stopping the thread (never fails; here for completeness).
    Shutdown,
}

impl JobKind {
    /// The request id of an analysis or re-scoring.
    pub fn request_id(&self) -> Option<u64> {
        match self {
            JobKind::Classify { request_id } => Some(*request_id),
            _ => None,
        }
    }
}

impl std::fmt::Display for JobKind {
    /// A title naming the job, e.g. "Loading model tiny failed".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobKind::Load { dir } => {
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| dir.display().to_string());
                write!(f, "Loading model {name} failed")
            }
            JobKind::AnalyzeBatch { inputs: 1 } => write!(f, "Analysing 1 input failed"),
            JobKind::AnalyzeBatch { inputs } => write!(f, "Analysing {inputs} inputs failed"),
            JobKind::Classify { .. } => write!(f, "Zero-shot re-scoring failed"),
            JobKind::GalleryZeroShot => write!(f, "Zero-shot labels of the gallery failed"),
            JobKind::GallerySimilarity => write!(f, "Similarity to the gallery failed"),
            JobKind::Transfer { source, target } => {
                write!(f, "Transfer {source} → {target} failed")
            }
            JobKind::LowResource { primary } => {
                write!(f, "Low-resource curves on {primary} failed")
            }
            JobKind::ExportProjector { dir } => {
                write!(f, "Export to {} failed", dir.display())
            }
            JobKind::Project { projection } => {
                write!(f, "Computing the {projection} map failed")
            }
            JobKind::CodePage { code } => write!(f, "Opening the page of code {code} failed"),
            JobKind::Compare { dir } => {
                write!(f, "Comparing with {} failed", dir.display())
            }
            JobKind::CompareInputs { .. } => {
                write!(f, "Reading the inputs with both models failed")
            }
            JobKind::Shutdown => write!(f, "Stopping the worker failed"),
        }
    }
}

/// What sort of failure a job met: the library's [`crate::error::ErrorKind`] (no model loaded
/// yet is the user's to fix, a bad input).
pub use crate::error::ErrorKind;

/// Why a job failed: its kind and the specific message.
#[derive(Clone, Debug, PartialEq)]
pub struct JobError {
    pub kind: ErrorKind,
    /// The specific reason (what, which file, what was expected).
    pub message: String,
}

impl JobError {
    /// The error for a job that needs a model when none is loaded.
    pub fn no_model() -> Self {
        JobError {
            kind: ErrorKind::BadInput,
            message: "no model is loaded; open a bundle first".into(),
        }
    }

    /// An internal failure (a panic, a thread that would not start, a broken invariant): not
    /// caused by the input, nothing the user can fix.
    pub fn internal(message: &str) -> Self {
        JobError {
            kind: ErrorKind::Internal,
            message: format!("internal error: {message}"),
        }
    }
}

impl JobError {
    /// The message as the window shows it: what to fix for the user's failures; for internal
    /// and device failures, the message and where the log is, to report it.
    pub fn for_user(&self) -> String {
        if self.kind.user_can_fix() {
            return self.message.clone();
        }
        let log = crate::log_file::active()
            .map(|p| format!(" (the log is {})", p.display()))
            .unwrap_or_default();
        format!(
            "{}\nThis was not caused by your input: please report it{log}.",
            self.message
        )
    }
}

impl From<Error> for JobError {
    fn from(e: Error) -> Self {
        JobError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
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

/// Everything the window shows about a loaded model. (`Default`: an empty summary, for tests
/// and benches that fill in what they need.)
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// Longest audio clip the model takes after silence trimming, in seconds (recordings stop
    /// there), if it reads audio.
    pub audio_clip_secs: Option<f64>,
    /// Modalities the bundle's generation decoders produce (empty without decoders).
    pub generation_targets: Vec<Modality>,
    pub load_ms: f64,
}

impl ModelSummary {
    /// False for a vectors-only bundle (`transference import`): no modality can be encoded,
    /// only gallery items analysed by their stored embedding and codes.
    pub fn has_encoders(&self) -> bool {
        !self.modalities.is_empty()
    }
}

/// A comparison with the model the window shows B's map from.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparisonView {
    pub comparison: Comparison,
    /// Model B's summary: its gallery (PCA positions; the comparison lays them onto A's map).
    pub summary: ModelSummary,
}

/// Why an analysis has no zero-shot scores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ZeroShotUnavailable {
    /// The model cannot read text, so it cannot score labels.
    NoTextTower,
    /// The label list is empty.
    NoLabels,
    /// Scoring failed; the specific reason.
    Failed(String),
}

impl std::fmt::Display for ZeroShotUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ZeroShotUnavailable::NoTextTower => f.write_str("this model has no text tower"),
            ZeroShotUnavailable::NoLabels => f.write_str("no labels"),
            ZeroShotUnavailable::Failed(reason) => f.write_str(reason),
        }
    }
}

/// Every gallery item's zero-shot label ([`Job::GalleryZeroShot`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GalleryZeroShot {
    /// The labels and templates scored against.
    pub labels: Vec<String>,
    pub templates: Vec<String>,
    /// Per gallery item, in gallery order: the index in `labels` of its best-scoring label.
    pub predicted: Vec<u32>,
}

impl GalleryZeroShot {
    /// Whether gallery item `index`, labelled `label`, gets its own label zero-shot; `None`
    /// when that cannot be told: the item is unlabelled, its label is not among the labels
    /// scored against (edited away), or it was not scored.
    pub fn correct(&self, index: usize, label: Option<&str>) -> Option<bool> {
        let label = label?;
        if !self.labels.iter().any(|l| l == label) {
            return None;
        }
        let predicted = self.labels.get(*self.predicted.get(index)? as usize)?;
        Some(predicted == label)
    }
}

/// What the map's similarity colouring compares the gallery with.
#[derive(Clone, Debug, PartialEq)]
pub enum SimilarityQuery {
    /// A typed prompt, encoded by the text tower.
    Text(String),
    /// An analysed input's embedding (L2-normalised), named for the legend.
    Embedding { name: String, embedding: Vec<f32> },
}

impl SimilarityQuery {
    /// What the colouring is similar to, for the legend and to match answers to questions.
    pub fn describe(&self) -> String {
        match self {
            SimilarityQuery::Text(text) => format!("“{}”", text.trim()),
            SimilarityQuery::Embedding { name, .. } => name.clone(),
        }
    }
}

/// Every gallery item's cosine similarity to a query ([`Job::GallerySimilarity`]).
#[derive(Clone, Debug, PartialEq)]
pub struct GallerySimilarity {
    pub query: SimilarityQuery,
    /// Per gallery item, in gallery order.
    pub cosine: Vec<f32>,
}

/// The result for one input of a [`Job::AnalyzeBatch`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub request_id: u64,
    pub input: EncodedInput,
    /// Position on the embedding map.
    pub xy: Option<[f32; 2]>,
    /// Zero-shot scores, or why there are none.
    pub zero_shot: std::result::Result<Vec<LabelScore>, ZeroShotUnavailable>,
    /// Nearest gallery items per modality.
    pub neighbours: Vec<(Modality, Vec<Neighbour>)>,
    /// The [`crate::index::projection::PLACEMENT_NEIGHBOURS`] most similar gallery items of
    /// any modality, as (gallery index, cosine similarity): they place the input on a t-SNE or
    /// UMAP map ([`crate::index::projection::place_by_neighbours`]).
    #[serde(default)]
    pub map_neighbours: Vec<(usize, f32)>,
    pub total_ms: f64,
}

/// One input of a [`Job::AnalyzeBatch`].
#[derive(Clone, Debug, PartialEq)]
pub struct BatchItem {
    pub request_id: u64,
    pub input: InputSource,
}

/// One input of a batch that could not be analysed (the others go on).
#[derive(Clone, Debug, PartialEq)]
pub struct ItemFailure {
    pub request_id: u64,
    /// The input's name, for the notification.
    pub name: String,
    pub error: JobError,
}

/// Longest time the worker works on a batch before sending what it has, in milliseconds.
pub const CHUNK_TARGET_MS: f64 = 100.0;
/// Most inputs in one [`Event::AnalyzedChunk`].
pub const MAX_CHUNK_INPUTS: usize = 50;

/// Inputs for the next chunk of a batch, given the mean time per input so far (milliseconds;
/// `None` before the first chunk): about [`CHUNK_TARGET_MS`] of work, 1 to
/// [`MAX_CHUNK_INPUTS`] inputs, starting small so the first results show at once.
pub fn analysis_chunk_len(ms_per_input: Option<f64>) -> usize {
    match ms_per_input {
        None => 4,
        Some(ms) if ms > 0.0 && ms.is_finite() => {
            ((CHUNK_TARGET_MS / ms).floor() as usize).clamp(1, MAX_CHUNK_INPUTS)
        }
        Some(_) => MAX_CHUNK_INPUTS,
    }
}

/// What the worker reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// [`Job::Load`] started.
    Loading {
        dir: PathBuf,
    },
    Loaded(Box<ModelSummary>),
    /// Results of a chunk of a [`Job::AnalyzeBatch`], in the batch's order.
    AnalyzedChunk(Vec<Result<Box<Analysis>, ItemFailure>>),
    /// Inputs of a [`Job::AnalyzeBatch`] left unanalysed because it was cancelled.
    Cancelled {
        request_ids: Vec<u64>,
    },
    Classified {
        request_id: u64,
        scores: Vec<LabelScore>,
    },
    /// A [`Job::GalleryZeroShot`] finished.
    GalleryZeroShot(Box<GalleryZeroShot>),
    /// A [`Job::GallerySimilarity`] finished.
    GallerySimilarity(Box<GallerySimilarity>),
    TransferDone(Box<TransferReport>),
    /// A [`Job::LowResource`] got this far (`fraction` of its fits, 0..1).
    LowResourceProgress {
        fraction: f32,
    },
    LowResourceDone(Box<LowResourceReport>),
    /// [`Job::ExportProjector`] wrote `files` with `rows` rows each.
    Exported {
        dir: PathBuf,
        files: Vec<PathBuf>,
        rows: usize,
    },
    /// A [`Job::Project`] got this far (`fraction` 0..1); `xy`: the layout so far (one point
    /// per gallery item, in gallery order), every few epochs.
    ProjectionProgress {
        projection: Projection,
        fraction: f32,
        xy: Option<Vec<[f32; 2]>>,
    },
    /// A [`Job::Project`] finished: one point per gallery item, in gallery order.
    Projected {
        projection: Projection,
        xy: Vec<[f32; 2]>,
        seconds: f64,
    },
    /// A [`Job::CodePage`] finished.
    CodePage(Box<CodePage>),
    /// A [`Job::Compare`] finished.
    Compared(Box<ComparisonView>),
    /// A [`Job::CompareInputs`] finished: every input read by both models, in order.
    ComparedInputs(Vec<InputRow>),
    /// A job failed (a load included); the worker keeps running.
    Failed {
        job: JobKind,
        error: JobError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn failures_are_told_apart_by_who_can_fix_them() {
        let path = PathBuf::from("m/manifest.toml");
        let bad_bundle = JobError::from(Error::Manifest {
            path: path.clone(),
            reason: "no [architecture]".into(),
        });
        assert_eq!(bad_bundle.kind, ErrorKind::BadBundle);
        assert_eq!(
            bad_bundle.for_user(),
            bad_bundle.message,
            "what to fix, as it is"
        );
        let bad_input = JobError::from(Error::ImageBlank { path });
        assert_eq!(bad_input.kind, ErrorKind::BadInput);
        let device = JobError::from(Error::Device("the adapter was lost".into()));
        assert_eq!(device.kind, ErrorKind::Device);
        let internal = JobError::internal("the worker panicked: boom");
        for e in [device, internal] {
            let shown = e.for_user();
            assert!(shown.starts_with(&e.message), "{shown}");
            assert!(shown.contains("please report it"), "{shown}");
        }
    }
}
