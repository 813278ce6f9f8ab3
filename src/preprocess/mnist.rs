//! The MNIST recipe: a photo or scan of dark ink on paper made to look like an MNIST digit
//! (shading divided out, white ink on black, the ink's bounding box scaled to a 20 px box,
//! pasted into a 28x28 field with its centre of mass at the centre), and the MNIST facts the
//! rest of the crate reads (field size, normalisation).

use std::path::Path;

use image::imageops::FilterType;
use image::{GrayImage, ImageBuffer, Luma};

use crate::error::{Error, Result};
use crate::preprocess::components::{BACKGROUND, label_components};
use crate::preprocess::flatten::flatten_background;
use crate::preprocess::pixels::{MIN_INK_CONTRAST, area_shrink, byte_range, unit_to_byte};

/// Ink threshold: background + this fraction of (peak - background).
const INK_THRESHOLD_FRACTION: f32 = 0.25;
/// The stroke core (this percentile of the ink pixels) is stretched to full white.
const INK_CORE_PERCENTILE: f64 = 0.90;
/// Width of the border frame whose median is the background level.
const BORDER_FRAME: u32 = 2;
/// Standard deviation of gaussian noise per unit of its median absolute deviation.
const MAD_TO_SD: f32 = 1.4826;
/// On a noisy page the ink is found on a copy smoothed until the noise's standard deviation
/// is at most the ink threshold's height above the background over this many.
const MASK_NOISE_MARGIN_SD: f32 = 5.0;
/// The smoothing radius for finding the ink is at most the image's shorter side over this.
const MASK_SMOOTHING_MAX_DIVISOR: u32 = 40;
/// On a noisy page, a connected part of the ink mask is part of the digit only when its ink
/// (the sum of its levels above the threshold) is at least this share of the largest part's:
/// clumps of noise that survive the smoothing are far smaller than any stroke of the digit.
const INK_PART_MIN_SHARE: f64 = 0.1;
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

/// The MNIST recipe: 28x28, white ink (255) on black (0).
///
/// Polarity comes from the border (median of the outermost 2-pixel frame; a background lighter
/// than the ink is inverted), so dark ink on paper works as well as white on black. Uneven
/// light and coloured paper are divided out ([`flatten_background`]: a photo's shading is not
/// ink; a flat background, as in MNIST digits and clean scans, is left exactly as it is). The
/// background level (and its noise) becomes 0 and the stroke core 255; the image is cropped to
/// the ink (pixels above background + 25% of the ink contrast, isolated specks ignored; on a
/// noisy page they are found on a box-blurred copy, and connected parts with under a tenth of
/// the largest part's ink are dropped, so clumps of noise do not stretch the box),
/// the ink's longest side scaled to 20 px (area + Lanczos3), and pasted into the 28x28 field so
/// the centre of mass lands at (14, 14). No ink at all gives [`Error::ImageBlank`].
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

/// Median of the outermost `BORDER_FRAME`-pixel frame of a `w` x `h` image: its background level.
fn border_median(v: &[u8], w: u32, h: u32) -> u8 {
    let mut hist = [0u64; 256];
    for_each_border(w, h, |i| hist[usize::from(v[i])] += 1);
    hist_median(&hist)
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
/// of its surroundings while strokes (even 1 px wide lines) keep their value. Whole rows at a
/// time, so the compiler vectorises it; a missing neighbour (at the border) counts as 0, which
/// never wins because another neighbour exists whenever the image has two pixels.
fn neighbour_support(v: &[u8], w: u32, h: u32) -> Vec<u8> {
    let (wu, hu) = (w as usize, h as usize);
    if wu * hu <= 1 || v.len() != wu * hu {
        return v.to_vec();
    }
    let max_into = |dst: &mut [u8], src: &[u8]| {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (*d).max(s);
        }
    };
    let mut out = vec![0u8; v.len()];
    for (y, (dst, row)) in out.chunks_exact_mut(wu).zip(v.chunks_exact(wu)).enumerate() {
        max_into(&mut dst[1..], &row[..wu - 1]);
        max_into(&mut dst[..wu - 1], &row[1..]);
        if y > 0 {
            max_into(dst, &v[(y - 1) * wu..y * wu]);
        }
        if y + 1 < hu {
            max_into(dst, &v[(y + 1) * wu..(y + 2) * wu]);
        }
        for (d, &own) in dst.iter_mut().zip(row) {
            *d = (*d).min(own);
        }
    }
    out
}

