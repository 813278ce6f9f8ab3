//! The worker thread that owns the model. Callers (the window) submit [`Job`]s and poll
//! plain-data [`Event`]s (see [`crate::engine::protocol`]); they never block on inference and
//! never see a tensor. A failed or panicking job produces an [`Event::Failed`]; the worker
//! keeps running. Every analysis is a [`Job::AnalyzeBatch`] (a single input is a batch of
//! one), run in chunks: files preprocessed in parallel, encoded a modality at a time, results
//! sent per chunk, one failure per bad input, and a cancel flag checked between chunks; every
//! request ends in exactly one event. A [`Job::Project`] (t-SNE, UMAP) runs on a thread of its own over a
//! copy of the gallery embeddings, so analyses go on meanwhile; it is stopped when another map
//! is asked for, a model is loaded or the worker shuts down.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::engine::batch::{PreparedFile, prepare_files};
use crate::engine::compare::{compare_models, read_inputs};
use crate::engine::gallery_map::gallery_xy;
use crate::engine::low_resource::gallery_low_resource;
use crate::engine::pipeline::{EncodedInput, Pipeline};
use crate::engine::protocol::{
    Analysis, BatchItem, ComparisonView, Event, GallerySimilarity, GalleryZeroShot, ItemFailure,
    Job, JobError, JobKind, SimilarityQuery, ZeroShotUnavailable, analysis_chunk_len,
};
use crate::engine::summary::{gallery_transfer, summarize};
use crate::engine::{InputSource, ms_since};
use crate::index::pca::Pca2;
use crate::index::projection::{
    Flow, LayoutProgress, PLACEMENT_NEIGHBOURS, Projection, TsneParams, UmapParams, tsne_layout,
    umap_layout,
};
use crate::index::projector::write_projector;
use crate::modality::Modality;

/// Handle to the worker thread.
pub struct Worker {
    jobs: Sender<Job>,
    events: Receiver<Event>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// When the thread could not start: why, and where to answer each job with it.
    start_failure: Option<(Sender<Event>, String)>,
}

impl Worker {
    /// Starts the thread. `notify` is called after every event (e.g. to request a repaint),
    /// from the worker thread or a projection thread.
    pub fn spawn(notify: impl Fn() + Send + Sync + 'static) -> Self {
        let (jobs_tx, jobs_rx) = unbounded::<Job>();
        let (events_tx, events_rx) = unbounded::<Event>();
        let failure_tx = events_tx.clone();
        let (thread, start_failure) = match std::thread::Builder::new()
            .name("transference-worker".into())
            .spawn(move || worker_loop(jobs_rx, events_tx, notify))
        {
            Ok(thread) => (Some(thread), None),
            Err(e) => {
                let why = format!("cannot start the worker thread: {e}");
                tracing::error!("{why}");
                (None, Some((failure_tx, why)))
            }
        };
        Worker {
            jobs: jobs_tx,
            events: events_rx,
            thread,
            start_failure,
        }
    }

    /// Queues a job; never blocks. Without a worker thread (it could not start), the job is
    /// answered at once with an [`Event::Failed`] saying why.
    pub fn submit(&self, job: Job) {
        if let Some((events, why)) = &self.start_failure {
            let _ = events.send(Event::Failed {
                job: job.kind(),
                error: JobError::internal(why),
            });
            return;
        }
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

/// Shared repaint request, callable from the projection thread too.
type Notify = Arc<dyn Fn() + Send + Sync>;

/// What the thread holds between jobs.
struct State {
    pipeline: Option<Pipeline>,
    /// Model B of the last comparison, kept for reading inputs with both.
    compared: Option<Pipeline>,
    /// Gallery items matched between A and B (A index, B index) in the last comparison.
    compared_pairs: Vec<(usize, usize)>,
    pca: Option<Pca2>,
    /// Stop flag of the running t-SNE or UMAP, if any.
    projection: Option<Arc<AtomicBool>>,
    notify: Notify,
}

impl State {
    /// Stops the running projection (it sends nothing more).
    fn stop_projection(&mut self) {
        if let Some(stop) = self.projection.take() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

fn worker_loop(
    jobs: Receiver<Job>,
    events: Sender<Event>,
    notify: impl Fn() + Send + Sync + 'static,
) {
    let shared: Notify = Arc::new(notify);
    let notify = {
        let shared = shared.clone();
        move || shared()
    };
    let mut state = State {
        pipeline: None,
        compared: None,
        compared_pairs: Vec::new(),
        pca: None,
        projection: None,
        notify: shared,
    };
    while let Ok(job) = jobs.recv() {
        if matches!(job, Job::Shutdown) {
            break;
        }
        run_guarded(&mut state, job, &events, &notify);
        notify();
    }
    state.stop_projection();
}

/// Runs one job, turning an error or a panic into [`Event::Failed`] naming the job.
fn run_guarded(state: &mut State, job: Job, events: &Sender<Event>, notify: &impl Fn()) {
    let kind = job.kind();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| handle(state, job, events, notify)));
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => panic_error(panic),
    };
    if !error.kind.user_can_fix() {
        tracing::error!("{kind}: {}", error.message);
    }
    let _ = events.send(Event::Failed { job: kind, error });
}

/// The error for a caught panic, with its message.
fn panic_error(panic: Box<dyn std::any::Any + Send>) -> JobError {
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into());
    JobError::internal(&format!("the worker panicked: {msg}"))
}

