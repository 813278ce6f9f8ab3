//! The embedding map: gallery items on the model's 2-D projection, coloured by modality or
//! class (every item, drawn as one image rasterised off the UI thread: see
//! [`crate::ui::map_canvas`]), codebook vectors optionally overlaid, current inputs as marks (the selected and the
//! hovered one labelled, the selected one with lines to its nearest neighbours). Zoom and pan
//! with the mouse, hover for details, click a gallery item to make it the query, an input to
//! select it or a code point to open the code's page. The header picks the projection (PCA, instant; t-SNE or UMAP, computed by the
//! worker in the background with a progress bar, points moving as snapshots arrive); on a
//! t-SNE or UMAP map inputs sit among their nearest gallery items and code vectors are not
//! shown.

use std::collections::BTreeMap;

use egui::{Rect, RichText, Ui};
use egui_plot::{Legend, Line, MarkerShape, Plot, PlotPoint, Points, Text};

use crate::engine::{Analysis, GalleryPoint, InputSource};
use crate::index::projection::{Projection, TsneParams, UmapParams, place_by_neighbours};
use crate::modality::Modality;
use crate::ui::code_strip;
use crate::ui::frame_view::FrameView;
use crate::ui::input_view::thumbnail;
use crate::ui::map_canvas::MapCanvas;
use crate::ui::media::MediaCache;
use crate::ui::selection::{MapTool, SelectionShape};
use crate::ui::session::Session;
use crate::ui::state::{MapColoring, Settings};
use crate::ui::text::short;
use crate::ui::{Command, modality_chip, muted, theme};

/// Pointer distance (points) within which a gallery item or an input counts as hovered.
const HOVER_RADIUS: f32 = 10.0;
/// Radius of an input's mark on the map, in points.
const INPUT_MARK_RADIUS: f32 = 9.0;

/// What the map reports back.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MapOutput {
    pub rect: Option<Rect>,
    /// Gallery item under the pointer.
    pub hovered: Option<usize>,
    /// Code point under the pointer (when the codebook is shown).
    pub hovered_code: Option<u32>,
}

/// The similarity colouring's prompt box.
pub const SIMILAR_TO_LABEL: &str = "similar to";
/// The similarity colouring's switch to the selected input.
pub const SIMILAR_TO_SELECTED_LABEL: &str = "the selected input";

/// The similarity colouring's query: a prompt, or the selected input; and what the colours
/// show now.
fn similarity_row(ui: &mut Ui, session: &Session, settings: &mut Settings) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(SIMILAR_TO_LABEL);
        ui.add_enabled(
            !settings.map_similar_to_selected,
            egui::TextEdit::singleline(&mut settings.map_similar_to)
                .hint_text("e.g. seven")
                .desired_width(140.0),
        )
        .labelled_by(label.id);
        ui.checkbox(
            &mut settings.map_similar_to_selected,
            SIMILAR_TO_SELECTED_LABEL,
        );
        match &session.gallery_similarity {
            Some(s) => muted(ui, format!("colours: similarity to {}", s.query.describe())),
            None if settings.map_similar_to_selected && session.selected_input().is_none() => {
                muted(ui, "select an analysed input")
            }
            None => muted(ui, "type a prompt"),
        }
    });
}

/// The colouring option that shows which gallery items get their own label zero-shot.
pub const CORRECT_WRONG_LABEL: &str = "correct / wrong";

