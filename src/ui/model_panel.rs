//! The model: top bar (open, recent, view, export, device), the model card tab and the
//! status bar.

use egui::{RichText, Ui};

use crate::ui::session::Session;
use crate::ui::state::{CentralTab, PresenterFocus, Settings};
use crate::ui::{Command, format_ms, modality_chip, muted, section, text::short, theme};

/// The top bar's toggle of the Lessons panel.
pub const LESSONS_LABEL: &str = "Lessons";
/// The View menu's presenter mode entry.
pub const PRESENTER_LABEL: &str = "Presenter mode";

/// Draws the menu bar.
pub fn top_bar(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    commands: &mut Vec<Command>,
) {
    egui::MenuBar::new().ui(ui, |ui| {
        ui.label(RichText::new("Transference Explorer").strong().color(theme::accent()));
        ui.separator();
        ui.menu_button("Model", |ui| {
            if ui.button("Open bundle folder…").clicked() {
                commands.push(Command::OpenModelDialog);
                ui.close();
            }
            if ui
                .add_enabled(
                    session.summary.is_some(),
                    egui::Button::new(crate::ui::compare_panel::COMPARE_WITH_LABEL),
                )
                .on_hover_text("Open a second bundle beside this one (the Compare tab)")
                .clicked()
            {
                commands.push(Command::CompareDialog);
                ui.close();
            }
            ui.separator();
            muted(ui, "Recent");
            if settings.recent.is_empty() {
                muted(ui, "  (none yet)");
            }
            for dir in settings.recent.clone() {
                if ui
                    .button(short(&dir.display().to_string(), 60))
                    .on_hover_text(dir.display().to_string())
                    .clicked()
                {
                    commands.push(Command::OpenModel(dir));
                    ui.close();
                }
            }
        });
        ui.menu_button("Inputs", |ui| {
            if ui.button("Open files…").clicked() {
                commands.push(Command::OpenFilesDialog);
                ui.close();
            }
            if ui.button("Clear all inputs").clicked() {
                commands.push(Command::ClearInputs);
                ui.close();
            }
        });
        ui.menu_button("View", |ui| {
            ui.checkbox(&mut settings.presenter, PRESENTER_LABEL)
                .on_hover_text("Large text and one panel, for a projector");
            if settings.presenter {
                ui.horizontal(|ui| {
                    ui.label("  shows");
                    for (focus, name) in [
                        (PresenterFocus::Central, "tabs"),
                        (PresenterFocus::Map, "map"),
                        (PresenterFocus::Usage, "usage"),
                    ] {
                        ui.selectable_value(&mut settings.presenter_focus, focus, name);
                    }
                });
            }
            ui.checkbox(&mut settings.panels.lessons, "Lessons panel");
            ui.separator();
            ui.add_enabled(
                !settings.panels.lessons,
                egui::Checkbox::new(&mut settings.panels.inputs, "Inputs panel"),
            )
            .on_disabled_hover_text("The Lessons panel is in its place; close it to see the inputs");
            ui.checkbox(&mut settings.panels.map, "Embedding map");
            ui.checkbox(&mut settings.panels.usage, "Codebook usage");
            ui.separator();
            ui.selectable_value(&mut settings.tab, CentralTab::Input, "Input tab");
            ui.selectable_value(&mut settings.tab, CentralTab::Transfer, "Transfer lab tab");
            ui.selectable_value(&mut settings.tab, CentralTab::Model, "Model card tab");
            ui.selectable_value(&mut settings.tab, CentralTab::Compare, "Compare tab");
            ui.separator();
            ui.horizontal(|ui| {
                ui.label("neighbours per modality");
                ui.add(egui::DragValue::new(&mut settings.k).range(1..=20));
            });
        });
        ui.menu_button("Export", |ui| {
            let l = ui.label("Folder");
            ui.horizontal(|ui| {
                ui.add(egui::TextEdit::singleline(&mut settings.export_dir).desired_width(260.0))
                    .labelled_by(l.id);
                if ui.button("Browse…").clicked() {
                    commands.push(Command::ChooseExportDir);
                }
            });
            if ui
                .add_enabled(
                    session.summary.is_some() && !session.export_running,
                    egui::Button::new("Embedding Projector TSV"),
                )
                .on_hover_text("vectors.tsv + metadata.tsv of the gallery and the current inputs, for projector.tensorflow.org")
                .clicked()
            {
                commands.push(Command::ExportProjector);
                ui.close();
            }
            if ui
                .button("Charts as PNG")
                .on_hover_text("The window, the map, the usage chart, the code strip and the confusion matrix")
                .clicked()
            {
                commands.push(Command::ExportCharts);
                ui.close();
            }
        });
        ui.toggle_value(&mut settings.panels.lessons, LESSONS_LABEL)
            .on_hover_text("Guided lessons on transference");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if let Some(s) = &session.summary {
                device_chip(ui, &s.device);
                ui.label(RichText::new(&s.name).strong());
            } else if let Some(dir) = &session.loading {
                ui.spinner();
                muted(ui, format!("loading {}", dir.display()));
            } else {
                ui.label(RichText::new("no model").color(theme::warning()));
            }
        });
    });
}

