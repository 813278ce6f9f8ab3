//! The window's comparison of two models (plain data; of egui only where the maps were
//! drawn): which bundle is being compared, the [`ComparisonView`] the worker sent, and the linked selection and hover of the
//! two maps: an item picked or hovered on one map is picked or hovered on the other through
//! the matched gallery items of the alignment.

use std::path::PathBuf;

use crate::device::DeviceRequest;
use crate::engine::compare::InputRow;
use crate::engine::{ComparisonView, InputSource, Job};

/// One of the two maps of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapSide {
    /// The loaded model's map.
    A = 0,
    /// The compared model's map, laid onto A's.
    B = 1,
}

/// Gallery items picked on the two maps, kept matched.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkedSelection {
    /// A's gallery indices, ascending.
    pub a: Vec<usize>,
    /// B's gallery indices, ascending.
    pub b: Vec<usize>,
}

impl LinkedSelection {
    /// The items of `side`.
    pub fn on(&self, side: MapSide) -> &[usize] {
        match side {
            MapSide::A => &self.a,
            MapSide::B => &self.b,
        }
    }
}

/// The comparison state of the window.
#[derive(Clone, Debug, Default)]
pub struct CompareState {
    /// The bundle being loaded and compared.
    pub loading: Option<PathBuf>,
    /// The last comparison.
    pub view: Option<ComparisonView>,
    /// Inputs are being read by both models again.
    pub reading_inputs: bool,
    pub selection: LinkedSelection,
    /// The item under the pointer, on the map it is under.
    pub hovered: Option<(MapSide, usize)>,
    /// Where the maps (A, B) were drawn last frame: map to screen.
    pub drawn: [Option<egui_plot::PlotTransform>; 2],
}

impl CompareState {
    /// Starts comparing with the bundle `dir`, reading `inputs` with both models.
    pub fn start(&mut self, dir: PathBuf, device: DeviceRequest, inputs: Vec<InputSource>) -> Job {
        self.loading = Some(dir.clone());
        Job::Compare {
            dir,
            device,
            inputs,
        }
    }

    /// Asks for `inputs` to be read by both models again; `None` without a comparison or
    /// while one is running.
    pub fn read_again(&mut self, inputs: Vec<InputSource>) -> Option<Job> {
        if self.view.is_none() || self.loading.is_some() || self.reading_inputs {
            return None;
        }
        self.reading_inputs = true;
        Some(Job::CompareInputs { inputs })
    }

    /// A comparison arrived.
    pub fn compared(&mut self, view: ComparisonView) {
        self.loading = None;
        self.selection = LinkedSelection::default();
        self.hovered = None;
        self.view = Some(view);
    }

    /// The inputs were read by both models again.
    pub fn inputs_read(&mut self, rows: Vec<InputRow>) {
        self.reading_inputs = false;
        if let Some(v) = &mut self.view {
            v.comparison.inputs = rows;
        }
    }

    /// A comparison job failed.
    pub fn failed(&mut self) {
        self.loading = None;
        self.reading_inputs = false;
    }

    /// Forgets the comparison (closed, or model A replaced: its matches no longer hold).
    pub fn close(&mut self) {
        *self = CompareState::default();
    }

    /// Picks `item` on `side` (added to the picked items when `add`, else replacing them; an
    /// item picked again with `add` is dropped) and the items matched with the picks on the
    /// other map.
    pub fn pick(&mut self, side: MapSide, item: usize, add: bool) {
        let Some(al) = self
            .view
            .as_ref()
            .and_then(|v| v.comparison.alignment.as_ref())
        else {
            return;
        };
        let mut picked = if add {
            self.selection.on(side).to_vec()
        } else {
            Vec::new()
        };
        match picked.iter().position(|&i| i == item) {
            Some(at) if add => {
                picked.remove(at);
            }
            Some(_) => {}
            None => picked.push(item),
        }
        picked.sort_unstable();
        let mut other = match side {
            MapSide::A => al.in_b(&picked),
            MapSide::B => al.in_a(&picked),
        };
        other.sort_unstable();
        self.selection = match side {
            MapSide::A => LinkedSelection {
                a: picked,
                b: other,
            },
            MapSide::B => LinkedSelection {
                a: other,
                b: picked,
            },
        };
    }

    /// Clears the picks on both maps.
    pub fn clear_picks(&mut self) {
        self.selection = LinkedSelection::default();
    }

