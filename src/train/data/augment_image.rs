//! Image augmentation for training: the degradations a scan or a phone photo adds to a page of
//! dark ink on light paper, as plain functions on [`GrayImage`], and a sampler that draws a
//! random combination from named ranges ([`ScanAugmentation::sample`]).
//!
//! The effects, in the order [`ScanParams::apply`] runs them:
//!
//! 1. **stroke weight** ([`stroke_weight`]): a 3x3 minimum (dark ink spreads: a bolder pen) or
//!    maximum (thinner strokes) filter, [`STROKE_STEPS_RANGE`] times;
//! 2. **rotation** ([`rotate`]) by up to [`ROTATION_MAX_DEG`], the uncovered corners filled
//!    with the paper's colour (a page placed askew);
//! 3. **uneven light** ([`uneven_light`]): a brightness gradient across the page of strength
//!    [`LIGHT_GRADIENT_RANGE`] and a vignette of strength [`VIGNETTE_RANGE`];
//! 4. **blur** ([`gaussian_blur`], sigma in [`BLUR_SIGMA_RANGE`]): focus and motion;
//! 5. **low resolution** ([`low_resolution`], factor in [`LOW_RES_FACTOR_RANGE`]): a coarse
//!    sensor or a small crop, scaled down and back up;
//! 6. **noise** ([`add_gaussian_noise`], sigma in [`NOISE_SIGMA_RANGE`]): sensor noise;
//! 7. **JPEG** ([`jpeg_round_trip`], quality in [`JPEG_QUALITY_RANGE`]): compression blocks
//!    and ringing;
//! 8. **polarity** ([`invert`], probability [`INVERT_PROBABILITY`]): light ink on a dark
//!    background (chalk on a board, an inverted scan).
//!
//! Pixel values are 0 (black) to 255 (white). Everything random is drawn from a caller's
//! seeded generator, so the same seed gives the same image on every machine and run.
//!
//! The default ranges reach what a phone photo of a page does to it: strong light gradients
//! and vignettes, and sensor noise. The model's MNIST recipe
//! ([`crate::preprocess::mnist::mnist_recipe`]) divides uneven light out of the page
//! ([`crate::preprocess::flatten`]) and looks for the ink on a smoothed copy of a noisy page,
//! so shading and noise are not taken for ink. Before it did (it thresholded against the
//! border's single paper level), the ranges had to stop at noise sigma 8, gradient 0.18 and
//! vignette 0.12. `cargo test --test core photo_degradation_sweep -- --ignored --nocapture`
//! measures it on the shipped model's 300 held-out MNIST digits drawn on paper, one effect at
//! a time: the share of 28x28 views whose ink spans fewer than 16 px (the recipe lost the
//! digit) went from 99 % to 0 % at a light gradient of 0.45, from 100 % to 0 % at a vignette of
//! 0.45 and from 99.7 % to 0 % at noise sigma 25, and stays 0 % up to a gradient of 0.75 and
//! noise sigma 35, past the tops of [`LIGHT_GRADIENT_RANGE`], [`VIGNETTE_RANGE`] and
//! [`NOISE_SIGMA_RANGE`]; with every effect drawn from these defaults at once it is 0.7 %.

use std::io::Cursor;

use image::codecs::jpeg::{JpegDecoder, JpegEncoder};
use image::imageops::FilterType;
use image::imageops::GaussianBlurParameters;
use image::{DynamicImage, GrayImage};
use rand::Rng;

use crate::error::{Error, Result};

