//! The Code tab: one code's page, opened by a click on a code anywhere (a strip, the usage
//! chart, the map's code points, a selection's codes, another page's links) or by typing its
//! id. It shows the code's usage per modality and per class, its share of all assignments,
//! when it was last reset, the positions it takes as one small heat map per modality, its
//! vector decoded as a picture and a sound, its nearest and co-occurring codes (links to their
//! pages) and the gallery items that use it most. Back and forward walk the pages visited;
//! *Show on map* selects its items. The page comes from the worker
//! ([`crate::engine::Pipeline::code_page`]); this panel only draws it.

use egui::{Color32, ColorImage, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2};

use crate::audio_io::ClipId;
use crate::engine::code_page::{CodePage, DecodedCode};
use crate::index::code_facts::{PositionMap, TopItems};
use crate::modality::Modality;
use crate::ui::audio_controls::play_toggle;
use crate::ui::code_pages::PageState;
use crate::ui::code_strip::code_chip;
use crate::ui::input_view::{fit_rect, thumbnail, unit_uv, waveform};
use crate::ui::media::MediaCache;
use crate::ui::session::Session;
use crate::ui::text::short;
use crate::ui::{Command, modality_chip, muted, section, theme};

/// Accessible names of the page's controls.
pub const BACK: &str = "Back";
/// See [`BACK`].
pub const FORWARD: &str = "Forward";
/// See [`BACK`].
pub const SHOW_ON_MAP: &str = "Show on map";
/// See [`BACK`].
pub const EXPORT_PAGE: &str = "Export PNG and JSON";
/// See [`BACK`].
pub const GO_TO_CODE: &str = "go to code";
/// Narrowest page drawn in two columns, in points.
const TWO_COLUMNS_MIN_WIDTH: f32 = 900.0;
/// Width of a usage bar, in points.
const BAR_WIDTH: f32 = 160.0;
/// Side of a heat-map cell, in points.
const HEAT_CELL: f32 = 22.0;
/// Side of the decoded picture and of item thumbnails, in points.
const PICTURE_SIDE: f32 = 112.0;
const THUMB_SIDE: f32 = 56.0;

/// Draws the tab; returns the page's rectangle (for the PNG export) when a page is shown.
/// `typed_code` is the "go to code" box's text (view state of the window).
pub fn show(
    ui: &mut Ui,
    session: &Session,
    media: &mut MediaCache,
    typed_code: &mut String,
    commands: &mut Vec<Command>,
) -> Option<Rect> {
    let pages = &session.code_pages;
    let codebook_size = session.summary.as_ref().map_or(0, |s| s.codebook_size);
    header(ui, session, typed_code, codebook_size, commands);
    ui.separator();
    match pages.state() {
        PageState::None => {
            section(ui, "A page for every code", |ui| {
                ui.label(
                    RichText::new(
                        "Click a code in a code strip, a bar of the codebook usage chart, a code \
                         point on the map (tick \u{201c}codebook\u{201d}) or a selection's codes, \
                         or type a code id above.",
                    )
                    .size(17.0),
                );
            });
            None
        }
        PageState::Computing(code) => {
            ui.horizontal(|ui| {
                ui.spinner();
                muted(ui, format!("Computing the page of code {code}\u{2026}"));
            });
            None
        }
        PageState::Failed(code, reason) => {
            ui.colored_label(
                theme::error(),
                format!("The page of code {code} could not be computed: {reason}"),
            );
            None
        }
        PageState::Ready(page) => Some(
            ui.scope(|ui| page_body(ui, session, page, media, commands))
                .response
                .rect,
        ),
    }
}

