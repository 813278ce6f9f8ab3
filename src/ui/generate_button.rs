//! "Show this input in the other modality": for a bundle with generation decoders, a button
//! under an analysed image or sound that decodes its codes into the other modality. The
//! generated item is analysed like any input (its own codes, label and place on the map), so a
//! student sees what survives the trip through the shared codebook.

use egui::Ui;

use crate::engine::InputSource;
use crate::modality::Modality;
use crate::ui::session::Session;
use crate::ui::state::InputEntry;
use crate::ui::{Command, muted};

/// Accessible name of the button that decodes an image's codes as sound.
pub const HEAR_LABEL: &str = "Hear its codes as audio";
/// Accessible name of the button that decodes a sound's codes as an image.
pub const SEE_LABEL: &str = "See its codes as an image";

/// The modalities `entry` can be shown in: those the model has a decoder for, other than its
/// own (text is never generated).
pub fn targets(session: &Session, entry: &InputEntry) -> Vec<Modality> {
    let Some(summary) = &session.summary else {
        return Vec::new();
    };
    let Some(own) = entry.modality() else {
        return Vec::new();
    };
    if own == Modality::Text || entry.analysis().is_none() {
        return Vec::new();
    }
    summary
        .generation_targets
        .iter()
        .copied()
        .filter(|m| *m != own)
        .collect()
}

/// Draws the buttons (nothing when the model has no decoder for another modality).
pub fn show(ui: &mut Ui, session: &Session, entry: &InputEntry, commands: &mut Vec<Command>) {
    let targets = targets(session, entry);
    if targets.is_empty() {
        return;
    }
    ui.horizontal(|ui| {
        for to in targets {
            let (label, hover) = match to {
                Modality::Audio => (
                    HEAR_LABEL,
                    "Decode this input's codes with the model's audio decoder (a log-mel made \
                     audible by Griffin–Lim); the sound is added as a new input",
                ),
                _ => (
                    SEE_LABEL,
                    "Decode this input's codes with the model's image decoder; the picture is \
                     added as a new input",
                ),
            };
            if ui.button(label).on_hover_text(hover).clicked() {
                commands.push(Command::AddInput(InputSource::Generated {
                    from: Box::new(entry.source.clone()),
                    to,
                }));
            }
        }
        muted(ui, "then see which label and codes the model gives it");
    });
}
