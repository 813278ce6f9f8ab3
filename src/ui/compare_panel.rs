//! The Compare tab: the loaded model (A) beside a second bundle (B). Both gallery maps side by
//! side, B's laid onto A's (orthogonal Procrustes on the items both galleries hold), both
//! showing the same part of A's plane with the cursor linked; a click picks an item and its match on the other map (shift-click adds),
//! hovering one ringing its match too. Below, every input read by both models with its label
//! and codes under each, disagreements marked, and every figure either manifest reports with
//! the difference B − A. Only the visible rows of the tables are drawn. Everything shown comes
//! from the worker's [`crate::engine::ComparisonView`]; nothing here waits.

use egui::{RichText, Ui};
use egui_plot::{PlotTransform, Points};

use crate::engine::GalleryPoint;
use crate::engine::compare::InputRow;
use crate::index::compare::{MetricRow, figure_text};
use crate::ui::compare_state::{CompareState, MapSide};
use crate::ui::map_canvas::{MapCanvas, SceneSource};
use crate::ui::map_panel::{draw_gallery, gallery_plot, gallery_tooltip, hover_ring, nearest_item};
use crate::ui::media::MediaCache;
use crate::ui::selection::MapFilter;
use crate::ui::session::Session;
use crate::ui::session_map::layout_xy;
use crate::ui::state::{MapColoring, Settings};
use crate::ui::{Command, muted, section, text::short, theme};

/// The button that picks a bundle to compare with.
pub const COMPARE_WITH_LABEL: &str = "Compare with…";
/// The button that writes the table as CSV and JSON.
pub const EXPORT_COMPARISON_LABEL: &str = "Export table";
/// Height of each map, in points.
const MAP_HEIGHT: f32 = 300.0;
/// Height of a table row, in points.
const ROW_HEIGHT: f32 = 20.0;
/// Most rows of a table shown at once (the rest scroll).
const TABLE_ROWS_SHOWN: f32 = 10.0;
/// Radius of the ring around a picked item, in points.
const PICK_RING_RADIUS: f32 = 7.0;
/// Codes shown per model in an input's row.
const SHOWN_CODES: usize = 8;

/// What the tab reports back.
#[derive(Clone, Copy, Debug, Default)]
pub struct CompareOutput {
    /// The gallery item under the pointer, on the map it is under.
    pub hovered: Option<(MapSide, usize)>,
    /// Where the two maps (A, B) were drawn: map to screen.
    pub maps: [Option<PlotTransform>; 2],
}

/// Draws the tab.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    settings: &Settings,
    media: &mut MediaCache,
    canvases: &mut [MapCanvas; 2],
    commands: &mut Vec<Command>,
) -> CompareOutput {
    let compare = &session.compare;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Compare two models")
                .heading()
                .color(theme::strong_text()),
        );
        if ui
            .add_enabled(
                session.summary.is_some() && compare.loading.is_none(),
                egui::Button::new(COMPARE_WITH_LABEL),
            )
            .on_hover_text("Choose a second bundle folder to compare with the loaded model")
            .clicked()
        {
            commands.push(Command::CompareDialog);
        }
        if let Some(dir) = &compare.loading {
            ui.spinner();
            muted(ui, format!("loading and comparing {}", dir.display()));
        }
    });
    let (Some(summary), Some(view)) = (&session.summary, &compare.view) else {
        canvases.iter_mut().for_each(MapCanvas::clear);
        if compare.loading.is_none() {
            muted(
                ui,
                "Open a second bundle to see both maps aligned, the figures both report with \
                 the difference, and every input read by both models.",
            );
        }
        return CompareOutput::default();
    };
    let c = &view.comparison;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("A  {}", c.a.name)).strong());
        muted(ui, format!("vs  B  {}", c.b.name)).on_hover_text(c.b.dir.display().to_string());
        ui.separator();
        if ui
            .add_enabled(
                !compare.reading_inputs && !session.inputs.is_empty(),
                egui::Button::new("Read inputs again"),
            )
            .on_hover_text("Read the current inputs with both models")
            .clicked()
        {
            commands.push(Command::CompareReadInputs);
        }
        if ui
            .button(EXPORT_COMPARISON_LABEL)
            .on_hover_text("comparison.csv and comparison.json in the export folder")
            .clicked()
        {
            commands.push(Command::ExportComparison);
        }
        if ui.button("Close").clicked() {
            commands.push(Command::CloseComparison);
        }
    });
    match (&c.alignment, &c.alignment_unavailable) {
        (Some(al), _) => muted(
            ui,
            format!(
                "B laid onto A on {} shared gallery items: rotated {:.0}°{}, residual {:.0} % of \
                 A's spread",
                al.matched,
                al.rotation_deg,
                if al.reflected { ", mirrored" } else { "" },
                100.0 * al.residual_fraction
            ),
        ),
        (None, why) => muted(
            ui,
            format!("maps not aligned: {}", why.as_deref().unwrap_or("unknown")),
        ),
    };
    ui.horizontal(|ui| {
        muted(
            ui,
            format!(
                "picked {} on A, {} on B · click an item to pick it and its match, shift-click \
                 to add",
                compare.selection.a.len(),
                compare.selection.b.len()
            ),
        );
        let picked = !compare.selection.a.is_empty() || !compare.selection.b.is_empty();
        if picked && ui.small_button("Clear picks").clicked() {
            commands.push(Command::CompareClearPicks);
        }
    });
    let b_xy = c.alignment.as_ref().map(|al| al.b_on_a.as_slice());
    let maps = [
        MapView {
            side: MapSide::A,
            name: &c.a.name,
            gallery: &summary.gallery,
            layout: None,
            classes: &summary.labels,
        },
        MapView {
            side: MapSide::B,
            name: &c.b.name,
            gallery: &view.summary.gallery,
            layout: b_xy,
            classes: &view.summary.labels,
        },
    ];
    // Both maps show the same part of A's plane (B is laid onto it); the cursor is linked.
    for (map, canvas) in maps.iter().zip(canvases.iter_mut()) {
        map.sync(canvas, settings);
    }
    let extent = union(canvases.iter().filter_map(MapCanvas::extent));
    let mut out = CompareOutput::default();
    ui.columns(2, |cols| {
        for ((map, canvas), ui) in maps.iter().zip(canvases.iter_mut()).zip(cols) {
            let (transform, item) = map.show(ui, compare, extent, media, canvas, commands);
            out.maps[map.side as usize] = Some(transform);
            if let Some(item) = item {
                out.hovered = Some((map.side, item));
            }
        }
    });
    ui.add_space(8.0);
    section(ui, "Inputs read by both", |ui| {
        inputs_table(ui, &c.inputs, c.disagreements());
    });
    ui.add_space(8.0);
    section(ui, "Figures (B − A where both report one)", |ui| {
        metrics_table(ui, &c.table())
    });
    out
}

