//! The map's gallery layer, UI side. Every gallery item is a pixel mark in one image that a
//! [`Rasterizer`] thread draws for the map's current view; the window draws that image as one
//! plot item, so a frame costs the same for a hundred items or a million. While a newer image
//! is on its way the last one stays, placed at the map rectangle it was made for, so it pans
//! and zooms with the plot. What the image shows (positions, colours, filtered-out items, the
//! selection and the users of the focused code as rings) is rebuilt only when one of those
//! changes; hover and click find items through a [`PointGrid`] built once per layout.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use egui::{Color32, TextureHandle, TextureOptions};
use egui_plot::{PlotImage, PlotPoint, PlotTransform};

use crate::engine::GalleryPoint;
use crate::engine::protocol::GalleryZeroShot;
use crate::modality::Modality;
use crate::ui::failures::source_group;
use crate::ui::map_grid::PointGrid;
use crate::ui::map_raster::{BEHIND, MapScene, RasterView, Rasterizer};
use crate::ui::selection::{MapFilter, Selection, SelectionShape};
use crate::ui::session::Session;
use crate::ui::state::{MapColoring, Settings};
use crate::ui::text::short;
use crate::ui::theme;

/// Radius (points) of a gallery item's mark.
const POINT_RADIUS: f32 = 3.5;
/// Radius (points) of an item hidden by the filter.
const FILTERED_RADIUS: f32 = 2.5;
/// Radius (points) of the ring around a selected item.
const SELECTED_RING_RADIUS: f32 = 5.5;
/// Radius (points) of the ring around an item that uses the focused code.
const USER_RING_RADIUS: f32 = 6.5;
/// Margin around the items' bounding box that the image covers, as a fraction of its size
/// (room for the marks of the outermost items).
const EXTENT_MARGIN: f64 = 0.03;
/// Largest image side in pixels.
const MAX_IMAGE_SIDE_PX: usize = 4096;

/// Identity of what the image shows; cheap to compute every frame.
#[derive(Clone, Debug, PartialEq)]
struct SceneKey {
    /// Address and length of the gallery and of the layout's positions (a new model or a new
    /// layout snapshot is a new allocation while the old one is still alive).
    gallery: (usize, usize),
    layout: Option<(usize, usize)>,
    coloring: MapColoring,
    classes: Vec<String>,
    filter: MapFilter,
    focus: Option<u32>,
    selection: Option<(usize, usize, SelectionShape)>,
    /// Address and length of the zero-shot labels' vector and of the similarities.
    zero_shot: Option<(usize, usize)>,
    similarity: Option<(usize, usize)>,
}

/// What a map's gallery layer shows: plain data from the window's session, or from a
/// comparison of two models.
pub struct SceneSource<'a> {
    pub gallery: &'a [GalleryPoint],
    /// Positions in gallery order (a t-SNE or UMAP layout, a map laid onto another); `None`:
    /// each point's own PCA position.
    pub layout: Option<&'a [[f32; 2]]>,
    pub coloring: MapColoring,
    /// Class names, in colour order.
    pub classes: &'a [String],
    pub filter: &'a MapFilter,
    /// The focused code: its users get rings.
    pub focus: Option<u32>,
    /// Items ringed as selected.
    pub selection: Option<&'a Selection>,
    /// Every item's zero-shot label, for [`MapColoring::Correctness`]; `None`: not (yet)
    /// known, every item drawn as not scored.
    pub zero_shot: Option<&'a GalleryZeroShot>,
    /// Every item's similarity to a query, for [`MapColoring::Similarity`]; `None`: not (yet)
    /// known, every item drawn as not scored.
    pub similarity: Option<&'a [f32]>,
}

/// The gallery layer of the map: scene, picking grid, image and its rasteriser.
pub struct MapCanvas {
    rasterizer: Rasterizer,
    key: Option<SceneKey>,
    scene: Arc<MapScene>,
    /// Legend entries in order: name and colour.
    legend: Vec<(String, Color32)>,
    /// Map rectangle (lower-left, upper-right) that images cover.
    extent: Option<[[f64; 2]; 2]>,
    grid: PointGrid,
    texture: Option<TextureHandle>,
    /// View, generation and items in view of the image in `texture`.
    shown: Option<(RasterView, u64, usize)>,
    requested: Option<(RasterView, u64)>,
    /// Oldest scene generation whose images may still be shown (the newest image wins even
    /// when the scene moved on meanwhile, e.g. during a t-SNE run).
    accept_from: u64,
}

