//! The selected input as the model sees it (preprocessed image beside the original; waveform
//! and log-mel spectrogram with play buttons; tokens) next to its code strip.

use egui::{Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2};

use crate::audio_io::ClipId;
use crate::engine::{Analysis, InputSource, InputView};
use crate::modality::Modality;
use crate::ui::audio_controls::{mel_fraction, paint_playhead, play_toggle};
use crate::ui::code_strip::StripStyle;
use crate::ui::frame_view::FrameView;
use crate::ui::media::{self, MediaCache};
use crate::ui::session::Session;
use crate::ui::state::{InputEntry, InputStatus};
use crate::ui::{Command, Icon, code_strip, format_ms, icon, modality_chip, muted, theme};

/// What the view says of a gallery item read from its stored codes and embedding, in a
/// bundle with encoders (its media is not shipped).
pub const STORED_ITEM_NOTE: &str =
    "the gallery's stored codes and embedding of this item (its media is not shipped)";
/// The same, in a vectors-only bundle.
pub const STORED_VECTORS_NOTE: &str = "stored vectors (imported; this bundle has no encoders)";

/// Side of the image views (points).
const IMAGE_SIDE: f32 = 168.0;

/// What the view reports back to the app.
#[derive(Default)]
pub struct ViewOutput {
    /// Code under the pointer.
    pub hovered_code: Option<u32>,
    /// Where the code strip was drawn.
    pub strip_rect: Option<Rect>,
}

