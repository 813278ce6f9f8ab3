//! Runs a lesson headless on a [`Pipeline`] (no window): every action of every step as the
//! window would do it, then the step's checks. The first action or check that fails stops the
//! run with [`Error::LessonStep`], naming the step (number and title) and what failed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::device::DeviceRequest;
use crate::engine::summary::gallery_transfer;
use crate::engine::{EncodedInput, InputSource, LabelScore, Pipeline};
use crate::error::{Error, Result};
use crate::index::transfer::TransferReport;
use crate::lessons::check::{self, Observation};
use crate::lessons::{Action, GalleryPick, Lesson, load};
use crate::modality::Modality;

/// What one step did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    /// 1-based.
    pub number: usize,
    pub title: String,
    /// One line per action: what it did.
    pub actions: Vec<String>,
    /// One line per check: what was seen.
    pub checks: Vec<String>,
}

/// A lesson run to its end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LessonReport {
    pub lesson: String,
    /// The bundle the last step ran on.
    pub model: Option<PathBuf>,
    pub steps: Vec<StepReport>,
}

/// Runs `lesson`. With `model`, every `open_bundle` opens `model` instead (the lesson is
/// tried against that bundle); a lesson that queues an input before opening a bundle gets
/// `model`, else the default model.
pub fn run(lesson: &Lesson, model: Option<&Path>, device: DeviceRequest) -> Result<LessonReport> {
    let mut runner = Runner {
        lesson,
        model,
        device,
        pipeline: None,
        labels: Vec::new(),
        templates: Vec::new(),
        current: None,
        transfer: None,
        low_resource: None,
    };
    let mut steps = Vec::new();
    for (i, step) in lesson.steps.iter().enumerate() {
        let fail = |what: String, reason: String| Error::LessonStep {
            lesson: lesson.id.clone(),
            step: i + 1,
            title: step.title.clone(),
            what,
            reason,
        };
        let mut report = StepReport {
            number: i + 1,
            title: step.title.clone(),
            actions: Vec::new(),
            checks: Vec::new(),
        };
        for action in &step.actions {
            let done = runner
                .act(action)
                .map_err(|e| fail(format!("action `{}`", action.describe()), e.to_string()))?;
            report.actions.push(done);
        }
        let obs = runner.observe();
        for c in &step.checks {
            let verdict = check::evaluate(c, &obs);
            if !verdict.passed {
                return Err(fail(format!("check `{}`", c.describe()), verdict.seen));
            }
            report
                .checks
                .push(format!("{}: {}", c.describe(), verdict.seen));
        }
        steps.push(report);
    }
    Ok(LessonReport {
        lesson: lesson.id.clone(),
        model: runner.pipeline.as_ref().map(|p| p.bundle.dir.clone()),
        steps,
    })
}

/// The gallery index of `pick` among items given as `(index, modality, label, source)`.
pub fn gallery_index<'a>(
    items: impl IntoIterator<Item = (usize, Modality, Option<&'a str>, &'a str)>,
    pick: &GalleryPick,
) -> Result<usize> {
    let matching: Vec<usize> = items
        .into_iter()
        .filter(|(_, m, l, source)| {
            *m == pick.modality
                && *l == Some(pick.label.as_str())
                && pick
                    .source
                    .as_ref()
                    .is_none_or(|s| source.contains(s.as_str()))
        })
        .map(|(i, ..)| i)
        .collect();
    matching.get(pick.nth).copied().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "the gallery has {} {} items labelled \"{}\"{}; the lesson asks for item {} \
             (from 0)",
            matching.len(),
            pick.modality,
            pick.label,
            pick.source
                .as_ref()
                .map(|s| format!(" from a source containing \"{s}\""))
                .unwrap_or_default(),
            pick.nth
        ))
    })
}

struct Runner<'a> {
    lesson: &'a Lesson,
    model: Option<&'a Path>,
    device: DeviceRequest,
    pipeline: Option<Pipeline>,
    labels: Vec<String>,
    templates: Vec<String>,
    /// The current input: its source, encoding and zero-shot scores (none without labels or
    /// a text tower).
    current: Option<(InputSource, EncodedInput, Option<Vec<LabelScore>>)>,
    transfer: Option<TransferReport>,
    low_resource: Option<crate::index::low_resource::LowResourceReport>,
}