    /// The item hovered on `side`: the one under the pointer there, or the one matched with
    /// the item under the pointer on the other map.
    pub fn hovered_on(&self, side: MapSide) -> Option<usize> {
        let (on, item) = self.hovered?;
        if on == side {
            return Some(item);
        }
        let al = self.view.as_ref()?.comparison.alignment.as_ref()?;
        let matched = match on {
            MapSide::A => al.in_b(&[item]),
            MapSide::B => al.in_a(&[item]),
        };
        matched.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::ModelSummary;
    use crate::engine::compare::{Comparison, ModelSide};
    use crate::index::compare::align_maps;

    fn side(name: &str) -> ModelSide {
        ModelSide {
            dir: PathBuf::from(name),
            name: name.into(),
            codebook_size: 8,
            gallery_items: 4,
        }
    }

    /// A comparison whose B gallery holds A's items 0, 1, 2 as its 2, 0, 1 (and a B-only 3).
    fn state() -> CompareState {
        let a_xy = [[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [5.0, 5.0]];
        let b_xy = [[2.0, 0.0], [0.0, 1.0], [0.0, 0.0], [9.0, 9.0]];
        let alignment = align_maps(&a_xy, &b_xy, vec![(0, 2), (1, 0), (2, 1)]).unwrap();
        let summary: ModelSummary = serde_json::from_value(serde_json::json!({
            "dir": "b", "name": "b", "description": "", "card": "", "modalities": [],
            "codebook_size": 8, "d_model": 4, "temperature": 0.05, "labels": [], "prompts": [],
            "device": "cpu", "metrics": {}, "gallery": [], "codebook_xy": [], "stats": null,
            "map_explained": 0.0, "image_grid": null, "audio_clip_secs": null,
            "generation_targets": [], "load_ms": 0.0
        }))
        .unwrap();
        let mut s = CompareState::default();
        let job = s.start(PathBuf::from("b"), DeviceRequest::Cpu, vec![]);
        assert!(matches!(job, Job::Compare { .. }));
        assert!(s.loading.is_some());
        s.compared(ComparisonView {
            comparison: Comparison {
                a: side("a"),
                b: side("b"),
                metrics: crate::index::compare::metric_rows(&BTreeMap::new(), &BTreeMap::new()),
                alignment: Some(alignment),
                alignment_unavailable: None,
                sets: vec![],
                inputs: vec![],
            },
            summary,
        });
        s
    }

    #[test]
    fn picks_on_one_map_select_the_matched_items_on_the_other() {
        let mut s = state();
        assert!(s.loading.is_none());
        s.pick(MapSide::A, 0, false);
        assert_eq!(
            s.selection,
            LinkedSelection {
                a: vec![0],
                b: vec![2]
            }
        );
        s.pick(MapSide::A, 1, true);
        assert_eq!(
            s.selection,
            LinkedSelection {
                a: vec![0, 1],
                b: vec![0, 2]
            }
        );
        // Picked again with add: dropped, on both maps.
        s.pick(MapSide::A, 0, true);
        assert_eq!(
            s.selection,
            LinkedSelection {
                a: vec![1],
                b: vec![0]
            }
        );
        // A pick on B replaces; B's own item 3 has no match on A.
        s.pick(MapSide::B, 3, false);
        assert_eq!(
            s.selection,
            LinkedSelection {
                a: vec![],
                b: vec![3]
            }
        );
        s.pick(MapSide::B, 1, true);
        assert_eq!(
            s.selection,
            LinkedSelection {
                a: vec![2],
                b: vec![1, 3]
            }
        );
        s.clear_picks();
        assert_eq!(s.selection, LinkedSelection::default());
    }

    #[test]
    fn hover_on_one_map_shows_on_the_other() {
        let mut s = state();
        s.hovered = Some((MapSide::B, 0));
        assert_eq!(s.hovered_on(MapSide::B), Some(0));
        assert_eq!(s.hovered_on(MapSide::A), Some(1));
        s.hovered = Some((MapSide::B, 3));
        assert_eq!(s.hovered_on(MapSide::A), None);
    }

    #[test]
    fn reading_again_waits_for_the_comparison_and_for_itself() {
        let mut s = CompareState::default();
        assert!(s.read_again(vec![]).is_none());
        let mut s = state();
        assert!(matches!(
            s.read_again(vec![]),
            Some(Job::CompareInputs { .. })
        ));
        assert!(s.read_again(vec![]).is_none(), "one at a time");
        s.inputs_read(vec![]);
        assert!(!s.reading_inputs);
        s.close();
        assert!(s.view.is_none());
    }
}
