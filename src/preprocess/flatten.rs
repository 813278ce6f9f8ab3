//! Background flattening for the MNIST recipe ([`crate::preprocess::mnist`]): a phone photo of
//! a digit on paper has uneven light (a gradient across the page, a vignette) and paper of any
//! colour, which a single background level cannot describe; the recipe would take the shaded
//! side of the page for ink. [`flatten_background`] estimates the background as a smooth
//! surface and divides the light out, so the paper becomes one flat level and the ink stands
//! out by its own contrast.
//!
//! The image arrives in the recipe's ink domain (ink bright, background dark: dark ink on
//! light paper already inverted). The background is estimated on a copy shrunk by area
//! averaging to at most [`BACKGROUND_MAX_SIDE_PX`] on its longest side (cheap whatever the
//! photo's size; the averaging also quiets sensor noise) as a robust least-squares quadratic
//! surface in x and y: each round refits on the pixels at most [`INK_RESIDUAL_SIGMAS`] robust
//! standard deviations above the previous surface, so the ink (far above it) drops out. A
//! linear light gradient is a plane; a vignette is close to a quadratic.
//!
//! In the ink domain a page lit by `L(x, y)` reads `v = 255 - L·R` (R the reflectance), and the
//! paper `b = 255 - L·Rp`; `(v - b) / (255 - b)` is `1 - R / Rp`, the ink's contrast against
//! its own paper whatever the light. A background that already is flat (its surface spans at
//! most [`FLAT_BACKGROUND_SPREAD`] grey levels, as MNIST digits and clean scans do) is left
//! exactly as it is, so such inputs go through the recipe unchanged.

use nalgebra::{Matrix6, Vector6};

use crate::preprocess::pixels::area_shrink;

/// Longest side of the shrunk copy the background is estimated on, in pixels.
pub const BACKGROUND_MAX_SIDE_PX: u32 = 64;
/// A background surface whose values span at most this many grey levels over the image is
/// flat: the image is returned unchanged.
pub const FLAT_BACKGROUND_SPREAD: f64 = 6.0;
/// Pixels more than this many robust standard deviations above the surface count as ink and
/// are left out of the next fit.
pub const INK_RESIDUAL_SIGMAS: f64 = 2.5;
/// Rounds of the robust fit (each refits on the pixels near or below the previous surface).
pub const FIT_ROUNDS: usize = 8;
/// The residual cut is never tighter than this many grey levels (a noise-free page would
/// otherwise cut at 0 and refit on ever fewer pixels).
pub const MIN_RESIDUAL_CUT: f64 = 2.0;
/// The flat background's level in the returned image: values a little below the background
/// (sensor noise) keep room under it, so the recipe can still measure the noise.
pub const FLAT_BACKGROUND_LEVEL: f64 = 48.0;
/// Least light left under the background surface (`255 - b`), in grey levels: darker regions
/// would divide noise by almost nothing.
pub const MIN_PAPER_LIGHT: f64 = 16.0;

/// Coefficients of `c0 + c1 u + c2 v + c3 u² + c4 uv + c5 v²`, with `u`, `v` the position
/// scaled to -1..1 across the image.
type Surface = Vector6<f64>;
/// One pixel of the shrunk copy: its centre (`u`, `v`, scaled to -1..1) and its value.
type Sample = (f64, f64, f64);

fn basis(u: f64, v: f64) -> [f64; 6] {
    [1.0, u, v, u * u, u * v, v * v]
}

fn eval(s: &Surface, u: f64, v: f64) -> f64 {
    basis(u, v).iter().zip(s.iter()).map(|(b, c)| b * c).sum()
}

/// Centre of shrunk pixel `i` (covering `i * k .. min((i + 1) * k, full)` of the full image)
/// scaled to -1..1 across the full image's `full` pixels.
fn block_centre(i: u32, k: u32, full: u32) -> f64 {
    let lo = f64::from(i * k);
    let hi = f64::from(((i + 1) * k).min(full));
    (lo + hi) / f64::from(full) - 1.0
}

/// Least-squares surface through `points` (`u`, `v`, value) where `keep` holds.
fn fit(points: &[Sample], keep: &[bool]) -> Option<Surface> {
    let (mut ata, mut atb) = (Matrix6::<f64>::zeros(), Vector6::<f64>::zeros());
    let mut n = 0usize;
    for (&(u, v, y), _) in points.iter().zip(keep).filter(|(_, k)| **k) {
        let b = Vector6::from(basis(u, v));
        ata += b * b.transpose();
        atb += b * y;
        n += 1;
    }
    if n < 6 * 4 {
        return None;
    }
    ata.lu().solve(&atb)
}

