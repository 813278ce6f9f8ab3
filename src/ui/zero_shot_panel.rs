//! Zero-shot classification: probability bars for the selected input, the top label of every
//! input, and the editable label list and prompt templates (edits re-score through
//! `Job::Classify`).

use egui::{Align2, FontId, RichText, Sense, Ui, Vec2};

use crate::engine::LabelScore;
use crate::ui::session::Session;
use crate::ui::{Command, muted, section, text::short, theme};

/// Most labels drawn as bars.
const MAX_BARS: usize = 10;
/// Height of the "every input" list before it scrolls, in points.
const EVERY_INPUT_MAX_HEIGHT: f32 = 240.0;

/// Draws the section.
pub fn show(ui: &mut Ui, session: &mut Session, commands: &mut Vec<Command>) {
    section(ui, "Zero-shot", |ui| {
        match session.selected_input().and_then(|e| e.zero_shot()) {
            Some(Ok(scores)) if !scores.is_empty() => {
                let mut sorted: Vec<&LabelScore> = scores.iter().collect();
                sorted.sort_by(|a, b| b.probability.total_cmp(&a.probability));
                let top = sorted[0];
                ui.label(
                    RichText::new(format!(
                        "zero-shot: top {} ({:.0} %)",
                        top.label,
                        top.probability * 100.0
                    ))
                    .strong(),
                );
                for (i, s) in sorted.iter().take(MAX_BARS).enumerate() {
                    probability_bar(ui, s, i == 0);
                }
                if sorted.len() > MAX_BARS {
                    muted(ui, format!("… and {} more labels", sorted.len() - MAX_BARS));
                }
            }
            Some(Ok(_)) => {
                muted(ui, "no labels to score");
            }
            Some(Err(reason)) => {
                ui.label(
                    RichText::new(format!("No zero-shot scores: {reason}")).color(theme::warning()),
                );
            }
            None => {
                muted(
                    ui,
                    "Select an analysed input to see its label probabilities.",
                );
            }
        }
        // The top label of every input; only the rows in view are drawn.
        let others: Vec<(&str, &LabelScore)> = session
            .inputs
            .iter()
            .filter_map(|e| match e.zero_shot() {
                Some(Ok(s)) => s
                    .iter()
                    .max_by(|a, b| a.probability.total_cmp(&b.probability))
                    .map(|t| (e.name.as_str(), t)),
                _ => None,
            })
            .collect();
        if others.len() > 1 {
            ui.add_space(6.0);
            ui.label(RichText::new("every input").color(theme::muted_text()));
            let row_height = ui.text_style_height(&egui::TextStyle::Body);
            egui::ScrollArea::vertical()
                .id_salt("zero-shot-all-scroll")
                .max_height(EVERY_INPUT_MAX_HEIGHT)
                .show_rows(ui, row_height, others.len(), |ui, rows| {
                    egui::Grid::new("zero-shot-all")
                        .num_columns(2)
                        .striped(true)
                        .show(ui, |ui| {
                            for (name, top) in &others[rows] {
                                ui.label(short(name, 24));
                                ui.label(
                                    RichText::new(format!(
                                        "{} · {:.0} %",
                                        top.label,
                                        top.probability * 100.0
                                    ))
                                    .strong(),
                                );
                                ui.end_row();
                            }
                        });
                });
        }
        ui.add_space(6.0);
        egui::CollapsingHeader::new("Labels and prompt templates")
            .id_salt("labels-editor")
            .show(ui, |ui| {
                let now = ui.input(|i| i.time);
                let l = ui.label("Labels (comma-separated or one per line)");
                let r1 = ui
                    .add(
                        egui::TextEdit::multiline(&mut session.labels_text)
                            .desired_rows(3)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(l.id);
                let t = ui.label("Templates (one per line, {label} marks the word)");
                let r2 = ui
                    .add(
                        egui::TextEdit::multiline(&mut session.templates_text)
                            .desired_rows(2)
                            .desired_width(f32::INFINITY),
                    )
                    .labelled_by(t.id);
                if r1.changed() || r2.changed() {
                    session.labels_edited_at = Some(now);
                }
                ui.horizontal(|ui| {
                    if ui.button("Re-score").clicked() {
                        commands.push(Command::Rescore);
                    }
                    if ui
                        .button("Model defaults")
                        .on_hover_text("Put the model's own labels and templates back")
                        .clicked()
                    {
                        commands.push(Command::ResetLabels);
                    }
                    muted(ui, format!("{} labels", session.labels().len()));
                });
            });
    });
}

/// One horizontal bar: label, filled track, percentage.
fn probability_bar(ui: &mut Ui, s: &LabelScore, top: bool) {
    let width = ui.available_width();
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 24.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let label_w = 110.0f32.min(width * 0.35);
    let pct_w = 72.0;
    let track = egui::Rect::from_min_max(
        rect.left_top() + Vec2::new(label_w, 4.0),
        rect.right_bottom() - Vec2::new(pct_w, 4.0),
    );
    painter.text(
        rect.left_center(),
        Align2::LEFT_CENTER,
        short(&s.label, 14),
        FontId::proportional(15.0),
        if top {
            theme::strong_text()
        } else {
            theme::muted_text()
        },
    );
    painter.rect_filled(track, 3, theme::bar_track());
    let mut fill = track;
    fill.set_width(track.width() * s.probability.clamp(0.0, 1.0));
    painter.rect_filled(fill, 3, theme::probability_bar(top));
    painter.text(
        rect.right_center(),
        Align2::RIGHT_CENTER,
        format!("{:.1} %", s.probability * 100.0),
        FontId::monospace(14.0),
        theme::strong_text(),
    );
    response.on_hover_text(format!(
        "{}: cosine {:.3}, probability {:.3}",
        s.label, s.cosine, s.probability
    ));
}
