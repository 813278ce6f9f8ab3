//! A drawing canvas: thick mouse strokes, shown white-on-black or black-on-white, rasterised
//! to white ink on black for the model ([`InputSource::Drawing`]) when a stroke ends.

use egui::{Pos2, Sense, Shape, Stroke, Vec2};

use crate::engine::InputSource;
use crate::ui::theme;

/// Pen radius as a fraction of the canvas side (MNIST strokes are ~2.5 px of 28).
pub const PEN_RADIUS: f32 = 0.05;
/// Side of the rasterised drawing sent to the model (it resizes to its own input).
pub const RASTER_SIDE: u32 = 112;

/// What happened on the canvas this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanvasEvent {
    None,
    /// A stroke was finished: analyse the drawing.
    StrokeEnded,
    /// The canvas was cleared.
    Cleared,
}

/// Strokes in normalised coordinates (0..1, origin top-left).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Canvas {
    strokes: Vec<Vec<Pos2>>,
    current: Vec<Pos2>,
}

impl Canvas {
    /// True when nothing is drawn.
    pub fn is_empty(&self) -> bool {
        self.strokes.is_empty() && self.current.is_empty()
    }

    /// Removes every stroke.
    pub fn clear(&mut self) {
        self.strokes.clear();
        self.current.clear();
    }

    /// Adds a finished stroke (normalised points); for tests and scripted demos.
    pub fn add_stroke(&mut self, points: Vec<Pos2>) {
        if !points.is_empty() {
            self.strokes.push(points);
        }
    }

    /// Draws the canvas (a square of `side` points) and its buttons.
    pub fn show(&mut self, ui: &mut egui::Ui, white_on_black: &mut bool, side: f32) -> CanvasEvent {
        let mut event = CanvasEvent::None;
        let (bg, ink) = theme::canvas_colors(*white_on_black);
        let (response, painter) = ui.allocate_painter(Vec2::splat(side), Sense::drag());
        response
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::Canvas, true, "Drawing canvas"));
        let rect = response.rect;
        let to_norm = |p: Pos2| {
            Pos2::new(
                ((p.x - rect.left()) / rect.width()).clamp(0.0, 1.0),
                ((p.y - rect.top()) / rect.height()).clamp(0.0, 1.0),
            )
        };
        if response.dragged()
            && let Some(p) = response.interact_pointer_pos()
        {
            let n = to_norm(p);
            if self.current.last() != Some(&n) {
                self.current.push(n);
            }
        }
        if response.drag_stopped() && !self.current.is_empty() {
            let stroke = std::mem::take(&mut self.current);
            self.strokes.push(stroke);
            event = CanvasEvent::StrokeEnded;
        }
        painter.rect_filled(rect, 6, bg);
        let width = PEN_RADIUS * 2.0 * side;
        let to_screen = |p: &Pos2| rect.min + Vec2::new(p.x * rect.width(), p.y * rect.height());
        for stroke in self.strokes.iter().chain(std::iter::once(&self.current)) {
            let pts: Vec<Pos2> = stroke.iter().map(to_screen).collect();
            for p in &pts {
                painter.circle_filled(*p, width / 2.0, ink);
            }
            if pts.len() > 1 {
                painter.add(Shape::line(pts, Stroke::new(width, ink)));
            }
        }
        if self.is_empty() {
            painter.text(
                rect.center(),
                egui::Align2::CENTER_CENTER,
                "draw a digit here",
                egui::FontId::proportional(15.0),
                theme::muted_text(),
            );
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.is_empty(), egui::Button::new("Clear"))
                .on_hover_text("Erase the drawing")
                .clicked()
            {
                self.clear();
                event = CanvasEvent::Cleared;
            }
            let label = if *white_on_black {
                "White on black"
            } else {
                "Black on white"
            };
            if ui
                .button(label)
                .on_hover_text(
                    "Switch the canvas colours (the model always reads white ink on black)",
                )
                .clicked()
            {
                *white_on_black = !*white_on_black;
            }
        });
        event
    }

    /// Rasterises the strokes at `side` x `side`: white ink (1.0) on black (0.0), antialiased.
    pub fn rasterize(&self, side: u32) -> Vec<f32> {
        let n = side as usize;
        let mut values = vec![0.0f32; n * n];
        let s = side as f32;
        let r = PEN_RADIUS * s;
        let mut stamp = |a: Pos2, b: Pos2| {
            let (a, b) = (Pos2::new(a.x * s, a.y * s), Pos2::new(b.x * s, b.y * s));
            let x0 = (a.x.min(b.x) - r - 1.0).floor().max(0.0) as usize;
            let x1 = ((a.x.max(b.x) + r + 1.0).ceil() as usize).min(n);
            let y0 = (a.y.min(b.y) - r - 1.0).floor().max(0.0) as usize;
            let y1 = ((a.y.max(b.y) + r + 1.0).ceil() as usize).min(n);
            let ab = b - a;
            let len2 = ab.length_sq();
            for y in y0..y1 {
                for x in x0..x1 {
                    let p = Pos2::new(x as f32 + 0.5, y as f32 + 0.5);
                    let t = if len2 > 0.0 {
                        ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
                    } else {
                        0.0
                    };
                    let d = (p - (a + ab * t)).length();
                    let v = (r + 0.5 - d).clamp(0.0, 1.0);
                    let cell = &mut values[y * n + x];
                    *cell = cell.max(v);
                }
            }
        };
        for stroke in self.strokes.iter().chain(std::iter::once(&self.current)) {
            match stroke.len() {
                0 => {}
                1 => stamp(stroke[0], stroke[0]),
                _ => {
                    for w in stroke.windows(2) {
                        stamp(w[0], w[1]);
                    }
                }
            }
        }
        values
    }

    /// The drawing as a model input, if anything is drawn.
    pub fn to_input(&self) -> Option<InputSource> {
        if self.is_empty() {
            return None;
        }
        Some(InputSource::Drawing {
            width: RASTER_SIDE,
            height: RASTER_SIDE,
            values: self.rasterize(RASTER_SIDE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vertical_stroke_inks_the_middle_column_only() {
        let mut c = Canvas::default();
        assert!(c.to_input().is_none());
        c.add_stroke(vec![Pos2::new(0.5, 0.2), Pos2::new(0.5, 0.8)]);
        let v = c.rasterize(28);
        assert_eq!(v[14 * 28 + 14], 1.0);
        assert_eq!(v[14 * 28 + 2], 0.0);
        assert_eq!(v[2 * 28 + 14], 0.0);
        assert!(matches!(
            c.to_input(),
            Some(InputSource::Drawing { width: 112, .. })
        ));
    }
}
