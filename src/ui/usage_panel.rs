//! Codebook usage: share of positions each code takes per modality over the gallery (stacked
//! bars), the same for the current inputs, perplexity, active/dead codes and codes shared by
//! two or more modalities. Sort by usage or id; hover a bar for the code, click to open its
//! page.

use egui::{Id, Rect, RichText, Ui};
use egui_plot::{Bar, BarChart, Plot, VLine};

use crate::engine::ModelSummary;
use crate::modality::Modality;
use crate::ui::frame_view::FrameView;
use crate::ui::session::Session;
use crate::ui::state::{Settings, UsageSort};
use crate::ui::{Command, code_strip, modality_chip, muted, theme};

/// Order of codes on the x axis.
pub fn code_order(summary: &ModelSummary, sort: UsageSort) -> Vec<u32> {
    let k = summary.codebook_size;
    let mut order: Vec<u32> = (0..k as u32).collect();
    if sort == UsageSort::Usage
        && let Some(stats) = &summary.stats
    {
        let share = |c: u32| -> f64 {
            stats
                .per_modality
                .iter()
                .map(|u| {
                    let n = u.counts.get(c as usize).copied().unwrap_or(0) as f64;
                    if u.positions > 0 {
                        n / u.positions as f64
                    } else {
                        0.0
                    }
                })
                .sum()
        };
        let shares: Vec<f64> = order.iter().map(|&c| share(c)).collect();
        order.sort_by(|&a, &b| {
            shares[b as usize]
                .total_cmp(&shares[a as usize])
                .then(a.cmp(&b))
        });
    }
    order
}