/// Gaussian blur sigmas drawn, in pixels of the image being degraded.
pub const BLUR_SIGMA_RANGE: (f32, f32) = (0.3, 2.2);
/// Share of samples that are blurred at all.
pub const BLUR_PROBABILITY: f64 = 0.6;
/// Blurs with a smaller sigma than this (pixels) change nothing and are skipped.
const MIN_BLUR_SIGMA: f32 = 1e-3;
/// Standard deviations of the additive noise, in grey levels (0..255).
pub const NOISE_SIGMA_RANGE: (f32, f32) = (0.0, 18.0);
/// JPEG qualities drawn (1..=100).
pub const JPEG_QUALITY_RANGE: (u8, u8) = (12, 90);
/// Share of samples that go through a JPEG round trip.
pub const JPEG_PROBABILITY: f64 = 0.5;
/// Downscale factors drawn for [`low_resolution`] (2.0 = half the width and height).
pub const LOW_RES_FACTOR_RANGE: (f32, f32) = (1.3, 3.0);
/// Share of samples scaled down and back up.
pub const LOW_RES_PROBABILITY: f64 = 0.35;
/// Strength of the light gradient: the darkest corner gets `1 - strength` of the light.
pub const LIGHT_GRADIENT_RANGE: (f32, f32) = (0.0, 0.6);
/// Strength of the vignette: the corners get `1 - strength` of the light of the centre.
pub const VIGNETTE_RANGE: (f32, f32) = (0.0, 0.35);
/// Largest rotation either way, in degrees.
pub const ROTATION_MAX_DEG: f32 = 8.0;
/// Stroke weight steps drawn (inclusive): negative thins, positive thickens the ink.
pub const STROKE_STEPS_RANGE: (i32, i32) = (-1, 1);
/// Share of samples whose stroke weight is changed at all.
pub const STROKE_PROBABILITY: f64 = 0.4;
/// Share of samples with inverted polarity.
pub const INVERT_PROBABILITY: f64 = 0.1;
/// Width of the border frame whose median is taken as the paper's colour.
pub const PAPER_FRAME: u32 = 2;

fn to_byte(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        v.round().clamp(0.0, 255.0) as u8
    }
}

/// Gaussian blur with standard deviation `sigma` pixels: the `image` crate's separable
/// filter, whose kernel (OpenCV's rule) has `2 * round((sigma - 0.8) / 0.3 + 1) + 1` taps, at
/// least 3 (5 at sigma 1, 13 at sigma 2.2), normalised, so a constant image stays constant.
/// `sigma` below 0.001 returns the image unchanged.
pub fn gaussian_blur(img: &GrayImage, sigma: f32) -> GrayImage {
    if sigma.is_nan() || sigma < MIN_BLUR_SIGMA || img.width() == 0 || img.height() == 0 {
        return img.clone();
    }
    // `DynamicImage` methods are compiled (optimised) in the image crate; the generic
    // `imageops` functions would be compiled here, unoptimised in dev builds.
    DynamicImage::ImageLuma8(img.clone())
        .blur_advanced(GaussianBlurParameters::new_from_sigma(sigma))
        .into_luma8()
}

/// Number of standard normal values in [`normal_table`].
const NORMAL_TABLE_LEN: usize = 1 << 16;

/// A fixed table of standard normal values (Box-Muller on a fixed-seed generator): the noise
/// draws 16-bit indices into it, four per random `u64`, which is much cheaper per pixel than a
/// fresh transcendental pair.
fn normal_table() -> &'static [f32] {
    static TABLE: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x6e6f_726d_616c_7462);
        let mut t = Vec::with_capacity(NORMAL_TABLE_LEN);
        while t.len() < NORMAL_TABLE_LEN {
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
            t.push((r * c) as f32);
            t.push((r * s) as f32);
        }
        t
    })
}

/// Adds gaussian noise of standard deviation `sigma` grey levels to every pixel (clipped to
/// 0..255). `sigma <= 0` returns the image unchanged and draws nothing from `rng`.
pub fn add_gaussian_noise(img: &GrayImage, sigma: f32, rng: &mut impl Rng) -> GrayImage {
    if sigma.is_nan() || sigma <= 0.0 {
        return img.clone();
    }
    let table = normal_table();
    let mut out = img.clone();
    for chunk in out.chunks_mut(4) {
        let mut bits = rng.next_u64();
        for p in chunk {
            let z = table[(bits & 0xFFFF) as usize];
            bits >>= 16;
            *p = to_byte(f32::from(*p) + sigma * z);
        }
    }
    out
}

/// Encodes the image as a baseline JPEG at `quality` (clamped to 1..=100) and decodes it
/// again with the `image` crate's codec.
pub fn jpeg_round_trip(img: &GrayImage, quality: u8) -> Result<GrayImage> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, quality.clamp(1, 100))
        .encode_image(img)
        .map_err(|e| Error::Internal(format!("JPEG round trip: encoding failed: {e}")))?;
    let decoder = JpegDecoder::new(Cursor::new(&bytes))
        .map_err(|e| Error::Internal(format!("JPEG round trip: decoding failed: {e}")))?;
    let back = DynamicImage::from_decoder(decoder)
        .map_err(|e| Error::Internal(format!("JPEG round trip: decoding failed: {e}")))?;
    Ok(back.to_luma8())
}