impl Runner<'_> {
    /// Does one action; returns a line saying what it did.
    fn act(&mut self, action: &Action) -> Result<String> {
        match action {
            Action::OpenBundle { path } => {
                let dir = match self.model {
                    Some(m) => m.to_path_buf(),
                    None => load::resolve(&self.lesson.file, path)?,
                };
                self.open(&dir)?;
                Ok(format!("opened {}", dir.display()))
            }
            Action::QueueInput {
                text,
                file,
                gallery,
            } => {
                let pipeline = self.pipeline()?;
                let source = match (text, file, gallery) {
                    (Some(t), _, _) => InputSource::Text(t.clone()),
                    (_, Some(f), _) => InputSource::File(load::resolve(&self.lesson.file, f)?),
                    (_, _, Some(pick)) => {
                        let g = pipeline.gallery()?;
                        InputSource::GalleryItem(gallery_index(
                            g.items.iter().enumerate().map(|(i, it)| {
                                (i, it.modality, it.label.as_deref(), it.source.as_str())
                            }),
                            pick,
                        )?)
                    }
                    // The loader refuses a queue_input without exactly one input.
                    _ => return Err(Error::Internal("queue_input names no input".into())),
                };
                self.queue(source)?;
                Ok(format!("analysed {}", self.current_summary()))
            }
            Action::Show { .. } | Action::ColorMap { .. } => {
                Ok(format!("{} (window only)", action.describe()))
            }
            Action::LightCode { code, shared_with } => {
                let k = self.pipeline()?.bundle.manifest.architecture.codebook_size;
                let c = match code {
                    Some(c) if (*c as usize) < k => *c,
                    Some(c) => {
                        return Err(Error::InvalidRequest(format!(
                            "code {c} is not in this codebook of {k} codes"
                        )));
                    }
                    None => {
                        check::most_used_code(&self.observe(), *shared_with).ok_or_else(|| {
                            Error::InvalidRequest(match shared_with {
                                Some(m) => format!(
                                    "the current input uses no code that {m} gallery items use \
                                     (or there is no analysed input)"
                                ),
                                None => "there is no analysed input".into(),
                            })
                        })?
                    }
                };
                Ok(format!("lit code {c}"))
            }
            Action::SetLabels { labels, templates } => {
                self.pipeline()?;
                self.labels = crate::bundle::prompts::parse_labels(labels);
                if let Some(t) = templates {
                    self.templates = crate::bundle::prompts::parse_templates(t);
                }
                self.rescore()?;
                Ok(format!("labels: {}", self.labels.join(", ")))
            }
            Action::ResetLabels => {
                let labels = self.pipeline()?.bundle.manifest.labels.clone();
                self.labels = labels.names;
                self.templates = labels.prompts;
                self.rescore()?;
                Ok(format!("labels: {}", self.labels.join(", ")))
            }
            Action::Generate { to } => {
                let (from, ..) = self.current.as_ref().ok_or_else(|| {
                    Error::InvalidRequest("there is no current input to generate from".into())
                })?;
                let source = InputSource::Generated {
                    from: Box::new(from.clone()),
                    to: *to,
                };
                self.queue(source)?;
                Ok(format!("generated {}", self.current_summary()))
            }
            Action::RunLowResource {
                tested,
                helper,
                features,
            } => {
                let run = crate::engine::protocol::GalleryCurves {
                    primary: *tested,
                    helper: *helper,
                    features: *features,
                    noise: crate::preprocess::degrade::NoiseLevel::new(0.0),
                };
                let report = crate::engine::low_resource::gallery_low_resource(
                    self.pipeline()?,
                    run,
                    &|_| {},
                )?;
                let line = check::low_resource_means(&report)
                    .iter()
                    .map(|(l, a, h)| {
                        let pct = |x: &Option<f32>| {
                            x.map_or("n/a".to_string(), |v| format!("{:.0}%", v * 100.0))
                        };
                        format!("{l}: {} / {}", pct(a), pct(h))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                self.low_resource = Some(report);
                Ok(format!("labels per class: alone / helped = {line}"))
            }
            Action::RunTransfer {
                source,
                target,
                features,
            } => {
                let report = gallery_transfer(self.pipeline()?, *source, *target, *features)?;
                let line = format!(
                    "fitted on {} {source} items, {:.1}% on {} {target} items",
                    report.n_train,
                    report.accuracy * 100.0,
                    report.n_test
                );
                self.transfer = Some(report);
                Ok(line)
            }
        }
    }

    /// The current input in one line: name, modality, code count and best label.
    fn current_summary(&self) -> String {
        let Some((_, e, scores)) = self.current.as_ref() else {
            return "nothing".into();
        };
        let top = scores
            .as_ref()
            .and_then(|s| s.first())
            .map(|s| format!(", best label \"{}\"", s.label))
            .unwrap_or_default();
        format!(
            "{} ({}): {} codes{top}",
            e.name,
            e.modality,
            e.item.codes.len()
        )
    }

    /// Opens a bundle: its own labels come back and the current input is analysed again.
    fn open(&mut self, dir: &Path) -> Result<()> {
        let pipeline = Pipeline::open(dir, self.device)?;
        self.labels = pipeline.bundle.manifest.labels.names.clone();
        self.templates = pipeline.bundle.manifest.labels.prompts.clone();
        self.pipeline = Some(pipeline);
        self.transfer = None;
        self.low_resource = None;
        if let Some((source, _, _)) = self.current.take()
            && !matches!(source, InputSource::GalleryItem(_))
        {
            self.queue(source)?;
        }
        Ok(())
    }

    /// The open pipeline, opening `--model` or the default model first when none is.
    fn pipeline(&mut self) -> Result<&mut Pipeline> {
        if self.pipeline.is_none() {
            let dir = crate::bundle::locate::model_dir(self.model)?;
            self.open(&dir)?;
        }
        self.pipeline
            .as_mut()
            .ok_or_else(|| Error::Internal("no pipeline after opening one".into()))
    }

    fn queue(&mut self, source: InputSource) -> Result<()> {
        let encoded = self.pipeline()?.encode(&source)?;
        let scores = self.scores(&encoded)?;
        self.current = Some((source, encoded, scores));
        Ok(())
    }

    fn rescore(&mut self) -> Result<()> {
        if let Some((source, encoded, _)) = self.current.take() {
            let scores = self.scores(&encoded)?;
            self.current = Some((source, encoded, scores));
        }
        Ok(())
    }

    /// Zero-shot scores as the window computes them: none without labels or a text tower.
    fn scores(&mut self, e: &EncodedInput) -> Result<Option<Vec<LabelScore>>> {
        let (labels, templates) = (self.labels.clone(), self.templates.clone());
        let p = self.pipeline()?;
        if labels.is_empty() || !p.modalities().contains(&Modality::Text) {
            return Ok(None);
        }
        Ok(Some(p.classify(&e.item.embedding, &labels, &templates)?))
    }

    fn observe(&self) -> Observation {
        let gallery_codes = self
            .pipeline
            .as_ref()
            .and_then(|p| p.bundle.gallery.as_ref())
            .map(|g| {
                check::codes_by_modality(
                    g.items
                        .iter()
                        .zip(&g.codes)
                        .map(|(it, c)| (it.modality, it.label.as_deref(), c.as_slice())),
                )
            })
            .unwrap_or_default();
        let top = self
            .current
            .as_ref()
            .and_then(|(_, _, s)| s.as_ref()?.first());
        Observation {
            top_label: top.map(|s| s.label.clone()),
            top_cosine: top.map(|s| s.cosine),
            input_codes: self.current.as_ref().map(|(_, e, _)| e.item.codes.clone()),
            input_blank_cells: self.current.as_ref().and_then(|(_, e, _)| e.blank_cells()),
            gallery_codes,
            transfer_accuracy: self.transfer.as_ref().map(|t| t.accuracy),
            low_resource: self.low_resource.as_ref().map(check::low_resource_means),
        }
    }
}
