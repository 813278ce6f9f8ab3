//! Image preprocessing: turn a decoded picture into what the image encoder reads.
//!
//! Two recipes:
//! - [`ImageRecipe::Mnist`]: the MNIST recipe ([`crate::preprocess::mnist`]), so a photo or scan
//!   of dark ink on paper looks like an MNIST digit: uneven light and coloured paper divided out
//!   ([`crate::preprocess::flatten`]), white ink (255) on black (0), the ink's bounding box
//!   scaled to a 20 px box, pasted into a 28x28 field with its centre of mass at the centre.
//! - [`ImageRecipe::Fit`]: an aspect-preserving resize into the model's input size, letterboxed
//!   with the normalisation mean colour (which is 0 after normalisation).
//!
//! Decoding lives in [`crate::preprocess::image_decode`] (re-exported here), colour handling in
//! [`crate::preprocess::pixels`].

use std::path::Path;

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{Error, Result};
pub use crate::preprocess::image_decode::{
    MAX_IMAGE_PIXELS, decode_image_bytes, load_image, load_image_gray,
};
pub use crate::preprocess::mnist::mnist_recipe;
use crate::preprocess::mnist::{
    MNIST_MEAN, MNIST_SIDE_PX, MNIST_STD, PRESHRINK_FACTOR, mnist_into,
};
pub use crate::preprocess::pixels::gray_from_unit_floats;
use crate::preprocess::pixels::{
    byte_range, flatten_to_rgb, shrink_for_analysis, to_gray, unit_to_byte,
};

/// Largest model input side a config may ask for.
const MAX_CONFIG_SIDE: u32 = 4096;
/// Larger images (longest side) are flattened and shrunk to this size (area averaging) before
/// analysis: a 20 px digit box needs far less detail, and every later pass gets cheaper.
const ANALYSIS_MAX_SIDE: u32 = 1024;

/// The MNIST recipe decodes a JPEG at the smallest reduced scale whose long side is at least
/// this (a 12-megapixel photo at 1/8, 500×375): a digit a fifth of the photo's height is then
/// 75 px or more, over three times the recipe's 20 px box.
pub const MNIST_DECODE_MIN_SIDE_PX: u32 = 480;

/// How an image becomes the model input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageRecipe {
    /// MNIST recipe: polarity from the border, white ink on black, 20 px box, centre of mass at
    /// the centre of the field.
    #[default]
    Mnist,
    /// Aspect-preserving resize into the input size, letterboxed with the mean colour.
    Fit,
}

/// Image input description, embedded in the model manifest. `Default` is the digits model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// Model input width in pixels.
    pub width: u32,
    /// Model input height in pixels.
    pub height: u32,
    /// 1 (grayscale) or 3 (RGB).
    pub channels: u8,
    /// How the picture is turned into the input.
    pub recipe: ImageRecipe,
    /// Per-channel mean in 0..1 units, subtracted after dividing by 255.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation in 0..1 units; every value must be > 0.
    pub std: Vec<f32>,
}

impl Default for ImageConfig {
    fn default() -> Self {
        Self {
            width: MNIST_SIDE_PX,
            height: MNIST_SIDE_PX,
            channels: 1,
            recipe: ImageRecipe::Mnist,
            mean: vec![MNIST_MEAN],
            std: vec![MNIST_STD],
        }
    }
}

impl ImageConfig {
    /// A one-channel value in 0..1 (0 paper, 1 full ink) in the encoder's input units:
    /// `(v - mean[0]) / std[0]`.
    pub fn normalised_gray(&self, v: f32) -> f32 {
        (v - self.mean[0]) / self.std[0]
    }

    /// Reject nonsense values with an [`Error::InvalidRequest`] that names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidRequest(format!("image config: {msg}")));
        if self.width == 0 || self.width > MAX_CONFIG_SIDE {
            return bad(format!(
                "width must be 1..={MAX_CONFIG_SIDE}, got {}",
                self.width
            ));
        }
        if self.height == 0 || self.height > MAX_CONFIG_SIDE {
            return bad(format!(
                "height must be 1..={MAX_CONFIG_SIDE}, got {}",
                self.height
            ));
        }
        if self.channels != 1 && self.channels != 3 {
            return bad(format!("channels must be 1 or 3, got {}", self.channels));
        }
        let c = usize::from(self.channels);
        if self.mean.len() != c {
            return bad(format!(
                "mean must have {c} value(s) (one per channel), got {}",
                self.mean.len()
            ));
        }
        if self.std.len() != c {
            return bad(format!(
                "std must have {c} value(s) (one per channel), got {}",
                self.std.len()
            ));
        }
        if let Some(m) = self.mean.iter().find(|m| !m.is_finite()) {
            return bad(format!("mean must be finite, got {m}"));
        }
        if let Some(s) = self.std.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return bad(format!("std must be finite and > 0, got {s}"));
        }
        Ok(())
    }
}

