//! Printed digits from installed typefaces: discovery, a held-out split of whole families,
//! and rendering one digit as dark ink on light paper.
//!
//! [`discover_typefaces`] walks font folders (by default [`SYSTEM_FONT_DIR`]) for `.ttf` and
//! `.otf` files and keeps a file when it parses and has a non-empty outline for each of '0'..'9'.
//! Files whose ten digits render identically (many Noto script fonts share one Latin digit
//! design; variable fonts repeat a static style) are kept once, so every kept typeface is a
//! distinct design. Whole families (the name table's typographic family) are held out for
//! validation ([`split_held_out`]: families in the order of a stable hash of their name until
//! [`HELD_OUT_PERCENT`] % of the typefaces are held out), so a held-out design is never seen in
//! training in another weight or slant.
//!
//! [`render_digit`] draws one digit from a [`PrintStyle`]: its height, place, rotation and
//! stroke weight on a canvas of paper grey with ink grey. The data step
//! ([`crate::train::data::image_sets`]) then degrades the page like a scan and runs the model's own
//! preprocessing on it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontArc, PxScale, point};
use image::{GrayImage, Luma};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use walkdir::WalkDir;

use crate::error::{Error, Result};
use crate::train::data::SkippedItem;
use crate::train::data::augment_image::{rotate, stroke_weight};
use crate::train::stable_hash;

/// Where Debian/Ubuntu install font packages.
pub const SYSTEM_FONT_DIR: &str = "/usr/share/fonts";
/// File extensions read as fonts (compared case-insensitively).
pub const FONT_EXTENSIONS: [&str; 2] = ["ttf", "otf"];
/// The start of the reason a font file without all ten digits is left out.
const NO_DIGITS_REASON: &str = "no outline for the digit";
/// With at least this many typefaces, those whose digits do not look like the consensus are
/// left out ([`consensus_recognition`]).
pub const MIN_TYPEFACES_FOR_CONSENSUS: usize = 8;
/// Digits (of 10) that must be nearest to their own consensus shape. On a full Debian font set
/// symbol fonts score 0 to 2 (dingbats, keycaps, OCR-B extensions) while stylised text faces
/// score 5 or more (Jura, Isabella, Breip).
pub const MIN_RECOGNISED_DIGITS: usize = 5;
/// The digits every kept typeface must have.
pub const DIGITS: [char; 10] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
/// Share of typefaces held out for validation (as whole families), in percent.
pub const HELD_OUT_PERCENT: usize = 20;
/// Seed of the family hash that decides the held-out split.
pub const HELD_OUT_SEED: u64 = 0x666f_6e74_7370_6c69;
/// Height in pixels of the renderings whose hash identifies a digit design.
pub const FINGERPRINT_PX: f32 = 24.0;
/// Canvas sides drawn for [`PrintStyle::sample`] (inclusive, each side independently).
pub const CANVAS_SIDE_RANGE: (u32, u32) = (56, 128);
/// Digit height as a share of the canvas's shorter side.
pub const DIGIT_HEIGHT_RANGE: (f32, f32) = (0.3, 0.72);
/// Largest rotation of the printed digit either way, in degrees.
pub const PRINT_ROTATION_MAX_DEG: f32 = 10.0;
/// Stroke weight steps ([`stroke_weight`]) drawn, inclusive.
pub const PRINT_STROKE_STEPS_RANGE: (i32, i32) = (-1, 2);
/// Share of renderings whose stroke weight is changed.
pub const PRINT_STROKE_PROBABILITY: f64 = 0.35;
/// Paper grey levels drawn (inclusive).
pub const PAPER_LEVEL_RANGE: (u8, u8) = (150, 250);
/// Ink grey levels drawn (inclusive).
pub const INK_LEVEL_RANGE: (u8, u8) = (0, 90);
/// Least difference between paper and ink grey.
pub const MIN_INK_CONTRAST: u8 = 70;
/// The digit keeps at least this share of the canvas's shorter side (and 3 px) from every
/// edge, so the page's border stays paper after rotation.
pub const MARGIN_FRACTION: f32 = 0.08;

/// A typeface kept by [`discover_typefaces`].
#[derive(Clone)]
pub struct Typeface {
    /// The font file.
    pub path: PathBuf,
    /// File name without extension (`DejaVuSans-Bold`).
    pub stem: String,
    /// Family from the name table (typographic family, else family), else from the stem.
    pub family: String,
    /// True when the family is held out for validation.
    pub held_out: bool,
    /// The parsed font.
    pub font: FontArc,
}

