//! The worker thread that owns the model. Callers (the window) submit [`Job`]s and poll
//! plain-data [`Event`]s (see [`crate::engine::protocol`]); they never block on inference and
//! never see a tensor. A failed or panicking job produces an [`Event::Failed`]; the worker
//! keeps running. Of several queued analyses only the newest runs; each older one is answered
//! with [`Event::Superseded`], so every request ends in exactly one event.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::engine::pipeline::Pipeline;
use crate::engine::protocol::{Analysis, Event, Job, JobError, ZeroShotUnavailable};
use crate::engine::summary::{gallery_transfer, summarize};
use crate::index::pca::Pca2;
use crate::index::projector::write_projector;
use crate::modality::Modality;

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

/// What the thread holds between jobs.
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
        run_guarded(&mut state, job, &events, &notify);
        notify();
    }
}

/// Runs one job, turning an error or a panic into [`Event::Failed`] naming the job.
fn run_guarded(state: &mut State, job: Job, events: &Sender<Event>, notify: &impl Fn()) {
    let kind = job.kind();
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| handle(state, job, events, notify)));
    let error = match outcome {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            JobError::panic(&msg)
        }
    };
    let _ = events.send(Event::Failed { job: kind, error });
}

/// Drains queued analyses, keeping the newest one and answering each dropped one with
/// [`Event::Superseded`]; other jobs met on the way are run first. `None` on shutdown.
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
            Job::Analyze { .. } => {
                let stale = std::mem::replace(&mut newest, next);
                if let Job::Analyze { request_id, .. } = stale {
                    let _ = events.send(Event::Superseded { request_id });
                    notify();
                }
            }
            Job::Shutdown => return None,
            other => run_guarded(state, other, events, notify),
        }
    }
    Some(newest)
}

fn handle(
    state: &mut State,
    job: Job,
    events: &Sender<Event>,
    notify: &impl Fn(),
) -> Result<(), JobError> {
    match job {
        Job::Load { dir, device } => {
            let _ = events.send(Event::Loading { dir: dir.clone() });
            notify();
            let t0 = Instant::now();
            let pipeline = Pipeline::open(&dir, device)?;
            let (summary, pca) = summarize(&pipeline, t0.elapsed().as_secs_f64() * 1000.0);
            state.pipeline = Some(pipeline);
            state.pca = pca;
            let _ = events.send(Event::Loaded(Box::new(summary)));
            Ok(())
        }
        Job::Analyze {
            request_id,
            input,
            labels,
            templates,
            k,
        } => {
            let pipeline = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
            let t0 = Instant::now();
            let encoded = pipeline.encode(&input)?;
            let zero_shot = if !pipeline.modalities().contains(&Modality::Text) {
                Err(ZeroShotUnavailable::NoTextTower)
            } else if labels.is_empty() {
                Err(ZeroShotUnavailable::NoLabels)
            } else {
                pipeline
                    .classify(&encoded.item.embedding, &labels, &templates)
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
            let pipeline = state.pipeline.as_mut().ok_or_else(JobError::no_model)?;
            let scores = pipeline.classify(&embedding, &labels, &templates)?;
            let _ = events.send(Event::Classified { request_id, scores });
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
