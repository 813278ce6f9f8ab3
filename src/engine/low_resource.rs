//! The low-resource curves on a bundle's gallery (the transfer lab's second experiment): the
//! primary modality's labelled gallery items are split into a fixed, class-balanced test
//! split and a label pool; the other modality's labelled items help; the bundle's text prompts
//! give the zero-shot line. With a noise level above 0 the primary items are first degraded
//! from their media files (audio: white noise at an SNR; images: blur and pixel noise) and
//! encoded again; items without a media file are then left out (the shipped digits gallery has
//! media for every image but for 3 clips per class only, too few for a test split). See [`crate::index::low_resource`] for the curves themselves.

use crate::engine::pipeline::Pipeline;
use crate::engine::protocol::GalleryCurves;
use crate::error::{Error, Result};
use crate::index::low_resource::{
    GALLERY_TEST_PER_CLASS, LowResourceInput, LowResourceReport, LowResourceSettings, SEED,
    low_resource_curves, split_test,
};
use crate::index::transfer::TransferItem;
use crate::modality::Modality;
use crate::preprocess::degrade::{self, NoiseLevel};
use crate::preprocess::{audio, image as img, mel};

/// Replaces the codes and embedding of each item with those of its media file degraded by
/// `noise` and encoded again (seeded by the gallery index, so a level always gives the same
/// media).
fn degrade_items(
    pipeline: &Pipeline,
    m: Modality,
    items: &mut [(usize, TransferItem)],
    noise: NoiseLevel,
) -> Result<()> {
    let gallery = pipeline.gallery()?;
    let media = |i: usize| {
        gallery.media_path(i).ok_or_else(|| {
            Error::InvalidRequest(format!(
                "gallery item {i} ({}) has no media file to degrade; the noise curves need a \
                 gallery that stores its images and clips",
                gallery.items[i].source
            ))
        })
    };
    let encoded = match m {
        Modality::Image => {
            let cfg = pipeline.image_config()?;
            if cfg.channels != 1 {
                return Err(Error::InvalidRequest(format!(
                    "noise is added to one-channel images only; this model reads {} channels",
                    cfg.channels
                )));
            }
            let (w, h) = (cfg.width as usize, cfg.height as usize);
            let (sigma_px, noise_sd) = noise.image_blur_noise();
            let mut pixels = Vec::with_capacity(items.len() * w * h);
            for (i, _) in items.iter() {
                let prepared = img::prepare_image_file(&media(*i)?, cfg)?;
                let clean: Vec<f32> = prepared
                    .preview
                    .iter()
                    .map(|&v| f32::from(v) / 255.0)
                    .collect();
                pixels.extend(degrade::blur_and_noise(
                    &clean, w, h, sigma_px, noise_sd, *i as u64,
                ));
            }
            pipeline.encode_image_batch(&pixels)?
        }
        Modality::Audio => {
            let pre = pipeline.audio_config()?;
            let snr_db = noise.audio_snr_db().unwrap_or(f32::INFINITY);
            let mut mels = Vec::new();
            for (i, _) in items.iter() {
                // The noise goes on the clip the model hears (resampled, trimmed, levelled),
                // so the SNR is relative to the spoken digit, not to leading silence.
                let prepared = audio::prepare_audio_file(&media(*i)?, &pre.audio)?;
                let noisy = degrade::add_white_noise(&prepared.waveform.samples, snr_db, *i as u64);
                let spec = mel::log_mel_spectrogram(&noisy, &pre.audio.mel());
                let spec = mel::fit_frames(&spec, pre.audio.n_frames, pre.audio.log_floor_ln());
                mels.extend_from_slice(&spec.data);
            }
            pipeline.encode_mel_batch(&mels)?
        }
        Modality::Text => {
            return Err(Error::InvalidRequest(
                "text items cannot be degraded; choose image or audio as the tested modality"
                    .into(),
            ));
        }
    };
    for ((_, item), e) in items.iter_mut().zip(encoded) {
        item.codes = e.codes;
        item.embedding = e.embedding;
    }
    Ok(())
}

/// Computes the low-resource curves on the gallery; `progress` gets the fraction of fits done.
pub fn gallery_low_resource(
    pipeline: &mut Pipeline,
    run: GalleryCurves,
    progress: &(dyn Fn(f32) + Sync),
) -> Result<LowResourceReport> {
    if run.primary == run.helper {
        return Err(Error::InvalidRequest(format!(
            "the helping modality must differ from the tested one (both are {})",
            run.primary
        )));
    }
    let labels = pipeline.gallery_labels();
    let mut primary = pipeline.labelled_gallery_items(run.primary, &labels)?;
    if primary.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "the gallery has no labelled {} items to test on",
            run.primary
        )));
    }
    let mut what = format!("the gallery's {} items", run.primary);
    if !run.noise.is_clean() {
        // Only items whose media file ships can be degraded and encoded again.
        if let Some(g) = pipeline.bundle.gallery.as_ref() {
            primary.retain(|(i, _)| g.items[*i].media.is_some());
        }
        what = format!(
            "the gallery's {} items with a media file (noise re-encodes them)",
            run.primary
        );
        degrade_items(pipeline, run.primary, &mut primary, run.noise)?;
    }
    let primary: Vec<TransferItem> = primary.into_iter().map(|(_, item)| item).collect();
    let helper: Vec<TransferItem> = pipeline
        .labelled_gallery_items(run.helper, &labels)?
        .into_iter()
        .map(|(_, item)| item)
        .collect();
    let (pool, test) = split_test(&primary, &labels, GALLERY_TEST_PER_CLASS, SEED, &what)?;
    let classes = if pipeline.modalities().contains(&Modality::Text) {
        let templates = pipeline.bundle.manifest.labels.prompts.clone();
        let d = pipeline.bundle.manifest.architecture.d_model;
        Ok(pipeline
            .class_embeddings(&labels, &templates)?
            .chunks_exact(d)
            .map(<[f32]>::to_vec)
            .collect::<Vec<_>>())
    } else {
        Err("this model has no text tower")
    };
    let mut report = low_resource_curves(
        LowResourceInput {
            primary: run.primary,
            helper: run.helper,
            pool: &pool,
            test: &test,
            helper_items: &helper,
            class_embeddings: match &classes {
                Ok(c) => Ok(c.as_slice()),
                Err(why) => Err(*why),
            },
            labels: &labels,
            codebook_size: pipeline.bundle.manifest.architecture.codebook_size,
        },
        &LowResourceSettings::new(run.features),
        progress,
    )?;
    report.degradation = run.noise.describe(run.primary);
    Ok(report)
}
