//! Exports: the gallery and current inputs as TensorBoard Embedding Projector TSV (written by
//! the worker, which holds the embeddings: `Job::ExportProjector`), the window and its
//! charts as PNG from an eframe screenshot, the low-resource curves' figure data as CSV
//! and JSON, and a code page as PNG, JSON and WAV.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{ColorImage, Rect};

use crate::error::Error;
use crate::index::low_resource::{CSV_HEADER, LowResourceReport, to_csv_rows};
use crate::index::projector::ProjectorRow;
use crate::ui::frame_view::ChartRects;
use crate::ui::session::Session;
use crate::ui::state::InputStatus;

/// The current inputs as extra projector rows (label: the top zero-shot label, if any).
pub fn input_rows(session: &Session) -> Vec<ProjectorRow> {
    session
        .inputs
        .iter()
        .filter_map(|e| {
            let InputStatus::Done(a) = &e.status else {
                return None;
            };
            let label = match e.zero_shot() {
                Some(Ok(s)) => s
                    .iter()
                    .max_by(|x, y| x.probability.total_cmp(&y.probability))
                    .map(|t| format!("{} (zero-shot)", t.label))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Some(ProjectorRow {
                modality: a.input.modality,
                label,
                source: format!("input: {}", e.name),
                embedding: a.input.item.embedding.clone(),
            })
        })
        .collect()
}

/// Crops `rect` (points) out of a screenshot taken at `pixels_per_point`.
pub fn crop(image: &ColorImage, rect: Rect, pixels_per_point: f32) -> Option<image::RgbaImage> {
    let [w, h] = image.size;
    let x0 = ((rect.min.x * pixels_per_point).floor().max(0.0) as usize).min(w);
    let y0 = ((rect.min.y * pixels_per_point).floor().max(0.0) as usize).min(h);
    let x1 = ((rect.max.x * pixels_per_point).ceil().max(0.0) as usize).min(w);
    let y1 = ((rect.max.y * pixels_per_point).ceil().max(0.0) as usize).min(h);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut out = image::RgbaImage::new((x1 - x0) as u32, (y1 - y0) as u32);
    for y in y0..y1 {
        for x in x0..x1 {
            let c = image.pixels[y * w + x];
            out.put_pixel(
                (x - x0) as u32,
                (y - y0) as u32,
                image::Rgba(c.to_srgba_unmultiplied()),
            );
        }
    }
    Some(out)
}

/// Saves the whole window and each visible chart as PNG files in `dir`.
pub fn save_charts(
    image: Arc<ColorImage>,
    rects: ChartRects,
    pixels_per_point: f32,
    dir: &Path,
) -> crate::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let full = Rect::from_min_size(
        egui::Pos2::ZERO,
        egui::vec2(image.size[0] as f32, image.size[1] as f32) / pixels_per_point,
    );
    let parts = [
        ("window.png", Some(full)),
        ("map.png", rects.map),
        ("codebook_usage.png", rects.usage),
        ("code_strip.png", rects.code_strip),
        ("confusion.png", rects.confusion),
        ("low_resource.png", rects.low_resource),
    ];
    let mut written = Vec::new();
    for (name, rect) in parts {
        let Some(rect) = rect else { continue };
        let Some(img) = crop(&image, rect.expand(4.0), pixels_per_point) else {
            continue;
        };
        let path = dir.join(name);
        save_png(&img, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// File names of a code page's export, for code `code`: the page as shown (PNG), its facts
/// (JSON, as `transference code-page --json` prints them) and its decoded sound (WAV).
pub fn code_page_files(code: u32) -> [String; 3] {
    [
        format!("code_{code}.png"),
        format!("code_{code}.json"),
        format!("code_{code}.wav"),
    ]
}

/// Writes a code page into `dir` (created if missing): its JSON, its decoded sound when it has
/// one, and the page cropped from `shot` (screenshot, page rectangle in points, pixels per
/// point) when it was on screen. Returns the paths written.
pub fn save_code_page(
    dir: &Path,
    page: &crate::engine::code_page::CodePage,
    shot: Option<(&ColorImage, Rect, f32)>,
) -> crate::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let [png, json, wav] = code_page_files(page.facts.code).map(|name| dir.join(name));
    let text = serde_json::to_string_pretty(&page.to_json()?)
        .map_err(|e| Error::Internal(e.to_string()))?;
    crate::safe_write::write_file(&json, text.as_bytes())?;
    let mut written = vec![json];
    if let Some(sound) = &page.decoded.sound {
        crate::preprocess::wav_write::write_wav_mono(&wav, &sound.samples, sound.sample_rate_hz)?;
        written.push(wav);
    }
    if let Some(img) = shot.and_then(|(image, rect, ppp)| crop(image, rect.expand(4.0), ppp)) {
        save_png(&img, &png)?;
        written.push(png);
    }
    Ok(written)
}

/// Writes `img` as a PNG at `path`, whole or not at all.
fn save_png(img: &image::RgbaImage, path: &Path) -> crate::Result<()> {
    crate::safe_write::write_file_with(path, |tmp| {
        img.save_with_format(tmp, image::ImageFormat::Png)
            .map_err(|e| Error::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })
    })
}

/// File name of the low-resource curves' CSV.
pub const LOW_RESOURCE_CSV: &str = "low_resource.csv";
/// File name of the low-resource curves' JSON.
pub const LOW_RESOURCE_JSON: &str = "low_resource.json";

/// Writes the curves' figure data as `low_resource.csv` (one row per case and level) and
/// `low_resource.json` (the whole report) in `dir` (created if missing); returns the paths.
pub fn save_low_resource(dir: &Path, report: &LowResourceReport) -> crate::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let csv_path = dir.join(LOW_RESOURCE_CSV);
    crate::safe_write::write_csv_with(&csv_path, |w| {
        w.write_record(CSV_HEADER)?;
        to_csv_rows(report)
            .iter()
            .try_for_each(|row| w.write_record(row))
    })?;
    let json_path = dir.join(LOW_RESOURCE_JSON);
    let json = serde_json::to_vec_pretty(report).map_err(|e| Error::Internal(e.to_string()))?;
    crate::safe_write::write_file(&json_path, &json)?;
    Ok(vec![csv_path, json_path])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_clamps_to_the_image() {
        let img = ColorImage::new([10, 8], vec![crate::ui::theme::error(); 80]);
        let r = Rect::from_min_max(egui::pos2(2.0, 2.0), egui::pos2(50.0, 3.0));
        let c = crop(&img, r, 2.0).unwrap();
        assert_eq!((c.width(), c.height()), (6, 2));
        assert!(
            crop(
                &img,
                Rect::from_min_max(egui::pos2(20.0, 20.0), egui::pos2(30.0, 30.0)),
                1.0
            )
            .is_none()
        );
    }

    #[test]
    fn low_resource_export_writes_csv_rows_and_the_json_report() {
        use crate::index::low_resource::{CurvePoint, ZeroShotPoint};
        let point = |l: usize, mean: Option<f32>| CurvePoint {
            labels_per_class: l,
            mean,
            sd: mean.map(|_| 0.01),
            draws: usize::from(mean.is_some()) * 10,
            unavailable: mean.is_none().then(|| "too few".to_string()),
        };
        let report = LowResourceReport {
            primary: crate::modality::Modality::Audio,
            helper: crate::modality::Modality::Image,
            features: crate::index::transfer::TransferFeatures::BagOfCodes,
            labels: vec!["a".into(), "b".into()],
            test_per_class: 10,
            n_test: 20,
            pool_per_class: vec![20, 23],
            helper_per_class: 30,
            draws: 10,
            chance: 0.5,
            degradation: Some("white noise at 10 dB SNR".into()),
            primary_only: vec![point(1, Some(0.6)), point(50, None)],
            with_helper: vec![point(1, Some(0.9)), point(50, None)],
            zero_shot: ZeroShotPoint {
                accuracy: Some(0.75),
                unavailable: None,
            },
        };
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new");
        let files = save_low_resource(&dir, &report).unwrap();
        let mut reader = csv::Reader::from_path(&files[0]).unwrap();
        assert_eq!(reader.headers().unwrap(), CSV_HEADER.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let find = |case: &str, l: &str| {
            rows.iter()
                .find(|r| &r[0] == case && &r[1] == l)
                .unwrap()
                .clone()
        };
        assert_eq!(&find("with_helper", "1")[2], "0.9000");
        assert_eq!(&find("primary_only", "50")[2], "");
        assert_eq!(&find("primary_only", "50")[5], "too few");
        assert_eq!(&find("zero_shot", "50")[2], "0.7500");
        assert_eq!(&find("chance", "1")[2], "0.5000");
        let back: LowResourceReport =
            serde_json::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
        assert_eq!(back, report);
    }
}