fn device_chip(ui: &mut Ui, device: &str) {
    let color = if device.starts_with("CPU") {
        theme::warning()
    } else {
        theme::success()
    };
    egui::Frame::new()
        .stroke(egui::Stroke::new(1.0, color))
        .corner_radius(10)
        .inner_margin(egui::Margin::symmetric(8, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(short(device, 60)).color(color).size(14.0))
                .on_hover_text(format!("compute device: {device}"));
        });
}

/// The status bar's button that cancels the analyses.
pub const CANCEL_ANALYSES_LABEL: &str = "Cancel";

/// Draws the status bar.
pub fn status_bar(
    ui: &mut Ui,
    session: &Session,
    settings: &mut crate::ui::state::Settings,
    commands: &mut Vec<Command>,
) {
    // The right end (busy or ready) is laid out first, so the left part gets only the width
    // that is left and can never draw over it.
    ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
        busy_part(ui, session, commands);
        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
            ui.set_clip_rect(ui.max_rect().intersect(ui.clip_rect()));
            model_part(ui, session);
            ui.separator();
            match session.last_ms {
                Some(ms) => ui.label(format!("last inference {}", format_ms(ms))),
                None => muted(ui, "no inference yet"),
            };
            ui.separator();
            crate::ui::audio_controls::status_bar_part(
                ui,
                &session.audio,
                &mut settings.volume,
                commands,
            );
        });
    });
}

/// Longest bundle path shown in the status bar, in characters (the whole path is on hover).
const STATUS_PATH_CHARS: usize = 32;
/// Longest device description shown in the status bar, in characters.
const STATUS_DEVICE_CHARS: usize = 28;

/// The status bar's left end: the model, where it was loaded from, and its device.
fn model_part(ui: &mut Ui, session: &Session) {
    match (&session.summary, &session.loading) {
        (_, Some(dir)) => {
            ui.spinner();
            ui.label(format!("loading {}", short_path(dir, STATUS_PATH_CHARS)))
                .on_hover_text(dir.display().to_string());
        }
        (Some(s), None) => {
            ui.label(RichText::new(&s.name).strong());
            muted(ui, format!("· {}", short_path(&s.dir, STATUS_PATH_CHARS)))
                .on_hover_text(s.dir.display().to_string());
            ui.separator();
            ui.label(format!("device: {}", short(&s.device, STATUS_DEVICE_CHARS)))
                .on_hover_text(format!("compute device: {}", s.device));
        }
        (None, None) => {
            ui.label(RichText::new("no model loaded").color(theme::warning()));
        }
    }
}

/// `path` in at most `max` characters: its last components, with `…/` for the rest.
fn short_path(path: &std::path::Path, max: usize) -> String {
    let full = path.display().to_string();
    if full.chars().count() <= max {
        return full;
    }
    let mut tail = String::new();
    for part in path.components().rev() {
        let part = part.as_os_str().to_string_lossy();
        let next = if tail.is_empty() {
            part.to_string()
        } else {
            format!("{part}/{tail}")
        };
        if next.chars().count() + 2 > max && !tail.is_empty() {
            break;
        }
        tail = next;
    }
    short(&format!("…/{tail}"), max)
}

/// The status bar's right end (drawn right to left): what is running, or "ready".
fn busy_part(ui: &mut Ui, session: &Session, commands: &mut Vec<Command>) {
    if !session.busy() {
        muted(ui, "ready");
        return;
    }
    let mut parts = Vec::new();
    if let Some((done, total)) = session.queue.progress() {
        if ui
            .button(CANCEL_ANALYSES_LABEL)
            .on_hover_text("Stop analysing; inputs not analysed yet are cancelled")
            .clicked()
        {
            commands.push(Command::CancelAnalyses);
        }
        parts.push(format!("analysing {done}/{total}"));
    }
    if session.classify_pending > 0 {
        parts.push("re-scoring".to_string());
    }
    if session.transfer_running {
        parts.push("fitting".to_string());
    }
    if session.export_running {
        parts.push("exporting".to_string());
    }
    muted(ui, parts.join(" · "));
    ui.spinner();
}