/// Runs `f`, turning a panic into an error (one input's panic fails that input alone).
fn guarded<T>(f: impl FnOnce() -> Result<T, JobError>) -> Result<T, JobError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p)))
}

fn handle(
    state: &mut State,
    job: Job,
    events: &Sender<Event>,
    notify: &impl Fn(),
) -> Result<(), JobError> {
    match job {
        Job::Load { dir, device } => {
            state.stop_projection();
            let _ = events.send(Event::Loading { dir: dir.clone() });
            notify();
            let t0 = Instant::now();
            let pipeline = Pipeline::open(&dir, device)?;
            let (summary, pca) = summarize(&pipeline, ms_since(t0));
            state.pipeline = Some(pipeline);
            state.pca = pca;
            // Matches of the last comparison were with the previous model's gallery.
            state.compared_pairs.clear();
            let _ = events.send(Event::Loaded(Box::new(summary)));
            Ok(())
        }
        Job::AnalyzeBatch {
            items,
            labels,
            templates,
            k,
            cancel,
        } => {
            if state.pipeline.is_none() {
                return Err(JobError::no_model());
            }
            analyze_batch(
                state,
                &items,
                (&labels, &templates, k),
                &cancel,
                events,
                notify,
            );
            Ok(())
        }
        Job::Classify {
            request_id,
            embedding,
            labels,
            templates,
        } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
            let scores = pipeline.classify(&embedding, &labels, &templates)?;
            let _ = events.send(Event::Classified { request_id, scores });
            Ok(())
        }
        Job::GalleryZeroShot { labels, templates } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
            let predicted = pipeline.gallery_zero_shot(&labels, &templates)?;
            let _ = events.send(Event::GalleryZeroShot(Box::new(GalleryZeroShot {
                labels,
                templates,
                predicted,
            })));
            Ok(())
        }
        Job::GallerySimilarity(query) => {
            let pipeline = state.pipeline.as_ref().ok_or_else(JobError::no_model)?;
            let cosine = match &query {
                SimilarityQuery::Text(text) => {
                    let encoded = pipeline.encode(&InputSource::Text(text.clone()))?;
                    pipeline.gallery_similarity(&encoded.item.embedding)?
                }
                SimilarityQuery::Embedding { embedding, .. } => {
                    pipeline.gallery_similarity(embedding)?
                }
            };
            let _ = events.send(Event::GallerySimilarity(Box::new(GallerySimilarity {
                query,
                cosine,
            })));
            Ok(())
        }
        Job::Transfer {
            source,
            target,
            features,
        } => {
            let pipeline = state.pipeline.as_ref().ok_or_else(JobError::no_model)?;
            let report = gallery_transfer(pipeline, source, target, features)?;
            let _ = events.send(Event::TransferDone(Box::new(report)));
            Ok(())
        }
        Job::LowResource { run } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
            let progress = |fraction: f32| {
                let _ = events.send(Event::LowResourceProgress { fraction });
                (state.notify)();
            };
            let report = gallery_low_resource(pipeline, run, &progress)?;
            let _ = events.send(Event::LowResourceDone(Box::new(report)));
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
        Job::Project { projection } => {
            state.stop_projection();
            start_projection(state, projection, events)
        }
        Job::CodePage { code } => {
            let pipeline = state.pipeline.as_ref().ok_or_else(JobError::no_model)?;
            let page = pipeline.code_page(code)?;
            let _ = events.send(Event::CodePage(Box::new(page)));
            Ok(())
        }
        Job::Compare {
            dir,
            device,
            inputs,
        } => {
            let t0 = Instant::now();
            if state.compared.as_ref().is_none_or(|b| b.bundle.dir != dir) {
                // The previous B goes first, so two are never held beside A.
                state.compared = None;
                state.compared = Some(Pipeline::open(&dir, device)?);
            }
            let (a, b) = compared_pair(state)?;
            let (summary, _) = summarize(b, ms_since(t0));
            let mut comparison = compare_models(a, b);
            let pairs = comparison
                .alignment
                .as_ref()
                .map(|al| al.pairs.clone())
                .unwrap_or_default();
            comparison.inputs = read_inputs(a, b, &inputs, &pairs)?;
            state.compared_pairs = pairs;
            let _ = events.send(Event::Compared(Box::new(ComparisonView {
                comparison,
                summary,
            })));
            Ok(())
        }
        Job::CompareInputs { inputs } => {
            let pairs = state.compared_pairs.clone();
            let (a, b) = compared_pair(state)?;
            let rows = read_inputs(a, b, &inputs, &pairs)?;
            let _ = events.send(Event::ComparedInputs(rows));
            Ok(())
        }
        Job::Shutdown => Ok(()),
    }
}