/// The smallest rectangle (lower-left, upper-right) holding every one of `extents`.
fn union(extents: impl Iterator<Item = [[f64; 2]; 2]>) -> Option<[[f64; 2]; 2]> {
    extents.reduce(|[alo, ahi], [blo, bhi]| {
        [
            [alo[0].min(blo[0]), alo[1].min(blo[1])],
            [ahi[0].max(bhi[0]), ahi[1].max(bhi[1])],
        ]
    })
}

/// One of the two maps: a gallery and where its items are drawn.
struct MapView<'a> {
    side: MapSide,
    /// The model's name.
    name: &'a str,
    gallery: &'a [GalleryPoint],
    /// Positions on A's map (B's items laid onto it); `None`: the items' own PCA positions.
    layout: Option<&'a [[f32; 2]]>,
    classes: &'a [String],
}

impl MapView<'_> {
    /// Rebuilds the canvas's scene if anything it shows changed.
    fn sync(&self, canvas: &mut MapCanvas, settings: &Settings) {
        canvas.sync_scene(&SceneSource {
            gallery: self.gallery,
            layout: self.layout,
            // The comparison scores no gallery zero-shot or similarity: those show classes.
            coloring: match settings.map_coloring {
                MapColoring::Correctness | MapColoring::Similarity => MapColoring::Class,
                coloring => coloring,
            },
            classes: self.classes,
            filter: &MapFilter::default(),
            focus: None,
            selection: None,
            zero_shot: None,
            similarity: None,
        });
    }

    /// Draws the map (`extent` in view) with the picked and hovered items ringed; returns
    /// where it was drawn and the item under the pointer, and pushes a pick when that is
    /// clicked.
    fn show(
        &self,
        ui: &mut Ui,
        compare: &CompareState,
        extent: Option<[[f64; 2]; 2]>,
        media: &mut MediaCache,
        canvas: &mut MapCanvas,
        commands: &mut Vec<Command>,
    ) -> (PlotTransform, Option<usize>) {
        ui.label(RichText::new(format!("{:?} · {}", self.side, self.name)).strong());
        let at = |i: usize| self.gallery.get(i).map(|p| layout_xy(self.layout, p));
        let picked: Vec<[f64; 2]> = compare
            .selection
            .on(self.side)
            .iter()
            .filter_map(|&i| at(i))
            .collect();
        let id = match self.side {
            MapSide::A => "compare-map-a",
            MapSide::B => "compare-map-b",
        };
        let mut plot = gallery_plot(id, canvas, MAP_HEIGHT);
        if let Some([lo, hi]) = extent {
            plot = plot.include_x(lo[0]).include_x(hi[0]);
            plot = plot.include_y(lo[1]).include_y(hi[1]);
        }
        let response = plot
            .link_cursor(egui::Id::unique("compare-maps"), [true, true])
            .show(ui, |plot_ui| {
                draw_gallery(plot_ui, canvas);
                if !picked.is_empty() {
                    plot_ui.points(
                        Points::new(format!("picked ({})", picked.len()), picked)
                            .radius(PICK_RING_RADIUS)
                            .filled(false)
                            .color(theme::selection())
                            .allow_hover(false),
                    );
                }
                if let Some(p) = compare.hovered_on(self.side).and_then(at) {
                    hover_ring(plot_ui, p);
                }
            });
        let transform = response.transform;
        canvas.update(ui.ctx(), &transform);
        let r = response.response;
        let Some(item) =
            nearest_item(canvas, &transform, r.hover_pos()).filter(|&i| i < self.gallery.len())
        else {
            return (transform, None);
        };
        if r.clicked() {
            let add = ui.input(|i| i.modifiers.shift);
            commands.push(Command::ComparePick {
                side: self.side,
                item,
                add,
            });
        }
        r.on_hover_ui_at_pointer(|ui| gallery_tooltip(ui, &self.gallery[item], media));
        (transform, Some(item))
    }
}

