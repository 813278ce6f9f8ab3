//! Selecting gallery items on the map: the shape drawn (a box or a lasso, in map
//! coordinates), the filters (label, modality, source text), what the selection holds (counts
//! per class and modality, the codes it uses most) and its export as CSV and JSON with the
//! real gallery ids and source paths. Plain data and arithmetic, unit-tested without egui.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::GalleryPoint;
use crate::error::{Error, Result};
use crate::modality::Modality;

/// File names of a selection export inside the export folder.
pub const SELECTION_CSV: &str = "selection.csv";
/// See [`SELECTION_CSV`].
pub const SELECTION_JSON: &str = "selection.json";
/// Codes listed as "used most" by a selection.
pub const TOP_CODES: usize = 12;

/// How the map reacts to a drag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MapTool {
    /// Drag pans, scroll zooms.
    #[default]
    Pan,
    /// Drag a rectangle to select.
    Box,
    /// Draw a free outline to select.
    Lasso,
}

/// What selects gallery items: a region of the map, in map (plot) coordinates, or a code.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectionShape {
    /// Corners in any order.
    Box { a: [f64; 2], b: [f64; 2] },
    /// A closed outline (the last point joins the first); fewer than 3 points select nothing.
    Lasso(Vec<[f64; 2]>),
    /// The items that use this code (a code page's *Show on map*), wherever they lie.
    Code(u32),
    /// These gallery items (ascending), wherever they lie: a confusion cell's items, named
    /// by `what` ("true seven, predicted one").
    Items { what: String, items: Vec<usize> },
}

impl SelectionShape {
    /// True when gallery item `p`, drawn at `xy`, is selected.
    pub fn selects(&self, p: &GalleryPoint, xy: [f64; 2]) -> bool {
        match self {
            SelectionShape::Code(code) => p.codes.contains(code),
            SelectionShape::Items { items, .. } => items.binary_search(&p.index).is_ok(),
            region => region.contains(xy),
        }
    }

    /// True when `p` lies inside (a box includes its edges; a lasso uses the even-odd rule; a
    /// code or a list of items is no region and contains no point).
    pub fn contains(&self, p: [f64; 2]) -> bool {
        match self {
            SelectionShape::Code(_) | SelectionShape::Items { .. } => false,
            SelectionShape::Box { a, b } => {
                let (x0, x1) = (a[0].min(b[0]), a[0].max(b[0]));
                let (y0, y1) = (a[1].min(b[1]), a[1].max(b[1]));
                (x0..=x1).contains(&p[0]) && (y0..=y1).contains(&p[1])
            }
            SelectionShape::Lasso(outline) => {
                if outline.len() < 3 {
                    return false;
                }
                let mut inside = false;
                let mut j = outline.len() - 1;
                for i in 0..outline.len() {
                    let (pi, pj) = (outline[i], outline[j]);
                    if (pi[1] > p[1]) != (pj[1] > p[1])
                        && p[0] < (pj[0] - pi[0]) * (p[1] - pi[1]) / (pj[1] - pi[1]) + pi[0]
                    {
                        inside = !inside;
                    }
                    j = i;
                }
                inside
            }
        }
    }

    /// "box", "lasso", "code N" or what the items are, for the window.
    pub fn kind(&self) -> String {
        match self {
            SelectionShape::Box { .. } => "box".into(),
            SelectionShape::Lasso(_) => "lasso".into(),
            SelectionShape::Code(code) => format!("code {code}"),
            SelectionShape::Items { what, .. } => what.clone(),
        }
    }
}

/// Which gallery items the map and the selection show.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MapFilter {
    /// Part of the label, any case; empty: any label.
    pub label: String,
    /// Only this modality; `None`: every modality.
    pub modality: Option<Modality>,
    /// Part of the source or the text, any case; empty: any.
    pub source: String,
}

impl MapFilter {
    /// True when any filter is set.
    pub fn is_active(&self) -> bool {
        !self.label.trim().is_empty() || self.modality.is_some() || !self.source.trim().is_empty()
    }

    /// True when `p` passes every filter.
    pub fn matches(&self, p: &GalleryPoint) -> bool {
        let has = |haystack: &str, needle: &str| {
            let needle = needle.trim().to_lowercase();
            needle.is_empty() || haystack.to_lowercase().contains(&needle)
        };
        self.modality.is_none_or(|m| p.modality == m)
            && has(p.label.as_deref().unwrap_or(""), &self.label)
            && (has(&p.source, &self.source)
                || p.text.as_deref().is_some_and(|t| has(t, &self.source)))
    }
}

