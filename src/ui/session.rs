//! The session state machine: what is loaded, what was analysed, what is selected, and how
//! each worker [`Event`] and each user action changes that. Plain data: no egui context, no
//! worker handle. The window turns what these methods return into worker jobs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::engine::protocol::{
    BatchItem, GallerySimilarity, GalleryZeroShot, ItemFailure, SimilarityQuery,
};
use crate::engine::{Event, InputSource, Job, JobKind, ModelSummary, ZeroShotUnavailable};
use crate::index::projection::Projection;
use crate::index::transfer::TransferReport;
use crate::ui::batch_queue::AnalysisQueue;
use crate::ui::notifications::{DetailLine, Level, Notifications, reason_after_input};
use crate::ui::state::{Derived, InputEntry, InputStatus, LabelSet, MapLayout, Settings};

/// The session: what is loaded, what was analysed, what is selected.
#[derive(Default)]
pub struct Session {
    pub summary: Option<ModelSummary>,
    pub derived: Derived,
    /// Bundle being loaded.
    pub loading: Option<PathBuf>,
    pub inputs: Vec<InputEntry>,
    /// Key of the selected input.
    pub selected: Option<u64>,
    /// Code highlighted everywhere.
    pub selected_code: Option<u32>,
    /// The code pages: the open one, back/forward history, computed pages.
    pub code_pages: crate::ui::code_pages::CodePages,
    /// Analyses waiting and running, progress and cancel.
    pub queue: AnalysisQueue,
    pub classify_pending: usize,
    pub transfer: Option<TransferReport>,
    pub transfer_running: bool,
    /// Every gallery item's zero-shot label, for the map's correct / wrong colouring.
    pub gallery_zero_shot: Option<GalleryZeroShot>,
    /// The gallery's sources ranked by zero-shot error rate, from `gallery_zero_shot` (ranked
    /// once per answer, not every frame).
    pub errors_by_source: Vec<crate::ui::failures::SourceErrors>,
    /// The labels and templates last asked for ([`Session::gallery_zero_shot_job`]), answered,
    /// pending or failed: each is asked for once.
    pub gallery_zero_shot_asked: Option<(Vec<String>, Vec<String>)>,
    /// Every gallery item's similarity to the query of the map's similarity colouring.
    pub gallery_similarity: Option<GallerySimilarity>,
    /// The query last asked for ([`Session::gallery_similarity_job`]).
    pub gallery_similarity_asked: Option<SimilarityQuery>,
    /// The transfer lab's low-resource curves.
    pub low_resource: Option<crate::index::low_resource::LowResourceReport>,
    /// Fraction done of the curves being computed, if any.
    pub low_resource_running: Option<f32>,
    pub export_running: bool,
    /// t-SNE and UMAP layouts of this model's gallery (PCA's is in the summary).
    pub layouts: BTreeMap<Projection, MapLayout>,
    /// The map the worker is computing.
    pub projection_running: Option<Projection>,
    /// Sound: devices, the recorder, the live level and playhead.
    pub audio: crate::ui::audio_state::AudioUi,
    /// Gallery items selected on the map.
    pub selection: Option<crate::ui::selection::Selection>,
    /// The comparison with a second model (the Compare tab).
    pub compare: crate::ui::compare_state::CompareState,
    /// Last inference time (ms).
    pub last_ms: Option<f64>,
    /// Label and template editors, as typed.
    pub labels_text: String,
    pub templates_text: String,
    /// Time (context seconds) of the last edit not yet re-scored.
    pub labels_edited_at: Option<f64>,
    pub notifications: Notifications,
    next_key: u64,
}

impl Session {
    /// A fresh id (input keys and request ids share the counter).
    pub fn next_id(&mut self) -> u64 {
        self.next_key += 1;
        self.next_key
    }

    /// The selected input.
    pub fn selected_input(&self) -> Option<&InputEntry> {
        let key = self.selected?;
        self.inputs.iter().find(|e| e.key == key)
    }

    /// Input by request id.
    pub fn input_by_request(&mut self, request_id: u64) -> Option<&mut InputEntry> {
        self.inputs.iter_mut().find(|e| e.request_id == request_id)
    }

    /// Labels as parsed from the editor: comma- or line-separated, trimmed, deduplicated.
    pub fn labels(&self) -> Vec<String> {
        crate::bundle::prompts::parse_labels(&self.labels_text)
    }

    /// Templates as parsed from the editor: one per line; `{label}` when empty.
    pub fn templates(&self) -> Vec<String> {
        crate::bundle::prompts::parse_templates(&self.templates_text)
    }

