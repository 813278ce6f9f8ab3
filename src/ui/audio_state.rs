//! What the window knows about sound: whether it can record and play, the recorder's state,
//! and the live status copied from the audio service each frame. Plain data with the rules
//! for each [`AudioEvent`]; unit-tested without egui or devices.

use crate::audio_io::{
    AudioEvent, AudioIoError, AudioStatus, ClipId, InputDevice, Recording, StopReason,
};
use crate::engine::InputSource;

/// Where the recorder is.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RecorderState {
    /// Not recording.
    #[default]
    Idle,
    /// Asked the audio service to open the input; `hold` when started by hold-to-talk.
    Starting { hold: bool },
    /// Recording from `device`.
    Recording { hold: bool, device: String },
}

impl RecorderState {
    /// True while starting or recording.
    pub fn active(&self) -> bool {
        !matches!(self, RecorderState::Idle)
    }

    /// True when hold-to-talk started it (releasing the key stops it).
    pub fn held(&self) -> bool {
        matches!(
            self,
            RecorderState::Starting { hold: true } | RecorderState::Recording { hold: true, .. }
        )
    }
}

/// What the window should do after an audio event.
#[derive(Clone, Debug, PartialEq)]
pub enum AudioOutcome {
    /// Nothing beyond the state change.
    None,
    /// Analyse this recording.
    Analyse(InputSource),
    /// Tell the user (a warning).
    Warn { title: String, message: String },
}

/// Why a sound button is disabled.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SoundUnavailable {
    #[error("checking the audio output…")]
    CheckingOutput,
    #[error("looking for microphones…")]
    ListingInputs,
    #[error("no microphone found")]
    NoMicrophone,
    /// The device layer said why.
    #[error(transparent)]
    Device(AudioIoError),
}

/// Sound as the window sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioUi {
    /// The output device's name, or why there is none; `None` while it is checked.
    pub output: Option<Result<String, AudioIoError>>,
    /// The input devices, or why there are none; `None` while they are listed.
    pub inputs: Option<Result<Vec<InputDevice>, AudioIoError>>,
    /// The recorder.
    pub recorder: RecorderState,
    /// Live level, envelope and playhead, copied from the service each frame.
    pub status: AudioStatus,
    /// Recordings made so far (names them "recording N").
    pub recordings_made: u32,
    /// How the last recording ended.
    pub last_stop: Option<StopReason>,
}

impl AudioUi {
    /// `Ok` when clips can be played, else why not (for disabled buttons).
    pub fn can_play(&self) -> Result<(), SoundUnavailable> {
        match &self.output {
            Some(Ok(_)) => Ok(()),
            Some(Err(why)) => Err(SoundUnavailable::Device(why.clone())),
            None => Err(SoundUnavailable::CheckingOutput),
        }
    }

    /// `Ok` when a recording can start, else why not.
    pub fn can_record(&self) -> Result<(), SoundUnavailable> {
        match &self.inputs {
            Some(Ok(list)) if !list.is_empty() => Ok(()),
            Some(Ok(_)) => Err(SoundUnavailable::NoMicrophone),
            Some(Err(why)) => Err(SoundUnavailable::Device(why.clone())),
            None => Err(SoundUnavailable::ListingInputs),
        }
    }

    /// True while `id` plays.
    pub fn is_playing(&self, id: &ClipId) -> bool {
        self.status.playback.as_ref().is_some_and(|p| &p.id == id)
    }

