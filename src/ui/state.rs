//! Plain data the panels draw from (inputs, derived model facts, label sets) and the
//! persisted settings, kept apart from runtime handles (worker, textures, child processes).
//! The session itself and its state machine are in [`crate::ui::session`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::{Analysis, InputSource, LabelScore, ModelSummary, ZeroShotUnavailable};
use crate::index::projection::Projection;
use crate::index::transfer::TransferFeatures;
use crate::modality::Modality;

/// Most recent bundles remembered.
pub const MAX_RECENT: usize = 8;
/// Gallery items listed per code in the code tooltip.
pub const TOP_USERS_PER_CODE: usize = 5;

/// Labels and templates the user edited for one model, as typed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabelSet {
    /// Comma-separated or one per line.
    pub labels: String,
    /// One template per line, each containing `{label}`.
    pub templates: String,
}

/// Which panels are open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Panels {
    pub inputs: bool,
    pub map: bool,
    pub usage: bool,
    /// The guided lessons.
    pub lessons: bool,
}

impl Default for Panels {
    fn default() -> Self {
        Panels {
            inputs: true,
            map: true,
            usage: true,
            lessons: false,
        }
    }
}

/// The one panel presenter mode shows (beside the lessons, when they are open).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresenterFocus {
    /// The central tabs (input, transfer lab, model card, selection).
    #[default]
    Central,
    /// The embedding map.
    Map,
    /// The codebook usage chart.
    Usage,
}

/// Where the student is in the lessons.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LessonPosition {
    /// The open lesson's id (`None`: the first lesson).
    pub id: Option<String>,
    /// 0-based step.
    pub step: usize,
}

/// Tab of the central area.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CentralTab {
    /// The current input: view, codes, zero-shot, retrieval.
    #[default]
    Input,
    /// Fit on one modality, test on another.
    Transfer,
    /// The model card and manifest facts.
    Model,
    /// The gallery items selected on the map.
    Selection,
    /// The page of one code.
    Code,
    /// The loaded model beside a second one.
    Compare,
}

/// How map points are coloured (shared with the lessons, which set it).
pub use crate::view_options::MapColoring;

/// Order of bars in the codebook usage chart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsageSort {
    /// Most used codes first.
    #[default]
    Usage,
    /// Code id order.
    Id,
}

/// Everything persisted between runs (eframe storage).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    /// Edited labels/templates per bundle folder.
    pub label_sets: BTreeMap<String, LabelSet>,
    pub panels: Panels,
    pub tab: CentralTab,
    pub map_coloring: MapColoring,
    /// The prompt the similarity colouring compares the gallery with.
    pub map_similar_to: String,
    /// The similarity colouring compares with the selected input instead of the prompt.
    pub map_similar_to_selected: bool,
    /// Which map of the gallery is shown (PCA, t-SNE, UMAP).
    pub map_projection: Projection,
    pub map_show_codebook: bool,
    pub map_show_links: bool,
    pub usage_sort: UsageSort,
    /// Neighbours retrieved per modality.
    pub k: usize,
    /// Canvas shown white ink on black (else black on white). The model always gets white on black.
    pub canvas_white_on_black: bool,
    /// Folder exports are written to.
    pub export_dir: String,
    pub transfer_source: Option<Modality>,
    pub transfer_target: Option<Modality>,
    pub transfer_features: TransferFeatures,
    /// The low-resource curves' noise slider (`0..=1`, see
    /// [`crate::preprocess::degrade::NoiseLevel`]).
    pub low_resource_noise: f32,
    /// The input device to record from (an [`crate::audio_io::InputDevice::id`]); `None`: the
    /// system default.
    pub input_device: Option<String>,
    /// Playback volume, 0..1.
    pub volume: f32,
    /// What a drag on the map does.
    pub map_tool: crate::ui::selection::MapTool,
    /// Which gallery items the map and the selection show.
    pub map_filter: crate::ui::selection::MapFilter,
    /// Presenter mode: large text and one focused panel, for projectors.
    pub presenter: bool,
    /// The panel presenter mode shows.
    pub presenter_focus: PresenterFocus,
    /// The open lesson and step.
    pub lesson: LessonPosition,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            recent: Vec::new(),
            label_sets: BTreeMap::new(),
            panels: Panels::default(),
            tab: CentralTab::Input,
            map_coloring: MapColoring::Modality,
            map_similar_to: String::new(),
            map_similar_to_selected: false,
            map_projection: Projection::Pca,
            map_show_codebook: false,
            map_show_links: true,
            usage_sort: UsageSort::Usage,
            k: 5,
            canvas_white_on_black: true,
            export_dir: "transference-export".into(),
            transfer_source: None,
            transfer_target: None,
            transfer_features: TransferFeatures::default(),
            low_resource_noise: 0.0,
            input_device: None,
            volume: 0.8,
            map_tool: Default::default(),
            map_filter: Default::default(),
            presenter: false,
            presenter_focus: PresenterFocus::Central,
            lesson: LessonPosition::default(),
        }
    }
}

impl Settings {
    /// Puts `dir` first in the recent list.
    pub fn remember(&mut self, dir: &Path) {
        self.recent.retain(|d| d != dir);
        self.recent.insert(0, dir.to_path_buf());
        self.recent.truncate(MAX_RECENT);
    }
}

/// A t-SNE or UMAP layout of the current model's gallery, complete or in progress.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapLayout {
    /// One point per gallery item (empty until the first snapshot).
    pub xy: Vec<[f32; 2]>,
    /// 0..1.
    pub fraction: f32,
    /// Time it took, once complete.
    pub seconds: Option<f64>,
    /// Why it could not be computed.
    pub failed: Option<String>,
}