/// The loaded model and the one compared with it.
fn compared_pair(state: &mut State) -> Result<(&mut Pipeline, &mut Pipeline), JobError> {
    let a = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
    let b = state.compared.as_mut().ok_or_else(|| {
        JobError::from(crate::error::Error::InvalidRequest(
            "no model to compare with; choose one with Compare with…".into(),
        ))
    })?;
    Ok((a, b))
}

/// Answers a PCA map at once; starts t-SNE or UMAP on a thread of its own over a copy of the
/// gallery embeddings (`[N, D]`, L2-normalised), which sends progress, snapshots and the
/// result unless stopped.
fn start_projection(
    state: &mut State,
    projection: Projection,
    events: &Sender<Event>,
) -> Result<(), JobError> {
    let pipeline = state.pipeline.as_ref().ok_or_else(JobError::no_model)?;
    let gallery = pipeline.bundle.gallery.as_ref().filter(|g| !g.is_empty());
    let Some(gallery) = gallery else {
        return Err(crate::error::Error::InvalidRequest(
            "this model has no gallery, so there is no map to compute".into(),
        )
        .into());
    };
    if projection == Projection::Pca {
        let pca = state
            .pca
            .as_ref()
            .ok_or_else(|| JobError::internal("the gallery has no PCA map"))?;
        let xy = gallery_xy(pca, gallery);
        let _ = events.send(Event::Projected {
            projection,
            xy,
            seconds: 0.0,
        });
        return Ok(());
    }
    let n = gallery.len();
    let mut rows: Vec<f32> = Vec::new();
    for i in 0..n {
        rows.extend_from_slice(&gallery.embedding(i));
    }
    let dim = rows.len() / n;
    crate::index::l2_normalize_rows(&mut rows, dim);
    let stop = Arc::new(AtomicBool::new(false));
    state.projection = Some(stop.clone());
    let events = events.clone();
    let notify = state.notify.clone();
    let spawned = std::thread::Builder::new()
        .name("transference-projection".into())
        .spawn(move || {
            let t0 = Instant::now();
            let send = |event: Event| {
                if !stop.load(Ordering::Relaxed) {
                    let _ = events.send(event);
                    notify();
                }
            };
            let mut progress = |p: LayoutProgress| {
                if stop.load(Ordering::Relaxed) {
                    return Flow::Stop;
                }
                send(Event::ProjectionProgress {
                    projection,
                    fraction: p.fraction,
                    xy: p.xy,
                });
                Flow::Continue
            };
            let outcome = guarded(|| {
                Ok(match projection {
                    Projection::Tsne => {
                        tsne_layout(&rows, dim, &TsneParams::default(), &mut progress)?
                    }
                    _ => umap_layout(&rows, dim, &UmapParams::default(), &mut progress)?,
                })
            });
            match outcome {
                Ok(Some(xy)) => send(Event::Projected {
                    projection,
                    xy,
                    seconds: t0.elapsed().as_secs_f64(),
                }),
                Ok(None) => {}
                Err(error) => send(Event::Failed {
                    job: JobKind::Project { projection },
                    error,
                }),
            }
        });
    spawned
        .map(|_| ())
        .map_err(|e| JobError::internal(&format!("cannot start the projection thread: {e}")))
}

/// Labels, templates and neighbours per modality for an analysis.
type Scoring<'a> = (&'a [String], &'a [String], usize);

