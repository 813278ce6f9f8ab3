//! Image decoding: any supported format (detected from the content, never the extension),
//! guarded against decompression bombs, turned upright by its EXIF Orientation tag.
//!
//! The pixel count is read from the header and checked against [`MAX_IMAGE_PIXELS`] before
//! anything large is allocated, and the decoder runs under `image::Limits` sized for that
//! header. The EXIF Orientation tag (JPEG, TIFF, WebP, PNG eXIf) is applied after decoding, so
//! a phone photo is read upright. [`load_image_gray`] decodes only the luma plane of a colour
//! JPEG, for recipes that read gray anyway, and at a reduced scale in the DCT domain
//! (libjpeg's scaled IDCT, through the `mozjpeg` crate) when the recipe needs fewer pixels
//! than the photo has: a 12-megapixel phone photo is decoded at 500×375.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

use crate::error::{Error, Result};

/// Largest image (width x height, from the file header) that is decoded at all.
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;

/// Decoder allocation budget per pixel (RGBA with 32-bit float channels is the widest layout).
const DECODE_BYTES_PER_PIXEL: u64 = 16;
/// Extra decoder allocation budget on top of the output buffer (tables, row buffers).
const DECODE_SLACK_BYTES: u64 = 64 << 20;
/// How many leading bytes are inspected to explain an unknown format.
const SNIFF_BYTES: usize = 64;

pub fn load_image(path: &Path) -> Result<DynamicImage> {
    load_image_with_limit(path, MAX_IMAGE_PIXELS)
}

/// Loads an image for a gray recipe that needs a long side of at least `min_long_side_px`: a
/// JPEG in YCbCr or gray as its luma plane only (8-bit gray, [`DynamicImage::ImageLuma8`]),
/// decoded at a reduced scale when it is at least twice that size ([`jpeg_scale_eighths`]);
/// any other image (a CMYK JPEG too) as [`load_image`] does, at full size. Returns the decoded
/// image and the full-size image's width and height (upright, before any reduction), in
/// pixels.
pub fn load_image_gray(path: &Path, min_long_side_px: u32) -> Result<(DynamicImage, (u32, u32))> {
    let open = || open_file(path);
    decode_with(
        open,
        path,
        MAX_IMAGE_PIXELS,
        Pixels::Gray { min_long_side_px },
    )
}

/// Which pixels a caller needs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pixels {
    /// The image's own colour type.
    AsStored,
    /// Gray is enough, at a long side of at least this many pixels (only JPEG can decode less
    /// for it).
    Gray { min_long_side_px: u32 },
}

/// Decode an image held in memory; `path` only names the input in errors.
pub fn decode_image_bytes(bytes: &[u8], path: &Path) -> Result<DynamicImage> {
    decode_image_bytes_with_limit(bytes, path, MAX_IMAGE_PIXELS)
}

fn open_file(path: &Path) -> Result<BufReader<File>> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| Error::io(path, e))
}

fn load_image_with_limit(path: &Path, limit: u64) -> Result<DynamicImage> {
    decode_with(|| open_file(path), path, limit, Pixels::AsStored).map(|(img, _)| img)
}

fn decode_image_bytes_with_limit(bytes: &[u8], path: &Path, limit: u64) -> Result<DynamicImage> {
    decode_with(|| Ok(Cursor::new(bytes)), path, limit, Pixels::AsStored).map(|(img, _)| img)
}

