//! The audio thread: owns the backend and every stream, answers [`AudioRequest`]s with
//! [`AudioEvent`]s, and keeps the live [`AudioStatus`] the window reads each frame.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

use crate::audio_io::capture::CaptureBuffer;
use crate::audio_io::system::{SystemAudio, describe};
use crate::audio_io::{
    AudioBackend, AudioEvent, AudioIoError, AudioRequest, AudioStatus, Clip, ClipId, InputMsg,
    OpenInput, PlaybackStatus, PlayingClip, StopReason,
};

/// How often the thread looks at the streams while something records or plays.
const ACTIVE_TICK: Duration = Duration::from_millis(15);
/// How often the window is asked to redraw while something records or plays (~30 fps).
const REPAINT_EVERY: Duration = Duration::from_millis(33);

/// Handle to the audio thread. Dropping it stops the thread and every stream.
pub struct AudioService {
    requests: Sender<AudioRequest>,
    events: Receiver<AudioEvent>,
    status: Arc<Mutex<AudioStatus>>,
}

impl AudioService {
    /// Starts the thread on the system's devices. It first checks the output and lists the
    /// inputs (answered as [`AudioEvent::Output`] and [`AudioEvent::Inputs`]); `notify` is
    /// called whenever there is something new to draw.
    pub fn system(notify: impl Fn() + Send + 'static) -> Self {
        // cpal's host is created on the audio thread: on some systems that takes a moment.
        Self::spawn_with(|| Box::new(SystemAudio::new()), notify)
    }

    /// Starts the thread on `backend`.
    pub fn spawn(backend: Box<dyn AudioBackend>, notify: impl Fn() + Send + 'static) -> Self {
        Self::spawn_with(move || backend, notify)
    }

    fn spawn_with(
        make: impl FnOnce() -> Box<dyn AudioBackend> + Send + 'static,
        notify: impl Fn() + Send + 'static,
    ) -> Self {
        let (req_tx, req_rx) = unbounded();
        let (ev_tx, ev_rx) = unbounded();
        let status = Arc::new(Mutex::new(AudioStatus {
            volume: 1.0,
            ..AudioStatus::default()
        }));
        let shared = status.clone();
        let failed_tx = ev_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("transference-audio".into())
            .spawn(move || {
                let mut thread = ServiceThread {
                    backend: make(),
                    events: ev_tx,
                    status: shared,
                    notify: Box::new(notify),
                    recording: None,
                    playing: None,
                    volume: 1.0,
                };
                thread.run(req_rx);
            });
        if spawned.is_err() {
            // No thread: say so where the window looks, once for output and once for input.
            let _ = failed_tx.send(AudioEvent::Output(Err(AudioIoError::ServiceStopped)));
            let _ = failed_tx.send(AudioEvent::Inputs(Err(AudioIoError::ServiceStopped)));
        }
        AudioService {
            requests: req_tx,
            events: ev_rx,
            status,
        }
    }

    /// Sends a request (never blocks).
    pub fn send(&self, request: AudioRequest) {
        let _ = self.requests.send(request);
    }

    /// The next event, if any.
    pub fn try_recv(&self) -> Option<AudioEvent> {
        self.events.try_recv().ok()
    }