/// Back, forward, the code's name, the "go to code" box, *Show on map* and export.
fn header(
    ui: &mut Ui,
    session: &Session,
    typed_code: &mut String,
    codebook_size: usize,
    commands: &mut Vec<Command>,
) {
    let pages = &session.code_pages;
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(pages.can_go_back(), egui::Button::new(BACK))
            .on_hover_text("The previous code page")
            .clicked()
        {
            commands.push(Command::CodePageBack);
        }
        if ui
            .add_enabled(pages.can_go_forward(), egui::Button::new(FORWARD))
            .on_hover_text("The next code page")
            .clicked()
        {
            commands.push(Command::CodePageForward);
        }
        if let Some(code) = pages.current() {
            let (r, _) = ui.allocate_exact_size(Vec2::splat(22.0), Sense::hover());
            ui.painter().rect_filled(r, 4, theme::code_color(code));
            ui.label(
                RichText::new(format!("Code {code}"))
                    .heading()
                    .color(theme::strong_text()),
            );
            muted(ui, format!("of {codebook_size}"));
        }
        ui.separator();
        let label = ui.label(GO_TO_CODE);
        let edit = ui
            .add(
                egui::TextEdit::singleline(typed_code)
                    .desired_width(60.0)
                    .hint_text("id"),
            )
            .labelled_by(label.id);
        let typed: Option<u32> = typed_code.trim().parse().ok();
        let valid = typed.filter(|&c| (c as usize) < codebook_size);
        let entered = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        let open = ui.add_enabled(valid.is_some(), egui::Button::new("Open"));
        if let Some(code) = valid
            && (entered || open.clicked())
        {
            commands.push(Command::OpenCodePage(code));
            typed_code.clear();
        }
        if typed.is_some() && valid.is_none() {
            ui.colored_label(
                theme::warning(),
                format!("0 to {}", codebook_size.saturating_sub(1)),
            );
        }
        if let Some(code) = pages.current() {
            ui.separator();
            let has_gallery = session
                .summary
                .as_ref()
                .is_some_and(|s| !s.gallery.is_empty());
            if ui
                .add_enabled(has_gallery, egui::Button::new(SHOW_ON_MAP))
                .on_hover_text("Select the gallery items that use this code (Selection tab)")
                .clicked()
            {
                commands.push(Command::ShowCodeOnMap(code));
            }
            let lit = session.selected_code == Some(code);
            if ui
                .selectable_label(lit, "light up everywhere")
                .on_hover_text("Highlight this code in the strips, the usage chart and the map")
                .clicked()
            {
                commands.push(Command::SelectCode((!lit).then_some(code)));
            }
            if ui
                .add_enabled(
                    matches!(pages.state(), PageState::Ready(_)),
                    egui::Button::new(EXPORT_PAGE),
                )
                .on_hover_text(
                    "Write the page as shown (PNG), its facts (JSON) and its sound (WAV)",
                )
                .clicked()
            {
                commands.push(Command::ExportCodePage);
            }
        }
    });
}

/// The page itself.
fn page_body(
    ui: &mut Ui,
    session: &Session,
    page: &CodePage,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    let f = &page.facts;
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{} in {} \u{b7} {:.2} % of all {} assignments",
                counted(f.positions, "position"),
                counted(f.items as u64, "item"),
                100.0 * f.share_of_assignments,
                f.total_positions
            ))
            .strong()
            .size(17.0),
        );
        muted(ui, format!("\u{b7} {}", page.last_reset_text()));
    });
    ui.add_space(6.0);
    let left = |ui: &mut Ui| {
        section(ui, "Usage", |ui| usage(ui, page));
        ui.add_space(8.0);
        section(ui, "Where it is used", |ui| {
            muted(
                ui,
                "share of the items with a code at each position that have this code there",
            );
            for map in &f.position_maps {
                position_map(ui, f.code, map);
            }
        });
    };
    let mut right = |ui: &mut Ui| {
        section(ui, "What it stands for", |ui| {
            decoded(ui, session, f.code, &page.decoded, media, commands);
        });
        ui.add_space(8.0);
        links(ui, page, commands);
    };
    if ui.available_width() >= TWO_COLUMNS_MIN_WIDTH {
        ui.columns(2, |cols| {
            left(&mut cols[0]);
            right(&mut cols[1]);
        });
    } else {
        left(ui);
        ui.add_space(8.0);
        right(ui);
    }
    ui.add_space(8.0);
    section(ui, "Used most by", |ui| {
        if f.top_items.iter().all(|t| t.items.is_empty()) {
            muted(ui, "no gallery item uses this code");
        }
        for top in f.top_items.iter().filter(|t| !t.items.is_empty()) {
            top_items(ui, session, top, media, commands);
        }
    });
}

/// The nearest and the co-occurring codes, each a link to its page.
fn links(ui: &mut Ui, page: &CodePage, commands: &mut Vec<Command>) {
    let f = &page.facts;
    section(ui, "Nearest codes", |ui| {
        if f.nearest_codes.is_empty() {
            muted(ui, "this bundle has no code vectors");
        }
        ui.horizontal_wrapped(|ui| {
            for n in &f.nearest_codes {
                code_chip(
                    ui,
                    n.code,
                    &format!("code {} \u{b7} {:.2}", n.code, n.l2_distance),
                    &format!(
                        "code {}: distance {:.4}; open its page",
                        n.code, n.l2_distance
                    ),
                    commands,
                );
            }
        });
    });
    ui.add_space(8.0);
    section(ui, "Co-occurs with", |ui| {
        if f.co_occurring.is_empty() {
            muted(ui, "no item uses this code with another");
        }
        ui.horizontal_wrapped(|ui| {
            for c in &f.co_occurring {
                code_chip(
                    ui,
                    c.code,
                    &format!("code {} \u{b7} {}", c.code, counted(c.items as u64, "item")),
                    &format!("code {} is used with this one in {} items", c.code, c.items),
                    commands,
                );
            }
        });
    });
}

