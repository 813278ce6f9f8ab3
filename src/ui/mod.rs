//! The explorer's panels. Data flows one way: panels read the session state and emit
//! [`Command`]s; the app turns commands into worker jobs; worker events update the state.
//! Nothing here touches a tensor or waits on the worker.

pub mod canvas;
pub mod code_strip;
pub mod export;
pub mod input_view;
pub mod inputs_panel;
pub mod map_panel;
pub mod media;
pub mod model_panel;
pub mod notifications;
pub mod retrieval_panel;
pub mod state;
pub mod theme;
pub mod transfer_panel;
pub mod usage_panel;
pub mod zero_shot_panel;

use std::path::PathBuf;

use egui::{RichText, Ui};

use crate::engine::InputSource;
use crate::modality::Modality;

/// What a panel asks the app to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Show the folder picker for a bundle.
    OpenModelDialog,
    /// Load a bundle.
    OpenModel(PathBuf),
    /// Show the file picker for inputs.
    OpenFilesDialog,
    /// Analyse a new input.
    AddInput(InputSource),
    /// Analyse the canvas drawing (replacing the previous drawing input).
    Drawing(InputSource),
    /// Show an input in the central area.
    SelectInput(u64),
    /// Forget an input.
    RemoveInput(u64),
    /// Forget every input.
    ClearInputs,
    /// Highlight a code everywhere (or none).
    SelectCode(Option<u32>),
    /// Re-score every input against the edited labels/templates.
    Rescore,
    /// Put the model's own labels and templates back.
    ResetLabels,
    /// Run the transfer experiment with the lab's settings.
    Fit,
    /// Play a WAV file.
    PlayFile(PathBuf),
    /// Play an input's waveform as the model hears it (by input key).
    PlayInput(u64),
    /// Stop playback.
    StopAudio,
    /// Choose the export folder with a dialog.
    ChooseExportDir,
    /// Write the gallery and inputs as Embedding Projector TSV.
    ExportProjector,
    /// Save the window and its charts as PNG.
    ExportCharts,
}

/// A titled card around a group of widgets.
pub fn section<R>(ui: &mut Ui, title: &str, add: impl FnOnce(&mut Ui) -> R) -> R {
    egui::Frame::new()
        .fill(theme::faint_bg())
        .stroke(egui::Stroke::new(1.0, theme::card_stroke()))
        .corner_radius(8)
        .inner_margin(10)
        .show(ui, |ui| {
            ui.set_min_width(ui.available_width());
            ui.label(RichText::new(title).heading().color(theme::strong_text()));
            ui.add_space(2.0);
            add(ui)
        })
        .inner
}

/// A small coloured tag naming a modality.
pub fn modality_chip(ui: &mut Ui, m: Modality) -> egui::Response {
    let color = theme::modality_color(m);
    egui::Frame::new()
        .fill(color.gamma_multiply(0.22))
        .stroke(egui::Stroke::new(1.0, color))
        .corner_radius(10)
        .inner_margin(egui::Margin::symmetric(7, 1))
        .show(ui, |ui| {
            ui.label(RichText::new(m.name()).color(color).size(14.0));
        })
        .response
}

/// Secondary (muted) text.
pub fn muted(ui: &mut Ui, text: impl Into<String>) -> egui::Response {
    ui.label(RichText::new(text.into()).color(theme::muted_text()))
}

/// Formats milliseconds for the status bar.
pub fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_read_well() {
        assert_eq!(super::format_ms(3.14159), "3.1 ms");
        assert_eq!(super::format_ms(42.4), "42 ms");
        assert_eq!(super::format_ms(1500.0), "1.50 s");
    }
}
