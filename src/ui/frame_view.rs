//! Per-frame view state: what the pointer is over and where each chart was drawn. The app
//! owns it and rebuilds it every frame while the panels draw; the panels read last frame's
//! (a hovered code lights its users everywhere). Kept apart from the [`Session`], which holds
//! what is loaded, analysed and selected, and knows nothing of egui.

use crate::ui::session::Session;

/// Screen rectangles of the charts (for PNG export), in points.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChartRects {
    pub map: Option<egui::Rect>,
    pub usage: Option<egui::Rect>,
    pub code_strip: Option<egui::Rect>,
    pub confusion: Option<egui::Rect>,
    pub low_resource: Option<egui::Rect>,
    /// The open code page.
    pub code_page: Option<egui::Rect>,
}

/// What one frame drew and what was under the pointer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameView {
    /// Code under the pointer (a strip, the usage chart, a code point on the map).
    pub hovered_code: Option<u32>,
    /// Gallery item under the pointer on the map.
    pub hovered_gallery: Option<usize>,
    pub chart_rects: ChartRects,
}

impl FrameView {
    /// The code every panel highlights: the one under the pointer, else the selected one.
    pub fn focus(&self, session: &Session) -> Option<u32> {
        self.hovered_code.or(session.selected_code)
    }

    /// True when a code is in focus and differs from `code` (so `code` is drawn dimmed).
    pub fn dims(&self, session: &Session, code: u32) -> bool {
        self.focus(session).is_some_and(|c| c != code)
    }

    /// True when `code` is selected or under the pointer (so it is drawn outlined).
    pub fn outlines(&self, session: &Session, code: u32) -> bool {
        session.selected_code == Some(code) || self.hovered_code == Some(code)
    }
}
