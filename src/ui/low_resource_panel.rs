//! The transfer lab's low-resource curves: accuracy on the tested (primary) modality against
//! its labels per class, alone, helped by the other modality's labels through the shared
//! codebook, and zero-shot through the text prompts; mean ± sd bands, a chance line, a noise
//! slider that degrades the primary modality, and exports (CSV + JSON figure data, PNG).

use egui::{Rect, RichText, Ui};
use egui_plot::{
    ColorConflictHandling, FilledArea, GridMark, HLine, Legend, Line, LineStyle, Plot, PlotPoints,
};

use crate::index::low_resource::{CurvePoint, GALLERY_TEST_PER_CLASS, LowResourceReport};
use crate::preprocess::degrade::NoiseLevel;
use crate::ui::session::Session;
use crate::ui::state::Settings;
use crate::ui::{Command, muted, section, theme, transfer_panel};

/// Accessible name of the button that computes the curves.
pub const RUN_LABEL: &str = "Run curves";
/// Accessible name of the CSV + JSON export button.
pub const EXPORT_DATA_LABEL: &str = "Export CSV + JSON";
/// Accessible name of the PNG export button.
pub const SAVE_PNG_LABEL: &str = "Save plot PNG";
/// Accessible name of the noise slider.
pub const NOISE_LABEL: &str = "noise on the tested modality";
/// Heading of the plot (also its accessible label).
pub const PLOT_TITLE: &str = "accuracy against labels per class";

/// Draws the section; returns the plot's rectangle when a plot is shown.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    settings: &mut Settings,
    commands: &mut Vec<Command>,
) -> Option<Rect> {
    let mut plot_rect = None;
    section(ui, "Low-resource curves", |ui| {
        let Some((helper, primary)) = transfer_panel::pick_modalities(session, settings) else {
            muted(
                ui,
                "Open a model with a labelled gallery to draw the curves.",
            );
            return;
        };
        muted(
            ui,
            format!(
                "How many {primary} labels per class does a classifier need? Labels in {helper} \
                 help through the shared codebook; zero-shot through the text prompts needs none. \
                 Tested on a fixed, class-balanced split of the gallery's {primary} items."
            ),
        );
        ui.add_space(4.0);
        if primary == helper {
            muted(
                ui,
                "Choose two different modalities above (fit on = helper, test on = tested).",
            );
            return;
        }
        ui.horizontal(|ui| {
            ui.add(
                egui::Slider::new(&mut settings.low_resource_noise, 0.0..=1.0)
                    .text(NOISE_LABEL)
                    .fixed_decimals(2),
            )
            .on_hover_text(
                "Degrades the tested modality's gallery media (audio: white noise at an SNR; \
                 images: blur and pixel noise); they are encoded again",
            );
            let noise = NoiseLevel::new(settings.low_resource_noise);
            muted(
                ui,
                noise
                    .describe(primary)
                    .unwrap_or_else(|| "clean".to_string()),
            );
        });
        let noisy = !NoiseLevel::new(settings.low_resource_noise).is_clean();
        let media = fewest_media_per_class(session, primary);
        let media_short = noisy && media <= GALLERY_TEST_PER_CLASS;
        if media_short {
            ui.label(
                RichText::new(format!(
                    "Noise re-encodes the {primary} media files, and this gallery ships only \
                     {media} per class for some class ({} needed for a test split of {} and one \
                     label); set the noise to 0, or test on another modality.",
                    GALLERY_TEST_PER_CLASS + 1,
                    GALLERY_TEST_PER_CLASS
                ))
                .color(theme::warning()),
            );
        }
        ui.horizontal(|ui| {
            let running = session.low_resource_running;
            let enabled = running.is_none() && session.summary.is_some() && !media_short;
            if ui
                .add_enabled(
                    enabled,
                    egui::Button::new(RichText::new(RUN_LABEL).strong())
                        .min_size(egui::vec2(110.0, 30.0)),
                )
                .on_hover_text(format!(
                    "Fit on 0 to 50 {primary} labels per class, repeated seeded draws, with and \
                     without the {helper} labels"
                ))
                .clicked()
            {
                commands.push(Command::RunLowResource);
            }
            if let Some(fraction) = running {
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(200.0)
                        .show_percentage(),
                );
            }
        });
        let Some(report) = &session.low_resource else {
            return;
        };
        ui.add_space(6.0);
        summary(ui, report);
        ui.horizontal(|ui| {
            if ui
                .button(EXPORT_DATA_LABEL)
                .on_hover_text(
                    "Write low_resource.csv and low_resource.json into the export folder",
                )
                .clicked()
            {
                commands.push(Command::ExportLowResource);
            }
            if ui
                .button(SAVE_PNG_LABEL)
                .on_hover_text("Save the window and its charts, this plot included, as PNG")
                .clicked()
            {
                commands.push(Command::ExportCharts);
            }
            if ui
                .button("Choose folder…")
                .on_hover_text(format!("Exports go to {}", settings.export_dir))
                .clicked()
            {
                commands.push(Command::ChooseExportDir);
            }
        });
        plot_rect = Some(plot(ui, report));
    });
    plot_rect
}

