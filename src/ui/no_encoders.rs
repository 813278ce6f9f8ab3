//! A vectors-only bundle (`transference import`) has no encoders: the inputs panel says so
//! plainly and its drop zone, text box, recorder and canvas are disabled; new files, texts,
//! drawings and recordings are refused with that reason instead of failing one by one.
//! Gallery items (clicked on the map or in the neighbours) are still analysed, by their
//! stored embedding and codes.

use egui::{RichText, Ui};

use crate::engine::InputSource;
use crate::ui::session::Session;
use crate::ui::{muted, section, theme};

/// Title of the notice (also what tests look for).
pub const NOTICE_TITLE: &str = "This bundle has no encoders";

/// Why new inputs are off.
pub const REASON: &str = "It holds imported vectors (`transference import`), so it cannot \
                          analyse new images, sounds, text or drawings.";

/// True when a model is loaded and it has no encoder.
pub fn vectors_only(session: &Session) -> bool {
    session.summary.as_ref().is_some_and(|s| !s.has_encoders())
}

/// Why `source` cannot be analysed by the loaded bundle, if it cannot.
pub fn refusal(session: &Session, source: &InputSource) -> Option<&'static str> {
    (vectors_only(session) && !matches!(source, InputSource::GalleryItem(_))).then_some(REASON)
}

/// Shows the notice (for a bundle without encoders).
pub fn notice(ui: &mut Ui) {
    section(ui, NOTICE_TITLE, |ui| {
        ui.label(RichText::new(REASON).color(theme::warning()));
        muted(
            ui,
            "Click a point on the map or a neighbour to look at a gallery item by its stored \
             embedding and codes; the map, codebook usage, neighbours and the transfer lab work.",
        );
    });
    ui.add_space(8.0);
}
