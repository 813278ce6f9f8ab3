//! The image sets that look like what users bring, for `transference data`:
//!
//! - **printed digits** ([`prepare_print_sets`]): every distinct installed typeface
//!   ([`crate::train::data::fonts`]) draws each digit up to [`PRINT_TRAIN_PER_DIGIT`] times (training
//!   families) or [`PRINT_VAL_PER_DIGIT`] times (held-out families), fewer when the sets would
//!   pass [`PRINT_TRAIN_MAX_ITEMS`] / [`PRINT_VAL_MAX_ITEMS`], in a random [`PrintStyle`],
//!   degraded by a random [`ScanAugmentation`];
//! - **scanned handwriting** ([`scan_set`]): every MNIST digit once, drawn large as dark ink
//!   on paper and degraded the same way ([`scan_mnist_digit`]).
//!
//! Every page then goes through the model's own preprocessing ([`prepare_image`]), and the
//! 28x28 view it produces (`preview / 255`, white ink on black) is stored, exactly like the
//! MNIST sets. Each item draws from its own generator, seeded by a stable hash of the set's
//! seed and the item's identity, so the sets are the same on every machine and however the
//! work is split across cores.

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, GrayImage};
use indicatif::ProgressBar;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::preprocess::image::{ImageConfig, gray_from_unit_floats, prepare_image};
use crate::preprocess::mnist::MNIST_SIDE_PX;
use crate::train::data::augment_image::ScanAugmentation;
use crate::train::data::fonts::{
    PAPER_LEVEL_RANGE, PrintStyle, Typeface, TypefaceInfo, discover_typefaces, ink_on_paper,
    render_digit,
};
use crate::train::data::{LabeledSet, SkippedItem};
use crate::train::stable_hash;

/// Renderings of each digit per training typeface (at most; see [`PRINT_TRAIN_MAX_ITEMS`]).
pub const PRINT_TRAIN_PER_DIGIT: usize = 40;
/// Renderings of each digit per held-out typeface (at most; see [`PRINT_VAL_MAX_ITEMS`]).
pub const PRINT_VAL_PER_DIGIT: usize = 20;
/// Size cap of `image_print_train`: with many typefaces (a full Debian font set has 400+
/// distinct designs) each draws fewer copies, at least one per digit.
pub const PRINT_TRAIN_MAX_ITEMS: usize = 12_000;
/// Size cap of `image_print_val`.
pub const PRINT_VAL_MAX_ITEMS: usize = 3_000;
/// Seed of the printed-digit renderings.
pub const PRINT_SEED: u64 = 0x7072_696e_7464_6967;
/// Seed of the scanned MNIST training digits.
pub const SCAN_TRAIN_SEED: u64 = 0x7363_616e_7472_6e31;
/// Seed of the scanned MNIST test digits (different from the training seed).
pub const SCAN_TEST_SEED: u64 = 0x7363_616e_7465_7374;
/// Draws per item before it is given up (a draw can erase a thin stroke entirely).
pub const MAX_ATTEMPTS: usize = 4;
/// Side of the MNIST digit once drawn large (inclusive range, pixels).
pub const SCAN_DIGIT_SIDE_RANGE: (u32, u32) = (64, 112);
/// Extra paper around the drawn MNIST field, as a share of its side (each edge drawn apart).
pub const SCAN_PAPER_MARGIN_RANGE: (f32, f32) = (0.0, 0.2);
/// Ink grey levels of the scanned MNIST digits (inclusive): pencil to marker.
pub const SCAN_INK_LEVEL_RANGE: (u8, u8) = (0, 110);
/// Least difference between paper and ink grey of a scanned MNIST digit.
pub const SCAN_MIN_INK_CONTRAST: u8 = 60;
/// A source digit whose brightest value is below this has no ink to scan.
pub const MIN_SOURCE_INK: f32 = 0.1;

/// The degradation applied after [`render_digit`]: the default ranges, without the rotation
/// and stroke weight the print style already drew.
pub fn print_scan_augmentation() -> ScanAugmentation {
    ScanAugmentation {
        rotation_max_deg: 0.0,
        stroke_probability: 0.0,
        ..ScanAugmentation::default()
    }
}

/// The model's view of a page: [`prepare_image`] with `cfg`, `preview / 255`.
pub fn model_view(page: GrayImage, cfg: &ImageConfig, name: &Path) -> Result<Vec<f32>> {
    let prepared = prepare_image(&DynamicImage::ImageLuma8(page), cfg, name)?;
    Ok(prepared
        .preview
        .iter()
        .map(|&b| f32::from(b) / 255.0)
        .collect())
}

