//! The Input tab of the central area: the selected input as the model sees it, the codes of
//! every analysed input, zero-shot scores and retrieval.

use egui::RichText;

use crate::ui::media::MediaCache;
use crate::ui::state::{InputEntry, Session};
use crate::ui::{
    Command, input_view, model_panel, muted, retrieval_panel, section, zero_shot_panel,
};

/// Draws the tab. Returns the code under the pointer, if any.
pub fn show(
    ui: &mut egui::Ui,
    session: &mut Session,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) -> Option<u32> {
    let mut hovered = None;
    if session.summary.is_none() && session.inputs.is_empty() {
        model_panel::empty_state(ui, session, commands);
        return None;
    }
    match session.selected_input() {
        Some(entry) => {
            let out = section(ui, "As the model sees it", |ui| {
                input_view::show(ui, session, entry, media, commands)
            });
            hovered = out.hovered_code;
            session.chart_rects.code_strip = out.strip_rect;
        }
        None => {
            section(ui, "Start here", |ui| {
                ui.label(
                    RichText::new(
                        "Drop an image or an audio file anywhere, type a word, or draw a digit.",
                    )
                    .size(18.0),
                );
                muted(
                    ui,
                    "Or click a point on the map to use a gallery item as the query.",
                );
            });
        }
    }
    let done: Vec<&InputEntry> = session
        .inputs
        .iter()
        .filter(|e| e.analysis().is_some())
        .collect();
    if done.len() > 1 {
        ui.add_space(8.0);
        let h = section(ui, "Codes of every input", |ui| {
            muted(ui, "Hover or click a code to light it up everywhere.");
            let mut h = None;
            for e in done {
                if let Some(a) = e.analysis() {
                    h = input_view::compact_row(ui, session, e, a, commands).or(h);
                }
            }
            h
        });
        hovered = hovered.or(h);
    }
    ui.add_space(8.0);
    if ui.available_width() > 760.0 {
        ui.columns(2, |cols| {
            zero_shot_panel::show(&mut cols[0], session, commands);
            retrieval_panel::show(&mut cols[1], session, media, commands);
        });
    } else {
        zero_shot_panel::show(ui, session, commands);
        ui.add_space(8.0);
        retrieval_panel::show(ui, session, media, commands);
    }
    hovered
}