fn decode_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::ImageDecode {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Detect the format, check the header size against `limit`, then decode under tight limits.
/// `open` gives a fresh reader positioned at the start each time it is called. Returns the
/// image and its full-size width and height, upright.
fn decode_with<R, F>(
    open: F,
    path: &Path,
    limit: u64,
    wanted: Pixels,
) -> Result<(DynamicImage, (u32, u32))>
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

    // 2. A gray caller's YCbCr or gray JPEG: its luma plane alone, from one read of the file.
    let fail = |e: ImageError| decode_error(path, describe_image_error(&e, &name));
    if let Pixels::Gray { min_long_side_px } = wanted
        && format == ImageFormat::Jpeg
    {
        let mut bytes = Vec::new();
        open()?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        if let Some((img, orientation)) =
            jpeg_luma(&bytes, width, height, min_long_side_px).map_err(fail)?
        {
            return Ok((img, upright_size((width, height), orientation)));
        }
    }

    // 3. Full decode under limits sized for that header.
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
    let mut decoder = reader.into_decoder().map_err(fail)?;
    // 4. EXIF orientation (phone photos store the sensor's pixels plus a tag saying how to
    //    turn them upright). A broken metadata block is no reason to reject the pixels.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // As `ImageReader::decode` does: the pixel buffer counts against the allocation limit.
    limits.reserve(decoder.total_bytes()).map_err(fail)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(fail)?;
    img.apply_orientation(orientation);
    Ok((img, upright_size((width, height), orientation)))
}

/// Width and height of a stored `(width, height)` image once `orientation` is applied.
fn upright_size((width, height): (u32, u32), orientation: Orientation) -> (u32, u32) {
    match orientation {
        Orientation::Rotate90
        | Orientation::Rotate270
        | Orientation::Rotate90FlipH
        | Orientation::Rotate270FlipH => (height, width),
        _ => (width, height),
    }
}

/// The JPEG scale `n/8` (libjpeg's scaled IDCT) for a stored image whose long side is
/// `long_side_px`: the smallest `n` in `1..=8` whose long side is still at least
/// `min_long_side_px` (8, no reduction, for an image no larger than that).
pub fn jpeg_scale_eighths(long_side_px: u32, min_long_side_px: u32) -> u8 {
    (1..=8u8)
        .find(|&n| {
            (u64::from(long_side_px) * u64::from(n)).div_ceil(8) >= u64::from(min_long_side_px)
        })
        .unwrap_or(8)
}