    /// Waits up to `timeout` for the next event (for tests and scripts, never the window).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<AudioEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// A copy of the live state.
    pub fn status(&self) -> AudioStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

struct ActiveRecording {
    buffer: CaptureBuffer,
    blocks: Receiver<InputMsg>,
    /// Keeps the input stream open.
    _input: OpenInput,
}

struct ActivePlayback {
    id: ClipId,
    duration_secs: f64,
    clip: Box<dyn PlayingClip>,
}

struct ServiceThread {
    backend: Box<dyn AudioBackend>,
    events: Sender<AudioEvent>,
    status: Arc<Mutex<AudioStatus>>,
    notify: Box<dyn Fn() + Send>,
    recording: Option<ActiveRecording>,
    playing: Option<ActivePlayback>,
    volume: f32,
}

impl ServiceThread {
    fn run(&mut self, requests: Receiver<AudioRequest>) {
        let output = self.backend.check_output();
        self.emit(AudioEvent::Output(output));
        let inputs = self.backend.input_devices();
        self.emit(AudioEvent::Inputs(inputs));
        let mut last_repaint = Instant::now();
        loop {
            let active = self.recording.is_some() || self.playing.is_some();
            let wait = if active {
                ACTIVE_TICK
            } else {
                Duration::from_secs(3600)
            };
            match requests.recv_timeout(wait) {
                Ok(request) => self.handle(request),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            self.drain_capture();
            if self.playing.as_ref().is_some_and(|p| p.clip.finished()) {
                self.playing = None;
            }
            let still_active = self.recording.is_some() || self.playing.is_some();
            self.publish();
            if active != still_active || (still_active && last_repaint.elapsed() >= REPAINT_EVERY) {
                (self.notify)();
                last_repaint = Instant::now();
            }
        }
    }

    fn emit(&self, event: AudioEvent) {
        let _ = self.events.send(event);
        (self.notify)();
    }

    fn handle(&mut self, request: AudioRequest) {
        match request {
            AudioRequest::ListInputs => {
                let inputs = self.backend.input_devices();
                self.emit(AudioEvent::Inputs(inputs));
            }
            AudioRequest::StartRecording { device, limits } => {
                if self.recording.is_some() {
                    return;
                }
                // The speakers would be recorded too.
                self.playing = None;
                let (tx, rx) = unbounded();
                match self.backend.open_input(device.as_deref(), tx) {
                    Ok(input) => {
                        let buffer =
                            CaptureBuffer::new(input.device.clone(), input.sample_rate_hz, limits);
                        self.emit(AudioEvent::RecordingStarted {
                            device: input.device.clone(),
                            sample_rate_hz: input.sample_rate_hz,
                        });
                        self.recording = Some(ActiveRecording {
                            buffer,
                            blocks: rx,
                            _input: input,
                        });
                    }
                    Err(e) => self.emit(AudioEvent::RecordingFailed(e)),
                }
            }
            AudioRequest::StopRecording => {
                self.drain_capture();
                if let Some(active) = self.recording.take() {
                    let recording = active.buffer.finish(StopReason::User);
                    self.ended(AudioEvent::Recorded(recording));
                }
            }
            AudioRequest::CancelRecording => self.recording = None,
            AudioRequest::Play(clip) => self.play(clip),
            AudioRequest::PlayFile(path) => {
                match crate::preprocess::audio_formats::read_audio(&path) {
                    Ok(decoded) => self.play(Clip {
                        id: ClipId::File(path),
                        wave: decoded.wave,
                    }),
                    Err(e) => {
                        let id = ClipId::File(path);
                        let error = AudioIoError::Clip {
                            what: describe(&id),
                            detail: e.to_string(),
                        };
                        self.emit(AudioEvent::PlaybackFailed { id, error });
                    }
                }
            }
            AudioRequest::StopPlayback => self.playing = None,
            AudioRequest::SetVolume(v) => {
                self.volume = if v.is_finite() {
                    v.clamp(0.0, 1.0)
                } else {
                    1.0
                };
                if let Some(p) = &self.playing {
                    p.clip.set_volume(self.volume);
                }
            }
        }
    }

    fn play(&mut self, clip: Clip) {
        if self.recording.is_some() {
            let error = AudioIoError::Clip {
                what: describe(&clip.id),
                detail: "a recording is in progress; stop it first".into(),
            };
            self.emit(AudioEvent::PlaybackFailed { id: clip.id, error });
            return;
        }
        // Stop what plays before starting the next clip.
        self.playing = None;
        match self.backend.play(&clip, self.volume) {
            Ok(playing) => {
                self.playing = Some(ActivePlayback {
                    duration_secs: clip.wave.duration_secs(),
                    id: clip.id,
                    clip: playing,
                });
            }
            Err(error) => self.emit(AudioEvent::PlaybackFailed { id: clip.id, error }),
        }
    }

    /// Moves the blocks that arrived into the recording; delivers it when it stopped.
    fn drain_capture(&mut self) {
        let Some(active) = self.recording.as_mut() else {
            return;
        };
        let mut failed = None;
        while let Ok(msg) = active.blocks.try_recv() {
            match msg {
                InputMsg::Block(block) => {
                    if active.buffer.push(&block).is_some() {
                        break;
                    }
                }
                InputMsg::Error(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = failed {
            self.recording = None;
            self.ended(AudioEvent::RecordingFailed(e));
        } else if let Some(reason) = active.buffer.stopped()
            && let Some(active) = self.recording.take()
        {
            self.ended(AudioEvent::Recorded(active.buffer.finish(reason)));
        }
    }

    /// A recording ended: the live status says so before the event is sent, so whoever reads
    /// the status after the event never sees the finished recording as live.
    fn ended(&self, event: AudioEvent) {
        self.publish();
        self.emit(event);
    }

    fn publish(&self) {
        let capture = self.recording.as_ref().map(|r| r.buffer.live());
        let playback = self.playing.as_ref().map(|p| PlaybackStatus {
            id: p.id.clone(),
            position_secs: p.clip.position_secs(),
            duration_secs: p.duration_secs,
        });
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        status.capture = capture;
        status.playback = playback;
        status.volume = self.volume;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio_io::AutoStopConfig;
    use crate::audio_io::simulated::SimulatedAudio;
    use crate::preprocess::waveform::Waveform;

    fn word(rate: u32, secs: f64) -> Waveform {
        let n = (f64::from(rate) * secs) as usize;
        Waveform {
            samples: (0..n)
                .map(|i| 0.4 * (i as f32 * 300.0 * std::f32::consts::TAU / rate as f32).sin())
                .collect(),
            sample_rate_hz: rate,
        }
    }

    fn wait_for(svc: &AudioService, pred: impl Fn(&AudioEvent) -> bool) -> AudioEvent {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(e) = svc.recv_timeout(Duration::from_millis(100))
                && pred(&e)
            {
                return e;
            }
        }
        panic!("no matching audio event within 20 s");
    }

    #[test]
    fn simulated_recording_stops_by_itself_and_holds_the_word() {
        let mut backend = SimulatedAudio::with_clip(word(16_000, 0.5));
        backend.speed = 4.0;
        let svc = AudioService::spawn(Box::new(backend), || {});
        let limits = AutoStopConfig {
            trailing_silence_secs: 0.3,
            ..AutoStopConfig::for_clip_length(4.0)
        };
        svc.send(AudioRequest::StartRecording {
            device: None,
            limits,
        });
        wait_for(&svc, |e| matches!(e, AudioEvent::RecordingStarted { .. }));
        let AudioEvent::Recorded(rec) = wait_for(&svc, |e| matches!(e, AudioEvent::Recorded(_)))
        else {
            unreachable!()
        };
        assert_eq!(rec.reason, StopReason::TrailingSilence);
        assert!(rec.heard_speech);
        // pre-roll 0.25 s + word 0.5 s + 0.3 s of silence.
        assert!(
            (rec.duration_secs() - 1.05).abs() < 0.03,
            "{}",
            rec.duration_secs()
        );
        assert!(svc.status().capture.is_none());
    }

    #[test]
    fn playback_reports_a_moving_playhead_then_ends() {
        let mut backend = SimulatedAudio::with_clip(word(8_000, 0.2));
        backend.speed = 2.0;
        let svc = AudioService::spawn(Box::new(backend), || {});
        svc.send(AudioRequest::SetVolume(0.5));
        svc.send(AudioRequest::Play(Clip {
            id: ClipId::Input(7),
            wave: Waveform {
                samples: vec![0.1; 8_000],
                sample_rate_hz: 8_000,
            },
        }));
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut positions = Vec::new();
        while Instant::now() < deadline {
            match svc.status().playback {
                Some(p) => {
                    assert_eq!(p.id, ClipId::Input(7));
                    assert_eq!(p.duration_secs, 1.0);
                    positions.push(p.position_secs);
                }
                None if !positions.is_empty() => break,
                None => {}
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(positions.len() >= 3, "{positions:?}");
        assert!(positions.windows(2).all(|w| w[0] <= w[1]));
        assert!(svc.status().playback.is_none(), "playback ended");
        assert_eq!(svc.status().volume, 0.5);
    }

    #[test]
    fn missing_devices_are_reported_not_panicked() {
        let svc = AudioService::spawn(Box::new(SimulatedAudio::no_devices()), || {});
        let AudioEvent::Output(Err(e)) = wait_for(&svc, |e| matches!(e, AudioEvent::Output(_)))
        else {
            panic!("output should be missing")
        };
        assert!(e.to_string().contains("no audio output device"));
        svc.send(AudioRequest::StartRecording {
            device: None,
            limits: AutoStopConfig::for_clip_length(4.0),
        });
        let AudioEvent::RecordingFailed(e) =
            wait_for(&svc, |e| matches!(e, AudioEvent::RecordingFailed(_)))
        else {
            unreachable!()
        };
        assert!(e.to_string().contains("no microphone found"), "{e}");
        svc.send(AudioRequest::PlayFile("/nonexistent/clip.wav".into()));
        let AudioEvent::PlaybackFailed { error, .. } =
            wait_for(&svc, |e| matches!(e, AudioEvent::PlaybackFailed { .. }))
        else {
            unreachable!()
        };
        assert!(
            error.to_string().contains("/nonexistent/clip.wav"),
            "{error}"
        );
    }
}