/// Clears the connected parts of `mask` whose ink (the sum of `support` above `threshold`)
/// is under [`INK_PART_MIN_SHARE`] of the largest part's.
fn drop_noise_clumps(mask: &mut [bool], support: &[u8], threshold: f32, w: usize, h: usize) {
    let (labels, parts) = label_components(mask, w, h);
    if parts <= 1 {
        return;
    }
    let mut ink = vec![0.0f64; parts];
    for (&label, &s) in labels.iter().zip(support) {
        if label != BACKGROUND {
            ink[label as usize] += f64::from(f32::from(s) - threshold);
        }
    }
    let largest = ink.iter().copied().fold(0.0, f64::max);
    for (m, &label) in mask.iter_mut().zip(&labels) {
        if label != BACKGROUND && ink[label as usize] < INK_PART_MIN_SHARE * largest {
            *m = false;
        }
    }
}

/// Radius of the box blur that brings noise of standard deviation `noise_sd` down to the ink
/// threshold's height (`INK_THRESHOLD_FRACTION * range`) over [`MASK_NOISE_MARGIN_SD`]; 0 on
/// a quiet page (MNIST digits, clean scans), at most the shorter side over
/// [`MASK_SMOOTHING_MAX_DIVISOR`] (and 1).
fn mask_smoothing_radius(noise_sd: f32, range: f32, w: u32, h: u32) -> u32 {
    let margin = INK_THRESHOLD_FRACTION * range;
    if margin.is_nan() || noise_sd.is_nan() || margin <= 0.0 || noise_sd <= 0.0 {
        return 0;
    }
    let side = MASK_NOISE_MARGIN_SD * noise_sd / margin;
    let radius = ((side - 1.0) / 2.0).ceil().max(0.0) as u32;
    radius.min((w.min(h) / MASK_SMOOTHING_MAX_DIVISOR).max(1))
}

