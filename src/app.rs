//! The explorer window (eframe). [`ExplorerApp`] owns the worker and the session; every frame
//! it drains worker events into the session state, draws the panels (which only read state and
//! emit [`Command`]s), then turns commands into worker jobs. Nothing here blocks: inference,
//! file dialogs, image decoding and PNG export all run on other threads.
//!
//! Live demos: `TRANSFERENCE_DEMO_INPUTS="digit.png;seven.wav;text:seven"` queues those inputs
//! at start (`;`-separated; `text:` introduces a text, anything else is a file path).

use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, Sender, unbounded};
use egui::{Id, LayerId, Order, RichText};

use crate::device::DeviceRequest;
use crate::engine::worker::ProjectorRow;
use crate::engine::{Event, InputSource, InputView, Job, Worker};
use crate::ui::canvas::Canvas;
use crate::ui::media::{AudioPlayer, MediaCache};
use crate::ui::notifications::Level;
use crate::ui::state::{CentralTab, Derived, InputEntry, InputStatus, LabelSet, Session, Settings};
use crate::ui::{
    Command, export, input_view, inputs_panel, map_panel, model_panel, muted, retrieval_panel,
    section, theme, transfer_panel, usage_panel, zero_shot_panel,
};

/// Environment variable naming inputs to queue at start (see the module docs).
pub const DEMO_INPUTS_ENV: &str = "TRANSFERENCE_DEMO_INPUTS";
/// Seconds after the last label edit before re-scoring.
const RESCORE_DELAY_SECS: f64 = 0.6;

