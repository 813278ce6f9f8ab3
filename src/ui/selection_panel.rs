//! The Selection tab, a view linked to the map: the filters (label, modality, source text),
//! how many items the box or lasso caught per class and modality, the codes they use most
//! (click one to open its page), the items themselves with thumbnails, play buttons
//! and texts (only the visible rows are drawn), and export as CSV and JSON. Above them,
//! where the model fails: each source's zero-shot error rate, worst first.

use egui::{RichText, Ui};

use crate::audio_io::ClipId;
use crate::modality::Modality;
use crate::ui::audio_controls::play_toggle;
use crate::ui::code_strip;
use crate::ui::input_view::thumbnail;
use crate::ui::media::MediaCache;
use crate::ui::selection::{MapFilter, SelectionShape, summarize};
use crate::ui::session::Session;
use crate::ui::state::{MapColoring, Settings};
use crate::ui::text::short;
use crate::ui::{Command, modality_chip, muted, section};

/// Accessible names of the filter boxes.
pub const LABEL_FILTER: &str = "label contains";
/// See [`LABEL_FILTER`].
pub const SOURCE_FILTER: &str = "source or text contains";
/// The export button.
pub const EXPORT_SELECTION: &str = "Export CSV and JSON";
/// The section that ranks sources by their zero-shot error rate.
pub const WHERE_IT_FAILS: &str = "Where it fails";
/// The button that scores the gallery zero-shot (the map turns correct / wrong).
pub const SCORE_GALLERY: &str = "Score the gallery zero-shot";
/// Height of one item row, in points.
const ROW_HEIGHT: f32 = 40.0;

/// Draws the tab.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    section(ui, "Filter the map", |ui| {
        if filters(ui, &mut settings.map_filter) {
            commands.push(Command::FilterChanged);
        }
    });
    ui.add_space(8.0);
    let Some(summary) = &session.summary else {
        return;
    };
    failures(ui, session, settings, commands);
    ui.add_space(8.0);
    let Some(selection) = &session.selection else {
        section(ui, "Selection", |ui| {
            muted(
                ui,
                "Choose box or lasso above the map and drag over it to select gallery items.",
            );
        });
        return;
    };
    let gallery = &summary.gallery;
    let counts = summarize(gallery, &selection.items);
    section(ui, "Selection", |ui| {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "{} of {} items selected ({})",
                    selection.items.len(),
                    gallery.len(),
                    selection.shape.kind()
                ))
                .strong(),
            );
            if ui.button(EXPORT_SELECTION).clicked() {
                commands.push(Command::ExportSelection);
            }
            if ui.button("Clear selection").clicked() {
                commands.push(Command::ClearSelection);
            }
        });
        ui.horizontal_wrapped(|ui| {
            for (m, n) in &counts.per_modality {
                modality_chip(ui, *m);
                ui.label(format!("{n}"));
            }
        });
        ui.horizontal_wrapped(|ui| {
            muted(ui, "classes:");
            for (label, n) in &counts.per_class {
                ui.label(format!("{label} {n}"));
            }
        });
        ui.horizontal_wrapped(|ui| {
            muted(ui, "codes used most:");
            for (code, n) in &counts.top_codes {
                code_strip::code_chip(
                    ui,
                    *code,
                    &format!("{code} · {n}"),
                    &format!("code {code}: used by {n} selected items; click to open its page"),
                    commands,
                );
            }
        });
    });
    ui.add_space(8.0);
    section(ui, "Selected items", |ui| {
        let items = &selection.items;
        egui::ScrollArea::vertical()
            .id_salt("selection-items")
            .max_height(ui.available_height().max(240.0))
            .auto_shrink([false, true])
            .show_rows(ui, ROW_HEIGHT, items.len(), |ui, rows| {
                for &i in &items[rows] {
                    if let Some(p) = gallery.get(i) {
                        item_row(ui, session, p, media, commands);
                    }
                }
            });
    });
}

