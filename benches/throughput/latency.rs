//! Single-input latency (`-- --latency-only` runs this section alone): one input through the
//! real pipeline (decode -> codes + embedding + zero-shot + top-10 over a 10k gallery) on the
//! default model, and, as the reference measured in the same run, the audio path of the model
//! it replaced (`models/digits-scratch-audio`, a log-mel tower trained from scratch). The audio
//! figure is broken down into the frozen Whisper encoder over one window and the rest, with
//! the encoder computing every position of the window (before its last layer kept only the
//! clip's) as a reference in the same run.

use std::path::Path;

use transference::device::ComputeDevice;
use transference::engine::{InputSource, Pipeline};
use transference::index::search::DeviceIndex;
use transference::model::tensor_from_vec;
use transference::preprocess::mnist::MNIST_SIDE_PX;
use transference::preprocess::whisper_mel::{
    WHISPER_N_MELS, WHISPER_SAMPLE_RATE_HZ, WHISPER_WINDOW_FRAMES, whisper_clip_frames,
};

use super::{Latency, random_unit_rows, time_ms};

/// Rate of the tone clip, in Hz.
const TONE_RATE_HZ: u32 = 8000;
/// Samples of the tone clip (0.625 s).
const TONE_SAMPLES: usize = 5000;

/// A 28x28 PNG digit and a 0.6 s 8 kHz tone clip, written under `tmp`.
fn small_inputs(tmp: &Path) -> (InputSource, InputSource) {
    let png = tmp.join("digit.png");
    let mut img = image::GrayImage::new(MNIST_SIDE_PX, MNIST_SIDE_PX);
    for y in 5..23 {
        for x in 12..16 {
            img.put_pixel(x, y, image::Luma([255]));
        }
    }
    img.save(&png).unwrap();
    let wav = tmp.join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: TONE_RATE_HZ,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for i in 0..TONE_SAMPLES {
        let t = i as f32 / TONE_RATE_HZ as f32;
        w.write_sample(((t * 440.0 * std::f32::consts::TAU).sin() * 9000.0 * (1.0 - t)) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    (InputSource::File(png), InputSource::File(wav))
}

/// Per-input latency of the model in `bundle` on `device`, with the bundle's gallery replaced
/// by `gallery` (`d` columns); `inputs` are (name, input, target p50 in ms, runs).
fn time_inputs(
    bundle: &Path,
    device: &ComputeDevice,
    gallery: &[f32],
    d: usize,
    inputs: &[(&str, InputSource, Option<f64>, usize)],
) -> Pipeline {
    let mut p = Pipeline::open_on(bundle, device.clone()).expect("open the bundle");
    let labels = p.bundle.manifest.labels.names.clone();
    let templates = p.bundle.manifest.labels.prompts.clone();
    let _ = p.class_embeddings(&labels, &templates);
    let index = DeviceIndex::new(gallery, d, &device.device).unwrap();
    for (name, input, target_ms, n) in inputs {
        // The pipeline's own split of each run: reading and preparing the input, then the model.
        let (mut prepare_ms, mut model_ms) = (Vec::new(), Vec::new());
        let lat = time_ms(*n, || {
            let e = p.encode(input).unwrap();
            prepare_ms.push(e.preprocess_ms);
            model_ms.push(e.encode_ms);
            let z = p.classify(&e.item.embedding, &labels, &templates).unwrap();
            let hits = index.top_k(&e.item.embedding, 10).unwrap();
            (e.item.codes.len(), z.len(), hits.len())
        });
        let verdict = match target_ms {
            Some(t) if lat.p50_ms <= *t => format!(" (target p50 <= {t} ms: met)"),
            Some(t) => format!(" (target p50 <= {t} ms: NOT met)"),
            None => String::new(),
        };
        println!("one {name:9} -> codes + embedding + zero-shot + top-10/10k: {lat}{verdict}");
        // The first sample is time_ms's warm-up run.
        let split = |v: &[f64]| Latency::of(v.get(1..).unwrap_or_default().to_vec());
        println!(
            "  of which reading + preparing it: {}; the model: {}",
            split(&prepare_ms),
            split(&model_ms)
        );
    }
    p
}

/// The section: every kind of input on `models/digits`, the audio clip on the model it
/// replaced, the frozen encoder alone, and the VQ lookup.
#[allow(clippy::too_many_arguments)]
pub fn single_inputs(
    bundle: &Path,
    device: &ComputeDevice,
    gallery: &[f32],
    d: usize,
    runs: usize,
    tmp: &Path,
    photo: &Path,
    recording: &Path,
) {
    let (png, wav) = small_inputs(tmp);
    let real_runs = runs.min(20);
    let inputs = [
        ("image", png, Some(15.0), runs),
        ("audio", wav.clone(), Some(15.0), runs),
        (
            "text",
            InputSource::Text("the digit seven".into()),
            Some(25.0),
            runs,
        ),
        (
            "photo",
            InputSource::File(photo.to_path_buf()),
            Some(30.0),
            real_runs,
        ),
        (
            "recording",
            InputSource::File(recording.to_path_buf()),
            None,
            real_runs,
        ),
    ];
    let p = time_inputs(bundle, device, gallery, d, &inputs);
    let speech = p.bundle.model.speech.as_ref();
    if let (Some(speech), Some(cfg)) = (speech, &p.bundle.manifest.architecture.speech) {
        let frames = WHISPER_WINDOW_FRAMES;
        let mel: Vec<f32> = (0..WHISPER_N_MELS * frames)
            .map(|i| ((i % 97) as f32 / 48.0 - 1.0) * 0.8)
            .collect();
        // The tone clip's own positions (at most its length at 16 kHz), as the app keeps them.
        let at_16k = TONE_SAMPLES * WHISPER_SAMPLE_RATE_HZ as usize / TONE_RATE_HZ as usize;
        let keep = cfg.clip_positions(whisper_clip_frames(at_16k));
        let lat = time_ms(runs, || {
            let x = tensor_from_vec(mel.clone(), [1, WHISPER_N_MELS, frames], &device.device);
            speech.frozen_features(x, keep).into_data()
        });
        println!(
            "  of which the frozen Whisper encoder over one {frames}-frame window, {keep} positions kept: {lat}"
        );
        let full = time_ms(runs, || {
            let x = tensor_from_vec(mel.clone(), [1, WHISPER_N_MELS, frames], &device.device);
            speech.whisper.forward(x).into_data()
        });
        println!(
            "  reference, same run: the encoder computing every position of the window: {full}"
        );
    }
    let old = bundle.with_file_name("digits-scratch-audio");
    if old.join("manifest.toml").exists() {
        print!("reference, the model it replaced (digits-scratch-audio): ");
        time_inputs(&old, device, gallery, d, &[("audio", wav, None, runs)]);
    }
    // VQ lookup alone: 64 x 16 positions against the codebook.
    let k = p.bundle.manifest.architecture.codebook_size;
    let x = random_unit_rows(64 * 16, d, 5);
    let lat = time_ms(runs, || {
        let t = tensor_from_vec(x.clone(), [64, 16, d], &device.device);
        transference::model::int_to_vec(p.bundle.model.codebook.quantize(t).codes)
    });
    println!("VQ lookup 1024 positions x {k} codes: {lat}");
}
