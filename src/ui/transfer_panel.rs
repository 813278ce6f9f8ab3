//! The transfer lab: fit a linear classifier on one modality's gallery items (bag of codes or
//! embedding) and test it on another modality it never saw; accuracy and a confusion-matrix
//! heat map whose cells select their items on the map.

use egui::{Align2, FontId, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2};

use crate::index::transfer::{TransferFeatures, TransferReport};
use crate::modality::Modality;
use crate::ui::selection::SelectionShape;
use crate::ui::session::Session;
use crate::ui::state::Settings;
use crate::ui::{Command, muted, section, text::short, theme};

/// Accessible name of the fit button.
pub const FIT_LABEL: &str = "Fit";

/// The source and target the lab will use: the saved choice when the gallery has it, else the
/// first two gallery modalities.
pub fn pick_modalities(session: &Session, settings: &Settings) -> Option<(Modality, Modality)> {
    let available = &session.derived.gallery_modalities;
    let first = *available.first()?;
    let source = settings
        .transfer_source
        .filter(|m| available.contains(m))
        .unwrap_or(first);
    let target = settings
        .transfer_target
        .filter(|m| available.contains(m))
        .or_else(|| available.iter().copied().find(|m| *m != source))
        .unwrap_or(source);
    Some((source, target))
}

/// Draws the lab; returns the heat map's rectangle.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    commands: &mut Vec<Command>,
) -> Option<Rect> {
    let mut heat_rect = None;
    section(ui, "Transfer lab", |ui| {
        muted(
            ui,
            "Fit a linear classifier on one modality's gallery items and test it on another \
             modality it never saw. Shared codes make the knowledge transfer.",
        );
        ui.add_space(4.0);
        let Some((source, target)) = pick_modalities(session, settings) else {
            muted(
                ui,
                "Open a model with a labelled gallery to run the experiment.",
            );
            return;
        };
        let available = session.derived.gallery_modalities.clone();
        ui.horizontal(|ui| {
            ui.label("fit on");
            let mut s = source;
            egui::ComboBox::from_id_salt("transfer-source")
                .selected_text(s.name())
                .show_ui(ui, |ui| {
                    for m in &available {
                        ui.selectable_value(&mut s, *m, m.name());
                    }
                });
            ui.label("then test on");
            let mut t = target;
            egui::ComboBox::from_id_salt("transfer-target")
                .selected_text(t.name())
                .show_ui(ui, |ui| {
                    for m in &available {
                        ui.selectable_value(&mut t, *m, m.name());
                    }
                });
            settings.transfer_source = Some(s);
            settings.transfer_target = Some(t);
        });
        ui.horizontal(|ui| {
            ui.label("features");
            ui.radio_value(&mut settings.transfer_features, TransferFeatures::BagOfCodes, "bag of codes")
                .on_hover_text("Histogram of the codes an item uses: only the shared discrete codes carry information");
            ui.radio_value(&mut settings.transfer_features, TransferFeatures::Embedding, "embedding")
                .on_hover_text("The pooled embedding vector");
        });
        ui.horizontal(|ui| {
            let enabled = !session.transfer_running && session.summary.is_some();
            if ui
                .add_enabled(
                    enabled,
                    egui::Button::new(RichText::new(FIT_LABEL).strong())
                        .min_size(Vec2::new(90.0, 30.0)),
                )
                .on_hover_text("Fit on the source modality, test on the target")
                .clicked()
            {
                commands.push(Command::Fit);
            }
            if session.transfer_running {
                ui.spinner();
                muted(ui, "fitting…");
            }
        });
        if let Some(report) = &session.transfer {
            ui.add_space(6.0);
            result(ui, report);
            ui.add_space(6.0);
            heat_rect = Some(confusion(ui, report, commands));
        }
    });
    heat_rect
}

fn result(ui: &mut Ui, r: &TransferReport) {
    let chance = 1.0 / r.labels.len().max(1) as f32;
    let features = match r.features {
        TransferFeatures::BagOfCodes => "bag of codes",
        TransferFeatures::Embedding => "embedding",
    };
    ui.label(
        RichText::new(format!(
            "accuracy on {}: {:.1} %",
            r.target,
            r.accuracy * 100.0
        ))
        .size(24.0)
        .strong()
        .color(if r.accuracy > 2.0 * chance {
            theme::success()
        } else {
            theme::warning()
        }),
    );
    muted(
        ui,
        format!(
            "fitted on {} {} items ({features}; {:.1} % on them), tested on {} {} items · chance {:.1} %",
            r.n_train,
            r.source,
            r.source_accuracy * 100.0,
            r.n_test,
            r.target,
            chance * 100.0
        ),
    );
}

/// What a click on confusion cell `[truth][predicted]` selects: exactly its tested items.
pub fn cell_selection(r: &TransferReport, truth: usize, predicted: usize) -> SelectionShape {
    let name = |i: usize| r.labels.get(i).map_or("?", String::as_str);
    SelectionShape::Items {
        what: format!(
            "{} true {}, predicted {}",
            r.target,
            name(truth),
            name(predicted)
        ),
        items: r.cell_items(truth, predicted),
    }
}

