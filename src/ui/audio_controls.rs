//! Small sound widgets shared by the panels: a play/stop toggle for any clip, the volume
//! slider, a playhead over a waveform or spectrogram, the input level meter and the live
//! waveform drawn while recording.

use egui::{Pos2, Rect, Sense, Stroke, Ui, Vec2};

use crate::audio_io::{ClipId, LiveCapture};
use crate::ui::audio_state::AudioUi;
use crate::ui::{Command, Icon, icon_button, play_button, theme};

/// Accessible name of the stop button shown while a clip plays.
pub const STOP_PLAYING_LABEL: &str = "Stop playing";
/// Lowest level the meter shows, in dBFS (its left end).
pub const METER_FLOOR_DBFS: f32 = -60.0;

/// A play button for `id` that turns into a stop button while `id` plays. Disabled, with the
/// reason on hover, when nothing can be played.
pub fn play_toggle(
    ui: &mut Ui,
    audio: &AudioUi,
    id: &ClipId,
    text: &str,
    commands: &mut Vec<Command>,
) {
    if audio.is_playing(id) {
        let hint = if text.is_empty() {
            "Stop playback".to_string()
        } else {
            format!("Stop playback ({text})")
        };
        if icon_button(ui, Icon::Stop, None, true, STOP_PLAYING_LABEL, &hint).clicked() {
            commands.push(Command::StopAudio);
        }
        return;
    }
    let (enabled, hint) = match audio.can_play() {
        Ok(()) => (true, "Play in the app".to_string()),
        Err(why) => (false, format!("Cannot play: {why}")),
    };
    let label = if text.is_empty() { "Play" } else { text };
    if play_button(ui, enabled, label, &hint).clicked() {
        commands.push(match id {
            ClipId::Input(key) => Command::PlayInput(*key),
            ClipId::File(path) => Command::PlayFile(path.clone()),
            ClipId::Code(code) => Command::PlayCodeSound(*code),
        });
    }
}

/// The volume slider (0–100 %); pushes [`Command::SetVolume`] when moved.
pub fn volume_slider(ui: &mut Ui, volume: &mut f32, commands: &mut Vec<Command>) {
    let slider = egui::Slider::new(volume, 0.0..=1.0)
        .show_value(false)
        .text("volume");
    if ui.add(slider).on_hover_text("Playback volume").changed() {
        commands.push(Command::SetVolume(*volume));
    }
}

/// The status bar's sound part: what plays (with a stop button) or the output device (or
/// why there is none), and the volume.
pub fn status_bar_part(
    ui: &mut Ui,
    audio: &AudioUi,
    volume: &mut f32,
    commands: &mut Vec<Command>,
) {
    match (&audio.status.playback, &audio.output) {
        (Some(p), _) => {
            if icon_button(
                ui,
                Icon::Stop,
                None,
                true,
                STOP_PLAYING_LABEL,
                "Stop playback",
            )
            .clicked()
            {
                commands.push(Command::StopAudio);
            }
            ui.label(format!("{:.1} / {:.1} s", p.position_secs, p.duration_secs));
        }
        (None, Some(Ok(device))) => {
            crate::ui::muted(ui, "sound").on_hover_text(format!("Playback through {device}"));
        }
        (None, Some(Err(why))) => {
            ui.label(egui::RichText::new("no sound output").color(theme::warning()))
                .on_hover_text(why.to_string());
        }
        (None, None) => {
            crate::ui::muted(ui, "sound: checking…");
        }
    }
    if audio.can_play().is_ok() {
        ui.spacing_mut().slider_width = 70.0;
        volume_slider(ui, volume, commands);
    }
}

/// A vertical playhead at `fraction` (0..1) of `rect`'s width.
pub fn paint_playhead(ui: &Ui, rect: Rect, fraction: f32) {
    let x = rect.left() + rect.width() * fraction.clamp(0.0, 1.0);
    ui.painter().line_segment(
        [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
        Stroke::new(2.0, theme::playhead()),
    );
}

/// Where `position_secs` of a clip falls on a log-mel strip of `n_frames` frames each
/// `frame_secs` long, as a fraction of its width.
pub fn mel_fraction(position_secs: f64, frame_secs: f64, n_frames: usize) -> f32 {
    if frame_secs <= 0.0 || n_frames == 0 {
        return 0.0;
    }
    (position_secs / frame_secs / n_frames as f64).clamp(0.0, 1.0) as f32
}

/// The input level as a bar from [`METER_FLOOR_DBFS`] to 0 dBFS, with the speech threshold
/// marked. Its accessible name reads the level.
pub fn level_meter(ui: &mut Ui, live: &LiveCapture, width: f32) {
    let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 12.0), Sense::hover());
    let level = live.level_dbfs.max(METER_FLOOR_DBFS);
    let text = if live.level_dbfs.is_finite() {
        format!("input level {:.0} dBFS", live.level_dbfs)
    } else {
        "input level silent".into()
    };
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Meter, true, &text));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 3, theme::bar_track());
    let at = |db: f32| rect.left() + rect.width() * (1.0 - db / METER_FLOOR_DBFS).clamp(0.0, 1.0);
    let fill = Rect::from_min_max(rect.left_top(), Pos2::new(at(level), rect.bottom()));
    let threshold = live.limits.speech_threshold_dbfs;
    painter.rect_filled(fill, 3, theme::level_meter(level, threshold));
    let x = at(threshold);
    painter.line_segment(
        [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
        Stroke::new(1.0, theme::strong_text()),
    );
    response.on_hover_text(format!(
        "{text}; speech starts at {threshold:.0} dBFS (the tick)"
    ));
}

/// The last seconds of the recording as a min/max envelope, newest at the right.
pub fn live_waveform(ui: &mut Ui, envelope: &[(f32, f32)], size: Vec2) {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4, theme::extreme_bg());
    let columns = crate::audio_io::capture::LIVE_ENVELOPE_FRAMES as f32;
    let step = rect.width() / columns;
    let start = rect.right() - envelope.len() as f32 * step;
    let mid = rect.center().y;
    let half = rect.height() / 2.0 - 2.0;
    let stroke = Stroke::new(step.max(1.0), theme::waveform());
    for (i, (lo, hi)) in envelope.iter().enumerate() {
        let x = start + (i as f32 + 0.5) * step;
        painter.line_segment(
            [
                Pos2::new(x, mid - hi * half),
                Pos2::new(x, mid - lo * half + 0.5),
            ],
            stroke,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_playhead_tracks_frames_and_stays_inside() {
        // 100 frames of 8 ms: 0.4 s is half way.
        assert!((mel_fraction(0.4, 0.008, 100) - 0.5).abs() < 1e-6);
        assert_eq!(mel_fraction(9.0, 0.008, 100), 1.0);
        assert_eq!(mel_fraction(0.4, 0.0, 100), 0.0);
    }
}
