//! The explorer window (eframe glue and layout). [`ExplorerApp`] owns the worker and the
//! session; every frame it hands worker events to the session's state machine
//! ([`Session::apply_event`]), draws the panels (which only read state and emit [`Command`]s),
//! then turns commands into worker jobs. Nothing here blocks: inference, file dialogs, image
//! decoding and PNG export all run on other threads. What the app does for sound (recording,
//! hold-to-talk, saving recordings) is in `app/audio.rs`, for the map selection in
//! `app/selection.rs`, for lessons ("Do it" turned into commands) in `app/lessons.rs`.
//! Presenter mode (View menu) zooms the window by [`theme::PRESENTER_ZOOM`] and shows one
//! panel ([`crate::ui::state::PresenterFocus`]) beside the lessons.
//! Commands from the panels become jobs and state changes in `app/commands.rs`.
//! The transfer lab's low-resource curves are in `app/low_resource.rs`, code pages (open,
//! back/forward, *Show on map*, export) in `app/code_page.rs`.
//!
//! Live demos: `TRANSFERENCE_DEMO_INPUTS="digit.png;seven.wav;text:seven"` queues those inputs
//! at start (`;`-separated; `text:` introduces a text, anything else is a file path), and
//! `TRANSFERENCE_COMPARE_WITH=DIR` opens the Compare tab on the bundle `DIR` (as *Compare
//! with…* would). The comparison's commands are in `app/compare.rs`.

mod audio;
mod code_page;
mod commands;
mod compare;
mod lessons;
mod low_resource;
mod selection;

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender, unbounded};
use egui::RichText;

use crate::audio_io::{AudioBackend, AudioRequest, AudioService};
use crate::device::DeviceRequest;
use crate::engine::{Event, InputSource, JobError, Worker};
use crate::ui::canvas::Canvas;
use crate::ui::dialogs::{self, DialogKind, Picked};
use crate::ui::frame_view::FrameView;
use crate::ui::map_canvas::MapCanvas;
use crate::ui::media::MediaCache;
use crate::ui::notifications::Level;
use crate::ui::session::Session;
use crate::ui::state::{CentralTab, PresenterFocus, Settings};
use crate::ui::{
    Command, code_page_panel, compare_panel, drag_drop, input_tab, inputs_panel, lessons_panel,
    low_resource_panel, map_panel, model_panel, no_encoders, selection_panel, theme,
    transfer_panel, usage_panel,
};

/// Environment variable naming inputs to queue at start (see the module docs).
pub const DEMO_INPUTS_ENV: &str = "TRANSFERENCE_DEMO_INPUTS";
/// Environment variable naming a bundle to compare with at start (see the module docs).
pub const COMPARE_WITH_ENV: &str = "TRANSFERENCE_COMPARE_WITH";
/// Seconds after the last label edit before re-scoring.
const RESCORE_DELAY_SECS: f64 = 0.6;

/// Opens the window on `model` (default: the bundled model), with the lessons of `lessons`
/// added to the built-in ones. Returns the exit code.
pub fn run_window(model: Option<PathBuf>, device: DeviceRequest, lessons: Option<PathBuf>) -> i32 {
    let demo = std::env::var(DEMO_INPUTS_ENV)
        .map(|s| parse_demo_inputs(&s))
        .unwrap_or_default();
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Transference Explorer")
            .with_app_id("transference-explorer")
            .with_inner_size([1500.0, 950.0])
            .with_min_inner_size([960.0, 640.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let result = eframe::run_native(
        "Transference Explorer",
        options,
        Box::new(move |cc| {
            let mut app = ExplorerApp::new(&cc.egui_ctx, cc.storage, model, device);
            if lessons.is_some() {
                app.load_lessons(lessons.as_deref());
            }
            for input in demo {
                app.add_input(input);
            }
            if let Some(dir) = std::env::var_os(COMPARE_WITH_ENV) {
                app.compare_with(PathBuf::from(dir));
            }
            Ok(Box::new(app))
        }),
    );
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: cannot open the explorer window: {e}");
            1
        }
    }
}

/// Parses [`DEMO_INPUTS_ENV`]: `;`-separated paths, `text:` for texts.
pub fn parse_demo_inputs(spec: &str) -> Vec<InputSource> {
    spec.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix("text:") {
            Some(t) => InputSource::Text(t.to_string()),
            None => InputSource::File(PathBuf::from(s)),
        })
        .collect()
}

