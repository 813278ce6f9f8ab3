//! Image preprocessing: decode any supported format (detected from the content, never the
//! extension), flatten transparency onto white paper, and turn the picture into what the image
//! encoder reads.
//!
//! Two recipes:
//! - [`ImageRecipe::Mnist`]: the MNIST recipe, so a photo or scan of dark ink on paper looks like
//!   an MNIST digit: white ink (255) on black (0), the ink's bounding box scaled to a 20 px box,
//!   pasted into a 28x28 field with its centre of mass at the centre.
//! - [`ImageRecipe::Fit`]: an aspect-preserving resize into the model's input size, letterboxed
//!   with the normalisation mean colour (which is 0 after normalisation).
//!
//! Decoding is guarded against decompression bombs: the pixel count is read from the header and
//! checked against [`MAX_IMAGE_PIXELS`] before anything large is allocated, and the decoder runs
//! under `image::Limits` sized for that header. The EXIF Orientation tag (JPEG, TIFF, WebP, PNG
//! eXIf) is applied after decoding, so a phone photo is read upright.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::Path;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, GrayImage, ImageBuffer, ImageDecoder, ImageError, ImageFormat, ImageReader,
    Limits, Luma, RgbImage,
};

use crate::error::{Error, Result};

/// Largest image (width x height, from the file header) that is decoded at all.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// Decoder allocation budget per pixel (RGBA with 32-bit float channels is the widest layout).
const DECODE_BYTES_PER_PIXEL: u64 = 16;
/// Extra decoder allocation budget on top of the output buffer (tables, row buffers).
const DECODE_SLACK_BYTES: u64 = 64 << 20;
/// How many leading bytes are inspected to explain an unknown format.
const SNIFF_BYTES: usize = 64;

/// Ink must rise at least this many grey levels above the background or the image is blank.
const MIN_INK_CONTRAST: f32 = 24.0;
/// Ink threshold: background + this fraction of (peak - background).
const INK_THRESHOLD_FRACTION: f32 = 0.25;
/// The stroke core (this percentile of the ink pixels) is stretched to full white.
const INK_CORE_PERCENTILE: f64 = 0.90;
/// Width of the border frame whose median is the background level.
const BORDER_FRAME: u32 = 2;
/// MNIST field and digit box sizes.
const MNIST_FIELD: u32 = 28;
const MNIST_BOX: u32 = 20;
/// Area-average down to at most this many times the target size before the Lanczos filter.
const PRESHRINK_FACTOR: u32 = 4;
/// Largest model input side a config may ask for.
const MAX_CONFIG_SIDE: u32 = 4096;
/// Larger images (longest side) are flattened and shrunk to this size (area averaging) before
/// analysis: a 20 px digit box needs far less detail, and every later pass gets cheaper.
const ANALYSIS_MAX_SIDE: u32 = 1024;

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
            width: MNIST_FIELD,
            height: MNIST_FIELD,
            channels: 1,
            recipe: ImageRecipe::Mnist,
            mean: vec![0.1307],
            std: vec![0.3081],
        }
    }
}