/// Mean of each pixel's (2 `radius` + 1)² neighbourhood (clipped at the edges), rounded; a
/// row pass and a column pass over running sums, so the cost does not grow with `radius`.
fn box_blur(v: &[u8], w: u32, h: u32, radius: u32) -> Vec<u8> {
    let (wu, hu, r) = (w as usize, h as usize, radius as usize);
    let pass = |src: &[f32], along_rows: bool| -> Vec<f32> {
        let (n, lines) = if along_rows { (wu, hu) } else { (hu, wu) };
        let at = |line: usize, k: usize| {
            if along_rows {
                line * wu + k
            } else {
                k * wu + line
            }
        };
        let mut out = vec![0.0f32; src.len()];
        let mut prefix = vec![0.0f64; n + 1];
        for line in 0..lines {
            for k in 0..n {
                prefix[k + 1] = prefix[k] + f64::from(src[at(line, k)]);
            }
            for k in 0..n {
                let (lo, hi) = (k.saturating_sub(r), (k + r).min(n - 1));
                out[at(line, k)] = ((prefix[hi + 1] - prefix[lo]) / (hi - lo + 1) as f64) as f32;
            }
        }
        out
    };
    let values: Vec<f32> = v.iter().map(|&x| f32::from(x)).collect();
    pass(&pass(&values, true), false)
        .iter()
        .map(|&x| x.round().clamp(0.0, 255.0) as u8)
        .collect()
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
    let bg_raw = border_median(raw, w, h);
    let (min, max) = byte_range(raw.iter().copied());
    let invert = i32::from(bg_raw) - i32::from(min) > i32::from(max) - i32::from(bg_raw);
    let ink: Vec<u8> = if invert {
        raw.iter().map(|&v| 255 - v).collect()
    } else {
        raw.clone()
    };
    let bg = f32::from(if invert { 255 - bg_raw } else { bg_raw });

    // Uneven light and coloured paper: the background divided out (`None`: already flat, the
    // image goes on exactly as it is).
    let (ink, bg) = match flatten_background(&ink, w, h) {
        Some(flat) => {
            let level = border_median(&flat, w, h);
            (flat, f32::from(level))
        }
        None => (ink, bg),
    };

    // Noise of the background: median absolute deviation of the border from its level.
    let mut dev_hist = [0u64; 256];
    for_each_border(w, h, |i| {
        let d = (f32::from(ink[i]) - bg).abs().min(255.0) as usize;
        dev_hist[d] += 1;
    });
    let mad = f32::from(hist_median(&dev_hist));

    // Ink contrast, ignoring isolated specks; on a noisy page the ink and its core level are
    // found on a smoothed copy, so clumps of noise far from the digit do not stretch its box
    // and noise on the strokes does not raise the level stretched to white.
    let mut support = neighbour_support(&ink, w, h);
    let peak_of = |s: &[u8]| f32::from(s.iter().copied().max().unwrap_or(0));
    let radius = mask_smoothing_radius(MAD_TO_SD * mad, peak_of(&support) - bg, w, h);
    let smoothed = (radius > 0).then(|| box_blur(&ink, w, h, radius));
    if let Some(smoothed) = &smoothed {
        support = neighbour_support(smoothed, w, h);
    }
    let levels = smoothed.as_deref().unwrap_or(&ink);
    let peak = peak_of(&support);
    let range = peak - bg;
    if range < MIN_INK_CONTRAST {
        return Err(blank());
    }
    let threshold = bg + INK_THRESHOLD_FRACTION * range;

    // Bounding box of the ink and the histogram of the ink levels.
    let (wu, hu) = (w as usize, h as usize);
    let mut mask: Vec<bool> = support.iter().map(|&s| f32::from(s) > threshold).collect();
    if smoothed.is_some() {
        drop_noise_clumps(&mut mask, &support, threshold, wu, hu);
    }
    let (mut x0, mut y0, mut x1, mut y1) = (wu, hu, 0usize, 0usize);
    let mut ink_hist = [0u64; 256];
    for (i, (&inside, &v)) in mask.iter().zip(levels).enumerate() {
        if inside {
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
    let low = bg + (3.0 * MAD_TO_SD * mad).min(0.2 * range);
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
    use proptest::prelude::*;

    proptest! {
        /// The row-wise version equals the definition: the brightest of the existing
        /// 4-neighbours, capped by the pixel itself (the pixel alone when it has none).
        #[test]
        fn neighbour_support_is_the_capped_brightest_neighbour(
            (w, h, v) in (1u32..9, 1u32..9).prop_flat_map(|(w, h)| {
                (Just(w), Just(h), proptest::collection::vec(any::<u8>(), (w * h) as usize))
            })
        ) {
            let (wu, hu) = (w as usize, h as usize);
            let got = neighbour_support(&v, w, h);
            for y in 0..hu {
                for x in 0..wu {
                    let mut near = Vec::new();
                    if x > 0 { near.push(v[y * wu + x - 1]); }
                    if x + 1 < wu { near.push(v[y * wu + x + 1]); }
                    if y > 0 { near.push(v[(y - 1) * wu + x]); }
                    if y + 1 < hu { near.push(v[(y + 1) * wu + x]); }
                    let own = v[y * wu + x];
                    let want = near.iter().max().map_or(own, |&b| b.min(own));
                    prop_assert_eq!(got[y * wu + x], want, "pixel ({}, {}) of {}x{}", x, y, w, h);
                }
            }
        }
    }

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

    /// `paper_seven` lit from the top left (the bottom right gets `1 - gradient` of the light)
    /// with uniform noise of standard deviation `noise_sd` on top.
    fn shaded_noisy_seven(gradient: f32, noise_sd: f32) -> GrayImage {
        let mut noise = Noise(0x0dd5_eed5);
        let page = paper_seven();
        let (w, h) = page.dimensions();
        GrayImage::from_fn(w, h, |x, y| {
            let t = (x as f32 / (w - 1) as f32 + y as f32 / (h - 1) as f32) / 2.0;
            let v = f32::from(page.get_pixel(x, y)[0]) * (1.0 - gradient * t)
                + noise_sd * 3f32.sqrt() * noise.next();
            Luma([v.round().clamp(0.0, 255.0) as u8])
        })
    }

    /// The recipe found the whole digit: its box fills the 20 px box, centred, on black.
    fn assert_clean_view(digit: &GrayImage, what: &str) {
        let (bw, bh) = ink_bbox(digit, 64);
        assert!(bh >= 19 && bw <= 20, "{what}: ink box {bw}x{bh}");
        let (cx, cy) = centre_of_mass(digit);
        assert!(
            (cx - 14.0).abs() <= 1.0 && (cy - 14.0).abs() <= 1.0,
            "{what}: com ({cx}, {cy})"
        );
        let near_ink = |x: u32, y: u32| {
            (x.saturating_sub(1)..=(x + 1).min(27)).any(|nx| {
                (y.saturating_sub(1)..=(y + 1).min(27)).any(|ny| digit.get_pixel(nx, ny)[0] > 64)
            })
        };
        for (x, y, v) in digit.enumerate_pixels() {
            assert!(
                near_ink(x, y) || v[0] <= 16,
                "{what}: background ({x},{y}) = {}",
                v[0]
            );
        }
    }

    #[test]
    fn shading_is_not_taken_for_ink() {
        for gradient in [0.3, 0.5, 0.7] {
            let digit =
                mnist_recipe(&shaded_noisy_seven(gradient, 4.0), &p("shaded")).expect("recipe");
            assert_clean_view(&digit, &format!("gradient {gradient}"));
        }
    }

    #[test]
    fn noise_clumps_do_not_stretch_the_box() {
        for noise_sd in [12.0, 20.0, 30.0] {
            let digit =
                mnist_recipe(&shaded_noisy_seven(0.0, noise_sd), &p("noisy")).expect("recipe");
            assert_clean_view(&digit, &format!("noise sd {noise_sd}"));
        }
        // Quiet pages are not smoothed; very noisy ones are, within the size cap.
        assert_eq!(mask_smoothing_radius(0.0, 180.0, 200, 300), 0);
        assert_eq!(mask_smoothing_radius(8.0, 180.0, 200, 300), 0);
        assert_eq!(mask_smoothing_radius(18.0, 180.0, 200, 300), 1);
        assert_eq!(mask_smoothing_radius(90.0, 180.0, 200, 300), 5);
        assert_eq!(mask_smoothing_radius(90.0, 180.0, 28, 28), 1);
        // The running-sum box blur is the plain mean.
        let v: Vec<u8> = (0..35).map(|i| (i * 7 % 256) as u8).collect();
        let blurred = box_blur(&v, 7, 5, 1);
        let mean = |x: usize, y: usize| {
            let (mut s, mut n) = (0u32, 0u32);
            for yy in y.saturating_sub(1)..=(y + 1).min(4) {
                for xx in x.saturating_sub(1)..=(x + 1).min(6) {
                    s += u32::from(v[yy * 7 + xx]);
                    n += 1;
                }
            }
            (s as f32 / n as f32).round() as u8
        };
        for (i, &b) in blurred.iter().enumerate() {
            assert_eq!(b, mean(i % 7, i / 7), "pixel {i}");
        }
    }

    #[test]
    fn a_smudge_apart_from_the_digit_on_a_noisy_page_is_left_out() {
        // A 12x12 smudge of half-dark ink far below and right of the seven: a connected part
        // with a few per cent of the digit's ink, dropped from the box on a noisy page.
        for noise_sd in [12.0, 20.0] {
            let mut page = shaded_noisy_seven(0.0, noise_sd);
            for y in 250..262 {
                for x in 166..178 {
                    page.put_pixel(x, y, Luma([120]));
                }
            }
            let digit = mnist_recipe(&page, &p("smudge")).expect("recipe");
            assert_clean_view(&digit, &format!("smudge, noise sd {noise_sd}"));
        }
    }

    #[test]
    fn clean_mnist_digits_take_the_recipe_unchanged() {
        // The shipped model's held-out MNIST digits and a drawn one: a flat black background
        // without noise, so neither the flattening nor the noise smoothing applies and the
        // recipe's output is what it was before either existed.
        let media = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/digits/gallery/media");
        let mut seen = 0;
        for entry in std::fs::read_dir(&media).expect("gallery media") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(name.starts_with("image_") && name.ends_with(".png")) {
                continue;
            }
            let gray = to_gray(&load_image(&path).expect("load"));
            let (w, h) = gray.dimensions();
            assert_eq!(flatten_background(gray.as_raw(), w, h), None, "{name}");
            seen += 1;
        }
        assert!(seen >= 300, "{seen} gallery digits");
        assert_eq!(flatten_background(mnist_seven().as_raw(), 28, 28), None);
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