/// A YCbCr or gray JPEG's luma plane as 8-bit gray, decoded at the scale
/// [`jpeg_scale_eighths`] picks for `min_long_side_px` and turned upright by its EXIF
/// orientation. libjpeg's scaled IDCT reduces each 8×8 block in the DCT domain (an area
/// average, no aliasing) and its gray output takes the luma plane alone, so a 12-megapixel
/// photo never exists at full size. `width` x `height` is the checked header. Returns the
/// image and the orientation applied to it; `None` for the colour spaces that have no luma
/// plane (CMYK, YCCK), which take the full decode.
fn jpeg_luma(
    bytes: &[u8],
    width: u32,
    height: u32,
    min_long_side_px: u32,
) -> std::result::Result<Option<(DynamicImage, Orientation)>, ImageError> {
    let failed = |reason: String| {
        ImageError::Decoding(image::error::DecodingError::new(
            ImageFormat::Jpeg.into(),
            reason,
        ))
    };
    // libjpeg reports a fatal error by unwinding out of the C code (the mozjpeg crate's
    // design); nothing it touched outlives the closure.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut decompress = mozjpeg::Decompress::with_markers(&[mozjpeg::Marker::APP(1)])
            .from_mem(bytes)
            .map_err(|e| e.to_string())?;
        // The size checked against the pixel limit is the one libjpeg allocates for.
        let (w, h) = decompress.size();
        if (w as u64, h as u64) != (u64::from(width), u64::from(height)) {
            return Err(format!(
                "the JPEG declares {width}x{height} in one header and {w}x{h} in another"
            ));
        }
        if !matches!(
            decompress.color_space(),
            mozjpeg::ColorSpace::JCS_YCbCr | mozjpeg::ColorSpace::JCS_GRAYSCALE
        ) {
            return Ok(None);
        }
        let orientation = decompress
            .markers()
            .find_map(|m| {
                m.data
                    .strip_prefix(b"Exif\0\0")
                    .and_then(Orientation::from_exif_chunk)
            })
            .unwrap_or(Orientation::NoTransforms);
        decompress.scale(jpeg_scale_eighths(width.max(height), min_long_side_px));
        let mut started = decompress.grayscale().map_err(|e| e.to_string())?;
        let (w, h) = (started.width(), started.height());
        let luma: Vec<u8> = started.read_scanlines().map_err(|e| e.to_string())?;
        started.finish().map_err(|e| e.to_string())?;
        Ok(Some((w as u32, h as u32, luma, orientation)))
    }));
    let decoded = match decoded {
        Ok(result) => result.map_err(failed)?,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the JPEG decoder failed".to_string());
            return Err(failed(
                reason
                    .trim_start_matches("libjpeg fatal error: ")
                    .to_string(),
            ));
        }
    };
    let Some((w, h, luma, orientation)) = decoded else {
        return Ok(None);
    };
    let mut img = image::GrayImage::from_raw(w, h, luma)
        .map(DynamicImage::ImageLuma8)
        .ok_or_else(|| {
            failed(format!(
                "the luma plane does not fill the {w}x{h} image it declares"
            ))
        })?;
    img.apply_orientation(orientation);
    Ok(Some((img, orientation)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::test_images::*;
    use image::{GrayImage, Luma, Rgb, RgbImage, Rgba, RgbaImage};
    use proptest::prelude::*;

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
        let (gray, size) = load_image_gray(&path, 16).expect("decode fixture's luma");
        assert_eq!(size, (8, 16), "the upright full size");
        // Asked for a long side of 8, the luma decode halves it, still upright.
        let (half, size) = load_image_gray(&path, 8).expect("decode at half scale");
        assert_eq!(((half.width(), half.height()), size), ((4, 8), (8, 16)));
        let half = half.to_luma8();
        assert!(half.get_pixel(0, 0)[0] < 60 && half.get_pixel(3, 7)[0] > 200);
        for img in [&from_file, &from_bytes, &gray] {
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

    /// The gray load of a colour JPEG (a phone-photo-like digit) is its luma plane: the same
    /// size as the colour decode, each pixel within 2 levels of that decode turned gray
    /// (BT.601 luma from the decoded RGB, rounding apart), and no colour channels.
    #[test]
    fn a_gray_load_of_a_colour_jpeg_is_its_luma_plane() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/photo-five.jpg");
        let colour = load_image(&path).expect("colour decode");
        assert!(
            matches!(colour, DynamicImage::ImageRgb8(_)),
            "a colour JPEG"
        );
        let (gray, _) = load_image_gray(&path, u32::MAX).expect("luma decode");
        let DynamicImage::ImageLuma8(gray) = gray else {
            panic!("luma plane expected, got {:?}", gray.color());
        };
        let reference = crate::preprocess::pixels::to_gray(&colour);
        assert_eq!(gray.dimensions(), reference.dimensions());
        let worst = gray
            .pixels()
            .zip(reference.pixels())
            .map(|(a, b)| a[0].abs_diff(b[0]))
            .max()
            .unwrap();
        assert!(worst <= 2, "largest difference {worst} levels");
        // A PNG asks nothing of the gray path: it decodes as stored.
        let dir = tempfile::tempdir().expect("tempdir");
        let png = dir.path().join("rgb.png");
        RgbImage::from_pixel(4, 4, Rgb([10, 200, 30]))
            .save(&png)
            .unwrap();
        assert!(matches!(
            load_image_gray(&png, 1),
            Ok((DynamicImage::ImageRgb8(_), (4, 4)))
        ));
    }

    /// A large JPEG decoded for a recipe that needs fewer pixels comes out at libjpeg's reduced
    /// scale: each pixel the mean of its 8×8 block of the full-size luma (the DCT's DC term),
    /// within a few levels, and the full size reported beside it.
    #[test]
    fn a_large_jpeg_is_decoded_at_a_reduced_scale_as_block_means_of_its_luma() {
        let (w, h) = (640u32, 480u32);
        let img = RgbImage::from_fn(w, h, |x, y| {
            let v = (x * 255 / w) as u8;
            let ink = (200..440).contains(&x) && (100..380).contains(&y) && (x + y) % 97 < 30;
            if ink {
                Rgb([20, 30, 90])
            } else {
                Rgb([v, 255 - v, 128])
            }
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.jpg");
        img.save(&path).unwrap();
        let full = crate::preprocess::pixels::to_gray(&load_image(&path).expect("colour decode"));
        assert_eq!(jpeg_scale_eighths(640, 80), 1);
        assert_eq!(jpeg_scale_eighths(640, 81), 2);
        assert_eq!(jpeg_scale_eighths(640, 641), 8);
        let (small, size) = load_image_gray(&path, 80).expect("scaled luma decode");
        assert_eq!(size, (w, h));
        let DynamicImage::ImageLuma8(small) = small else {
            panic!("luma plane expected");
        };
        assert_eq!(small.dimensions(), (w / 8, h / 8));
        let mut total = 0u64;
        let mut worst = 0u8;
        for (bx, by, p) in small.enumerate_pixels() {
            let mut sum = 0u32;
            for y in by * 8..by * 8 + 8 {
                for x in bx * 8..bx * 8 + 8 {
                    sum += u32::from(full.get_pixel(x, y)[0]);
                }
            }
            let diff = p[0].abs_diff(((sum + 32) / 64) as u8);
            total += u64::from(diff);
            worst = worst.max(diff);
        }
        let mean = total as f64 / f64::from(small.width() * small.height());
        assert!(
            mean < 1.0 && worst <= 4,
            "mean {mean:.2}, worst {worst} levels"
        );
    }

    /// A CMYK JPEG (tests/fixtures/images/make_cmyk_fixture.sh), which the luma-only decode
    /// cannot read, takes the full decode on the gray path too: the same pixels, the black
    /// square top-left on white paper.
    #[test]
    fn a_cmyk_jpeg_is_read_in_full_on_the_gray_path() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/images/cmyk_square.jpg");
        let colour = load_image(&path).expect("colour decode");
        let (gray, _) = load_image_gray(&path, 2).expect("gray path");
        assert_eq!(gray, colour);
        let g = gray.to_luma8();
        assert_eq!(g.dimensions(), (16, 16));
        assert!(g.get_pixel(2, 2)[0] < 60 && g.get_pixel(12, 12)[0] > 200);
    }

    /// A JPEG cut short fails or succeeds alike through the colour and the luma decode, and
    /// a failure names the file.
    #[test]
    fn a_truncated_jpeg_is_read_alike_in_colour_and_in_gray() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/examples/photo-five.jpg");
        let bytes = std::fs::read(&source).unwrap();
        let dir = tempfile::tempdir().expect("tempdir");
        for keep in [bytes.len() / 2, 700, 200] {
            let path = dir.path().join(format!("cut-{keep}.jpg"));
            std::fs::write(&path, &bytes[..keep]).unwrap();
            let (colour, gray) = (load_image(&path), load_image_gray(&path, 64));
            assert_eq!(
                colour.is_ok(),
                gray.is_ok(),
                "{keep} bytes: {colour:?} vs {gray:?}"
            );
            if let Err(e) = gray {
                let _ = decode_reason(e, &path);
            }
        }
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

    proptest! {
        #[test]
        fn decode_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_image_bytes(&bytes, Path::new("garbage"));
        }

        #[test]
        fn luma_decode_never_panics_on_a_corrupted_jpeg(pos in 0usize..4000, val in any::<u8>()) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/images/exif_orientation_6.jpg");
            let mut bytes = std::fs::read(&path).unwrap();
            let i = pos % bytes.len();
            bytes[i] = val;
            let gray = Pixels::Gray { min_long_side_px: 8 };
            let _ = decode_with(|| Ok(Cursor::new(&bytes)), &path, MAX_IMAGE_PIXELS, gray);
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
