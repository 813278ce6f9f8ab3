//! Guided lessons: data files that walk a student through transference by driving the app.
//!
//! A lesson is one TOML file (`assets/lessons/*.toml` are built in; teachers add their own in
//! the user folder [`load::user_dir`] or any folder given with `--lessons DIR`; a file whose
//! `id` equals a built-in one replaces it). A lesson has an `id`, a `title`, a `summary` and
//! ordered `[[steps]]`; a step has a `title`, one short paragraph (`text`), one `question`
//! for the student, `actions` that drive the app and optional `checks`:
//!
//! ```toml
//! id = "pretrained"
//! title = "Transfer from a pretrained model"
//! summary = "Zero-shot labels through frozen MiniLM prompts."
//!
//! [[steps]]
//! title = "A picture of a seven"
//! text = "The image tower never saw the word seven ..."
//! question = "Where do the label scores come from?"
//! actions = [
//!     { do = "open_bundle", path = "models/digits" },
//!     { do = "queue_input", gallery = { modality = "image", label = "seven" } },
//! ]
//! checks = [{ check = "top_label", label = "seven" }]
//! ```
//!
//! The window runs a step's actions as the same commands its own buttons send
//! (`app/lessons.rs`), one after another, waiting (without blocking) for a model to load, an
//! input to be analysed, labels to be re-scored or the transfer lab to finish. `transference
//! lesson --run ID` runs the same actions headless on a [`crate::engine::Pipeline`] and
//! evaluates the checks ([`run`]).
//!
//! **Adding an action**: add a variant to [`Action`] (its serde name is the `do` value), then
//! handle it in three places the compiler points to: [`Action::describe`] (one line for the
//! panel and the CLI), the headless runner (`lessons/run.rs`, `Runner::act`) and the window
//! (`app/lessons.rs`, `ExplorerApp::lesson_action`). A check is added the same way to
//! [`Check`], [`Check::describe`] and [`check::evaluate`].

pub mod check;
pub mod load;
pub mod run;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::index::transfer::TransferFeatures;
use crate::modality::Modality;
use crate::view_options::MapColoring;

/// One lesson, as read from its file.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// Short stable name (`lesson --run ID`).
    pub id: String,
    pub title: String,
    /// One or two sentences for the lesson list.
    pub summary: String,
    pub steps: Vec<Step>,
    /// The file it was read from (built-in lessons: their path in the source tree).
    pub file: PathBuf,
}

/// One step of a lesson.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// One short paragraph.
    pub text: String,
    /// One question for the student.
    pub question: String,
    /// What "Do it" does, in order.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// What must hold once the actions are done (checked by `lesson --run` and shown in the
    /// window).
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// Something a step makes the app do. See the module docs for how to add one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Load a bundle: an absolute path, one relative to the lesson file, or one found under
    /// the bundle search roots (see [`crate::bundle::locate`]), e.g. `models/digits`.
    OpenBundle { path: PathBuf },
    /// Queue an input and select it. Exactly one of `text`, `file` (relative to the lesson
    /// file, else to the search roots) and `gallery` (an item of the loaded bundle's gallery).
    QueueInput {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        file: Option<PathBuf>,
        #[serde(default)]
        gallery: Option<GalleryPick>,
    },
    /// Bring a tab or panel to the front (in presenter mode, the one panel shown).
    Show { panel: LessonPanel },
    /// Light up a code everywhere: `code`, or the current input's most used code that gallery
    /// items of `shared_with` also use (preferring codes whose `shared_with` items mostly carry
    /// the input's best label, see [`check::most_used_code`]), or (neither) the current input's
    /// most used code.
    LightCode {
        #[serde(default)]
        code: Option<u32>,
        #[serde(default)]
        shared_with: Option<Modality>,
    },
    /// Colour the map by modality or class.
    ColorMap { by: MapColoring },
    /// Replace the zero-shot labels (comma-separated or one per line) and, when given, the
    /// prompt templates (one per line); every input is scored again.
    SetLabels {
        labels: String,
        #[serde(default)]
        templates: Option<String>,
    },
    /// Put the model's own labels and templates back.
    ResetLabels,
    /// Show the current input in the modality `to` (image or audio): its codes decoded by the
    /// bundle's generation decoders; the generated item becomes the current input.
    Generate { to: Modality },
    /// Compute the low-resource curves on the gallery: accuracy on `tested` against labels per
    /// class, alone and helped by `helper`'s labels through the shared codebook, and zero-shot.
    RunLowResource {
        tested: Modality,
        helper: Modality,
        #[serde(default)]
        features: TransferFeatures,
    },
    /// Run the transfer lab: fit on `source`, test on `target`.
    RunTransfer {
        source: Modality,
        target: Modality,
        #[serde(default)]
        features: TransferFeatures,
    },
}

/// A gallery item chosen by modality and label (and, optionally, a piece of its source, such
/// as a speaker's name): the `nth` (from 0) such item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GalleryPick {
    pub modality: Modality,
    pub label: String,
    /// Only items whose source contains this text.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub nth: usize,
}

/// Tabs and panels a step can bring to the front.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LessonPanel {
    /// The Input tab.
    Input,
    /// The Transfer lab tab.
    Transfer,
    /// The Model card tab.
    Model,
    /// The Selection tab.
    Selection,
    /// The embedding map.
    Map,
    /// The codebook usage chart.
    Usage,
}

