//! The "Microphone" card of the inputs panel: a record button (or hold Space), the input device
//! picker with the system default preselected, and, while recording, a level meter, the
//! elapsed time against the model's clip length and the live waveform. With no microphone
//! the button is disabled and the card says why.

use egui::{RichText, Ui, Vec2};

use crate::ui::audio_controls::{level_meter, live_waveform};
use crate::ui::audio_state::{AudioUi, RecorderState};
use crate::ui::state::Settings;
use crate::ui::{Command, Icon, icon_button, muted, section, theme};

/// Accessible name of the record button when idle.
pub const RECORD_LABEL: &str = "Record";
/// Accessible name of the record button while recording.
pub const STOP_RECORDING_LABEL: &str = "Stop recording";
/// The hold-to-talk key, as named in the window.
pub const HOLD_TO_TALK_KEY_NAME: &str = "Space";
/// Accessible name of the input device picker.
pub const DEVICE_PICKER_LABEL: &str = "Input device";

/// Draws the card. `clip_secs` is the model's clip length (the recording stops there).
pub fn show(
    ui: &mut Ui,
    audio: &AudioUi,
    settings: &Settings,
    clip_secs: Option<f64>,
    commands: &mut Vec<Command>,
) {
    section(ui, "Microphone", |ui| {
        let can_record = audio.can_record();
        ui.horizontal(|ui| match &audio.recorder {
            RecorderState::Idle => {
                let (enabled, hint) = match (&can_record, clip_secs) {
                    (Err(why), _) => (false, format!("Cannot record: {why}")),
                    (Ok(()), None) => (false, "This model has no audio encoder".to_string()),
                    (Ok(()), Some(_)) => (
                        true,
                        format!(
                            "Record from the microphone; stops by itself when you fall \
                                 silent. Or hold {HOLD_TO_TALK_KEY_NAME} to talk."
                        ),
                    ),
                };
                if icon_button(
                    ui,
                    Icon::Record,
                    Some(theme::recording()),
                    enabled,
                    RECORD_LABEL,
                    &hint,
                )
                .clicked()
                {
                    commands.push(Command::StartRecording { hold: false });
                }
            }
            RecorderState::Starting { .. } | RecorderState::Recording { .. } => {
                if icon_button(
                    ui,
                    Icon::Stop,
                    Some(theme::recording()),
                    true,
                    STOP_RECORDING_LABEL,
                    "Stop now and analyse what was recorded",
                )
                .clicked()
                {
                    commands.push(Command::StopRecording);
                }
            }
        });
        device_picker(ui, audio, settings, commands);
        match (&audio.recorder, &audio.status.capture) {
            (RecorderState::Recording { .. }, Some(live)) => {
                let width = ui.available_width();
                ui.horizontal(|ui| {
                    ui.label(RichText::new("● REC").color(theme::recording()).strong());
                    ui.label(format!(
                        "{:.1} s · stops after {:.1} s of silence or {:.1} s of speech",
                        live.elapsed_secs,
                        live.limits.trailing_silence_secs,
                        live.limits.max_speech_secs
                    ));
                });
                level_meter(ui, live, width);
                live_waveform(ui, &live.envelope, Vec2::new(width, 48.0));
                muted(
                    ui,
                    if live.heard_speech {
                        "hearing speech…"
                    } else {
                        "listening: say a word"
                    },
                );
            }
            (RecorderState::Starting { .. } | RecorderState::Recording { .. }, _) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    muted(ui, "opening the microphone…");
                });
            }
            (RecorderState::Idle, _) => match &can_record {
                Err(why) if audio.inputs.is_some() => {
                    ui.label(RichText::new(why.to_string()).color(theme::warning()));
                }
                _ => {
                    let last = audio
                        .last_stop
                        .map(|r| format!("Last recording {}. ", r.describe()))
                        .unwrap_or_default();
                    muted(
                        ui,
                        format!("{last}Click Record, or hold {HOLD_TO_TALK_KEY_NAME} to talk."),
                    );
                }
            },
        }
    });
}

/// The input device combo box (default preselected) and a refresh button.
fn device_picker(ui: &mut Ui, audio: &AudioUi, settings: &Settings, commands: &mut Vec<Command>) {
    let Some(Ok(devices)) = &audio.inputs else {
        return;
    };
    let current = audio.preselected(settings.input_device.as_deref());
    let selected_text = current
        .map(|d| display_name(&d.name, d.is_default))
        .unwrap_or_default();
    let enabled = !audio.recorder.active();
    ui.horizontal(|ui| {
        ui.add_enabled_ui(enabled, |ui| {
            device_row(ui, devices, current, &selected_text, commands)
        });
    });
}

/// The picker row: "from", the combo box, the rescan button.
fn device_row(
    ui: &mut Ui,
    devices: &[crate::audio_io::InputDevice],
    current: Option<&crate::audio_io::InputDevice>,
    selected_text: &str,
    commands: &mut Vec<Command>,
) {
    muted(ui, "from");
    // The rescan button goes to the right edge first; the picker fills what is left.
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        if ui
            .small_button("Rescan")
            .on_hover_text("List the input devices again")
            .clicked()
        {
            commands.push(Command::RefreshInputDevices);
        }
        // `width` is the text's; the box adds its arrow and padding. Asking for more than is
        // left widened the side panel a little every frame.
        let spacing = ui.spacing();
        let chrome = spacing.icon_width + 2.0 * spacing.button_padding.x + spacing.item_spacing.x;
        let combo = egui::ComboBox::from_id_salt(DEVICE_PICKER_LABEL)
            .selected_text(selected_text)
            .truncate()
            .width((ui.available_width() - chrome).max(60.0));
        combo
            .show_ui(ui, |ui| {
                for d in devices {
                    let chosen = current.is_some_and(|c| c.id == d.id);
                    if ui
                        .selectable_label(chosen, display_name(&d.name, d.is_default))
                        .clicked()
                        && !chosen
                    {
                        commands.push(Command::SelectInputDevice(d.id.clone()));
                    }
                }
            })
            .response
            .on_hover_text(format!("{DEVICE_PICKER_LABEL}: {selected_text}"));
    });
}

fn display_name(name: &str, is_default: bool) -> String {
    if is_default {
        format!("{name} (default)")
    } else {
        name.to_string()
    }
}
