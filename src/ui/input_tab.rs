//! The Input tab of the central area: the selected input as the model sees it, the codes of
//! every analysed input, zero-shot scores and retrieval.

use std::collections::HashMap;

use egui::RichText;

use crate::ui::frame_view::FrameView;
use crate::ui::media::MediaCache;
use crate::ui::session::Session;
use crate::ui::state::InputEntry;
use crate::ui::{
    Command, input_view, model_panel, muted, retrieval_panel, section, zero_shot_panel,
};

/// Draws the tab. Returns the code under the pointer, if any, and where the selected
/// input's code strip was drawn.
pub fn show(
    ui: &mut egui::Ui,
    session: &mut Session,
    view: &FrameView,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) -> (Option<u32>, Option<egui::Rect>) {
    let mut hovered = None;
    let mut strip_rect = None;
    if session.summary.is_none() && session.inputs.is_empty() {
        model_panel::empty_state(ui, session, commands);
        return (None, None);
    }
    match session.selected_input() {
        Some(entry) => {
            let out = section(ui, "As the model sees it", |ui| {
                input_view::show(ui, session, view, entry, media, commands)
            });
            hovered = out.hovered_code;
            strip_rect = out.strip_rect;
        }
        None => {
            let encoders = session
                .summary
                .as_ref()
                .is_none_or(|summary| summary.has_encoders());
            section(ui, "Start here", |ui| {
                let (first, then) = if encoders {
                    (
                        "Drop an image or an audio file anywhere, type a word, or draw a digit.",
                        "Or click a point on the map to use a gallery item as the query.",
                    )
                } else {
                    (
                        "Click a point on the map to use a gallery item as the query.",
                        "This bundle holds imported vectors only: new inputs cannot be analysed.",
                    )
                };
                ui.label(RichText::new(first).size(18.0));
                muted(ui, then);
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
            let keys: Vec<u64> = done.iter().map(|e| e.key).collect();
            virtual_rows(ui, "codes-of-every-input", &keys, |ui, i| {
                let e = done[i];
                if let Some(a) = e.analysis() {
                    h = input_view::compact_row(ui, session, view, e, a, commands).or(h);
                }
            });
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
    (hovered, strip_rect)
}

/// Height of the "Codes of every input" list before it scrolls, in points.
const CODES_LIST_MAX_HEIGHT: f32 = 360.0;
/// Height assumed for a row not drawn yet, in points.
const ROW_HEIGHT_GUESS: f32 = 24.0;

/// A scrolling list of rows of different heights (one per key) that draws only the rows in
/// view: the others take their last measured height (or a guess) as empty space, so the
/// frame time does not grow with the number of rows.
fn virtual_rows(
    ui: &mut egui::Ui,
    id_salt: &str,
    keys: &[u64],
    mut draw: impl FnMut(&mut egui::Ui, usize),
) {
    let id = ui.make_persistent_id(id_salt);
    let mut heights: HashMap<u64, f32> = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let spacing = ui.spacing().item_spacing.y;
    let guess = if heights.is_empty() {
        ROW_HEIGHT_GUESS
    } else {
        heights.values().sum::<f32>() / heights.len() as f32
    };
    egui::ScrollArea::vertical()
        .id_salt(id_salt)
        .max_height(CODES_LIST_MAX_HEIGHT)
        .auto_shrink([false, true])
        .show_viewport(ui, |ui, viewport| {
            let height = |h: &HashMap<u64, f32>, k: &u64| h.get(k).copied().unwrap_or(guess);
            let mut i = 0;
            let mut above = 0.0;
            while i < keys.len() && above + height(&heights, &keys[i]) + spacing < viewport.min.y {
                above += height(&heights, &keys[i]) + spacing;
                i += 1;
            }
            ui.add_space(above);
            let mut y = above;
            while i < keys.len() && y < viewport.max.y {
                let rect = ui.scope(|ui| draw(ui, i)).response.rect;
                heights.insert(keys[i], rect.height());
                y += rect.height() + spacing;
                i += 1;
            }
            let below: f32 = keys[i..]
                .iter()
                .map(|k| height(&heights, k) + spacing)
                .sum();
            ui.add_space(below);
        });
    ui.data_mut(|d| d.insert_temp(id, heights));
}
