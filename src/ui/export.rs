//! Exports: the gallery and current inputs as TensorBoard Embedding Projector TSV (written by
//! the worker, which holds the embeddings: `Job::ExportProjector`), and the window and its
//! charts as PNG from an eframe screenshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use egui::{ColorImage, Rect};

use crate::index::projector::ProjectorRow;
use crate::ui::state::{ChartRects, InputStatus, Session};

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
) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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
    ];
    let mut written = Vec::new();
    for (name, rect) in parts {
        let Some(rect) = rect else { continue };
        let Some(img) = crop(&image, rect.expand(4.0), pixels_per_point) else {
            continue;
        };
        let path = dir.join(name);
        img.save(&path)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
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
}