/// One printed digit as the model sees it: a [`PrintStyle`] and a scan degradation drawn from
/// `rng`, rendered, degraded and preprocessed.
pub fn print_item(
    typeface: &Typeface,
    digit: u8,
    cfg: &ImageConfig,
    rng: &mut impl Rng,
) -> Result<Vec<f32>> {
    let style = PrintStyle::sample(rng);
    let page = render_digit(&typeface.font, digit, &style)?;
    let page = print_scan_augmentation().apply(&page, rng)?;
    model_view(page, cfg, &typeface.path)
}

/// How many printed digits [`prepare_print_sets`] draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrintCounts {
    /// Copies of each digit per training typeface, at most.
    pub train_per_digit: usize,
    /// Copies of each digit per held-out typeface, at most.
    pub val_per_digit: usize,
    /// Cap on the training set's size.
    pub train_max_items: usize,
    /// Cap on the validation set's size.
    pub val_max_items: usize,
}

impl Default for PrintCounts {
    fn default() -> Self {
        Self {
            train_per_digit: PRINT_TRAIN_PER_DIGIT,
            val_per_digit: PRINT_VAL_PER_DIGIT,
            train_max_items: PRINT_TRAIN_MAX_ITEMS,
            val_max_items: PRINT_VAL_MAX_ITEMS,
        }
    }
}

/// Copies of each digit per typeface: `per_digit`, fewer when `typefaces * 10 * per_digit`
/// would pass `max_items`, but at least one.
pub fn copies_per_digit(typefaces: usize, per_digit: usize, max_items: usize) -> usize {
    if typefaces == 0 {
        return per_digit;
    }
    per_digit.min(max_items / (typefaces * 10)).max(1)
}

/// The printed-digit sets and the typefaces they come from.
#[derive(Debug, Default)]
pub struct PrintSets {
    /// Training typefaces' digits; groups index `typefaces`.
    pub train: LabeledSet,
    /// Held-out typefaces' digits; groups index `typefaces`.
    pub val: LabeledSet,
    /// Every kept typeface, training and held out, sorted by path.
    pub typefaces: Vec<TypefaceInfo>,
    /// Font files left out and renderings given up, with the reason.
    pub skipped: Vec<SkippedItem>,
    /// Font files left out as repeats of a kept design.
    pub duplicates: usize,
    /// Font files without all ten digits.
    pub without_digits: usize,
    /// Font files looked at.
    pub files: usize,
    /// Copies of each digit drawn per training and per held-out typeface.
    pub copies_per_digit: (usize, usize),
}

/// Runs `f(item)` for `0..n` items on all cores, keeping the order, ticking `bar`.
fn par_items<R: Send>(n: usize, bar: &ProgressBar, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    (0..n)
        .into_par_iter()
        .map(|i| {
            let r = f(i);
            bar.inc(1);
            r
        })
        .collect()
}

/// Tries `make` with up to [`MAX_ATTEMPTS`] draws from `rng`; the last error when all fail.
fn with_attempts(
    rng: &mut ChaCha8Rng,
    mut make: impl FnMut(&mut ChaCha8Rng) -> Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let mut last = make(rng);
    for _ in 1..MAX_ATTEMPTS {
        if last.is_ok() {
            break;
        }
        last = make(rng);
    }
    last
}

/// Why an item was given up after [`MAX_ATTEMPTS`] draws.
fn gave_up(e: &Error) -> String {
    format!("gave up after {MAX_ATTEMPTS} draws: {e}")
}