impl MapCanvas {
    /// Starts the rasteriser thread (it repaints `ctx` when an image is ready).
    pub fn new(ctx: &egui::Context) -> Self {
        MapCanvas {
            rasterizer: Rasterizer::new(ctx.clone()),
            key: None,
            scene: Arc::default(),
            legend: Vec::new(),
            extent: None,
            grid: PointGrid::default(),
            texture: None,
            shown: None,
            requested: None,
            accept_from: 0,
        }
    }

    /// Forgets the scene (no model, or a model without a gallery).
    pub fn clear(&mut self) {
        self.key = None;
        // Generations keep counting up, so an image still on its way is never shown.
        let generation = self.scene.generation + 1;
        self.scene = Arc::new(MapScene {
            generation,
            ..Default::default()
        });
        self.accept_from = generation;
        self.extent = None;
        self.grid = PointGrid::default();
        self.shown = None;
        self.requested = None;
        self.texture = None;
    }

    /// Rebuilds the scene of the window's map from the session: see [`MapCanvas::sync_scene`];
    /// `layout` is the shown t-SNE or UMAP layout (None: PCA), `focus` the code whose users
    /// are ringed.
    pub fn sync(
        &mut self,
        session: &Session,
        settings: &Settings,
        layout: Option<&[[f32; 2]]>,
        focus: Option<u32>,
    ) {
        let Some(summary) = &session.summary else {
            self.clear();
            return;
        };
        self.sync_scene(&SceneSource {
            gallery: &summary.gallery,
            layout,
            coloring: settings.map_coloring,
            classes: &session.derived.classes,
            filter: &settings.map_filter,
            focus,
            selection: session.selection.as_ref(),
            zero_shot: session.gallery_zero_shot.as_ref(),
            similarity: session
                .gallery_similarity
                .as_ref()
                .map(|s| s.cosine.as_slice()),
        });
    }

    /// Rebuilds the scene if the gallery, layout, colouring, filter, focused code or
    /// selection changed.
    pub fn sync_scene(&mut self, source: &SceneSource<'_>) {
        let gallery = source.gallery;
        let layout = source.layout;
        let key = SceneKey {
            gallery: (gallery.as_ptr() as usize, gallery.len()),
            layout: layout.map(|l| (l.as_ptr() as usize, l.len())),
            coloring: source.coloring,
            classes: source.classes.to_vec(),
            filter: source.filter.clone(),
            focus: source.focus,
            selection: source
                .selection
                .map(|s| (s.items.as_ptr() as usize, s.items.len(), s.shape.clone())),
            zero_shot: source
                .zero_shot
                .map(|z| (z.predicted.as_ptr() as usize, z.predicted.len())),
            similarity: source.similarity.map(|s| (s.as_ptr() as usize, s.len())),
        };
        if self.key.as_ref() == Some(&key) {
            return;
        }
        let moved = self
            .key
            .as_ref()
            .is_none_or(|k| k.gallery != key.gallery || k.layout != key.layout);
        let xy = if moved {
            let xy: Vec<[f32; 2]> = match layout {
                Some(l) => l.to_vec(),
                None => gallery.iter().map(|p| p.xy).collect(),
            };
            self.grid = PointGrid::new(&xy);
            let extent = extent_of(&xy);
            // An image of a map of another size (another model or projection) would widen
            // the plot's automatic bounds: hide it until the new one arrives. Snapshots of a
            // layout in progress keep showing the last image meanwhile.
            if !similar(self.extent, extent) {
                self.shown = None;
                self.accept_from = self.scene.generation + 1;
            }
            self.extent = extent;
            Arc::new(xy)
        } else {
            self.scene.xy.clone()
        };
        let (paint, palette, mut legend) = paint(source);
        let mut rings = Vec::new();
        if let Some(code) = key.focus {
            let users = gallery
                .iter()
                .filter(|p| p.codes.contains(&code))
                .map(|p| p.index as u32)
                .collect();
            rings.push((users, theme::highlight(), USER_RING_RADIUS));
            legend.push((format!("uses code {code}"), theme::highlight()));
        }
        if let Some(selection) = source.selection {
            let items = selection.items.iter().map(|&i| i as u32).collect();
            rings.push((items, theme::selection(), SELECTED_RING_RADIUS));
            legend.push((
                format!("selected ({})", selection.items.len()),
                theme::selection(),
            ));
        }
        self.scene = Arc::new(MapScene {
            xy,
            paint,
            palette,
            rings,
            generation: self.scene.generation + 1,
        });
        self.legend = legend;
        self.key = Some(key);
    }