/// Draws the map.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    settings: &mut Settings,
    media: &mut MediaCache,
    canvas: &mut MapCanvas,
    commands: &mut Vec<Command>,
) -> MapOutput {
    header(ui, session, settings, canvas.items_in_view());
    ui.horizontal_wrapped(|ui| {
        muted(ui, "colour by");
        ui.selectable_value(
            &mut settings.map_coloring,
            MapColoring::Modality,
            "modality",
        );
        ui.selectable_value(&mut settings.map_coloring, MapColoring::Class, "class");
        ui.selectable_value(
            &mut settings.map_coloring,
            MapColoring::Correctness,
            CORRECT_WRONG_LABEL,
        )
        .on_hover_text(
            "Wrong (in red): gallery items whose zero-shot label, with the current labels and \
             templates, is not their own",
        );
        ui.selectable_value(&mut settings.map_coloring, MapColoring::Source, "source")
            .on_hover_text(
                "Where each item came from: a speaker, a voice, a dataset (its source up to \
                 the item's number)",
            );
        ui.selectable_value(
            &mut settings.map_coloring,
            MapColoring::Similarity,
            "similarity",
        )
        .on_hover_text("Cosine similarity to a typed prompt or to the selected input");
        ui.separator();
        ui.checkbox(&mut settings.map_show_codebook, "codebook");
        ui.checkbox(&mut settings.map_show_links, "neighbour links");
        ui.separator();
        muted(ui, "drag to");
        for (tool, name, hint) in [
            (MapTool::Pan, "pan", "Drag pans, scroll zooms"),
            (
                MapTool::Box,
                "box",
                "Drag a rectangle to select gallery items",
            ),
            (
                MapTool::Lasso,
                "lasso",
                "Draw an outline to select gallery items",
            ),
        ] {
            ui.selectable_value(&mut settings.map_tool, tool, name)
                .on_hover_text(hint);
        }
    });
    if settings.map_coloring == MapColoring::Similarity {
        similarity_row(ui, session, settings);
    }
    let Some(summary) = &session.summary else {
        muted(ui, "Open a model to see its map.");
        canvas.clear();
        return MapOutput::default();
    };
    if summary.gallery.is_empty() {
        muted(ui, "This model has no gallery, so there is no map.");
        canvas.clear();
        return MapOutput::default();
    }
    let gallery = &summary.gallery;
    // Positions: the chosen t-SNE or UMAP layout once it has one, else the PCA in the summary.
    let layout = session.map_layout(settings).map(|l| l.xy.as_slice());
    let xy = |p: &GalleryPoint| crate::ui::session_map::layout_xy(layout, p);
    // Code vectors have PCA positions only.
    let codebook_xy: &[[f32; 2]] = match layout {
        Some(_) => &[],
        None => &summary.codebook_xy,
    };

    let focus = view.focus(session);
    canvas.sync(session, settings, layout, focus);
    let inputs: Vec<_> = session
        .inputs
        .iter()
        .filter_map(|e| {
            e.analysis()
                .and_then(|a| input_xy(a, layout).map(|pos| (e, a, pos)))
        })
        .collect();

    let tool = settings.map_tool;
    let height = ui.available_height().max(200.0);
    let plot = gallery_plot("embedding-map", canvas, height)
        .allow_drag(tool == MapTool::Pan)
        .allow_boxed_zoom(tool == MapTool::Pan);
    let response = plot.show(ui, |plot_ui| {
        if settings.map_show_codebook && !codebook_xy.is_empty() {
            let pts: Vec<[f64; 2]> = codebook_xy
                .iter()
                .map(|v| [v[0] as f64, v[1] as f64])
                .collect();
            plot_ui.points(
                Points::new("codebook", pts)
                    .shape(MarkerShape::Plus)
                    .radius(3.0)
                    .color(theme::codebook_point())
                    .allow_hover(false),
            );
        }
        draw_gallery(plot_ui, canvas);
        if let Some(code) = focus
            && settings.map_show_codebook
            && let Some(v) = codebook_xy.get(code as usize)
        {
            plot_ui.points(
                Points::new(format!("code {code}"), [v[0] as f64, v[1] as f64])
                    .shape(MarkerShape::Plus)
                    .radius(9.0)
                    .color(theme::highlight())
                    .allow_hover(false),
            );
        }
        if let Some(shape) = drag_selection(plot_ui, tool, commands) {
            plot_ui.line(
                Line::new("", shape)
                    .color(theme::selection())
                    .width(1.5)
                    .allow_hover(false),
            );
        }
        if let Some(p) = view.hovered_gallery.and_then(|i| gallery.get(i)) {
            hover_ring(plot_ui, xy(p));
        }
        // Inputs: one set of marks per modality; the selected and the hovered input get a
        // ring, a label and (the selected one) lines to its neighbours.
        let transform = *plot_ui.transform();
        let pointer = plot_ui
            .pointer_coordinate()
            .map(|p| transform.position_from_point(&p));
        let hovered_input = pointer.and_then(|pointer| {
            inputs
                .iter()
                .map(|(e, _, pos)| {
                    let s = transform
                        .position_from_point(&PlotPoint::new(pos[0] as f64, pos[1] as f64));
                    (e.key, s.distance(pointer))
                })
                .filter(|(_, d)| *d <= HOVER_RADIUS)
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(key, _)| key)
        });
        let mut marks: BTreeMap<usize, Vec<[f64; 2]>> = BTreeMap::new();
        for (_, analysis, pos) in &inputs {
            marks
                .entry(analysis.input.modality.index())
                .or_default()
                .push([pos[0] as f64, pos[1] as f64]);
        }
        for m in Modality::ALL {
            if let Some(pts) = marks.remove(&m.index()) {
                plot_ui.points(
                    Points::new("", pts)
                        .shape(theme::modality_marker(m))
                        .radius(INPUT_MARK_RADIUS)
                        .color(theme::modality_color(m))
                        .allow_hover(false),
                );
            }
        }
        for (entry, analysis, pos) in &inputs {
            let selected = session.selected == Some(entry.key);
            if !selected && hovered_input != Some(entry.key) {
                continue;
            }
            let m = analysis.input.modality;
            let here = [pos[0] as f64, pos[1] as f64];
            if selected && settings.map_show_links {
                for (_, hits) in &analysis.neighbours {
                    for n in hits {
                        if let Some(g) = gallery.get(n.index) {
                            plot_ui.line(
                                Line::new("", vec![here, xy(g)])
                                    .color(theme::neighbour_line(n.modality).gamma_multiply(0.9))
                                    .width(1.5)
                                    .allow_hover(false),
                            );
                        }
                    }
                }
            }
            plot_ui.points(
                Points::new("", here)
                    .shape(theme::modality_marker(m))
                    .radius(INPUT_MARK_RADIUS + 4.0)
                    .color(if selected {
                        theme::highlight()
                    } else {
                        theme::strong_text()
                    })
                    .allow_hover(false),
            );
            plot_ui.points(
                Points::new("", here)
                    .shape(theme::modality_marker(m))
                    .radius(INPUT_MARK_RADIUS)
                    .color(theme::modality_color(m))
                    .allow_hover(false),
            );
            plot_ui.text(
                Text::new(
                    "",
                    PlotPoint::new(here[0], here[1]),
                    RichText::new(short(&entry.name, 16)).strong(),
                )
                .anchor(egui::Align2::LEFT_BOTTOM)
                .color(theme::strong_text())
                .allow_hover(false),
            );
        }
        hovered_input
    });

    // Our own hover and click: nearest gallery item in screen space.
    let transform = response.transform;
    let hovered_input = response.inner;
    let r = response.response;
    canvas.update(ui.ctx(), &transform);
    if let Some(key) = hovered_input {
        if r.clicked() {
            commands.push(Command::SelectInput(key));
        }
        if let Some(e) = session.inputs.iter().find(|e| e.key == key) {
            r.clone().on_hover_text_at_pointer(&e.name);
        }
        return MapOutput {
            rect: Some(r.rect),
            ..Default::default()
        };
    }
    let pointer = r.hover_pos();
    let code_point = pointer
        .filter(|_| settings.map_show_codebook)
        .and_then(|pointer| nearest_code_point(codebook_xy, &transform, pointer));
    if let Some(code) = code_point {
        if r.clicked() {
            commands.push(Command::OpenCodePage(code));
        }
        r.clone()
            .on_hover_ui_at_pointer(|ui| code_strip::code_tooltip(ui, session, code));
        return MapOutput {
            rect: Some(r.rect),
            hovered: None,
            hovered_code: Some(code),
        };
    }
    let nearest = nearest_item(canvas, &transform, pointer).and_then(|i| gallery.get(i));
    if let Some(p) = nearest {
        if r.clicked() {
            commands.push(Command::AddInput(InputSource::GalleryItem(p.index)));
        }
        r.clone().on_hover_ui_at_pointer(|ui| {
            gallery_tooltip(ui, p, media);
        });
    }
    MapOutput {
        rect: Some(r.rect),
        hovered: nearest.map(|p| p.index),
        hovered_code: None,
    }
}