/// A selection on the map: its shape and the gallery items inside that pass the filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    pub shape: SelectionShape,
    /// Gallery indices, ascending.
    pub items: Vec<usize>,
}

impl Selection {
    /// The items of `points` inside `shape` that pass `filter` (positions from `xy`).
    pub fn new(
        shape: SelectionShape,
        points: &[GalleryPoint],
        xy: impl Fn(&GalleryPoint) -> [f64; 2],
        filter: &MapFilter,
    ) -> Self {
        let items = points
            .iter()
            .filter(|p| filter.matches(p) && shape.selects(p, xy(p)))
            .map(|p| p.index)
            .collect();
        Selection { shape, items }
    }
}

/// What a selection holds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SelectionSummary {
    /// Items per modality, in modality order.
    pub per_modality: Vec<(Modality, usize)>,
    /// Items per class label ("unlabelled" for none), most first.
    pub per_class: Vec<(String, usize)>,
    /// The codes used by most items (each item counted once per code), most first.
    pub top_codes: Vec<(u32, usize)>,
}

/// Counts for the items `selected` (gallery indices) of `points`.
pub fn summarize(points: &[GalleryPoint], selected: &[usize]) -> SelectionSummary {
    let mut modality = BTreeMap::new();
    let mut class: BTreeMap<String, usize> = BTreeMap::new();
    let mut codes: BTreeMap<u32, usize> = BTreeMap::new();
    for p in selected.iter().filter_map(|&i| points.get(i)) {
        *modality.entry(p.modality.index()).or_insert(0) += 1;
        let label = p.label.clone().unwrap_or_else(|| "unlabelled".into());
        *class.entry(label).or_insert(0) += 1;
        let mut used = p.codes.clone();
        used.sort_unstable();
        used.dedup();
        for c in used {
            *codes.entry(c).or_insert(0) += 1;
        }
    }
    // Most first; ties keep name or code order (the maps are sorted and the sort is stable).
    let mut per_class: Vec<(String, usize)> = class.into_iter().collect();
    per_class.sort_by_key(|c| std::cmp::Reverse(c.1));
    let mut top_codes: Vec<(u32, usize)> = codes.into_iter().collect();
    top_codes.sort_by_key(|c| std::cmp::Reverse(c.1));
    top_codes.truncate(TOP_CODES);
    SelectionSummary {
        per_modality: Modality::ALL
            .iter()
            .filter_map(|m| modality.get(&m.index()).map(|&n| (*m, n)))
            .collect(),
        per_class,
        top_codes,
    }
}

/// One exported item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SelectionRow {
    /// Row of the item in the bundle's gallery.
    pub id: usize,
    pub modality: Modality,
    pub label: String,
    /// Where the item came from (data set and index, or file name).
    pub source: String,
    /// Absolute path of its thumbnail or clip, if any.
    pub media: String,
    pub text: String,
    /// Position on the map it was selected on.
    pub x: f64,
    pub y: f64,
    /// Its codes, space-separated.
    pub codes: String,
}