/// Lower median of `values` (reordered).
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mid = (values.len() - 1) / 2;
    *values.select_nth_unstable_by(mid, f64::total_cmp).1
}

/// The background surface of an ink-domain image (robust quadratic fit on a shrunk copy), or
/// `None` when it cannot be fitted.
fn background_surface(ink: &[u8], w: u32, h: u32) -> Option<(Surface, Vec<Sample>)> {
    let k = w.max(h).div_ceil(BACKGROUND_MAX_SIDE_PX).max(1);
    let (small, sw, _) = area_shrink(ink, w, h, k, k);
    let small: Vec<f64> = small.into_iter().map(f64::from).collect();
    let points: Vec<Sample> = small
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let (x, yy) = (i as u32 % sw, i as u32 / sw);
            (block_centre(x, k, w), block_centre(yy, k, h), y)
        })
        .collect();
    // Start from the darker half: the ink covers less than half of a page.
    let mut values: Vec<f64> = small.clone();
    let mid = median(&mut values);
    let mut keep: Vec<bool> = small.iter().map(|&y| y <= mid).collect();
    let mut surface = fit(&points, &keep)?;
    for _ in 0..FIT_ROUNDS {
        let residuals: Vec<f64> = points
            .iter()
            .map(|&(u, v, y)| y - eval(&surface, u, v))
            .collect();
        let mut kept: Vec<f64> = residuals
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(r, _)| r.abs())
            .collect();
        let sigma = 1.4826 * median(&mut kept);
        let cut = (INK_RESIDUAL_SIGMAS * sigma).max(MIN_RESIDUAL_CUT);
        let next: Vec<bool> = residuals.iter().map(|&r| r <= cut).collect();
        let Some(refit) = fit(&points, &next) else {
            break;
        };
        let settled = next == keep;
        (surface, keep) = (refit, next);
        if settled {
            break;
        }
    }
    Some((surface, points))
}

