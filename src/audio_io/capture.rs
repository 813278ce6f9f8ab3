//! Turning a live input stream into a recording: mix to mono, measure each 10 ms frame,
//! keep a short pre-roll before the first speech, and stop when [`AutoStop`] says so. The
//! same code runs for a real microphone and a simulated one.

use std::collections::VecDeque;
use std::path::Path;

use cpal::FromSample;

use crate::audio_io::LiveCapture;
use crate::audio_io::auto_stop::{AutoStop, AutoStopConfig, FRAME_SECS, StopReason};
use crate::preprocess::waveform::Waveform;

/// Frames of the live envelope the window draws (3 s of 10 ms frames).
pub const LIVE_ENVELOPE_FRAMES: usize = 300;
/// Frames the level meter holds its peak over (80 ms), so it does not flicker between
/// syllables.
pub const METER_HOLD_FRAMES: usize = 8;

/// A finished recording: mono samples at the device's rate, from just before the first
/// speech (the pre-roll) to the stop.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// The sound: mono samples in `[-1, 1]` at the device's rate.
    pub wave: Waveform,
    /// The device it came from.
    pub device: String,
    /// Why it ended.
    pub reason: StopReason,
    /// True when speech was heard at all.
    pub heard_speech: bool,
}

impl Recording {
    /// Duration, in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.wave.duration_secs()
    }

    /// Saves the recording as a mono 16-bit WAV (written safely: a temporary file renamed
    /// into place).
    pub fn save_wav(&self, path: &Path) -> crate::Result<()> {
        crate::preprocess::wav_write::write_wav_mono(
            path,
            &self.wave.samples,
            self.wave.sample_rate_hz,
        )
    }
}

/// Mixes interleaved frames of `channels` channels to mono `f32` (the mean of the channels).
pub fn mix_to_mono<T>(interleaved: &[T], channels: usize) -> Vec<f32>
where
    T: Copy,
    f32: FromSample<T>,
{
    let channels = channels.max(1);
    interleaved
        .chunks(channels)
        .map(|frame| frame.iter().map(|&s| f32::from_sample_(s)).sum::<f32>() / frame.len() as f32)
        .collect()
}

/// RMS of `samples` in dBFS (`-inf` for digital silence or no samples).
pub fn rms_dbfs(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return f32::NEG_INFINITY;
    }
    let mean_sq = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    if mean_sq <= 0.0 {
        return f32::NEG_INFINITY;
    }
    (10.0 * mean_sq.log10()) as f32
}

/// Collects a live stream into a [`Recording`].
#[derive(Clone, Debug)]
pub struct CaptureBuffer {
    device: String,
    sample_rate_hz: u32,
    limits: AutoStopConfig,
    auto: AutoStop,
    frame_len: usize,
    /// Samples of the frame being filled.
    partial: Vec<f32>,
    /// Everything kept: before the first speech only the pre-roll, after it all.
    kept: VecDeque<f32>,
    pre_roll_len: usize,
    max_len: usize,
    envelope: VecDeque<(f32, f32)>,
    /// RMS of the latest frames, newest last (at most [`METER_HOLD_FRAMES`]).
    recent_levels: VecDeque<f32>,
    total_samples: usize,
    stop: Option<StopReason>,
}

impl CaptureBuffer {
    /// Starts a recording of `device` at `sample_rate_hz` that stops at `limits`.
    pub fn new(device: impl Into<String>, sample_rate_hz: u32, limits: AutoStopConfig) -> Self {
        let rate = f64::from(sample_rate_hz.max(1));
        let frame_len = ((rate * FRAME_SECS).round() as usize).max(1);
        let pre_roll_len = (rate * limits.pre_roll_secs.max(0.0)).round() as usize;
        let max_len = (rate
            * (limits.pre_roll_secs + limits.max_speech_secs)
                .min(crate::audio_io::auto_stop::MAX_RECORDING_SECS))
        .ceil() as usize
            + frame_len;
        CaptureBuffer {
            device: device.into(),
            sample_rate_hz: sample_rate_hz.max(1),
            limits,
            auto: AutoStop::new(limits),
            frame_len,
            partial: Vec::with_capacity(frame_len),
            kept: VecDeque::new(),
            pre_roll_len,
            max_len,
            envelope: VecDeque::with_capacity(LIVE_ENVELOPE_FRAMES),
            recent_levels: VecDeque::with_capacity(METER_HOLD_FRAMES),
            total_samples: 0,
            stop: None,
        }
    }