/// Draws the selected input (header, view, codes).
pub fn show(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    entry: &InputEntry,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) -> ViewOutput {
    let mut out = ViewOutput::default();
    ui.horizontal(|ui| {
        if let Some(m) = entry.modality() {
            modality_chip(ui, m);
        }
        ui.label(RichText::new(&entry.name).heading().strong());
    });
    if let Some(a) = entry.analysis() {
        muted(
            ui,
            format!(
                "preprocess {} · encode {} · total with search {}",
                format_ms(a.input.preprocess_ms),
                format_ms(a.input.encode_ms),
                format_ms(a.total_ms)
            ),
        );
    }
    let analysis = match &entry.status {
        InputStatus::Queued | InputStatus::Running => {
            ui.horizontal(|ui| {
                ui.spinner();
                muted(ui, "analysing…");
            });
            return out;
        }
        InputStatus::Failed(reason) => {
            ui.label(
                RichText::new(format!("Could not analyse this input: {reason}"))
                    .color(theme::error()),
            );
            return out;
        }
        InputStatus::Cancelled => {
            muted(
                ui,
                "Cancelled before it was analysed; add it again to analyse it.",
            );
            return out;
        }
        InputStatus::Done(a) => a,
    };
    crate::ui::generate_button::show(ui, session, entry, commands);
    let n = analysis.input.item.codes.len();
    match &analysis.input.view {
        InputView::Image {
            preview,
            width,
            height,
            channels,
            original_width,
            original_height,
            grid,
        } => {
            ui.horizontal_top(|ui| {
                if let Some(path) = original_of(session, entry) {
                    ui.vertical(|ui| {
                        muted(ui, format!("original {original_width}×{original_height}"));
                        let (rect, _) =
                            ui.allocate_exact_size(Vec2::splat(IMAGE_SIDE), Sense::hover());
                        ui.painter().rect_filled(rect, 4, theme::extreme_bg());
                        match media.file_image(&path, 256) {
                            Some(tex) => {
                                let fit = fit_rect(rect, tex.size_vec2());
                                ui.painter().image(tex.id(), fit, unit_uv(), theme::white());
                            }
                            None => {
                                ui.put(rect, egui::Spinner::new());
                            }
                        }
                    });
                }
                ui.vertical(|ui| {
                    muted(ui, format!("model input {width}×{height}"));
                    let key = format!("input:{}:{}:preview", entry.key, entry.request_id);
                    let tex = media.generated(ui.ctx(), &key, || {
                        media::preview_image(preview, *width, *height, *channels)
                    });
                    let (rect, _) = ui.allocate_exact_size(Vec2::splat(IMAGE_SIDE), Sense::hover());
                    let fit = fit_rect(rect, tex.size_vec2());
                    ui.painter().image(tex.id(), fit, unit_uv(), theme::white());
                    let item = &analysis.input.item;
                    let cells = item.grid_cells(*grid);
                    paint_grid_overlay(ui, view.focus(session), fit, *grid, cells, &item.codes);
                });
                ui.add_space(12.0);
                ui.vertical(|ui| {
                    let cell = (IMAGE_SIDE / grid[1].max(1) as f32).clamp(18.0, 46.0);
                    codes_strip(
                        ui,
                        session,
                        view,
                        analysis,
                        StripStyle::labelled(cell),
                        commands,
                        &mut out,
                    );
                    let map = format!("{}×{} feature map", grid[0], grid[1]);
                    match analysis.input.blank_cells() {
                        Some(n) if n > 0 => {
                            muted(ui, format!("{map}; {n} cells of blank paper get no code"))
                        }
                        _ => muted(ui, map),
                    }
                });
            });
        }
        InputView::Audio {
            samples,
            sample_rate_hz,
            mel,
            n_mels,
            n_frames,
            mel_frame_secs,
            mel_sample_rate_hz,
            original_sample_rate_hz,
            original_duration_secs,
            trimmed_duration_secs,
        } => {
            let frame_ms = mel_frame_secs * 1000.0;
            muted(
                ui,
                format!(
                    "original {original_duration_secs:.2} s at {original_sample_rate_hz} Hz; \
                     the model hears {trimmed_duration_secs:.2} s at {sample_rate_hz} Hz, \
                     as a log-mel of {n_mels} mels × {n_frames} frames of {frame_ms:.0} ms \
                     at {mel_sample_rate_hz} Hz"
                ),
            );
            let audio = &session.audio;
            let model_clip = ClipId::Input(entry.key);
            ui.horizontal(|ui| {
                if let Some(path) = original_of(session, entry) {
                    play_toggle(ui, audio, &ClipId::File(path), "Play original", commands);
                }
                play_toggle(
                    ui,
                    audio,
                    &model_clip,
                    "Play as the model hears it",
                    commands,
                );
                if matches!(entry.source, InputSource::Recording { .. })
                    && ui
                        .button("Save as WAV…")
                        .on_hover_text("Save the recording as it came from the microphone")
                        .clicked()
                {
                    commands.push(Command::SaveRecording(entry.key));
                }
            });
            let playhead = audio
                .status
                .playback
                .as_ref()
                .filter(|p| p.id == model_clip);
            let width = ui.available_width();
            let wave_rect = waveform(ui, samples, Vec2::new(width, 64.0));
            let key = format!("input:{}:{}:mel", entry.key, entry.request_id);
            let tex = media.generated(ui.ctx(), &key, || {
                media::spectrogram_image(mel, *n_mels, *n_frames)
            });
            let (rect, _) = ui.allocate_exact_size(Vec2::new(width, 96.0), Sense::hover());
            ui.painter()
                .image(tex.id(), rect, unit_uv(), theme::white());
            if let Some(p) = playhead {
                paint_playhead(ui, wave_rect, p.fraction());
                let f = mel_fraction(p.position_secs, *mel_frame_secs, *n_frames);
                paint_playhead(ui, rect, f);
            }
            ui.painter().text(
                rect.left_top() + Vec2::new(4.0, 2.0),
                egui::Align2::LEFT_TOP,
                format!("log-mel the encoder reads ({mel_sample_rate_hz} Hz)"),
                egui::FontId::proportional(12.0),
                theme::strong_text(),
            );
            ui.add_space(4.0);
            // Cells spread over the same width as the spectrogram: one per time step.
            let cell = (width / n.max(1) as f32).clamp(14.0, 40.0);
            codes_strip(
                ui,
                session,
                view,
                analysis,
                StripStyle::labelled(cell),
                commands,
                &mut out,
            );
            ui.horizontal(|ui| {
                muted(ui, "time");
                icon(ui, Icon::Arrow, 18.0, theme::muted_text());
            });
        }
        InputView::Text {
            tokens, truncated, ..
        } => {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(format!("tokens: {}", tokens.len())).strong());
                if *truncated {
                    ui.label(
                        RichText::new("(truncated to the model's limit)").color(theme::warning()),
                    );
                }
            });
            codes_strip(
                ui,
                session,
                view,
                analysis,
                StripStyle {
                    captions: true,
                    ..StripStyle::labelled(32.0)
                },
                commands,
                &mut out,
            );
        }
        InputView::Stored {
            media: media_path,
            text,
        } => {
            // The embedding and codes stored in the gallery, not computed now: a vectors-only
            // bundle's (imported), or a gallery item whose media is not shipped.
            let encoders = session.summary.as_ref().is_some_and(|s| s.has_encoders());
            muted(
                ui,
                if encoders {
                    STORED_ITEM_NOTE
                } else {
                    STORED_VECTORS_NOTE
                },
            );
            if let Some(text) = text {
                ui.label(text.as_str());
            }
            match (analysis.input.modality, media_path) {
                (Modality::Image, Some(path)) => {
                    thumbnail(ui, media, Some(path), IMAGE_SIDE, 256);
                }
                (Modality::Audio, Some(path)) => {
                    let clip = ClipId::File(path.clone());
                    play_toggle(ui, &session.audio, &clip, "Play clip", commands);
                }
                _ => {}
            }
            codes_strip(
                ui,
                session,
                view,
                analysis,
                StripStyle::labelled(32.0),
                commands,
                &mut out,
            );
        }
    }
    out
}

