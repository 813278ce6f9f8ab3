//! Native file dialogs (rfd) that never block the window. Following rfd's threading guidance
//! (macOS needs its dialogs spawned on the main thread, which under eframe is the UI thread),
//! each dialog is created with [`rfd::AsyncFileDialog`] on the calling (UI) thread and awaited
//! on a helper thread, which sends what was picked back over a channel.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

/// A dialog answering faster than this with nothing picked was not shown at all.
const DIALOG_FAILED_WITHIN: Duration = Duration::from_millis(400);

/// Which dialog to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    /// A model bundle folder.
    ModelFolder,
    /// A bundle folder to compare with the loaded model.
    CompareFolder,
    /// Images or audio files to analyse.
    InputFiles,
    /// The folder exports are written to.
    ExportFolder,
    /// Where to save a recording (by input key) as WAV.
    SaveRecording(u64),
}

/// What a dialog gave back.
#[derive(Clone, Debug, PartialEq)]
pub enum Picked {
    ModelFolder(Option<PathBuf>),
    CompareFolder(Option<PathBuf>),
    InputFiles(Vec<PathBuf>),
    ExportFolder(Option<PathBuf>),
    SaveRecording(u64, Option<PathBuf>),
    /// A dialog came back empty at once: no dialog service is running.
    Unavailable,
}

impl Picked {
    /// True for a dialog result with nothing picked.
    fn is_empty(&self) -> bool {
        match self {
            Picked::ModelFolder(d)
            | Picked::CompareFolder(d)
            | Picked::ExportFolder(d)
            | Picked::SaveRecording(_, d) => d.is_none(),
            Picked::InputFiles(f) => f.is_empty(),
            Picked::Unavailable => false,
        }
    }
}

/// Opens a dialog. Call on the UI (main) thread: the dialog is created here and awaited on a
/// helper thread, which sends the result to `tx` (followed by [`Picked::Unavailable`] when it
/// came back empty at once) and then calls `done` (e.g. to request a repaint).
pub fn open(kind: DialogKind, tx: Sender<Picked>, done: impl FnOnce() + Send + 'static) {
    let start = Instant::now();
    let pending = spawn_dialog(kind);
    let _ = std::thread::Builder::new()
        .name("transference-dialog".into())
        .spawn(move || {
            let picked = pollster::block_on(pending);
            let unavailable = picked.is_empty() && start.elapsed() < DIALOG_FAILED_WITHIN;
            let _ = tx.send(picked);
            if unavailable {
                let _ = tx.send(Picked::Unavailable);
            }
            done();
        });
}

type PendingDialog = Pin<Box<dyn Future<Output = Picked> + Send>>;

/// Creates the dialog now (rfd's futures start the dialog when created) and returns the
/// future of its result.
fn spawn_dialog(kind: DialogKind) -> PendingDialog {
    let path = |h: rfd::FileHandle| h.path().to_path_buf();
    match kind {
        DialogKind::ModelFolder => {
            let pick = rfd::AsyncFileDialog::new()
                .set_title("Open a model bundle folder")
                .pick_folder();
            Box::pin(async move { Picked::ModelFolder(pick.await.map(path)) })
        }
        DialogKind::CompareFolder => {
            let pick = rfd::AsyncFileDialog::new()
                .set_title("Compare with a model bundle folder")
                .pick_folder();
            Box::pin(async move { Picked::CompareFolder(pick.await.map(path)) })
        }
        DialogKind::InputFiles => {
            let mut exts: Vec<&str> = crate::engine::input::IMAGE_EXTENSIONS.to_vec();
            exts.extend_from_slice(crate::engine::input::AUDIO_EXTENSIONS);
            let pick = rfd::AsyncFileDialog::new()
                .set_title("Choose images or audio files")
                .add_filter("Images and audio", &exts)
                .pick_files();
            Box::pin(async move {
                Picked::InputFiles(
                    pick.await
                        .unwrap_or_default()
                        .into_iter()
                        .map(path)
                        .collect(),
                )
            })
        }
        DialogKind::ExportFolder => {
            let pick = rfd::AsyncFileDialog::new()
                .set_title("Export folder")
                .pick_folder();
            Box::pin(async move { Picked::ExportFolder(pick.await.map(path)) })
        }
        DialogKind::SaveRecording(key) => {
            let pick = rfd::AsyncFileDialog::new()
                .set_title("Save the recording as WAV")
                .add_filter("WAV audio", &["wav"])
                .set_file_name(format!("recording-{key}.wav"))
                .save_file();
            Box::pin(async move { Picked::SaveRecording(key, pick.await.map(path)) })
        }
    }
}
