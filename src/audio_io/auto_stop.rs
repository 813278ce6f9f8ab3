//! When a recording stops by itself: after the speaker falls silent, at the model's clip
//! length, or when nobody speaks at all. Plain arithmetic on 10 ms frame levels, so it is
//! tested with made-up levels and needs no device.

use serde::{Deserialize, Serialize};

/// Length of one level frame, in seconds (the same 10 ms frames silence trimming uses).
pub const FRAME_SECS: f64 = crate::preprocess::audio::TRIM_FRAME_SECS;

/// Default speech threshold: a 10 ms frame louder than this (RMS, dBFS) counts as speech.
pub const DEFAULT_SPEECH_THRESHOLD_DBFS: f32 = -42.0;
/// Default trailing silence that ends a recording after speech, in seconds.
pub const DEFAULT_TRAILING_SILENCE_SECS: f64 = 0.8;
/// Default wait for the first speech before giving up, in seconds.
pub const DEFAULT_MAX_WAIT_SECS: f64 = 8.0;
/// Default audio kept before the first speech frame, in seconds.
pub const DEFAULT_PRE_ROLL_SECS: f64 = 0.25;
/// Hard cap on any recording, in seconds, whatever the limits say.
pub const MAX_RECORDING_SECS: f64 = 60.0;

/// The limits a recording stops at.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoStopConfig {
    /// Longest speech kept, from the first speech frame, in seconds: the model's clip length
    /// (`max_duration_secs` of the bundle's audio preprocessing).
    pub max_speech_secs: f64,
    /// Silence after speech that ends the recording, in seconds.
    pub trailing_silence_secs: f64,
    /// A frame louder than this (RMS, dBFS) is speech.
    pub speech_threshold_dbfs: f32,
    /// Wait this long for the first speech, then stop with [`StopReason::NoSpeech`].
    pub max_wait_secs: f64,
    /// Audio kept before the first speech frame, in seconds.
    pub pre_roll_secs: f64,
}

impl AutoStopConfig {
    /// Defaults for a model whose clips last at most `max_speech_secs`.
    pub fn for_clip_length(max_speech_secs: f64) -> Self {
        AutoStopConfig {
            max_speech_secs: max_speech_secs.clamp(0.1, MAX_RECORDING_SECS),
            trailing_silence_secs: DEFAULT_TRAILING_SILENCE_SECS,
            speech_threshold_dbfs: DEFAULT_SPEECH_THRESHOLD_DBFS,
            max_wait_secs: DEFAULT_MAX_WAIT_SECS,
            pre_roll_secs: DEFAULT_PRE_ROLL_SECS,
        }
    }
}

/// Why a recording ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// The speaker fell silent for the trailing-silence time.
    TrailingSilence,
    /// Speech reached the model's clip length.
    ClipLength,
    /// Nobody spoke within the wait time.
    NoSpeech,
    /// The user stopped it (button released or clicked).
    User,
}

impl StopReason {
    /// Words for the window.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::TrailingSilence => "stopped after silence",
            StopReason::ClipLength => "stopped at the model's clip length",
            StopReason::NoSpeech => "stopped: no speech heard",
            StopReason::User => "stopped by you",
        }
    }
}

/// Follows frame levels and says when to stop.
#[derive(Clone, Debug)]
pub struct AutoStop {
    cfg: AutoStopConfig,
    frames: usize,
    first_speech: Option<usize>,
    last_speech: Option<usize>,
}

impl AutoStop {
    /// Starts watching with `cfg`.
    pub fn new(cfg: AutoStopConfig) -> Self {
        AutoStop {
            cfg,
            frames: 0,
            first_speech: None,
            last_speech: None,
        }
    }

    /// Frame index of the first speech, if any was heard.
    pub fn first_speech_frame(&self) -> Option<usize> {
        self.first_speech
    }