    /// Jobs in flight (for the spinner).
    pub fn busy(&self) -> bool {
        self.loading.is_some()
            || self.queue.busy()
            || self.classify_pending > 0
            || self.transfer_running
            || self.low_resource_running.is_some()
            || self.export_running
            || self.compare.loading.is_some()
            || self.compare.reading_inputs
    }

    /// Marks `dir` as loading and returns the job that loads it.
    /// The batch the worker is running, if any, is told to stop (the new model analyses
    /// everything again); waiting inputs stay queued, in case the load fails.
    pub fn start_loading(&mut self, dir: PathBuf, device: crate::device::DeviceRequest) -> Job {
        self.loading = Some(dir.clone());
        self.queue.stop_running();
        Job::Load { dir, device }
    }

    /// Queues an input for analysis and selects it. Returns its key.
    pub fn add_input(&mut self, source: InputSource) -> u64 {
        let key = self.next_id();
        let request_id = self.next_id();
        let name = self.input_name(&source);
        let hint = match &source {
            InputSource::GalleryItem(i) => self
                .summary
                .as_ref()
                .and_then(|s| s.gallery.get(*i))
                .map(|p| p.modality),
            _ => None,
        };
        self.inputs.push(InputEntry {
            key,
            request_id,
            source,
            name,
            hint,
            status: InputStatus::Queued,
            rescored: None,
        });
        self.queue.push(key);
        self.selected = Some(key);
        key
    }

    /// Name shown for an input (gallery items by their text or label).
    fn input_name(&self, source: &InputSource) -> String {
        match source {
            InputSource::GalleryItem(i) => self
                .summary
                .as_ref()
                .and_then(|s| s.gallery.get(*i))
                .map(|p| match (&p.text, &p.label) {
                    (Some(t), _) => format!("gallery “{t}”"),
                    (None, Some(l)) => format!("gallery {} {l}", p.modality),
                    _ => format!("gallery {}", p.source),
                })
                .unwrap_or_else(|| source.display_name()),
            _ => source.display_name(),
        }
    }

    /// The canvas drawing changed: the existing drawing input (there is at most one) takes the
    /// new picture under a new request id and is queued again; without one a new input is
    /// added. Selects it and returns its key.
    pub fn drawing_replaced(&mut self, source: InputSource) -> u64 {
        let existing = self
            .inputs
            .iter()
            .position(|e| matches!(e.source, InputSource::Drawing { .. }));
        let Some(i) = existing else {
            return self.add_input(source);
        };
        let request_id = self.next_id();
        let e = &mut self.inputs[i];
        e.source = source;
        e.request_id = request_id;
        e.status = InputStatus::Queued;
        e.rescored = None;
        let key = e.key;
        self.queue.push(key);
        self.selected = Some(key);
        key
    }

    /// Removes one input; the selection moves to the last input if it was this one.
    pub fn remove_input(&mut self, key: u64) {
        self.inputs.retain(|e| e.key != key);
        self.queue.remove(key);
        if self.selected == Some(key) {
            self.selected = self.inputs.last().map(|e| e.key);
        }
    }

    /// Removes every input; the worker's batch is told to stop.
    pub fn clear_inputs(&mut self) {
        self.inputs.clear();
        self.queue.cancel();
        self.selected = None;
    }

    /// Stops analysing: inputs still waiting are marked cancelled at once, and the worker's
    /// batch stops after its current chunk (its unstarted inputs come back cancelled).
    pub fn cancel_analyses(&mut self) {
        for key in self.queue.cancel() {
            if let Some(e) = self.inputs.iter_mut().find(|e| e.key == key) {
                e.status = InputStatus::Cancelled;
            }
        }
    }

    /// The next batch of analyses to send, when the worker is free (nothing running, no model
    /// loading): every waiting input, in order, up to
    /// [`crate::ui::batch_queue::MAX_BATCH_INPUTS`]; marks them running. `k`: neighbours per
    /// modality.
    pub fn next_job(&mut self, k: usize) -> Option<Job> {
        if self.loading.is_some() {
            return None;
        }
        let inputs = &mut self.inputs;
        let (batch, cancel) = self.queue.start_batch(|key| {
            let e = inputs.iter_mut().find(|e| e.key == key)?;
            e.status = InputStatus::Running;
            Some(e.request_id)
        })?;
        let items = batch
            .into_iter()
            .filter_map(|(key, request_id)| {
                let e = self.inputs.iter().find(|e| e.key == key)?;
                Some(BatchItem {
                    request_id,
                    input: e.source.clone(),
                })
            })
            .collect();
        Some(Job::AnalyzeBatch {
            items,
            labels: self.labels(),
            templates: self.templates(),
            k: k.max(1),
            cancel,
        })
    }

