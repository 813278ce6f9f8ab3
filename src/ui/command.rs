//! The commands panels emit: what a panel asks the app to do. The app turns them into worker
//! jobs, audio requests or state changes; panels never act themselves.

use std::path::PathBuf;

use crate::engine::InputSource;

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
    /// Stop analysing: inputs not analysed yet are marked cancelled.
    CancelAnalyses,
    /// Highlight a code everywhere (or none).
    SelectCode(Option<u32>),
    /// Open a code's page (and highlight the code everywhere): a click on a code in a strip,
    /// the usage chart, the map's code points, a page's links, or its id typed.
    OpenCodePage(u32),
    /// Back to the previous code page.
    CodePageBack,
    /// Forward to the next code page.
    CodePageForward,
    /// Select on the map the gallery items that use a code (shown in the Selection tab).
    ShowCodeOnMap(u32),
    /// Write the open code page as PNG (as shown), JSON and its decoded sound as WAV into the
    /// export folder.
    ExportCodePage,
    /// Play a code's vector decoded as a sound (from its page).
    PlayCodeSound(u32),
    /// Re-score every input against the edited labels/templates.
    Rescore,
    /// Put the model's own labels and templates back.
    ResetLabels,
    /// Run the transfer experiment with the lab's settings.
    Fit,
    /// Compute the low-resource curves with the lab's settings and noise level.
    RunLowResource,
    /// Write the low-resource curves' figure data (CSV and JSON) into the export folder.
    ExportLowResource,
    /// Play an audio file (any supported format).
    PlayFile(PathBuf),
    /// Play an input's waveform as the model hears it (by input key).
    PlayInput(u64),
    /// Stop playback.
    StopAudio,
    /// Playback volume, 0..1.
    SetVolume(f32),
    /// Start recording from the chosen input device; `hold` for hold-to-talk (releasing the
    /// key stops it).
    StartRecording { hold: bool },
    /// Stop recording and analyse what was recorded.
    StopRecording,
    /// Use this input device (an [`crate::audio_io::InputDevice::id`]) from now on.
    SelectInputDevice(String),
    /// List the input devices again.
    RefreshInputDevices,
    /// Save a recording (by input key) as a WAV file, choosing where with a dialog.
    SaveRecording(u64),
    /// Select the gallery items inside a region of the map (narrowed by the map's filter).
    SelectRegion(crate::ui::selection::SelectionShape),
    /// The map's filter changed: narrow the selection again.
    FilterChanged,
    /// Forget the map selection.
    ClearSelection,
    /// Write the selection as CSV and JSON into the export folder.
    ExportSelection,
    /// Choose the export folder with a dialog.
    ChooseExportDir,
    /// Write the gallery and inputs as Embedding Projector TSV.
    ExportProjector,
    /// Save the window and its charts as PNG.
    ExportCharts,
    /// Run the actions of the open lesson step.
    DoLessonStep,
    /// Show the folder picker for a bundle to compare with the loaded model.
    CompareDialog,
    /// Compare the loaded model with the bundle in this folder (the Compare tab).
    Compare(PathBuf),
    /// Read the current inputs with both compared models again.
    CompareReadInputs,
    /// Pick a gallery item on one of the comparison's maps, and its match on the other;
    /// `add` keeps the earlier picks (and drops the item when it was picked).
    ComparePick {
        side: crate::ui::compare_state::MapSide,
        item: usize,
        add: bool,
    },
    /// Forget the picks on both comparison maps.
    CompareClearPicks,
    /// Write the comparison table as CSV and JSON into the export folder.
    ExportComparison,
    /// Close the comparison.
    CloseComparison,
}
