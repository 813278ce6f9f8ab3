//! The operating system's sound devices: capture through cpal (ALSA on Linux, so PulseAudio
//! and PipeWire devices too; CoreAudio on macOS; WASAPI on Windows), playback through rodio.

use std::num::NonZero;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};
use crossbeam_channel::Sender;

use crate::audio_io::capture::mix_to_mono;
use crate::audio_io::{
    AudioBackend, AudioIoError, Clip, ClipId, InputDevice, InputMsg, OpenInput, PlayingClip,
};

/// The system's default audio host.
pub struct SystemAudio {
    host: cpal::Host,
    /// The output stream, opened on first use and kept (rodio mixes every clip into it).
    sink: Option<rodio::MixerDeviceSink>,
}

impl Default for SystemAudio {
    fn default() -> Self {
        Self::new()
    }
}

impl SystemAudio {
    /// The default host (nothing is opened yet).
    pub fn new() -> Self {
        SystemAudio {
            host: cpal::default_host(),
            sink: None,
        }
    }

    fn sink(&mut self) -> Result<&rodio::MixerDeviceSink, AudioIoError> {
        if self.sink.is_none() {
            let mut sink = rodio::DeviceSinkBuilder::open_default_sink().map_err(|e| {
                AudioIoError::NoOutputDevice {
                    detail: with_sources(&e),
                }
            })?;
            sink.log_on_drop(false);
            self.sink = Some(sink);
        }
        self.sink.as_ref().ok_or(AudioIoError::ServiceStopped)
    }

    fn input_device(&self, id: Option<&str>) -> Result<cpal::Device, AudioIoError> {
        match id {
            None => self
                .host
                .default_input_device()
                .ok_or_else(|| AudioIoError::NoInputDevice {
                    detail: format!("{:?} has no default input", self.host.id()),
                }),
            Some(id) => {
                let unavailable = |detail: String| AudioIoError::DeviceUnavailable {
                    device: id.to_string(),
                    detail,
                };
                let parsed: cpal::DeviceId = id
                    .parse()
                    .map_err(|e: cpal::Error| unavailable(e.to_string()))?;
                self.host
                    .device_by_id(&parsed)
                    .ok_or_else(|| unavailable("no such device now".into()))
            }
        }
    }
}

/// An error and its causes on one line.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Builds an input stream of sample type `T` that sends mono blocks.
fn build_input<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    name: &str,
    tx: Sender<InputMsg>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    let channels = usize::from(config.channels);
    let err_tx = tx.clone();
    let name = name.to_string();
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            let _ = tx.send(InputMsg::Block(mix_to_mono(data, channels)));
        },
        move |e: cpal::Error| {
            use cpal::ErrorKind as K;
            // Glitches and reroutes are not fatal; the rest ends the recording.
            if !matches!(e.kind(), K::Xrun | K::DeviceChanged | K::RealtimeDenied) {
                let _ = err_tx.send(InputMsg::Error(AudioIoError::from_cpal(&name, &e)));
            }
        },
        None,
    )
}

/// ALSA's `null` PCM ("Discard all samples (playback) or generate zeros (capture)"): listed as
/// an input when no sound server runs, it records only zeros, so it is never offered as a
/// microphone.
fn is_silent_pseudo_input(device_id: &str) -> bool {
    device_id == "alsa:null"
}

impl AudioBackend for SystemAudio {
    fn input_devices(&mut self) -> Result<Vec<InputDevice>, AudioIoError> {
        let default_id = self.host.default_input_device().and_then(|d| d.id().ok());
        let devices = self
            .host
            .input_devices()
            .map_err(|e| AudioIoError::NoInputDevice {
                detail: e.to_string(),
            })?;
        let mut listed = 0;
        let mut list: Vec<InputDevice> = devices
            .filter_map(|d| {
                let id = d.id().ok()?;
                listed += 1;
                // A device that cannot tell its input format cannot be opened either (ALSA's
                // sound-server bridges, `pulse` or `jack`, while no server runs): not offered.
                if is_silent_pseudo_input(&id.to_string()) || d.default_input_config().is_err() {
                    return None;
                }
                Some(InputDevice {
                    is_default: Some(&id) == default_id.as_ref(),
                    id: id.to_string(),
                    name: d.to_string(),
                })
            })
            .collect();
        if list.is_empty() {
            let detail = if listed > 0 {
                format!(
                    "none of the {listed} input devices {:?} lists can be opened or records \
                     sound",
                    self.host.id()
                )
            } else {
                format!("{:?} lists no input device", self.host.id())
            };
            return Err(AudioIoError::NoInputDevice { detail });
        }
        // The default first, then by name.
        list.sort_by(|a, b| b.is_default.cmp(&a.is_default).then(a.name.cmp(&b.name)));
        Ok(list)
    }

