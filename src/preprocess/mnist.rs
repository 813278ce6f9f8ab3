//! The MNIST recipe: a photo or scan of dark ink on paper made to look like an MNIST digit
//! (white ink on black, the ink's bounding box scaled to a 20 px box, pasted into a 28x28
//! field with its centre of mass at the centre), and the MNIST facts the rest of the crate
//! reads (field size, normalisation).

use std::path::Path;

use image::imageops::FilterType;
use image::{GrayImage, ImageBuffer, Luma};

use crate::error::{Error, Result};
use crate::preprocess::pixels::{MIN_INK_CONTRAST, byte_range, unit_to_byte};

/// Ink threshold: background + this fraction of (peak - background).
const INK_THRESHOLD_FRACTION: f32 = 0.25;
/// The stroke core (this percentile of the ink pixels) is stretched to full white.
const INK_CORE_PERCENTILE: f64 = 0.90;
/// Width of the border frame whose median is the background level.
const BORDER_FRAME: u32 = 2;
/// Side of an MNIST digit (the field the recipe pastes into), in pixels.
pub const MNIST_SIDE_PX: u32 = 28;
/// Pixels per MNIST digit (`MNIST_SIDE_PX` x `MNIST_SIDE_PX`).
pub const MNIST_PIXELS: usize = (MNIST_SIDE_PX * MNIST_SIDE_PX) as usize;
/// Side of the box the ink's longest side is scaled to inside the field, in pixels.
pub const MNIST_BOX_PX: u32 = 20;
/// MNIST normalisation mean of the pixel values in 0..1 units (the training set's mean).
pub const MNIST_MEAN: f32 = 0.1307;
/// MNIST normalisation standard deviation in 0..1 units (the training set's std).
pub const MNIST_STD: f32 = 0.3081;
/// Area-average down to at most this many times the target size before the Lanczos filter.
pub(crate) const PRESHRINK_FACTOR: u32 = 4;

/// Resample a single-channel plane (values in 0..1, row-major) to `nw` x `nh`: integer area
/// averaging down to at most [`PRESHRINK_FACTOR`] times the target, then Lanczos3.
fn resample_plane(data: &[f32], w: u32, h: u32, nw: u32, nh: u32) -> Vec<f32> {
    let (w, h, nw, nh) = (w.max(1), h.max(1), nw.max(1), nh.max(1));
    let kx = (w / (nw.saturating_mul(PRESHRINK_FACTOR))).max(1);
    let ky = (h / (nh.saturating_mul(PRESHRINK_FACTOR))).max(1);
    let (mut cur, mut cw, mut ch) = (data.to_vec(), w, h);
    if kx > 1 || ky > 1 {
        (cur, cw, ch) = area_shrink(data, w, h, kx, ky);
    }
    if (cw, ch) == (nw, nh) {
        return cur;
    }
    let Some(buf) = ImageBuffer::<Luma<f32>, Vec<f32>>::from_raw(cw, ch, cur) else {
        return vec![0.0; nw as usize * nh as usize];
    };
    image::imageops::resize(&buf, nw, nh, FilterType::Lanczos3).into_raw()
}