/// "Where it fails": each source's zero-shot error rate and worst class, worst first; a
/// click selects that source's wrong items. The gallery's zero-shot labels are computed
/// (by the worker) while the map is coloured correct / wrong.
fn failures(ui: &mut Ui, session: &Session, settings: &mut Settings, commands: &mut Vec<Command>) {
    section(ui, WHERE_IT_FAILS, |ui| {
        if session.gallery_zero_shot.is_none() {
            if settings.map_coloring == MapColoring::Correctness {
                muted(ui, "Scoring every gallery item zero-shot…");
            } else if ui
                .button(SCORE_GALLERY)
                .on_hover_text(
                    "Colour the map correct / wrong and rank the sources by their error rate",
                )
                .clicked()
            {
                settings.map_coloring = MapColoring::Correctness;
            }
            return;
        }
        let rows = &session.errors_by_source;
        if rows.is_empty() {
            muted(ui, "No gallery item carries one of the current labels.");
            return;
        }
        muted(
            ui,
            "Zero-shot with the current labels, by source; click one to select its wrong items.",
        );
        egui::ScrollArea::vertical()
            .id_salt("failures-by-source")
            .max_height(160.0)
            .auto_shrink([false, true])
            .show(ui, |ui| {
                for row in rows {
                    let text = row.describe();
                    let button = egui::Button::new(text.clone()).frame(false);
                    let clicked = ui
                        .add_enabled(!row.wrong.is_empty(), button)
                        .on_hover_text("Select these wrong items on the map")
                        .clicked();
                    if clicked {
                        commands.push(Command::SelectRegion(SelectionShape::Items {
                            what: format!("{}: wrong zero-shot", row.group),
                            items: row.wrong.clone(),
                        }));
                    }
                }
            });
    });
}

/// The filter row; returns true when a filter changed.
fn filters(ui: &mut Ui, filter: &mut MapFilter) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        let label = ui.label(LABEL_FILTER);
        changed |= ui
            .add(egui::TextEdit::singleline(&mut filter.label).desired_width(90.0))
            .labelled_by(label.id)
            .changed();
        let source = ui.label(SOURCE_FILTER);
        changed |= ui
            .add(egui::TextEdit::singleline(&mut filter.source).desired_width(120.0))
            .labelled_by(source.id)
            .changed();
        muted(ui, "modality");
        changed |= ui
            .selectable_value(&mut filter.modality, None, "any")
            .changed();
        for m in Modality::ALL {
            changed |= ui
                .selectable_value(&mut filter.modality, Some(m), m.name())
                .changed();
        }
        if filter.is_active() && ui.button("Clear filters").clicked() {
            *filter = MapFilter::default();
            changed = true;
        }
    });
    changed
}

fn item_row(
    ui: &mut Ui,
    session: &Session,
    p: &crate::engine::GalleryPoint,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.set_height(ROW_HEIGHT - 4.0);
        match (&p.modality, &p.media) {
            (Modality::Image, Some(path)) => {
                thumbnail(ui, media, Some(path), ROW_HEIGHT - 6.0, 96);
            }
            (Modality::Audio, Some(path)) => {
                play_toggle(
                    ui,
                    &session.audio,
                    &ClipId::File(path.clone()),
                    "",
                    commands,
                );
            }
            _ => {
                modality_chip(ui, p.modality);
            }
        }
        let title = match (&p.text, &p.label) {
            (Some(t), _) => format!("“{}”", short(t, 30)),
            (None, Some(l)) => l.clone(),
            (None, None) => "unlabelled".into(),
        };
        if ui
            .add(egui::Button::new(RichText::new(title).strong()).frame(false))
            .on_hover_text("Use as the query")
            .clicked()
        {
            commands.push(Command::AddInput(crate::engine::InputSource::GalleryItem(
                p.index,
            )));
        }
        muted(ui, format!("#{} · {}", p.index, short(&p.source, 36)));
    });
}