/// Draws the panel; returns the chart rectangle and the code under the pointer.
pub fn show(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    settings: &mut Settings,
    commands: &mut Vec<Command>,
) -> (Option<Rect>, Option<u32>) {
    ui.horizontal(|ui| {
        ui.label(
            RichText::new("Codebook usage")
                .heading()
                .color(theme::strong_text()),
        );
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.selectable_value(&mut settings.usage_sort, UsageSort::Id, "by id");
            ui.selectable_value(&mut settings.usage_sort, UsageSort::Usage, "by usage");
            muted(ui, "sort");
        });
    });
    let Some(summary) = &session.summary else {
        muted(ui, "Open a model to see how its codebook is used.");
        return (None, None);
    };
    let Some(stats) = &summary.stats else {
        muted(ui, "This model has no gallery to count code usage over.");
        return (None, None);
    };
    if stats.per_modality.iter().all(|u| u.positions == 0) {
        muted(
            ui,
            "The gallery stores no codes (vectors imported without --codes): there is no codebook \
             usage to count. The map, neighbours and the transfer lab work on the embeddings.",
        );
        return (None, None);
    }
    let k = stats.codebook_size;
    ui.label(
        RichText::new(format!(
            "active {}/{k} · dead {} · shared by ≥2 modalities {} ({:.0} %)",
            stats.active_any,
            stats.dead,
            stats.shared,
            stats.shared_fraction * 100.0
        ))
        .strong(),
    );
    egui::Grid::new("usage-stats")
        .num_columns(4)
        .spacing([14.0, 2.0])
        .show(ui, |ui| {
            for u in &stats.per_modality {
                modality_chip(ui, u.modality);
                ui.label(format!("perplexity {:.1}", u.perplexity));
                ui.label(format!("{} active codes", u.active));
                muted(ui, format!("{} items · {} positions", u.items, u.positions));
                ui.end_row();
            }
        });
    muted(ui, "share of each modality's positions taken by each code");

    let order = code_order(summary, settings.usage_sort);
    let mut rank = vec![0usize; k];
    for (i, &c) in order.iter().enumerate() {
        if let Some(r) = rank.get_mut(c as usize) {
            *r = i;
        }
    }
    let mut charts: Vec<BarChart> = Vec::new();
    for u in &stats.per_modality {
        let color = theme::modality_color(u.modality);
        let bars: Vec<Bar> = order
            .iter()
            .enumerate()
            .map(|(x, &c)| {
                let n = u.counts.get(c as usize).copied().unwrap_or(0) as f64;
                let share = if u.positions > 0 {
                    n / u.positions as f64
                } else {
                    0.0
                };
                Bar::new(x as f64, share)
                    .width(1.0)
                    .fill(color)
                    .stroke(egui::Stroke::NONE)
            })
            .collect();
        let chart = BarChart::new(u.modality.name(), bars)
            .color(color)
            .allow_hover(false);
        let refs: Vec<&BarChart> = charts.iter().collect();
        let chart = chart.stack_on(&refs);
        charts.push(chart);
    }
    let focus = view.focus(session);
    let link = Id::unique("usage-x-link");
    let available = ui.available_height();
    let main_h = (available - 100.0).max(120.0);
    let response = Plot::new("codebook-usage")
        .height(main_h)
        .show_x(false)
        .show_y(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_x(-0.5)
        .include_x(k as f64 - 0.5)
        .x_axis_label(match settings.usage_sort {
            UsageSort::Usage => "codes, most used first",
            UsageSort::Id => "code id",
        })
        .link_axis(link, [true, false])
        .legend(
            egui_plot::Legend::default()
                .position(egui_plot::Corner::RightTop)
                .follow_insertion_order(true),
        )
        .show(ui, |plot_ui| {
            for c in charts {
                plot_ui.bar_chart(c);
            }
            if let Some(code) = focus
                && let Some(&x) = rank.get(code as usize)
            {
                plot_ui.vline(
                    VLine::new(format!("code {code}"), x as f64)
                        .color(theme::highlight())
                        .width(1.5),
                );
            }
        });
    let mut hovered = hover_and_click(
        session,
        &order,
        &response.response,
        &response.transform,
        commands,
    );
    let rect = response.response.rect;

    // The current inputs' codes on the same axis.
    let mut per_modality: Vec<(Modality, Vec<f64>)> = Vec::new();
    for e in &session.inputs {
        if let Some(a) = e.analysis() {
            let m = a.input.modality;
            let idx = match per_modality.iter().position(|(mm, _)| *mm == m) {
                Some(i) => i,
                None => {
                    per_modality.push((m, vec![0.0; k]));
                    per_modality.len() - 1
                }
            };
            for &c in &a.input.item.codes {
                if let Some(&x) = rank.get(c as usize) {
                    per_modality[idx].1[x] += 1.0;
                }
            }
        }
    }
    per_modality.sort_by_key(|(m, _)| *m);
    muted(ui, "codes of the current inputs (positions)");
    let mut input_charts: Vec<BarChart> = Vec::new();
    for (m, counts) in &per_modality {
        let color = theme::modality_color(*m);
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0.0)
            .map(|(x, n)| {
                Bar::new(x as f64, *n)
                    .width(1.0)
                    .fill(color)
                    .stroke(egui::Stroke::NONE)
            })
            .collect();
        let chart = BarChart::new(format!("{m} inputs"), bars)
            .color(color)
            .allow_hover(false);
        let refs: Vec<&BarChart> = input_charts.iter().collect();
        let chart = chart.stack_on(&refs);
        input_charts.push(chart);
    }
    let small = Plot::new("codebook-usage-inputs")
        .height(ui.available_height().clamp(50.0, 90.0))
        .show_x(false)
        .show_y(false)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(1.0)
        .include_x(-0.5)
        .include_x(k as f64 - 0.5)
        .link_axis(link, [true, false])
        .show(ui, |plot_ui| {
            for c in input_charts {
                plot_ui.bar_chart(c);
            }
            if let Some(code) = focus
                && let Some(&x) = rank.get(code as usize)
            {
                plot_ui.vline(
                    VLine::new("", x as f64)
                        .color(theme::highlight())
                        .width(1.5),
                );
            }
        });
    if let Some(h) = hover_and_click(session, &order, &small.response, &small.transform, commands) {
        hovered = Some(h);
    }
    (Some(rect.union(small.response.rect)), hovered)
}

fn hover_and_click(
    session: &Session,
    order: &[u32],
    response: &egui::Response,
    transform: &egui_plot::PlotTransform,
    commands: &mut Vec<Command>,
) -> Option<u32> {
    let pointer = response.hover_pos()?;
    let x = transform.value_from_position(pointer).x.round();
    if x < 0.0 || x as usize >= order.len() {
        return None;
    }
    let code = order[x as usize];
    if response.clicked() {
        commands.push(Command::OpenCodePage(code));
    }
    response
        .clone()
        .on_hover_ui_at_pointer(|ui| code_strip::code_tooltip(ui, session, code));
    Some(code)
}