/// Something that must hold after a step's actions. See the module docs for how to add one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// The current input's best zero-shot label is `label`.
    TopLabel { label: String },
    /// The current input's best zero-shot label is not `label` (something broke, as the
    /// lesson says it should).
    TopLabelIsNot { label: String },
    /// The current input's best label has a cosine similarity of at most `at_most` with its
    /// prompts (the model is unsure, whatever the softmax says).
    TopCosineAtMost { at_most: f32 },
    /// The current input's best label has a cosine similarity of at least `at_least` with its
    /// prompts (the model is sure, as for a class it trained on).
    TopCosineAtLeast { at_least: f32 },
    /// The current input uses at least `at_least` distinct codes that gallery items of
    /// `modality` use too.
    SharesCodes { modality: Modality, at_least: usize },
    /// The current input is an image with at least `at_least` grid cells of blank paper, which
    /// get no code (as padding and silence get none).
    BlankCells { at_least: usize },
    /// The code lit by `light_code` with `shared_with = modality` (the current input's most
    /// used code that gallery items of `modality` use) is a `label` code there: at least
    /// `share_at_least` (0..1) of the gallery items of `modality` that use it are labelled
    /// `label`. This is how a step claiming "the code a sound shares with pictures of a
    /// seven" is checked, rather than a code every item uses (silence, background).
    LitCodeOfLabel {
        modality: Modality,
        label: String,
        share_at_least: f32,
    },
    /// The last transfer lab run reached at least this accuracy on its target (0..1).
    TransferAccuracy { at_least: f32 },
    /// In the last low-resource run, at `labels_per_class` labels the helped curve's mean is at
    /// least `by_at_least` (0..1) above the tested modality's own.
    HelperLifts {
        labels_per_class: usize,
        by_at_least: f32,
    },
}

impl Action {
    /// One line saying what the action does (panel and CLI).
    pub fn describe(&self) -> String {
        match self {
            Action::OpenBundle { path } => format!("open the bundle {}", path.display()),
            Action::QueueInput {
                text,
                file,
                gallery,
            } => match (text, file, gallery) {
                (Some(t), _, _) => format!("queue the text \"{t}\""),
                (_, Some(f), _) => format!("queue the file {}", f.display()),
                (_, _, Some(g)) => format!(
                    "queue gallery {} item {} labelled \"{}\"{}",
                    g.modality,
                    g.nth,
                    g.label,
                    g.source
                        .as_ref()
                        .map(|s| format!(" from \"{s}\""))
                        .unwrap_or_default()
                ),
                _ => "queue an input".into(),
            },
            Action::Show { panel } => format!("show the {}", panel.name()),
            Action::LightCode { code, shared_with } => match (code, shared_with) {
                (Some(c), _) => format!("light up code {c}"),
                (None, Some(m)) => format!(
                    "light up the input's most used code shared with {m}, preferring codes of \
                     its label"
                ),
                (None, None) => "light up the input's most used code".into(),
            },
            Action::ColorMap { by } => format!(
                "colour the map by {}",
                match by {
                    MapColoring::Modality => "modality",
                    MapColoring::Class => "class",
                    MapColoring::Correctness => "correct / wrong zero-shot",
                    MapColoring::Source => "source",
                    MapColoring::Similarity => "similarity",
                }
            ),
            Action::SetLabels { labels, .. } => format!("set the labels to \"{}\"", labels.trim()),
            Action::ResetLabels => "put the model's labels back".into(),
            Action::Generate { to } => format!("decode the current input's codes as {to}"),
            Action::RunLowResource { tested, helper, .. } => format!(
                "low-resource curves: {tested} alone, helped by {helper}'s labels, zero-shot"
            ),
            Action::RunTransfer {
                source,
                target,
                features,
            } => format!(
                "fit on {source}, test on {target} ({})",
                match features {
                    TransferFeatures::BagOfCodes => "bag of codes",
                    TransferFeatures::Embedding => "embedding",
                }
            ),
        }
    }
}

impl Check {
    /// One line saying what must hold.
    pub fn describe(&self) -> String {
        match self {
            Check::TopLabel { label } => format!("the best label is \"{label}\""),
            Check::TopLabelIsNot { label } => format!("the best label is not \"{label}\""),
            Check::TopCosineAtMost { at_most } => {
                format!("the best label's cosine is at most {at_most:.2}")
            }
            Check::TopCosineAtLeast { at_least } => {
                format!("the best label's cosine is at least {at_least:.2}")
            }
            Check::SharesCodes { modality, at_least } => {
                format!("the input uses at least {at_least} codes shared with {modality}")
            }
            Check::BlankCells { at_least } => {
                format!("at least {at_least} grid cells of the picture are blank, with no code")
            }
            Check::LitCodeOfLabel {
                modality,
                label,
                share_at_least,
            } => format!(
                "at least {:.0}% of the {modality} items using the lit code are \"{label}\"",
                share_at_least * 100.0
            ),
            Check::TransferAccuracy { at_least } => {
                format!("transfer accuracy is at least {:.0}%", at_least * 100.0)
            }
            Check::HelperLifts {
                labels_per_class,
                by_at_least,
            } => format!(
                "at {labels_per_class} labels per class the helped curve is at least {:.0} \
                 points above the tested modality's own",
                by_at_least * 100.0
            ),
        }
    }
}

impl LessonPanel {
    /// Name as shown to the student.
    pub fn name(self) -> &'static str {
        match self {
            LessonPanel::Input => "Input tab",
            LessonPanel::Transfer => "Transfer lab",
            LessonPanel::Model => "Model card",
            LessonPanel::Selection => "Selection tab",
            LessonPanel::Map => "embedding map",
            LessonPanel::Usage => "codebook usage chart",
        }
    }
}
