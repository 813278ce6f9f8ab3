//! Retrieval: the selected input's nearest gallery items in each modality, with score,
//! thumbnail, play button (audio) or text. Clicking an item makes it the query.

use egui::{RichText, Ui};

use crate::audio_io::ClipId;
use crate::engine::{InputSource, Neighbour};
use crate::modality::Modality;
use crate::ui::audio_controls::play_toggle;
use crate::ui::audio_state::AudioUi;
use crate::ui::input_view::thumbnail;
use crate::ui::media::MediaCache;
use crate::ui::session::Session;
use crate::ui::{Command, modality_chip, muted, play_button, section, text::short};

/// Side of a thumbnail.
const THUMB: f32 = 40.0;

/// Draws the section.
pub fn show(ui: &mut Ui, session: &Session, media: &mut MediaCache, commands: &mut Vec<Command>) {
    section(ui, "Nearest in the gallery", |ui| {
        let Some(analysis) = session.selected_input().and_then(|e| e.analysis()) else {
            muted(
                ui,
                "Select an analysed input to see its neighbours in every modality.",
            );
            return;
        };
        if analysis.neighbours.is_empty() {
            muted(ui, "This model has no gallery to search.");
            return;
        }
        let lists = &analysis.neighbours;
        ui.columns(lists.len(), |cols| {
            for (col, (m, hits)) in cols.iter_mut().zip(lists) {
                col.horizontal(|ui| {
                    modality_chip(ui, *m);
                    muted(ui, format!("top {}", hits.len()));
                });
                for n in hits {
                    neighbour_row(col, n, &session.audio, media, commands);
                }
            }
        });
    });
}

fn neighbour_row(
    ui: &mut Ui,
    n: &Neighbour,
    audio: &AudioUi,
    media: &mut MediaCache,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.set_min_height(THUMB);
        match n.modality {
            Modality::Image => thumbnail(ui, media, n.media.as_deref(), THUMB, 128),
            Modality::Audio => match &n.media {
                Some(path) => play_toggle(ui, audio, &ClipId::File(path.clone()), "", commands),
                None => {
                    play_button(ui, false, "", "This item has no clip");
                }
            },
            Modality::Text => {}
        }
        ui.vertical(|ui| {
            let title = match (n.modality, &n.text, &n.label) {
                (Modality::Text, Some(t), _) => format!("“{}”", short(t, 26)),
                (_, _, Some(l)) => l.clone(),
                _ => short(&n.source, 20),
            };
            let response = ui
                .add(egui::Button::new(RichText::new(title).strong()).frame(false))
                .on_hover_text(format!("{}\nclick: use as the query", n.source));
            if response.clicked() {
                commands.push(Command::AddInput(InputSource::GalleryItem(n.index)));
            }
            let label = n.label.as_deref().unwrap_or("—");
            muted(ui, format!("{:.3} · {label}", n.score));
        });
    });
}