    /// Re-scoring jobs for every analysed input against the edited labels and templates;
    /// remembers the edited labels in `settings`. Inputs of a model without a text tower are
    /// skipped; with no labels each gets an empty score list at once.
    pub fn rescore_jobs(&mut self, settings: &mut Settings) -> Vec<Job> {
        self.labels_edited_at = None;
        let labels = self.labels();
        let templates = self.templates();
        self.store_label_set(settings);
        let mut jobs = Vec::new();
        for e in &mut self.inputs {
            let InputStatus::Done(a) = &e.status else {
                continue;
            };
            if labels.is_empty() {
                e.rescored = Some(Vec::new());
                continue;
            }
            if matches!(a.zero_shot, Err(ZeroShotUnavailable::NoTextTower)) {
                continue;
            }
            jobs.push(Job::Classify {
                request_id: e.request_id,
                embedding: a.input.item.embedding.clone(),
                labels: labels.clone(),
                templates: templates.clone(),
            });
        }
        self.classify_pending += jobs.len();
        jobs
    }

    /// Puts the loaded model's own labels and templates back in the editors. False when no
    /// model is loaded.
    pub fn reset_labels(&mut self) -> bool {
        let Some(s) = &self.summary else {
            return false;
        };
        self.labels_text = s.labels.join(", ");
        self.templates_text = s.prompts.join("\n");
        true
    }

    /// Remembers edited labels for the loaded model in `settings` (forgets them when they
    /// equal the model's defaults).
    pub fn store_label_set(&self, settings: &mut Settings) {
        let Some(s) = &self.summary else {
            return;
        };
        let key = s.dir.display().to_string();
        if self.labels_text == s.labels.join(", ") && self.templates_text == s.prompts.join("\n") {
            settings.label_sets.remove(&key);
        } else {
            settings.label_sets.insert(
                key,
                LabelSet {
                    labels: self.labels_text.clone(),
                    templates: self.templates_text.clone(),
                },
            );
        }
    }

    /// A model finished loading: restore its edited labels from `settings` (else its own),
    /// remember it as recent, drop gallery inputs of another model and queue every input for
    /// analysis by the new model.
    pub fn loaded(&mut self, summary: ModelSummary, settings: &mut Settings) {
        let same_model = self
            .summary
            .as_ref()
            .is_some_and(|old| old.dir == summary.dir);
        self.loading = None;
        // Gallery indices belong to the previous model, and so do a comparison's matches.
        self.selection = None;
        self.compare.close();
        self.derived = Derived::new(&summary);
        match settings.label_sets.get(&summary.dir.display().to_string()) {
            Some(set) => {
                self.labels_text = set.labels.clone();
                self.templates_text = set.templates.clone();
            }
            None => {
                self.labels_text = summary.labels.join(", ");
                self.templates_text = summary.prompts.join("\n");
            }
        }
        self.labels_edited_at = None;
        settings.remember(&summary.dir);
        self.transfer = None;
        self.gallery_zero_shot = None;
        self.errors_by_source.clear();
        self.gallery_zero_shot_asked = None;
        self.gallery_similarity = None;
        self.gallery_similarity_asked = None;
        self.low_resource = None;
        // The worker stopped any map of the previous model; the chosen one is asked for again
        // by `projection_job`.
        self.layouts.clear();
        self.projection_running = None;
        self.selected_code = None;
        self.code_pages.model_changed(summary.codebook_size);
        if !same_model {
            self.inputs
                .retain(|e| !matches!(e.source, InputSource::GalleryItem(_)));
        }
        // Everything analysed before is re-analysed by the new model.
        self.queue.reset();
        let keys: Vec<u64> = self.inputs.iter().map(|e| e.key).collect();
        for key in keys {
            let request_id = self.next_id();
            if let Some(e) = self.inputs.iter_mut().find(|e| e.key == key) {
                e.request_id = request_id;
                e.status = InputStatus::Queued;
                e.rescored = None;
            }
            self.queue.push(key);
        }
        if self
            .selected
            .is_some_and(|k| !self.inputs.iter().any(|e| e.key == k))
        {
            self.selected = self.inputs.last().map(|e| e.key);
        }
        self.summary = Some(summary);
    }

    /// The job the open code page needs, if any (the window calls this every frame): none
    /// while a model loads or when the page is computed or asked for.
    pub fn code_page_job(&mut self) -> Option<Job> {
        if self.loading.is_some() || self.summary.is_none() {
            return None;
        }
        self.code_pages.next_job()
    }