impl std::fmt::Debug for Typeface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typeface")
            .field("path", &self.path)
            .field("family", &self.family)
            .field("held_out", &self.held_out)
            .finish_non_exhaustive()
    }
}

impl Typeface {
    /// The description stored in the data's metadata.
    pub fn info(&self) -> TypefaceInfo {
        TypefaceInfo {
            file: self.path.display().to_string(),
            stem: self.stem.clone(),
            family: self.family.clone(),
            held_out: self.held_out,
        }
    }
}

/// A typeface as listed in the data's metadata (`meta.typefaces`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypefaceInfo {
    /// The font file on the machine that prepared the data.
    pub file: String,
    /// File name without extension.
    pub stem: String,
    /// Font family.
    pub family: String,
    /// True when held out for validation (`image_print_val`).
    pub held_out: bool,
}

/// What [`discover_typefaces`] found.
#[derive(Debug, Default)]
pub struct FontDiscovery {
    /// Distinct typefaces with all ten digits, sorted by path.
    pub typefaces: Vec<Typeface>,
    /// Font files left out (unreadable, not a font, digits that do not look like digits), with
    /// the reason.
    pub skipped: Vec<SkippedItem>,
    /// Files left out because an earlier file renders the same digits: `(file, kept file)`.
    pub duplicates: Vec<(PathBuf, PathBuf)>,
    /// Font files looked at.
    pub files: usize,
    /// Font files without outlines for all ten digits (script, symbol and CJK-only fonts).
    pub without_digits: Vec<PathBuf>,
}