/// Zero-shot scores, neighbours and map position of an encoded input: the rest of an analysis.
/// `before_ms`: the time already spent on this input (preprocessing and encoding), to which
/// `total_ms` adds this part's.
fn finish(
    pipeline: &mut Pipeline,
    pca: Option<&Pca2>,
    request_id: u64,
    encoded: EncodedInput,
    (labels, templates, k): Scoring,
    before_ms: f64,
) -> Result<Analysis, JobError> {
    let t0 = Instant::now();
    let zero_shot = if !pipeline.modalities().contains(&Modality::Text) {
        Err(ZeroShotUnavailable::NoTextTower)
    } else if labels.is_empty() {
        Err(ZeroShotUnavailable::NoLabels)
    } else {
        pipeline
            .classify(&encoded.item.embedding, labels, templates)
            .map_err(|e| ZeroShotUnavailable::Failed(e.to_string()))
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
    let xy = pca.map(|p| p.project(&encoded.item.embedding));
    let map_neighbours = if pipeline.bundle.gallery.is_some() {
        pipeline
            .retrieve(&encoded.item.embedding, None, PLACEMENT_NEIGHBOURS)?
            .into_iter()
            .map(|n| (n.index, n.score))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Analysis {
        request_id,
        input: encoded,
        xy,
        zero_shot,
        neighbours,
        map_neighbours,
        total_ms: before_ms + ms_since(t0),
    })
}

/// Runs a batch chunk by chunk (about [`analysis_chunk_len`] inputs each), sending one
/// [`Event::AnalyzedChunk`] and one `notify` per chunk; when `cancel` is set, answers the
/// inputs not yet started with [`Event::Cancelled`].
fn analyze_batch(
    state: &mut State,
    items: &[BatchItem],
    scoring: Scoring,
    cancel: &AtomicBool,
    events: &Sender<Event>,
    notify: &impl Fn(),
) {
    let mut rest = items;
    let mut ms_per_input = None;
    while !rest.is_empty() {
        if cancel.load(Ordering::Relaxed) {
            let request_ids = rest.iter().map(|i| i.request_id).collect();
            let _ = events.send(Event::Cancelled { request_ids });
            notify();
            return;
        }
        let (chunk, tail) = rest.split_at(analysis_chunk_len(ms_per_input).min(rest.len()));
        let t0 = Instant::now();
        let results = analyze_chunk(state, chunk, scoring);
        ms_per_input = Some(ms_since(t0) / chunk.len() as f64);
        let _ = events.send(Event::AnalyzedChunk(results));
        notify();
        rest = tail;
    }
}

/// Analyses a chunk: files preprocessed in parallel and encoded in one pass per modality,
/// other inputs one by one. One result per item, in order.
fn analyze_chunk(
    state: &mut State,
    chunk: &[BatchItem],
    scoring: Scoring,
) -> Vec<Result<Box<Analysis>, ItemFailure>> {
    let State { pipeline, pca, .. } = state;
    let Some(pipeline) = pipeline.as_mut() else {
        return chunk
            .iter()
            .map(|i| Err(failure(i, JobError::no_model())))
            .collect();
    };
    // Files: preprocess in parallel, then encode the good ones together.
    let paths: Vec<PathBuf> = chunk
        .iter()
        .filter_map(|i| match &i.input {
            InputSource::File(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    let prepared = prepare_files(&paths, &pipeline.file_configs());
    let mut prepared_errors: Vec<Option<JobError>> = Vec::with_capacity(prepared.len());
    let mut good: Vec<PreparedFile> = Vec::new();
    for p in prepared {
        match p {
            Ok(f) => {
                good.push(f);
                prepared_errors.push(None);
            }
            Err(e) => prepared_errors.push(Some(JobError::from(e))),
        }
    }
    let mut encoded_files =
        guarded(|| Ok(pipeline.encode_prepared_batch(good))).map(|v| v.into_iter());
    let mut prepared_errors = prepared_errors.into_iter();
    chunk
        .iter()
        .map(|item| {
            let encoded = match &item.input {
                InputSource::File(_) => match prepared_errors.next().flatten() {
                    Some(e) => Err(e),
                    None => match &mut encoded_files {
                        Ok(files) => match files.next() {
                            Some(r) => r.map_err(JobError::from),
                            None => Err(JobError::internal("batch encoding gave too few items")),
                        },
                        Err(e) => Err(e.clone()),
                    },
                },
                other => guarded(|| Ok(pipeline.encode(other)?)),
            };
            let analysis = encoded.and_then(|encoded| {
                let before_ms = encoded.preprocess_ms + encoded.encode_ms;
                guarded(|| {
                    finish(
                        pipeline,
                        pca.as_ref(),
                        item.request_id,
                        encoded,
                        scoring,
                        before_ms,
                    )
                })
            });
            analysis.map(Box::new).map_err(|e| failure(item, e))
        })
        .collect()
}

fn failure(item: &BatchItem, error: JobError) -> ItemFailure {
    ItemFailure {
        request_id: item.request_id,
        name: item.input.display_name(),
        error,
    }
}
