//! Colour handling shared by the image recipes: transparency flattened onto paper, BT.601
//! grayscale, shrinking large pictures before analysis, and unit floats to bytes.

use std::borrow::Cow;

use fast_image_resize::images::{Image as ResizeImage, ImageRef};
use fast_image_resize::{FilterType as ResizeFilter, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{Error, Result};

/// Ink must rise at least this many grey levels above the background or the image is blank.
pub(crate) const MIN_INK_CONTRAST: f32 = 24.0;

/// ITU-R BT.601 luma, exactly as PIL's `convert("L")` computes it.
fn luma601(r: u8, g: u8, b: u8) -> u8 {
    let y = u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000;
    (y >> 16).min(255) as u8
}

/// The image as interleaved RGB bytes with any transparency composited onto white paper.
///
/// Exception: when white paper would erase everything (light strokes drawn on a transparent
/// canvas) but the alpha channel itself holds the drawing, it is composited onto black instead.
pub(crate) fn flatten_to_rgb(img: &DynamicImage) -> Vec<u8> {
    if !img.color().has_alpha() {
        return img.to_rgb8().into_raw();
    }
    let rgba = img.to_rgba8();
    let onto = |bg: u32| -> Vec<u8> {
        let mut out = Vec::with_capacity(rgba.as_raw().len() / 4 * 3);
        for p in rgba.as_raw().chunks_exact(4) {
            let a = u32::from(p[3]);
            for &c in &p[..3] {
                out.push(((u32::from(c) * a + bg * (255 - a) + 127) / 255) as u8);
            }
        }
        out
    };
    let white = onto(255);
    let (amin, amax) = byte_range(rgba.as_raw().chunks_exact(4).map(|p| p[3]));
    if amax.saturating_sub(amin) >= 128 {
        let luma_span = |rgb: &[u8]| {
            let (lo, hi) = byte_range(rgb.chunks_exact(3).map(|p| luma601(p[0], p[1], p[2])));
            f32::from(hi) - f32::from(lo)
        };
        if luma_span(&white) < MIN_INK_CONTRAST {
            let black = onto(0);
            if luma_span(&black) >= MIN_INK_CONTRAST {
                return black;
            }
        }
    }
    white
}

pub(crate) fn byte_range(values: impl Iterator<Item = u8>) -> (u8, u8) {
    values.fold((u8::MAX, u8::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// `img` itself when its longest side is at most `max_side`; otherwise the image shrunk so its
/// longest side is `max_side`, by area averaging (a box filter as wide as the shrink, SIMD and
/// on every core: `fast_image_resize`), as 8-bit gray when it has no colour and no
/// transparency, else as RGB with transparency flattened (see [`flatten_to_rgb`]). A
/// 12-megapixel photo shrinks in a few milliseconds (the `image` crate's `thumbnail` took 42 ms
/// on the 2-core machine, by `perf` over the photo's preparation, release; the whole
/// preparation is timed by `cargo bench --bench throughput -- --prepare-only`).
pub(crate) fn shrink_for_analysis(img: &DynamicImage, max_side: u32) -> Cow<'_, DynamicImage> {
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    if long <= max_side || long == 0 {
        return Cow::Borrowed(img);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_side);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_side);
    let converted;
    let (bytes, pixel_type) = match img {
        DynamicImage::ImageLuma8(g) => (g.as_raw().as_slice(), PixelType::U8),
        DynamicImage::ImageRgb8(rgb) => (rgb.as_raw().as_slice(), PixelType::U8x3),
        _ if !img.color().has_color() && !img.color().has_alpha() => {
            converted = to_gray(img).into_raw();
            (converted.as_slice(), PixelType::U8)
        }
        _ => {
            converted = flatten_to_rgb(img);
            (converted.as_slice(), PixelType::U8x3)
        }
    };
    // The buffers are built above to the sizes and pixel types given, so neither step fails;
    // if one did, the image would be analysed at full size (slower, the same result).
    let Ok(src) = ImageRef::new(w, h, bytes, pixel_type) else {
        return Cow::Borrowed(img);
    };
    let mut dst = ResizeImage::new(nw, nh, pixel_type);
    let box_filter = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(ResizeFilter::Box));
    if Resizer::new().resize(&src, &mut dst, &box_filter).is_err() {
        return Cow::Borrowed(img);
    }
    let out = dst.into_vec();
    let shrunk = if pixel_type == PixelType::U8 {
        GrayImage::from_raw(nw, nh, out).map(DynamicImage::ImageLuma8)
    } else {
        RgbImage::from_raw(nw, nh, out).map(DynamicImage::ImageRgb8)
    };
    shrunk.map_or(Cow::Borrowed(img), Cow::Owned)
}

/// The image as 8-bit grayscale (BT.601), transparency flattened onto white.
pub(crate) fn to_gray(img: &DynamicImage) -> GrayImage {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageLuma8(g) => g.clone(),
        DynamicImage::ImageLuma16(_) => img.to_luma8(),
        _ => {
            let rgb = flatten_to_rgb(img);
            let luma: Vec<u8> = rgb
                .chunks_exact(3)
                .map(|p| luma601(p[0], p[1], p[2]))
                .collect();
            // The length is w*h by construction; fall back to a blank image rather than panic.
            GrayImage::from_raw(w, h, luma).unwrap_or_else(|| GrayImage::new(w, h))
        }
    }
}