/// Average `kx` x `ky` blocks (partial blocks at the right/bottom edge average what they have).
fn area_shrink(data: &[f32], w: u32, h: u32, kx: u32, ky: u32) -> (Vec<f32>, u32, u32) {
    let (ow, oh) = (w.div_ceil(kx), h.div_ceil(ky));
    let (w, kx, ky) = (w as usize, kx as usize, ky as usize);
    let mut sums = vec![0.0f32; ow as usize * oh as usize];
    let mut counts = vec![0u32; sums.len()];
    for (y, row) in data.chunks_exact(w).enumerate().take(h as usize) {
        let base = (y / ky) * ow as usize;
        for (x, &v) in row.iter().enumerate() {
            let i = base + x / kx;
            sums[i] += v;
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

/// The MNIST recipe: 28x28, white ink (255) on black (0).
///
/// Polarity comes from the border (median of the outermost 2-pixel frame; a background lighter
/// than the ink is inverted), so dark ink on paper works as well as white on black. The
/// background level (and its noise) becomes 0 and the stroke core 255; the image is cropped to
/// the ink (pixels above background + 25% of the ink contrast, isolated specks ignored), the
/// ink's longest side scaled to 20 px (area + Lanczos3), and pasted into the 28x28 field so the
/// centre of mass lands at (14, 14). No ink at all gives [`Error::ImageBlank`].
pub fn mnist_recipe(gray: &GrayImage, path: &Path) -> Result<GrayImage> {
    mnist_into(gray, MNIST_SIDE_PX, MNIST_SIDE_PX, path)
}

/// Histogram median (lower median) of the selected values.
fn hist_median(hist: &[u64; 256]) -> u8 {
    let n: u64 = hist.iter().sum();
    let half = n.div_ceil(2).max(1);
    let mut acc = 0u64;
    for (v, &c) in hist.iter().enumerate() {
        acc += c;
        if acc >= half {
            return v as u8;
        }
    }
    0
}

/// Call `f` with the index of every pixel in the outermost `BORDER_FRAME`-pixel frame.
fn for_each_border(w: u32, h: u32, mut f: impl FnMut(usize)) {
    let (wu, hu, fr) = (w as usize, h as usize, BORDER_FRAME as usize);
    for y in 0..hu {
        let row = y * wu;
        if y < fr || y + fr >= hu || wu <= 2 * fr {
            for x in 0..wu {
                f(row + x);
            }
        } else {
            for x in (0..fr).chain(wu - fr..wu) {
                f(row + x);
            }
        }
    }
}

/// Each pixel capped by its brightest 4-neighbour: an isolated bright speck drops to the level
/// of its surroundings while strokes (even 1 px wide lines) keep their value.
fn neighbour_support(v: &[u8], w: u32, h: u32) -> Vec<u8> {
    let (wu, hu) = (w as usize, h as usize);
    let mut out = vec![0u8; v.len()];
    for y in 0..hu {
        for x in 0..wu {
            let i = y * wu + x;
            let mut best: Option<u8> = None;
            let mut see = |j: usize| best = Some(best.map_or(v[j], |b| b.max(v[j])));
            if x > 0 {
                see(i - 1);
            }
            if x + 1 < wu {
                see(i + 1);
            }
            if y > 0 {
                see(i - wu);
            }
            if y + 1 < hu {
                see(i + wu);
            }
            out[i] = best.map_or(v[i], |b| b.min(v[i]));
        }
    }
    out
}

/// The MNIST recipe into an `out_w` x `out_h` field (the digit box scales with the field).
pub(crate) fn mnist_into(
    gray: &GrayImage,
    out_w: u32,
    out_h: u32,
    path: &Path,
) -> Result<GrayImage> {
    let blank = || Error::ImageBlank {
        path: path.to_path_buf(),
    };
    let (w, h) = gray.dimensions();
    let raw = gray.as_raw();
    if w == 0 || h == 0 || raw.len() != w as usize * h as usize {
        return Err(blank());
    }

    // Background level and polarity.
    let mut border_hist = [0u64; 256];
    for_each_border(w, h, |i| border_hist[usize::from(raw[i])] += 1);
    let bg_raw = hist_median(&border_hist);
    let (min, max) = byte_range(raw.iter().copied());
    let invert = i32::from(bg_raw) - i32::from(min) > i32::from(max) - i32::from(bg_raw);
    let ink: Vec<u8> = if invert {
        raw.iter().map(|&v| 255 - v).collect()
    } else {
        raw.clone()
    };
    let bg = f32::from(if invert { 255 - bg_raw } else { bg_raw });

    // Ink contrast, ignoring isolated specks.
    let support = neighbour_support(&ink, w, h);
    let peak = f32::from(support.iter().copied().max().unwrap_or(0));
    let range = peak - bg;
    if range < MIN_INK_CONTRAST {
        return Err(blank());
    }
    let threshold = bg + INK_THRESHOLD_FRACTION * range;

    // Bounding box of the ink and the histogram of the ink levels.
    let (wu, hu) = (w as usize, h as usize);
    let (mut x0, mut y0, mut x1, mut y1) = (wu, hu, 0usize, 0usize);
    let mut ink_hist = [0u64; 256];
    for (i, (&s, &v)) in support.iter().zip(&ink).enumerate() {
        if f32::from(s) > threshold {
            let (x, y) = (i % wu, i / wu);
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            ink_hist[usize::from(v)] += 1;
        }
    }
    if x0 > x1 || y0 > y1 {
        return Err(blank());
    }

    // Stretch: background noise floor -> 0, stroke core -> 1.
    let mut dev_hist = [0u64; 256];
    for_each_border(w, h, |i| {
        let d = (f32::from(ink[i]) - bg).abs().min(255.0) as usize;
        dev_hist[d] += 1;
    });
    let mad = f32::from(hist_median(&dev_hist));
    let low = bg + (3.0 * 1.4826 * mad).min(0.2 * range);
    let core = f32::from(hist_percentile(&ink_hist, INK_CORE_PERCENTILE));
    let high = core.max(low + 1.0);
    let span = high - low;

    // Scale so the ink's longest side fills the digit box; keep ~1 output pixel of margin.
    let box_side = ((f64::from(out_w.min(out_h)) * f64::from(MNIST_BOX_PX)
        / f64::from(MNIST_SIDE_PX))
    .round() as u32)
        .max(1);
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let scale = f64::from(box_side) / bw.max(bh) as f64;
    let margin = ((1.0 / scale).ceil() as usize).max(1);
    let (cx0, cy0) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
    let (cx1, cy1) = ((x1 + margin).min(wu - 1), (y1 + margin).min(hu - 1));
    let (cw, chh) = (cx1 - cx0 + 1, cy1 - cy0 + 1);
    let mut crop = Vec::with_capacity(cw * chh);
    for y in cy0..=cy1 {
        for &v in &ink[y * wu + cx0..=y * wu + cx1] {
            crop.push(((f32::from(v) - low) / span).clamp(0.0, 1.0));
        }
    }
    let sw = ((cw as f64 * scale).round() as u32).clamp(1, out_w);
    let sh = ((chh as f64 * scale).round() as u32).clamp(1, out_h);
    let small = resample_plane(&crop, cw as u32, chh as u32, sw, sh);

    // Centre of mass to the field centre.
    let (mut mass, mut mx, mut my) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &v) in small.iter().enumerate() {
        let v = f64::from(v.max(0.0));
        mass += v;
        mx += v * (i % sw as usize) as f64;
        my += v * (i / sw as usize) as f64;
    }
    if mass <= 0.0 {
        return Err(blank());
    }
    let place = |centre: f64, size: u32, field: u32| -> usize {
        let off = (f64::from(field) / 2.0 - centre).round();
        off.clamp(0.0, f64::from(field - size)) as usize
    };
    let ox = place(mx / mass, sw, out_w);
    let oy = place(my / mass, sh, out_h);

    let (ow, sw) = (out_w as usize, sw as usize);
    let mut out = vec![0u8; ow * out_h as usize];
    for (i, &v) in small.iter().enumerate() {
        let (x, y) = (i % sw + ox, i / sw + oy);
        if let Some(p) = out.get_mut(y * ow + x) {
            *p = unit_to_byte(v);
        }
    }
    if out.iter().all(|&v| v == 0) {
        return Err(blank());
    }
    GrayImage::from_raw(out_w, out_h, out)
        .ok_or_else(|| Error::Internal("mnist recipe: output buffer size".to_string()))
}

/// Smallest value whose cumulative share reaches `q`.
fn hist_percentile(hist: &[u64; 256], q: f64) -> u8 {
    let n: u64 = hist.iter().sum();
    let target = ((n as f64 * q).ceil() as u64).max(1);
    let mut acc = 0u64;
    for (v, &c) in hist.iter().enumerate() {
        acc += c;
        if acc >= target {
            return v as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::image_decode::load_image;
    use crate::preprocess::pixels::{gray_from_unit_floats, to_gray};
    use crate::preprocess::test_images::*;
    use image::{Rgba, RgbaImage};

    #[test]
    fn transparent_png_with_black_strokes_is_dark_ink_on_white() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Fully transparent *black* background: naive alpha dropping would give all black.
        let img = RgbaImage::from_fn(120, 120, |x, y| {
            if (50..70).contains(&x) && (15..105).contains(&y) {
                Rgba([0, 0, 0, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        let path = dir.path().join("one.png");
        img.save(&path).expect("save");
        let loaded = load_image(&path).expect("load");
        let gray = to_gray(&loaded);
        assert_eq!(
            gray.get_pixel(5, 5)[0],
            255,
            "background composited onto white"
        );
        assert_eq!(gray.get_pixel(60, 60)[0], 0, "stroke stays black");
        let digit = mnist_recipe(&gray, &path).expect("recipe");
        assert_eq!(digit.get_pixel(0, 0)[0], 0);
        assert!(digit.get_pixel(14, 14)[0] >= 240);
        let (bw, bh) = ink_bbox(&digit, 64);
        assert!(bh == 20 && bw <= 6, "a vertical bar: {bw}x{bh}");
    }

    #[test]
    fn dark_digit_on_noisy_paper_becomes_centred_white_on_black() {
        let path = p("paper-seven.jpg");
        let digit = mnist_recipe(&paper_seven(), &path).expect("recipe");
        assert_eq!(digit.dimensions(), (28, 28));
        let (bw, bh) = ink_bbox(&digit, 64);
        assert!(bw <= 20 && bh <= 20, "ink box {bw}x{bh}");
        assert!(bh >= 19, "longest side fills the box: {bw}x{bh}");
        let (cx, cy) = centre_of_mass(&digit);
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "com ({cx}, {cy})"
        );
        assert!(
            digit.as_raw().iter().any(|&v| v >= 250),
            "stroke core saturates"
        );
        // Paper (uneven and noisy) becomes black: everything away from the ink is ~0.
        let near_ink = |x: u32, y: u32| {
            (x.saturating_sub(1)..=(x + 1).min(27)).any(|nx| {
                (y.saturating_sub(1)..=(y + 1).min(27)).any(|ny| digit.get_pixel(nx, ny)[0] > 64)
            })
        };
        for (x, y, v) in digit.enumerate_pixels() {
            if !near_ink(x, y) {
                assert!(v[0] <= 8, "background pixel ({x},{y}) = {}", v[0]);
            }
        }
        assert_eq!(digit.get_pixel(0, 0)[0], 0);
        assert_eq!(digit.get_pixel(27, 0)[0], 0);
    }

    #[test]
    fn white_on_black_digit_gives_nearly_the_same_result() {
        let from_paper = mnist_recipe(&paper_seven(), &p("a.png")).expect("paper");
        let from_mnist = mnist_recipe(&mnist_seven(), &p("b.png")).expect("mnist");
        let r = correlation(from_paper.as_raw(), from_mnist.as_raw());
        assert!(r > 0.85, "correlation {r}");
        let (cx, cy) = centre_of_mass(&from_mnist);
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "com ({cx}, {cy})"
        );
        // The same digit through gray_from_unit_floats (MNIST data as 784 floats in 0..1).
        let floats: Vec<f32> = mnist_seven()
            .as_raw()
            .iter()
            .map(|&v| f32::from(v) / 255.0)
            .collect();
        let canvas = gray_from_unit_floats(&floats, 28, 28).expect("floats");
        assert_eq!(canvas, mnist_seven());
        let again = mnist_recipe(&canvas, &p("canvas")).expect("canvas");
        assert_eq!(again, from_mnist);
    }

    #[test]
    fn mnist_like_digit_keeps_its_shape() {
        // Already MNIST-like: up to the re-centring shift, the recipe changes little.
        let src = mnist_seven();
        let out = mnist_recipe(&src, &p("x")).expect("recipe");
        let mut best = f64::MIN;
        for dy in -3i32..=3 {
            for dx in -3i32..=3 {
                let shifted = GrayImage::from_fn(28, 28, |x, y| {
                    let (sx, sy) = (x as i32 - dx, y as i32 - dy);
                    if (0..28).contains(&sx) && (0..28).contains(&sy) {
                        *src.get_pixel(sx as u32, sy as u32)
                    } else {
                        Luma([0])
                    }
                });
                best = best.max(correlation(shifted.as_raw(), out.as_raw()));
            }
        }
        assert!(best > 0.9, "best shifted correlation {best}");
    }
}