/// The rows of `selected` (gallery indices) for export.
pub fn rows(
    points: &[GalleryPoint],
    selected: &[usize],
    xy: impl Fn(&GalleryPoint) -> [f64; 2],
) -> Vec<SelectionRow> {
    selected
        .iter()
        .filter_map(|&i| points.get(i))
        .map(|p| {
            let [x, y] = xy(p);
            SelectionRow {
                id: p.index,
                modality: p.modality,
                label: p.label.clone().unwrap_or_default(),
                source: p.source.clone(),
                media: p
                    .media
                    .as_ref()
                    .map(|m| absolute(m).display().to_string())
                    .unwrap_or_default(),
                text: p.text.clone().unwrap_or_default(),
                x,
                y,
                codes: p
                    .codes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
            }
        })
        .collect()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Writes `rows` as `selection.csv` and `selection.json` in `dir` (each written safely);
/// returns the two paths.
pub fn export(dir: &Path, rows: &[SelectionRow]) -> Result<Vec<PathBuf>> {
    let csv_path = dir.join(SELECTION_CSV);
    crate::safe_write::write_csv(&csv_path, rows)?;
    let json_path = dir.join(SELECTION_JSON);
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "count": rows.len(),
        "items": rows,
    }))
    .map_err(|e| Error::Internal(e.to_string()))?;
    crate::safe_write::write_file(&json_path, &json)?;
    Ok(vec![csv_path, json_path])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(index: usize, xy: [f32; 2], modality: Modality, label: &str) -> GalleryPoint {
        GalleryPoint {
            index,
            modality,
            label: Some(label.into()),
            source: format!("set/{index}"),
            text: None,
            media: None,
            xy,
            codes: vec![index as u32 % 3, 7, 7],
        }
    }

    fn xy(p: &GalleryPoint) -> [f64; 2] {
        [f64::from(p.xy[0]), f64::from(p.xy[1])]
    }

    #[test]
    fn box_and_lasso_contain_what_they_should() {
        let b = SelectionShape::Box {
            a: [1.0, 1.0],
            b: [-1.0, -1.0],
        };
        assert!(b.contains([0.0, 0.0]) && b.contains([1.0, -1.0]));
        assert!(!b.contains([1.1, 0.0]));
        // An L-shaped (concave) lasso: the notch is outside.
        let l = SelectionShape::Lasso(vec![
            [0.0, 0.0],
            [2.0, 0.0],
            [2.0, 1.0],
            [1.0, 1.0],
            [1.0, 2.0],
            [0.0, 2.0],
        ]);
        assert!(l.contains([0.5, 0.5]) && l.contains([0.5, 1.5]) && l.contains([1.5, 0.5]));
        assert!(!l.contains([1.5, 1.5]), "the notch");
        assert!(!l.contains([3.0, 0.5]));
        assert!(!SelectionShape::Lasso(vec![[0.0, 0.0], [1.0, 1.0]]).contains([0.5, 0.5]));
    }

    #[test]
    fn filters_narrow_a_selection_and_summaries_count_it() {
        let points = vec![
            point(0, [0.0, 0.0], Modality::Image, "seven"),
            point(1, [0.1, 0.0], Modality::Audio, "seven"),
            point(2, [0.2, 0.0], Modality::Audio, "three"),
            point(3, [5.0, 5.0], Modality::Text, "seven"),
        ];
        let shape = SelectionShape::Box {
            a: [-1.0, -1.0],
            b: [1.0, 1.0],
        };
        let all = Selection::new(shape.clone(), &points, xy, &MapFilter::default());
        assert_eq!(all.items, vec![0, 1, 2]);
        let audio = MapFilter {
            modality: Some(Modality::Audio),
            ..Default::default()
        };
        assert_eq!(
            Selection::new(shape.clone(), &points, xy, &audio).items,
            vec![1, 2]
        );
        let sev = MapFilter {
            label: " SEV ".into(),
            source: "set/".into(),
            ..Default::default()
        };
        assert!(sev.is_active());
        assert_eq!(Selection::new(shape, &points, xy, &sev).items, vec![0, 1]);

        let s = summarize(&points, &all.items);
        assert_eq!(
            s.per_modality,
            vec![(Modality::Image, 1), (Modality::Audio, 2)]
        );
        assert_eq!(s.per_class[0], ("seven".to_string(), 2));
        // Code 7 appears twice in every item but counts once per item.
        assert_eq!(s.top_codes[0], (7, 3));
    }

    #[test]
    fn export_writes_csv_and_json_with_ids_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let mut points = vec![
            point(0, [0.0, 0.0], Modality::Image, "seven"),
            point(1, [1.0, 2.0], Modality::Audio, "three, \"quoted\""),
        ];
        points[1].media = Some(PathBuf::from("/data/clip 1.wav"));
        let rows = rows(&points, &[1], xy);
        let files = export(dir.path(), &rows).unwrap();
        assert_eq!(files.len(), 2);
        let mut reader = csv::Reader::from_path(&files[0]).unwrap();
        let back: Vec<SelectionRow> = reader.deserialize().map(|r| r.unwrap()).collect();
        assert_eq!(back, rows);
        assert_eq!(back[0].id, 1);
        assert_eq!(back[0].media, "/data/clip 1.wav");
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
        assert_eq!(json["count"], 1);
        assert_eq!(json["items"][0]["label"], "three, \"quoted\"");
        assert_eq!(json["items"][0]["codes"], "1 7 7");
    }
}