    /// Legend entries (name, colour) in order.
    pub fn legend(&self) -> &[(String, Color32)] {
        &self.legend
    }

    /// The map rectangle (lower-left, upper-right) the items occupy, with a margin.
    pub fn extent(&self) -> Option<[[f64; 2]; 2]> {
        self.extent
    }

    /// The gallery item nearest to map point `p` within `radius` map units.
    pub fn nearest(&self, p: [f64; 2], radius: f64) -> Option<usize> {
        self.grid.nearest(p, radius)
    }

    /// Items inside the view of the image shown, once there is one for the current scene.
    pub fn items_in_view(&self) -> Option<usize> {
        self.shown
            .filter(|(_, generation, _)| *generation == self.scene.generation)
            .map(|(_, _, n)| n)
    }

    /// The image to draw, placed at the map rectangle it was made for.
    pub fn image(&self) -> Option<PlotImage> {
        let (texture, (view, _, _)) = (self.texture.as_ref()?, self.shown?);
        let center = PlotPoint::new(
            (view.min[0] + view.max[0]) / 2.0,
            (view.min[1] + view.max[1]) / 2.0,
        );
        let size = egui::vec2(
            (view.max[0] - view.min[0]) as f32,
            (view.max[1] - view.min[1]) as f32,
        );
        Some(PlotImage::new("", texture.id(), center, size).allow_hover(false))
    }

    /// Takes a finished image if one arrived and asks for one of the view `transform` shows
    /// when the image shown (or on its way) was made for another view or scene.
    pub fn update(&mut self, ctx: &egui::Context, transform: &PlotTransform) {
        let newest_shown = self.shown.map_or(0, |(_, generation, _)| generation);
        if let Some(raster) = self.rasterizer.poll()
            && raster.generation >= self.accept_from.max(newest_shown)
        {
            let shown = (raster.view, raster.generation, raster.items_in_view);
            match &mut self.texture {
                Some(t) => t.set(raster.image, TextureOptions::LINEAR),
                None => {
                    self.texture =
                        Some(ctx.load_texture("map-points", raster.image, TextureOptions::LINEAR))
                }
            }
            self.shown = Some(shown);
        }
        let Some(view) = self.view_for(transform, ctx.pixels_per_point()) else {
            return;
        };
        let wanted = (view, self.scene.generation);
        if self.requested != Some(wanted) {
            self.rasterizer.request(self.scene.clone(), view);
            self.requested = Some(wanted);
        }
    }

    /// The part of the extent the plot shows and its size in pixels; None when none shows.
    fn view_for(&self, transform: &PlotTransform, pixels_per_point: f32) -> Option<RasterView> {
        let [lo, hi] = self.extent?;
        let (bounds, frame) = (transform.bounds(), transform.frame());
        let (bmin, bmax) = (bounds.min(), bounds.max());
        let min = [lo[0].max(bmin[0]), lo[1].max(bmin[1])];
        let max = [hi[0].min(bmax[0]), hi[1].min(bmax[1])];
        if min[0] >= max[0] || min[1] >= max[1] {
            return None;
        }
        let px = |part: f64, whole: f64, screen: f32| {
            ((part / whole * f64::from(screen * pixels_per_point)).round() as usize)
                .clamp(1, MAX_IMAGE_SIDE_PX)
        };
        Some(RasterView {
            min,
            max,
            width_px: px(max[0] - min[0], bounds.width(), frame.width()),
            height_px: px(max[1] - min[1], bounds.height(), frame.height()),
            pixels_per_point,
        })
    }
}

/// True when both extents exist and their sides differ by less than a factor of 2.
fn similar(a: Option<[[f64; 2]; 2]>, b: Option<[[f64; 2]; 2]>) -> bool {
    let (Some([alo, ahi]), Some([blo, bhi])) = (a, b) else {
        return false;
    };
    (0..2).all(|k| {
        let ratio = (ahi[k] - alo[k]) / (bhi[k] - blo[k]);
        (0.5..2.0).contains(&ratio)
    })
}