/// The file to show as "original": the input file, or a gallery item's media.
fn original_of(session: &Session, entry: &InputEntry) -> Option<std::path::PathBuf> {
    match &entry.source {
        InputSource::File(p) => Some(p.clone()),
        InputSource::GalleryItem(i) => session
            .summary
            .as_ref()
            .and_then(|s| s.gallery.get(*i))
            .and_then(|p| p.media.clone()),
        _ => None,
    }
}

/// A square thumbnail of `side` points showing the image file `path` (decoded off the UI
/// thread at most `max_px` on a side; an empty square until it is ready).
pub fn thumbnail(
    ui: &mut Ui,
    media: &mut MediaCache,
    path: Option<&std::path::Path>,
    side: f32,
    max_px: u32,
) {
    let (rect, _) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
    ui.painter().rect_filled(rect, 3, theme::extreme_bg());
    if let Some(tex) = path.and_then(|p| media.file_image(p, max_px)) {
        let fit = fit_rect(rect, tex.size_vec2());
        ui.painter().image(tex.id(), fit, unit_uv(), theme::white());
    }
}

/// The largest rectangle of `size`'s aspect ratio centred in `outer`.
pub fn fit_rect(outer: Rect, size: Vec2) -> Rect {
    if size.x <= 0.0 || size.y <= 0.0 {
        return outer;
    }
    let scale = (outer.width() / size.x).min(outer.height() / size.y);
    Rect::from_center_size(outer.center(), size * scale)
}

/// Full texture coordinates.
pub fn unit_uv() -> Rect {
    Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0))
}

/// The selected input's code strip under its "codes: N positions" heading; the code under
/// the pointer and where the strip was drawn go into `out`.
fn codes_strip(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    analysis: &Analysis,
    style: StripStyle,
    commands: &mut Vec<Command>,
    out: &mut ViewOutput,
) {
    let n = analysis.input.item.codes.len();
    let heading = match &analysis.input.view {
        InputView::Image { grid, .. } if grid[0] * grid[1] > n => {
            format!("codes: {n} of {} cells", grid[0] * grid[1])
        }
        _ => format!("codes: {n} positions"),
    };
    ui.label(RichText::new(heading).strong());
    let (hovered, rect) = code_strip::show_strip(ui, session, view, analysis, style, commands);
    out.hovered_code = hovered;
    out.strip_rect = Some(rect);
}