/// Scales the image down by `factor` (area-correct triangle filter, each side at least 1 px)
/// and back up to its size (bilinear): the look of a coarse sensor. `factor <= 1` returns the
/// image unchanged.
pub fn low_resolution(img: &GrayImage, factor: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    if factor.is_nan() || factor <= 1.0 || w == 0 || h == 0 {
        return img.clone();
    }
    let sw = ((w as f32 / factor).round() as u32).max(1);
    let sh = ((h as f32 / factor).round() as u32).max(1);
    DynamicImage::ImageLuma8(img.clone())
        .resize_exact(sw, sh, FilterType::Triangle)
        .resize_exact(w, h, FilterType::Triangle)
        .into_luma8()
}

/// Uneven light: every pixel multiplied by `light(x, y)`, where a linear gradient along the
/// direction `angle_deg` (0 = towards +x, 90 = towards +y, in image coordinates) falls from 1
/// at the brightest corner to `1 - gradient` at the opposite one, and a vignette scales by
/// `1 - vignette * (r / r_corner)^2` (`r` the distance from the centre).
///
/// A constant image of level `v` with `vignette = 0` and `angle_deg = 45` has `v` at the top
/// left and `v * (1 - gradient)` at the bottom right.
pub fn uneven_light(img: &GrayImage, gradient: f32, angle_deg: f32, vignette: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return img.clone();
    }
    let (gradient, vignette) = (gradient.clamp(0.0, 1.0), vignette.clamp(0.0, 1.0));
    let (s, c) = angle_deg.to_radians().sin_cos();
    let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
    // The largest projection of a corner onto the direction (the same for opposite corners).
    let reach = (cx * c).abs() + (cy * s).abs();
    let r2_corner = (cx * cx + cy * cy).max(f32::MIN_POSITIVE);
    let mut out = img.clone();
    for (x, y, p) in out.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        // t: 0 at the brightest corner, 1 at the darkest.
        let t = if reach > 0.0 {
            ((dx * c + dy * s) / reach * 0.5 + 0.5).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let light = (1.0 - gradient * t) * (1.0 - vignette * (dx * dx + dy * dy) / r2_corner);
        p[0] = to_byte(f32::from(p[0]) * light);
    }
    out
}

/// Negative: `255 - v`.
pub fn invert(img: &GrayImage) -> GrayImage {
    let mut out = img.clone();
    image::imageops::invert(&mut out);
    out
}

/// Rotates the content by `degrees` about the image centre, clockwise on screen for positive
/// angles (as ImageMagick's `-rotate`), on a canvas of the same size; bilinear sampling, with
/// `fill` where the rotated content does not reach. A multiple of 90 degrees on a square image
/// is an exact pixel permutation.
pub fn rotate(img: &GrayImage, degrees: f32, fill: u8) -> GrayImage {
    let (w, h) = img.dimensions();
    if degrees == 0.0 || w == 0 || h == 0 {
        return img.clone();
    }
    let rad = f64::from(degrees).to_radians();
    // Snap sin/cos of right angles so they are exact.
    let snap = |v: f64| {
        if (v - v.round()).abs() < 1e-12 {
            v.round()
        } else {
            v
        }
    };
    let (s, c) = (snap(rad.sin()), snap(rad.cos()));
    let (cx, cy) = ((f64::from(w) - 1.0) / 2.0, (f64::from(h) - 1.0) / 2.0);
    let (wi, hi) = (i64::from(w), i64::from(h));
    let src = img.as_raw();
    let fill_f = f64::from(fill);
    let sample = |x: i64, y: i64| -> f64 {
        if x < 0 || y < 0 || x >= wi || y >= hi {
            fill_f
        } else {
            f64::from(src[(y * wi + x) as usize])
        }
    };
    let mut out = Vec::with_capacity(src.len());
    for y in 0..h {
        let dy = f64::from(y) - cy;
        for x in 0..w {
            // Inverse map: turning the output point back by -degrees gives the source point.
            // Image y points down, so a clockwise turn on screen is a positive angle here.
            let dx = f64::from(x) - cx;
            let sx = c * dx + s * dy + cx;
            let sy = -s * dx + c * dy + cy;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let top = sample(x0, y0) * (1.0 - fx) + sample(x0 + 1, y0) * fx;
            let bottom = sample(x0, y0 + 1) * (1.0 - fx) + sample(x0 + 1, y0 + 1) * fx;
            out.push(to_byte((top * (1.0 - fy) + bottom * fy) as f32));
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| img.clone())
}

/// One 3x3 rank filter: the minimum (`darkest = true`) or maximum of each pixel's neighbourhood
/// (clipped at the edges), as a row pass and a column pass.
fn rank3x3(img: &GrayImage, darkest: bool) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let pick = |a: u8, b: u8| if darkest { a.min(b) } else { a.max(b) };
    let src = img.as_raw();
    let mut rows = src.clone();
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let dst = &mut rows[y * w..(y + 1) * w];
        for x in 0..w {
            let mut v = row[x];
            if x > 0 {
                v = pick(v, row[x - 1]);
            }
            if x + 1 < w {
                v = pick(v, row[x + 1]);
            }
            dst[x] = v;
        }
    }
    let mut out = rows.clone();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut v = rows[i];
            if y > 0 {
                v = pick(v, rows[i - w]);
            }
            if y + 1 < h {
                v = pick(v, rows[i + w]);
            }
            out[i] = v;
        }
    }
    GrayImage::from_raw(img.width(), img.height(), out).unwrap_or_else(|| img.clone())
}