/// The plot a gallery map is drawn in: equal axes, none shown, the legend at the lower left,
/// the canvas's items in view.
pub fn gallery_plot<'a>(id: &str, canvas: &MapCanvas, height: f32) -> Plot<'a> {
    let mut plot = Plot::new(id)
        .height(height)
        .data_aspect(1.0)
        .show_x(false)
        .show_y(false)
        .show_axes(false)
        .legend(
            Legend::default()
                .position(egui_plot::Corner::LeftBottom)
                .background_alpha(0.6)
                .follow_insertion_order(true),
        );
    if let Some([lo, hi]) = canvas.extent() {
        plot = plot.include_x(lo[0]).include_x(hi[0]);
        plot = plot.include_y(lo[1]).include_y(hi[1]);
    }
    plot
}

/// Every gallery item, as the canvas's one image, and its legend entries (one invisible point
/// each, inside the map's extent, carrying the colours).
pub fn draw_gallery(plot_ui: &mut egui_plot::PlotUi<'_>, canvas: &MapCanvas) {
    if let Some(image) = canvas.image() {
        plot_ui.image(image);
    }
    let centre = canvas.extent().map_or([0.0; 2], |[lo, hi]| {
        [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0]
    });
    for (name, color) in canvas.legend() {
        plot_ui.points(
            Points::new(name.as_str(), vec![centre])
                .radius(0.0)
                .color(*color)
                .filled(true)
                .allow_hover(false),
        );
    }
}