/// The model card tab: manifest facts, metrics and the card text.
pub fn card(ui: &mut Ui, session: &Session, commands: &mut Vec<Command>) {
    let Some(s) = &session.summary else {
        empty_state(ui, session, commands);
        return;
    };
    section(ui, &s.name, |ui| {
        if !s.description.is_empty() {
            ui.label(&s.description);
        }
        ui.horizontal(|ui| {
            muted(ui, "modalities");
            for m in &s.modalities {
                modality_chip(ui, *m);
            }
        });
        let wrap = |ui: &mut Ui, text: String| {
            ui.add(egui::Label::new(text).wrap());
        };
        egui::Grid::new("model-facts")
            .num_columns(2)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                muted(ui, "codebook");
                wrap(
                    ui,
                    format!("{} codes × {} dims", s.codebook_size, s.d_model),
                );
                ui.end_row();
                muted(ui, "gallery");
                wrap(ui, format!("{} items", s.gallery.len()));
                ui.end_row();
                muted(ui, "labels");
                wrap(ui, s.labels.join(", "));
                ui.end_row();
                muted(ui, "temperature");
                wrap(ui, format!("{}", s.temperature));
                ui.end_row();
                muted(ui, "device");
                wrap(ui, s.device.clone());
                ui.end_row();
                muted(ui, "loaded in");
                wrap(ui, format_ms(s.load_ms));
                ui.end_row();
                muted(ui, "folder");
                wrap(ui, s.dir.display().to_string());
                ui.end_row();
            });
    });
    if !s.metrics.is_empty() {
        ui.add_space(8.0);
        section(ui, "Measured metrics", |ui| {
            egui::Grid::new("model-metrics")
                .num_columns(2)
                .striped(true)
                .spacing([16.0, 3.0])
                .show(ui, |ui| {
                    for (k, v) in &s.metrics {
                        muted(ui, k.replace('_', " "));
                        ui.label(format_metric(*v));
                        ui.end_row();
                    }
                });
        });
    }
    ui.add_space(8.0);
    section(ui, "Model card", |ui| {
        if s.card.trim().is_empty() {
            muted(ui, "This bundle has no model card.");
        } else {
            markdown(ui, &s.card);
        }
    });
}

/// A metric value: integers without decimals, fractions with three.
pub fn format_metric(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

/// A small Markdown subset: headings, bullets, tables, code fences, paragraphs.
pub fn markdown(ui: &mut Ui, text: &str) {
    let mut in_code = false;
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut tables = 0usize;
    for line in text.lines().chain(std::iter::once("")) {
        let trimmed = line.trim_end();
        let is_row = !in_code && trimmed.trim_start().starts_with('|');
        if !is_row && !table.is_empty() {
            tables += 1;
            markdown_table(ui, &std::mem::take(&mut table), tables);
        }
        if trimmed.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            ui.label(RichText::new(trimmed).monospace());
            continue;
        }
        let plain = trimmed.replace("**", "").replace('`', "");
        if is_row {
            let cells: Vec<String> = plain
                .trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect();
            let separator = cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
            if !separator {
                table.push(cells);
            }
        } else if let Some(h) = plain.strip_prefix("### ") {
            ui.label(RichText::new(h).strong().size(17.0));
        } else if let Some(h) = plain.strip_prefix("## ") {
            ui.add_space(4.0);
            ui.label(RichText::new(h).strong().size(19.0));
        } else if let Some(h) = plain.strip_prefix("# ") {
            ui.add_space(4.0);
            ui.label(RichText::new(h).strong().size(22.0));
        } else if let Some(b) = plain
            .trim_start()
            .strip_prefix("- ")
            .or_else(|| plain.trim_start().strip_prefix("* "))
        {
            ui.indent("bullet", |ui| {
                ui.label(format!("•  {b}"));
            });
        } else if plain.trim().is_empty() {
            ui.add_space(4.0);
        } else {
            ui.label(plain);
        }
    }
}

fn markdown_table(ui: &mut Ui, rows: &[Vec<String>], n: usize) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    egui::Grid::new(("card-table", n))
        .num_columns(columns)
        .striped(true)
        .spacing([18.0, 4.0])
        .show(ui, |ui| {
            for (i, row) in rows.iter().enumerate() {
                for cell in row {
                    if i == 0 {
                        ui.label(RichText::new(cell).strong());
                    } else {
                        ui.label(cell);
                    }
                }
                ui.end_row();
            }
        });
}

/// Shown when no model is loaded.
pub fn empty_state(ui: &mut Ui, session: &Session, commands: &mut Vec<Command>) {
    ui.vertical_centered(|ui| {
        ui.add_space(80.0);
        if let Some(dir) = &session.loading {
            ui.spinner();
            ui.label(RichText::new(format!("Loading {}…", dir.display())).size(20.0));
            return;
        }
        ui.label(RichText::new("No model loaded").size(28.0).strong());
        ui.add_space(8.0);
        muted(
            ui,
            "Open a model bundle folder (manifest, weights, gallery) to start exploring.",
        );
        ui.add_space(12.0);
        if ui
            .add(
                egui::Button::new(RichText::new("Open bundle folder…").size(18.0))
                    .min_size(egui::vec2(220.0, 40.0)),
            )
            .clicked()
        {
            commands.push(Command::OpenModelDialog);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_bundle_path_keeps_its_last_folders() {
        let p = std::path::Path::new("/work/main/models/digits");
        assert_eq!(short_path(p, 40), "/work/main/models/digits");
        assert_eq!(short_path(p, 18), "…/models/digits");
        assert_eq!(short_path(p, 9), "…/digits");
        assert!(short_path(p, 5).chars().count() <= 5);
    }
}
