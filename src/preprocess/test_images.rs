//! Test pictures and image helpers shared by the image preprocessing tests.

use std::io::Cursor;
use std::path::PathBuf;

use image::{DynamicImage, GrayImage, ImageFormat, Luma};

/// Deterministic xorshift noise in -1..1.
pub(crate) struct Noise(pub(crate) u64);
impl Noise {
    pub(crate) fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Distance from (px, py) to the segment (ax, ay)-(bx, by).
pub(crate) fn seg_dist(px: f32, py: f32, a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((px - a.0) * dx + (py - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
    ((px - qx).powi(2) + (py - qy).powi(2)).sqrt()
}

/// Ink coverage (0..1) of a "7" whose stroke centre lines span `rect` (x, y, w, h) with a
/// pen `thick` pixels wide, 4x4 supersampled so small renderings are anti-aliased.
pub(crate) fn seven_coverage(x: u32, y: u32, rect: (f32, f32, f32, f32), thick: f32) -> f32 {
    let at = |u: f32, v: f32| (rect.0 + u * rect.2, rect.1 + v * rect.3);
    let segs = [(at(0.0, 0.0), at(1.0, 0.0)), (at(1.0, 0.0), at(0.35, 1.0))];
    let mut hits = 0;
    for sy in 0..4 {
        for sx in 0..4 {
            let px = x as f32 + (sx as f32 + 0.5) / 4.0;
            let py = y as f32 + (sy as f32 + 0.5) / 4.0;
            let d = segs
                .iter()
                .map(|&(a, b)| seg_dist(px, py, a, b))
                .fold(f32::MAX, f32::min);
            if d <= thick / 2.0 {
                hits += 1;
            }
        }
    }
    hits as f32 / 16.0
}

/// A dark "7" on uneven, noisy white paper, 200x300.
pub(crate) fn paper_seven() -> GrayImage {
    let mut noise = Noise(0x9e3779b97f4a7c15);
    GrayImage::from_fn(200, 300, |x, y| {
        let paper = 205.0 + 25.0 * (x as f32 / 200.0) + 10.0 * (y as f32 / 300.0);
        let ink = 35.0;
        let cov = seven_coverage(x, y, (50.0, 70.0, 90.0, 150.0), 16.0);
        let v = paper * (1.0 - cov) + ink * cov + 8.0 * noise.next();
        Luma([v.clamp(0.0, 255.0).round() as u8])
    })
}

/// The same "7" already white on black in a 28x28 field (MNIST style).
pub(crate) fn mnist_seven() -> GrayImage {
    GrayImage::from_fn(28, 28, |x, y| {
        let cov = seven_coverage(x, y, (8.5, 5.0, 11.0, 17.5), 2.0);
        Luma([(cov * 255.0).round() as u8])
    })
}

pub(crate) fn p(name: &str) -> PathBuf {
    PathBuf::from(name)
}

pub(crate) fn centre_of_mass(img: &GrayImage) -> (f64, f64) {
    let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
    for (px, py, v) in img.enumerate_pixels() {
        let v = f64::from(v[0]);
        m += v;
        x += v * f64::from(px);
        y += v * f64::from(py);
    }
    (x / m, y / m)
}

pub(crate) fn ink_bbox(img: &GrayImage, above: u8) -> (u32, u32) {
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for (x, y, v) in img.enumerate_pixels() {
        if v[0] > above {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    (x1 - x0 + 1, y1 - y0 + 1)
}

pub(crate) use crate::test_support::correlation;

/// Minimal CRC-32 (PNG chunk checksum).
pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) fn png_bytes(img: &DynamicImage) -> Vec<u8> {
    let mut buf = Cursor::new(Vec::new());
    img.write_to(&mut buf, ImageFormat::Png)
        .expect("encode png");
    buf.into_inner()
}

/// A real PNG whose IHDR claims `w` x `h` (CRC fixed up, so only the size is a lie).
pub(crate) fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png_bytes(&DynamicImage::ImageLuma8(GrayImage::new(1, 1)));
    assert_eq!(&bytes[12..16], b"IHDR");
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}