/// Bounding box of the finite positions with [`EXTENT_MARGIN`] around it.
fn extent_of(xy: &[[f32; 2]]) -> Option<[[f64; 2]; 2]> {
    let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
    for p in xy.iter().filter(|p| p[0].is_finite() && p[1].is_finite()) {
        for a in 0..2 {
            lo[a] = lo[a].min(f64::from(p[a]));
            hi[a] = hi[a].max(f64::from(p[a]));
        }
    }
    if lo[0] > hi[0] {
        return None;
    }
    let pad = [0, 1].map(|a| ((hi[a] - lo[a]) * EXTENT_MARGIN).max(1e-3));
    Some([
        [lo[0] - pad[0], lo[1] - pad[1]],
        [hi[0] + pad[0], hi[1] + pad[1]],
    ])
}

/// Palette entry of every gallery item (by the chosen colouring; [`BEHIND`] for items the
/// filter hides), the palette and the legend (in modality or class order).
fn paint(source: &SceneSource<'_>) -> (Vec<u16>, Vec<(Color32, f32)>, Legend) {
    let classes: HashMap<&str, usize> = source
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    // Source groups in name order, when the map is coloured by source.
    let mut source_groups: Vec<&str> = Vec::new();
    if source.coloring == MapColoring::Source {
        source_groups = source
            .gallery
            .iter()
            .map(|p| source_group(&p.source))
            .collect();
        source_groups.sort_unstable();
        source_groups.dedup();
    }
    let bins = SimilarityBins::new(source);
    let filter = source.filter;
    let filtering = filter.is_active();
    let mut palette = vec![(theme::filtered_out(), FILTERED_RADIUS)];
    // Group (modality, class or source order; unlabelled last) → palette entry and legend
    // name.
    let unlabelled = source
        .classes
        .len()
        .max(Modality::ALL.len())
        .max(source_groups.len())
        .max(SIMILARITY_BINS);
    let mut entries: Vec<Option<u16>> = vec![None; unlabelled + 1];
    let mut groups: BTreeMap<usize, (String, u16)> = BTreeMap::new();
    let mut any_filtered = false;
    let paint = source
        .gallery
        .iter()
        .map(|p| {
            if filtering && !filter.matches(p) {
                any_filtered = true;
                return BEHIND;
            }
            let order = match source.coloring {
                MapColoring::Modality => p.modality.index(),
                MapColoring::Class => p
                    .label
                    .as_deref()
                    .and_then(|l| classes.get(l).copied())
                    .unwrap_or(usize::MAX),
                MapColoring::Correctness => correctness_order(source.zero_shot, p),
                MapColoring::Source => source_groups
                    .binary_search(&source_group(&p.source))
                    .unwrap_or(usize::MAX),
                MapColoring::Similarity => bins.order(p.index),
            };
            *entries[order.min(unlabelled)].get_or_insert_with(|| {
                let (name, color) = match source.coloring {
                    MapColoring::Modality => (
                        p.modality.name().to_string(),
                        theme::modality_color(p.modality),
                    ),
                    MapColoring::Class if order == usize::MAX => {
                        ("unlabelled".to_string(), theme::unlabelled())
                    }
                    MapColoring::Class => {
                        (source.classes[order].clone(), theme::class_color(order))
                    }
                    MapColoring::Correctness => correctness_group(order),
                    MapColoring::Source => (
                        source_group(&p.source).to_string(),
                        theme::class_color(order),
                    ),
                    MapColoring::Similarity => bins.group(order),
                };
                let entry = palette.len().min(usize::from(u16::MAX - 1)) as u16;
                palette.push((color, POINT_RADIUS));
                groups.insert(order, (name, entry));
                entry
            })
        })
        .collect();
    let mut legend: Legend = Vec::new();
    if any_filtered {
        legend.push(("filtered out".to_string(), theme::filtered_out()));
    }
    // Many groups (sources, classes) would cover the map: the first ones, then a count.
    let more = groups.len().saturating_sub(LEGEND_GROUPS);
    legend.extend(
        groups
            .into_values()
            .take(if more > 0 {
                LEGEND_GROUPS - 1
            } else {
                LEGEND_GROUPS
            })
            .map(|(name, entry)| (short(&name, LEGEND_NAME_CHARS), palette[entry as usize].0)),
    );
    if more > 0 {
        legend.push((
            format!("… {} more (hover a point)", more + 1),
            theme::unlabelled(),
        ));
    }
    (paint, palette, legend)
}

/// Most legend entries for the colour groups.
const LEGEND_GROUPS: usize = 10;
/// Longest legend name, in characters.
const LEGEND_NAME_CHARS: usize = 34;

