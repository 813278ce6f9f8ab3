//! Dismissable notifications (toasts) in the top-right corner. Each carries the specific
//! reason from the worker's event; they expire after [`LIFETIME_SECS`] unless hovered.

use egui::{Align2, Id, Order, RichText};

use crate::ui::{Icon, icon, theme};

/// Seconds a notification stays on screen.
pub const LIFETIME_SECS: f64 = 10.0;
/// Most notifications kept at once (oldest dropped first).
const MAX_SHOWN: usize = 5;

/// How serious a notification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
    Error,
}

/// Colour of a notification's level (theme colours; the theme knows nothing of levels).
pub fn level_color(level: Level) -> egui::Color32 {
    match level {
        Level::Info => theme::success(),
        Level::Warning => theme::warning(),
        Level::Error => theme::error(),
    }
}

/// One notification.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    pub id: u64,
    pub level: Level,
    /// What it is about (e.g. the input's file name).
    pub title: String,
    /// The specific reason.
    pub message: String,
    /// Context time (seconds) it was shown first; `None` until drawn once.
    pub shown_at: Option<f64>,
}

/// The list of live notifications.
#[derive(Default)]
pub struct Notifications {
    items: Vec<Notification>,
    next_id: u64,
}

impl Notifications {
    /// Adds a notification.
    pub fn push(&mut self, level: Level, title: impl Into<String>, message: impl Into<String>) {
        self.next_id += 1;
        let title = title.into();
        let message = message.into();
        // The same message twice in a row is shown once (e.g. a repeated drop).
        if let Some(last) = self.items.last_mut()
            && last.title == title
            && last.message == message
        {
            last.shown_at = None;
            return;
        }
        self.items.push(Notification {
            id: self.next_id,
            level,
            title,
            message,
            shown_at: None,
        });
        if self.items.len() > MAX_SHOWN {
            self.items.remove(0);
        }
    }

    /// Shortcut for an error.
    pub fn error(&mut self, title: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Error, title, message);
    }

    /// Shortcut for information.
    pub fn info(&mut self, title: impl Into<String>, message: impl Into<String>) {
        self.push(Level::Info, title, message);
    }

    /// Live notifications, oldest first.
    pub fn items(&self) -> &[Notification] {
        &self.items
    }

    /// Removes one notification.
    pub fn dismiss(&mut self, id: u64) {
        self.items.retain(|n| n.id != id);
    }

    /// Draws the notifications in the top-right corner and expires old ones.
    pub fn show(&mut self, ctx: &egui::Context) {
        if self.items.is_empty() {
            return;
        }
        let now = ctx.input(|i| i.time);
        let mut dismissed = Vec::new();
        egui::Area::new(Id::unique("notifications"))
            .anchor(Align2::RIGHT_TOP, egui::vec2(-14.0, 48.0))
            .order(Order::Foreground)
            .show(ctx, |ui| {
                ui.set_width(430.0);
                for n in self.items.iter_mut().rev() {
                    let shown_at = *n.shown_at.get_or_insert(now);
                    let color = level_color(n.level);
                    let frame = egui::Frame::new()
                        .fill(theme::window_fill())
                        .stroke(egui::Stroke::new(1.5, color))
                        .corner_radius(8)
                        .inner_margin(10);
                    let r = frame.show(ui, |ui| {
                        ui.horizontal(|ui| {
                            let kind = match n.level {
                                Level::Info => Icon::Info,
                                Level::Warning | Level::Error => Icon::Warning,
                            };
                            icon(ui, kind, 22.0, color);
                            ui.vertical(|ui| {
                                ui.set_width(340.0);
                                ui.label(RichText::new(&n.title).strong().color(color));
                                ui.label(RichText::new(&n.message).color(theme::strong_text()));
                            });
                            if ui
                                .add(egui::Button::new(RichText::new("×").size(18.0)).frame(false))
                                .on_hover_text("Dismiss")
                                .clicked()
                            {
                                dismissed.push(n.id);
                            }
                        });
                    });
                    if r.response.contains_pointer() {
                        n.shown_at = Some(now);
                    }
                    if now - shown_at > LIFETIME_SECS {
                        dismissed.push(n.id);
                    }
                    ui.add_space(6.0);
                }
            });
        for id in dismissed {
            self.dismiss(id);
        }
        if !self.items.is_empty() {
            ctx.request_repaint_after(std::time::Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_messages_collapse_and_old_ones_drop() {
        let mut n = Notifications::default();
        n.error("a.png", "bad");
        n.error("a.png", "bad");
        assert_eq!(n.items().len(), 1);
        for i in 0..10 {
            n.info(format!("t{i}"), "m");
        }
        assert_eq!(n.items().len(), MAX_SHOWN);
        let id = n.items()[0].id;
        n.dismiss(id);
        assert_eq!(n.items().len(), MAX_SHOWN - 1);
    }
}