/// Results from helper threads (dialogs, exports, saving a recording).
enum UiMsg {
    Dialog(Picked),
    ChartsSaved(crate::Result<Vec<PathBuf>>),
    RecordingSaved(crate::Result<PathBuf>),
    SelectionSaved(crate::Result<Vec<PathBuf>>),
    CurvesSaved(crate::Result<Vec<PathBuf>>),
    CodePageSaved(crate::Result<Vec<PathBuf>>),
    ComparisonSaved(crate::Result<Vec<PathBuf>>),
    /// A helper thread could not start.
    HelperFailed(crate::Error),
}

/// Runs `work` on a helper thread named `name`; its message comes back to the window, which
/// it wakes. A thread that cannot start is reported to the window instead of dropped.
fn spawn_helper(
    name: &str,
    tx: &Sender<UiMsg>,
    repaint: &egui::Context,
    work: impl FnOnce() -> UiMsg + Send + 'static,
) {
    let (result_tx, ctx) = (tx.clone(), repaint.clone());
    let started = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let _ = result_tx.send(work());
            ctx.request_repaint();
        });
    if let Err(e) = started {
        let _ = tx.send(UiMsg::HelperFailed(crate::Error::Internal(format!(
            "cannot start the {name} thread: {e}"
        ))));
        repaint.request_repaint();
    }
}

/// The explorer application.
pub struct ExplorerApp {
    worker: Worker,
    device: DeviceRequest,
    settings: Settings,
    session: Session,
    /// Per-frame view state: hover and chart rectangles.
    view: FrameView,
    media: MediaCache,
    /// The map's gallery layer (its image comes from a rasteriser thread).
    map_canvas: MapCanvas,
    /// The gallery layers of the Compare tab's two maps (A, B).
    compare_canvases: [MapCanvas; 2],
    canvas: Canvas,
    audio: AudioService,
    /// The window's context, for helper threads to ask for a repaint.
    ctx: egui::Context,
    text_input: String,
    /// The code page's "go to code" box.
    code_id_input: String,
    commands: Vec<Command>,
    msgs_tx: Sender<UiMsg>,
    msgs_rx: Receiver<UiMsg>,
    dialog_tx: Sender<Picked>,
    dialog_rx: Receiver<Picked>,
    dialog_open: bool,
    /// Lessons the panel lists.
    lessons: Vec<crate::lessons::Lesson>,
    /// The lesson step being done (or last done).
    lesson_run: Option<lessons::LessonRun>,
    /// Whether the presenter zoom is applied to the context.
    presenter_zoom: bool,
}

impl ExplorerApp {
    /// Creates the app on `ctx`: restores settings from `storage`, starts the worker and asks
    /// it to load `model` (default: [`crate::bundle::locate::default_model_dir`]; when that
    /// is missing, a notification says so and nothing is loaded).
    pub fn new(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        model: Option<PathBuf>,
        device: DeviceRequest,
    ) -> Self {
        let repaint = ctx.clone();
        let audio = AudioService::system(move || repaint.request_repaint());
        Self::with_audio(ctx, storage, model, device, audio)
    }

    /// Like [`ExplorerApp::new`], with sound from `backend` (tests use
    /// [`crate::audio_io::simulated::SimulatedAudio`]).
    pub fn with_audio_backend(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        model: Option<PathBuf>,
        device: DeviceRequest,
        backend: Box<dyn AudioBackend>,
    ) -> Self {
        let repaint = ctx.clone();
        let audio = AudioService::spawn(backend, move || repaint.request_repaint());
        Self::with_audio(ctx, storage, model, device, audio)
    }

    fn with_audio(
        ctx: &egui::Context,
        storage: Option<&dyn eframe::Storage>,
        model: Option<PathBuf>,
        device: DeviceRequest,
        audio: AudioService,
    ) -> Self {
        theme::apply(ctx);
        theme::install_fallback_font(ctx);
        let settings: Settings = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let repaint = ctx.clone();
        let worker = Worker::spawn(move || repaint.request_repaint());
        let (msgs_tx, msgs_rx) = unbounded();
        let (dialog_tx, dialog_rx) = unbounded();
        audio.send(AudioRequest::SetVolume(settings.volume));
        let mut app = ExplorerApp {
            worker,
            device,
            settings,
            session: Session::default(),
            view: FrameView::default(),
            media: MediaCache::new(ctx),
            map_canvas: MapCanvas::new(ctx),
            compare_canvases: [MapCanvas::new(ctx), MapCanvas::new(ctx)],
            canvas: Canvas::default(),
            audio,
            ctx: ctx.clone(),
            text_input: String::new(),
            code_id_input: String::new(),
            commands: Vec::new(),
            msgs_tx,
            msgs_rx,
            dialog_tx,
            dialog_rx,
            dialog_open: false,
            lessons: Vec::new(),
            lesson_run: None,
            presenter_zoom: false,
        };
        app.load_lessons(None);
        match model {
            Some(dir) => app.load(dir),
            None => match crate::bundle::locate::default_model_dir() {
                Ok(dir) => app.load(dir),
                Err(e) => app.session.notifications.push(
                    Level::Warning,
                    "No default model",
                    format!("{e}, or open a bundle folder (Model > Open bundle folder…)."),
                ),
            },
        }
        app
    }