/// Changes the weight of dark strokes on light paper: `steps > 0` applies a 3x3 minimum filter
/// that many times (dark ink spreads one pixel per step: bolder), `steps < 0` a 3x3 maximum
/// filter (thinner). A single dark pixel becomes a 3x3 dark block after one bolder step.
pub fn stroke_weight(img: &GrayImage, steps: i32) -> GrayImage {
    let mut out = img.clone();
    if img.width() == 0 || img.height() == 0 {
        return out;
    }
    for _ in 0..steps.unsigned_abs() {
        out = rank3x3(&out, steps > 0);
    }
    out
}

/// The paper's colour: the median of the outermost [`PAPER_FRAME`]-pixel frame.
pub fn paper_level(img: &GrayImage) -> u8 {
    let (w, h) = img.dimensions();
    let mut hist = [0u64; 256];
    for (x, y, p) in img.enumerate_pixels() {
        if x < PAPER_FRAME || y < PAPER_FRAME || x + PAPER_FRAME >= w || y + PAPER_FRAME >= h {
            hist[usize::from(p[0])] += 1;
        }
    }
    let n: u64 = hist.iter().sum();
    let half = n.div_ceil(2).max(1);
    let mut acc = 0;
    for (v, &c) in hist.iter().enumerate() {
        acc += c;
        if acc >= half {
            return v as u8;
        }
    }
    255
}

/// The ranges a random scan degradation is drawn from. [`Default`] holds the named constants
/// of this module; [`ScanAugmentation::none`] draws the identity.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanAugmentation {
    /// Blur sigma range (pixels) and the probability of blurring.
    pub blur_sigma: (f32, f32),
    /// Probability of blurring.
    pub blur_probability: f64,
    /// Noise sigma range (grey levels).
    pub noise_sigma: (f32, f32),
    /// JPEG quality range.
    pub jpeg_quality: (u8, u8),
    /// Probability of a JPEG round trip.
    pub jpeg_probability: f64,
    /// Downscale factor range.
    pub low_res_factor: (f32, f32),
    /// Probability of scaling down and back up.
    pub low_res_probability: f64,
    /// Light gradient strength range.
    pub light_gradient: (f32, f32),
    /// Vignette strength range.
    pub vignette: (f32, f32),
    /// Largest rotation either way, degrees.
    pub rotation_max_deg: f32,
    /// Stroke weight steps (inclusive range).
    pub stroke_steps: (i32, i32),
    /// Probability of changing the stroke weight.
    pub stroke_probability: f64,
    /// Probability of inverting the polarity.
    pub invert_probability: f64,
}