    /// Appends mono samples; returns why to stop once it is time (samples after the stop are
    /// ignored).
    pub fn push(&mut self, mono: &[f32]) -> Option<StopReason> {
        for &s in mono {
            if self.stop.is_some() {
                break;
            }
            let s = if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            self.partial.push(s);
            self.total_samples += 1;
            if self.partial.len() == self.frame_len {
                self.end_frame();
            }
        }
        self.stop
    }

    fn end_frame(&mut self) {
        let frame = std::mem::take(&mut self.partial);
        let level_dbfs = rms_dbfs(&frame);
        if self.recent_levels.len() == METER_HOLD_FRAMES {
            self.recent_levels.pop_front();
        }
        self.recent_levels.push_back(level_dbfs);
        let (lo, hi) = frame
            .iter()
            .fold((0f32, 0f32), |(lo, hi), &s| (lo.min(s), hi.max(s)));
        if self.envelope.len() == LIVE_ENVELOPE_FRAMES {
            self.envelope.pop_front();
        }
        self.envelope.push_back((lo, hi));
        let before = self.auto.first_speech_frame().is_some();
        self.stop = self.auto.push(level_dbfs);
        self.kept.extend(frame.iter().copied());
        let speaking = self.auto.first_speech_frame().is_some();
        if !speaking || !before {
            // Until speech starts (and in the frame it starts), keep only the pre-roll plus
            // the current frame.
            let keep = self.pre_roll_len + if speaking { self.frame_len } else { 0 };
            while self.kept.len() > keep {
                self.kept.pop_front();
            }
        }
        while self.kept.len() > self.max_len {
            self.kept.pop_front();
        }
        self.partial = frame;
        self.partial.clear();
    }

    /// Why the recording stopped, once it has.
    pub fn stopped(&self) -> Option<StopReason> {
        self.stop
    }

    /// What the window shows while recording.
    pub fn live(&self) -> LiveCapture {
        LiveCapture {
            device: self.device.clone(),
            elapsed_secs: self.total_samples as f64 / f64::from(self.sample_rate_hz),
            level_dbfs: self
                .recent_levels
                .iter()
                .copied()
                .fold(f32::NEG_INFINITY, f32::max),
            envelope: self.envelope.iter().copied().collect(),
            heard_speech: self.auto.first_speech_frame().is_some(),
            limits: self.limits,
        }
    }