/// Discovers the typefaces under `font_dirs` (folders or font files) and renders the
/// printed-digit sets: [`copies_per_digit`] renderings of each digit per training and per
/// held-out typeface. `bar` counts renderings. Errors: a font folder that does not exist, an
/// image config that is not 1-channel.
pub fn prepare_print_sets(
    font_dirs: &[PathBuf],
    cfg: &ImageConfig,
    counts: PrintCounts,
    seed: u64,
    bar: &ProgressBar,
) -> Result<PrintSets> {
    check_gray(cfg)?;
    let found = discover_typefaces(font_dirs)?;
    let shape = vec![cfg.height as usize, cfg.width as usize];
    let mut sets = PrintSets {
        train: LabeledSet::new(shape.clone()),
        val: LabeledSet::new(shape),
        typefaces: found.typefaces.iter().map(Typeface::info).collect(),
        skipped: found.skipped,
        duplicates: found.duplicates.len(),
        without_digits: found.without_digits.len(),
        files: found.files,
        copies_per_digit: (0, 0),
    };
    let n_val = found.typefaces.iter().filter(|t| t.held_out).count();
    let n_train = found.typefaces.len() - n_val;
    let train_copies = copies_per_digit(n_train, counts.train_per_digit, counts.train_max_items);
    let val_copies = copies_per_digit(n_val, counts.val_per_digit, counts.val_max_items);
    sets.copies_per_digit = (train_copies, val_copies);
    // (typeface, digit, copy) of every rendering, training and held-out alike.
    let mut plan: Vec<(usize, u8, usize)> = Vec::new();
    for (t, face) in found.typefaces.iter().enumerate() {
        let copies = if face.held_out {
            val_copies
        } else {
            train_copies
        };
        for digit in 0..10u8 {
            plan.extend((0..copies).map(|k| (t, digit, k)));
        }
    }
    bar.inc_length(plan.len() as u64);
    let results = par_items(plan.len(), bar, |i| {
        let (t, digit, k) = plan[i];
        let face = &found.typefaces[t];
        let key = format!("{}#{digit}#{k}", face.stem);
        let mut rng = ChaCha8Rng::seed_from_u64(stable_hash(seed, key.as_bytes()));
        with_attempts(&mut rng, |rng| print_item(face, digit, cfg, rng))
    });
    for (&(t, digit, k), result) in plan.iter().zip(results) {
        let face = &found.typefaces[t];
        match result {
            Ok(v) => {
                let set = if face.held_out {
                    &mut sets.val
                } else {
                    &mut sets.train
                };
                set.push(&v, digit, t as u32);
            }
            Err(e) => sets.skipped.push(SkippedItem {
                file: format!("{} digit {digit} #{k}", face.path.display()),
                reason: gave_up(&e),
            }),
        }
    }
    Ok(sets)
}

/// The digits data is one channel: `cfg` must be valid and gray.
pub(super) fn check_gray(cfg: &ImageConfig) -> Result<()> {
    cfg.validate()?;
    if cfg.channels != 1 {
        return Err(Error::InvalidRequest(format!(
            "image config: the digits data needs 1 channel, got {}",
            cfg.channels
        )));
    }
    Ok(())
}

/// An MNIST digit (28x28 values in 0..1, white ink on black) as a scanned page: drawn large
/// (a side in [`SCAN_DIGIT_SIDE_RANGE`], Catmull-Rom) as dark ink on paper of a random grey,
/// with paper added around it ([`SCAN_PAPER_MARGIN_RANGE`] per edge), degraded by `aug`,
/// then preprocessed by the model's own [`prepare_image`]. Returns the model view in 0..1.
pub fn scan_mnist_digit(
    values: &[f32],
    aug: &ScanAugmentation,
    cfg: &ImageConfig,
    name: &Path,
    rng: &mut impl Rng,
) -> Result<Vec<f32>> {
    if !values.iter().any(|v| *v >= MIN_SOURCE_INK) {
        return Err(Error::ImageBlank {
            path: name.to_path_buf(),
        });
    }
    let digit = gray_from_unit_floats(values, MNIST_SIDE_PX, MNIST_SIDE_PX)?;
    let side = rng.random_range(SCAN_DIGIT_SIDE_RANGE.0..=SCAN_DIGIT_SIDE_RANGE.1);
    let big = image::imageops::resize(&digit, side, side, FilterType::CatmullRom);
    let mut margin = || {
        (rng.random_range(SCAN_PAPER_MARGIN_RANGE.0..=SCAN_PAPER_MARGIN_RANGE.1) * side as f32)
            .round() as u32
    };
    let (left, right, top, bottom) = (margin(), margin(), margin(), margin());
    let (w, h) = (side + left + right, side + top + bottom);
    let mut coverage = vec![0.0f32; (w * h) as usize];
    for (x, y, p) in big.enumerate_pixels() {
        coverage[((y + top) * w + x + left) as usize] = f32::from(p[0]) / 255.0;
    }
    let paper = rng.random_range(PAPER_LEVEL_RANGE.0..=PAPER_LEVEL_RANGE.1);
    let ink_hi = SCAN_INK_LEVEL_RANGE
        .1
        .min(paper.saturating_sub(SCAN_MIN_INK_CONTRAST));
    let ink = rng.random_range(SCAN_INK_LEVEL_RANGE.0..=ink_hi.max(SCAN_INK_LEVEL_RANGE.0));
    let page = ink_on_paper(&coverage, w, h, paper, ink);
    let page = aug.apply(&page, rng)?;
    model_view(page, cfg, name)
}

