//! Sound in and out of the window: recording from a microphone (cpal) and playing clips
//! (rodio), with no external program.
//!
//! One thread, the [`AudioService`], owns every audio stream. The window sends it
//! [`AudioRequest`]s and reads back plain data: one-off [`AudioEvent`]s (a recording is
//! finished, a device failed) and a live [`AudioStatus`] snapshot (input level, elapsed time,
//! the recent waveform, the playhead). Nothing here blocks the window: opening a device, which
//! can take a while on some systems, happens on the service thread.
//!
//! Where the sound comes from is an [`AudioBackend`]: [`system::SystemAudio`] talks to the
//! operating system's devices; [`simulated::SimulatedAudio`] streams a given clip as a
//! microphone in real time and plays into a clock, for tests and machines without sound.
//! Either way a recording goes through the same [`capture::CaptureBuffer`] and stops by
//! itself on trailing silence or at the model's clip length ([`auto_stop`]).

pub mod auto_stop;
pub mod capture;
pub mod error;
pub mod service;
pub mod simulated;
pub mod system;

use std::path::PathBuf;

use crossbeam_channel::Sender;

use crate::preprocess::waveform::Waveform;

pub use auto_stop::{AutoStopConfig, StopReason};
pub use capture::{CaptureBuffer, Recording};
pub use error::AudioIoError;
pub use service::AudioService;

/// An audio input device as the user picks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputDevice {
    /// Stable identifier to open it again (cpal's device id, `host:device`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// True for the system's default input.
    pub is_default: bool,
}

/// Which clip is playing, so the window can mark the right play button and waveform.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClipId {
    /// An analysed input, by its key in the session (played as the model hears it).
    Input(u64),
    /// An audio file (an input's original, a gallery item, a retrieval result).
    File(PathBuf),
    /// A code's vector decoded as a sound (its page), by code id.
    Code(u32),
}

/// Mono samples to play.
#[derive(Clone, Debug, PartialEq)]
pub struct Clip {
    /// What is played.
    pub id: ClipId,
    /// The sound: mono samples in `[-1, 1]` at their rate.
    pub wave: Waveform,
}

/// What the window asks of the audio service.
#[derive(Clone, Debug, PartialEq)]
pub enum AudioRequest {
    /// List the input devices (answered by [`AudioEvent::Inputs`]).
    ListInputs,
    /// Start recording from `device` (an [`InputDevice::id`]; `None`: the default input).
    StartRecording {
        device: Option<String>,
        limits: AutoStopConfig,
    },
    /// Stop recording now and deliver what was recorded ([`StopReason::User`]).
    StopRecording,
    /// Stop recording and throw the audio away.
    CancelRecording,
    /// Play samples (stops whatever plays).
    Play(Clip),
    /// Decode an audio file (any supported format) and play it.
    PlayFile(PathBuf),
    /// Stop playback.
    StopPlayback,
    /// Playback volume, 0 (silent) to 1 (as recorded); applies at once.
    SetVolume(f32),
}

/// One-off results of the audio service.
#[derive(Clone, Debug, PartialEq)]
pub enum AudioEvent {
    /// The input devices, or why there are none.
    Inputs(Result<Vec<InputDevice>, AudioIoError>),
    /// Whether sound can be played, checked once at start: the output device's name, or why
    /// not.
    Output(Result<String, AudioIoError>),
    /// A recording started on `device`.
    RecordingStarted { device: String, sample_rate_hz: u32 },
    /// A recording ended (by itself or on request) and is ready to analyse.
    Recorded(Recording),
    /// A recording could not start or broke off.
    RecordingFailed(AudioIoError),
    /// A clip could not be played.
    PlaybackFailed { id: ClipId, error: AudioIoError },
}

/// Live state while recording.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveCapture {
    /// The device being recorded.
    pub device: String,
    /// Seconds recorded so far.
    pub elapsed_secs: f64,
    /// Level: the loudest 10 ms frame (RMS, dBFS) of the last
    /// [`capture::METER_HOLD_FRAMES`] frames (`-inf` for digital silence).
    pub level_dbfs: f32,
    /// Min/max of each recent 10 ms frame, oldest first (at most
    /// [`capture::LIVE_ENVELOPE_FRAMES`]).
    pub envelope: Vec<(f32, f32)>,
    /// True once speech (a frame above the speech threshold) was heard.
    pub heard_speech: bool,
    /// The limits the recording stops at.
    pub limits: AutoStopConfig,
}

/// Live state while a clip plays.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaybackStatus {
    /// What plays.
    pub id: ClipId,
    /// Playhead, in seconds from the start.
    pub position_secs: f64,
    /// Length of the clip, in seconds.
    pub duration_secs: f64,
}

impl PlaybackStatus {
    /// Playhead as a fraction of the clip, in `[0, 1]`.
    pub fn fraction(&self) -> f32 {
        if self.duration_secs <= 0.0 {
            return 0.0;
        }
        (self.position_secs / self.duration_secs).clamp(0.0, 1.0) as f32
    }
}

/// Everything the window draws of the audio service, copied out each frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AudioStatus {
    /// While recording.
    pub capture: Option<LiveCapture>,
    /// While playing.
    pub playback: Option<PlaybackStatus>,
    /// Playback volume, 0..1.
    pub volume: f32,
}

/// What an input stream sends to the service.
#[derive(Clone, Debug, PartialEq)]
pub enum InputMsg {
    /// Mono samples, in order.
    Block(Vec<f32>),
    /// The stream broke (device unplugged, server gone).
    Error(AudioIoError),
}

/// An open input stream: [`InputMsg`]s arrive on the channel given to
/// [`AudioBackend::open_input`] until this is dropped.
pub struct OpenInput {
    /// Device name for display.
    pub device: String,
    /// Rate of the blocks, in Hz.
    pub sample_rate_hz: u32,
    /// Keeps the stream alive; dropping it stops the stream.
    pub stream: Box<dyn Send>,
}

/// A clip that is playing; dropping it stops it.
pub trait PlayingClip: Send {
    /// Seconds played so far.
    fn position_secs(&self) -> f64;
    /// True when the clip has played to its end.
    fn finished(&self) -> bool;
    /// Volume, 0..1.
    fn set_volume(&self, volume: f32);
}

/// Where sound comes from and goes to.
pub trait AudioBackend: Send {
    /// The input devices.
    fn input_devices(&mut self) -> Result<Vec<InputDevice>, AudioIoError>;
    /// Opens `device` (`None`: the default input); mono blocks go to `blocks`.
    fn open_input(
        &mut self,
        device: Option<&str>,
        blocks: Sender<InputMsg>,
    ) -> Result<OpenInput, AudioIoError>;
    /// Checks that sound can be played: the output device's name.
    fn check_output(&mut self) -> Result<String, AudioIoError>;
    /// Starts playing `clip` at `volume`.
    fn play(&mut self, clip: &Clip, volume: f32) -> Result<Box<dyn PlayingClip>, AudioIoError>;
}