    /// Ends the recording (with the automatic reason if it stopped by itself, else `reason`).
    pub fn finish(mut self, reason: StopReason) -> Recording {
        let heard_speech = self.auto.first_speech_frame().is_some();
        if self.stop.is_none() {
            self.kept.extend(self.partial.drain(..));
        }
        Recording {
            wave: Waveform {
                samples: self.kept.into_iter().collect(),
                sample_rate_hz: self.sample_rate_hz,
            },
            device: self.device,
            reason: self.stop.unwrap_or(reason),
            heard_speech,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 16_000;

    fn limits() -> AutoStopConfig {
        AutoStopConfig {
            max_speech_secs: 1.0,
            trailing_silence_secs: 0.3,
            speech_threshold_dbfs: -40.0,
            max_wait_secs: 3.0,
            pre_roll_secs: 0.1,
        }
    }

    fn tone(secs: f64, amplitude: f32) -> Vec<f32> {
        let n = (secs * f64::from(RATE)) as usize;
        (0..n)
            .map(|i| amplitude * (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin())
            .collect()
    }

    #[test]
    fn mono_mix_averages_channels_of_any_sample_type() {
        assert_eq!(mix_to_mono(&[0.5f32, -0.5, 1.0, 0.0], 2), vec![0.0, 0.5]);
        let m = mix_to_mono(&[i16::MAX, i16::MAX, 0, 0], 2);
        assert!((m[0] - 1.0).abs() < 1e-3 && m[1] == 0.0);
        assert_eq!(mix_to_mono(&[0.25f32, 0.5], 1), vec![0.25, 0.5]);
    }

    #[test]
    fn rms_of_a_full_scale_sine_is_minus_three_db() {
        assert!((rms_dbfs(&tone(0.1, 1.0)) + 3.01).abs() < 0.05);
        assert_eq!(rms_dbfs(&[0.0; 10]), f32::NEG_INFINITY);
    }

    #[test]
    fn recording_keeps_pre_roll_speech_and_stops_on_silence() {
        let mut buf = CaptureBuffer::new("mic", RATE, limits());
        let mut stream = vec![0.0; (RATE / 2) as usize]; // 0.5 s of silence
        stream.extend(tone(0.4, 0.3)); // the "word"
        stream.extend(vec![0.0; RATE as usize]); // silence after it
        // Delivered in odd-sized blocks, as a device does.
        let mut reason = None;
        for block in stream.chunks(441) {
            reason = buf.push(block);
            if reason.is_some() {
                break;
            }
        }
        assert_eq!(reason, Some(StopReason::TrailingSilence));
        let live = buf.live();
        assert!(live.heard_speech);
        assert!(!live.envelope.is_empty());
        let rec = buf.finish(StopReason::User);
        assert_eq!(rec.reason, StopReason::TrailingSilence);
        // 0.1 s pre-roll + 0.4 s tone + 0.3 s silence (to the frame).
        assert!(
            (rec.duration_secs() - 0.8).abs() < 0.02,
            "{}",
            rec.duration_secs()
        );
        let speech_start = (0.1 * f64::from(RATE)) as usize;
        assert!(
            rec.wave.samples[..speech_start - 10]
                .iter()
                .all(|&s| s == 0.0)
        );
        assert!(
            rec.wave.samples[speech_start + 10..speech_start + 200]
                .iter()
                .any(|&s| s.abs() > 0.1)
        );
    }

    #[test]
    fn user_stop_keeps_everything_heard() {
        let mut buf = CaptureBuffer::new("mic", RATE, limits());
        assert_eq!(buf.push(&tone(0.255, 0.5)), None);
        let rec = buf.finish(StopReason::User);
        assert_eq!(rec.reason, StopReason::User);
        assert_eq!(rec.wave.samples.len(), (0.255 * f64::from(RATE)) as usize);
    }

    #[test]
    fn long_speech_is_cut_at_the_clip_length_and_memory_stays_bounded() {
        let mut buf = CaptureBuffer::new("mic", RATE, limits());
        let reason = buf.push(&tone(5.0, 0.5));
        assert_eq!(reason, Some(StopReason::ClipLength));
        let rec = buf.finish(StopReason::User);
        assert!(rec.duration_secs() <= 1.0 + 0.1 + 0.011);
    }

    #[test]
    fn nothing_heard_gives_an_empty_speechless_recording() {
        let mut buf = CaptureBuffer::new("mic", RATE, limits());
        let reason = buf.push(&vec![0.0; 4 * RATE as usize]);
        assert_eq!(reason, Some(StopReason::NoSpeech));
        let rec = buf.finish(StopReason::User);
        assert!(!rec.heard_speech);
        assert!(rec.duration_secs() <= 0.11);
    }

    #[test]
    fn non_finite_samples_are_silenced() {
        let mut buf = CaptureBuffer::new("mic", RATE, limits());
        buf.push(&[f32::NAN, f32::INFINITY, 2.0]);
        let rec = buf.finish(StopReason::User);
        assert_eq!(rec.wave.samples, vec![0.0, 0.0, 1.0]);
    }
}
