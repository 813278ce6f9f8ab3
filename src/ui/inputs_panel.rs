//! The inputs side panel: drop zone and file dialog, a text box (Enter analyses), the
//! recorder, the drawing canvas, and the list of inputs with their status.

use egui::{Key, RichText, Sense, Ui, Vec2};

use crate::engine::InputSource;
use crate::ui::canvas::{Canvas, CanvasEvent};
use crate::ui::session::Session;
use crate::ui::state::{InputEntry, InputStatus, Settings};
use crate::ui::text::short;
use crate::ui::{Command, Icon, icon, muted, no_encoders, record_panel, section, theme};

/// Accessible name of the text box.
pub const TEXT_BOX_LABEL: &str = "Type text";

/// Draws the panel. For a bundle without encoders the new-input widgets are shown disabled
/// under a notice saying why ([`no_encoders`]); the analysed list works either way.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    text: &mut String,
    canvas: &mut Canvas,
    commands: &mut Vec<Command>,
) {
    let encoders = !no_encoders::vectors_only(session);
    if !encoders {
        no_encoders::notice(ui);
    }
    ui.add_enabled_ui(encoders, |ui| {
        new_inputs(ui, session, settings, text, canvas, commands)
    });
    analysed(ui, session, commands);
}

/// The drop zone, text box, recorder and canvas.
fn new_inputs(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    text: &mut String,
    canvas: &mut Canvas,
    commands: &mut Vec<Command>,
) {
    section(ui, "Inputs", |ui| {
        egui::Frame::new()
            .stroke(egui::Stroke::new(1.5, theme::card_stroke()))
            .corner_radius(8)
            .inner_margin(10)
            .show(ui, |ui| {
                ui.set_min_width(ui.available_width());
                ui.vertical_centered(|ui| {
                    ui.label(RichText::new("Drop images or audio files").strong());
                    muted(ui, "anywhere on the window");
                    if ui
                        .button("Open files…")
                        .on_hover_text(
                            "Choose images (PNG, JPEG, …) or audio (WAV, FLAC, MP3, OGG, M4A)",
                        )
                        .clicked()
                    {
                        commands.push(Command::OpenFilesDialog);
                    }
                });
            });
        ui.add_space(6.0);
        let label = ui.label(RichText::new(TEXT_BOX_LABEL).strong());
        // The button goes to the right edge first; the text box fills what is left (a fixed
        // guess at the button's width widened the side panel every frame when it was short).
        ui.horizontal(|ui| {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let clicked = ui.button("Analyse").clicked();
                let edit = egui::TextEdit::singleline(text)
                    .hint_text("e.g. seven (Enter)")
                    .desired_width(f32::INFINITY);
                let response = ui.add(edit).labelled_by(label.id);
                let enter = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if enter || clicked {
                    commands.push(Command::AddInput(InputSource::Text(text.clone())));
                    if enter {
                        response.request_focus();
                    }
                }
            });
        });
    });
    ui.add_space(8.0);
    let clip_secs = session.summary.as_ref().and_then(|s| s.audio_clip_secs);
    record_panel::show(ui, &session.audio, settings, clip_secs, commands);
    ui.add_space(8.0);
    section(ui, "Draw", |ui| {
        let side = ui.available_width().min(220.0);
        ui.vertical_centered(|ui| {
            match canvas.show(ui, &mut settings.canvas_white_on_black, side) {
                CanvasEvent::StrokeEnded => {
                    if let Some(input) = canvas.to_input() {
                        commands.push(Command::Drawing(input));
                    }
                }
                CanvasEvent::Cleared | CanvasEvent::None => {}
            }
        });
    });
    ui.add_space(8.0);
}

/// The analysed inputs, newest first, with their status.
fn analysed(ui: &mut Ui, session: &Session, commands: &mut Vec<Command>) {
    section(ui, "Analysed", |ui| {
        if session.inputs.is_empty() {
            muted(ui, "Nothing yet: drop a file, type a word or draw.");
            return;
        }
        // Only the visible rows are drawn: the frame time does not grow with the inputs.
        let row_height = ui.spacing().interact_size.y + 2.0 * f32::from(ROW_MARGIN_Y);
        let n = session.inputs.len();
        egui::ScrollArea::vertical()
            .id_salt("analysed-list")
            .max_height(ANALYSED_LIST_MAX_HEIGHT)
            .show_rows(ui, row_height, n, |ui, rows| {
                for i in rows {
                    analysed_row(
                        ui,
                        session,
                        &session.inputs[n - 1 - i],
                        row_height,
                        commands,
                    );
                }
            });
        ui.add_space(4.0);
        if ui.button("Clear all").clicked() {
            commands.push(Command::ClearInputs);
        }
    });
}

/// Height of the "Analysed" list before it scrolls, in points.
const ANALYSED_LIST_MAX_HEIGHT: f32 = 420.0;
/// Vertical margin inside a row of the list, in points.
const ROW_MARGIN_Y: i8 = 3;

/// One row of the "Analysed" list: modality dot, status, name, top label, remove button.
fn analysed_row(
    ui: &mut Ui,
    session: &Session,
    entry: &InputEntry,
    row_height: f32,
    commands: &mut Vec<Command>,
) {
    let selected = session.selected == Some(entry.key);
    egui::Frame::new()
        .fill(if selected {
            theme::selected_row()
        } else {
            theme::faint_bg()
        })
        .corner_radius(6)
        .inner_margin(egui::Margin::symmetric(6, ROW_MARGIN_Y))
        .show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.set_height(row_height - 2.0 * f32::from(ROW_MARGIN_Y));
            ui.horizontal(|ui| {
                let color = entry
                    .modality()
                    .map(theme::modality_color)
                    .unwrap_or(theme::muted_text());
                let (dot, _) = ui.allocate_exact_size(Vec2::splat(10.0), Sense::hover());
                ui.painter().circle_filled(dot.center(), 5.0, color);
                match &entry.status {
                    InputStatus::Queued | InputStatus::Running => {
                        ui.spinner();
                    }
                    InputStatus::Failed(reason) => {
                        icon(ui, Icon::Warning, 16.0, theme::error()).on_hover_text(reason);
                    }
                    InputStatus::Cancelled => {
                        muted(ui, "cancelled");
                    }
                    InputStatus::Done(_) => {}
                }
                if ui
                    .add(
                        egui::Button::new(RichText::new(short(&entry.name, 22)).strong())
                            .frame(false),
                    )
                    .on_hover_text("Show this input")
                    .clicked()
                {
                    commands.push(Command::SelectInput(entry.key));
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .add(egui::Button::new("×").frame(false))
                        .on_hover_text("Remove this input")
                        .clicked()
                    {
                        commands.push(Command::RemoveInput(entry.key));
                    }
                    if let Some(Ok(scores)) = entry.zero_shot()
                        && let Some(top) = scores.first()
                    {
                        muted(
                            ui,
                            format!("{} · {:.0} %", top.label, top.probability * 100.0),
                        );
                    }
                });
            });
        });
}