/// True when `path` has one of [`FONT_EXTENSIONS`].
fn is_font_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| FONT_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// Font files under `dirs` (recursively, links followed), sorted and without repeats. A
/// folder that does not exist is an [`Error::Data`] naming it; a font file may
/// also be given directly.
pub fn font_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for dir in dirs {
        if dir.is_file() {
            files.push(dir.clone());
            continue;
        }
        if !dir.is_dir() {
            return Err(Error::Data {
                path: dir.to_path_buf(),
                reason: "no such font folder".into(),
            });
        }
        for entry in WalkDir::new(dir).follow_links(true).sort_by_file_name() {
            let Ok(entry) = entry else { continue };
            if entry.file_type().is_file() && is_font_file(entry.path()) {
                files.push(entry.into_path());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(std::fs::canonicalize(p).unwrap_or_else(|_| p.clone())));
    files.sort();
    Ok(files)
}

/// The family name from the font's name table: typographic family (name 16), else family
/// (name 1), preferring English (language 0x0409) Unicode records.
fn family_from_names(data: &[u8]) -> Option<String> {
    let face = ttf_parser::Face::parse(data, 0).ok()?;
    for id in [
        ttf_parser::name_id::TYPOGRAPHIC_FAMILY,
        ttf_parser::name_id::FAMILY,
    ] {
        let mut names: Vec<_> = face
            .names()
            .into_iter()
            .filter(|n| n.name_id == id && n.is_unicode())
            .collect();
        names.sort_by_key(|n| n.language_id != 0x0409);
        if let Some(name) = names
            .into_iter()
            .filter_map(|n| n.to_string())
            .map(|s| s.trim().to_string())
            .find(|s| !s.is_empty())
        {
            return Some(name);
        }
    }
    None
}

/// A family from a file stem: the part before the first `-` or `_` (`LiberationSans-Bold` ->
/// `LiberationSans`).
fn family_from_stem(stem: &str) -> String {
    stem.split(['-', '_']).next().unwrap_or(stem).to_string()
}

/// Reads and checks one font file: it must parse and have a non-empty outline for every digit.
pub fn load_typeface(path: &Path) -> Result<Typeface> {
    let bad = |reason: String| Error::Data {
        path: path.to_path_buf(),
        reason,
    };
    let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let family = family_from_names(&data);
    let font = FontArc::try_from_vec(data)
        .map_err(|e| bad(format!("not a usable TrueType/OpenType font ({e})")))?;
    let mut missing = Vec::new();
    for c in DIGITS {
        let id = font.glyph_id(c);
        let glyph = id.with_scale(FINGERPRINT_PX);
        let drawn = id.0 != 0
            && font.outline_glyph(glyph).is_some_and(|g| {
                let b = g.px_bounds();
                b.width() >= 1.0 && b.height() >= 1.0
            });
        if !drawn {
            missing.push(c);
        }
    }
    if !missing.is_empty() {
        let list: String = missing.iter().collect();
        return Err(bad(format!("no outline for the digit(s) {list}")));
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let family = family.unwrap_or_else(|| family_from_stem(&stem));
    Ok(Typeface {
        path: path.to_path_buf(),
        held_out: false,
        stem,
        family,
        font,
    })
}

/// A hash of the ten digits drawn at [`FINGERPRINT_PX`]: equal for files that draw the same
/// digit designs.
pub fn digit_fingerprint(font: &FontArc) -> u64 {
    let mut bytes = Vec::new();
    for c in DIGITS {
        let glyph = font
            .glyph_id(c)
            .with_scale_and_position(FINGERPRINT_PX, point(0.0, 0.0));
        if let Some(g) = font.outline_glyph(glyph) {
            let b = g.px_bounds();
            let w = b.width().max(0.0) as u32;
            bytes.extend_from_slice(&w.to_le_bytes());
            bytes.extend_from_slice(&(b.height().max(0.0) as u32).to_le_bytes());
            let mut plane = vec![0u8; (w as usize) * (b.height().max(0.0) as usize)];
            g.draw(|x, y, cov| {
                if let Some(p) = plane.get_mut((y * w + x) as usize) {
                    *p = (cov.clamp(0.0, 1.0) * 255.0).round() as u8;
                }
            });
            bytes.extend_from_slice(&plane);
        }
        bytes.push(b'|');
    }
    stable_hash(0, &bytes)
}

/// Finds the distinct typefaces with all ten digits under `dirs` (see the module docs). Files
/// that cannot be used are listed in [`FontDiscovery::skipped`], not errors; a folder that
/// does not exist is an [`Error::Data`]. When two or more typefaces are found and
/// the hash holds out none, the family with the smallest hash is held out; when it holds out
/// all of them, the one with the largest hash goes back to training.
pub fn discover_typefaces(dirs: &[PathBuf]) -> Result<FontDiscovery> {
    let files = font_files(dirs)?;
    let loaded: Vec<(PathBuf, Result<(Typeface, u64)>)> = files
        .par_iter()
        .map(|p| {
            let r = load_typeface(p).map(|t| {
                let fp = digit_fingerprint(&t.font);
                (t, fp)
            });
            (p.clone(), r)
        })
        .collect();
    let mut out = FontDiscovery {
        files: files.len(),
        ..FontDiscovery::default()
    };
    let mut by_fingerprint: HashMap<u64, PathBuf> = HashMap::new();
    for (path, result) in loaded {
        match result {
            Ok((t, fp)) => {
                if let Some(kept) = by_fingerprint.get(&fp) {
                    out.duplicates.push((path, kept.clone()));
                } else {
                    by_fingerprint.insert(fp, path);
                    out.typefaces.push(t);
                }
            }
            Err(e) => {
                let reason = match e {
                    Error::Data { reason, .. } => reason,
                    other => other.to_string(),
                };
                if reason.starts_with(NO_DIGITS_REASON) {
                    out.without_digits.push(path);
                } else {
                    out.skipped.push(SkippedItem {
                        file: path.display().to_string(),
                        reason,
                    });
                }
            }
        }
    }
    if out.typefaces.len() >= MIN_TYPEFACES_FOR_CONSENSUS {
        let recognised = consensus_recognition(&out.typefaces);
        let mut kept = Vec::with_capacity(out.typefaces.len());
        for (t, n) in std::mem::take(&mut out.typefaces)
            .into_iter()
            .zip(recognised)
        {
            if n >= MIN_RECOGNISED_DIGITS {
                kept.push(t);
            } else {
                out.skipped.push(SkippedItem {
                    file: t.path.display().to_string(),
                    reason: format!(
                        "its digits do not look like digits: {n} of 10 are nearest to the \
                         consensus shape of their own digit (at least \
                         {MIN_RECOGNISED_DIGITS} needed)"
                    ),
                });
            }
        }
        out.typefaces = kept;
    }
    split_held_out(&mut out.typefaces);
    Ok(out)
}

/// Side of the square canvas of [`consensus_recognition`].
pub const CONSENSUS_SIDE: u32 = 32;

/// The digits of each typeface drawn plainly on a [`CONSENSUS_SIDE`] square, compared with
/// the consensus shape of every digit (the sum over all other typefaces of the mean-centred,
/// unit-length drawings): how many of its ten digits are nearest (cosine) to the consensus of
/// their own digit. Symbol fonts that put pictures on the digit code points (dingbats, keycaps)
/// score low.
pub fn consensus_recognition(typefaces: &[Typeface]) -> Vec<usize> {
    let style = PrintStyle::plain(CONSENSUS_SIDE, CONSENSUS_SIDE, 1.0);
    let n = (CONSENSUS_SIDE * CONSENSUS_SIDE) as usize;
    let drawings: Vec<Vec<Vec<f32>>> = typefaces
        .par_iter()
        .map(|t| {
            (0..10u8)
                .map(|d| {
                    let mut v: Vec<f32> = render_digit(&t.font, d, &style)
                        .map(|img| {
                            img.as_raw()
                                .iter()
                                .map(|&p| 1.0 - f32::from(p) / 255.0)
                                .collect()
                        })
                        .unwrap_or_else(|_| vec![0.0; n]);
                    let mean = v.iter().sum::<f32>() / n as f32;
                    v.iter_mut().for_each(|x| *x -= mean);
                    crate::index::l2_normalize(&mut v);
                    v
                })
                .collect()
        })
        .collect();
    let mut centroids = vec![vec![0.0f32; n]; 10];
    for font in &drawings {
        for (c, v) in centroids.iter_mut().zip(font) {
            c.iter_mut().zip(v).for_each(|(a, b)| *a += b);
        }
    }
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    drawings
        .iter()
        .map(|font| {
            (0..10)
                .filter(|&d| {
                    // Leave the font itself out of the consensus it is compared with.
                    let scores: Vec<f32> = centroids
                        .iter()
                        .zip(font)
                        .map(|(c, own)| dot(&font[d], c) - dot(&font[d], own))
                        .collect();
                    (0..10).all(|k| k == d || scores[k] < scores[d])
                })
                .count()
        })
        .collect()
}

/// Marks the held-out typefaces: whole families, taken in the order of a stable hash of
/// their lowercased name (ties by name) until at least [`HELD_OUT_PERCENT`] % of the typefaces
/// (and at least one) are held out, never every family. With a single family the unit is the
/// file stem instead. Fewer than two typefaces: none is held out.
///
/// A family's side depends only on its name and on which other families are installed, so the
/// same font packages give the same split on every machine.
pub fn split_held_out(typefaces: &mut [Typeface]) {
    for t in typefaces.iter_mut() {
        t.held_out = false;
    }
    if typefaces.len() < 2 {
        return;
    }
    let families: std::collections::BTreeSet<String> =
        typefaces.iter().map(|t| t.family.to_lowercase()).collect();
    let unit = |t: &Typeface| {
        if families.len() >= 2 {
            t.family.to_lowercase()
        } else {
            t.stem.to_lowercase()
        }
    };
    let mut sizes: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for t in typefaces.iter() {
        *sizes.entry(unit(t)).or_default() += 1;
    }
    let mut order: Vec<(u64, String, usize)> = sizes
        .into_iter()
        .map(|(name, n)| (stable_hash(HELD_OUT_SEED, name.as_bytes()), name, n))
        .collect();
    order.sort();
    let target = (typefaces.len() * HELD_OUT_PERCENT).div_ceil(100).max(1);
    let mut held = std::collections::BTreeSet::new();
    let mut count = 0;
    for (_, name, n) in order.iter().take(order.len() - 1) {
        if count >= target {
            break;
        }
        held.insert(name.clone());
        count += n;
    }
    for t in typefaces.iter_mut() {
        t.held_out = held.contains(&unit(t));
    }
}

/// How one printed digit is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct PrintStyle {
    /// Canvas width in pixels.
    pub width: u32,
    /// Canvas height in pixels.
    pub height: u32,
    /// Height of the digit's outline as a share of the canvas's shorter side.
    pub digit_height: f32,
    /// Where the digit sits in the room left around it: 0 = left/top edge, 1 = right/bottom.
    pub place: (f32, f32),
    /// Rotation in degrees, clockwise.
    pub rotation_deg: f32,
    /// Stroke weight steps ([`stroke_weight`]): positive bolder, negative thinner.
    pub stroke_steps: i32,
    /// Paper grey (0..255).
    pub paper: u8,
    /// Ink grey (0..255), darker than the paper.
    pub ink: u8,
}

impl PrintStyle {
    /// A plain style: black ink on white paper, centred, upright, unchanged weight.
    pub fn plain(width: u32, height: u32, digit_height: f32) -> Self {
        Self {
            width,
            height,
            digit_height,
            place: (0.5, 0.5),
            rotation_deg: 0.0,
            stroke_steps: 0,
            paper: 255,
            ink: 0,
        }
    }

    /// Draws a style from the module's named ranges.
    pub fn sample(rng: &mut impl Rng) -> Self {
        let width = rng.random_range(CANVAS_SIDE_RANGE.0..=CANVAS_SIDE_RANGE.1);
        let height = rng.random_range(CANVAS_SIDE_RANGE.0..=CANVAS_SIDE_RANGE.1);
        let digit_height = rng.random_range(DIGIT_HEIGHT_RANGE.0..=DIGIT_HEIGHT_RANGE.1);
        let place = (rng.random::<f32>(), rng.random::<f32>());
        let rotation_deg = rng.random_range(-PRINT_ROTATION_MAX_DEG..=PRINT_ROTATION_MAX_DEG);
        let stroke_on = rng.random::<f64>() < PRINT_STROKE_PROBABILITY;
        let steps = rng.random_range(PRINT_STROKE_STEPS_RANGE.0..=PRINT_STROKE_STEPS_RANGE.1);
        let paper = rng.random_range(PAPER_LEVEL_RANGE.0..=PAPER_LEVEL_RANGE.1);
        let ink_hi = INK_LEVEL_RANGE
            .1
            .min(paper.saturating_sub(MIN_INK_CONTRAST));
        let ink = rng.random_range(INK_LEVEL_RANGE.0..=ink_hi.max(INK_LEVEL_RANGE.0));
        Self {
            width,
            height,
            digit_height,
            place,
            rotation_deg,
            stroke_steps: if stroke_on { steps } else { 0 },
            paper,
            ink,
        }
    }
}

/// A page of paper grey `paper` with ink of grey `ink` wherever `coverage` (0..1, one value
/// per pixel, row-major) is 1: `paper - coverage * (paper - ink)`.
pub fn ink_on_paper(coverage: &[f32], width: u32, height: u32, paper: u8, ink: u8) -> GrayImage {
    let (p, k) = (f32::from(paper), f32::from(ink));
    GrayImage::from_fn(width, height, |x, y| {
        let c = coverage
            .get((y * width + x) as usize)
            .copied()
            .unwrap_or(0.0)
            .clamp(0.0, 1.0);
        Luma([(p - c * (p - k)).round().clamp(0.0, 255.0) as u8])
    })
}

/// Draws `digit` (0..9) of `font` in `style`: the outline scaled so its height is
/// `style.digit_height` of the canvas's shorter side (at most what fits inside the margins),
/// placed by `style.place`, as ink on paper, then turned by `style.rotation_deg` (paper fills
/// the corners) and made bolder or thinner by `style.stroke_steps`.
pub fn render_digit(font: &FontArc, digit: u8, style: &PrintStyle) -> Result<GrayImage> {
    let c = *DIGITS.get(usize::from(digit)).ok_or_else(|| {
        Error::InvalidRequest(format!("render_digit: digit must be 0..9, got {digit}"))
    })?;
    let (w, h) = (style.width.max(1), style.height.max(1));
    let side = w.min(h) as f32;
    let margin = (MARGIN_FRACTION * side).max(3.0);
    let (room_w, room_h) = (w as f32 - 2.0 * margin, h as f32 - 2.0 * margin);
    if room_w < 4.0 || room_h < 4.0 {
        return Err(Error::InvalidRequest(format!(
            "render_digit: a {w}x{h} canvas leaves no room for the digit"
        )));
    }
    // Outline size at a reference scale, then the scale that gives the asked height.
    const REF_PX: f32 = 100.0;
    let id = font.glyph_id(c);
    let reference = font
        .outline_glyph(id.with_scale(REF_PX))
        .ok_or_else(|| Error::InvalidRequest(format!("render_digit: no outline for '{c}'")))?;
    let rb = reference.px_bounds();
    let (ref_w, ref_h) = (rb.width().max(1.0), rb.height().max(1.0));
    let want_h = (style.digit_height.clamp(0.05, 1.0) * side).min(room_h);
    let mut scale = REF_PX * want_h / ref_h;
    if ref_w * scale / REF_PX > room_w {
        scale = REF_PX * room_w / ref_w;
    }
    let (gw, gh) = (ref_w * scale / REF_PX, ref_h * scale / REF_PX);
    let left = margin + (room_w - gw) * style.place.0.clamp(0.0, 1.0);
    let top = margin + (room_h - gh) * style.place.1.clamp(0.0, 1.0);
    // Position the glyph so its pixel bounds start at (left, top).
    let probe = font
        .outline_glyph(id.with_scale_and_position(PxScale::from(scale), point(0.0, 0.0)))
        .ok_or_else(|| Error::InvalidRequest(format!("render_digit: no outline for '{c}'")))?;
    let pb = probe.px_bounds();
    let glyph =
        id.with_scale_and_position(PxScale::from(scale), point(left - pb.min.x, top - pb.min.y));
    let outlined = font
        .outline_glyph(glyph)
        .ok_or_else(|| Error::InvalidRequest(format!("render_digit: no outline for '{c}'")))?;
    let bounds = outlined.px_bounds();
    let mut coverage = vec![0.0f32; (w * h) as usize];
    let (bx, by) = (bounds.min.x as i64, bounds.min.y as i64);
    outlined.draw(|x, y, cov| {
        let (px, py) = (bx + i64::from(x), by + i64::from(y));
        if px >= 0 && py >= 0 && px < i64::from(w) && py < i64::from(h) {
            let i = (py * i64::from(w) + px) as usize;
            coverage[i] = (coverage[i] + cov).min(1.0);
        }
    });
    let mut page = ink_on_paper(&coverage, w, h, style.paper, style.ink);
    if style.rotation_deg != 0.0 {
        page = rotate(&page, style.rotation_deg, style.paper);
    }
    Ok(stroke_weight(&page, style.stroke_steps))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEJAVU_SANS: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    fn dejavu() -> Typeface {
        load_typeface(Path::new(DEJAVU_SANS)).expect("fonts-dejavu-core is installed")
    }

    /// Columns holding ink (darker than the mid grey).
    fn ink_columns(img: &GrayImage) -> Vec<u32> {
        (0..img.width())
            .filter(|&x| (0..img.height()).any(|y| img.get_pixel(x, y)[0] < 128))
            .collect()
    }

    #[test]
    fn discovery_finds_dejavu_sans_with_its_family() {
        let dir = PathBuf::from("/usr/share/fonts/truetype/dejavu");
        let found = discover_typefaces(std::slice::from_ref(&dir)).expect("discover");
        let sans = found
            .typefaces
            .iter()
            .find(|t| t.stem == "DejaVuSans")
            .expect("DejaVuSans.ttf found");
        assert_eq!(sans.family, "DejaVu Sans");
        assert_eq!(sans.path, dir.join("DejaVuSans.ttf"));
        assert!(found.files >= found.typefaces.len());
        // Sorted, and every kept file has a distinct digit design.
        let paths: Vec<_> = found.typefaces.iter().map(|t| t.path.clone()).collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        let prints: std::collections::HashSet<u64> = found
            .typefaces
            .iter()
            .map(|t| digit_fingerprint(&t.font))
            .collect();
        assert_eq!(prints.len(), found.typefaces.len());
        // Listed again (as a file), it is found once.
        let again =
            discover_typefaces(&[dir.clone(), PathBuf::from(DEJAVU_SANS)]).expect("discover");
        assert_eq!(again.typefaces.len(), found.typefaces.len());
    }

    #[test]
    fn identical_digit_designs_are_kept_once() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = tmp.path().join("A-Regular.ttf");
        let b = tmp.path().join("B-Regular.TTF");
        std::fs::copy(DEJAVU_SANS, &a).expect("copy");
        std::fs::copy(DEJAVU_SANS, &b).expect("copy");
        std::fs::write(tmp.path().join("notes.txt"), "not a font").expect("write");
        let found = discover_typefaces(&[tmp.path().to_path_buf()]).expect("discover");
        assert_eq!(found.files, 2, "only .ttf/.otf files are read");
        assert_eq!(found.typefaces.len(), 1);
        assert_eq!(found.typefaces[0].path, a);
        assert_eq!(found.duplicates, vec![(b, a)]);
    }

    #[test]
    fn a_one_is_a_narrow_bar_and_a_zero_has_a_hole() {
        let t = dejavu();
        let style = PrintStyle::plain(100, 100, 0.6);
        let one = render_digit(&t.font, 1, &style).expect("render 1");
        let zero = render_digit(&t.font, 0, &style).expect("render 0");
        assert_eq!(one.dimensions(), (100, 100));
        // Paper at the border.
        for img in [&one, &zero] {
            assert_eq!(img.get_pixel(0, 0)[0], 255);
            assert_eq!(img.get_pixel(99, 99)[0], 255);
        }
        // '1': ink in a narrow band of columns (its stem plus the foot serif and flag: at most
        // a third of the 60 px digit height), and a tall stem in the middle of that band.
        let cols = ink_columns(&one);
        let span = cols.last().expect("ink") - cols.first().expect("ink") + 1;
        assert!(span <= 35, "'1' spans {span} columns");
        let zcols = ink_columns(&zero);
        let zspan = zcols.last().expect("ink") - zcols.first().expect("ink") + 1;
        assert!(zspan >= 30, "'0' spans {zspan} columns");
        // Height: the outline is 60 px tall (0.6 of 100), to within anti-aliasing.
        let rows: Vec<u32> = (0..100)
            .filter(|&y| (0..100).any(|x| zero.get_pixel(x, y)[0] < 128))
            .collect();
        let zh = rows.last().expect("ink") - rows.first().expect("ink") + 1;
        assert!((58..=61).contains(&zh), "'0' is {zh} px tall");
        // '0': the centre of its bounding box is paper, and the outline crosses the centre row
        // twice (left and right strokes).
        let (x0, x1) = (zcols[0], *zcols.last().expect("ink"));
        let (y0, y1) = (rows[0], *rows.last().expect("ink"));
        let (cx, cy) = ((x0 + x1) / 2, (y0 + y1) / 2);
        assert!(zero.get_pixel(cx, cy)[0] > 200, "hole in the middle of '0'");
        let mut runs = 0;
        let mut inside = false;
        for x in 0..100 {
            let ink = zero.get_pixel(x, cy)[0] < 128;
            if ink && !inside {
                runs += 1;
            }
            inside = ink;
        }
        assert_eq!(runs, 2, "the centre row of '0' crosses two strokes");
    }

    #[test]
    fn styles_move_darken_and_thicken_the_digit() {
        let t = dejavu();
        let mut style = PrintStyle::plain(120, 80, 0.5);
        style.paper = 200;
        style.ink = 40;
        style.place = (0.0, 0.5);
        let left = render_digit(&t.font, 7, &style).expect("render");
        let (lo, hi) = left
            .as_raw()
            .iter()
            .fold((255u8, 0u8), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        assert_eq!((lo, hi), (40, 200), "ink and paper levels");
        let margin = (MARGIN_FRACTION * 80.0).max(3.0) as u32;
        let first = ink_columns(&left)[0];
        assert!(
            (margin..=margin + 1).contains(&first),
            "starts at the margin: {first}"
        );
        let dark = |img: &GrayImage| img.as_raw().iter().filter(|&&v| v < 120).count();
        style.stroke_steps = 1;
        let bold = render_digit(&t.font, 7, &style).expect("render");
        assert!(
            dark(&bold) > dark(&left) * 5 / 4,
            "bolder: {} vs {}",
            dark(&bold),
            dark(&left)
        );
        style.stroke_steps = 0;
        style.rotation_deg = 8.0;
        let turned = render_digit(&t.font, 7, &style).expect("render");
        assert_ne!(turned, left);
        assert_eq!(turned.get_pixel(0, 0)[0], 200, "paper fills the corners");
    }

    /// Typefaces named `F{family}-S{style}` (the same font under other names).
    fn named(families: &[usize]) -> Vec<Typeface> {
        let t = dejavu();
        let mut out = Vec::new();
        for (f, &styles) in families.iter().enumerate() {
            for st in 0..styles {
                let mut x = t.clone();
                x.family = format!("Family {f}");
                x.stem = format!("F{f}-S{st}");
                x.held_out = true;
                out.push(x);
            }
        }
        out
    }

    #[test]
    fn held_out_split_is_deterministic_and_by_family() {
        // 120 families of 1 to 4 styles: 300 typefaces.
        let sizes: Vec<usize> = (0..120).map(|i| 1 + i % 4).collect();
        let mut a = named(&sizes);
        let mut b = named(&sizes);
        b.reverse();
        split_held_out(&mut a);
        split_held_out(&mut b);
        let held = |v: &[Typeface]| -> std::collections::BTreeSet<String> {
            v.iter()
                .filter(|t| t.held_out)
                .map(|t| t.stem.clone())
                .collect()
        };
        assert_eq!(held(&a), held(&b), "independent of the order");
        // About 20 % of the typefaces: at least 60 of 300, overshooting by less than a family.
        let n = held(&a).len();
        assert!((60..64).contains(&n), "{n} of 300 held out");
        // Whole families: every style of a family is on the same side.
        for f in 0..120 {
            let sides: std::collections::BTreeSet<bool> = a
                .iter()
                .filter(|t| t.family == format!("Family {f}"))
                .map(|t| t.held_out)
                .collect();
            assert_eq!(sides.len(), 1, "family {f} is split");
        }
        // Case does not matter.
        let mut upper = named(&sizes);
        for t in &mut upper {
            t.family = t.family.to_uppercase();
        }
        split_held_out(&mut upper);
        assert_eq!(held(&upper), held(&a));

        // Two families: one held out, one not. One family of three styles: one style out.
        let mut two = named(&[1, 1]);
        split_held_out(&mut two);
        assert_eq!(two.iter().filter(|t| t.held_out).count(), 1);
        let mut one_family = named(&[3]);
        split_held_out(&mut one_family);
        assert_eq!(one_family.iter().filter(|t| t.held_out).count(), 1);
        let mut single = named(&[1]);
        split_held_out(&mut single);
        assert!(!single[0].held_out, "a single typeface trains");
    }

    #[test]
    fn symbol_fonts_fall_short_of_the_consensus() {
        let dir = Path::new("/usr/share/fonts/truetype/dejavu");
        let mut faces: Vec<Typeface> = [
            "DejaVuSans.ttf",
            "DejaVuSans-Bold.ttf",
            "DejaVuSerif.ttf",
            "DejaVuSerif-Bold.ttf",
            "DejaVuSansMono.ttf",
            "DejaVuSansMono-Bold.ttf",
        ]
        .iter()
        .map(|f| load_typeface(&dir.join(f)).expect("fonts-dejavu-core"))
        .collect();
        let scores = consensus_recognition(&faces);
        assert_eq!(scores, vec![10; 6], "plain text faces read as their digits");
        // URW's Dingbats (fonts-urw-base35, in CI's package list) puts pictures on '0'..'9'.
        let dingbats = Path::new("/usr/share/fonts/opentype/urw-base35/D050000L.otf");
        if dingbats.exists() {
            faces.push(load_typeface(dingbats).expect("dingbats"));
            let scores = consensus_recognition(&faces);
            assert!(
                scores[6] < MIN_RECOGNISED_DIGITS,
                "dingbats score {}",
                scores[6]
            );
            assert!(scores[..6].iter().all(|&n| n >= 9), "{scores:?}");
        }
    }

    #[test]
    fn missing_and_garbage_font_files_are_named() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let garbage = tmp.path().join("Broken-Regular.ttf");
        std::fs::write(&garbage, b"this is not a font at all").expect("write");
        let err = load_typeface(&garbage).expect_err("garbage").to_string();
        assert!(err.contains("Broken-Regular.ttf"), "{err}");
        assert!(err.contains("not a usable TrueType/OpenType font"), "{err}");

        let missing = tmp.path().join("Nope.ttf");
        let err = load_typeface(&missing).expect_err("missing").to_string();
        assert!(err.contains("Nope.ttf"), "{err}");

        let found = discover_typefaces(&[tmp.path().to_path_buf()]).expect("discover");
        assert!(found.typefaces.is_empty());
        assert_eq!(found.skipped.len(), 1);
        assert!(found.skipped[0].file.ends_with("Broken-Regular.ttf"));
        assert!(
            found.skipped[0].reason.starts_with("not a usable"),
            "{:?}",
            found.skipped
        );

        let err = discover_typefaces(&[tmp.path().join("no-such-dir")])
            .expect_err("missing dir")
            .to_string();
        assert!(
            err.contains("no-such-dir") && err.contains("no such font folder"),
            "{err}"
        );
    }

    #[test]
    fn sampled_styles_stay_in_their_ranges() {
        use rand::SeedableRng;
        for seed in 0..300 {
            let s = PrintStyle::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            assert!((CANVAS_SIDE_RANGE.0..=CANVAS_SIDE_RANGE.1).contains(&s.width));
            assert!((CANVAS_SIDE_RANGE.0..=CANVAS_SIDE_RANGE.1).contains(&s.height));
            assert!(s.paper >= s.ink + MIN_INK_CONTRAST, "{s:?}");
            assert!(s.rotation_deg.abs() <= PRINT_ROTATION_MAX_DEG);
        }
    }
}