/// Legend entries: name and colour.
type Legend = Vec<(String, Color32)>;

/// Bins of the similarity colouring.
const SIMILARITY_BINS: usize = 8;

/// The similarity colouring's bins: equal slices of the range of cosines, most similar first.
struct SimilarityBins<'a> {
    cosine: &'a [f32],
    lo: f32,
    width: f32,
}

impl<'a> SimilarityBins<'a> {
    fn new(source: &SceneSource<'a>) -> Self {
        let cosine = match source.coloring {
            MapColoring::Similarity => source.similarity.unwrap_or(&[]),
            _ => &[],
        };
        let (lo, hi) = cosine
            .iter()
            .filter(|c| c.is_finite())
            .fold((f32::MAX, f32::MIN), |(lo, hi), &c| (lo.min(c), hi.max(c)));
        let width = ((hi - lo) / SIMILARITY_BINS as f32).max(1e-6);
        SimilarityBins { cosine, lo, width }
    }

    /// Group of item `index`: 0 the most similar bin; `usize::MAX` not scored.
    fn order(&self, index: usize) -> usize {
        match self.cosine.get(index) {
            Some(c) if c.is_finite() => {
                let bin = (((c - self.lo) / self.width) as usize).min(SIMILARITY_BINS - 1);
                SIMILARITY_BINS - 1 - bin
            }
            _ => usize::MAX,
        }
    }

    /// Legend name (the bin's cosine range) and colour (the heat ramp) of a group.
    fn group(&self, order: usize) -> (String, Color32) {
        if order >= SIMILARITY_BINS {
            return ("not scored".into(), theme::unlabelled());
        }
        let bin = SIMILARITY_BINS - 1 - order;
        let from = self.lo + bin as f32 * self.width;
        let t = bin as f32 / (SIMILARITY_BINS - 1) as f32;
        (
            format!("cos {:.2} – {:.2}", from, from + self.width),
            theme::heat(t),
        )
    }
}

/// Colour group of `p` when the map shows correct / wrong: 0 wrong, 1 correct, `usize::MAX`
/// not scored (see [`GalleryZeroShot::correct`]).
fn correctness_order(zero_shot: Option<&GalleryZeroShot>, p: &GalleryPoint) -> usize {
    match zero_shot.and_then(|z| z.correct(p.index, p.label.as_deref())) {
        Some(false) => 0,
        Some(true) => 1,
        None => usize::MAX,
    }
}

/// Legend name and colour of a correct / wrong group ([`correctness_order`]): wrong items in
/// the error colour, correct ones muted.
fn correctness_group(order: usize) -> (String, Color32) {
    match order {
        0 => ("wrong zero-shot".into(), theme::error()),
        1 => ("correct".into(), theme::correct_point()),
        _ => ("not scored".into(), theme::unlabelled()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(index: usize, source: &str) -> GalleryPoint {
        GalleryPoint {
            index,
            modality: Modality::Image,
            label: None,
            source: source.into(),
            text: None,
            media: None,
            xy: [0.0, 0.0],
            codes: vec![],
        }
    }

    fn legend_of(gallery: &[GalleryPoint]) -> Legend {
        paint(&SceneSource {
            gallery,
            layout: None,
            coloring: MapColoring::Source,
            classes: &[],
            filter: &MapFilter::default(),
            focus: None,
            selection: None,
            zero_shot: None,
            similarity: None,
        })
        .2
    }

    #[test]
    fn the_source_legend_names_at_most_ten_groups_and_counts_the_rest() {
        let few: Vec<GalleryPoint> = (0..6)
            .map(|i| {
                point(
                    i,
                    &format!("speaker {} recording {i}", ["a", "b", "c"][i % 3]),
                )
            })
            .collect();
        let names: Vec<String> = legend_of(&few).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "speaker a recording",
                "speaker b recording",
                "speaker c recording"
            ]
        );

        let many: Vec<GalleryPoint> = (0..30)
            .map(|i| {
                point(
                    i,
                    &format!("voice-{:02} of a long synthetic family name", i % 15),
                )
            })
            .collect();
        let legend = legend_of(&many);
        assert_eq!(legend.len(), LEGEND_GROUPS);
        assert_eq!(legend.last().unwrap().0, "… 6 more (hover a point)");
        assert!(
            legend
                .iter()
                .all(|(n, _)| n.chars().count() <= LEGEND_NAME_CHARS),
            "{legend:?}"
        );
    }
}