/// Fixed-width cells of one table row.
fn cells(ui: &mut Ui, widths: &[f32], texts: Vec<RichText>) {
    ui.horizontal(|ui| {
        for (w, t) in widths.iter().zip(texts) {
            ui.allocate_ui_with_layout(
                egui::vec2(*w, ROW_HEIGHT),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_width(*w);
                    ui.add(egui::Label::new(t).truncate());
                },
            );
        }
    });
}

/// The figures, one row each (only the rows in view are drawn).
fn metrics_table(ui: &mut Ui, rows: &[MetricRow]) {
    let widths = [360.0, 90.0, 90.0, 90.0];
    cells(
        ui,
        &widths,
        ["figure", "A", "B", "B − A"]
            .map(|h| RichText::new(h).strong())
            .to_vec(),
    );
    egui::ScrollArea::vertical()
        .id_salt("compare-figures")
        .max_height(ROW_HEIGHT * TABLE_ROWS_SHOWN)
        .auto_shrink([false, true])
        .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
            for r in &rows[range] {
                let diff =
                    RichText::new(figure_text(r.difference, true)).color(match r.difference {
                        Some(d) if d != 0.0 => theme::strong_text(),
                        _ => theme::muted_text(),
                    });
                cells(
                    ui,
                    &widths,
                    vec![
                        RichText::new(&r.key),
                        RichText::new(figure_text(r.a, false)),
                        RichText::new(figure_text(r.b, false)),
                        diff,
                    ],
                );
            }
        });
}

/// Every input read by both, disagreements marked `≠` and in the warning colour.
fn inputs_table(ui: &mut Ui, rows: &[InputRow], disagreements: usize) {
    if rows.is_empty() {
        muted(
            ui,
            "No inputs yet: add some (drop files, type, record), then Read inputs again.",
        );
        return;
    }
    muted(
        ui,
        format!(
            "{} inputs, {disagreements} labelled differently by the two models",
            rows.len()
        ),
    );
    let widths = [18.0, 200.0, 70.0, 90.0, 170.0, 90.0, 170.0];
    cells(
        ui,
        &widths,
        [
            "", "input", "truth", "A label", "A codes", "B label", "B codes",
        ]
        .map(|h| RichText::new(h).strong())
        .to_vec(),
    );
    egui::ScrollArea::vertical()
        .id_salt("compare-inputs")
        .max_height(ROW_HEIGHT * TABLE_ROWS_SHOWN)
        .auto_shrink([false, true])
        .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
            for r in &rows[range] {
                let differ = r.disagrees();
                let tint = |t: String| {
                    let text = RichText::new(t);
                    if differ {
                        text.color(theme::warning())
                    } else {
                        text
                    }
                };
                let (a_label, a_codes) =
                    (short(&r.a.label_text(), 40), r.a.codes_text(SHOWN_CODES));
                let (b_label, b_codes) =
                    (short(&r.b.label_text(), 40), r.b.codes_text(SHOWN_CODES));
                cells(
                    ui,
                    &widths,
                    vec![
                        tint(if differ { "≠".into() } else { String::new() }),
                        RichText::new(short(&r.name, 32)),
                        RichText::new(r.truth.clone().unwrap_or_else(|| "-".into())),
                        tint(a_label),
                        RichText::new(a_codes).color(theme::muted_text()),
                        tint(b_label),
                        RichText::new(b_codes).color(theme::muted_text()),
                    ],
                );
            }
        });
}
