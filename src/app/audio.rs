//! Sound, app side: starting and stopping recordings (button and hold-to-talk), turning audio
//! events into inputs and notifications, and saving a recording as WAV on a helper thread.

use std::path::PathBuf;

use super::{ExplorerApp, UiMsg, spawn_helper};
use crate::audio_io::{AudioRequest, AutoStopConfig};
use crate::engine::InputSource;
use crate::ui::audio_state::{AudioOutcome, RecorderState};
use crate::ui::notifications::Level;

impl ExplorerApp {
    /// Asks the audio service to record, with the model's clip length as the limit.
    pub(super) fn start_recording(&mut self, hold: bool) {
        let audio = &mut self.session.audio;
        if audio.recorder.active() || audio.can_record().is_err() {
            return;
        }
        let Some(clip_secs) = self
            .session
            .summary
            .as_ref()
            .and_then(|s| s.audio_clip_secs)
        else {
            return;
        };
        let device = audio
            .preselected(self.settings.input_device.as_deref())
            .map(|d| d.id.clone());
        audio.recorder = RecorderState::Starting { hold };
        self.audio.send(AudioRequest::StartRecording {
            device,
            limits: AutoStopConfig::for_clip_length(clip_secs),
        });
    }

    /// Stops recording; the recording comes back as an event and is analysed then.
    pub(super) fn stop_recording(&mut self) {
        match self.session.audio.recorder {
            RecorderState::Recording { .. } => self.audio.send(AudioRequest::StopRecording),
            RecorderState::Starting { .. } => {
                // Not open yet: nothing to analyse.
                self.audio.send(AudioRequest::CancelRecording);
                self.session.audio.recorder = RecorderState::Idle;
            }
            RecorderState::Idle => {}
        }
    }

    /// Hold-to-talk: pressing Space (while no text field has the keyboard) starts a
    /// recording, releasing it stops that recording.
    pub(super) fn hold_to_talk(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let (pressed, released) = ctx.input(|i| {
            let pressed = i.events.iter().any(|e| {
                matches!(
                    e,
                    egui::Event::Key {
                        key: egui::Key::Space,
                        pressed: true,
                        repeat: false,
                        ..
                    }
                )
            });
            (pressed, i.key_released(egui::Key::Space))
        });
        if pressed && !self.session.audio.recorder.active() {
            self.start_recording(true);
        } else if released && self.session.audio.recorder.held() {
            self.stop_recording();
        }
    }

    pub(super) fn handle_audio_event(&mut self, event: crate::audio_io::AudioEvent) {
        match self.session.audio.apply(event) {
            AudioOutcome::None => {}
            AudioOutcome::Analyse(source) => self.add_input(source),
            AudioOutcome::Warn { title, message } => {
                self.session
                    .notifications
                    .push(Level::Warning, title, message)
            }
        }
    }

    /// Writes a recording's samples (as they came from the microphone) to `path` on a
    /// helper thread.
    pub(super) fn save_recording(&mut self, key: u64, path: PathBuf) {
        let Some(InputSource::Recording {
            samples,
            sample_rate_hz,
            ..
        }) = self
            .session
            .inputs
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.source.clone())
        else {
            return;
        };
        let tx = self.msgs_tx.clone();
        let repaint = self.ctx.clone();
        spawn_helper("transference-save-wav", &tx, &repaint, move || {
            UiMsg::RecordingSaved(
                crate::preprocess::wav_write::write_wav_mono(&path, &samples, sample_rate_hz)
                    .map(|()| path),
            )
        });
    }
}