/// Every item of `source` (28x28 MNIST views, white ink on black) through [`scan_mnist_digit`]
/// with the default [`ScanAugmentation`], item `i` seeded by `stable_hash(seed, "i")`. Items
/// that fail [`MAX_ATTEMPTS`] draws are listed as skipped, named `{name}[i]`. Groups are the
/// source items' indices.
pub fn scan_set(
    source: &LabeledSet,
    cfg: &ImageConfig,
    seed: u64,
    name: &str,
    bar: &ProgressBar,
) -> Result<(LabeledSet, Vec<SkippedItem>)> {
    check_gray(cfg)?;
    let aug = ScanAugmentation::default();
    let mut set = LabeledSet::new(vec![cfg.height as usize, cfg.width as usize]);
    let mut skipped = Vec::new();
    bar.inc_length(source.len() as u64);
    let results = par_items(source.len(), bar, |i| {
        let mut rng = ChaCha8Rng::seed_from_u64(stable_hash(seed, i.to_string().as_bytes()));
        let item_name = PathBuf::from(format!("{name}[{i}]"));
        with_attempts(&mut rng, |rng| {
            scan_mnist_digit(source.item(i), &aug, cfg, &item_name, rng)
        })
    });
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Ok(v) => set.push(&v, source.labels[i], i as u32),
            Err(e) => skipped.push(SkippedItem {
                file: format!("{name}[{i}]"),
                reason: gave_up(&e),
            }),
        }
    }
    Ok((set, skipped))
}

/// How the printed and scanned sets were made (`meta.print` of the data). Fields added since
/// format 2 began read as their defaults from older data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrintInfo {
    /// Whether printed digits were asked for (not `--no-fonts`).
    pub requested: bool,
    /// Font folders (or files) searched.
    pub font_dirs: Vec<String>,
    /// Font files looked at.
    pub font_files: usize,
    /// Font files left out as repeats of a kept digit design.
    pub duplicates: usize,
    /// Font files left out for lacking one of the ten digits (script, symbol, CJK fonts).
    pub without_digits: usize,
    /// Copies of each digit per training and per held-out typeface.
    pub copies_per_digit: (usize, usize),
    /// Seed of the printed digits.
    pub print_seed: u64,
    /// Seeds of `image_scan_train` and `image_scan_test`.
    pub scan_seeds: (u64, u64),
    /// Wall time of the printed and scanned sets, in seconds.
    pub elapsed_secs: f64,
}

/// Everything [`prepare_user_image_sets`] makes.
#[derive(Debug, Default)]
pub struct UserImageSets {
    /// Printed digits of the training typefaces (groups index `typefaces`).
    pub print_train: LabeledSet,
    /// Printed digits of the held-out typefaces (groups index `typefaces`).
    pub print_val: LabeledSet,
    /// Every kept typeface.
    pub typefaces: Vec<TypefaceInfo>,
    /// Every MNIST training digit scanned (groups index the source set).
    pub scan_train: LabeledSet,
    /// Every MNIST test digit scanned with another seed (groups index the source set).
    pub scan_test: LabeledSet,
    /// Font files and items left out, and why.
    pub skipped: Vec<SkippedItem>,
    /// Items of the print sets left out (font files and renderings).
    pub skipped_print: usize,
    /// Items of the scan sets left out.
    pub skipped_scan: usize,
    /// Warnings (no fonts found, ...).
    pub warnings: Vec<String>,
    /// Provenance.
    pub info: PrintInfo,
}