    /// The device to preselect: `chosen` when it is still there, else the default input.
    pub fn preselected<'a>(&'a self, chosen: Option<&str>) -> Option<&'a InputDevice> {
        let list = self.inputs.as_ref()?.as_ref().ok()?;
        chosen
            .and_then(|id| list.iter().find(|d| d.id == id))
            .or_else(|| list.iter().find(|d| d.is_default))
            .or_else(|| list.first())
    }

    /// Applies an event from the audio service.
    pub fn apply(&mut self, event: AudioEvent) -> AudioOutcome {
        match event {
            AudioEvent::Output(r) => {
                self.output = Some(r);
                AudioOutcome::None
            }
            AudioEvent::Inputs(r) => {
                self.inputs = Some(r);
                AudioOutcome::None
            }
            AudioEvent::RecordingStarted { device, .. } => {
                let hold = self.recorder.held();
                if self.recorder.active() {
                    self.recorder = RecorderState::Recording { hold, device };
                }
                AudioOutcome::None
            }
            AudioEvent::Recorded(recording) => {
                self.recorder = RecorderState::Idle;
                self.last_stop = Some(recording.reason);
                self.recorded(recording)
            }
            AudioEvent::RecordingFailed(e) => {
                self.recorder = RecorderState::Idle;
                AudioOutcome::Warn {
                    title: "Cannot record".into(),
                    message: e.to_string(),
                }
            }
            AudioEvent::PlaybackFailed { error, .. } => AudioOutcome::Warn {
                title: "Cannot play audio".into(),
                message: error.to_string(),
            },
        }
    }

    fn recorded(&mut self, recording: Recording) -> AudioOutcome {
        if !recording.heard_speech {
            let limits = self.status.capture.as_ref().map(|c| c.limits);
            let threshold = limits
                .map(|l| format!(" above {:.0} dBFS", l.speech_threshold_dbfs))
                .unwrap_or_default();
            return AudioOutcome::Warn {
                title: "Nothing heard".into(),
                message: format!(
                    "{} recorded {:.1} s with no sound{threshold}: check the input device and \
                     its level, and speak closer to the microphone.",
                    recording.device,
                    recording.duration_secs()
                ),
            };
        }
        self.recordings_made += 1;
        AudioOutcome::Analyse(InputSource::Recording {
            name: format!("recording {}", self.recordings_made),
            samples: recording.wave.samples,
            sample_rate_hz: recording.wave.sample_rate_hz,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::PlaybackStatus;

    fn device(id: &str, is_default: bool) -> InputDevice {
        InputDevice {
            id: id.into(),
            name: id.to_uppercase(),
            is_default,
        }
    }

    fn recording(heard_speech: bool) -> Recording {
        Recording {
            wave: crate::preprocess::audio::Waveform {
                samples: vec![0.1; 800],
                sample_rate_hz: 8_000,
            },
            device: "mic".into(),
            reason: StopReason::TrailingSilence,
            heard_speech,
        }
    }

    #[test]
    fn buttons_say_why_before_devices_are_known_and_when_missing() {
        let mut a = AudioUi::default();
        assert!(a.can_play().unwrap_err().to_string().contains("checking"));
        assert!(a.can_record().unwrap_err().to_string().contains("looking"));
        a.apply(AudioEvent::Output(Err(AudioIoError::NoOutputDevice {
            detail: "none".into(),
        })));
        a.apply(AudioEvent::Inputs(Err(AudioIoError::NoInputDevice {
            detail: "none".into(),
        })));
        let why = a.can_play().unwrap_err().to_string();
        assert!(why.contains("no audio output device"), "{why}");
        let why = a.can_record().unwrap_err().to_string();
        assert!(why.contains("no microphone"), "{why}");
    }

    #[test]
    fn a_recording_with_speech_is_analysed_under_a_numbered_name() {
        let mut a = AudioUi {
            recorder: RecorderState::Starting { hold: true },
            ..Default::default()
        };
        a.apply(AudioEvent::RecordingStarted {
            device: "mic".into(),
            sample_rate_hz: 8_000,
        });
        assert_eq!(
            a.recorder,
            RecorderState::Recording {
                hold: true,
                device: "mic".into()
            }
        );
        let out = a.apply(AudioEvent::Recorded(recording(true)));
        assert_eq!(a.recorder, RecorderState::Idle);
        match out {
            AudioOutcome::Analyse(InputSource::Recording {
                name,
                sample_rate_hz,
                ..
            }) => {
                assert_eq!(name, "recording 1");
                assert_eq!(sample_rate_hz, 8_000);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn silence_is_reported_not_analysed() {
        let mut a = AudioUi::default();
        let out = a.apply(AudioEvent::Recorded(recording(false)));
        assert!(matches!(out, AudioOutcome::Warn { ref title, .. } if title == "Nothing heard"));
        assert_eq!(a.recordings_made, 0);
    }

    #[test]
    fn a_late_start_after_cancel_does_not_resurrect_the_recorder() {
        let mut a = AudioUi::default();
        a.apply(AudioEvent::RecordingStarted {
            device: "mic".into(),
            sample_rate_hz: 8_000,
        });
        assert_eq!(a.recorder, RecorderState::Idle);
    }

    #[test]
    fn the_chosen_device_is_preselected_while_it_exists() {
        let mut a = AudioUi::default();
        a.apply(AudioEvent::Inputs(Ok(vec![
            device("a", false),
            device("b", true),
        ])));
        assert_eq!(a.preselected(None).unwrap().id, "b");
        assert_eq!(a.preselected(Some("a")).unwrap().id, "a");
        assert_eq!(a.preselected(Some("gone")).unwrap().id, "b");
    }

    #[test]
    fn playing_is_known_per_clip() {
        let mut a = AudioUi::default();
        a.status.playback = Some(PlaybackStatus {
            id: ClipId::Input(3),
            position_secs: 0.1,
            duration_secs: 1.0,
        });
        assert!(a.is_playing(&ClipId::Input(3)));
        assert!(!a.is_playing(&ClipId::Input(4)));
    }
}
