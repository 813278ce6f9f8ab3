//! Commands, app side: what each [`Command`] a panel emits does to the session, the settings
//! and the worker (jobs, dialogs, exports); commands of one feature with their own file are
//! handed on (audio, selection, lessons, low-resource curves, code pages).

use crate::audio_io::{AudioRequest, Clip, ClipId};
use crate::engine::{InputView, Job};
use crate::index::projector::ProjectorRow;
use crate::ui::dialogs::DialogKind;
use crate::ui::state::CentralTab;
use crate::ui::{Command, export, transfer_panel};

use super::{ExplorerApp, UiMsg, export_dir, spawn_helper};

impl ExplorerApp {
    /// Carries out one command a panel emitted this frame.
    pub(super) fn apply(&mut self, cmd: Command, ctx: &egui::Context) {
        match cmd {
            Command::OpenModelDialog => self.open_dialog(ctx, DialogKind::ModelFolder),
            Command::OpenModel(dir) => self.load(dir),
            Command::OpenFilesDialog => self.open_dialog(ctx, DialogKind::InputFiles),
            Command::ChooseExportDir => self.open_dialog(ctx, DialogKind::ExportFolder),
            Command::AddInput(source) => self.add_input(source),
            Command::Drawing(source) => {
                self.session.drawing_replaced(source);
                self.settings.tab = CentralTab::Input;
            }
            Command::SelectInput(key) => {
                self.session.selected = Some(key);
                self.settings.tab = CentralTab::Input;
            }
            Command::RemoveInput(key) => {
                self.session.remove_input(key);
                self.media.forget_prefix(&format!("input:{key}:"));
            }
            Command::ClearInputs => {
                self.session.clear_inputs();
                self.canvas.clear();
                self.media.forget_prefix("input:");
            }
            Command::CancelAnalyses => self.session.cancel_analyses(),
            Command::SelectCode(code) => self.session.selected_code = code,
            Command::OpenCodePage(_)
            | Command::CodePageBack
            | Command::CodePageForward
            | Command::ShowCodeOnMap(_)
            | Command::PlayCodeSound(_)
            | Command::ExportCodePage => self.apply_code_page(cmd, ctx),
            Command::CompareDialog
            | Command::Compare(_)
            | Command::CompareReadInputs
            | Command::ComparePick { .. }
            | Command::CompareClearPicks
            | Command::ExportComparison
            | Command::CloseComparison => self.apply_compare(cmd, ctx),
            Command::Rescore => self.rescore(),
            Command::ResetLabels => {
                if self.session.reset_labels() {
                    self.rescore();
                }
            }
            Command::Fit => {
                let Some((source, target)) =
                    transfer_panel::pick_modalities(&self.session, &self.settings)
                else {
                    return;
                };
                self.session.transfer_running = true;
                self.worker.submit(Job::Transfer {
                    source,
                    target,
                    features: self.settings.transfer_features,
                });
            }
            Command::RunLowResource => self.run_low_resource(),
            Command::ExportLowResource => self.export_low_resource(),
            Command::PlayFile(path) => self.audio.send(AudioRequest::PlayFile(path)),
            Command::PlayInput(key) => {
                let samples = self
                    .session
                    .inputs
                    .iter()
                    .find(|e| e.key == key)
                    .and_then(|e| e.analysis())
                    .and_then(|a| match &a.input.view {
                        InputView::Audio {
                            samples,
                            sample_rate_hz,
                            ..
                        } => Some((samples.clone(), *sample_rate_hz)),
                        _ => None,
                    });
                if let Some((samples, sample_rate_hz)) = samples {
                    self.audio.send(AudioRequest::Play(Clip {
                        id: ClipId::Input(key),
                        wave: crate::preprocess::audio::Waveform {
                            samples,
                            sample_rate_hz,
                        },
                    }));
                }
            }
            Command::StopAudio => self.audio.send(AudioRequest::StopPlayback),
            Command::SetVolume(volume) => {
                self.settings.volume = volume;
                self.audio.send(AudioRequest::SetVolume(volume));
            }
            Command::StartRecording { hold } => self.start_recording(hold),
            Command::StopRecording => self.stop_recording(),
            Command::SelectInputDevice(id) => self.settings.input_device = Some(id),
            Command::RefreshInputDevices => self.audio.send(AudioRequest::ListInputs),
            Command::SaveRecording(key) => {
                self.open_dialog(ctx, DialogKind::SaveRecording(key));
            }
            Command::SelectRegion(shape) => {
                self.select_region(shape);
                self.settings.tab = CentralTab::Selection;
            }
            Command::FilterChanged => {
                if let Some(shape) = self.session.selection.as_ref().map(|s| s.shape.clone()) {
                    self.select_region(shape);
                }
            }
            Command::ClearSelection => self.session.selection = None,
            Command::ExportSelection => self.export_selection(),
            Command::ExportProjector => {
                let dir = export_dir(&self.settings);
                self.session.export_running = true;
                let extra: Vec<ProjectorRow> = export::input_rows(&self.session);
                self.worker.submit(Job::ExportProjector { dir, extra });
            }
            Command::DoLessonStep => self.start_lesson_step(),
            Command::ExportCharts => {
                let dir = export_dir(&self.settings);
                let rects = self.view.chart_rects;
                let ppp = ctx.pixels_per_point();
                let tx = self.msgs_tx.clone();
                let repaint = ctx.clone();
                ctx.request_screenshot(move |image| {
                    spawn_helper("transference-export", &tx, &repaint, move || {
                        UiMsg::ChartsSaved(export::save_charts(image, rects, ppp, &dir))
                    });
                });
            }
        }
    }
}