impl MapLayout {
    /// Complete or failed: nothing more will come.
    pub fn finished(&self) -> bool {
        self.seconds.is_some() || self.failed.is_some()
    }
}

/// Where an input is in its life.
#[derive(Clone, Debug, PartialEq)]
pub enum InputStatus {
    /// Waiting for the worker.
    Queued,
    /// Sent to the worker.
    Running,
    /// Analysed.
    Done(Box<Analysis>),
    /// The worker refused it; the specific reason.
    Failed(String),
    /// The user cancelled the analyses before this one ran.
    Cancelled,
}

/// One input of the session.
#[derive(Clone, Debug, PartialEq)]
pub struct InputEntry {
    /// Stable identity (selection, textures).
    pub key: u64,
    /// Id of the newest request for it (changes when it is re-analysed).
    pub request_id: u64,
    pub source: InputSource,
    pub name: String,
    /// Modality known before analysis (e.g. a gallery item's), if any.
    pub hint: Option<Modality>,
    pub status: InputStatus,
    /// Zero-shot scores from the latest re-scoring (overrides the analysis' own).
    pub rescored: Option<Vec<LabelScore>>,
}

impl InputEntry {
    /// The analysis, when done.
    pub fn analysis(&self) -> Option<&Analysis> {
        match &self.status {
            InputStatus::Done(a) => Some(a),
            _ => None,
        }
    }

    /// Modality, when known.
    pub fn modality(&self) -> Option<Modality> {
        if let Some(a) = self.analysis() {
            return Some(a.input.modality);
        }
        match &self.source {
            InputSource::Text(_) => Some(Modality::Text),
            InputSource::Drawing { .. } => Some(Modality::Image),
            InputSource::Recording { .. } => Some(Modality::Audio),
            InputSource::Generated { to, .. } => Some(*to),
            InputSource::File(p) => modality_from_extension(p),
            InputSource::GalleryItem(_) => self.hint,
        }
    }

    /// Current zero-shot scores, or why there are none.
    pub fn zero_shot(&self) -> Option<Result<&[LabelScore], &ZeroShotUnavailable>> {
        if let Some(s) = &self.rescored {
            return Some(Ok(s));
        }
        self.analysis().map(|a| match &a.zero_shot {
            Ok(s) => Ok(s.as_slice()),
            Err(e) => Err(e),
        })
    }

    /// The original file on disk, for display and playback.
    pub fn original_path(&self) -> Option<&Path> {
        match &self.source {
            InputSource::File(p) => Some(p),
            _ => None,
        }
    }
}

/// Facts derived once from a loaded model's summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Derived {
    /// Per code: gallery items that use it most, `(gallery index, positions)`.
    pub code_users: Vec<Vec<(usize, u32)>>,
    /// Class names (manifest labels, else sorted distinct gallery labels).
    pub classes: Vec<String>,
    /// Modalities with gallery items.
    pub gallery_modalities: Vec<Modality>,
}

impl Derived {
    /// Computes the derived facts of a summary.
    pub fn new(summary: &ModelSummary) -> Self {
        let k = summary.codebook_size;
        let mut code_users: Vec<Vec<(usize, u32)>> = vec![Vec::new(); k];
        for p in &summary.gallery {
            let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
            for &c in &p.codes {
                *counts.entry(c).or_default() += 1;
            }
            for (c, n) in counts {
                if let Some(list) = code_users.get_mut(c as usize) {
                    list.push((p.index, n));
                }
            }
        }
        for list in &mut code_users {
            list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            list.truncate(TOP_USERS_PER_CODE);
        }
        let mut classes = summary.labels.clone();
        if classes.is_empty() {
            classes = summary
                .gallery
                .iter()
                .filter_map(|p| p.label.clone())
                .collect();
            classes.sort();
            classes.dedup();
        }
        let mut gallery_modalities: Vec<Modality> =
            summary.gallery.iter().map(|p| p.modality).collect();
        gallery_modalities.sort();
        gallery_modalities.dedup();
        Derived {
            code_users,
            classes,
            gallery_modalities,
        }
    }

    /// Index of a class label.
    pub fn class_index(&self, label: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == label)
    }
}

/// Modality of a file judged by its extension only (no file access).
pub use crate::engine::input::modality_from_extension;

/// The editor reads labels and templates by the one rule in [`crate::bundle::prompts`].
pub use crate::bundle::prompts::{parse_labels, parse_templates};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_split_on_commas_and_lines() {
        assert_eq!(
            parse_labels("one, two\nthree,,two\n"),
            vec!["one", "two", "three"]
        );
        assert!(parse_labels("  ,\n").is_empty());
    }

    #[test]
    fn templates_get_a_placeholder() {
        assert_eq!(parse_templates(""), vec!["{label}"]);
        assert_eq!(
            parse_templates("a photo of a {label}\nthe digit"),
            vec!["a photo of a {label}", "the digit {label}"]
        );
    }

    #[test]
    fn settings_round_trip_and_recent_list() {
        let mut s = Settings::default();
        for i in 0..12 {
            s.remember(Path::new(&format!("m{i}")));
        }
        s.remember(Path::new("m3"));
        assert_eq!(s.recent.len(), MAX_RECENT);
        assert_eq!(s.recent[0], PathBuf::from("m3"));
        let json = serde_json::to_string(&s).unwrap();
        let back: Settings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // Old or partial settings still load.
        let partial: Settings = serde_json::from_str(r#"{"k": 3}"#).unwrap();
        assert_eq!(partial.k, 3);
        assert!(partial.panels.map);
    }
}