    /// Applies one worker event. Failures become a notification titled with the job that
    /// failed ("Loading model tiny failed") and the specific reason.
    pub fn apply_event(&mut self, event: Event, settings: &mut Settings) {
        match event {
            Event::Loading { dir } => self.loading = Some(dir),
            Event::Loaded(summary) => self.loaded(*summary, settings),
            Event::AnalyzedChunk(results) => {
                let mut failures = Vec::new();
                for result in results {
                    match result {
                        Ok(analysis) => self.analyzed(analysis),
                        Err(failure) => {
                            self.queue.answered(failure.request_id);
                            if let Some(e) = self.input_by_request(failure.request_id) {
                                e.status = InputStatus::Failed(failure.error.message.clone());
                                failures.push(failure);
                            }
                        }
                    }
                }
                self.notify_failures(failures);
            }
            Event::Cancelled { request_ids } => {
                for request_id in request_ids {
                    self.queue.answered(request_id);
                    if let Some(e) = self.input_by_request(request_id)
                        && e.status == InputStatus::Running
                    {
                        e.status = InputStatus::Cancelled;
                    }
                }
            }
            Event::Classified { request_id, scores } => {
                self.classify_pending = self.classify_pending.saturating_sub(1);
                if let Some(e) = self.input_by_request(request_id) {
                    e.rescored = Some(scores);
                }
            }
            Event::GalleryZeroShot(z) => {
                // An answer for labels edited away since is dropped.
                if self.gallery_zero_shot_asked.as_ref()
                    == Some(&(z.labels.clone(), z.templates.clone()))
                {
                    self.errors_by_source = self
                        .summary
                        .as_ref()
                        .map(|s| crate::ui::failures::errors_by_source(&s.gallery, &z))
                        .unwrap_or_default();
                    self.gallery_zero_shot = Some(*z);
                }
            }
            Event::GallerySimilarity(s) => {
                // An answer for a query changed since is dropped.
                if self.gallery_similarity_asked.as_ref() == Some(&s.query) {
                    self.gallery_similarity = Some(*s);
                }
            }
            Event::TransferDone(report) => {
                self.transfer_running = false;
                self.transfer = Some(*report);
            }
            Event::LowResourceProgress { fraction } => {
                if self.low_resource_running.is_some() {
                    self.low_resource_running = Some(fraction);
                }
            }
            Event::LowResourceDone(report) => {
                self.low_resource_running = None;
                self.low_resource = Some(*report);
            }
            Event::ProjectionProgress {
                projection,
                fraction,
                xy,
            } => {
                let items = self.summary.as_ref().map_or(0, |s| s.gallery.len());
                if self.projection_running == Some(projection) {
                    let layout = self.layouts.entry(projection).or_default();
                    layout.fraction = fraction;
                    if let Some(xy) = xy.filter(|xy| xy.len() == items) {
                        layout.xy = xy;
                    }
                }
            }
            Event::Projected {
                projection,
                xy,
                seconds,
            } => {
                let items = self.summary.as_ref().map_or(0, |s| s.gallery.len());
                if self.projection_running == Some(projection) {
                    self.projection_running = None;
                    if projection != Projection::Pca && xy.len() == items {
                        self.layouts.insert(
                            projection,
                            MapLayout {
                                xy,
                                fraction: 1.0,
                                seconds: Some(seconds),
                                failed: None,
                            },
                        );
                    }
                }
            }
            Event::CodePage(page) => self.code_pages.received(*page),
            Event::Compared(view) => self.compare.compared(*view),
            Event::ComparedInputs(rows) => self.compare.inputs_read(rows),
            Event::Exported { dir, files, rows } => {
                self.export_running = false;
                let names: Vec<String> = files
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
                    .collect();
                self.notifications.info(
                    "Embedding Projector export",
                    format!(
                        "{rows} rows written to {} in {}",
                        names.join(" and "),
                        dir.display()
                    ),
                );
            }
            Event::Failed { job, error } => {
                match &job {
                    JobKind::Load { .. } => self.loading = None,
                    JobKind::AnalyzeBatch { .. } => {
                        for request_id in self.queue.fail_running() {
                            if let Some(e) = self.input_by_request(request_id)
                                && e.status == InputStatus::Running
                            {
                                e.status = InputStatus::Failed(error.message.clone());
                            }
                        }
                    }
                    JobKind::Classify { .. } => {
                        self.classify_pending = self.classify_pending.saturating_sub(1);
                    }
                    JobKind::Transfer { .. } => self.transfer_running = false,
                    JobKind::GalleryZeroShot | JobKind::GallerySimilarity => {}
                    JobKind::LowResource { .. } => self.low_resource_running = None,
                    JobKind::ExportProjector { .. } => self.export_running = false,
                    JobKind::Project { projection } => {
                        if self.projection_running == Some(*projection) {
                            self.projection_running = None;
                        }
                        self.layouts.entry(*projection).or_default().failed =
                            Some(error.message.clone());
                    }
                    JobKind::CodePage { code } => {
                        self.code_pages.failed(*code, error.message.clone());
                    }
                    JobKind::Compare { .. } | JobKind::CompareInputs { .. } => {
                        self.compare.failed()
                    }
                    JobKind::Shutdown => {}
                }
                self.notifications.error(job.to_string(), error.for_user());
            }
        }
    }