impl Default for ScanAugmentation {
    fn default() -> Self {
        Self {
            blur_sigma: BLUR_SIGMA_RANGE,
            blur_probability: BLUR_PROBABILITY,
            noise_sigma: NOISE_SIGMA_RANGE,
            jpeg_quality: JPEG_QUALITY_RANGE,
            jpeg_probability: JPEG_PROBABILITY,
            low_res_factor: LOW_RES_FACTOR_RANGE,
            low_res_probability: LOW_RES_PROBABILITY,
            light_gradient: LIGHT_GRADIENT_RANGE,
            vignette: VIGNETTE_RANGE,
            rotation_max_deg: ROTATION_MAX_DEG,
            stroke_steps: STROKE_STEPS_RANGE,
            stroke_probability: STROKE_PROBABILITY,
            invert_probability: INVERT_PROBABILITY,
        }
    }
}

/// One drawn degradation: concrete values for every effect (0 / `None` / `false` = off).
#[derive(Clone, Debug, PartialEq)]
pub struct ScanParams {
    /// Stroke weight steps ([`stroke_weight`]).
    pub stroke_steps: i32,
    /// Rotation in degrees, clockwise ([`rotate`]).
    pub rotation_deg: f32,
    /// Light gradient strength ([`uneven_light`]).
    pub light_gradient: f32,
    /// Light gradient direction in degrees.
    pub light_angle_deg: f32,
    /// Vignette strength.
    pub vignette: f32,
    /// Blur sigma ([`gaussian_blur`]).
    pub blur_sigma: f32,
    /// Downscale factor ([`low_resolution`]).
    pub low_res_factor: f32,
    /// Noise sigma ([`add_gaussian_noise`]).
    pub noise_sigma: f32,
    /// JPEG quality ([`jpeg_round_trip`]), if any.
    pub jpeg_quality: Option<u8>,
    /// Invert polarity ([`invert`]).
    pub invert: bool,
}

impl ScanParams {
    /// The identity: every effect off.
    pub fn identity() -> Self {
        Self {
            stroke_steps: 0,
            rotation_deg: 0.0,
            light_gradient: 0.0,
            light_angle_deg: 0.0,
            vignette: 0.0,
            blur_sigma: 0.0,
            low_res_factor: 1.0,
            noise_sigma: 0.0,
            jpeg_quality: None,
            invert: false,
        }
    }

    /// Applies the effects in the module's order to a page of dark ink on light paper; the
    /// rotation fills with the page's [`paper_level`]. `rng` draws the noise.
    pub fn apply(&self, img: &GrayImage, rng: &mut impl Rng) -> Result<GrayImage> {
        let mut out = stroke_weight(img, self.stroke_steps);
        if self.rotation_deg != 0.0 {
            out = rotate(&out, self.rotation_deg, paper_level(&out));
        }
        if self.light_gradient > 0.0 || self.vignette > 0.0 {
            out = uneven_light(
                &out,
                self.light_gradient,
                self.light_angle_deg,
                self.vignette,
            );
        }
        out = gaussian_blur(&out, self.blur_sigma);
        out = low_resolution(&out, self.low_res_factor);
        out = add_gaussian_noise(&out, self.noise_sigma, rng);
        if let Some(q) = self.jpeg_quality {
            out = jpeg_round_trip(&out, q)?;
        }
        if self.invert {
            out = invert(&out);
        }
        Ok(out)
    }
}

/// True with probability `p`.
fn coin(rng: &mut impl Rng, p: f64) -> bool {
    rng.random::<f64>() < p
}

fn draw_f32(rng: &mut impl Rng, (lo, hi): (f32, f32)) -> f32 {
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    }
}

impl ScanAugmentation {
    /// Ranges that draw the identity every time.
    pub fn none() -> Self {
        Self {
            blur_sigma: (0.0, 0.0),
            blur_probability: 0.0,
            noise_sigma: (0.0, 0.0),
            jpeg_quality: (100, 100),
            jpeg_probability: 0.0,
            low_res_factor: (1.0, 1.0),
            low_res_probability: 0.0,
            light_gradient: (0.0, 0.0),
            vignette: (0.0, 0.0),
            rotation_max_deg: 0.0,
            stroke_steps: (0, 0),
            stroke_probability: 0.0,
            invert_probability: 0.0,
        }
    }