/// The printed-digit sets from the typefaces under `font_dirs` (`None`: no printed digits)
/// and the scanned versions of the MNIST sets `mnist_train` / `mnist_test` (28x28 model views),
/// with the default counts and seeds of this module. `bar(prefix, len)` makes a progress bar.
/// No typeface found is a warning, not an error; a font folder that does not exist is an
/// [`Error::InvalidRequest`].
pub fn prepare_user_image_sets(
    font_dirs: Option<&[PathBuf]>,
    mnist_train: &LabeledSet,
    mnist_test: &LabeledSet,
    cfg: &ImageConfig,
    bar: &dyn Fn(&'static str, u64) -> ProgressBar,
) -> Result<UserImageSets> {
    let start = std::time::Instant::now();
    let shape = vec![cfg.height as usize, cfg.width as usize];
    let mut out = UserImageSets {
        print_train: LabeledSet::new(shape.clone()),
        print_val: LabeledSet::new(shape),
        info: PrintInfo {
            requested: font_dirs.is_some(),
            print_seed: PRINT_SEED,
            scan_seeds: (SCAN_TRAIN_SEED, SCAN_TEST_SEED),
            ..PrintInfo::default()
        },
        ..UserImageSets::default()
    };
    if let Some(dirs) = font_dirs {
        let b = bar("print", 0);
        let sets = prepare_print_sets(dirs, cfg, PrintCounts::default(), PRINT_SEED, &b)?;
        b.finish_and_clear();
        if sets.typefaces.is_empty() {
            out.warnings.push(format!(
                "no typeface with all ten digits in {}: the printed-digit sets are empty \
                 (install fonts-dejavu-core or pass --fonts DIR)",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.info.font_dirs = dirs.iter().map(|d| d.display().to_string()).collect();
        out.info.font_files = sets.files;
        out.info.duplicates = sets.duplicates;
        out.info.without_digits = sets.without_digits;
        out.info.copies_per_digit = sets.copies_per_digit;
        out.skipped_print = sets.skipped.len();
        out.skipped.extend(sets.skipped);
        out.print_train = sets.train;
        out.print_val = sets.val;
        out.typefaces = sets.typefaces;
    }
    for (source, seed, name, slot) in [
        (
            mnist_train,
            SCAN_TRAIN_SEED,
            "image_train",
            &mut out.scan_train,
        ),
        (mnist_test, SCAN_TEST_SEED, "image_test", &mut out.scan_test),
    ] {
        let b = bar("scan", 0);
        let (set, skipped) = scan_set(source, cfg, seed, name, &b)?;
        b.finish_and_clear();
        out.skipped_scan += skipped.len();
        out.skipped.extend(skipped);
        *slot = set;
    }
    out.info.elapsed_secs = start.elapsed().as_secs_f64();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::mnist::MNIST_PIXELS;

    /// Side of an MNIST digit as an index.
    const SIDE: usize = MNIST_SIDE_PX as usize;

    const DEJAVU_DIR: &str = "/usr/share/fonts/truetype/dejavu";

    /// Three DejaVu families (fonts-dejavu-core): two or more, so one is held out.
    fn fonts() -> Vec<PathBuf> {
        ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"]
            .iter()
            .map(|f| Path::new(DEJAVU_DIR).join(f))
            .collect()
    }

    /// A 28x28 MNIST-like '1': a vertical bar, white on black.
    fn bar_one() -> Vec<f32> {
        let mut v = vec![0.0f32; MNIST_PIXELS];
        for y in 4..24 {
            for x in 13..16 {
                v[y * SIDE + x] = 1.0;
            }
        }
        v
    }

    fn centre_of_mass(v: &[f32]) -> (f32, f32) {
        let (mut m, mut mx, mut my) = (0.0, 0.0, 0.0);
        for (i, &p) in v.iter().enumerate() {
            m += p;
            mx += p * (i % SIDE) as f32;
            my += p * (i / SIDE) as f32;
        }
        (mx / m, my / m)
    }

    #[test]
    fn copies_shrink_to_the_cap_but_never_to_zero() {
        assert_eq!(copies_per_digit(10, 40, 20_000), 40);
        assert_eq!(copies_per_digit(300, 40, 20_000), 6);
        assert_eq!(copies_per_digit(5_000, 40, 20_000), 1);
        assert_eq!(copies_per_digit(0, 40, 20_000), 40);
    }

    #[test]
    fn scanned_mnist_digits_come_back_as_model_input() {
        let cfg = ImageConfig::default();
        let aug = ScanAugmentation::default();
        let name = PathBuf::from("scan-test");
        let one = bar_one();
        let mut bars = 0;
        for seed in 0..12 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let v = scan_mnist_digit(&one, &aug, &cfg, &name, &mut rng).expect("scan");
            assert_eq!(v.len(), MNIST_PIXELS);
            assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
            // White ink on black, centred by the MNIST recipe: a tall narrow bar. (A page
            // whose noise or shading the recipe takes for ink comes back smaller: allow 2.)
            let inked: Vec<usize> = (0..MNIST_PIXELS).filter(|&i| v[i] > 0.5).collect();
            let cols = inked.iter().map(|i| i % SIDE);
            let rows = inked.iter().map(|i| i / SIDE);
            let col_span = cols.clone().max().expect("ink") - cols.min().expect("ink") + 1;
            let row_span = rows.clone().max().expect("ink") - rows.min().expect("ink") + 1;
            let (cx, cy) = centre_of_mass(&v);
            let centred = (cx - 14.0).abs() < 1.0 && (cy - 14.0).abs() < 1.0;
            if row_span >= 17 && col_span <= 8 && centred {
                bars += 1;
            }
        }
        assert!(bars >= 10, "{bars} of 12 scans read as a centred bar");
        // Without degradation, the round trip gives the MNIST recipe's view of the bar: a
        // 20-row bar, to within a pixel.
        let none = ScanAugmentation::none();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v = scan_mnist_digit(&one, &none, &cfg, &name, &mut rng).expect("scan");
        let rows: Vec<usize> = (0..MNIST_PIXELS)
            .filter(|&i| v[i] > 0.5)
            .map(|i| i / SIDE)
            .collect();
        let span = rows.iter().max().expect("ink") - rows.iter().min().expect("ink") + 1;
        assert!((19..=21).contains(&span), "clean bar is {span} rows tall");
    }

    #[test]
    fn scan_set_is_seeded_and_keeps_labels_and_sources() {
        let cfg = ImageConfig::default();
        let mut source = LabeledSet::new(vec![SIDE, SIDE]);
        source.push(&bar_one(), 1, 0);
        source.push(&[0.0f32; MNIST_PIXELS], 0, 0);
        source.push(&bar_one(), 7, 0);
        let bar = ProgressBar::hidden();
        let (a, skipped) = scan_set(&source, &cfg, 5, "src", &bar).expect("scan set");
        let (b, _) = scan_set(&source, &cfg, 5, "src", &bar).expect("scan set");
        let (c, _) = scan_set(&source, &cfg, 6, "src", &bar).expect("scan set");
        assert_eq!(a, b, "same seed, same set");
        assert_ne!(a.features, c.features, "another seed, other pages");
        assert_eq!(a.labels, vec![1, 7]);
        assert_eq!(a.groups, vec![0, 2], "groups index the source items");
        assert_eq!(skipped.len(), 1, "the blank item is skipped");
        assert_eq!(skipped[0].file, "src[1]");
        assert!(
            skipped[0].reason.contains("gave up"),
            "{}",
            skipped[0].reason
        );
    }

    #[test]
    fn print_sets_from_dejavu_split_by_family() {
        let cfg = ImageConfig::default();
        let bar = ProgressBar::hidden();
        let counts = PrintCounts {
            train_per_digit: 2,
            val_per_digit: 1,
            ..PrintCounts::default()
        };
        let sets = prepare_print_sets(&fonts(), &cfg, counts, 9, &bar).expect("print sets");
        let n = sets.typefaces.len();
        assert_eq!(n, 3, "three distinct designs");
        let held = sets.typefaces.iter().filter(|t| t.held_out).count();
        assert!(
            held >= 1 || n == 1,
            "with two or more typefaces one is held out"
        );
        assert_eq!(sets.copies_per_digit, (2, 1));
        assert_eq!(sets.train.len(), (n - held) * 10 * 2);
        assert_eq!(sets.val.len(), held * 10);
        assert_eq!(sets.train.per_digit(), vec![(n - held) * 2; 10]);
        // Groups index the typefaces, on the right side of the split.
        assert!(
            sets.train
                .groups
                .iter()
                .all(|&g| !sets.typefaces[g as usize].held_out)
        );
        assert!(
            sets.val
                .groups
                .iter()
                .all(|&g| sets.typefaces[g as usize].held_out)
        );
        // Model views: 28x28 in 0..1 with ink.
        assert_eq!(sets.train.feature_shape, vec![SIDE, SIDE]);
        assert!(sets.train.features.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!((0..sets.train.len()).all(|i| sets.train.item(i).iter().any(|&v| v > 0.5)));
        // Seeded.
        let again = prepare_print_sets(&fonts(), &cfg, counts, 9, &bar).expect("print sets");
        assert_eq!(again.train, sets.train);
        assert_eq!(again.val, sets.val);
    }
}