/// Fewest gallery items with a media file of one class, over the labelled classes of
/// `modality`.
fn fewest_media_per_class(session: &Session, modality: crate::modality::Modality) -> usize {
    let Some(summary) = &session.summary else {
        return 0;
    };
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for p in summary.gallery.iter().filter(|p| p.modality == modality) {
        if let Some(label) = &p.label {
            *counts.entry(label.as_str()).or_default() += usize::from(p.media.is_some());
        }
    }
    counts.values().copied().min().unwrap_or(0)
}

fn fmt_point(p: &CurvePoint) -> String {
    match (p.mean, p.sd) {
        (Some(m), Some(sd)) => format!("{:.1} ± {:.1} %", m * 100.0, sd * 100.0),
        _ => "unavailable".into(),
    }
}

/// One line of what was measured, and why any level is missing.
fn summary(ui: &mut Ui, r: &LowResourceReport) {
    fn at(points: &[CurvePoint], l: usize) -> Option<&CurvePoint> {
        points.iter().find(|p| p.labels_per_class == l)
    }
    let mut parts = Vec::new();
    if let (Some(a), Some(h)) = (at(&r.primary_only, 1), at(&r.with_helper, 1)) {
        parts.push(format!(
            "1 label per class: {} alone, {} with {}",
            fmt_point(a),
            fmt_point(h),
            r.helper
        ));
    }
    if let Some(z) = r.zero_shot.accuracy {
        parts.push(format!("zero-shot {:.1} %", z * 100.0));
    }
    ui.label(RichText::new(parts.join(" · ")).strong());
    muted(
        ui,
        format!(
            "{} {} test items ({} per class) · {} {} labels per class help · {} draws per level \
             · {} · chance {:.1} %",
            r.n_test,
            r.primary,
            r.test_per_class,
            r.helper_per_class,
            r.helper,
            r.draws,
            r.degradation.as_deref().unwrap_or("clean"),
            r.chance * 100.0
        ),
    );
    if let Some(p) = r.primary_only.iter().find(|p| p.unavailable.is_some()) {
        muted(
            ui,
            format!(
                "{} labels per class and more: unavailable ({})",
                p.labels_per_class,
                p.unavailable.as_deref().unwrap_or_default()
            ),
        );
    }
    if let Some(why) = &r.zero_shot.unavailable {
        muted(ui, format!("zero-shot unavailable: {why}"));
    }
}

/// The plot: x is the level's index (labels per class 0, 1, 2, 5, 10, 50 evenly spaced, a
/// log-like axis), y the accuracy.
fn plot(ui: &mut Ui, r: &LowResourceReport) -> Rect {
    ui.label(RichText::new(PLOT_TITLE).strong());
    let levels: Vec<usize> = r.primary_only.iter().map(|p| p.labels_per_class).collect();
    let last = levels.len().saturating_sub(1) as f64;
    let tick_levels = levels.clone();
    let curves = [
        (
            format!("{} labels only", r.primary),
            &r.primary_only,
            theme::modality_color(r.primary),
        ),
        (
            format!("+ {} labels (shared codebook)", r.helper),
            &r.with_helper,
            theme::modality_color(r.helper),
        ),
    ];
    let response = Plot::new("low-resource-curves")
        .height(280.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .include_y(0.0)
        .include_y(1.0)
        .include_x(-0.2)
        .include_x(last + 0.2)
        .x_axis_label("labels per class")
        .y_axis_label("accuracy")
        .x_grid_spacer(move |_| {
            (0..=last as usize)
                .map(|i| GridMark {
                    value: i as f64,
                    step_size: 1.0,
                })
                .collect()
        })
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                tick_levels
                    .get(i as usize)
                    .map(|l| l.to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_axis_formatter(|mark, _| format!("{:.0} %", mark.value * 100.0))
        .legend(
            // A band and its line share a name (one legend entry); the entry takes the line's
            // colour, added last.
            Legend::default()
                .position(egui_plot::Corner::RightBottom)
                .follow_insertion_order(true)
                .color_conflict_handling(ColorConflictHandling::PickLast),
        )
        .show(ui, |plot_ui| {
            for (name, points, color) in curves {
                let shown: Vec<(f64, f64, f64)> = points
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| {
                        Some((i as f64, f64::from(p.mean?), f64::from(p.sd.unwrap_or(0.0))))
                    })
                    .collect();
                let xs: Vec<f64> = shown.iter().map(|s| s.0).collect();
                let lo: Vec<f64> = shown.iter().map(|s| (s.1 - s.2).max(0.0)).collect();
                let hi: Vec<f64> = shown.iter().map(|s| (s.1 + s.2).min(1.0)).collect();
                plot_ui.add(
                    FilledArea::new(name.clone(), &xs, &lo, &hi)
                        .fill_color(color.gamma_multiply(0.25)),
                );
                let line: PlotPoints = shown.iter().map(|s| [s.0, s.1]).collect();
                plot_ui.line(Line::new(name, line).color(color).width(2.5));
            }
            if let Some(z) = r.zero_shot.accuracy {
                let line: PlotPoints = vec![[0.0, f64::from(z)], [last, f64::from(z)]].into();
                plot_ui.line(
                    Line::new("zero-shot (text prompts)", line)
                        .color(theme::modality_color(crate::modality::Modality::Text))
                        .width(2.5),
                );
            }
            plot_ui.hline(
                HLine::new("chance", f64::from(r.chance))
                    .color(theme::muted_text())
                    .style(LineStyle::dashed_loose()),
            );
        });
    response.response.rect
}
