//! The window's side of lessons: "Do it" turns the open step's actions, one after another,
//! into the commands the app's own buttons send (open a bundle, add an input, select a code,
//! re-score, fit), waiting between them without blocking (the app calls
//! [`ExplorerApp::drive_lesson`] every frame) until the model is loaded, the input analysed,
//! the labels re-scored or the lab done. Then the step's checks are evaluated on the session.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use super::ExplorerApp;
use crate::engine::InputSource;
use crate::index::transfer::TransferFeatures;
use crate::lessons::check::{self, Observation};
use crate::lessons::{Action, Check, LessonPanel, load, run::gallery_index};
use crate::modality::Modality;
use crate::ui::Command;
use crate::ui::lessons_panel::{self, StepStatus};
use crate::ui::notifications::Level;
use crate::ui::state::{CentralTab, InputStatus, PresenterFocus};

/// What the running step waits for before its next action.
#[derive(Clone, Debug, PartialEq)]
enum Wait {
    /// The bundle to finish loading.
    Load,
    /// The input with this key to be analysed.
    Input(u64),
    /// Re-scoring to finish.
    Rescore,
    /// The transfer lab to finish.
    Transfer,
    /// The low-resource curves to finish.
    LowResource,
}

/// The step being done (or last done).
#[derive(Debug)]
pub(super) struct LessonRun {
    lesson: String,
    step: usize,
    file: PathBuf,
    total: usize,
    pending: VecDeque<Action>,
    checks: Vec<Check>,
    wait: Option<Wait>,
    pub(super) status: StepStatus,
}

impl LessonRun {
    /// True when this run is of the step at `lesson`/`step`.
    pub(super) fn is_of(&self, lesson: &str, step: usize) -> bool {
        self.lesson == lesson && self.step == step
    }
}

impl ExplorerApp {
    /// Adds `source` as the window would and waits for its analysis; refused when the app
    /// turns it away (the notification says why).
    fn add_lesson_input(
        &mut self,
        source: InputSource,
        ctx: &egui::Context,
    ) -> crate::error::Result<Option<Wait>> {
        let before = self.session.inputs.len();
        self.apply(Command::AddInput(source), ctx);
        if self.session.inputs.len() == before {
            return Err(refused("the app refused the input (see the notification)"));
        }
        let key = self
            .session
            .selected
            .ok_or_else(|| refused("no input selected"))?;
        Ok(Some(Wait::Input(key)))
    }

    /// Opens the transfer lab fitting on `fit_on` and testing on `test_on` with `features`;
    /// refused when the loaded bundle's gallery has no items of either.
    fn open_transfer_lab(
        &mut self,
        fit_on: Modality,
        test_on: Modality,
        features: TransferFeatures,
    ) -> crate::error::Result<()> {
        let available = &self.session.derived.gallery_modalities;
        if let Some(m) = [fit_on, test_on]
            .into_iter()
            .find(|m| !available.contains(m))
        {
            return Err(refused(format!(
                "the loaded bundle's gallery has no {m} items"
            )));
        }
        self.settings.transfer_source = Some(fit_on);
        self.settings.transfer_target = Some(test_on);
        self.settings.transfer_features = features;
        self.settings.tab = CentralTab::Transfer;
        Ok(())
    }

    /// Reads the lessons (built-in, user folder, `dir`); unreadable files become warnings.
    pub fn load_lessons(&mut self, dir: Option<&Path>) {
        let cat = load::catalogue(dir);
        for p in cat.problems {
            self.session.notifications.push(
                Level::Warning,
                "A lesson file was skipped",
                p.to_string(),
            );
        }
        self.lessons = cat.lessons;
    }

    /// The lessons the panel lists.
    pub fn lessons(&self) -> &[crate::lessons::Lesson] {
        &self.lessons
    }

    /// Status of the open step (for the panel and tests).
    pub fn lesson_status(&self) -> StepStatus {
        status_of(self.lesson_run.as_ref(), &self.lessons, &self.settings)
    }

    /// Starts doing the open step's actions.
    pub(super) fn start_lesson_step(&mut self) {
        let Some((_, lesson)) = lessons_panel::current(&self.lessons, &self.settings.lesson) else {
            return;
        };
        let step_index = self.settings.lesson.step.min(lesson.steps.len() - 1);
        let step = &lesson.steps[step_index];
        self.lesson_run = Some(LessonRun {
            lesson: lesson.id.clone(),
            step: step_index,
            file: lesson.file.clone(),
            total: step.actions.len(),
            pending: step.actions.iter().cloned().collect(),
            checks: step.checks.clone(),
            wait: None,
            status: StepStatus::Running {
                done: 0,
                total: step.actions.len(),
                waiting: "the first action".into(),
            },
        });
    }

