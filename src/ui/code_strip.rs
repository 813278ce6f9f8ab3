//! The code strip: the codes an input uses, position by position (a grid over the image
//! feature map, a time axis for audio, one cell per token for text), coloured by code id.
//! Grid cells of blank paper carry no code and are drawn empty.
//! Hovering a cell tells the code's usage per modality and the gallery items that use it most;
//! clicking opens the code's page and lights it up everywhere. [`code_chip`] is the one
//! clickable code label the other panels use.

use egui::{Align2, FontId, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2};

use crate::engine::{Analysis, InputView};
use crate::ui::frame_view::FrameView;
use crate::ui::session::Session;
use crate::ui::text::short;
use crate::ui::{Command, modality_chip, muted, theme};

/// One laid-out cell.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Rectangle relative to the strip's origin.
    pub rect: Rect,
    pub code: u32,
    pub position: usize,
    /// Token under the cell (text).
    pub caption: Option<String>,
}

/// Laid-out cells of a strip.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StripLayout {
    pub cells: Vec<Cell>,
    /// Grid cells without a code (blank paper), relative to the strip's origin.
    pub blanks: Vec<Rect>,
    /// Total size.
    pub size: Vec2,
}

/// Lays out the cells of an analysis. `cell` is the side of a square cell; rows wrap at
/// `max_width` for audio and text.
pub fn layout_cells(
    ui: &Ui,
    analysis: &Analysis,
    cell: f32,
    max_width: f32,
    captions: bool,
) -> StripLayout {
    let item = &analysis.input.item;
    let codes = &item.codes;
    let mut cells = Vec::with_capacity(codes.len());
    let mut blanks = Vec::new();
    let on_grid = match &analysis.input.view {
        InputView::Image { grid, .. } => item.grid_cells(*grid).map(|at| (*grid, at)),
        _ => None,
    };
    match (&analysis.input.view, on_grid) {
        (_, Some((grid, at))) => {
            let rect_of = |i: usize| {
                let (r, c) = (i / grid[1], i % grid[1]);
                Rect::from_min_size(
                    Pos2::new(c as f32 * cell, r as f32 * cell),
                    Vec2::splat(cell),
                )
            };
            for (&code, &i) in codes.iter().zip(&at) {
                cells.push(Cell {
                    rect: rect_of(i),
                    code,
                    position: i,
                    caption: None,
                });
            }
            blanks = (0..grid[0] * grid[1])
                .filter(|i| !at.contains(i))
                .map(rect_of)
                .collect();
        }
        (InputView::Text { tokens, .. }, None) if captions => {
            let font = FontId::proportional(13.0);
            let (mut x, mut y) = (0.0f32, 0.0f32);
            let row_h = cell + 18.0;
            for (i, &code) in codes.iter().enumerate() {
                let tok = tokens.get(i).cloned().unwrap_or_default();
                let w = ui
                    .painter()
                    .layout_no_wrap(tok.clone(), font.clone(), theme::strong_text())
                    .size()
                    .x
                    .max(cell)
                    + 4.0;
                if x > 0.0 && x + w > max_width {
                    x = 0.0;
                    y += row_h + 4.0;
                }
                cells.push(Cell {
                    rect: Rect::from_min_size(Pos2::new(x, y), Vec2::new(w, cell)),
                    code,
                    position: i,
                    caption: Some(tok),
                });
                x += w + 2.0;
            }
        }
        _ => {
            let per_row = ((max_width / cell).floor() as usize).max(1);
            for (i, &code) in codes.iter().enumerate() {
                let (r, c) = (i / per_row, i % per_row);
                cells.push(Cell {
                    rect: Rect::from_min_size(
                        Pos2::new(c as f32 * cell, r as f32 * (cell + 2.0)),
                        Vec2::splat(cell),
                    ),
                    code,
                    position: i,
                    caption: None,
                });
            }
        }
    }
    let caption_h = if cells.iter().any(|c| c.caption.is_some()) {
        18.0
    } else {
        0.0
    };
    let size = cells
        .iter()
        .map(|c| c.rect.max + Vec2::new(0.0, caption_h))
        .chain(blanks.iter().map(|r| r.max))
        .fold(Vec2::ZERO, |s, p| Vec2::new(s.x.max(p.x), s.y.max(p.y)));
    StripLayout {
        cells,
        blanks,
        size,
    }
}

/// How a strip is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StripStyle {
    /// Side of a cell, in points.
    pub cell: f32,
    /// Code ids inside cells wide enough.
    pub label_codes: bool,
    /// Token captions under text cells.
    pub captions: bool,
}

impl StripStyle {
    /// Cells of side `cell` with their code ids written in, no captions.
    pub fn labelled(cell: f32) -> Self {
        StripStyle {
            cell,
            label_codes: true,
            captions: false,
        }
    }
}