/// Bars per modality (share of its positions) and per class (positions).
fn usage(ui: &mut Ui, page: &CodePage) {
    let f = &page.facts;
    // At most BAR_WIDTH, less in a narrow column.
    let bar_width = BAR_WIDTH.min(ui.available_width() * 0.3).max(40.0);
    let max_share = f
        .per_modality
        .iter()
        .map(|u| u.share_of_modality)
        .fold(0.0, f64::max);
    egui::Grid::new("code-page-modalities")
        .num_columns(3)
        .show(ui, |ui| {
            for u in &f.per_modality {
                modality_chip(ui, u.modality);
                bar(
                    ui,
                    bar_width,
                    fraction(u.share_of_modality, max_share),
                    theme::modality_color(u.modality),
                );
                muted(
                    ui,
                    format!(
                        "{} ({:.2} %) \u{b7} {}",
                        counted(u.positions, "position"),
                        100.0 * u.share_of_modality,
                        counted(u.items as u64, "item")
                    ),
                )
                .on_hover_text(format!(
                    "{} of the {} positions of {} items",
                    u.positions, u.modality_positions, u.modality
                ));
                ui.end_row();
            }
        });
    if f.per_class.is_empty() {
        return;
    }
    ui.add_space(4.0);
    muted(ui, "positions per class");
    let max = f.per_class.iter().map(|c| c.positions).max().unwrap_or(0) as f64;
    egui::Grid::new("code-page-classes")
        .num_columns(3)
        .show(ui, |ui| {
            for (i, c) in f.per_class.iter().enumerate() {
                ui.label(RichText::new(&c.label).strong());
                bar(
                    ui,
                    bar_width,
                    fraction(c.positions as f64, max),
                    theme::class_color(i),
                );
                muted(
                    ui,
                    format!(
                        "{} \u{b7} {}",
                        counted(c.positions, "position"),
                        counted(c.items as u64, "item")
                    ),
                );
                ui.end_row();
            }
        });
}

/// "1 item", "2 items".
fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn fraction(value: f64, max: f64) -> f32 {
    if max > 0.0 { (value / max) as f32 } else { 0.0 }
}

/// A horizontal bar of `width` points filled to `fraction`.
fn bar(ui: &mut Ui, width: f32, fraction: f32, color: Color32) {
    let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 14.0), Sense::hover());
    ui.painter().rect_filled(rect, 3, theme::bar_track());
    let mut fill = rect;
    fill.set_width(rect.width() * fraction.clamp(0.0, 1.0));
    ui.painter().rect_filled(fill, 3, color);
}

/// One modality's positions: a grid for images, a row for audio time steps and tokens.
fn position_map(ui: &mut Ui, code: u32, map: &PositionMap) {
    let shares: Vec<f32> = map
        .uses
        .iter()
        .zip(&map.items_at)
        .map(|(&u, &n)| fraction(u as f64, n as f64))
        .collect();
    let max = shares.iter().copied().fold(0.0f32, f32::max);
    let cols = match map.grid {
        Some([_, c]) => c.max(1),
        None => ((ui.available_width() / HEAT_CELL).floor() as usize).max(1),
    };
    let rows = shares.len().div_ceil(cols).max(1);
    ui.horizontal(|ui| {
        modality_chip(ui, map.modality);
        muted(
            ui,
            match map.modality {
                Modality::Image => "grid cells",
                Modality::Audio => "time steps",
                Modality::Text => "token positions",
            },
        );
        if max > 0.0 {
            muted(ui, format!("\u{b7} most {:.0} %", 100.0 * max));
        }
    });
    let size = Vec2::new(cols as f32 * HEAT_CELL, rows as f32 * HEAT_CELL);
    let (rect, response) = ui.allocate_exact_size(size, Sense::hover());
    let counts: Vec<String> = map.uses.iter().map(u64::to_string).collect();
    response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::Role::Image,
            true,
            format!(
                "{} positions of code {code}: {}",
                map.modality,
                counts.join(" ")
            ),
        )
    });
    let painter = ui.painter_at(rect);
    let mut hovered = None;
    for (p, &share) in shares.iter().enumerate() {
        let cell = Rect::from_min_size(
            rect.min + Vec2::new((p % cols) as f32 * HEAT_CELL, (p / cols) as f32 * HEAT_CELL),
            Vec2::splat(HEAT_CELL),
        )
        .shrink(1.0);
        let fill = if map.uses[p] == 0 {
            theme::heat_empty()
        } else {
            theme::heat(fraction(f64::from(share), f64::from(max)))
        };
        painter.rect_filled(cell, 2, fill);
        if response.hover_pos().is_some_and(|h| cell.contains(h)) {
            painter.rect_stroke(
                cell,
                2,
                Stroke::new(2.0, theme::highlight()),
                StrokeKind::Inside,
            );
            hovered = Some(p);
        }
    }
    if let Some(p) = hovered {
        response.on_hover_text_at_pointer(format!(
            "position {p}: {} of {} items ({:.1} %)",
            map.uses[p],
            map.items_at[p],
            100.0 * shares[p]
        ));
    }
    ui.add_space(4.0);
}