/// The ring around the hovered gallery item at map point `at`.
pub fn hover_ring(plot_ui: &mut egui_plot::PlotUi<'_>, at: [f64; 2]) {
    plot_ui.points(
        Points::new("", at)
            .radius(8.0)
            .filled(false)
            .color(theme::strong_text())
            .allow_hover(false),
    );
}

/// The gallery item nearest to `pointer` (screen points) within [`HOVER_RADIUS`], if any.
pub fn nearest_item(
    canvas: &MapCanvas,
    transform: &egui_plot::PlotTransform,
    pointer: Option<egui::Pos2>,
) -> Option<usize> {
    let at = transform.value_from_position(pointer?);
    let radius = f64::from(HOVER_RADIUS) / transform.dpos_dvalue_x().abs();
    canvas.nearest([at.x, at.y], radius)
}

/// The code point nearest to `pointer` (screen points) within [`HOVER_RADIUS`], if any.
fn nearest_code_point(
    codebook_xy: &[[f32; 2]],
    transform: &egui_plot::PlotTransform,
    pointer: egui::Pos2,
) -> Option<u32> {
    codebook_xy
        .iter()
        .enumerate()
        .map(|(c, v)| {
            let at = transform.position_from_point(&PlotPoint::new(v[0] as f64, v[1] as f64));
            (c as u32, at.distance(pointer))
        })
        .filter(|(_, d)| *d <= HOVER_RADIUS)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// Box and lasso selection: while the pointer drags on the plot with a selection tool, the
/// outline so far (map coordinates) is kept in egui's temporary memory and returned for
/// drawing; on release, [`Command::SelectRegion`] carries the finished shape.
fn drag_selection(
    plot_ui: &mut egui_plot::PlotUi<'_>,
    tool: MapTool,
    commands: &mut Vec<Command>,
) -> Option<Vec<[f64; 2]>> {
    if tool == MapTool::Pan {
        return None;
    }
    let response = plot_ui.response().clone();
    let id = response.id.with("selection-outline");
    let ctx = plot_ui.ctx().clone();
    let here = plot_ui.pointer_coordinate().map(|p| [p.x, p.y]);
    if response.drag_started() {
        // Start where the button went down, not where the drag was recognised.
        let transform = *plot_ui.transform();
        let origin = ctx
            .input(|i| i.pointer.press_origin())
            .map(|pos| transform.value_from_position(pos))
            .map(|p| [p.x, p.y]);
        let start: Vec<[f64; 2]> = origin.into_iter().chain(here).collect();
        ctx.data_mut(|d| d.insert_temp::<Vec<[f64; 2]>>(id, start));
    } else if response.dragged()
        && let Some(p) = here
    {
        ctx.data_mut(|d| d.get_temp_mut_or_default::<Vec<[f64; 2]>>(id).push(p));
    }
    let mut outline: Vec<[f64; 2]> = ctx.data(|d| d.get_temp(id)).unwrap_or_default();
    if response.drag_stopped() {
        // End where the button came up.
        let transform = *plot_ui.transform();
        if let Some(pos) = ctx.input(|i| i.pointer.latest_pos()) {
            let p = transform.value_from_position(pos);
            outline.push([p.x, p.y]);
        }
        ctx.data_mut(|d| d.remove::<Vec<[f64; 2]>>(id));
        let shape = match (tool, outline.first(), outline.last()) {
            (MapTool::Box, Some(a), Some(b)) => Some(SelectionShape::Box { a: *a, b: *b }),
            (MapTool::Lasso, _, _) if outline.len() >= 3 => {
                Some(SelectionShape::Lasso(outline.clone()))
            }
            _ => None,
        };
        if let Some(shape) = shape {
            commands.push(Command::SelectRegion(shape));
        }
        return None;
    }
    match (tool, outline.first(), outline.last()) {
        (MapTool::Box, Some(a), Some(b)) => Some(vec![*a, [b[0], a[1]], *b, [a[0], b[1]], *a]),
        (MapTool::Lasso, Some(first), _) => {
            let mut closed = outline.clone();
            closed.push(*first);
            Some(closed)
        }
        _ => None,
    }
}

/// The map's title, which projection it shows (and its parameters), the projection selector,
/// and a progress bar while a t-SNE or UMAP map is computed.
fn header(ui: &mut Ui, session: &Session, settings: &mut Settings, in_view: Option<usize>) {
    let items = session.summary.as_ref().map_or(0, |s| s.gallery.len());
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Embedding map")
                .heading()
                .color(theme::strong_text()),
        );
        let shown = match session.map_layout(settings) {
            Some(_) => settings.map_projection,
            None => Projection::Pca,
        };
        let text = match shown {
            Projection::Pca => session
                .summary
                .as_ref()
                .filter(|s| s.map_explained > 0.0)
                .map(|s| format!("PCA · {:.0} % of variance", s.map_explained * 100.0)),
            Projection::Tsne => Some(format!(
                "t-SNE · perplexity {}",
                TsneParams::default().effective_perplexity(items)
            )),
            Projection::Umap => Some(format!(
                "UMAP · {} neighbours",
                UmapParams::default().effective_neighbours(items)
            )),
        };
        if let Some(text) = text {
            muted(ui, text);
        }
        if let Some(n) = in_view {
            muted(ui, format!("· {n} of {items} items in view"));
        }
    });
    ui.horizontal_wrapped(|ui| {
        muted(ui, "map");
        for p in Projection::ALL {
            ui.selectable_value(&mut settings.map_projection, p, p.name());
        }
        let chosen = settings.map_projection;
        let layout = session.layouts.get(&chosen);
        if session.projection_running == Some(chosen) {
            let fraction = layout.map_or(0.0, |l| l.fraction);
            ui.add(
                egui::ProgressBar::new(fraction)
                    .desired_width(140.0)
                    .text(format!("{chosen} {:.0} %", fraction * 100.0)),
            );
        } else if let Some(l) = layout {
            if let Some(reason) = &l.failed {
                muted(ui, format!("{chosen} unavailable: {reason}"));
            } else if let Some(secs) = l.seconds {
                muted(ui, format!("computed in {secs:.1} s"));
            }
        }
    });
}

/// Where an input sits: projected by PCA, or placed among its nearest gallery items on a
/// t-SNE or UMAP `layout` ([`place_by_neighbours`]).
fn input_xy(analysis: &Analysis, layout: Option<&[[f32; 2]]>) -> Option<[f32; 2]> {
    match layout {
        None => analysis.xy,
        Some(layout) => place_by_neighbours(layout, &analysis.map_neighbours),
    }
}

/// Tooltip of a gallery item: modality, label, source, thumbnail or text.
pub fn gallery_tooltip(ui: &mut Ui, p: &GalleryPoint, media: &mut MediaCache) {
    ui.horizontal(|ui| {
        modality_chip(ui, p.modality);
        ui.label(
            RichText::new(p.label.as_deref().unwrap_or("unlabelled"))
                .strong()
                .size(18.0),
        );
    });
    muted(ui, short(&p.source, 48));
    if let Some(t) = &p.text {
        ui.label(format!("“{}”", short(t, 60)));
    }
    if let Some(path) = &p.media
        && path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        thumbnail(ui, media, Some(path), 96.0, 128);
    }
    muted(
        ui,
        format!("{} codes · click to use as the query", p.codes.len()),
    );
}