    /// The session state (for tests and scripts).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// What the last frame drew and what was under the pointer (for tests and scripts).
    pub fn view(&self) -> &FrameView {
        &self.view
    }

    /// The persisted settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Mutable settings (e.g. to pick a tab from a script).
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// Starts loading a bundle.
    pub fn load(&mut self, dir: PathBuf) {
        let job = self.session.start_loading(dir, self.device);
        self.worker.submit(job);
    }

    /// Queues an input for analysis and selects it.
    pub fn add_input(&mut self, source: InputSource) {
        if let Some(reason) = no_encoders::refusal(&self.session, &source) {
            self.session
                .notifications
                .error(no_encoders::NOTICE_TITLE, reason);
            return;
        }
        self.session.add_input(source);
        self.settings.tab = CentralTab::Input;
    }

    /// Draws one frame (the whole window) into `ui`. Used by [`eframe::App::ui`] and tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.media.poll(&ctx);
        while let Some(event) = self.worker.try_recv() {
            self.handle_event(event);
        }
        while let Ok(picked) = self.dialog_rx.try_recv() {
            self.handle_msg(UiMsg::Dialog(picked));
        }
        while let Ok(msg) = self.msgs_rx.try_recv() {
            self.handle_msg(msg);
        }
        while let Some(event) = self.audio.try_recv() {
            self.handle_audio_event(event);
        }
        self.session.audio.status = self.audio.status();
        self.hold_to_talk(&ctx);
        self.commands.extend(drag_drop::dropped_files(&ctx));
        self.draw(ui);
        self.session.notifications.show(&ctx);
        drag_drop::overlay(&ctx);
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd, &ctx);
        }
        self.drive_lesson(&ctx);
        if self.presenter_zoom != self.settings.presenter {
            self.presenter_zoom = self.settings.presenter;
            ctx.set_zoom_factor(if self.presenter_zoom {
                theme::PRESENTER_ZOOM
            } else {
                1.0
            });
        }
        if let Some(t) = self.session.labels_edited_at {
            let now = ctx.input(|i| i.time);
            if now - t >= RESCORE_DELAY_SECS {
                self.rescore();
            } else {
                ctx.request_repaint_after(std::time::Duration::from_secs_f64(RESCORE_DELAY_SECS));
            }
        }
        self.pump();
        if self.session.busy() || self.session.audio.recorder.active() {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui) {
        let Self {
            session,
            view,
            settings,
            media,
            map_canvas,
            compare_canvases,
            canvas,
            text_input,
            code_id_input,
            commands,
            lessons,
            lesson_run,
            ..
        } = self;
        let presenter = settings.presenter;
        // Panels read last frame's hover; this frame's is gathered in `next`.
        let last = *view;
        let mut next = FrameView::default();
        let mut compare_hovered = None;

        egui::Panel::top("top-bar")
            .frame(
                egui::Frame::side_top_panel(&ui.ctx().global_style())
                    .inner_margin(egui::Margin::symmetric(10, 6)),
            )
            .show(ui, |ui| {
                model_panel::top_bar(ui, session, settings, commands)
            });
        egui::Panel::bottom("status-bar")
            .frame(
                egui::Frame::side_top_panel(&ui.ctx().global_style())
                    .inner_margin(egui::Margin::symmetric(10, 4)),
            )
            .show(ui, |ui| {
                model_panel::status_bar(ui, session, settings, commands)
            });
        if settings.panels.lessons {
            // The lessons take the inputs panel's place (the lesson's actions queue inputs).
            let status = lessons::status_of(lesson_run.as_ref(), lessons, settings);
            lessons_panel::side(ui, lessons, settings, &status, commands);
        } else if settings.panels.inputs && !presenter {
            egui::Panel::left("inputs-panel")
                .default_size(320.0)
                .size_range(260.0..=460.0)
                .show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        ui.add_space(6.0);
                        inputs_panel::show(ui, session, settings, text_input, canvas, commands);
                    });
                });
        }
        if (settings.panels.map || settings.panels.usage) && !presenter {
            egui::Panel::right("analysis-panel")
                .default_size(560.0)
                .size_range(380.0..=900.0)
                .show(ui, |ui| {
                    ui.add_space(6.0);
                    let total = ui.available_height();
                    let map_h = if settings.panels.usage {
                        (total * 0.54).max(260.0)
                    } else {
                        total
                    };
                    if settings.panels.map {
                        let w = ui.available_width();
                        ui.allocate_ui(egui::vec2(w, map_h), |ui| {
                            let out = map_panel::show(
                                ui, session, &last, settings, media, map_canvas, commands,
                            );
                            next.chart_rects.map = out.rect;
                            next.hovered_gallery = out.hovered;
                            next.hovered_code = next.hovered_code.or(out.hovered_code);
                        });
                        ui.separator();
                    }
                    if settings.panels.usage {
                        let (rect, h) = usage_panel::show(ui, session, &last, settings, commands);
                        next.chart_rects.usage = rect;
                        next.hovered_code = next.hovered_code.or(h);
                    }
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if presenter && settings.presenter_focus == PresenterFocus::Map {
                let out =
                    map_panel::show(ui, session, &last, settings, media, map_canvas, commands);
                next.chart_rects.map = out.rect;
                next.hovered_gallery = out.hovered;
                next.hovered_code = next.hovered_code.or(out.hovered_code);
                return;
            }
            if presenter && settings.presenter_focus == PresenterFocus::Usage {
                let (rect, h) = usage_panel::show(ui, session, &last, settings, commands);
                next.chart_rects.usage = rect;
                next.hovered_code = next.hovered_code.or(h);
                return;
            }
            ui.horizontal(|ui| {
                for (tab, name) in [
                    (CentralTab::Input, "Input"),
                    (CentralTab::Transfer, "Transfer lab"),
                    (CentralTab::Model, "Model card"),
                    (CentralTab::Selection, "Selection"),
                    (CentralTab::Code, "Code"),
                    (CentralTab::Compare, "Compare"),
                ] {
                    let text = RichText::new(name).size(18.0);
                    ui.selectable_value(&mut settings.tab, tab, text);
                }
            });
            ui.separator();
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| match settings.tab {
                    CentralTab::Input => {
                        let (h, strip) = input_tab::show(ui, session, &last, media, commands);
                        next.hovered_code = next.hovered_code.or(h);
                        next.chart_rects.code_strip = strip;
                    }
                    CentralTab::Transfer => {
                        next.chart_rects.confusion =
                            transfer_panel::show(ui, session, settings, commands);
                        ui.add_space(8.0);
                        next.chart_rects.low_resource =
                            low_resource_panel::show(ui, session, settings, commands);
                    }
                    CentralTab::Model => model_panel::card(ui, session, commands),
                    CentralTab::Selection => {
                        selection_panel::show(ui, session, settings, media, commands)
                    }
                    CentralTab::Code => {
                        next.chart_rects.code_page =
                            code_page_panel::show(ui, session, media, code_id_input, commands);
                    }
                    CentralTab::Compare => {
                        let out = compare_panel::show(
                            ui,
                            session,
                            settings,
                            media,
                            compare_canvases,
                            commands,
                        );
                        compare_hovered = out.hovered;
                        session.compare.drawn = out.maps;
                    }
                });
        });
        *view = next;
        session.compare.hovered = compare_hovered;
    }

    fn handle_event(&mut self, event: Event) {
        if matches!(event, Event::Loaded(_)) {
            // Every input is analysed again by the new model: its textures are stale, and so
            // are the code pages' pictures.
            self.media.forget_prefix("input:");
            self.media.forget_prefix("code:");
        }
        self.session.apply_event(event, &mut self.settings);
    }

    fn handle_msg(&mut self, msg: UiMsg) {
        match msg {
            UiMsg::Dialog(Picked::ModelFolder(dir)) => {
                self.dialog_open = false;
                if let Some(dir) = dir {
                    self.load(dir);
                }
            }
            UiMsg::Dialog(Picked::CompareFolder(dir)) => {
                self.dialog_open = false;
                if let Some(dir) = dir {
                    self.compare_with(dir);
                }
            }
            UiMsg::Dialog(Picked::InputFiles(files)) => {
                self.dialog_open = false;
                for f in files {
                    self.add_input(InputSource::File(f));
                }
            }
            UiMsg::Dialog(Picked::ExportFolder(dir)) => {
                self.dialog_open = false;
                if let Some(dir) = dir {
                    self.settings.export_dir = dir.display().to_string();
                }
            }
            UiMsg::Dialog(Picked::SaveRecording(key, path)) => {
                self.dialog_open = false;
                if let Some(path) = path {
                    self.save_recording(key, path);
                }
            }
            UiMsg::SelectionSaved(result) => self.exported(
                "Selection exported",
                "Could not export the selection",
                result,
            ),
            UiMsg::HelperFailed(e) => self.session.notifications.error(
                "A background task did not start",
                JobError::from(e).for_user(),
            ),
            UiMsg::CurvesSaved(result) => self.exported(
                "Low-resource curves exported",
                "Could not export the low-resource curves",
                result,
            ),
            UiMsg::CodePageSaved(result) => self.exported(
                "Code page exported",
                "Could not export the code page",
                result,
            ),
            UiMsg::ComparisonSaved(result) => self.exported(
                "Comparison exported",
                "Could not export the comparison",
                result,
            ),
            UiMsg::RecordingSaved(result) => match result {
                Ok(path) => self
                    .session
                    .notifications
                    .info("Recording saved", path.display().to_string()),
                Err(e) => self
                    .session
                    .notifications
                    .error("Could not save the recording", JobError::from(e).for_user()),
            },
            UiMsg::Dialog(Picked::Unavailable) => self.session.notifications.push(
                Level::Warning,
                "No file dialog available",
                "The desktop's file chooser (xdg-desktop-portal or zenity) did not open. \
                 Drag files or a bundle folder onto the window, or start with --model DIR.",
            ),
            UiMsg::ChartsSaved(result) => match result {
                Ok(files) => {
                    let dir = files
                        .first()
                        .and_then(|f| f.parent())
                        .map(|d| d.display().to_string())
                        .unwrap_or_default();
                    let names: Vec<String> = files
                        .iter()
                        .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
                        .collect();
                    self.session
                        .notifications
                        .info("Charts saved", format!("{} in {dir}", names.join(", ")));
                }
                Err(e) => self
                    .session
                    .notifications
                    .error("Could not save the charts", JobError::from(e).for_user()),
            },
        }
    }

    /// Tells where an export's files went (titled `done`), or why it failed (titled
    /// `failed`).
    fn exported(&mut self, done: &str, failed: &str, result: crate::Result<Vec<PathBuf>>) {
        match result {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
                self.session.notifications.info(done, names.join(", "));
            }
            Err(e) => self
                .session
                .notifications
                .error(failed, JobError::from(e).for_user()),
        }
    }

    /// Opens a dialog unless one is open (see [`dialogs`]: created here, on the UI thread,
    /// and awaited on a helper thread).
    fn open_dialog(&mut self, ctx: &egui::Context, kind: DialogKind) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        let ctx = ctx.clone();
        dialogs::open(kind, self.dialog_tx.clone(), move || ctx.request_repaint());
    }

    /// Re-scores every analysed input against the edited labels and templates.
    fn rescore(&mut self) {
        for job in self.session.rescore_jobs(&mut self.settings) {
            self.worker.submit(job);
        }
    }

    /// Sends the next queued input when the worker is free.
    fn pump(&mut self) {
        if let Some(job) = self.session.next_job(self.settings.k) {
            self.worker.submit(job);
        }
        if let Some(job) = self.session.projection_job(&self.settings) {
            self.worker.submit(job);
        }
        if let Some(job) = self.session.code_page_job() {
            self.worker.submit(job);
        }
        if let Some(job) = self.session.gallery_zero_shot_job(&self.settings) {
            self.worker.submit(job);
        }
        if let Some(job) = self.session.gallery_similarity_job(&self.settings) {
            self.worker.submit(job);
        }
    }
}

fn export_dir(settings: &Settings) -> PathBuf {
    let d = settings.export_dir.trim();
    if d.is_empty() {
        PathBuf::from("transference-export")
    } else {
        Path::new(d).to_path_buf()
    }
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.session.store_label_set(&mut self.settings);
        eframe::set_value(storage, eframe::APP_KEY, &self.settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_inputs_parse() {
        let v = parse_demo_inputs("a.png; b.wav ;text:seven;;");
        assert_eq!(
            v,
            vec![
                InputSource::File("a.png".into()),
                InputSource::File("b.wav".into()),
                InputSource::Text("seven".into()),
            ]
        );
    }
}