/// Feature-map grid over the preprocessed image (`cells`: the grid cell of each of `codes`,
/// [`crate::model::EncodedItem::grid_cells`]); cells using the `focus` code are outlined.
fn paint_grid_overlay(
    ui: &Ui,
    focus: Option<u32>,
    rect: Rect,
    grid: [usize; 2],
    cells: Option<Vec<usize>>,
    codes: &[u32],
) {
    let [rows, cols] = grid;
    let Some(at) = cells else {
        return;
    };
    let painter = ui.painter_at(rect);
    let (cw, ch) = (rect.width() / cols as f32, rect.height() / rows as f32);
    let line = Stroke::new(1.0, theme::grid_overlay());
    for c in 1..cols {
        let x = rect.left() + c as f32 * cw;
        painter.line_segment(
            [Pos2::new(x, rect.top()), Pos2::new(x, rect.bottom())],
            line,
        );
    }
    for r in 1..rows {
        let y = rect.top() + r as f32 * ch;
        painter.line_segment(
            [Pos2::new(rect.left(), y), Pos2::new(rect.right(), y)],
            line,
        );
    }
    if let Some(code) = focus {
        for (&i, &c) in at.iter().zip(codes) {
            if c == code {
                let cell = Rect::from_min_size(
                    Pos2::new(
                        rect.left() + (i % cols) as f32 * cw,
                        rect.top() + (i / cols) as f32 * ch,
                    ),
                    Vec2::new(cw, ch),
                );
                painter.rect_stroke(
                    cell,
                    2,
                    Stroke::new(2.5, theme::highlight()),
                    StrokeKind::Inside,
                );
            }
        }
    }
}

/// A min/max waveform of `size`; returns where it was drawn.
pub fn waveform(ui: &mut Ui, samples: &[f32], size: Vec2) -> Rect {
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 4, theme::extreme_bg());
    let peak = samples.iter().fold(0f32, |m, s| m.max(s.abs())).max(1e-6);
    let env = media::waveform_envelope(samples, rect.width() as usize);
    let mid = rect.center().y;
    let half = rect.height() / 2.0 - 2.0;
    let stroke = Stroke::new(1.0, theme::waveform());
    // Buckets spread over the whole width, so a playhead at a fraction of the clip lands on
    // the same fraction of the drawing.
    let step = rect.width() / env.len().max(1) as f32;
    for (i, (lo, hi)) in env.iter().enumerate() {
        let x = rect.left() + (i as f32 + 0.5) * step;
        painter.line_segment(
            [
                Pos2::new(x, mid - hi / peak * half),
                Pos2::new(x, mid - lo / peak * half + 0.5),
            ],
            stroke,
        );
    }
    rect
}

/// Compact view of one analysis for the "all inputs" comparison: name and its codes.
pub fn compact_row(
    ui: &mut Ui,
    session: &Session,
    view: &FrameView,
    entry: &InputEntry,
    analysis: &Analysis,
    commands: &mut Vec<Command>,
) -> Option<u32> {
    let mut hovered = None;
    ui.horizontal_top(|ui| {
        let selected = session.selected == Some(entry.key);
        ui.vertical(|ui| {
            ui.set_width(150.0);
            let m = analysis.input.modality;
            let text = RichText::new(crate::ui::text::short(&entry.name, 18))
                .color(theme::modality_color(m));
            if ui.selectable_label(selected, text).clicked() {
                commands.push(Command::SelectInput(entry.key));
            }
        });
        let cell = match analysis.input.modality {
            Modality::Image => 15.0,
            _ => 17.0,
        };
        let (h, _) = code_strip::show_strip(
            ui,
            session,
            view,
            analysis,
            StripStyle {
                cell,
                label_codes: false,
                captions: false,
            },
            commands,
        );
        hovered = h;
    });
    hovered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect() {
        let r = fit_rect(
            Rect::from_min_size(Pos2::ZERO, Vec2::new(100.0, 100.0)),
            Vec2::new(50.0, 25.0),
        );
        assert_eq!(r.size(), Vec2::new(100.0, 50.0));
        assert_eq!(r.center(), Pos2::new(50.0, 50.0));
    }
}