/// Build a grayscale image from floats in 0..1 (white ink on black, e.g. MNIST data or a
/// drawing canvas), row-major. Values are clamped; NaN counts as 0.
pub fn gray_from_unit_floats(values: &[f32], width: u32, height: u32) -> Result<GrayImage> {
    if width == 0 || height == 0 {
        return Err(Error::Internal(format!(
            "gray image from floats: size must be non-zero, got {width}x{height}"
        )));
    }
    let expected = u64::from(width) * u64::from(height);
    if values.len() as u64 != expected {
        return Err(Error::Internal(format!(
            "gray image from floats: {width}x{height} needs {expected} values, got {}",
            values.len()
        )));
    }
    let bytes: Vec<u8> = values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0
            } else {
                (v.clamp(0.0, 1.0) * 255.0).round() as u8
            }
        })
        .collect();
    GrayImage::from_raw(width, height, bytes).ok_or_else(|| {
        Error::Internal(format!(
            "gray image from floats: buffer for {width}x{height}"
        ))
    })
}

pub(crate) fn unit_to_byte(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Average `kx` x `ky` blocks (partial blocks at the right/bottom edge average what they have).
pub(crate) fn area_shrink<T: Copy + Into<f32>>(
    data: &[T],
    w: u32,
    h: u32,
    kx: u32,
    ky: u32,
) -> (Vec<f32>, u32, u32) {
    let (ow, oh) = (w.div_ceil(kx), h.div_ceil(ky));
    let (w, kx, ky) = (w as usize, kx as usize, ky as usize);
    let mut sums = vec![0.0f32; ow as usize * oh as usize];
    let mut counts = vec![0u32; sums.len()];
    for (y, row) in data.chunks_exact(w).enumerate().take(h as usize) {
        let base = (y / ky) * ow as usize;
        for (x, &v) in row.iter().enumerate() {
            let i = base + x / kx;
            sums[i] += v.into();
            counts[i] += 1;
        }
    }
    for (s, &n) in sums.iter_mut().zip(&counts) {
        if n > 0 {
            *s /= n as f32;
        }
    }
    (sums, ow, oh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgba, RgbaImage};

    #[test]
    fn white_strokes_on_transparent_canvas_fall_back_to_black_backdrop() {
        let img = RgbaImage::from_fn(60, 60, |x, y| {
            if (25..35).contains(&x) && (10..50).contains(&y) {
                Rgba([255, 255, 255, 255])
            } else {
                Rgba([255, 255, 255, 0])
            }
        });
        let gray = to_gray(&DynamicImage::ImageRgba8(img));
        assert_eq!(gray.get_pixel(2, 2)[0], 0);
        assert_eq!(gray.get_pixel(30, 30)[0], 255);
    }

    #[test]
    fn gray_from_unit_floats_validates_and_clamps() {
        let img = gray_from_unit_floats(&[0.0, 0.5, 1.0, 2.0, -1.0, f32::NAN], 3, 2).expect("ok");
        assert_eq!(img.as_raw(), &vec![0, 128, 255, 255, 0, 0]);
        assert!(matches!(
            gray_from_unit_floats(&[0.0; 5], 3, 2),
            Err(Error::Internal(_))
        ));
        assert!(matches!(
            gray_from_unit_floats(&[], 0, 0),
            Err(Error::Internal(_))
        ));
    }
}
