//! Dismissable notifications (toasts) in the top-right corner. Each carries the specific
//! reason from the worker's event; they expire after [`LIFETIME_SECS`] unless hovered. A
//! notification about many inputs stays one line; its *Details* button opens a window with
//! every input and reason, scrollable and copyable, which stays open after the toast expires.

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
    /// Every input and its reason, for a notification about many (empty for one).
    pub details: Vec<DetailLine>,
}

/// One line of a notification's details: which input, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct DetailLine {
    pub input: String,
    pub reason: String,
}

/// `reason` without a leading `…input: ` (error messages name their file first; the details
/// show the input beside the reason already).
pub fn reason_after_input<'a>(input: &str, reason: &'a str) -> &'a str {
    reason
        .split_once(": ")
        .filter(|(head, _)| head.ends_with(input))
        .map_or(reason, |(_, rest)| rest)
}

/// Label of a notification's button that opens its details.
pub const DETAILS_LABEL: &str = "Details";
/// Label of the details window's button that copies every line.
pub const COPY_DETAILS_LABEL: &str = "Copy all";

/// The details window's contents.
#[derive(Clone, Debug, PartialEq)]
struct OpenDetails {
    title: String,
    lines: Vec<DetailLine>,
}

/// The list of live notifications.
#[derive(Default)]
pub struct Notifications {
    items: Vec<Notification>,
    next_id: u64,
    open_details: Option<OpenDetails>,
}

impl Notifications {
    /// Adds a notification.
    pub fn push(&mut self, level: Level, title: impl Into<String>, message: impl Into<String>) {
        self.push_with_details(level, title, message, Vec::new());
    }

    /// Adds a notification about many inputs: `message` is its one line, `details` every
    /// input and reason (shown by its *Details* button).
    pub fn push_with_details(
        &mut self,
        level: Level,
        title: impl Into<String>,
        message: impl Into<String>,
        details: Vec<DetailLine>,
    ) {
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
            details,
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

    /// Removes and returns the newest notification when it is about many inputs (it has
    /// details), so a drop analysed in several chunks can stay one notification.
    pub fn take_last_with_details(&mut self) -> Option<Notification> {
        if self.items.last()?.details.is_empty() {
            return None;
        }
        self.items.pop()
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
        self.show_details(ctx);
        if self.items.is_empty() {
            return;
        }
        let now = ctx.input(|i| i.time);
        let mut dismissed = Vec::new();
        let mut opened = None;
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
                                if !n.details.is_empty()
                                    && ui
                                        .button(DETAILS_LABEL)
                                        .on_hover_text("Every input and why, to read or copy")
                                        .clicked()
                                {
                                    opened = Some(OpenDetails {
                                        title: n.title.clone(),
                                        lines: n.details.clone(),
                                    });
                                }
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
        if opened.is_some() {
            self.open_details = opened;
        }
        if !self.items.is_empty() {
            ctx.request_repaint_after(std::time::Duration::from_millis(500));
        }
    }
}

impl Notifications {
    /// The details window: one row per input (only the visible rows are laid out), and a
    /// button that copies every line as `input<TAB>reason`.
    fn show_details(&mut self, ctx: &egui::Context) {
        let Some(details) = &self.open_details else {
            return;
        };
        let mut open = true;
        egui::Window::new(&details.title)
            .id(Id::unique("notification-details"))
            .open(&mut open)
            .default_size([620.0, 360.0])
            .collapsible(false)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.label(format!("{} inputs", details.lines.len()));
                    if ui.button(COPY_DETAILS_LABEL).clicked() {
                        let text: Vec<String> = details
                            .lines
                            .iter()
                            .map(|l| format!("{}\t{}", l.input, l.reason))
                            .collect();
                        ui.ctx().copy_text(text.join("\n"));
                    }
                });
                ui.separator();
                let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
                egui::ScrollArea::vertical().auto_shrink(false).show_rows(
                    ui,
                    row_height,
                    details.lines.len(),
                    |ui, rows| {
                        for line in &details.lines[rows] {
                            ui.horizontal(|ui| {
                                ui.label(RichText::new(&line.input).strong());
                                let reason = reason_after_input(&line.input, &line.reason);
                                ui.add(
                                    egui::Label::new(
                                        RichText::new(reason).color(theme::muted_text()),
                                    )
                                    .truncate(),
                                )
                                .on_hover_text(&line.reason);
                            });
                        }
                    },
                );
            });
        if !open {
            self.open_details = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_loses_the_path_that_names_its_input() {
        let r = "/tmp/x/broken.png: not a decodable image (bad)";
        assert_eq!(
            reason_after_input("broken.png", r),
            "not a decodable image (bad)"
        );
        assert_eq!(reason_after_input("other.png", r), r);
        assert_eq!(
            reason_after_input("a.png", "text is empty"),
            "text is empty"
        );
    }

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