/// An image ready for the encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct PreparedImage {
    /// Model input width.
    pub width: u32,
    /// Model input height.
    pub height: u32,
    /// Number of channels (1 or 3).
    pub channels: u8,
    /// CHW, normalised: `(x / 255 - mean[c]) / std[c]`.
    pub pixels: Vec<f32>,
    /// HWC u8, the input as the model sees it (before normalisation), for display.
    pub preview: Vec<u8>,
    /// Width of the image before preprocessing.
    pub original_width: u32,
    /// Height of the image before preprocessing.
    pub original_height: u32,
}

// Fit recipe and preparation
// ---------------------------------------------------------------------------------------------

/// Aspect-preserving resize into `cfg.width` x `cfg.height`, letterboxed with the mean colour.
/// Returns HWC bytes.
fn fit_into(img: &DynamicImage, cfg: &ImageConfig, path: &Path) -> Result<Vec<u8>> {
    let (w, h) = (img.width(), img.height());
    let channels = usize::from(cfg.channels);
    let data = if channels == 1 {
        to_gray(img).into_raw()
    } else {
        flatten_to_rgb(img)
    };
    let (lo, hi) = byte_range(data.iter().copied());
    if hi == lo {
        return Err(Error::ImageBlank {
            path: path.to_path_buf(),
        });
    }
    let scale = (f64::from(cfg.width) / f64::from(w)).min(f64::from(cfg.height) / f64::from(h));
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, cfg.width);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, cfg.height);
    let resized = if (nw, nh) == (w, h) {
        data
    } else {
        // The `image` crate's Lanczos3 widens its kernel when shrinking (area-correct) and is
        // compiled optimised; the source is at most a few times the target after
        // `shrink_for_analysis`.
        let flat = if channels == 1 {
            GrayImage::from_raw(w, h, data).map(DynamicImage::ImageLuma8)
        } else {
            RgbImage::from_raw(w, h, data).map(DynamicImage::ImageRgb8)
        };
        let flat =
            flat.ok_or_else(|| Error::Internal("fit recipe: flattened buffer size".to_string()))?;
        flat.resize_exact(nw, nh, FilterType::Lanczos3).into_bytes()
    };

    let fill: Vec<u8> = cfg.mean.iter().map(|&m| unit_to_byte(m)).collect();
    let (fw, fh) = (cfg.width as usize, cfg.height as usize);
    let mut out: Vec<u8> = Vec::with_capacity(fw * fh * channels);
    for _ in 0..fw * fh {
        out.extend_from_slice(&fill);
    }
    let (ox, oy) = ((fw - nw as usize) / 2, (fh - nh as usize) / 2);
    let row_len = nw as usize * channels;
    for (y, row) in resized.chunks_exact(row_len).enumerate() {
        let start = ((y + oy) * fw + ox) * channels;
        if let Some(dst) = out.get_mut(start..start + row_len) {
            dst.copy_from_slice(row);
        }
    }
    Ok(out)
}