    /// An analysis arrived (ignored when its input was removed or re-queued since).
    fn analyzed(&mut self, analysis: Box<crate::engine::Analysis>) {
        self.queue.answered(analysis.request_id);
        self.last_ms = Some(analysis.total_ms);
        if let Some(e) = self.input_by_request(analysis.request_id) {
            e.rescored = None;
            e.status = InputStatus::Done(analysis);
        }
    }

    /// One notification for the inputs that failed: titled with the input when one failed,
    /// with the count when several did (one line, every input and reason in its details). The
    /// failures of a chunk join the newest notification about many inputs, so a drop analysed
    /// in several chunks stays one notification; a chunk with no failure changes nothing.
    fn notify_failures(&mut self, failures: Vec<ItemFailure>) {
        if failures.is_empty() {
            return;
        }
        let mut lines: Vec<DetailLine> = failures
            .into_iter()
            .map(|f| DetailLine {
                reason: f.error.for_user(),
                input: f.name,
            })
            .collect();
        if let Some(earlier) = self.notifications.take_last_with_details() {
            lines.splice(0..0, earlier.details);
        }
        if let [one] = lines.as_slice() {
            self.notifications.error(
                format!("Analysing {} failed", one.input),
                one.reason.clone(),
            );
            return;
        }
        let first = &lines[0];
        let message = format!(
            "{}: {} (and {} more)",
            first.input,
            crate::ui::text::short(
                reason_after_input(&first.input, &first.reason),
                FIRST_FAILURE_CHARS
            ),
            lines.len() - 1
        );
        self.notifications.push_with_details(
            Level::Error,
            format!("Analysing {} inputs failed", lines.len()),
            message,
            lines,
        );
    }
}