/// Divides uneven light out of an ink-domain image (`w` x `h` bytes, ink bright on a darker
/// background): returns the image with its background at [`FLAT_BACKGROUND_LEVEL`] everywhere
/// and the ink's contrast against its local background stretched over the rest of the range,
/// or `None` (use the image as it is) when the background is already flat within
/// [`FLAT_BACKGROUND_SPREAD`] or no surface could be fitted.
pub fn flatten_background(ink: &[u8], w: u32, h: u32) -> Option<Vec<u8>> {
    if w == 0 || h == 0 || ink.len() != w as usize * h as usize {
        return None;
    }
    let (surface, points) = background_surface(ink, w, h)?;
    let (lo, hi) = points
        .iter()
        .map(|&(u, v, _)| eval(&surface, u, v))
        .fold((f64::MAX, f64::MIN), |(lo, hi), b| (lo.min(b), hi.max(b)));
    if hi - lo <= FLAT_BACKGROUND_SPREAD {
        return None;
    }
    let span = 255.0 - FLAT_BACKGROUND_LEVEL;
    let c = surface;
    let du = 2.0 / f64::from(w);
    let mut out = Vec::with_capacity(ink.len());
    for (y, row) in ink.chunks_exact(w as usize).enumerate() {
        let v = (y as f64 + 0.5) / f64::from(h) * 2.0 - 1.0;
        // Along the row the surface is a quadratic in u: c_row0 + c_row1 u + c3 u².
        let (row0, row1) = (c[0] + c[2] * v + c[5] * v * v, c[1] + c[4] * v);
        let mut u = du / 2.0 - 1.0;
        for &value in row {
            let b = (row0 + u * (row1 + u * c[3])).clamp(0.0, 255.0 - MIN_PAPER_LIGHT);
            let flat = FLAT_BACKGROUND_LEVEL + span * (f64::from(value) - b) / (255.0 - b);
            // Rounds half up, as `round` does for values >= 0, without a libm call per pixel.
            out.push((flat.clamp(0.0, 255.0) + 0.5) as u8);
            u += du;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::test_images::*;

    /// An ink-domain page: background `bg(x, y)`, a bar of ink of contrast `ink` (as a share of
    /// the light left above the background) and optional noise.
    fn page(
        w: u32,
        h: u32,
        bg: impl Fn(u32, u32) -> f32,
        ink: f32,
        noise_sd: f32,
    ) -> (Vec<u8>, Vec<bool>) {
        let mut noise = Noise(0x5eed);
        let mut values = Vec::new();
        let mut is_ink = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let on = (w * 2 / 5..w * 3 / 5).contains(&x) && (h / 5..h * 4 / 5).contains(&y);
                let b = bg(x, y);
                let v = if on { b + ink * (255.0 - b) } else { b };
                values.push((v + noise_sd * noise.next()).round().clamp(0.0, 255.0) as u8);
                is_ink.push(on);
            }
        }
        (values, is_ink)
    }

    #[test]
    fn a_light_gradient_becomes_flat_paper_with_even_ink() {
        // Paper 215 lit from 1 (top left) to 0.4 (bottom right): in the ink domain the
        // background climbs from 40 to 169.
        let (w, h) = (300u32, 200u32);
        let bg = |x: u32, y: u32| {
            let t = (x as f32 / (w - 1) as f32 + y as f32 / (h - 1) as f32) / 2.0;
            255.0 - 215.0 * (1.0 - 0.6 * t)
        };
        let (img, is_ink) = page(w, h, bg, 0.8, 0.0);
        let flat = flatten_background(&img, w, h).expect("an uneven background is flattened");
        let (mut paper, mut ink) = (Vec::new(), Vec::new());
        for (i, &v) in flat.iter().enumerate() {
            if is_ink[i] { &mut ink } else { &mut paper }.push(f64::from(v));
        }
        let range = |v: &[f64]| {
            v.iter().cloned().fold(f64::MAX, f64::min)..=v.iter().cloned().fold(f64::MIN, f64::max)
        };
        let (p, k) = (range(&paper), range(&ink));
        assert!(
            *p.start() >= FLAT_BACKGROUND_LEVEL - 3.0 && *p.end() <= FLAT_BACKGROUND_LEVEL + 3.0,
            "paper {p:?}"
        );
        // The ink's contrast is the same in the bright and the dim part of the page.
        let want = FLAT_BACKGROUND_LEVEL + 0.8 * (255.0 - FLAT_BACKGROUND_LEVEL);
        assert!(
            (*k.start() - want).abs() <= 3.0 && (*k.end() - want).abs() <= 3.0,
            "ink {k:?}, want {want}"
        );
    }

    #[test]
    fn a_vignette_with_noise_becomes_flat() {
        let (w, h) = (400u32, 300u32);
        let bg = |x: u32, y: u32| {
            let (dx, dy) = (x as f32 / w as f32 - 0.5, y as f32 / h as f32 - 0.5);
            255.0 - 220.0 * (1.0 - 0.3 * (dx * dx + dy * dy) / 0.5)
        };
        let (img, is_ink) = page(w, h, bg, 0.7, 8.0);
        let flat = flatten_background(&img, w, h).expect("flattened");
        // Mean paper level in each quarter of the page: all within a few levels.
        let mut sums = [(0.0f64, 0usize); 4];
        for (i, &v) in flat.iter().enumerate() {
            if !is_ink[i] {
                let (x, y) = (i as u32 % w, i as u32 / w);
                let q = usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2);
                sums[q].0 += f64::from(v);
                sums[q].1 += 1;
            }
        }
        for (s, n) in sums {
            let mean = s / n as f64;
            assert!(
                (mean - FLAT_BACKGROUND_LEVEL).abs() < 3.0,
                "quarter mean {mean}"
            );
        }
    }

    #[test]
    fn flat_backgrounds_are_left_alone() {
        // An MNIST digit (exactly black background), a clean scan's ink domain, and flat paper
        // with sensor noise: nothing to flatten.
        let seven = mnist_seven();
        assert_eq!(flatten_background(seven.as_raw(), 28, 28), None);
        let inverted: Vec<u8> = paper_seven().as_raw().iter().map(|v| 255 - v).collect();
        let (img, _) = page(200, 300, |_, _| 30.0, 0.8, 8.0);
        assert_eq!(flatten_background(&img, 200, 300), None);
        // paper_seven's paper does vary (205..240 across the page): it is flattened.
        assert!(flatten_background(&inverted, 200, 300).is_some());
        // Degenerate sizes.
        assert_eq!(flatten_background(&[], 0, 0), None);
        assert_eq!(flatten_background(&[1, 2, 3], 2, 2), None);
    }
}