/// Turn a decoded image into the encoder's input according to `cfg`.
pub fn prepare_image(img: &DynamicImage, cfg: &ImageConfig, path: &Path) -> Result<PreparedImage> {
    cfg.validate()?;
    let (ow, oh) = (img.width(), img.height());
    let pixels = u64::from(ow) * u64::from(oh);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(Error::ImageTooLarge {
            path: path.to_path_buf(),
            width: ow,
            height: oh,
            pixels,
            limit: MAX_IMAGE_PIXELS,
        });
    }
    if pixels == 0 {
        return Err(Error::ImageBlank {
            path: path.to_path_buf(),
        });
    }
    let channels = usize::from(cfg.channels);
    let max_side = match cfg.recipe {
        ImageRecipe::Mnist => ANALYSIS_MAX_SIDE,
        ImageRecipe::Fit => ANALYSIS_MAX_SIDE.max(PRESHRINK_FACTOR * cfg.width.max(cfg.height)),
    };
    let img = shrink_for_analysis(img, max_side);
    let img = img.as_ref();
    let preview: Vec<u8> = match cfg.recipe {
        ImageRecipe::Mnist => {
            let digit = mnist_into(&to_gray(img), cfg.width, cfg.height, path)?.into_raw();
            if channels == 1 {
                digit
            } else {
                digit
                    .iter()
                    .flat_map(|&v| std::iter::repeat_n(v, channels))
                    .collect()
            }
        }
        ImageRecipe::Fit => fit_into(img, cfg, path)?,
    };
    let plane = cfg.width as usize * cfg.height as usize;
    if preview.len() != plane * channels {
        return Err(Error::Internal(format!(
            "image preprocessing produced {} values, expected {}",
            preview.len(),
            plane * channels
        )));
    }
    let mut out = vec![0.0f32; plane * channels];
    for (c, dst) in out.chunks_exact_mut(plane).enumerate() {
        let (mean, std) = (cfg.mean[c], cfg.std[c]);
        for (i, d) in dst.iter_mut().enumerate() {
            *d = (f32::from(preview[i * channels + c]) / 255.0 - mean) / std;
        }
    }
    Ok(PreparedImage {
        width: cfg.width,
        height: cfg.height,
        channels: cfg.channels,
        pixels: out,
        preview,
        original_width: ow,
        original_height: oh,
    })
}