    /// Draws one combination. Every draw is made whether or not the effect is on, so the
    /// number of values taken from `rng` does not depend on the outcome.
    pub fn sample(&self, rng: &mut impl Rng) -> ScanParams {
        let stroke_on = coin(rng, self.stroke_probability);
        let (slo, shi) = self.stroke_steps;
        let stroke = if shi > slo {
            rng.random_range(slo..=shi)
        } else {
            slo
        };
        let rotation = if self.rotation_max_deg > 0.0 {
            rng.random_range(-self.rotation_max_deg..=self.rotation_max_deg)
        } else {
            0.0
        };
        let light_gradient = draw_f32(rng, self.light_gradient);
        let light_angle_deg = rng.random_range(0.0f32..360.0);
        let vignette = draw_f32(rng, self.vignette);
        let blur_on = coin(rng, self.blur_probability);
        let blur = draw_f32(rng, self.blur_sigma);
        let low_res_on = coin(rng, self.low_res_probability);
        let low_res = draw_f32(rng, self.low_res_factor);
        let noise = draw_f32(rng, self.noise_sigma);
        let jpeg_on = coin(rng, self.jpeg_probability);
        let (qlo, qhi) = self.jpeg_quality;
        let quality = if qhi > qlo {
            rng.random_range(qlo..=qhi)
        } else {
            qlo
        };
        let invert = coin(rng, self.invert_probability);
        ScanParams {
            stroke_steps: if stroke_on { stroke } else { 0 },
            rotation_deg: rotation,
            light_gradient,
            light_angle_deg: if light_gradient > 0.0 {
                light_angle_deg
            } else {
                0.0
            },
            vignette,
            blur_sigma: if blur_on { blur } else { 0.0 },
            low_res_factor: if low_res_on { low_res } else { 1.0 },
            noise_sigma: noise,
            jpeg_quality: jpeg_on.then_some(quality),
            invert,
        }
    }