    /// Frames seen so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Feeds the level of the next 10 ms frame (RMS dBFS); returns why to stop, if it is time.
    pub fn push(&mut self, level_dbfs: f32) -> Option<StopReason> {
        let i = self.frames;
        self.frames += 1;
        if level_dbfs >= self.cfg.speech_threshold_dbfs {
            self.first_speech.get_or_insert(i);
            self.last_speech = Some(i);
        }
        // A hair over the frame count, so 30 frames of 10 ms reach 0.3 s despite rounding.
        let secs = |frames: usize| frames as f64 * FRAME_SECS + 1e-9;
        match (self.first_speech, self.last_speech) {
            (Some(first), Some(last)) => {
                if secs(self.frames - first) >= self.cfg.max_speech_secs {
                    Some(StopReason::ClipLength)
                } else if secs(self.frames - 1 - last) >= self.cfg.trailing_silence_secs {
                    Some(StopReason::TrailingSilence)
                } else if secs(self.frames) >= MAX_RECORDING_SECS {
                    Some(StopReason::ClipLength)
                } else {
                    None
                }
            }
            _ if secs(self.frames) >= self.cfg.max_wait_secs.min(MAX_RECORDING_SECS) => {
                Some(StopReason::NoSpeech)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AutoStopConfig {
        AutoStopConfig {
            max_speech_secs: 1.0,
            trailing_silence_secs: 0.3,
            speech_threshold_dbfs: -40.0,
            max_wait_secs: 2.0,
            pre_roll_secs: 0.1,
        }
    }

    /// Feeds `levels` and returns (frame index, reason) of the first stop.
    fn run(levels: impl IntoIterator<Item = f32>) -> Option<(usize, StopReason)> {
        let mut a = AutoStop::new(cfg());
        levels
            .into_iter()
            .enumerate()
            .find_map(|(i, l)| a.push(l).map(|r| (i, r)))
    }

    fn frames(secs: f64) -> usize {
        (secs / FRAME_SECS).round() as usize
    }

    #[test]
    fn stops_after_trailing_silence() {
        let levels = std::iter::repeat_n(-70.0, frames(0.5))
            .chain(std::iter::repeat_n(-20.0, frames(0.4)))
            .chain(std::iter::repeat(-70.0));
        let (i, reason) = run(levels).unwrap();
        assert_eq!(reason, StopReason::TrailingSilence);
        // Last speech frame at 0.89 s; 0.3 s of silence after it.
        assert_eq!(i, frames(0.9) - 1 + frames(0.3));
    }

    #[test]
    fn short_pauses_inside_speech_do_not_stop() {
        let word = || std::iter::repeat_n(-20.0f32, frames(0.2));
        let pause = || std::iter::repeat_n(-70.0f32, frames(0.2));
        let levels = word()
            .chain(pause())
            .chain(word())
            .chain(std::iter::repeat(-70.0));
        let (i, reason) = run(levels).unwrap();
        assert_eq!(reason, StopReason::TrailingSilence);
        assert!(i >= frames(0.6), "stopped inside the pause at frame {i}");
    }

    #[test]
    fn continuous_speech_stops_at_the_clip_length() {
        let levels = std::iter::repeat_n(-70.0, frames(0.3)).chain(std::iter::repeat(-10.0));
        let (i, reason) = run(levels).unwrap();
        assert_eq!(reason, StopReason::ClipLength);
        // 1.0 s of speech counted from the first speech frame.
        assert_eq!(i, frames(0.3) + frames(1.0) - 1);
    }

    #[test]
    fn silence_stops_after_the_wait() {
        let (i, reason) = run(std::iter::repeat(-80.0)).unwrap();
        assert_eq!(reason, StopReason::NoSpeech);
        assert_eq!(i, frames(2.0) - 1);
    }

    #[test]
    fn digital_silence_counts_as_silence() {
        let (_, reason) = run(std::iter::repeat(f32::NEG_INFINITY)).unwrap();
        assert_eq!(reason, StopReason::NoSpeech);
    }

    #[test]
    fn limits_follow_the_model_clip_length() {
        let c = AutoStopConfig::for_clip_length(4.0);
        assert_eq!(c.max_speech_secs, 4.0);
        assert!(c.trailing_silence_secs > 0.0 && c.trailing_silence_secs < 4.0);
        assert_eq!(
            AutoStopConfig::for_clip_length(1e9).max_speech_secs,
            MAX_RECORDING_SECS
        );
    }
}