/// Load an image file (format by content) and prepare it according to `cfg`.
pub fn prepare_image_file(path: &Path, cfg: &ImageConfig) -> Result<PreparedImage> {
    cfg.validate()?;
    match cfg.recipe {
        // The MNIST recipe reads gray: a JPEG photo decodes its luma plane only, and no larger
        // than the recipe needs.
        ImageRecipe::Mnist => {
            let (img, (width, height)) = load_image_gray(path, MNIST_DECODE_MIN_SIDE_PX)?;
            let mut prepared = prepare_image(&img, cfg, path)?;
            (prepared.original_width, prepared.original_height) = (width, height);
            Ok(prepared)
        }
        ImageRecipe::Fit => prepare_image(&load_image(path)?, cfg, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::test_images::*;
    use image::{ImageFormat, Luma, Rgb, Rgba, RgbaImage};
    use proptest::prelude::*;

    #[test]
    fn blank_images_are_rejected() {
        let cfg = ImageConfig::default();
        let path = p("blank.png");
        let mut noise = Noise(7);
        let images = [
            DynamicImage::ImageLuma8(GrayImage::from_pixel(200, 100, Luma([255]))),
            DynamicImage::ImageLuma8(GrayImage::from_pixel(28, 28, Luma([0]))),
            DynamicImage::ImageRgb8(RgbImage::from_pixel(50, 50, Rgb([120, 130, 140]))),
            DynamicImage::ImageLuma8(GrayImage::from_fn(80, 80, |_, _| {
                Luma([(200.0 + 6.0 * noise.next()) as u8])
            })),
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(30, 30, Rgba([0, 0, 0, 0]))),
        ];
        for img in &images {
            match prepare_image(img, &cfg, &path) {
                Err(Error::ImageBlank { path: got }) => assert_eq!(got, path),
                other => panic!("expected ImageBlank, got {other:?}"),
            }
        }
        let fit = ImageConfig {
            recipe: ImageRecipe::Fit,
            ..ImageConfig::default()
        };
        assert!(matches!(
            prepare_image(&images[0], &fit, &path),
            Err(Error::ImageBlank { .. })
        ));
    }

    #[test]
    fn normalisation_follows_the_formula() {
        // MNIST recipe, default config: background 0 and stroke core 255.
        let cfg = ImageConfig::default();
        let prepared =
            prepare_image(&DynamicImage::ImageLuma8(paper_seven()), &cfg, &p("n")).expect("ok");
        assert_eq!(
            (prepared.width, prepared.height, prepared.channels),
            (28, 28, 1)
        );
        assert_eq!(
            (prepared.original_width, prepared.original_height),
            (200, 300)
        );
        assert_eq!(prepared.pixels.len(), 784);
        assert_eq!(prepared.preview.len(), 784);
        let bg = (0.0 - 0.1307) / 0.3081;
        assert!((prepared.pixels[0] - bg).abs() < 1e-6);
        for (&v, &x) in prepared.pixels.iter().zip(&prepared.preview) {
            let want = (f32::from(x) / 255.0 - 0.1307) / 0.3081;
            assert!((v - want).abs() < 1e-6);
        }

        // Fit recipe, RGB, image already at the input size: exact values, CHW layout.
        let cfg = ImageConfig {
            width: 4,
            height: 2,
            channels: 3,
            recipe: ImageRecipe::Fit,
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        };
        let img = RgbImage::from_fn(4, 2, |x, _| {
            if x < 2 {
                Rgb([10, 20, 30])
            } else {
                Rgb([200, 100, 50])
            }
        });
        let prepared = prepare_image(&DynamicImage::ImageRgb8(img), &cfg, &p("rgb")).expect("fit");
        assert_eq!(prepared.preview[..3], [10, 20, 30]);
        assert_eq!(prepared.preview[3 * 3..3 * 4], [200, 100, 50]);
        let at = |c: usize, y: usize, x: usize| prepared.pixels[c * 8 + y * 4 + x];
        let want = |v: f32, c: usize| (v / 255.0 - cfg.mean[c]) / cfg.std[c];
        assert!((at(0, 1, 0) - want(10.0, 0)).abs() < 1e-6);
        assert!((at(1, 0, 3) - want(100.0, 1)).abs() < 1e-6);
        assert!((at(2, 1, 2) - want(50.0, 2)).abs() < 1e-6);
    }

    #[test]
    fn fit_letterboxes_with_the_mean_colour() {
        let cfg = ImageConfig {
            width: 32,
            height: 32,
            channels: 3,
            recipe: ImageRecipe::Fit,
            mean: vec![0.5, 0.5, 0.5],
            std: vec![0.25, 0.25, 0.25],
        };
        // 64x16 landscape -> 32x8 in the middle rows, letterbox above and below.
        let img = RgbImage::from_fn(64, 16, |x, _| {
            if x < 32 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        });
        let prep = prepare_image(&DynamicImage::ImageRgb8(img), &cfg, &p("wide")).expect("fit");
        let px = |x: usize, y: usize| &prep.preview[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3];
        assert_eq!(px(0, 0), [128, 128, 128]);
        assert_eq!(px(31, 31), [128, 128, 128]);
        assert_eq!(px(4, 16), [255, 0, 0]);
        assert_eq!(px(28, 16), [0, 0, 255]);
        assert!(prep.pixels[0].abs() < 0.01, "letterbox normalises to ~0");

        // Grayscale Fit of the same picture, and a tall image downscaled by a large factor.
        let gray = ImageConfig {
            channels: 1,
            mean: vec![0.5],
            std: vec![0.5],
            ..cfg
        };
        let tall = GrayImage::from_fn(300, 3000, |_, y| Luma([if y < 1500 { 0 } else { 255 }]));
        let prep = prepare_image(&DynamicImage::ImageLuma8(tall), &gray, &p("tall")).expect("fit");
        assert_eq!(prep.preview.len(), 32 * 32);
        assert_eq!(prep.preview[5 * 32 + 16], 0);
        assert_eq!(prep.preview[27 * 32 + 16], 255);
        assert_eq!(prep.preview[16 * 32], 128, "pillarbox");
    }

    #[test]
    fn mnist_recipe_with_three_channels_replicates_gray() {
        let cfg = ImageConfig {
            channels: 3,
            mean: vec![0.1; 3],
            std: vec![0.3; 3],
            ..ImageConfig::default()
        };
        let prep = prepare_image(&DynamicImage::ImageLuma8(paper_seven()), &cfg, &p("c3"))
            .expect("prepare");
        assert_eq!(prep.preview.len(), 28 * 28 * 3);
        assert_eq!(prep.pixels.len(), 28 * 28 * 3);
        for px in prep.preview.chunks_exact(3) {
            assert!(px[0] == px[1] && px[1] == px[2]);
        }
        assert_eq!(prep.pixels[..784], prep.pixels[784..1568]);
    }

    #[test]
    fn prepare_image_file_reads_and_prepares() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seven.jpg");
        DynamicImage::ImageLuma8(paper_seven())
            .save_with_format(&path, ImageFormat::Jpeg)
            .expect("save");
        let prep = prepare_image_file(&path, &ImageConfig::default()).expect("prepare");
        let direct = prepare_image(
            &DynamicImage::ImageLuma8(paper_seven()),
            &ImageConfig::default(),
            &path,
        )
        .expect("direct");
        let r = correlation(&prep.preview, &direct.preview);
        assert!(r > 0.95, "jpeg vs lossless correlation {r}");
    }

    #[test]
    fn config_validation_names_the_field() {
        ImageConfig::default().validate().expect("default is valid");
        let base = ImageConfig::default();
        let cases: Vec<(ImageConfig, &str)> = vec![
            (
                ImageConfig {
                    width: 0,
                    ..base.clone()
                },
                "width",
            ),
            (
                ImageConfig {
                    height: 0,
                    ..base.clone()
                },
                "height",
            ),
            (
                ImageConfig {
                    width: 100_000,
                    ..base.clone()
                },
                "width",
            ),
            (
                ImageConfig {
                    channels: 2,
                    ..base.clone()
                },
                "channels",
            ),
            (
                ImageConfig {
                    mean: vec![0.1, 0.2],
                    ..base.clone()
                },
                "mean",
            ),
            (
                ImageConfig {
                    std: vec![],
                    ..base.clone()
                },
                "std",
            ),
            (
                ImageConfig {
                    std: vec![0.0],
                    ..base.clone()
                },
                "std",
            ),
            (
                ImageConfig {
                    std: vec![-1.0],
                    ..base.clone()
                },
                "std",
            ),
            (
                ImageConfig {
                    mean: vec![f32::NAN],
                    ..base.clone()
                },
                "mean",
            ),
            (
                ImageConfig {
                    channels: 3,
                    ..base.clone()
                },
                "mean",
            ),
        ];
        for (cfg, field) in cases {
            match cfg.validate() {
                Err(Error::InvalidRequest(msg)) => assert!(msg.contains(field), "{msg}"),
                other => panic!("{cfg:?}: expected InvalidRequest, got {other:?}"),
            }
            // prepare_image refuses it too.
            let img = DynamicImage::ImageLuma8(mnist_seven());
            assert!(matches!(
                prepare_image(&img, &cfg, &p("x")),
                Err(Error::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn config_serde_round_trip() {
        let json = serde_json::to_string(&ImageConfig::default()).expect("ser");
        assert!(json.contains("\"recipe\":\"mnist\""), "{json}");
        let back: ImageConfig = serde_json::from_str(&json).expect("de");
        assert_eq!(back, ImageConfig::default());
        let fit: ImageRecipe = serde_json::from_str("\"fit\"").expect("fit");
        assert_eq!(fit, ImageRecipe::Fit);
    }

    fn arb_image() -> impl Strategy<Value = DynamicImage> {
        (1u32..14, 1u32..14, 0usize..5, any::<u64>()).prop_map(|(w, h, kind, seed)| {
            let mut noise = Noise(seed | 1);
            let mut byte = move || ((noise.next() + 1.0) * 127.5) as u8;
            match kind {
                0 => DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |_, _| Luma([byte()]))),
                1 => DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
                    Rgb([byte(), byte(), byte()])
                })),
                2 => DynamicImage::ImageRgba8(RgbaImage::from_fn(w, h, |_, _| {
                    Rgba([byte(), byte(), byte(), byte()])
                })),
                3 => DynamicImage::ImageLumaA8(image::GrayAlphaImage::from_fn(w, h, |_, _| {
                    image::LumaA([byte(), byte()])
                })),
                // Sparse: mostly one level with a few specks.
                _ => DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |_, _| {
                    Luma([if byte() > 240 { 0 } else { 255 }])
                })),
            }
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn prepare_image_never_panics(
            img in arb_image(),
            fit in any::<bool>(),
            rgb in any::<bool>(),
            side in 1u32..40,
        ) {
            let channels = if rgb { 3 } else { 1 };
            let cfg = ImageConfig {
                width: side,
                height: (side * 3 / 2).max(1),
                channels,
                recipe: if fit { ImageRecipe::Fit } else { ImageRecipe::Mnist },
                mean: vec![0.2; usize::from(channels)],
                std: vec![0.3; usize::from(channels)],
            };
            match prepare_image(&img, &cfg, Path::new("prop.png")) {
                Ok(p) => {
                    let n = (cfg.width * cfg.height) as usize * usize::from(channels);
                    prop_assert_eq!(p.pixels.len(), n);
                    prop_assert_eq!(p.preview.len(), n);
                    prop_assert!(p.pixels.iter().all(|v| v.is_finite()));
                }
                Err(e) => prop_assert!(matches!(e, Error::ImageBlank { .. }), "{e:?}"),
            }
        }
    }
}