impl ImageConfig {
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

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/// Read and decode an image file. The format is detected from the content, not the extension.
/// Streams from the file, so nothing large is read before the header has been checked.
pub fn load_image(path: &Path) -> Result<DynamicImage> {
    load_image_with_limit(path, MAX_IMAGE_PIXELS)
}

/// Decode an image held in memory; `path` only names the input in errors.
pub fn decode_image_bytes(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    decode_image_bytes_with_limit(bytes, path, MAX_IMAGE_PIXELS)
}

fn load_image_with_limit(path: &Path, limit: u64) -> Result<DynamicImage> {
    let open = || -> Result<BufReader<File>> {
        File::open(path)
            .map(BufReader::new)
            .map_err(|e| Error::io(path, e))
    };
    decode_with(open, path, limit)
}

fn decode_image_bytes_with_limit(bytes: &[u8], path: &Path, limit: u64) -> Result<DynamicImage> {
    decode_with(|| Ok(Cursor::new(bytes)), path, limit)
}

fn decode_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::ImageDecode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Detect the format, check the header size against `limit`, then decode under tight limits.
/// `open` gives a fresh reader positioned at the start each time it is called.
fn decode_with<R, F>(open: F, path: &Path, limit: u64) -> Result<DynamicImage>
where
    R: BufRead + Seek,
    F: Fn() -> Result<R>,
{
    let guessed = ImageReader::new(open()?)
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let Some(format) = guessed.format() else {
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        open()?
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        return Err(decode_error(path, unknown_format_reason(&head)));
    };
    drop(guessed);
    let name = format_name(format);
    if !format.reading_enabled() {
        return Err(decode_error(
            path,
            format!("{name} images are not supported by this build"),
        ));
    }

    // 1. Header only: the decoders read the dimensions without allocating the pixel buffer.
    let header = ImageReader::with_format(open()?, format);
    let (width, height) = header
        .into_dimensions()
        .map_err(|e| decode_error(path, describe_image_error(&e, &name)))?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limit {
        return Err(Error::ImageTooLarge {
            path: path.to_path_buf(),
            width,
            height,
            pixels,
            limit,
        });
    }
    if pixels == 0 {
        return Err(decode_error(
            path,
            format!("the {name} header declares a {width}x{height} image (no pixels)"),
        ));
    }

    // 2. Full decode under limits sized for that header.
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(
        pixels
            .saturating_mul(DECODE_BYTES_PER_PIXEL)
            .saturating_add(DECODE_SLACK_BYTES),
    );
    let mut reader = ImageReader::with_format(open()?, format);
    reader.limits(limits.clone());
    let fail = |e: ImageError| decode_error(path, describe_image_error(&e, &name));
    let mut decoder = reader.into_decoder().map_err(fail)?;
    // 3. EXIF orientation (phone photos store the sensor's pixels plus a tag saying how to
    //    turn them upright). A broken metadata block is no reason to reject the pixels.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // As `ImageReader::decode` does: the pixel buffer counts against the allocation limit.
    limits.reserve(decoder.total_bytes()).map_err(fail)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_uppercase()
}

/// A specific reason for a decoder failure, saying when the data ends early.
fn describe_image_error(e: &ImageError, name: &str) -> String {
    match e {
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("truncated {name} data: the file ends before the image does")
        }
        ImageError::IoError(io) => format!("read error in {name} data: {io}"),
        ImageError::Decoding(d) => {
            let text = d.to_string().trim().to_string();
            let lower = text.to_lowercase();
            if [
                "eof",
                "end of file",
                "truncat",
                "unexpected end",
                "no more data",
                "not enough",
                "enough data",
            ]
            .iter()
            .any(|k| lower.contains(k))
            {
                format!("truncated {name} data: {text}")
            } else {
                format!("corrupt {name} data: {text}")
            }
        }
        ImageError::Limits(l) => {
            format!("decoding this {name} would need more memory than allowed: {l}")
        }
        ImageError::Unsupported(u) => format!("unsupported {name} variant: {u}"),
        other => format!("{name}: {other}"),
    }
}

/// Explain why the leading bytes are not an image we know.
fn unknown_format_reason(head: &[u8]) -> String {
    if head.is_empty() {
        return "the file is empty".to_string();
    }
    let known: &[(&[u8], usize, &str)] = &[
        (b"WAVE", 8, "a WAV audio file"),
        (b"ID3", 0, "an MP3 audio file"),
        (b"OggS", 0, "an Ogg audio file"),
        (b"fLaC", 0, "a FLAC audio file"),
        (b"%PDF", 0, "a PDF document"),
        (b"PK\x03\x04", 0, "a ZIP archive"),
        (b"\x1f\x8b", 0, "a gzip archive"),
        (b"ftyp", 4, "an MP4/HEIC/AVIF container"),
    ];
    for (magic, at, what) in known {
        if head.get(*at..at + magic.len()) == Some(*magic) {
            return format!("unknown format: this looks like {what}, not an image");
        }
    }
    let is_text = match std::str::from_utf8(head) {
        Ok(s) => s.chars().all(|c| !c.is_control() || c.is_whitespace()),
        // Cut in the middle of a multi-byte character by the sniff window: still text.
        Err(e) => e.error_len().is_none() && e.valid_up_to() > 0,
    };
    if is_text {
        return "unknown format: the file looks like text, not an image".to_string();
    }
    let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!(
        "unknown format: unrecognised file signature {}",
        hex.join(" ")
    )
}

// ---------------------------------------------------------------------------------------------
// Colour handling
// ---------------------------------------------------------------------------------------------