/// Draws a strip of cells; returns the code under the pointer. Clicking a cell emits
/// [`Command::OpenCodePage`].
pub fn show_strip(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    analysis: &Analysis,
    style: StripStyle,
    commands: &mut Vec<Command>,
) -> (Option<u32>, Rect) {
    let StripStyle {
        cell,
        label_codes,
        captions,
    } = style;
    let max_width = ui.available_width().max(cell);
    let StripLayout {
        cells,
        blanks,
        size,
    } = layout_cells(ui, analysis, cell, max_width, captions);
    let (rect, response) = ui.allocate_exact_size(size.max(Vec2::splat(cell)), Sense::click());
    response.widget_info(|| {
        egui::WidgetInfo::labeled(egui::Role::Image, true, strip_label(&cells, blanks.len()))
    });
    let painter = ui.painter_at(rect.expand(3.0));
    let hover = response.hover_pos();
    let mut on_blank = false;
    for b in &blanks {
        let r = b.translate(rect.min.to_vec2()).shrink(1.0);
        on_blank |= hover.is_some_and(|p| r.contains(p));
        painter.rect_filled(r, 4, theme::faint_bg());
        painter.rect_stroke(
            r,
            4,
            Stroke::new(1.0, theme::card_stroke()),
            StrokeKind::Inside,
        );
    }
    let response = if on_blank {
        response.on_hover_text_at_pointer("blank paper: no ink in this cell, so no code")
    } else {
        response
    };
    let mut hovered: Option<&Cell> = None;
    for c in &cells {
        let r = c.rect.translate(rect.min.to_vec2());
        if hover.is_some_and(|p| r.contains(p)) {
            hovered = Some(c);
        }
        paint_cell(&painter, r, c.code, session, view, label_codes);
        if let Some(cap) = &c.caption {
            painter.text(
                Pos2::new(r.center().x, r.bottom() + 2.0),
                Align2::CENTER_TOP,
                cap,
                FontId::proportional(13.0),
                theme::strong_text(),
            );
        }
    }
    let hovered_code = hovered.map(|c| c.code);
    if let Some(c) = hovered {
        let position = c.position;
        let code = c.code;
        let response = response.on_hover_ui_at_pointer(|ui| {
            ui.label(RichText::new(format!("position {position}")).color(theme::muted_text()));
            code_tooltip(ui, session, code);
        });
        if response.clicked() {
            commands.push(Command::OpenCodePage(code));
        }
    }
    (hovered_code, rect)
}

/// A button in the code's colour reading `text`; a click opens the code's page.
pub fn code_chip(
    ui: &mut Ui,
    code: u32,
    text: &str,
    hint: &str,
    commands: &mut Vec<Command>,
) -> egui::Response {
    let fill = theme::code_color(code);
    let chip = egui::Button::new(RichText::new(text).color(theme::text_on(fill))).fill(fill);
    let response = ui.add(chip).on_hover_text(hint);
    if response.clicked() {
        commands.push(Command::OpenCodePage(code));
    }
    response
}

/// Accessible description of a strip: the codes in order, with their tokens for text, and
/// the number of blank grid cells.
pub fn strip_label(cells: &[Cell], blanks: usize) -> String {
    if cells.iter().any(|c| c.caption.is_some()) {
        let parts: Vec<String> = cells
            .iter()
            .map(|c| format!("{}={}", c.caption.as_deref().unwrap_or(""), c.code))
            .collect();
        format!("tokens and codes: {}", parts.join(" "))
    } else {
        let parts: Vec<String> = cells.iter().map(|c| c.code.to_string()).collect();
        let blank = match blanks {
            0 => String::new(),
            n => format!(" ({n} blank cells)"),
        };
        format!("code strip: {}{blank}", parts.join(" "))
    }
}

/// Paints one code cell, dimmed or outlined according to the selection.
pub fn paint_cell(
    painter: &egui::Painter,
    rect: Rect,
    code: u32,
    session: &Session,
    view: &FrameView,
    label: bool,
) {
    let fill = if view.dims(session, code) {
        theme::code_color_dimmed(code)
    } else {
        theme::code_color(code)
    };
    painter.rect_filled(rect.shrink(1.0), 4, fill);
    if view.outlines(session, code) {
        painter.rect_stroke(
            rect.shrink(1.0),
            4,
            Stroke::new(2.5, theme::highlight()),
            StrokeKind::Inside,
        );
    }
    if label && rect.width() >= 22.0 {
        let size = if code >= 100 { 12.0 } else { 14.0 };
        painter.text(
            rect.center(),
            Align2::CENTER_CENTER,
            code.to_string(),
            FontId::monospace(size),
            theme::text_on(fill),
        );
    }
}

/// Tooltip body of a code: id, usage per modality over the gallery, top gallery users.
pub fn code_tooltip(ui: &mut Ui, session: &Session, code: u32) {
    ui.horizontal(|ui| {
        let (r, _) = ui.allocate_exact_size(Vec2::splat(18.0), Sense::hover());
        ui.painter().rect_filled(r, 3, theme::code_color(code));
        ui.label(RichText::new(format!("code {code}")).strong().size(17.0));
        muted(ui, "click to open its page");
    });
    let Some(summary) = &session.summary else {
        return;
    };
    if let Some(stats) = &summary.stats {
        egui::Grid::new(("code-usage", code))
            .num_columns(3)
            .show(ui, |ui| {
                for u in &stats.per_modality {
                    let n = u.counts.get(code as usize).copied().unwrap_or(0);
                    modality_chip(ui, u.modality);
                    ui.label(format!("{n} positions"));
                    let share = if u.positions > 0 {
                        100.0 * n as f64 / u.positions as f64
                    } else {
                        0.0
                    };
                    muted(ui, format!("{share:.1} % of {}", u.modality));
                    ui.end_row();
                }
            });
    }
    let users = session.derived.code_users.get(code as usize);
    match users {
        Some(list) if !list.is_empty() => {
            ui.label(RichText::new("used most by").color(theme::muted_text()));
            for &(idx, n) in list {
                if let Some(p) = summary.gallery.get(idx) {
                    ui.horizontal(|ui| {
                        modality_chip(ui, p.modality);
                        let label = p.label.as_deref().unwrap_or("—");
                        ui.label(RichText::new(label).strong());
                        muted(ui, format!("{} ×{n}", short(&p.source, 28)));
                    });
                }
            }
        }
        _ => {
            muted(ui, "no gallery item uses this code");
        }
    }
}
