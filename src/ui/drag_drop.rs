//! Drag and drop onto the window: what dropped files mean, and the overlay shown while files
//! are dragged over it.

use std::path::PathBuf;

use egui::{Id, LayerId, Order};

use crate::engine::InputSource;
use crate::ui::{Command, theme};

/// Commands for the files dropped on the window this frame: a bundle folder opens as the
/// model, anything else is queued as an input.
pub fn dropped_files(ctx: &egui::Context) -> Vec<Command> {
    let dropped: Vec<PathBuf> = ctx.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    dropped
        .into_iter()
        .map(|path| {
            if path.is_dir() && path.join(crate::bundle::MANIFEST_FILE).exists() {
                Command::OpenModel(path)
            } else {
                Command::AddInput(InputSource::File(path))
            }
        })
        .collect()
}

/// Covers the window with a "Drop to analyse" overlay naming the files being dragged over it.
pub fn overlay(ctx: &egui::Context) {
    let hovered: Vec<String> = ctx.input(|i| {
        i.raw
            .hovered_files
            .iter()
            .map(|f| {
                f.path
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| f.mime.clone())
            })
            .collect()
    });
    if hovered.is_empty() {
        return;
    }
    let painter = ctx.layer_painter(LayerId::new(Order::Foreground, Id::unique("drop-overlay")));
    let rect = ctx.content_rect();
    painter.rect_filled(rect, 0, theme::drop_overlay());
    painter.rect_stroke(
        rect.shrink(16.0),
        16,
        egui::Stroke::new(3.0, theme::accent()),
        egui::StrokeKind::Inside,
    );
    painter.text(
        rect.center() - egui::vec2(0.0, 20.0),
        egui::Align2::CENTER_CENTER,
        "Drop to analyse",
        egui::FontId::proportional(40.0),
        theme::strong_text(),
    );
    let names = hovered.join(", ");
    painter.text(
        rect.center() + egui::vec2(0.0, 30.0),
        egui::Align2::CENTER_CENTER,
        crate::ui::text::short(&names, 80),
        egui::FontId::proportional(20.0),
        theme::muted_text(),
    );
}
