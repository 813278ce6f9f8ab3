//! Textures for the window: a texture cache keyed by path or id (files are decoded on a
//! background thread, so the UI never waits on the disk), and builders for the preprocessed
//! image, the log-mel spectrogram and the waveform envelope. Sound is played by
//! [`crate::audio_io`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender, unbounded};
use egui::{ColorImage, TextureHandle, TextureOptions};

use crate::ui::theme;

/// Images at most this many pixels on a side are magnified with nearest-neighbour filtering.
const PIXEL_ART_MAX: usize = 64;

enum Slot {
    Loading,
    Ready(TextureHandle),
    Failed,
}

type Decoded = (String, crate::Result<ColorImage>);

/// Texture cache. Keys are `file:<path>@<max side>` for files and free-form ids otherwise.
pub struct MediaCache {
    slots: HashMap<String, Slot>,
    requests: Sender<(String, PathBuf, u32)>,
    results: Receiver<Decoded>,
}

impl MediaCache {
    /// Starts the decoder thread; it asks `ctx` for a repaint when an image is ready.
    pub fn new(ctx: &egui::Context) -> Self {
        let (req_tx, req_rx) = unbounded::<(String, PathBuf, u32)>();
        let (res_tx, res_rx) = unbounded::<Decoded>();
        let ctx = ctx.clone();
        let _ = std::thread::Builder::new()
            .name("transference-media".into())
            .spawn(move || {
                while let Ok((key, path, max_side)) = req_rx.recv() {
                    let decoded = decode_file(&path, max_side);
                    if res_tx.send((key, decoded)).is_err() {
                        break;
                    }
                    ctx.request_repaint();
                }
            });
        MediaCache {
            slots: HashMap::new(),
            requests: req_tx,
            results: res_rx,
        }
    }

    /// Uploads images the decoder finished.
    pub fn poll(&mut self, ctx: &egui::Context) {
        while let Ok((key, decoded)) = self.results.try_recv() {
            let slot = match decoded {
                Ok(image) => {
                    let options = texture_options(&image);
                    Slot::Ready(ctx.load_texture(key.clone(), image, options))
                }
                Err(e) => {
                    tracing::warn!("thumbnail not shown: {e}");
                    Slot::Failed
                }
            };
            self.slots.insert(key, slot);
        }
    }

    /// An image file as a texture no larger than `max_side`; `None` while it is decoded
    /// (or when it cannot be).
    pub fn file_image(&mut self, path: &Path, max_side: u32) -> Option<TextureHandle> {
        let key = format!("file:{}@{max_side}", path.display());
        match self.slots.get(&key) {
            Some(Slot::Ready(t)) => Some(t.clone()),
            Some(Slot::Loading | Slot::Failed) => None,
            None => {
                self.slots.insert(key.clone(), Slot::Loading);
                let _ = self.requests.send((key, path.to_path_buf(), max_side));
                None
            }
        }
    }

    /// True when the file could not be decoded.
    pub fn file_failed(&self, path: &Path, max_side: u32) -> bool {
        let key = format!("file:{}@{max_side}", path.display());
        matches!(self.slots.get(&key), Some(Slot::Failed))
    }

    /// A texture built from data in memory (preprocessed image, spectrogram), built once per key.
    pub fn generated(
        &mut self,
        ctx: &egui::Context,
        key: &str,
        make: impl FnOnce() -> ColorImage,
    ) -> TextureHandle {
        if let Some(Slot::Ready(t)) = self.slots.get(key) {
            return t.clone();
        }
        let image = make();
        let options = texture_options(&image);
        let handle = ctx.load_texture(key, image, options);
        self.slots
            .insert(key.to_string(), Slot::Ready(handle.clone()));
        handle
    }

    /// Drops generated textures whose key starts with `prefix`.
    pub fn forget_prefix(&mut self, prefix: &str) {
        self.slots.retain(|k, _| !k.starts_with(prefix));
    }
}

fn texture_options(image: &ColorImage) -> TextureOptions {
    if image.size[0].max(image.size[1]) <= PIXEL_ART_MAX {
        TextureOptions::NEAREST
    } else {
        TextureOptions::LINEAR
    }
}

/// Decodes through the app's guarded decoder (pixel limit from the header, EXIF orientation:
/// a phone photo's thumbnail is upright, like the model's view of it).
fn decode_file(path: &Path, max_side: u32) -> crate::Result<ColorImage> {
    let img = crate::preprocess::image::load_image(path)?;
    let img = if img.width() > max_side || img.height() > max_side {
        img.thumbnail(max_side, max_side)
    } else {
        img
    };
    let rgba = img.to_rgba8();
    Ok(ColorImage::from_rgba_unmultiplied(
        [rgba.width() as usize, rgba.height() as usize],
        rgba.as_raw(),
    ))
}

/// The model's input image (8-bit HWC, 1 or 3 channels) as an egui image.
pub fn preview_image(preview: &[u8], width: u32, height: u32, channels: u8) -> ColorImage {
    let size = [width as usize, height as usize];
    let n = size[0] * size[1];
    match channels {
        3 if preview.len() >= n * 3 => ColorImage::from_rgb(size, &preview[..n * 3]),
        _ if preview.len() >= n => ColorImage::from_gray(size, &preview[..n]),
        _ => ColorImage::new([1, 1], vec![theme::extreme_bg()]),
    }
}

/// A log-mel spectrogram (`mel[m * n_frames + t]`) as a heat-coloured image, low frequencies
/// at the bottom, scaled between its 2nd and 99.5th percentile.
pub fn spectrogram_image(mel: &[f32], n_mels: usize, n_frames: usize) -> ColorImage {
    if n_mels == 0 || n_frames == 0 || mel.len() < n_mels * n_frames {
        return ColorImage::new([1, 1], vec![theme::extreme_bg()]);
    }
    let mut sorted: Vec<f32> = mel.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let pick = |q: f32| {
        sorted
            .get(((sorted.len().saturating_sub(1)) as f32 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let lo = pick(0.02);
    let hi = pick(0.995).max(lo + 1e-6);
    let mut pixels = Vec::with_capacity(n_mels * n_frames);
    for row in 0..n_mels {
        let m = n_mels - 1 - row;
        for t in 0..n_frames {
            pixels.push(theme::heat((mel[m * n_frames + t] - lo) / (hi - lo)));
        }
    }
    ColorImage::new([n_frames, n_mels], pixels)
}

/// Min/max envelope of a waveform in `columns` buckets, for drawing.
pub fn waveform_envelope(samples: &[f32], columns: usize) -> Vec<(f32, f32)> {
    if samples.is_empty() || columns == 0 {
        return Vec::new();
    }
    let per = samples.len().div_ceil(columns).max(1);
    samples
        .chunks(per)
        .map(|c| {
            c.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &s| {
                    (lo.min(s), hi.max(s))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrogram_puts_low_mels_at_the_bottom() {
        // 2 mels x 3 frames: mel 0 loud, mel 1 quiet.
        let mel = [5.0, 5.0, 5.0, 0.0, 0.0, 0.0];
        let img = spectrogram_image(&mel, 2, 3);
        assert_eq!(img.size, [3, 2]);
        assert_eq!(img.pixels[0], theme::heat(0.0));
        assert_eq!(img.pixels[3], theme::heat(1.0));
    }

    #[test]
    fn envelope_has_one_bucket_per_column() {
        let s: Vec<f32> = (0..100).map(|i| (i as f32 / 10.0).sin()).collect();
        let env = waveform_envelope(&s, 10);
        assert_eq!(env.len(), 10);
        assert!(env.iter().all(|(lo, hi)| lo <= hi));
    }
}