    /// Moves the running step on as far as it can go this frame.
    pub(super) fn drive_lesson(&mut self, ctx: &egui::Context) {
        let Some(mut run) = self.lesson_run.take() else {
            return;
        };
        if matches!(run.status, StepStatus::Running { .. }) {
            self.drive(&mut run, ctx);
            if matches!(run.status, StepStatus::Running { .. }) {
                ctx.request_repaint_after(std::time::Duration::from_millis(100));
            }
        }
        self.lesson_run = Some(run);
    }

    fn drive(&mut self, run: &mut LessonRun, ctx: &egui::Context) {
        loop {
            let waiting = if self.session.loading.is_some() {
                Some(Wait::Load)
            } else {
                run.wait.clone()
            };
            if let Some(w) = waiting {
                match self.waited(&w) {
                    None => {
                        run.status = StepStatus::Running {
                            done: run.total - run.pending.len(),
                            total: run.total,
                            waiting: describe(&w).into(),
                        };
                        return;
                    }
                    Some(Err(e)) => {
                        run.status = StepStatus::Failed(e.to_string());
                        return;
                    }
                    Some(Ok(())) => run.wait = None,
                }
            }
            let Some(action) = run.pending.pop_front() else {
                let obs = self.lesson_observation();
                run.status = StepStatus::Done {
                    checks: run
                        .checks
                        .iter()
                        .map(|c| (c.describe(), check::evaluate(c, &obs)))
                        .collect(),
                };
                return;
            };
            match self.lesson_action(&action, &run.file, ctx) {
                Ok(w) => run.wait = w,
                Err(e) => {
                    run.status = StepStatus::Failed(format!("{}: {e}", action.describe()));
                    return;
                }
            }
        }
    }

    /// `None` while still waiting; else whether what was waited for went well.
    fn waited(&self, w: &Wait) -> Option<crate::Result<()>> {
        let s = &self.session;
        match w {
            Wait::Load => {
                if s.loading.is_some() {
                    return None;
                }
                Some(match &s.summary {
                    Some(_) => Ok(()),
                    None => Err(refused("the bundle did not load (see the notification)")),
                })
            }
            Wait::Input(key) => match s.inputs.iter().find(|e| e.key == *key).map(|e| &e.status) {
                None => Some(Err(refused("the input was removed"))),
                Some(InputStatus::Queued | InputStatus::Running) => None,
                Some(InputStatus::Done(_)) => Some(Ok(())),
                Some(InputStatus::Failed(reason)) => Some(Err(refused(reason.clone()))),
                Some(InputStatus::Cancelled) => Some(Err(refused("the analysis was cancelled"))),
            },
            Wait::Rescore => {
                (s.classify_pending == 0 && s.labels_edited_at.is_none()).then_some(Ok(()))
            }
            Wait::Transfer => (!s.transfer_running).then(|| match &s.transfer {
                Some(_) => Ok(()),
                None => Err(refused("the transfer lab failed (see the notification)")),
            }),
            Wait::LowResource => s
                .low_resource_running
                .is_none()
                .then(|| match &s.low_resource {
                    Some(_) => Ok(()),
                    None => Err(refused(
                        "the low-resource curves failed (see the notification)",
                    )),
                }),
        }
    }