/// ITU-R BT.601 luma, exactly as PIL's `convert("L")` computes it.
fn luma601(r: u8, g: u8, b: u8) -> u8 {
    let y = u32::from(r) * 19595 + u32::from(g) * 38470 + u32::from(b) * 7471 + 0x8000;
    (y >> 16).min(255) as u8
}

/// The image as interleaved RGB bytes with any transparency composited onto white paper.
///
/// Exception: when white paper would erase everything (light strokes drawn on a transparent
/// canvas) but the alpha channel itself holds the drawing, it is composited onto black instead.
fn flatten_to_rgb(img: &DynamicImage) -> Vec<u8> {
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

fn byte_range(values: impl Iterator<Item = u8>) -> (u8, u8) {
    values.fold((u8::MAX, u8::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// `img` itself when its longest side is at most `max_side`; otherwise the image with
/// transparency flattened (see [`flatten_to_rgb`]) and shrunk so its longest side is `max_side`.
fn shrink_for_analysis(img: &DynamicImage, max_side: u32) -> Cow<'_, DynamicImage> {
    let (w, h) = (img.width(), img.height());
    let long = w.max(h);
    if long <= max_side || long == 0 {
        return Cow::Borrowed(img);
    }
    let scale = f64::from(max_side) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_side);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_side);
    if img.color().has_alpha() {
        match RgbImage::from_raw(w, h, flatten_to_rgb(img)) {
            Some(rgb) => {
                Cow::Owned(DynamicImage::ImageRgb8(rgb).resize_exact(nw, nh, FilterType::Triangle))
            }
            None => Cow::Borrowed(img),
        }
    } else {
        Cow::Owned(img.thumbnail_exact(nw, nh))
    }
}

/// The image as 8-bit grayscale (BT.601), transparency flattened onto white.
fn to_gray(img: &DynamicImage) -> GrayImage {
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
        return Err(Error::InvalidRequest(format!(
            "gray image from floats: size must be non-zero, got {width}x{height}"
        )));
    }
    let expected = u64::from(width) * u64::from(height);
    if values.len() as u64 != expected {
        return Err(Error::InvalidRequest(format!(
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

// ---------------------------------------------------------------------------------------------
// Resampling
// ---------------------------------------------------------------------------------------------

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

fn unit_to_byte(v: f32) -> u8 {
    if v.is_nan() {
        0
    } else {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

// ---------------------------------------------------------------------------------------------
// MNIST recipe
// ---------------------------------------------------------------------------------------------

/// The MNIST recipe: 28x28, white ink (255) on black (0).
///
/// Polarity comes from the border (median of the outermost 2-pixel frame; a background lighter
/// than the ink is inverted), so dark ink on paper works as well as white on black. The
/// background level (and its noise) becomes 0 and the stroke core 255; the image is cropped to
/// the ink (pixels above background + 25% of the ink contrast, isolated specks ignored), the
/// ink's longest side scaled to 20 px (area + Lanczos3), and pasted into the 28x28 field so the
/// centre of mass lands at (14, 14). No ink at all gives [`Error::ImageBlank`].
pub fn mnist_recipe(gray: &GrayImage, path: &Path) -> Result<GrayImage> {
    mnist_into(gray, MNIST_FIELD, MNIST_FIELD, path)
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
fn mnist_into(gray: &GrayImage, out_w: u32, out_h: u32, path: &Path) -> Result<GrayImage> {
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
    let box_side = ((f64::from(out_w.min(out_h)) * f64::from(MNIST_BOX) / f64::from(MNIST_FIELD))
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

// ---------------------------------------------------------------------------------------------
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
    let img = load_image(path)?;
    prepare_image(&img, cfg, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};
    use proptest::prelude::*;
    use std::path::PathBuf;

    /// Deterministic xorshift noise in -1..1.
    struct Noise(u64);
    impl Noise {
        fn next(&mut self) -> f32 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    /// Distance from (px, py) to the segment (ax, ay)-(bx, by).
    fn seg_dist(px: f32, py: f32, a: (f32, f32), b: (f32, f32)) -> f32 {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let t = (((px - a.0) * dx + (py - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
        let (qx, qy) = (a.0 + t * dx, a.1 + t * dy);
        ((px - qx).powi(2) + (py - qy).powi(2)).sqrt()
    }

    /// Ink coverage (0..1) of a "7" whose stroke centre lines span `rect` (x, y, w, h) with a
    /// pen `thick` pixels wide, 4x4 supersampled so small renderings are anti-aliased.
    fn seven_coverage(x: u32, y: u32, rect: (f32, f32, f32, f32), thick: f32) -> f32 {
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
    fn paper_seven() -> GrayImage {
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
    fn mnist_seven() -> GrayImage {
        GrayImage::from_fn(28, 28, |x, y| {
            let cov = seven_coverage(x, y, (8.5, 5.0, 11.0, 17.5), 2.0);
            Luma([(cov * 255.0).round() as u8])
        })
    }

    fn p(name: &str) -> PathBuf {
        PathBuf::from(name)
    }

    fn centre_of_mass(img: &GrayImage) -> (f64, f64) {
        let (mut m, mut x, mut y) = (0.0, 0.0, 0.0);
        for (px, py, v) in img.enumerate_pixels() {
            let v = f64::from(v[0]);
            m += v;
            x += v * f64::from(px);
            y += v * f64::from(py);
        }
        (x / m, y / m)
    }

    fn ink_bbox(img: &GrayImage, above: u8) -> (u32, u32) {
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

    fn correlation(a: &[u8], b: &[u8]) -> f64 {
        let n = a.len() as f64;
        let ma = a.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let mb = b.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
        for (&x, &y) in a.iter().zip(b) {
            let (dx, dy) = (f64::from(x) - ma, f64::from(y) - mb);
            sab += dx * dy;
            saa += dx * dx;
            sbb += dy * dy;
        }
        sab / (saa * sbb).sqrt()
    }

    /// Minimal CRC-32 (PNG chunk checksum).
    fn crc32(data: &[u8]) -> u32 {
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

    fn png_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut buf = Cursor::new(Vec::new());
        img.write_to(&mut buf, ImageFormat::Png)
            .expect("encode png");
        buf.into_inner()
    }

    /// A real PNG whose IHDR claims `w` x `h` (CRC fixed up, so only the size is a lie).
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut bytes = png_bytes(&DynamicImage::ImageLuma8(GrayImage::new(1, 1)));
        assert_eq!(&bytes[12..16], b"IHDR");
        bytes[16..20].copy_from_slice(&w.to_be_bytes());
        bytes[20..24].copy_from_slice(&h.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        bytes
    }

    fn wav_header() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"RIFF");
        b.extend_from_slice(&36u32.to_le_bytes());
        b.extend_from_slice(b"WAVEfmt ");
        b.extend_from_slice(&16u32.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&16000u32.to_le_bytes());
        b.extend_from_slice(&32000u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&16u16.to_le_bytes());
        b.extend_from_slice(b"data");
        b.extend_from_slice(&0u32.to_le_bytes());
        b
    }

    fn decode_reason(err: Error, expected_path: &Path) -> String {
        match err {
            Error::ImageDecode { path, reason } => {
                assert_eq!(path, expected_path);
                reason
            }
            other => panic!("expected ImageDecode, got {other:?}"),
        }
    }

    #[test]
    fn decodes_real_files_by_content_not_extension() {
        let dir = tempfile::tempdir().expect("tempdir");
        let gray = GrayImage::from_fn(40, 30, |x, _| Luma([(x * 6) as u8]));
        let rgb = RgbImage::from_fn(40, 30, |x, y| Rgb([(x * 6) as u8, (y * 8) as u8, 77]));
        let rgba = RgbaImage::from_fn(40, 30, |x, _| Rgba([10, 20, 30, (x * 6) as u8]));
        let cases: Vec<(&str, ImageFormat, DynamicImage)> = vec![
            (
                "gray",
                ImageFormat::Png,
                DynamicImage::ImageLuma8(gray.clone()),
            ),
            (
                "rgb",
                ImageFormat::Png,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
            ("rgba", ImageFormat::Png, DynamicImage::ImageRgba8(rgba)),
            (
                "jpeg",
                ImageFormat::Jpeg,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
            (
                "bmp",
                ImageFormat::Bmp,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
            (
                "gif",
                ImageFormat::Gif,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
            (
                "tiff",
                ImageFormat::Tiff,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
            (
                "pnm",
                ImageFormat::Pnm,
                DynamicImage::ImageLuma8(gray.clone()),
            ),
            (
                "webp",
                ImageFormat::WebP,
                DynamicImage::ImageRgb8(rgb.clone()),
            ),
        ];
        for (name, format, img) in cases {
            // A misleading extension: detection must go by content.
            let path = dir.path().join(format!("{name}.dat"));
            img.save_with_format(&path, format)
                .unwrap_or_else(|e| panic!("{name}: save: {e}"));
            let back = load_image(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((back.width(), back.height()), (40, 30), "{name}");
            let (a, b) = (img.to_rgb8(), back.to_rgb8());
            // JPEG is lossy; GIF quantises to a 256-colour palette.
            let tol = match format {
                ImageFormat::Jpeg => 24,
                ImageFormat::Gif => 48,
                _ => 0,
            };
            let worst = a
                .as_raw()
                .iter()
                .zip(b.as_raw())
                .map(|(&x, &y)| x.abs_diff(y))
                .max()
                .unwrap_or(0);
            assert!(worst <= tol, "{name}: max pixel difference {worst}");
            // The same bytes through decode_image_bytes.
            let bytes = std::fs::read(&path).expect("read back");
            let mem = decode_image_bytes(&bytes, &path).expect("decode bytes");
            assert_eq!(mem.to_rgb8(), back.to_rgb8(), "{name}");
        }
    }

    #[test]
    fn exif_orientation_turns_a_phone_photo_upright() {
        // tests/fixtures/images/make_exif_fixture.sh: upright 8x16 with a black 4x4 mark at the
        // top left, stored 16x8 (turned 90 degrees counter-clockwise) with EXIF Orientation 6.
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/images/exif_orientation_6.jpg");
        let mean = |g: &GrayImage, x0: u32, y0: u32| -> f64 {
            let mut sum = 0.0;
            for y in y0..y0 + 4 {
                for x in x0..x0 + 4 {
                    sum += f64::from(g.get_pixel(x, y)[0]);
                }
            }
            sum / 16.0
        };
        let from_file = load_image(&path).expect("decode fixture");
        let bytes = std::fs::read(&path).expect("read fixture");
        let from_bytes = decode_image_bytes(&bytes, &path).expect("decode bytes");
        for img in [&from_file, &from_bytes] {
            assert_eq!((img.width(), img.height()), (8, 16), "upright dimensions");
            let g = img.to_luma8();
            assert!(mean(&g, 0, 0) < 60.0, "mark top-left: {}", mean(&g, 0, 0));
            for (x, y) in [(4, 0), (0, 12), (4, 12)] {
                assert!(
                    mean(&g, x, y) > 200.0,
                    "paper at ({x},{y}): {}",
                    mean(&g, x, y)
                );
            }
        }
        // The same JPEG without its APP1 (EXIF) segment is read as stored: 16x8, mark at the
        // bottom left.
        assert_eq!(&bytes[2..4], &[0xFF, 0xE1], "APP1 right after SOI");
        let app1_len = usize::from(u16::from_be_bytes([bytes[4], bytes[5]]));
        let mut stripped = bytes[..2].to_vec();
        stripped.extend_from_slice(&bytes[4 + app1_len..]);
        let stored = decode_image_bytes(&stripped, &path).expect("decode stripped");
        assert_eq!((stored.width(), stored.height()), (16, 8));
        let g = stored.to_luma8();
        assert!(mean(&g, 0, 4) < 60.0, "stored mark bottom-left");
        assert!(mean(&g, 0, 0) > 200.0 && mean(&g, 12, 4) > 200.0);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let path = p("/nonexistent/dir/digit.png");
        match load_image(&path) {
            Err(Error::Io { path: got, .. }) => assert_eq!(got, path),
            other => panic!("expected Io, got {other:?}"),
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

    #[test]
    fn not_an_image_is_rejected_with_a_specific_reason() {
        let path = p("notes/readme.png");
        let reason = decode_reason(
            decode_image_bytes(b"hello, this is just some text\n", &path).unwrap_err(),
            &path,
        );
        assert!(reason.contains("text"), "{reason}");

        let wav = p("clip.wav");
        let reason = decode_reason(decode_image_bytes(&wav_header(), &wav).unwrap_err(), &wav);
        assert!(reason.contains("WAV"), "{reason}");

        let reason = decode_reason(decode_image_bytes(&[], &path).unwrap_err(), &path);
        assert!(reason.contains("empty"), "{reason}");

        let bin = [0x00u8, 0x13, 0x37, 0xfe, 0x01, 0x02, 0x03, 0x04, 0x05];
        let reason = decode_reason(decode_image_bytes(&bin, &path).unwrap_err(), &path);
        assert!(reason.contains("00 13 37 fe"), "{reason}");

        // The same through a real file with an image extension.
        let dir = tempfile::tempdir().expect("tempdir");
        let fake = dir.path().join("fake.png");
        std::fs::write(&fake, wav_header()).expect("write");
        let err = load_image(&fake).unwrap_err();
        assert!(err.to_string().contains("fake.png"), "{err}");
        assert!(err.is_bad_input());
    }

    #[test]
    fn truncated_png_is_rejected() {
        let mut noise = Noise(42);
        let img = RgbImage::from_fn(64, 64, |_, _| {
            Rgb([
                (noise.next() * 127.0 + 128.0) as u8,
                (noise.next() * 127.0 + 128.0) as u8,
                (noise.next() * 127.0 + 128.0) as u8,
            ])
        });
        let bytes = png_bytes(&DynamicImage::ImageRgb8(img));
        let path = p("cut.png");
        for cut in [bytes.len() / 2, 40, 20] {
            let err = decode_image_bytes(&bytes[..cut], &path).unwrap_err();
            let reason = decode_reason(err, &path);
            assert!(reason.contains("PNG"), "cut at {cut}: {reason}");
            assert!(
                reason.contains("truncated") || reason.contains("corrupt"),
                "cut at {cut}: {reason}"
            );
        }
        let err = decode_image_bytes(&bytes[..bytes.len() / 2], &path).unwrap_err();
        assert!(decode_reason(err, &path).contains("truncated"));
    }

    #[test]
    fn huge_header_is_rejected_before_decoding() {
        let path = p("bomb.png");
        let bytes = png_claiming(100_000, 100_000);
        match decode_image_bytes(&bytes, &path) {
            Err(Error::ImageTooLarge {
                path: got,
                width,
                height,
                pixels,
                limit,
            }) => {
                assert_eq!(got, path);
                assert_eq!((width, height), (100_000, 100_000));
                assert_eq!(pixels, 10_000_000_000);
                assert_eq!(limit, MAX_IMAGE_PIXELS);
            }
            other => panic!("expected ImageTooLarge, got {other:?}"),
        }
        // Just above the limit through a file.
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("big.png");
        std::fs::write(&file, png_claiming(8000, 5001)).expect("write");
        assert!(matches!(
            load_image(&file),
            Err(Error::ImageTooLarge { .. })
        ));
        // A real (small) image over a lowered limit.
        let real = png_bytes(&DynamicImage::ImageLuma8(GrayImage::new(64, 64)));
        assert!(matches!(
            decode_image_bytes_with_limit(&real, &path, 1000),
            Err(Error::ImageTooLarge { pixels: 4096, .. })
        ));
        assert!(decode_image_bytes_with_limit(&real, &path, 4096).is_ok());
        // A header within the limit but with no pixel data behind it: a decode error.
        let err = decode_image_bytes(&png_claiming(6000, 6000), &path).unwrap_err();
        assert!(matches!(err, Error::ImageDecode { .. }), "{err:?}");
    }

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
    fn gray_from_unit_floats_validates_and_clamps() {
        let img = gray_from_unit_floats(&[0.0, 0.5, 1.0, 2.0, -1.0, f32::NAN], 3, 2).expect("ok");
        assert_eq!(img.as_raw(), &vec![0, 128, 255, 255, 0, 0]);
        assert!(matches!(
            gray_from_unit_floats(&[0.0; 5], 3, 2),
            Err(Error::InvalidRequest(_))
        ));
        assert!(matches!(
            gray_from_unit_floats(&[], 0, 0),
            Err(Error::InvalidRequest(_))
        ));
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

        #[test]
        fn decode_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_image_bytes(&bytes, Path::new("garbage"));
        }

        #[test]
        fn decode_never_panics_on_corrupted_png(pos in 0usize..200, val in any::<u8>()) {
            let mut bytes = png_bytes(&DynamicImage::ImageLuma8(mnist_seven()));
            let i = pos % bytes.len();
            bytes[i] = val;
            let _ = decode_image_bytes(&bytes, Path::new("corrupt.png"));
        }
    }
}