/// The decoded picture and sound, or why there is none.
fn decoded(
    ui: &mut Ui,
    session: &Session,
    code: u32,
    decoded: &DecodedCode,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    ui.horizontal_top(|ui| {
        if let Some(img) = &decoded.image {
            let dir = session
                .summary
                .as_ref()
                .map(|s| s.dir.display().to_string())
                .unwrap_or_default();
            let key = format!("code:{dir}:{code}:picture");
            let tex = media.generated(ui.ctx(), &key, || {
                ColorImage::from_gray([img.width as usize, img.height as usize], &img.pixels)
            });
            let (rect, response) =
                ui.allocate_exact_size(Vec2::splat(PICTURE_SIDE), Sense::hover());
            response.widget_info(|| {
                egui::WidgetInfo::labeled(
                    egui::Role::Image,
                    true,
                    format!("code {code} as a picture"),
                )
            });
            ui.painter().rect_filled(rect, 3, theme::extreme_bg());
            ui.painter().image(
                tex.id(),
                fit_rect(rect, tex.size_vec2()),
                unit_uv(),
                theme::white(),
            );
        }
        if let Some(sound) = &decoded.sound {
            ui.vertical(|ui| {
                waveform(ui, &sound.samples, Vec2::new(220.0, 60.0));
                ui.horizontal(|ui| {
                    play_toggle(ui, &session.audio, &ClipId::Code(code), "Play", commands);
                    muted(
                        ui,
                        format!(
                            "{:.2} s at {} Hz",
                            sound.duration_secs, sound.sample_rate_hz
                        ),
                    );
                });
            });
        }
    });
    if decoded.image.is_some() || decoded.sound.is_some() {
        muted(
            ui,
            "the code's vector, as the embedding of an item that takes this code everywhere, \
             through the bundle's decoders",
        );
    }
    for n in &decoded.not_decoded {
        muted(ui, format!("no {}: {}", n.modality, n.reason));
    }
}

/// The items of one modality that use the code most: thumbnails, play buttons or texts.
fn top_items(
    ui: &mut Ui,
    session: &Session,
    top: &TopItems,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    let Some(summary) = &session.summary else {
        return;
    };
    ui.horizontal(|ui| {
        modality_chip(ui, top.modality);
        muted(ui, "most positions first; click one to use it as the query");
    });
    ui.horizontal_wrapped(|ui| {
        for item in &top.items {
            let Some(p) = summary.gallery.get(item.index) else {
                continue;
            };
            let name = match (&p.text, &p.label) {
                (Some(t), _) => format!("\u{201c}{}\u{201d}", short(t, 24)),
                (None, Some(l)) => l.clone(),
                (None, None) => format!("#{}", p.index),
            };
            let frame = egui::Frame::new()
                .fill(theme::faint_bg())
                .corner_radius(4)
                .inner_margin(egui::Margin::same(4));
            frame.show(ui, |ui| {
                ui.vertical(|ui| {
                    if let (Modality::Image, Some(path)) = (p.modality, &p.media) {
                        thumbnail(ui, media, Some(path), THUMB_SIDE, 96);
                    }
                    ui.horizontal(|ui| {
                        if let (Modality::Audio, Some(path)) = (p.modality, &p.media) {
                            play_toggle(
                                ui,
                                &session.audio,
                                &ClipId::File(path.clone()),
                                "",
                                commands,
                            );
                        }
                        let text = format!("{name} \u{d7}{}", item.positions);
                        if ui
                            .add(egui::Button::new(RichText::new(text).strong()).frame(false))
                            .on_hover_text(format!(
                                "#{} \u{b7} {} \u{b7} code at {} positions; use as the query",
                                p.index, p.source, item.positions
                            ))
                            .clicked()
                        {
                            commands.push(Command::AddInput(
                                crate::engine::InputSource::GalleryItem(p.index),
                            ));
                        }
                    });
                })
            });
        }
    });
    ui.add_space(4.0);
}
