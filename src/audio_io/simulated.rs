//! A sound card in software: a "microphone" that streams a given clip in real time (after a
//! short silence, and silence after it, as a person would speak into it) and "speakers" that
//! play into a clock. Used by the tests, and where a machine has no sound devices but a
//! demonstration should still run.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::audio_io::{
    AudioBackend, AudioIoError, Clip, InputDevice, InputMsg, OpenInput, PlayingClip,
};
use crate::preprocess::waveform::Waveform;

/// Name of the simulated input device.
pub const SIMULATED_INPUT_NAME: &str = "Simulated microphone";
/// Name of the simulated output device.
pub const SIMULATED_OUTPUT_NAME: &str = "Simulated speakers";
/// Silence the simulated microphone sends before the clip, in seconds.
pub const LEAD_SILENCE_SECS: f64 = 0.3;
/// Length of each block the simulated microphone sends, in seconds.
const BLOCK_SECS: f64 = 0.010;

/// A software backend.
#[derive(Clone, Debug)]
pub struct SimulatedAudio {
    /// The clip the microphone "hears"; `None`: no input device.
    pub input: Option<Waveform>,
    /// Whether there are speakers.
    pub output: bool,
    /// Time runs this many times faster than the wall clock (1.0: real time).
    pub speed: f64,
}

impl SimulatedAudio {
    /// A microphone hearing `clip` and speakers, in real time.
    pub fn with_clip(clip: Waveform) -> Self {
        SimulatedAudio {
            input: Some(clip),
            output: true,
            speed: 1.0,
        }
    }

    /// No input and no output device.
    pub fn no_devices() -> Self {
        SimulatedAudio {
            input: None,
            output: false,
            speed: 1.0,
        }
    }
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl AudioBackend for SimulatedAudio {
    fn input_devices(&mut self) -> Result<Vec<InputDevice>, AudioIoError> {
        match self.input {
            Some(_) => Ok(vec![InputDevice {
                id: "simulated:microphone".into(),
                name: SIMULATED_INPUT_NAME.into(),
                is_default: true,
            }]),
            None => Err(AudioIoError::NoInputDevice {
                detail: "the simulated sound card has none".into(),
            }),
        }
    }

    fn open_input(
        &mut self,
        _device: Option<&str>,
        blocks: Sender<InputMsg>,
    ) -> Result<OpenInput, AudioIoError> {
        let clip = self
            .input
            .clone()
            .ok_or_else(|| AudioIoError::NoInputDevice {
                detail: "the simulated sound card has none".into(),
            })?;
        let rate = clip.sample_rate_hz.max(1);
        let block_len = ((f64::from(rate) * BLOCK_SECS).round() as usize).max(1);
        let lead = vec![0.0f32; (f64::from(rate) * LEAD_SILENCE_SECS) as usize];
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let period = Duration::from_secs_f64(BLOCK_SECS / self.speed.max(1e-3));
        std::thread::Builder::new()
            .name("transference-sim-mic".into())
            .spawn(move || {
                let start = Instant::now();
                let sound = lead.into_iter().chain(clip.samples);
                let mut stream = sound.chain(std::iter::repeat(0.0f32));
                let mut sent = 0u32;
                while !stopped.load(Ordering::Relaxed) {
                    let block: Vec<f32> = stream.by_ref().take(block_len).collect();
                    if blocks.send(InputMsg::Block(block)).is_err() {
                        break;
                    }
                    sent += 1;
                    // Keep to the clock: block n is due at n periods after the start.
                    let due = period * sent;
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            })
            .map_err(|e| AudioIoError::Stream {
                device: SIMULATED_INPUT_NAME.into(),
                detail: e.to_string(),
            })?;
        Ok(OpenInput {
            device: SIMULATED_INPUT_NAME.into(),
            sample_rate_hz: rate,
            stream: Box::new(StopOnDrop(stop)),
        })
    }

    fn check_output(&mut self) -> Result<String, AudioIoError> {
        if self.output {
            Ok(SIMULATED_OUTPUT_NAME.into())
        } else {
            Err(AudioIoError::NoOutputDevice {
                detail: "the simulated sound card has none".into(),
            })
        }
    }

    fn play(&mut self, clip: &Clip, volume: f32) -> Result<Box<dyn PlayingClip>, AudioIoError> {
        self.check_output()?;
        Ok(Box::new(ClockClip {
            start: Instant::now(),
            duration_secs: clip.wave.duration_secs(),
            speed: self.speed.max(1e-3),
            volume: AtomicU32::new(volume.to_bits()),
        }))
    }
}

/// A clip "playing" on the simulated speakers: its position is the elapsed time.
struct ClockClip {
    start: Instant,
    duration_secs: f64,
    speed: f64,
    volume: AtomicU32,
}

impl PlayingClip for ClockClip {
    fn position_secs(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * self.speed).min(self.duration_secs)
    }

    fn finished(&self) -> bool {
        self.start.elapsed().as_secs_f64() * self.speed >= self.duration_secs
    }

    fn set_volume(&self, volume: f32) {
        self.volume.store(volume.to_bits(), Ordering::Relaxed);
    }
}
