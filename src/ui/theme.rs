//! Every colour and text size of the explorer lives here: modality colours, the stable code
//! palette, class colours, the heat-map ramp and the window's visuals. Panels never spell a
//! colour themselves.

use egui::{Color32, FontFamily, FontId, TextStyle, ecolor::Hsva};

use crate::modality::Modality;

/// Golden-ratio conjugate: successive code ids land far apart on the hue circle.
const GOLDEN: f32 = 0.618_034;

/// Base text size (points): readable from the back of a classroom.
pub const BODY_SIZE: f32 = 16.0;

/// Zoom of presenter mode (everything, text included, this many times larger).
pub const PRESENTER_ZOOM: f32 = 1.5;

/// Applies the explorer's visuals and text sizes to a context.
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Dark);
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (
                TextStyle::Small,
                FontId::new(13.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Body,
                FontId::new(BODY_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Button,
                FontId::new(BODY_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Heading,
                FontId::new(21.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(15.0, FontFamily::Monospace),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(8.0, 4.0);
        style.spacing.interact_size.y = 26.0;
        let v = &mut style.visuals;
        v.panel_fill = panel_fill();
        v.window_fill = window_fill();
        v.extreme_bg_color = extreme_bg();
        v.faint_bg_color = faint_bg();
        v.selection.bg_fill = accent().gamma_multiply(0.55);
        v.hyperlink_color = accent();
    });
}

/// System fonts tried, in order, as a fallback for symbols the bundled fonts lack (arrows in
/// model cards, accented file names, …).
const FALLBACK_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:\\Windows\\Fonts\\segoeui.ttf",
];

/// Adds the first system font found in [`FALLBACK_FONTS`] as the last fallback of every
/// family. Returns its path; without one, missing symbols show as boxes.
pub fn install_fallback_font(ctx: &egui::Context) -> Option<&'static str> {
    let (path, bytes) = FALLBACK_FONTS
        .iter()
        .find_map(|p| std::fs::read(p).ok().map(|b| (*p, b)))?;
    let families = [FontFamily::Proportional, FontFamily::Monospace]
        .into_iter()
        .map(|family| egui::epaint::text::InsertFontFamily {
            family,
            priority: egui::epaint::text::FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(egui::epaint::text::FontInsert::new(
        "system-fallback",
        egui::FontData::from_owned(bytes),
        families,
    ));
    Some(path)
}

/// Background of side and top panels.
pub fn panel_fill() -> Color32 {
    Color32::from_rgb(24, 26, 31)
}

/// Background of floating windows and notifications.
pub fn window_fill() -> Color32 {
    Color32::from_rgb(32, 35, 42)
}

/// Background of text boxes, plots and canvases.
pub fn extreme_bg() -> Color32 {
    Color32::from_rgb(14, 15, 18)
}

/// Background of cards and sections.
pub fn faint_bg() -> Color32 {
    Color32::from_rgb(34, 37, 45)
}

/// Border of cards and sections.
pub fn card_stroke() -> Color32 {
    Color32::from_rgb(56, 60, 72)
}

/// The accent colour (selection, links, primary buttons).
pub fn accent() -> Color32 {
    Color32::from_rgb(96, 165, 250)
}

/// Highlight of the selected code everywhere (strip, chart, map).
pub fn highlight() -> Color32 {
    Color32::from_rgb(255, 214, 10)
}

/// Secondary text.
pub fn muted_text() -> Color32 {
    Color32::from_rgb(150, 156, 170)
}

/// Primary text on dark backgrounds.
pub fn strong_text() -> Color32 {
    Color32::from_rgb(235, 238, 245)
}

/// Errors (notifications, failed inputs).
pub fn error() -> Color32 {
    Color32::from_rgb(248, 113, 113)
}

/// Warnings (missing default model).
pub fn warning() -> Color32 {
    Color32::from_rgb(251, 191, 36)
}

/// Success and information.
pub fn success() -> Color32 {
    Color32::from_rgb(74, 222, 128)
}

/// Colour of a modality (map points, chips, bars).
pub fn modality_color(m: Modality) -> Color32 {
    match m {
        Modality::Image => Color32::from_rgb(96, 165, 250),
        Modality::Audio => Color32::from_rgb(251, 146, 60),
        Modality::Text => Color32::from_rgb(52, 211, 153),
    }
}

/// Marker used for a modality's current inputs on the map.
pub fn modality_marker(m: Modality) -> egui_plot::MarkerShape {
    match m {
        Modality::Image => egui_plot::MarkerShape::Square,
        Modality::Audio => egui_plot::MarkerShape::Diamond,
        Modality::Text => egui_plot::MarkerShape::Up,
    }
}

/// Stable colour of a code id: golden-ratio hue steps, two brightness levels.
pub fn code_color(code: u32) -> Color32 {
    let h = (code as f32 * GOLDEN).fract();
    let (s, v) = if code.is_multiple_of(2) {
        (0.62, 0.95)
    } else {
        (0.78, 0.78)
    };
    Hsva::new(h, s, v, 1.0).into()
}

/// A code's colour faded (when another code is selected).
pub fn code_color_dimmed(code: u32) -> Color32 {
    code_color(code).gamma_multiply(0.28)
}

/// Text colour readable on top of `fill`.
pub fn text_on(fill: Color32) -> Color32 {
    if fill.intensity() > 0.55 {
        Color32::from_rgb(12, 12, 14)
    } else {
        Color32::from_rgb(245, 245, 248)
    }
}

/// Colour of class `i` (map "colour by class"); an 10-colour qualitative palette, then hues.
pub fn class_color(i: usize) -> Color32 {
    const PALETTE: [Color32; 10] = [
        Color32::from_rgb(31, 119, 180),
        Color32::from_rgb(255, 127, 14),
        Color32::from_rgb(44, 160, 44),
        Color32::from_rgb(214, 39, 40),
        Color32::from_rgb(148, 103, 189),
        Color32::from_rgb(140, 86, 75),
        Color32::from_rgb(227, 119, 194),
        Color32::from_rgb(188, 189, 34),
        Color32::from_rgb(23, 190, 207),
        Color32::from_rgb(220, 220, 220),
    ];
    PALETTE
        .get(i)
        .copied()
        .unwrap_or_else(|| Hsva::new((i as f32 * GOLDEN).fract(), 0.6, 0.9, 1.0).into())
}

/// Map items that get their own label zero-shot: muted, so the wrong ones stand out.
pub fn correct_point() -> Color32 {
    Color32::from_rgb(84, 104, 128)
}

/// Colour of items without a class.
pub fn unlabelled() -> Color32 {
    Color32::from_rgb(120, 120, 130)
}

/// Codebook vectors overlaid on the map.
pub fn codebook_point() -> Color32 {
    Color32::from_rgba_unmultiplied(200, 200, 210, 90)
}

/// Lines from an input to its nearest neighbours on the map.
pub fn neighbour_line(m: Modality) -> Color32 {
    modality_color(m).gamma_multiply(0.75)
}

/// Heat-map ramp (dark blue → teal → yellow), `t` in 0..1. Used for the confusion matrix
/// and the spectrogram.
pub fn heat(t: f32) -> Color32 {
    const STOPS: [(f32, [u8; 3]); 5] = [
        (0.0, [13, 8, 40]),
        (0.25, [59, 28, 140]),
        (0.5, [33, 145, 140]),
        (0.75, [94, 201, 98]),
        (1.0, [253, 231, 37]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    for w in STOPS.windows(2) {
        let (t0, c0) = w[0];
        let (t1, c1) = w[1];
        if t <= t1 {
            let f = (t - t0) / (t1 - t0);
            let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * f).round() as u8;
            return Color32::from_rgb(mix(c0[0], c1[0]), mix(c0[1], c1[1]), mix(c0[2], c1[2]));
        }
    }
    let c = STOPS[4].1;
    Color32::from_rgb(c[0], c[1], c[2])
}

/// Empty confusion-matrix cell.
pub fn heat_empty() -> Color32 {
    Color32::from_rgb(28, 30, 36)
}

/// Waveform line.
pub fn waveform() -> Color32 {
    modality_color(Modality::Audio)
}

/// Probability bar fill (zero-shot), the top label gets the accent.
pub fn probability_bar(top: bool) -> Color32 {
    if top {
        accent()
    } else {
        Color32::from_rgb(71, 85, 105)
    }
}

/// Background of a probability bar's track.
pub fn bar_track() -> Color32 {
    Color32::from_rgb(40, 44, 54)
}

/// Drawing canvas colours `(background, ink)` for a style.
pub fn canvas_colors(white_on_black: bool) -> (Color32, Color32) {
    if white_on_black {
        (Color32::BLACK, Color32::WHITE)
    } else {
        (Color32::WHITE, Color32::BLACK)
    }
}

/// Grid lines drawn over the preprocessed image (feature-map cells).
pub fn grid_overlay() -> Color32 {
    Color32::from_rgba_unmultiplied(255, 255, 255, 70)
}

/// Translucent veil behind the "drop files here" overlay.
pub fn drop_overlay() -> Color32 {
    Color32::from_rgba_unmultiplied(10, 20, 40, 200)
}

/// Neutral white (image tint).
pub fn white() -> Color32 {
    Color32::WHITE
}

/// Fill of a selected row in a list.
pub fn selected_row() -> Color32 {
    accent().gamma_multiply(0.25)
}

/// Rings around selected gallery items and the selection outline on the map.
pub fn selection() -> Color32 {
    Color32::from_rgb(250, 204, 21)
}

/// Gallery items the map's filter hides (drawn faint).
pub fn filtered_out() -> Color32 {
    Color32::from_rgba_unmultiplied(120, 120, 130, 60)
}

/// The record button's dot and the "recording" state.
pub fn recording() -> Color32 {
    Color32::from_rgb(239, 68, 68)
}

/// Playhead line over a waveform or spectrogram.
pub fn playhead() -> Color32 {
    Color32::from_rgb(250, 250, 250)
}

/// Level meter fill for a level in dBFS: below the speech threshold, speech, near clipping
/// (within 3 dB of full scale).
pub fn level_meter(level_dbfs: f32, speech_threshold_dbfs: f32) -> Color32 {
    if level_dbfs > -3.0 {
        error()
    } else if level_dbfs >= speech_threshold_dbfs {
        success()
    } else {
        muted_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_palette_is_stable_and_varied() {
        assert_eq!(code_color(7), code_color(7));
        assert_ne!(code_color(0), code_color(1));
        assert_ne!(code_color(1), code_color(2));
    }

    #[test]
    fn heat_ramp_ends() {
        assert_eq!(heat(0.0), Color32::from_rgb(13, 8, 40));
        assert_eq!(heat(1.0), Color32::from_rgb(253, 231, 37));
        assert_eq!(heat(f32::NAN), heat(0.0));
    }
}