/// Opens the window on `model` (default: the bundled model). Returns the exit code.
pub fn run_window(model: Option<PathBuf>, device: DeviceRequest) -> i32 {
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
            for input in demo {
                app.add_input(input);
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

/// Results from helper threads (dialogs, screenshot export).
enum UiMsg {
    ModelPicked(Option<PathBuf>),
    FilesPicked(Vec<PathBuf>),
    ExportDirPicked(Option<PathBuf>),
    ChartsSaved(Result<Vec<PathBuf>, String>),
    /// A dialog came back empty at once: no dialog service is running.
    DialogUnavailable,
}

impl UiMsg {
    /// True for a dialog result with nothing picked.
    fn picked_nothing(&self) -> bool {
        match self {
            UiMsg::ModelPicked(d) | UiMsg::ExportDirPicked(d) => d.is_none(),
            UiMsg::FilesPicked(f) => f.is_empty(),
            _ => false,
        }
    }
}

/// A dialog answering faster than this with nothing picked was not shown at all.
const DIALOG_FAILED_WITHIN: std::time::Duration = std::time::Duration::from_millis(400);

/// The explorer application.
pub struct ExplorerApp {
    worker: Worker,
    device: DeviceRequest,
    settings: Settings,
    session: Session,
    media: MediaCache,
    canvas: Canvas,
    player: AudioPlayer,
    text_input: String,
    commands: Vec<Command>,
    msgs_tx: Sender<UiMsg>,
    msgs_rx: Receiver<UiMsg>,
    dialog_open: bool,
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
        theme::apply(ctx);
        theme::install_fallback_font(ctx);
        let settings: Settings = storage
            .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            .unwrap_or_default();
        let repaint = ctx.clone();
        let worker = Worker::spawn(move || repaint.request_repaint());
        let (msgs_tx, msgs_rx) = unbounded();
        let mut app = ExplorerApp {
            worker,
            device,
            settings,
            session: Session::default(),
            media: MediaCache::new(ctx),
            canvas: Canvas::default(),
            player: AudioPlayer::new(),
            text_input: String::new(),
            commands: Vec::new(),
            msgs_tx,
            msgs_rx,
            dialog_open: false,
        };
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
        self.session.loading = Some(dir.clone());
        self.worker.submit(Job::Load {
            dir,
            device: self.device,
        });
    }

    /// Queues an input for analysis and selects it.
    pub fn add_input(&mut self, source: InputSource) {
        let key = self.session.next_id();
        let request_id = self.session.next_id();
        let name = self.input_name(&source);
        let hint = match &source {
            InputSource::GalleryItem(i) => self
                .session
                .summary
                .as_ref()
                .and_then(|s| s.gallery.get(*i))
                .map(|p| p.modality),
            _ => None,
        };
        self.session.inputs.push(InputEntry {
            key,
            request_id,
            source,
            name,
            hint,
            status: InputStatus::Queued,
            rescored: None,
        });
        self.session.queue.push_back(key);
        self.session.selected = Some(key);
        self.settings.tab = CentralTab::Input;
    }

    fn input_name(&self, source: &InputSource) -> String {
        match source {
            InputSource::GalleryItem(i) => self
                .session
                .summary
                .as_ref()
                .and_then(|s| s.gallery.get(*i))
                .map(|p| match (&p.text, &p.label) {
                    (Some(t), _) => format!("gallery “{t}”"),
                    (None, Some(l)) => format!("gallery {} {l}", p.modality),
                    _ => format!("gallery {}", p.source),
                })
                .unwrap_or_else(|| source.display_name()),
            _ => source.display_name(),
        }
    }

    /// Draws one frame (the whole window) into `ui`. Used by [`eframe::App::ui`] and tests.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.media.poll(&ctx);
        while let Some(event) = self.worker.try_recv() {
            self.handle_event(event);
        }
        while let Ok(msg) = self.msgs_rx.try_recv() {
            self.handle_msg(msg);
        }
        self.take_dropped_files(&ctx);
        self.draw(ui);
        self.session.notifications.show(&ctx);
        self.drop_overlay(&ctx);
        for cmd in std::mem::take(&mut self.commands) {
            self.apply(cmd, &ctx);
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
        self.session.playing = self.player.is_playing();
        if self.session.playing || self.session.busy() {
            ctx.request_repaint_after(std::time::Duration::from_millis(250));
        }
    }

    fn draw(&mut self, ui: &mut egui::Ui) {
        let Self {
            session,
            settings,
            media,
            canvas,
            player,
            text_input,
            commands,
            ..
        } = self;
        let play = (player.available(), player.hint());
        let play_hint = (play.0, play.1.as_str());
        let mut hovered: Option<u32> = None;
        let mut hovered_gallery: Option<usize> = None;
        session.chart_rects = Default::default();

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
            .show(ui, |ui| model_panel::status_bar(ui, session, commands));
        if settings.panels.inputs {
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
        if settings.panels.map || settings.panels.usage {
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
                            let out = map_panel::show(ui, session, settings, media, commands);
                            session.chart_rects.map = out.rect;
                            hovered_gallery = out.hovered;
                        });
                        ui.separator();
                    }
                    if settings.panels.usage {
                        let (rect, h) = usage_panel::show(ui, session, settings, commands);
                        session.chart_rects.usage = rect;
                        hovered = hovered.or(h);
                    }
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (tab, name) in [
                    (CentralTab::Input, "Input"),
                    (CentralTab::Transfer, "Transfer lab"),
                    (CentralTab::Model, "Model card"),
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
                        let h = input_tab(ui, session, media, play_hint, commands);
                        hovered = hovered.or(h);
                    }
                    CentralTab::Transfer => {
                        session.chart_rects.confusion =
                            transfer_panel::show(ui, session, settings, commands);
                    }
                    CentralTab::Model => model_panel::card(ui, session, commands),
                });
        });
        session.hovered_code = hovered;
        session.hovered_gallery = hovered_gallery;
    }

    fn take_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .collect()
        });
        for path in dropped {
            if path.is_dir() && path.join(crate::bundle::MANIFEST_FILE).exists() {
                self.commands.push(Command::OpenModel(path));
            } else {
                self.commands
                    .push(Command::AddInput(InputSource::File(path)));
            }
        }
    }

    fn drop_overlay(&self, ctx: &egui::Context) {
        let hovered: Vec<String> = ctx.input(|i| {
            i.raw
                .hovered_files
                .iter()
                .map(|f| {
                    f.path
                        .as_ref()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_else(|| f.mime.clone())
                })
                .collect()
        });
        if hovered.is_empty() {
            return;
        }
        let painter =
            ctx.layer_painter(LayerId::new(Order::Foreground, Id::unique("drop-overlay")));
        let rect = ctx.content_rect();
        painter.rect_filled(rect, 0, theme::drop_overlay());
        painter.rect_stroke(
            rect.shrink(16.0),
            16,
            egui::Stroke::new(3.0, theme::accent()),
            egui::StrokeKind::Inside,
        );
        painter.text(
            rect.center() - egui::vec2(0.0, 20.0),
            egui::Align2::CENTER_CENTER,
            "Drop to analyse",
            egui::FontId::proportional(40.0),
            theme::strong_text(),
        );
        let names = hovered.join(", ");
        painter.text(
            rect.center() + egui::vec2(0.0, 30.0),
            egui::Align2::CENTER_CENTER,
            crate::ui::code_strip::short(&names, 80),
            egui::FontId::proportional(20.0),
            theme::muted_text(),
        );
    }

    fn handle_event(&mut self, event: Event) {
        let s = &mut self.session;
        match event {
            Event::Loading { dir } => s.loading = Some(dir),
            Event::Loaded(summary) => {
                let summary = *summary;
                let same_model = s.summary.as_ref().is_some_and(|old| old.dir == summary.dir);
                s.loading = None;
                s.derived = Derived::new(&summary);
                let key = summary.dir.display().to_string();
                match self.settings.label_sets.get(&key) {
                    Some(set) => {
                        s.labels_text = set.labels.clone();
                        s.templates_text = set.templates.clone();
                    }
                    None => {
                        s.labels_text = summary.labels.join(", ");
                        s.templates_text = summary.prompts.join("\n");
                    }
                }
                s.labels_edited_at = None;
                self.settings.remember(&summary.dir);
                s.transfer = None;
                s.selected_code = None;
                if !same_model {
                    s.inputs
                        .retain(|e| !matches!(e.source, InputSource::GalleryItem(_)));
                }
                // Everything analysed before is re-analysed by the new model.
                s.queue.clear();
                s.in_flight = None;
                let mut keys = Vec::new();
                for e in &mut s.inputs {
                    keys.push(e.key);
                }
                for key in keys {
                    let request_id = s.next_id();
                    if let Some(e) = s.inputs.iter_mut().find(|e| e.key == key) {
                        e.request_id = request_id;
                        e.status = InputStatus::Queued;
                        e.rescored = None;
                    }
                    s.queue.push_back(key);
                }
                if s.selected
                    .is_some_and(|k| !s.inputs.iter().any(|e| e.key == k))
                {
                    s.selected = s.inputs.last().map(|e| e.key);
                }
                self.media.forget_prefix("input:");
                s.summary = Some(summary);
            }
            Event::LoadFailed { dir, error } => {
                s.loading = None;
                s.notifications
                    .error(format!("Could not open {}", dir.display()), error);
            }
            Event::Analyzed(analysis) => {
                if s.in_flight == Some(analysis.request_id) {
                    s.in_flight = None;
                }
                s.last_ms = Some(analysis.total_ms);
                if let Some(e) = s.input_by_request(analysis.request_id) {
                    e.rescored = None;
                    e.status = InputStatus::Done(analysis);
                }
            }
            Event::Classified { request_id, scores } => {
                s.classify_pending = s.classify_pending.saturating_sub(1);
                if let Some(e) = s.input_by_request(request_id) {
                    e.rescored = Some(scores);
                }
            }
            Event::TransferDone(report) => {
                s.transfer_running = false;
                s.transfer = Some(*report);
            }
            Event::Exported { dir, files, rows } => {
                s.export_running = false;
                let names: Vec<String> = files
                    .iter()
                    .filter_map(|f| f.file_name().map(|n| n.to_string_lossy().to_string()))
                    .collect();
                s.notifications.info(
                    "Embedding Projector export",
                    format!(
                        "{rows} rows written to {} in {}",
                        names.join(" and "),
                        dir.display()
                    ),
                );
            }
            Event::Failed {
                request_id,
                what,
                error,
            } => {
                match request_id {
                    Some(id) if s.in_flight == Some(id) => {
                        s.in_flight = None;
                        if let Some(e) = s.input_by_request(id) {
                            e.status = InputStatus::Failed(error.clone());
                        }
                    }
                    Some(_) => s.classify_pending = s.classify_pending.saturating_sub(1),
                    None if what.starts_with("transfer") => s.transfer_running = false,
                    None if what.starts_with("export") => s.export_running = false,
                    None => {}
                }
                s.notifications.error(what, error);
            }
        }
    }

    fn handle_msg(&mut self, msg: UiMsg) {
        match msg {
            UiMsg::ModelPicked(dir) => {
                self.dialog_open = false;
                if let Some(dir) = dir {
                    self.load(dir);
                }
            }
            UiMsg::FilesPicked(files) => {
                self.dialog_open = false;
                for f in files {
                    self.add_input(InputSource::File(f));
                }
            }
            UiMsg::ExportDirPicked(dir) => {
                self.dialog_open = false;
                if let Some(dir) = dir {
                    self.settings.export_dir = dir.display().to_string();
                }
            }
            UiMsg::DialogUnavailable => self.session.notifications.push(
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
                    .error("Could not save the charts", e),
            },
        }
    }

    fn spawn_dialog(&mut self, ctx: &egui::Context, pick: impl FnOnce() -> UiMsg + Send + 'static) {
        if self.dialog_open {
            return;
        }
        self.dialog_open = true;
        let tx = self.msgs_tx.clone();
        let ctx = ctx.clone();
        let _ = std::thread::Builder::new()
            .name("transference-dialog".into())
            .spawn(move || {
                let start = std::time::Instant::now();
                let msg = pick();
                let unavailable = msg.picked_nothing() && start.elapsed() < DIALOG_FAILED_WITHIN;
                let _ = tx.send(msg);
                if unavailable {
                    let _ = tx.send(UiMsg::DialogUnavailable);
                }
                ctx.request_repaint();
            });
    }

    fn apply(&mut self, cmd: Command, ctx: &egui::Context) {
        match cmd {
            Command::OpenModelDialog => self.spawn_dialog(ctx, || {
                UiMsg::ModelPicked(
                    rfd::FileDialog::new()
                        .set_title("Open a model bundle folder")
                        .pick_folder(),
                )
            }),
            Command::OpenModel(dir) => self.load(dir),
            Command::OpenFilesDialog => self.spawn_dialog(ctx, || {
                let mut exts: Vec<&str> = crate::engine::input::IMAGE_EXTENSIONS.to_vec();
                exts.extend_from_slice(crate::engine::input::AUDIO_EXTENSIONS);
                UiMsg::FilesPicked(
                    rfd::FileDialog::new()
                        .set_title("Choose images or WAV files")
                        .add_filter("Images and audio", &exts)
                        .pick_files()
                        .unwrap_or_default(),
                )
            }),
            Command::ChooseExportDir => self.spawn_dialog(ctx, || {
                UiMsg::ExportDirPicked(
                    rfd::FileDialog::new()
                        .set_title("Export folder")
                        .pick_folder(),
                )
            }),
            Command::AddInput(source) => self.add_input(source),
            Command::Drawing(source) => {
                let existing = self
                    .session
                    .inputs
                    .iter()
                    .position(|e| matches!(e.source, InputSource::Drawing { .. }));
                match existing {
                    Some(i) => {
                        let request_id = self.session.next_id();
                        let e = &mut self.session.inputs[i];
                        e.source = source;
                        e.request_id = request_id;
                        e.status = InputStatus::Queued;
                        e.rescored = None;
                        let key = e.key;
                        if !self.session.queue.contains(&key) {
                            self.session.queue.push_back(key);
                        }
                        self.session.selected = Some(key);
                        self.settings.tab = CentralTab::Input;
                    }
                    None => self.add_input(source),
                }
            }
            Command::SelectInput(key) => {
                self.session.selected = Some(key);
                self.settings.tab = CentralTab::Input;
            }
            Command::RemoveInput(key) => {
                self.session.inputs.retain(|e| e.key != key);
                self.session.queue.retain(|k| *k != key);
                self.media.forget_prefix(&format!("input:{key}:"));
                if self.session.selected == Some(key) {
                    self.session.selected = self.session.inputs.last().map(|e| e.key);
                }
            }
            Command::ClearInputs => {
                self.session.inputs.clear();
                self.session.queue.clear();
                self.session.selected = None;
                self.canvas.clear();
                self.media.forget_prefix("input:");
            }
            Command::SelectCode(code) => self.session.selected_code = code,
            Command::Rescore => self.rescore(),
            Command::ResetLabels => {
                if let Some(s) = &self.session.summary {
                    self.session.labels_text = s.labels.join(", ");
                    self.session.templates_text = s.prompts.join("\n");
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
            Command::PlayFile(path) => {
                if let Err(e) = self.player.play_file(&path) {
                    self.session.notifications.error("Cannot play audio", e);
                }
            }
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
                if let Some((samples, rate)) = samples
                    && let Err(e) = self.player.play_samples(&samples, rate)
                {
                    self.session.notifications.error("Cannot play audio", e);
                }
            }
            Command::StopAudio => self.player.stop(),
            Command::ExportProjector => {
                let dir = export_dir(&self.settings);
                self.session.export_running = true;
                let extra: Vec<ProjectorRow> = export::input_rows(&self.session);
                self.worker.submit(Job::ExportProjector { dir, extra });
            }
            Command::ExportCharts => {
                let dir = export_dir(&self.settings);
                let rects = self.session.chart_rects;
                let ppp = ctx.pixels_per_point();
                let tx = self.msgs_tx.clone();
                let repaint = ctx.clone();
                ctx.request_screenshot(move |image| {
                    let _ = std::thread::Builder::new()
                        .name("transference-export".into())
                        .spawn(move || {
                            let _ = tx.send(UiMsg::ChartsSaved(export::save_charts(
                                image, rects, ppp, &dir,
                            )));
                            repaint.request_repaint();
                        });
                });
            }
        }
    }

    /// Re-scores every analysed input against the edited labels and templates.
    fn rescore(&mut self) {
        self.session.labels_edited_at = None;
        let labels = self.session.labels();
        let templates = self.session.templates();
        self.store_label_set();
        for e in &mut self.session.inputs {
            let InputStatus::Done(a) = &e.status else {
                continue;
            };
            if labels.is_empty() {
                e.rescored = Some(Vec::new());
                continue;
            }
            if a.zero_shot.is_err()
                && a.zero_shot
                    .as_ref()
                    .err()
                    .is_some_and(|r| r.contains("no text tower"))
            {
                continue;
            }
            self.worker.submit(Job::Classify {
                request_id: e.request_id,
                embedding: a.input.item.embedding.clone(),
                labels: labels.clone(),
                templates: templates.clone(),
            });
            self.session.classify_pending += 1;
        }
    }

    /// Remembers edited labels for the loaded model (forgets them when they equal the defaults).
    fn store_label_set(&mut self) {
        let Some(s) = &self.session.summary else {
            return;
        };
        let key = s.dir.display().to_string();
        let defaults = (s.labels.join(", "), s.prompts.join("\n"));
        if self.session.labels_text == defaults.0 && self.session.templates_text == defaults.1 {
            self.settings.label_sets.remove(&key);
        } else {
            self.settings.label_sets.insert(
                key,
                LabelSet {
                    labels: self.session.labels_text.clone(),
                    templates: self.session.templates_text.clone(),
                },
            );
        }
    }

    /// Sends the next queued input when the worker is free.
    fn pump(&mut self) {
        if self.session.in_flight.is_some() || self.session.loading.is_some() {
            return;
        }
        let labels = self.session.labels();
        let templates = self.session.templates();
        while let Some(key) = self.session.queue.pop_front() {
            let Some(e) = self.session.inputs.iter_mut().find(|e| e.key == key) else {
                continue;
            };
            e.status = InputStatus::Running;
            self.session.in_flight = Some(e.request_id);
            self.worker.submit(Job::Analyze {
                request_id: e.request_id,
                input: e.source.clone(),
                labels,
                templates,
                k: self.settings.k.max(1),
            });
            return;
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

/// The Input tab: selected input, codes of every input, zero-shot and retrieval.
fn input_tab(
    ui: &mut egui::Ui,
    session: &mut Session,
    media: &mut MediaCache,
    play_hint: (bool, &str),
    commands: &mut Vec<Command>,
) -> Option<u32> {
    let mut hovered = None;
    if session.summary.is_none() && session.inputs.is_empty() {
        model_panel::empty_state(ui, session, commands);
        return None;
    }
    match session.selected_input() {
        Some(entry) => {
            let out = section(ui, "As the model sees it", |ui| {
                input_view::show(ui, session, entry, media, play_hint, commands)
            });
            hovered = out.hovered_code;
            session.chart_rects.code_strip = out.strip_rect;
        }
        None => {
            section(ui, "Start here", |ui| {
                ui.label(
                    RichText::new(
                        "Drop an image or a WAV file anywhere, type a word, or draw a digit.",
                    )
                    .size(18.0),
                );
                muted(
                    ui,
                    "Or click a point on the map to use a gallery item as the query.",
                );
            });
        }
    }
    let done: Vec<&InputEntry> = session
        .inputs
        .iter()
        .filter(|e| e.analysis().is_some())
        .collect();
    if done.len() > 1 {
        ui.add_space(8.0);
        let h = section(ui, "Codes of every input", |ui| {
            muted(ui, "Hover or click a code to light it up everywhere.");
            let mut h = None;
            for e in done {
                if let Some(a) = e.analysis() {
                    h = input_view::compact_row(ui, session, e, a, commands).or(h);
                }
            }
            h
        });
        hovered = hovered.or(h);
    }
    ui.add_space(8.0);
    if ui.available_width() > 760.0 {
        ui.columns(2, |cols| {
            zero_shot_panel::show(&mut cols[0], session, commands);
            retrieval_panel::show(&mut cols[1], session, media, play_hint, commands);
        });
    } else {
        zero_shot_panel::show(ui, session, commands);
        ui.add_space(8.0);
        retrieval_panel::show(ui, session, media, play_hint, commands);
    }
    hovered
}

impl eframe::App for ExplorerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        self.store_label_set();
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