    fn open_input(
        &mut self,
        device: Option<&str>,
        blocks: Sender<InputMsg>,
    ) -> Result<OpenInput, AudioIoError> {
        let device = self.input_device(device)?;
        let name = device.to_string();
        let supported = device
            .default_input_config()
            .map_err(|e| AudioIoError::from_cpal(&name, &e))?;
        let config: cpal::StreamConfig = supported.config();
        let build = match supported.sample_format() {
            SampleFormat::F32 => build_input::<f32>(&device, &config, &name, blocks),
            SampleFormat::F64 => build_input::<f64>(&device, &config, &name, blocks),
            SampleFormat::I8 => build_input::<i8>(&device, &config, &name, blocks),
            SampleFormat::I16 => build_input::<i16>(&device, &config, &name, blocks),
            SampleFormat::I32 => build_input::<i32>(&device, &config, &name, blocks),
            SampleFormat::U8 => build_input::<u8>(&device, &config, &name, blocks),
            SampleFormat::U16 => build_input::<u16>(&device, &config, &name, blocks),
            SampleFormat::U32 => build_input::<u32>(&device, &config, &name, blocks),
            other => {
                return Err(AudioIoError::UnsupportedFormat {
                    device: name,
                    detail: format!("sample format {other}"),
                });
            }
        };
        let stream = build.map_err(|e| AudioIoError::from_cpal(&name, &e))?;
        stream
            .play()
            .map_err(|e| AudioIoError::from_cpal(&name, &e))?;
        Ok(OpenInput {
            device: name,
            sample_rate_hz: config.sample_rate,
            stream: Box::new(stream),
        })
    }

    fn check_output(&mut self) -> Result<String, AudioIoError> {
        self.sink()?;
        Ok(self
            .host
            .default_output_device()
            .map(|d| d.to_string())
            .unwrap_or_else(|| "default output".into()))
    }

    fn play(&mut self, clip: &Clip, volume: f32) -> Result<Box<dyn PlayingClip>, AudioIoError> {
        let rate = NonZero::new(clip.wave.sample_rate_hz).ok_or_else(|| AudioIoError::Clip {
            what: describe(&clip.id),
            detail: "sample rate 0 Hz".into(),
        })?;
        let sink = self.sink()?;
        let player = rodio::Player::connect_new(sink.mixer());
        player.set_volume(volume);
        player.append(rodio::buffer::SamplesBuffer::new(
            NonZero::<u16>::MIN,
            rate,
            clip.wave.samples.clone(),
        ));
        Ok(Box::new(RodioClip { player }))
    }
}

/// A clip's name for messages.
pub fn describe(id: &ClipId) -> String {
    match id {
        ClipId::Input(k) => format!("input {k}"),
        ClipId::File(p) => p.display().to_string(),
        ClipId::Code(c) => format!("the sound of code {c}"),
    }
}

struct RodioClip {
    player: rodio::Player,
}

impl PlayingClip for RodioClip {
    fn position_secs(&self) -> f64 {
        self.player.get_pos().as_secs_f64()
    }

    fn finished(&self) -> bool {
        self.player.empty()
    }

    fn set_volume(&self, volume: f32) {
        self.player.set_volume(volume);
    }
}

impl Drop for RodioClip {
    fn drop(&mut self) {
        self.player.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alsas_null_device_is_not_a_microphone() {
        assert!(is_silent_pseudo_input("alsa:null"));
        assert!(!is_silent_pseudo_input("alsa:default"));
        assert!(!is_silent_pseudo_input("alsa:hw:0,0"));
        assert!(!is_silent_pseudo_input("alsa:pulse"));
    }
}