/// Longest reason quoted in the one line of a notification about many failed inputs, in
/// characters (its Details window has them all in full).
const FIRST_FAILURE_CHARS: usize = 60;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Analysis, EncodedInput, InputView, JobError, LabelScore};
    use crate::modality::Modality;
    use crate::model::EncodedItem;

    fn summary(dir: &str) -> ModelSummary {
        ModelSummary {
            dir: PathBuf::from(dir),
            name: "tiny".into(),
            modalities: vec![Modality::Image, Modality::Text],
            codebook_size: 4,
            d_model: 2,
            temperature: 0.07,
            labels: vec!["one".into(), "two".into()],
            prompts: vec!["{label}".into()],
            device: "cpu".into(),
            ..Default::default()
        }
    }

    fn analysis(
        request_id: u64,
        zero_shot: Result<Vec<LabelScore>, ZeroShotUnavailable>,
    ) -> Box<Analysis> {
        Box::new(Analysis {
            request_id,
            input: EncodedInput {
                name: "“one”".into(),
                modality: Modality::Text,
                view: InputView::Text {
                    text: "one".into(),
                    tokens: vec!["one".into()],
                    truncated: false,
                },
                item: EncodedItem {
                    modality: Modality::Text,
                    codes: vec![1],
                    positions: vec![0],
                    distances: vec![0.0],
                    embedding: vec![1.0, 0.0],
                },
                preprocess_ms: 0.0,
                encode_ms: 0.0,
            },
            xy: None,
            zero_shot,
            neighbours: vec![],
            map_neighbours: vec![],
            total_ms: 1.0,
        })
    }

    fn loaded_session(settings: &mut Settings) -> Session {
        let mut s = Session::default();
        let job = s.start_loading(
            PathBuf::from("models/tiny"),
            crate::device::DeviceRequest::Cpu,
        );
        assert!(matches!(job, Job::Load { .. }));
        assert!(
            s.next_job(5).is_none(),
            "nothing is sent while a model loads"
        );
        s.apply_event(Event::Loaded(Box::new(summary("models/tiny"))), settings);
        s
    }

    /// Request ids of a batch of analyses, in order.
    fn batch_ids(job: Option<Job>) -> Vec<u64> {
        match job {
            Some(Job::AnalyzeBatch { items, .. }) => items.iter().map(|i| i.request_id).collect(),
            other => panic!("expected a batch of analyses, got {other:?}"),
        }
    }

    fn failure(request_id: u64, name: &str) -> Result<Box<Analysis>, ItemFailure> {
        Err(ItemFailure {
            request_id,
            name: name.into(),
            error: JobError {
                kind: crate::engine::ErrorKind::BadInput,
                message: format!("{name}: not an image"),
            },
        })
    }

    #[test]
    fn loading_restores_edited_labels_and_remembers_the_model() {
        let mut settings = Settings::default();
        settings.label_sets.insert(
            "models/tiny".into(),
            LabelSet {
                labels: "three, four".into(),
                templates: "a {label}".into(),
            },
        );
        let s = loaded_session(&mut settings);
        assert_eq!(s.loading, None);
        assert_eq!(s.labels(), vec!["three", "four"]);
        assert_eq!(s.templates(), vec!["a {label}"]);
        assert_eq!(settings.recent, vec![PathBuf::from("models/tiny")]);
        // Without an edited set, the model's own labels.
        let mut fresh = Settings::default();
        let s = loaded_session(&mut fresh);
        assert_eq!(s.labels_text, "one, two");
    }

    #[test]
    fn waiting_inputs_go_in_one_batch_in_order_and_fail_alone() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        let a = s.add_input(InputSource::Text("one".into()));
        let b = s.add_input(InputSource::Text("two".into()));
        let c = s.add_input(InputSource::Text("three".into()));
        assert_eq!(s.selected, Some(c));
        let ids = batch_ids(s.next_job(5));
        assert_eq!(ids.len(), 3);
        assert!(s.inputs.iter().all(|e| e.status == InputStatus::Running));
        assert!(s.next_job(5).is_none(), "the worker is busy");
        let late = s.add_input(InputSource::Text("four".into()));
        assert!(s.next_job(5).is_none(), "one batch at a time");
        assert_eq!(s.queue.progress(), Some((0, 4)));
        s.apply_event(
            Event::AnalyzedChunk(vec![
                Ok(analysis(ids[0], Ok(vec![]))),
                failure(ids[1], "two.png"),
            ]),
            &mut settings,
        );
        assert_eq!(s.queue.progress(), Some((2, 4)));
        let entry =
            |s: &Session, key: u64| s.inputs.iter().find(|e| e.key == key).cloned().unwrap();
        assert!(entry(&s, a).analysis().is_some());
        assert!(matches!(&entry(&s, b).status, InputStatus::Failed(m) if m.contains("two.png")));
        assert_eq!(entry(&s, c).status, InputStatus::Running);
        assert_eq!(s.notifications.items()[0].title, "Analysing two.png failed");
        s.apply_event(
            Event::AnalyzedChunk(vec![Ok(analysis(ids[2], Ok(vec![])))]),
            &mut settings,
        );
        let next = batch_ids(s.next_job(5));
        assert_eq!(next, vec![entry(&s, late).request_id]);
        assert!(s.busy());
        s.apply_event(
            Event::Failed {
                job: JobKind::AnalyzeBatch { inputs: 1 },
                error: JobError::no_model(),
            },
            &mut settings,
        );
        assert!(matches!(&s.inputs[3].status, InputStatus::Failed(m) if m.contains("no model")));
        assert_eq!(s.notifications.items()[1].title, "Analysing 1 input failed");
        assert!(!s.busy());
        assert_eq!(s.queue.progress(), None);
    }

    #[test]
    fn failures_in_one_chunk_share_a_notification_naming_each() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        for i in 0..12 {
            s.add_input(InputSource::File(PathBuf::from(format!("bad{i}.png"))));
        }
        let ids = batch_ids(s.next_job(5));
        let results = ids
            .iter()
            .enumerate()
            .map(|(i, id)| failure(*id, &format!("bad{i}.png")))
            .collect();
        s.apply_event(Event::AnalyzedChunk(results), &mut settings);
        let notes = s.notifications.items();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].title, "Analysing 12 inputs failed");
        // One line naming the first, the rest in the details, every one of them.
        assert!(!notes[0].message.contains('\n'));
        assert!(notes[0].message.starts_with("bad0.png: not an image"));
        assert!(notes[0].message.ends_with("(and 11 more)"));
        assert_eq!(notes[0].details.len(), 12);
        assert_eq!(notes[0].details[11].input, "bad11.png");
        assert!(notes[0].details[11].reason.contains("not an image"));
        assert!(!s.busy());
    }

    #[test]
    fn a_chunk_without_failures_keeps_the_notification_of_the_chunks_before() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        for i in 0..4 {
            s.add_input(InputSource::File(PathBuf::from(format!("f{i}.png"))));
        }
        let ids = batch_ids(s.next_job(5));
        s.apply_event(
            Event::AnalyzedChunk(vec![failure(ids[0], "f0.png"), failure(ids[1], "f1.png")]),
            &mut settings,
        );
        s.apply_event(
            Event::AnalyzedChunk(vec![Ok(analysis(ids[2], Ok(vec![])))]),
            &mut settings,
        );
        s.apply_event(
            Event::AnalyzedChunk(vec![failure(ids[3], "f3.png")]),
            &mut settings,
        );
        let notes = s.notifications.items();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].title, "Analysing 3 inputs failed");
        let names: Vec<&str> = notes[0].details.iter().map(|d| d.input.as_str()).collect();
        assert_eq!(names, ["f0.png", "f1.png", "f3.png"]);
    }

    #[test]
    fn cancel_marks_waiting_and_unstarted_inputs_cancelled_not_failed() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        for text in ["one", "two", "three"] {
            s.add_input(InputSource::Text(text.into()));
        }
        let job = s.next_job(5);
        let Some(Job::AnalyzeBatch { items, cancel, .. }) = job else {
            panic!("expected a batch, got {job:?}");
        };
        s.add_input(InputSource::Text("four".into()));
        s.cancel_analyses();
        assert!(
            cancel.load(std::sync::atomic::Ordering::Relaxed),
            "the worker is told to stop"
        );
        assert_eq!(
            s.inputs[3].status,
            InputStatus::Cancelled,
            "waiting: at once"
        );
        assert!(s.next_job(5).is_none(), "nothing more is sent");
        // The worker finishes its chunk and answers the rest as cancelled.
        s.apply_event(
            Event::AnalyzedChunk(vec![Ok(analysis(items[0].request_id, Ok(vec![])))]),
            &mut settings,
        );
        s.apply_event(
            Event::Cancelled {
                request_ids: vec![items[1].request_id, items[2].request_id],
            },
            &mut settings,
        );
        assert!(s.inputs[0].analysis().is_some());
        for e in &s.inputs[1..] {
            assert_eq!(e.status, InputStatus::Cancelled, "{}", e.name);
        }
        assert!(
            s.notifications.items().is_empty(),
            "cancelling is not an error"
        );
        assert!(!s.busy());
    }

    #[test]
    fn loading_a_model_stops_the_running_batch_but_keeps_waiting_inputs() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        s.add_input(InputSource::Text("one".into()));
        let Some(Job::AnalyzeBatch { items, cancel, .. }) = s.next_job(5) else {
            panic!("expected a batch");
        };
        let waiting = s.add_input(InputSource::Text("two".into()));
        let _ = s.start_loading(
            PathBuf::from("models/other"),
            crate::device::DeviceRequest::Cpu,
        );
        assert!(cancel.load(std::sync::atomic::Ordering::Relaxed));
        s.apply_event(
            Event::Cancelled {
                request_ids: vec![items[0].request_id],
            },
            &mut settings,
        );
        assert_eq!(s.inputs[0].status, InputStatus::Cancelled);
        // The load fails: the old model analyses what still waits.
        s.apply_event(
            Event::Failed {
                job: JobKind::Load {
                    dir: PathBuf::from("models/other"),
                },
                error: JobError::no_model(),
            },
            &mut settings,
        );
        let ids = batch_ids(s.next_job(5));
        assert_eq!(ids, vec![s.inputs[1].request_id]);
        assert_eq!(s.inputs[1].key, waiting);
    }

    #[test]
    fn a_failed_batch_fails_its_running_inputs() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        s.add_input(InputSource::Text("one".into()));
        s.add_input(InputSource::Text("two".into()));
        let _ = batch_ids(s.next_job(5));
        s.apply_event(
            Event::Failed {
                job: JobKind::AnalyzeBatch { inputs: 2 },
                error: JobError::no_model(),
            },
            &mut settings,
        );
        assert!(
            s.inputs
                .iter()
                .all(|e| matches!(&e.status, InputStatus::Failed(m) if m.contains("no model")))
        );
        assert_eq!(
            s.notifications.items()[0].title,
            "Analysing 2 inputs failed"
        );
        assert!(!s.busy());
    }

    #[test]
    fn a_new_drawing_replaces_the_old_one_under_a_new_request() {
        let mut s = Session::default();
        let drawing = |v: f32| InputSource::Drawing {
            width: 2,
            height: 2,
            values: vec![v; 4],
        };
        let key = s.drawing_replaced(drawing(0.5));
        let old_request = s.inputs[0].request_id;
        let _ = s.next_job(5);
        assert_eq!(s.drawing_replaced(drawing(1.0)), key);
        assert_eq!(s.inputs.len(), 1);
        assert_ne!(s.inputs[0].request_id, old_request);
        assert_eq!(s.inputs[0].status, InputStatus::Queued);
        assert_eq!(s.queue.waiting().collect::<Vec<_>>(), vec![key]);
    }

    #[test]
    fn failures_name_the_job_and_clear_its_running_state() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        s.transfer_running = true;
        s.export_running = true;
        let fail = |job| Event::Failed {
            job,
            error: JobError::no_model(),
        };
        s.apply_event(
            fail(JobKind::Transfer {
                source: Modality::Image,
                target: Modality::Audio,
            }),
            &mut settings,
        );
        assert!(!s.transfer_running);
        assert!(s.export_running);
        // The curves: progress only while running; a failure stops the progress bar.
        s.apply_event(Event::LowResourceProgress { fraction: 0.5 }, &mut settings);
        assert_eq!(s.low_resource_running, None, "no run was started");
        s.low_resource_running = Some(0.0);
        s.apply_event(Event::LowResourceProgress { fraction: 0.5 }, &mut settings);
        assert_eq!(s.low_resource_running, Some(0.5));
        assert!(s.busy());
        s.apply_event(
            fail(JobKind::LowResource {
                primary: Modality::Audio,
            }),
            &mut settings,
        );
        assert_eq!(s.low_resource_running, None);
        s.apply_event(
            fail(JobKind::ExportProjector {
                dir: PathBuf::from("out"),
            }),
            &mut settings,
        );
        assert!(!s.export_running);
        s.loading = Some(PathBuf::from("models/other"));
        s.apply_event(
            fail(JobKind::Load {
                dir: PathBuf::from("models/other"),
            }),
            &mut settings,
        );
        assert_eq!(s.loading, None);
        let titles: Vec<&str> = s
            .notifications
            .items()
            .iter()
            .map(|n| n.title.as_str())
            .collect();
        assert_eq!(
            titles,
            vec![
                "Transfer image → audio failed",
                "Low-resource curves on audio failed",
                "Export to out failed",
                "Loading model other failed"
            ]
        );
    }

    #[test]
    fn rescoring_skips_models_without_text_and_stores_the_labels() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        for text in ["one", "two"] {
            s.add_input(InputSource::Text(text.into()));
        }
        let ids = batch_ids(s.next_job(5));
        s.apply_event(
            Event::AnalyzedChunk(vec![
                Ok(analysis(ids[0], Ok(vec![]))),
                Ok(analysis(ids[1], Err(ZeroShotUnavailable::NoTextTower))),
            ]),
            &mut settings,
        );
        s.labels_text = "three".into();
        let jobs = s.rescore_jobs(&mut settings);
        assert_eq!(jobs.len(), 1, "the input without a text tower is skipped");
        assert!(matches!(&jobs[0], Job::Classify { labels, .. } if labels == &["three"]));
        assert_eq!(s.classify_pending, 1);
        assert_eq!(settings.label_sets["models/tiny"].labels, "three");
        // Back to the defaults: the stored set is forgotten.
        assert!(s.reset_labels());
        s.store_label_set(&mut settings);
        assert!(settings.label_sets.is_empty());
    }

    #[test]
    fn loading_another_model_requeues_inputs_and_drops_gallery_items() {
        let mut settings = Settings::default();
        let mut s = loaded_session(&mut settings);
        s.add_input(InputSource::Text("one".into()));
        s.add_input(InputSource::GalleryItem(0));
        let _ = s.next_job(5);
        s.apply_event(
            Event::Loaded(Box::new(summary("models/other"))),
            &mut settings,
        );
        assert_eq!(s.inputs.len(), 1);
        assert_eq!(s.inputs[0].status, InputStatus::Queued);
        assert_eq!(s.queue.running(), 0);
        assert_eq!(s.selected, Some(s.inputs[0].key));
        assert_eq!(settings.recent[0], PathBuf::from("models/other"));
    }
}