/// Width of the row labels left of the heat map's cells, in points.
const ROW_LABELS_W: f32 = 64.0;
/// Height of the title and column labels above the cells, in points.
const HEADER_H: f32 = 50.0;

/// Confusion cell `[truth][predicted]` of a heat map over `n` classes drawn in `heat` (the
/// rectangle [`confusion`] returns).
pub fn cell_rect(heat: Rect, n: usize, truth: usize, predicted: usize) -> Rect {
    let n = n.max(1);
    let cell = (heat.width() - ROW_LABELS_W - 4.0) / n as f32;
    Rect::from_min_size(
        heat.min
            + Vec2::new(
                ROW_LABELS_W + predicted as f32 * cell,
                HEADER_H + truth as f32 * cell,
            ),
        Vec2::splat(cell),
    )
}

/// The confusion matrix as a heat map with counts in the cells (rows: true, columns:
/// predicted); clicking a cell selects its items on the map.
pub fn confusion(ui: &mut Ui, r: &TransferReport, commands: &mut Vec<Command>) -> Rect {
    let n = r.labels.len().max(1);
    let cell = ((ui.available_width() - ROW_LABELS_W - 8.0) / n as f32).clamp(16.0, 40.0);
    let size = Vec2::new(
        ROW_LABELS_W + cell * n as f32 + 4.0,
        HEADER_H + cell * n as f32,
    );
    ui.label(
        RichText::new(format!(
            "confusion matrix {n}×{n} (rows: true {}, columns: predicted)",
            r.target
        ))
        .strong(),
    );
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    let painter = ui.painter_at(rect);
    let origin = cell_rect(rect, n, 0, 0).min;
    let font = FontId::proportional(if cell >= 28.0 { 14.0 } else { 11.0 });
    painter.text(
        Pos2::new(origin.x + cell * n as f32 / 2.0, rect.top()),
        Align2::CENTER_TOP,
        "predicted",
        FontId::proportional(13.0),
        theme::muted_text(),
    );
    // Column labels: the largest size (down to 9 pt) at which the longest label fits a cell.
    let widest = |size: f32| {
        r.labels
            .iter()
            .map(|l| {
                painter
                    .layout_no_wrap(l.clone(), FontId::proportional(size), theme::strong_text())
                    .size()
                    .x
            })
            .fold(0.0f32, f32::max)
    };
    let mut col_size = font.size;
    while col_size > 9.0 && widest(col_size) > cell - 2.0 {
        col_size -= 1.0;
    }
    let col_font = FontId::proportional(col_size);
    let col_chars = if widest(col_size) > cell - 2.0 {
        ((cell / (col_size * 0.6)) as usize).max(3)
    } else {
        usize::MAX
    };
    for (j, l) in r.labels.iter().enumerate() {
        painter.text(
            Pos2::new(origin.x + (j as f32 + 0.5) * cell, origin.y - 3.0),
            Align2::CENTER_BOTTOM,
            short(l, col_chars),
            col_font.clone(),
            theme::strong_text(),
        );
        painter.text(
            Pos2::new(origin.x - 6.0, origin.y + (j as f32 + 0.5) * cell),
            Align2::RIGHT_CENTER,
            short(l, 7),
            font.clone(),
            theme::strong_text(),
        );
    }
    let mut hovered = None;
    for (i, row) in r.confusion.iter().enumerate() {
        let total: u32 = row.iter().sum();
        for (j, &count) in row.iter().enumerate() {
            let cell_rect = cell_rect(rect, n, i, j);
            let fill = if count == 0 {
                theme::heat_empty()
            } else {
                theme::heat(count as f32 / total.max(1) as f32)
            };
            painter.rect_filled(cell_rect.shrink(0.5), 2, fill);
            if i == j {
                painter.rect_stroke(
                    cell_rect.shrink(0.5),
                    2,
                    Stroke::new(1.0, theme::card_stroke()),
                    StrokeKind::Inside,
                );
            }
            if count > 0 {
                painter.text(
                    cell_rect.center(),
                    Align2::CENTER_CENTER,
                    count.to_string(),
                    font.clone(),
                    theme::text_on(fill),
                );
            }
            if response.hover_pos().is_some_and(|p| cell_rect.contains(p)) {
                hovered = Some((i, j, count, total));
            }
            if response.clicked()
                && response
                    .interact_pointer_pos()
                    .is_some_and(|p| cell_rect.contains(p))
            {
                commands.push(Command::SelectRegion(cell_selection(r, i, j)));
            }
        }
    }
    if let Some((i, j, count, total)) = hovered {
        let (t, p) = (
            &r.labels[i.min(r.labels.len() - 1)],
            &r.labels[j.min(r.labels.len() - 1)],
        );
        response.on_hover_text_at_pointer(format!(
            "true {t}, predicted {p}: {count} of {total} {} items; click to select them on the map",
            r.target
        ));
    }
    rect
}