    /// Draws a combination and applies it.
    pub fn apply(&self, img: &GrayImage, rng: &mut impl Rng) -> Result<GrayImage> {
        self.sample(rng).apply(img, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn flat(w: u32, h: u32, v: u8) -> GrayImage {
        GrayImage::from_pixel(w, h, Luma([v]))
    }

    fn total(img: &GrayImage) -> u64 {
        img.as_raw().iter().map(|&v| u64::from(v)).sum()
    }

    fn mean_std(img: &GrayImage) -> (f64, f64) {
        let n = img.as_raw().len() as f64;
        let mean = img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = img
            .as_raw()
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        (mean, var.sqrt())
    }

    #[test]
    fn blur_keeps_constants_and_spreads_an_impulse_symmetrically() {
        let c = flat(20, 13, 137);
        assert_eq!(gaussian_blur(&c, 1.7), c);
        assert_eq!(gaussian_blur(&c, 0.0), c);

        let mut imp = flat(21, 21, 0);
        imp.put_pixel(10, 10, Luma([255]));
        let b = gaussian_blur(&imp, 1.0);
        // The mass stays (up to rounding each of the 7x7 kernel's pixels to a grey level).
        let sum = total(&b) as i64;
        assert!((sum - 255).abs() <= 6, "sum {sum}");
        // Peak: 255 * g(0)^2 with g(0) = 1 / sum(exp(-i^2/2), i=-2..2) = 0.40262.
        assert_eq!(b.get_pixel(10, 10)[0], 41);
        // Symmetric under mirroring in x, y and the diagonal.
        for y in 0..21 {
            for x in 0..21 {
                let v = b.get_pixel(x, y)[0];
                assert_eq!(v, b.get_pixel(20 - x, y)[0]);
                assert_eq!(v, b.get_pixel(x, 20 - y)[0]);
                assert_eq!(v, b.get_pixel(y, x)[0]);
            }
        }
        // Nothing beyond the kernel's radius: 5 taps at sigma 1.
        assert_eq!(b.get_pixel(10, 13)[0], 0);
        assert!(b.get_pixel(10, 12)[0] > 0);
    }

    #[test]
    fn noise_is_identity_at_zero_and_has_the_asked_spread() {
        let img = flat(200, 200, 128);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(add_gaussian_noise(&img, 0.0, &mut rng), img);
        let noisy = add_gaussian_noise(&img, 10.0, &mut rng);
        let (mean, std) = mean_std(&noisy);
        assert!((mean - 128.0).abs() < 0.2, "mean {mean}");
        // Rounding to grey levels adds 1/12 of variance: sqrt(100 + 1/12) = 10.004.
        assert!((std - 10.0).abs() < 0.15, "std {std}");
        // Seeded: the same seed gives the same image.
        let a = add_gaussian_noise(&img, 5.0, &mut ChaCha8Rng::seed_from_u64(7));
        let b = add_gaussian_noise(&img, 5.0, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
    }

    #[test]
    fn invert_twice_is_identity() {
        let img = GrayImage::from_fn(16, 9, |x, y| Luma([(x * 16 + y * 3) as u8]));
        assert_eq!(invert(&invert(&img)), img);
        assert_eq!(invert(&flat(1, 1, 0)).get_pixel(0, 0)[0], 255);
        assert_eq!(invert(&flat(1, 1, 200)).get_pixel(0, 0)[0], 55);
    }

    #[test]
    fn low_resolution_keeps_constants_and_loses_detail() {
        let c = flat(61, 47, 201);
        assert_eq!(low_resolution(&c, 2.5), c);
        assert_eq!(low_resolution(&c, 1.0), c);
        // A one-pixel checkerboard is averaged away to mid grey.
        let board = GrayImage::from_fn(40, 40, |x, y| {
            Luma([if (x + y) % 2 == 0 { 0 } else { 255 }])
        });
        let low = low_resolution(&board, 2.0);
        assert_eq!(low.dimensions(), (40, 40));
        let (mean, std) = mean_std(&low);
        assert!((mean - 127.5).abs() < 3.0, "mean {mean}");
        assert!(std < 20.0, "std {std}");
    }

    #[test]
    fn stroke_weight_grows_and_shrinks_a_dot() {
        let mut dot = flat(9, 9, 255);
        dot.put_pixel(4, 4, Luma([0]));
        let bold = stroke_weight(&dot, 1);
        for y in 0..9 {
            for x in 0..9 {
                let inside = (3..=5).contains(&x) && (3..=5).contains(&y);
                assert_eq!(
                    bold.get_pixel(x, y)[0],
                    if inside { 0 } else { 255 },
                    "({x},{y})"
                );
            }
        }
        assert_eq!(
            total(&invert(&stroke_weight(&dot, 2))),
            25 * 255,
            "5x5 after two steps"
        );
        // Thinning erases the dot; thinning the 3x3 block gives the dot back.
        assert_eq!(stroke_weight(&dot, -1), flat(9, 9, 255));
        assert_eq!(stroke_weight(&bold, -1), dot);
        assert_eq!(stroke_weight(&dot, 0), dot);
    }

    #[test]
    fn uneven_light_spans_the_asked_range_corner_to_corner() {
        let img = flat(50, 50, 200);
        let lit = uneven_light(&img, 0.4, 45.0, 0.0);
        assert_eq!(lit.get_pixel(0, 0)[0], 200, "brightest corner");
        assert_eq!(lit.get_pixel(49, 49)[0], 120, "200 * (1 - 0.4)");
        let (lo, hi) = lit
            .as_raw()
            .iter()
            .fold((255, 0), |(lo, hi), &v| (v.min(lo), v.max(hi)));
        assert_eq!((lo, hi), (120, 200));
        // The other diagonal is the midpoint.
        assert_eq!(lit.get_pixel(49, 0)[0], 160);
        assert_eq!(lit.get_pixel(0, 49)[0], 160);
        // Angle 180: light falls towards -x.
        let left = uneven_light(&img, 0.5, 180.0, 0.0);
        assert_eq!(
            (left.get_pixel(49, 20)[0], left.get_pixel(0, 20)[0]),
            (200, 100)
        );
        // Vignette: the corners get 1 - 0.3 of the centre's light.
        let v = uneven_light(&flat(51, 51, 200), 0.0, 0.0, 0.3);
        assert_eq!(v.get_pixel(25, 25)[0], 200);
        for (x, y) in [(0, 0), (50, 0), (0, 50), (50, 50)] {
            assert_eq!(v.get_pixel(x, y)[0], 140);
        }
    }

    #[test]
    fn jpeg_round_trip_keeps_flat_pages_and_blocks_fine_detail() {
        let page = flat(32, 32, 180);
        let back = jpeg_round_trip(&page, 75).expect("jpeg");
        assert_eq!(back.dimensions(), (32, 32));
        let worst = back
            .as_raw()
            .iter()
            .map(|&v| (i32::from(v) - 180).abs())
            .max();
        assert!(worst <= Some(1), "flat page changed by {worst:?}");

        let board = GrayImage::from_fn(32, 32, |x, y| {
            Luma([if (x + y) % 2 == 0 { 30 } else { 220 }])
        });
        let hi = jpeg_round_trip(&board, 95).expect("jpeg");
        let lo = jpeg_round_trip(&board, 10).expect("jpeg");
        let err = |img: &GrayImage| -> f64 {
            img.as_raw()
                .iter()
                .zip(board.as_raw())
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs())
                .sum::<f64>()
                / 1024.0
        };
        assert!(err(&lo) > 20.0, "quality 10 mean abs error {}", err(&lo));
        assert!(
            err(&hi) < err(&lo) / 2.0,
            "95: {}, 10: {}",
            err(&hi),
            err(&lo)
        );
    }

    #[test]
    fn rotation_by_zero_and_right_angles_is_exact() {
        let pattern = GrayImage::from_fn(7, 7, |x, y| Luma([(x * 30 + y) as u8]));
        assert_eq!(rotate(&pattern, 0.0, 255), pattern);
        assert_eq!(
            rotate(&pattern, 90.0, 255),
            image::imageops::rotate90(&pattern)
        );
        assert_eq!(
            rotate(&pattern, 180.0, 255),
            image::imageops::rotate180(&pattern)
        );
        assert_eq!(
            rotate(&pattern, -90.0, 255),
            image::imageops::rotate270(&pattern)
        );
        // Clockwise: the top-left pixel goes to the top right.
        let mut corner = flat(5, 5, 255);
        corner.put_pixel(0, 0, Luma([0]));
        assert_eq!(rotate(&corner, 90.0, 255).get_pixel(4, 0)[0], 0);
        // Off-grid angles fill the uncovered corners with the paper colour.
        let turned = rotate(&flat(40, 40, 90), 30.0, 250);
        assert_eq!(turned.get_pixel(0, 0)[0], 250);
        assert_eq!(turned.get_pixel(20, 20)[0], 90);
    }

    #[test]
    fn paper_level_is_the_border_median() {
        let mut img = flat(20, 20, 230);
        for y in 5..15 {
            for x in 5..15 {
                img.put_pixel(x, y, Luma([10]));
            }
        }
        assert_eq!(paper_level(&img), 230);
    }

    #[test]
    fn sampled_scans_are_seeded_and_stay_in_range() {
        let aug = ScanAugmentation::default();
        let mut page = flat(80, 80, 220);
        for y in 20..60 {
            for x in 36..44 {
                page.put_pixel(x, y, Luma([20]));
            }
        }
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            aug.apply(&page, &mut rng).expect("apply")
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let mut saw = (false, false, false);
        for seed in 0..200 {
            let p = aug.sample(&mut ChaCha8Rng::seed_from_u64(seed));
            assert!(p.rotation_deg.abs() <= ROTATION_MAX_DEG);
            assert!(
                p.blur_sigma == 0.0
                    || (BLUR_SIGMA_RANGE.0..=BLUR_SIGMA_RANGE.1).contains(&p.blur_sigma)
            );
            assert!((NOISE_SIGMA_RANGE.0..=NOISE_SIGMA_RANGE.1).contains(&p.noise_sigma));
            assert!(
                p.jpeg_quality
                    .is_none_or(|q| (JPEG_QUALITY_RANGE.0..=JPEG_QUALITY_RANGE.1).contains(&q))
            );
            assert!((STROKE_STEPS_RANGE.0..=STROKE_STEPS_RANGE.1).contains(&p.stroke_steps));
            saw.0 |= p.invert;
            saw.1 |= p.jpeg_quality.is_some();
            saw.2 |= p.low_res_factor > 1.0;
        }
        assert_eq!(
            saw,
            (true, true, true),
            "every optional effect is drawn sometimes"
        );
        // The identity ranges draw the identity, which changes nothing.
        let none = ScanAugmentation::none().sample(&mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(none, ScanParams::identity());
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        assert_eq!(none.apply(&page, &mut rng).expect("apply"), page);
    }
}
