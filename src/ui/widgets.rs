//! The small widgets every panel draws with: sections, modality chips, icons and icon
//! buttons, muted text, and time formatting. Colours come from [`crate::ui::theme`].

use egui::{RichText, Ui};

use crate::modality::Modality;
use crate::ui::theme;

/// A titled card around a group of widgets.
pub fn section<R>(ui: &mut Ui, title: &str, add: impl FnOnce(&mut Ui) -> R) -> R {
    egui::Frame::new()
        .fill(theme::faint_bg())
        .stroke(egui::Stroke::new(1.0, theme::card_stroke()))
        .corner_radius(8)
        .inner_margin(10)
        .show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.label(RichText::new(title).heading().color(theme::strong_text()));
            ui.add_space(2.0);
            add(ui)
        })
        .inner
}

/// A small coloured tag naming a modality.
pub fn modality_chip(ui: &mut Ui, m: Modality) -> egui::Response {
    let color = theme::modality_color(m);
    egui::Frame::new()
        .fill(color.gamma_multiply(0.22))
        .stroke(egui::Stroke::new(1.0, color))
        .corner_radius(10)
        .inner_margin(egui::Margin::symmetric(7, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(m.name()).color(color).size(14.0));
        })
        .response
}

/// Icons painted with shapes (the bundled fonts have no symbols such as arrows or triangles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Icon {
    /// A right-pointing triangle.
    Play,
    /// A circle with "!".
    Warning,
    /// A circle with "i".
    Info,
    /// A right arrow.
    Arrow,
    /// A filled square (stop).
    Stop,
    /// A filled circle (record).
    Record,
}

/// Paints `icon` centred in `rect`.
pub fn paint_icon(painter: &egui::Painter, rect: egui::Rect, icon: Icon, color: egui::Color32) {
    let c = rect.center();
    let r = rect.width().min(rect.height()) / 2.0;
    match icon {
        Icon::Play => {
            let pts = vec![
                c + egui::vec2(-0.45 * r, -0.6 * r),
                c + egui::vec2(0.65 * r, 0.0),
                c + egui::vec2(-0.45 * r, 0.6 * r),
            ];
            painter.add(egui::Shape::convex_polygon(pts, color, egui::Stroke::NONE));
        }
        Icon::Warning | Icon::Info => {
            painter.circle_filled(c, r * 0.9, color);
            let text = if icon == Icon::Warning { "!" } else { "i" };
            painter.text(
                c,
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(r * 1.4),
                theme::text_on(color),
            );
        }
        Icon::Stop => {
            let square = egui::Rect::from_center_size(c, egui::Vec2::splat(r * 1.1));
            painter.rect_filled(square, 1.5, color);
        }
        Icon::Record => {
            painter.circle_filled(c, r * 0.6, color);
        }
        Icon::Arrow => {
            let from = c - egui::vec2(r * 0.9, 0.0);
            painter.arrow(
                from,
                egui::vec2(r * 1.8, 0.0),
                egui::Stroke::new(1.5, color),
            );
        }
    }
}

/// An icon of `size` points in the layout.
pub fn icon(ui: &mut Ui, icon: Icon, size: f32, color: egui::Color32) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::Vec2::splat(size), egui::Sense::hover());
    paint_icon(ui.painter(), rect, icon, color);
    response
}

/// A button with a painted play triangle before its text.
pub fn play_button(ui: &mut Ui, enabled: bool, text: &str, hint: &str) -> egui::Response {
    icon_button(ui, Icon::Play, None, enabled, text, hint)
}

/// A button with a painted `icon` (in `icon_color`, else the text colour) before its text;
/// its accessible name is `text` ("Play" when empty). A disabled button still shows `hint`
/// on hover, so it can say why it is disabled.
pub fn icon_button(
    ui: &mut Ui,
    icon: Icon,
    icon_color: Option<egui::Color32>,
    enabled: bool,
    text: &str,
    hint: &str,
) -> egui::Response {
    let galley = ui.painter().layout_no_wrap(
        text.to_string(),
        egui::TextStyle::Button.resolve(ui.style()),
        theme::strong_text(),
    );
    let pad = ui.spacing().button_padding;
    let icon_w = 16.0;
    let gap = if text.is_empty() { 0.0 } else { 6.0 };
    let size = egui::vec2(
        pad.x * 2.0 + icon_w + gap + galley.size().x,
        ui.spacing()
            .interact_size
            .y
            .max(galley.size().y + pad.y * 2.0),
    );
    let sense = if enabled {
        egui::Sense::click()
    } else {
        egui::Sense::hover()
    };
    let (rect, response) = ui.allocate_exact_size(size, sense);
    let label = match (text.is_empty(), icon) {
        (false, _) => text,
        (true, Icon::Stop) => "Stop",
        (true, Icon::Record) => "Record",
        (true, _) => "Play",
    };
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, enabled, label));
    let visuals = if enabled {
        *ui.style().interact(&response)
    } else {
        ui.style().visuals.widgets.noninteractive
    };
    ui.painter().rect(
        rect,
        visuals.corner_radius,
        visuals.weak_bg_fill,
        visuals.bg_stroke,
        egui::StrokeKind::Inside,
    );
    let color = if enabled {
        theme::strong_text()
    } else {
        theme::muted_text()
    };
    let icon_rect = egui::Rect::from_center_size(
        egui::pos2(rect.left() + pad.x + icon_w / 2.0, rect.center().y),
        egui::Vec2::splat(icon_w),
    );
    let icon_color = match icon_color {
        Some(c) if enabled => c,
        _ => color,
    };
    paint_icon(ui.painter(), icon_rect, icon, icon_color);
    ui.painter().galley_with_override_text_color(
        egui::pos2(
            icon_rect.right() + gap,
            rect.center().y - galley.size().y / 2.0,
        ),
        galley,
        color,
    );
    response.on_hover_text(hint)
}

/// Secondary (muted) text.
pub fn muted(ui: &mut Ui, text: impl Into<String>) -> egui::Response {
    ui.label(RichText::new(text.into()).color(theme::muted_text()))
}

/// Formats milliseconds for the status bar.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_read_well() {
        assert_eq!(super::format_ms(3.04), "3.0 ms");
        assert_eq!(super::format_ms(42.4), "42 ms");
        assert_eq!(super::format_ms(1500.0), "1.50 s");
    }
}