    /// Does one action through the app's commands; returns what to wait for next.
    fn lesson_action(
        &mut self,
        action: &Action,
        file: &Path,
        ctx: &egui::Context,
    ) -> crate::Result<Option<Wait>> {
        match action {
            Action::OpenBundle { path } => {
                let dir = load::resolve(file, path)?;
                let loaded = self
                    .session
                    .summary
                    .as_ref()
                    .is_some_and(|s| same_dir(&s.dir, &dir));
                if loaded {
                    return Ok(None);
                }
                self.apply(Command::OpenModel(dir), ctx);
                Ok(Some(Wait::Load))
            }
            Action::QueueInput {
                text,
                file: input_file,
                gallery,
            } => {
                let source = match (text, input_file, gallery) {
                    (Some(t), _, _) => InputSource::Text(t.clone()),
                    (_, Some(f), _) => InputSource::File(load::resolve(file, f)?),
                    (_, _, Some(pick)) => {
                        let summary = self
                            .session
                            .summary
                            .as_ref()
                            .ok_or_else(|| refused("no model is loaded"))?;
                        let points = summary
                            .gallery
                            .iter()
                            .map(|p| (p.index, p.modality, p.label.as_deref(), p.source.as_str()));
                        InputSource::GalleryItem(gallery_index(points, pick)?)
                    }
                    // The loader refuses a queue_input without exactly one input.
                    _ => return Err(crate::Error::Internal("queue_input names no input".into())),
                };
                self.add_lesson_input(source, ctx)
            }
            Action::Generate { to } => {
                let from = self
                    .session
                    .selected_input()
                    .map(|e| e.source.clone())
                    .ok_or_else(|| refused("there is no current input to generate from"))?;
                self.add_lesson_input(
                    InputSource::Generated {
                        from: Box::new(from),
                        to: *to,
                    },
                    ctx,
                )
            }
            Action::Show { panel } => {
                let s = &mut self.settings;
                let (tab, focus) = match panel {
                    LessonPanel::Input => (Some(CentralTab::Input), PresenterFocus::Central),
                    LessonPanel::Transfer => (Some(CentralTab::Transfer), PresenterFocus::Central),
                    LessonPanel::Model => (Some(CentralTab::Model), PresenterFocus::Central),
                    LessonPanel::Selection => {
                        (Some(CentralTab::Selection), PresenterFocus::Central)
                    }
                    LessonPanel::Map => (None, PresenterFocus::Map),
                    LessonPanel::Usage => (None, PresenterFocus::Usage),
                };
                if let Some(tab) = tab {
                    s.tab = tab;
                }
                s.panels.map |= *panel == LessonPanel::Map;
                s.panels.usage |= *panel == LessonPanel::Usage;
                s.presenter_focus = focus;
                Ok(None)
            }
            Action::LightCode { code, shared_with } => {
                let k = self.session.summary.as_ref().map_or(0, |s| s.codebook_size);
                let c = match code {
                    Some(c) if (*c as usize) < k => *c,
                    Some(c) => {
                        return Err(crate::Error::CodeOutOfRange {
                            code: *c,
                            codebook_size: k,
                        });
                    }
                    None => check::most_used_code(&self.lesson_observation(), *shared_with)
                        .ok_or_else(|| match shared_with {
                            Some(m) => refused(format!(
                                "the input uses no code that {m} gallery items use"
                            )),
                            None => refused("there is no analysed input"),
                        })?,
                };
                self.apply(Command::SelectCode(Some(c)), ctx);
                Ok(None)
            }
            Action::ColorMap { by } => {
                self.settings.map_coloring = *by;
                self.settings.panels.map = true;
                Ok(None)
            }
            Action::SetLabels { labels, templates } => {
                self.session.labels_text = labels.trim().to_string();
                if let Some(t) = templates {
                    self.session.templates_text = t.trim().to_string();
                }
                self.apply(Command::Rescore, ctx);
                Ok(Some(Wait::Rescore))
            }
            Action::ResetLabels => {
                self.apply(Command::ResetLabels, ctx);
                Ok(Some(Wait::Rescore))
            }
            Action::RunLowResource {
                tested,
                helper,
                features,
            } => {
                // The lab's curves test on its "test on" modality, helped by its "fit on" one.
                self.open_transfer_lab(*helper, *tested, *features)?;
                self.settings.low_resource_noise = 0.0;
                self.session.low_resource = None;
                self.apply(Command::RunLowResource, ctx);
                Ok(Some(Wait::LowResource))
            }
            Action::RunTransfer {
                source,
                target,
                features,
            } => {
                self.open_transfer_lab(*source, *target, *features)?;
                self.session.transfer = None;
                self.apply(Command::Fit, ctx);
                Ok(Some(Wait::Transfer))
            }
        }
    }

    /// What the checks read, from the session.
    fn lesson_observation(&self) -> Observation {
        let s = &self.session;
        let input = s.selected_input();
        let top = input
            .and_then(|e| e.zero_shot())
            .and_then(|z| z.ok())
            .and_then(|scores| scores.first());
        Observation {
            top_label: top.map(|t| t.label.clone()),
            top_cosine: top.map(|t| t.cosine),
            input_codes: input
                .and_then(|e| e.analysis())
                .map(|a| a.input.item.codes.clone()),
            input_blank_cells: input
                .and_then(|e| e.analysis())
                .and_then(|a| a.input.blank_cells()),
            gallery_codes: s
                .summary
                .as_ref()
                .map(|sum| {
                    check::codes_by_modality(
                        sum.gallery
                            .iter()
                            .map(|p| (p.modality, p.label.as_deref(), p.codes.as_slice())),
                    )
                })
                .unwrap_or_default(),
            transfer_accuracy: s.transfer.as_ref().map(|t| t.accuracy),
            low_resource: s.low_resource.as_ref().map(check::low_resource_means),
        }
    }
}

/// Status of the step open in `settings`: `run`'s when it is of that step.
pub(super) fn status_of(
    run: Option<&LessonRun>,
    lessons: &[crate::lessons::Lesson],
    settings: &crate::ui::state::Settings,
) -> StepStatus {
    match (run, lessons_panel::current(lessons, &settings.lesson)) {
        (Some(run), Some((_, l))) if run.is_of(&l.id, settings.lesson.step) => run.status.clone(),
        _ => StepStatus::NotRun,
    }
}

fn describe(w: &Wait) -> &'static str {
    match w {
        Wait::Load => "the model to load",
        Wait::Input(_) => "the analysis",
        Wait::Rescore => "the labels to be scored",
        Wait::Transfer => "the transfer lab",
        Wait::LowResource => "the low-resource curves",
    }
}

/// The same folder, however it was spelt.
fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// A step's action or wait that the app could not carry out as the lesson asks (the same kind of
/// failure the headless runner reports).
fn refused(reason: impl Into<String>) -> crate::Error {
    crate::Error::InvalidRequest(reason.into())
}
