//! Window tests: egui_kittest drives the real `ExplorerApp` (real worker, tiny bundle with
//! random weights, CPU backend) through its accessibility tree; two small image snapshots
//! cover what is truly visual (the code strip and the confusion heat map).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use transference::Modality;
use transference::app::ExplorerApp;
use transference::audio_io::simulated::SimulatedAudio;
use transference::device::DeviceRequest;
use transference::engine::{
    Analysis, EncodedInput, InputSource, InputView, Pipeline, ZeroShotUnavailable,
};
use transference::index::transfer::{TransferFeatures, TransferReport};
use transference::model::EncodedItem;
use transference::preprocess::audio::Waveform;
use transference::ui::audio_controls::STOP_PLAYING_LABEL;
use transference::ui::frame_view::FrameView;
use transference::ui::record_panel::{RECORD_LABEL, STOP_RECORDING_LABEL};
use transference::ui::session::Session;
use transference::ui::{code_strip, low_resource_panel, transfer_panel};

/// Longest wait for the worker.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A dropped file as the window backend would hand it over.
#[derive(Debug)]
struct DroppedPath(PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

type AppHarness = Harness<'static, Option<ExplorerApp>>;

/// The app on a fresh tiny bundle, at the real window size, with a simulated sound card
/// (a microphone hearing a short tone, and speakers). Returns the temp dir too.
fn app_with_tiny_bundle() -> (AppHarness, tempfile::TempDir) {
    let tone = Waveform {
        samples: (0..8_000).map(|i| 0.3 * (i as f32 * 0.2).sin()).collect(),
        sample_rate_hz: 16_000,
    };
    app_with_audio(SimulatedAudio::with_clip(tone))
}

/// The app on a fresh tiny bundle with sound from `audio`.
fn app_with_audio(audio: SimulatedAudio) -> (AppHarness, tempfile::TempDir) {
    app_with(audio, 3)
}

/// The app on a fresh tiny bundle with `gallery_items` gallery items and sound from `audio`.
fn app_with(audio: SimulatedAudio, gallery_items: usize) -> (AppHarness, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    common::write_tiny_bundle_with_gallery(&dir, gallery_items);
    (app_on(dir, audio), tmp)
}

/// The app on the bundle `dir` with sound from `audio`, once the model has loaded.
fn app_on(dir: PathBuf, audio: SimulatedAudio) -> AppHarness {
    let harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_ui_state(
            move |ui, app: &mut Option<ExplorerApp>| {
                let app = app.get_or_insert_with(|| {
                    ExplorerApp::with_audio_backend(
                        ui.ctx(),
                        None,
                        Some(dir.clone()),
                        DeviceRequest::Cpu,
                        Box::new(audio.clone()),
                    )
                });
                app.show(ui);
            },
            None,
        );
    let mut harness = harness;
    wait_for(&mut harness, "the model to load", |h| {
        h.state()
            .as_ref()
            .is_some_and(|a| a.session().summary.is_some())
    });
    harness
}

/// Steps the harness until `done` holds, panicking after [`TIMEOUT`].
fn wait_for(harness: &mut AppHarness, what: &str, done: impl Fn(&AppHarness) -> bool) {
    let start = Instant::now();
    loop {
        harness.step();
        if done(harness) {
            return;
        }
        if start.elapsed() > TIMEOUT {
            let notes: Vec<String> = harness
                .state()
                .as_ref()
                .map(|a| {
                    a.session()
                        .notifications
                        .items()
                        .iter()
                        .map(|n| format!("{}: {}", n.title, n.message))
                        .collect()
                })
                .unwrap_or_default();
            panic!("timed out waiting for {what}; notifications: {notes:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn has_label(h: &AppHarness, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

fn drop_file(harness: &mut AppHarness, path: &Path) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path.to_path_buf())));
}

#[test]
fn dropped_png_shows_code_strip_and_zero_shot() {
    let (mut h, tmp) = app_with_tiny_bundle();
    let png = tmp.path().join("one.png");
    common::write_digit_png(&png);
    drop_file(&mut h, &png);
    wait_for(&mut h, "the code strip", |h| {
        has_label(h, "cells of blank paper get no code")
    });
    assert!(
        has_label(&h, "blank cells)"),
        "the strip describes its codes and its blank cells"
    );
    wait_for(&mut h, "zero-shot scores", |h| {
        has_label(h, "zero-shot: top")
    });
    assert!(has_label(&h, "model input 28×28"));
    // The image also lands on the map and in the retrieval lists.
    let app = h.state().as_ref().unwrap();
    let a = app.session().inputs[0].analysis().unwrap();
    // Codes sit exactly at the cells whose 7x7 block of the model input holds ink (a pixel
    // above 0.3 of full ink), recomputed here from the input the window shows.
    let InputView::Image { preview, grid, .. } = &a.input.view else {
        panic!("an image view")
    };
    assert_eq!(*grid, [4, 4]);
    let ink: Vec<u32> = (0..16u32)
        .filter(|&cell| {
            let (r, c) = (cell as usize / 4, cell as usize % 4);
            (0..7).any(|y| {
                (0..7).any(|x| f32::from(preview[(r * 7 + y) * 28 + c * 7 + x]) > 0.3 * 255.0)
            })
        })
        .collect();
    assert!(!ink.is_empty() && ink.len() < 16, "{ink:?}");
    assert_eq!(a.input.item.positions, ink);
    assert_eq!(a.input.item.codes.len(), ink.len());
    let heading = format!("codes: {} of 16 cells", ink.len());
    assert!(has_label(&h, &heading), "{heading}");
    let note = format!(
        "4×4 feature map; {} cells of blank paper get no code",
        16 - ink.len()
    );
    assert!(has_label(&h, &note), "{note}");
    assert!(a.xy.is_some());
    assert_eq!(a.neighbours.len(), 3);
}

#[test]
fn typed_text_and_enter_shows_tokens() {
    let (mut h, _tmp) = app_with_tiny_bundle();
    h.get_by_label(transference::ui::inputs_panel::TEXT_BOX_LABEL)
        .focus();
    h.step();
    h.get_by_label(transference::ui::inputs_panel::TEXT_BOX_LABEL)
        .type_text("seven");
    h.step();
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the tokens", |h| has_label(h, "tokens: 3"));
    wait_for(&mut h, "the token strip", |h| has_label(h, "seven="));
    assert!(has_label(&h, "[CLS]="));

    // Editing the labels re-scores through Job::Classify.
    edit_labels(&mut h, "seven, three");
    wait_for(&mut h, "the re-scored labels", |h| {
        h.state().as_ref().unwrap().session().inputs[0]
            .rescored
            .as_ref()
            .is_some_and(|s| s.len() == 2)
    });
    assert!(has_label(&h, "2 labels"));
    // The top label shown is the one the pipeline itself ranks first for this text.
    let dir = summary(&h).dir.clone();
    let expected = top_label(&dir, "seven", &["seven", "three"]);
    assert!(
        has_label(&h, &format!("zero-shot: top {expected}")),
        "expected {expected} on top"
    );
}

/// The label the pipeline ranks first for `text` among `labels` (the bundle's own templates).
fn top_label(dir: &Path, text: &str, labels: &[&str]) -> String {
    let mut pipeline = Pipeline::open(dir, DeviceRequest::Cpu).unwrap();
    let templates = pipeline.bundle.manifest.labels.prompts.clone();
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    let embedding = pipeline
        .encode(&InputSource::Text(text.into()))
        .unwrap()
        .item
        .embedding;
    let scores = pipeline.classify(&embedding, &labels, &templates).unwrap();
    // Best first; on a tie (a random tiny model can give two words the same codes) the
    // window keeps this order too.
    scores[0].label.clone()
}

/// Types `labels` into the label editor of the window.
fn edit_labels(h: &mut AppHarness, labels: &str) {
    h.get_by_label("Labels and prompt templates").click();
    h.step();
    h.step();
    let labels_box = "Labels (comma-separated or one per line)";
    h.get_by_label(labels_box).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(labels_box).type_text(labels);
    h.step();
}

#[test]
fn settings_and_edited_labels_are_restored_after_a_restart() {
    use transference::ui::state::{CentralTab, MapColoring};
    let (mut h, _tmp) = app_with_tiny_bundle();
    edit_labels(&mut h, "seven, three");
    let mut storage = MemoryStorage::default();
    let dir = {
        let app = h.state_mut().as_mut().unwrap();
        let settings = app.settings_mut();
        settings.k = 3;
        settings.tab = CentralTab::Model;
        settings.map_coloring = MapColoring::Class;
        settings.panels.usage = false;
        eframe::App::save(app, &mut storage);
        app.session().summary.as_ref().unwrap().dir.clone()
    };
    drop(h);

    // A new window on the same storage, as eframe does after a restart.
    let mut h = app_restarted(storage, dir.clone());
    wait_for(&mut h, "the model to load again", |h| {
        h.state()
            .as_ref()
            .is_some_and(|a| a.session().summary.is_some())
    });
    let app = h.state().as_ref().unwrap();
    assert_eq!(
        app.session().labels_text,
        "seven, three",
        "edited labels are back"
    );
    assert_eq!(app.session().labels(), vec!["seven", "three"]);
    let settings = app.settings();
    assert_eq!(settings.recent.first(), Some(&dir));
    assert_eq!(settings.k, 3);
    assert_eq!(settings.tab, CentralTab::Model);
    assert_eq!(settings.map_coloring, MapColoring::Class);
    assert!(!settings.panels.usage);
}

/// In-memory eframe storage.
#[derive(Default)]
struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

#[test]
fn a_stroke_on_the_canvas_is_analysed_as_a_drawing() {
    let (mut h, _tmp) = app_with_tiny_bundle();
    let r = h.get_by_label("Drawing canvas").rect();
    let p = |x: f32, y: f32| egui::pos2(r.left() + x * r.width(), r.top() + y * r.height());
    h.hover_at(p(0.3, 0.2));
    h.step();
    h.drag_at(p(0.3, 0.2));
    h.step();
    for i in 0..=8 {
        h.hover_at(p(0.3 + 0.4 * i as f32 / 8.0, 0.2 + 0.6 * i as f32 / 8.0));
        h.step();
    }
    h.drop_at(p(0.7, 0.8));
    wait_for(&mut h, "the drawing's codes", |h| has_label(h, "codes: "));
    let app = h.state().as_ref().unwrap();
    let entry = &app.session().inputs[0];
    assert_eq!(entry.name, "drawing");
    assert!(matches!(
        entry.source,
        transference::engine::InputSource::Drawing { .. }
    ));
}

#[test]
fn transfer_lab_fit_reports_accuracy() {
    let (mut h, _tmp) = app_with_tiny_bundle();
    h.get_by_label("Transfer lab").click();
    h.step();
    h.step();
    h.get_by_label(transfer_panel::FIT_LABEL).click();
    wait_for(&mut h, "the transfer accuracy", |h| {
        has_label(h, "accuracy on audio:")
    });
    assert!(has_label(&h, "confusion matrix 10×10"));
}

#[test]
fn low_resource_curves_run_in_the_lab_plot_and_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny-labelled");
    // 12 image and 12 audio items per class: a test split of 10 per class leaves 2 to draw.
    common::write_tiny_bundle_with_labelled_gallery(&dir, 12);
    let tone = Waveform {
        samples: vec![0.0; 800],
        sample_rate_hz: 16_000,
    };
    let mut h = app_on(dir, SimulatedAudio::with_clip(tone));
    let out = tmp.path().join("export");
    h.state_mut().as_mut().unwrap().settings_mut().export_dir = out.display().to_string();
    h.get_by_label("Transfer lab").click();
    h.step();
    h.step();
    assert!(has_label(&h, low_resource_panel::NOISE_LABEL));
    h.get_by_label(low_resource_panel::RUN_LABEL).click();
    wait_for(&mut h, "the low-resource curves", |h| {
        has_label(h, low_resource_panel::PLOT_TITLE)
    });
    let report = h
        .state()
        .as_ref()
        .unwrap()
        .session()
        .low_resource
        .clone()
        .unwrap();
    // Fit on image (the lab's source) helps the tested audio (its target).
    assert_eq!(
        (report.primary, report.helper),
        (Modality::Audio, Modality::Image)
    );
    assert_eq!(report.test_per_class, 10);
    let available: Vec<bool> = report
        .primary_only
        .iter()
        .map(|p| p.mean.is_some())
        .collect();
    assert_eq!(
        available,
        [true, true, true, false, false, false],
        "only 2 per class to draw"
    );
    // The shared codes carry the classes over from the helper with no audio labels at all.
    assert!(
        report.with_helper[0].mean.unwrap() > 0.5,
        "{:?}",
        report.with_helper[0]
    );
    assert!(has_label(&h, "5 labels per class and more: unavailable"));
    assert!(has_label(&h, low_resource_panel::EXPORT_DATA_LABEL));
    assert!(has_label(&h, low_resource_panel::SAVE_PNG_LABEL));

    h.get_by_label(low_resource_panel::EXPORT_DATA_LABEL)
        .click();
    wait_for(&mut h, "the curves export", |h| {
        has_label(h, "Low-resource curves exported")
    });
    let csv = std::fs::read_to_string(out.join("low_resource.csv")).unwrap();
    assert!(
        csv.starts_with("case,labels_per_class,mean,sd,draws,note\n"),
        "{csv}"
    );
    assert!(csv.contains("\nwith_helper,1,"), "{csv}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("low_resource.json")).unwrap())
            .unwrap();
    assert_eq!(json["primary"], "audio");
    h.get_by_label(low_resource_panel::SAVE_PNG_LABEL).click();
    wait_for(&mut h, "the charts notification", |h| {
        has_label(h, "Charts saved")
    });
    let png = image::open(out.join("low_resource.png")).unwrap();
    assert!(
        png.width() > 200 && png.height() > 200,
        "{}x{}",
        png.width(),
        png.height()
    );

    // Noise re-encodes the gallery's media: this gallery has none, and the window says so.
    h.state_mut()
        .as_mut()
        .unwrap()
        .settings_mut()
        .low_resource_noise = 0.5;
    h.step();
    h.step();
    assert!(has_label(&h, "Noise re-encodes the audio media files"));
    assert!(is_disabled(&h, low_resource_panel::RUN_LABEL));
}

#[test]
fn bad_inputs_give_specific_notifications() {
    let (mut h, tmp) = app_with_tiny_bundle();
    let bad_png = tmp.path().join("not-an-image.png");
    std::fs::write(&bad_png, "this is text, not pixels").unwrap();
    let wav = tmp.path().join("full.wav");
    common::write_tone_wav(&wav);
    let truncated = tmp.path().join("truncated.wav");
    std::fs::write(&truncated, &std::fs::read(&wav).unwrap()[..30]).unwrap();
    let txt = tmp.path().join("notes.txt");
    std::fs::write(&txt, "hello").unwrap();

    drop_file(&mut h, &bad_png);
    wait_for(&mut h, "the bad PNG notification", |h| {
        has_label(h, "not a decodable image")
    });
    drop_file(&mut h, &truncated);
    wait_for(&mut h, "the truncated WAV notification", |h| {
        has_label(h, "not a readable WAV file")
    });
    drop_file(&mut h, &txt);
    wait_for(&mut h, "the unsupported file notification", |h| {
        has_label(h, "unsupported input type")
    });
    // An empty text box + Enter.
    h.get_by_label(transference::ui::inputs_panel::TEXT_BOX_LABEL)
        .focus();
    h.step();
    h.key_press(egui::Key::Enter);
    wait_for(&mut h, "the empty text notification", |h| {
        has_label(h, "text is empty")
    });

    let app = h.state().as_ref().unwrap();
    let failed = app
        .session()
        .inputs
        .iter()
        .filter(|e| matches!(e.status, transference::ui::state::InputStatus::Failed(_)))
        .count();
    assert_eq!(failed, 4, "every bad input is marked failed, none is lost");
    // The window keeps working after the errors.
    let png = tmp.path().join("good.png");
    common::write_digit_png(&png);
    drop_file(&mut h, &png);
    wait_for(&mut h, "a good input after the bad ones", |h| {
        has_label(h, "codes: ")
    });
}

#[test]
fn exports_write_projector_tsv_and_chart_pngs() {
    let (mut h, tmp) = app_with_tiny_bundle();
    let out = tmp.path().join("export");
    h.state_mut().as_mut().unwrap().settings_mut().export_dir = out.display().to_string();
    h.get_by_label("Export").click();
    h.step();
    h.step();
    h.get_by_label("Embedding Projector TSV").click();
    wait_for(&mut h, "the export notification", |h| {
        has_label(h, "rows written to")
    });
    let meta = std::fs::read_to_string(out.join("metadata.tsv")).unwrap();
    let vectors = std::fs::read_to_string(out.join("vectors.tsv")).unwrap();
    assert!(meta.starts_with("modality\tlabel\tsource\n"), "{meta}");
    assert_eq!(meta.lines().count(), 4, "header + 3 gallery items");
    assert_eq!(vectors.lines().count(), 3);
    assert!(
        vectors
            .lines()
            .all(|l| l.split('\t').count() == common::TINY_D)
    );

    // Charts: a screenshot of the window, cropped per chart.
    h.get_by_label("Export").click();
    h.step();
    h.step();
    h.get_by_label("Charts as PNG").click();
    wait_for(&mut h, "the charts notification", |h| {
        has_label(h, "Charts saved")
    });
    for name in ["window.png", "map.png", "codebook_usage.png"] {
        let img = image::open(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            img.width() > 100 && img.height() > 100,
            "{name} is {}x{}",
            img.width(),
            img.height()
        );
    }
    let window = image::open(out.join("window.png")).unwrap();
    assert_eq!((window.width(), window.height()), (1500, 950));
}

/// A new window on `storage` opening the bundle `dir`, as eframe does after a restart; the
/// model may still be loading.
fn app_restarted(storage: MemoryStorage, dir: PathBuf) -> AppHarness {
    Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_ui_state(
            move |ui, app: &mut Option<ExplorerApp>| {
                app.get_or_insert_with(|| {
                    ExplorerApp::new(
                        ui.ctx(),
                        Some(&storage),
                        Some(dir.clone()),
                        DeviceRequest::Cpu,
                    )
                })
                .show(ui);
            },
            None,
        )
}

#[test]
fn a_model_folder_that_does_not_exist_is_a_notification() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no_such_bundle");
    let dir = missing.clone();
    let mut h: AppHarness = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(
            move |ui, app: &mut Option<ExplorerApp>| {
                app.get_or_insert_with(|| {
                    ExplorerApp::new(ui.ctx(), None, Some(dir.clone()), DeviceRequest::Cpu)
                })
                .show(ui);
            },
            None,
        );
    wait_for(&mut h, "the load-failure notification", |h| {
        has_label(h, "Loading model no_such_bundle failed")
    });
    assert!(has_label(&h, "no_such_bundle"));
    assert!(has_label(&h, "No model loaded"));
}

// ---- snapshots of what is truly visual (synthetic, deterministic data) ----

fn synthetic_image_analysis() -> Analysis {
    let codes: Vec<u32> = vec![3, 3, 7, 7, 3, 12, 12, 7, 40, 12, 12, 41, 40, 40, 5, 5];
    Analysis {
        request_id: 1,
        input: EncodedInput {
            name: "seven.png".into(),
            modality: Modality::Image,
            view: InputView::Image {
                preview: vec![0; 28 * 28],
                width: 28,
                height: 28,
                channels: 1,
                original_width: 28,
                original_height: 28,
                grid: [4, 4],
            },
            item: EncodedItem {
                modality: Modality::Image,
                distances: vec![0.0; codes.len()],
                positions: (0..codes.len() as u32).collect(),
                codes,
                embedding: vec![0.0; 4],
            },
            preprocess_ms: 0.0,
            encode_ms: 0.0,
        },
        xy: None,
        zero_shot: Err(ZeroShotUnavailable::NoLabels),
        neighbours: vec![],
        map_neighbours: vec![],
        total_ms: 0.0,
    }
}

#[test]
fn code_strip_snapshot() {
    let analysis = synthetic_image_analysis();
    let mut session = Session::default();
    session.selected_code = Some(12);
    let mut h = Harness::builder()
        .with_size(egui::vec2(184.0, 184.0))
        .with_context_setup(transference::ui::theme::apply)
        .build_ui(move |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                let mut commands = Vec::new();
                code_strip::show_strip(
                    ui,
                    &session,
                    &FrameView::default(),
                    &analysis,
                    code_strip::StripStyle {
                        cell: 40.0,
                        label_codes: true,
                        captions: false,
                    },
                    &mut commands,
                );
            });
        });
    h.run();
    h.snapshot("code_strip");
}

#[test]
fn confusion_heat_map_snapshot() {
    let report = TransferReport {
        source: Modality::Image,
        target: Modality::Audio,
        features: TransferFeatures::BagOfCodes,
        labels: vec!["zero".into(), "one".into(), "two".into(), "three".into()],
        n_train: 40,
        n_test: 40,
        source_accuracy: 1.0,
        accuracy: 0.75,
        confusion: vec![
            vec![9, 1, 0, 0],
            vec![0, 8, 2, 0],
            vec![1, 0, 7, 2],
            vec![0, 3, 1, 6],
        ],
        tested: vec![],
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(330.0, 300.0))
        .with_context_setup(transference::ui::theme::apply)
        .build_ui(move |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                transfer_panel::confusion(ui, &report, &mut Vec::new());
            });
        });
    h.run();
    h.snapshot("confusion_heat_map");
}

/// True when the widget labelled exactly `label` exists and is disabled.
fn is_disabled(h: &AppHarness, label: &str) -> bool {
    h.query_by_label(label)
        .is_some_and(|n| n.accesskit_node().is_disabled())
}

/// "seven" spoken by espeak-ng (the committed format fixture).
fn seven_clip() -> Waveform {
    transference::preprocess::audio_decode::read_wav(
        &common::repo().join("tests/fixtures/audio_formats/seven.wav"),
    )
    .unwrap()
}

/// Record: the button turns into "Stop recording" with a level meter while the (simulated)
/// microphone streams "seven", the recording stops by itself, is analysed like a dropped
/// file, and plays back with a stop button while it plays.
#[test]
fn the_record_button_records_analyses_and_plays_back() {
    let (mut h, _tmp) = app_with_audio(SimulatedAudio::with_clip(seven_clip()));
    wait_for(&mut h, "an enabled record button", |h| {
        has_label(h, RECORD_LABEL) && !is_disabled(h, RECORD_LABEL)
    });
    assert!(
        has_label(&h, "Simulated microphone (default)"),
        "device preselected"
    );
    h.get_by_label(RECORD_LABEL).click();
    wait_for(&mut h, "the recording state", |h| {
        has_label(h, STOP_RECORDING_LABEL) && has_label(h, "input level")
    });
    assert!(!has_label(&h, RECORD_LABEL));
    wait_for(&mut h, "the analysed recording", |h| {
        has_label(h, "recording 1") && has_label(h, "codes: ") && has_label(h, RECORD_LABEL)
    });
    let app = h.state().as_ref().unwrap();
    let entry = app.session().selected_input().unwrap();
    assert_eq!(entry.name, "recording 1");
    assert_eq!(entry.modality(), Some(transference::Modality::Audio));
    assert!(has_label(&h, "Save as WAV"));

    h.get_by_label("Play as the model hears it").click();
    wait_for(&mut h, "the stop button while playing", |h| {
        has_label(h, STOP_PLAYING_LABEL)
    });
    wait_for(&mut h, "the end of playback", |h| {
        !has_label(h, STOP_PLAYING_LABEL)
    });
}

/// Hold-to-talk: holding Space records, releasing it stops and analyses.
#[test]
fn holding_space_records_until_released() {
    let (mut h, _tmp) = app_with_audio(SimulatedAudio::with_clip(seven_clip()));
    wait_for(&mut h, "an enabled record button", |h| {
        has_label(h, RECORD_LABEL) && !is_disabled(h, RECORD_LABEL)
    });
    h.key_down(egui::Key::Space);
    wait_for(&mut h, "the recording state", |h| {
        has_label(h, STOP_RECORDING_LABEL) && has_label(h, "input level")
    });
    // Hold until the word has been heard, then let go.
    wait_for(&mut h, "speech", |h| has_label(h, "hearing speech"));
    h.key_up(egui::Key::Space);
    wait_for(&mut h, "the analysed recording", |h| {
        has_label(h, "recording 1") && has_label(h, "codes: ")
    });
    let app = h.state().as_ref().unwrap();
    assert_eq!(
        app.session().audio.last_stop,
        Some(transference::audio_io::StopReason::User)
    );
}

/// No sound devices: the record and play buttons are disabled and the window says why.
#[test]
fn without_sound_devices_record_and_play_are_disabled_and_say_why() {
    let (mut h, tmp) = app_with_audio(SimulatedAudio::no_devices());
    wait_for(&mut h, "the missing microphone", |h| {
        has_label(h, "no microphone found")
    });
    assert!(is_disabled(&h, RECORD_LABEL));
    assert!(has_label(&h, "no sound output"));
    let wav = tmp.path().join("tone.wav");
    common::write_tone_wav(&wav);
    drop_file(&mut h, &wav);
    wait_for(&mut h, "the analysed clip", |h| {
        has_label(h, "Play as the model hears it")
    });
    assert!(is_disabled(&h, "Play as the model hears it"));
    assert!(is_disabled(&h, "Play original"));
    // Space does nothing without a microphone.
    h.key_press(egui::Key::Space);
    h.step();
    assert!(!has_label(&h, STOP_RECORDING_LABEL));
}

// Many inputs at once (issue 10)
// ---------------------------------------------------------------------------------------------

/// A 28x28 gray PNG with a vertical bar whose column depends on `i` (inputs differ).
fn write_bar_png(path: &Path, i: usize) {
    let mut img = image::GrayImage::new(28, 28);
    let x0 = 3 + (i % 20) as u32;
    for y in 4..24 {
        for x in x0..x0 + 4 {
            img.put_pixel(x, y, image::Luma([255]));
        }
    }
    img.save(path).unwrap();
}

/// A 0.25 s 16-bit mono WAV at 8 kHz with a tone whose pitch depends on `i`.
fn write_pitch_wav(path: &Path, i: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let hz = 200.0 + 37.0 * (i % 40) as f32;
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..2000 {
        let t = n as f32 / 8000.0;
        w.write_sample(((2.0 * std::f32::consts::PI * hz * t).sin() * 12000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// `n` small files in `dir`, PNGs and WAVs alternating, named in order (`f0000.png`, …).
fn small_files(dir: &Path, n: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let p = dir.join(format!("f{i:04}.png"));
                write_bar_png(&p, i);
                p
            } else {
                let p = dir.join(format!("f{i:04}.wav"));
                write_pitch_wav(&p, i);
                p
            }
        })
        .collect()
}

/// The worker's batch gives what one-by-one analysis gives, keeps the order across chunks,
/// fails a bad file alone (named) and answers a cancelled batch with every input cancelled.
#[test]
fn a_batch_analyses_like_one_by_one_and_a_bad_file_fails_alone() {
    use std::sync::atomic::AtomicBool;
    use transference::engine::protocol::BatchItem;
    use transference::engine::{Event, Job, Worker};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    common::write_tiny_bundle(&dir);
    let mut inputs: Vec<InputSource> = small_files(&tmp.path().join("in"), 9)
        .into_iter()
        .map(InputSource::File)
        .collect();
    let bad = tmp.path().join("not-an-image.png");
    std::fs::write(&bad, "this is text, not pixels").unwrap();
    inputs.insert(3, InputSource::File(bad));
    inputs.push(InputSource::Text("seven".into()));
    let labels = vec!["one".to_string(), "seven".to_string()];
    let templates = vec!["a {label}".to_string()];

    let worker = Worker::spawn(|| {});
    worker.submit(Job::Load {
        dir: dir.clone(),
        device: DeviceRequest::Cpu,
    });
    let batch = |first_id: u64, cancelled: bool| Job::AnalyzeBatch {
        items: inputs
            .iter()
            .enumerate()
            .map(|(i, input)| BatchItem {
                request_id: first_id + i as u64,
                input: input.clone(),
            })
            .collect(),
        labels: labels.clone(),
        templates: templates.clone(),
        k: 2,
        cancel: Arc::new(AtomicBool::new(cancelled)),
    };
    worker.submit(batch(100, false));
    worker.submit(batch(200, true));
    let mut results = Vec::new();
    let mut chunks = 0;
    let cancelled = loop {
        match worker.recv_timeout(TIMEOUT).expect("worker went silent") {
            Event::AnalyzedChunk(chunk) => {
                chunks += 1;
                results.extend(chunk);
            }
            Event::Cancelled { request_ids } => break request_ids,
            Event::Loading { .. } | Event::Loaded(_) => {}
            other => panic!("unexpected event {other:?}"),
        }
    };
    assert_eq!(
        cancelled,
        (200..200 + inputs.len() as u64).collect::<Vec<_>>(),
        "a batch cancelled before it starts answers every input, in order"
    );
    assert!(chunks > 1, "results come back in chunks, not at the end");
    assert_eq!(results.len(), inputs.len());

    let mut pipeline = Pipeline::open(&dir, DeviceRequest::Cpu).unwrap();
    for (i, (input, result)) in inputs.iter().zip(results).enumerate() {
        let expected_id = 100 + i as u64;
        if i == 3 {
            let failure = result.expect_err("the bad file fails");
            assert_eq!(failure.request_id, expected_id);
            assert_eq!(failure.name, "not-an-image.png");
            assert!(
                failure.error.message.contains("not a decodable image"),
                "{}",
                failure.error.message
            );
            continue;
        }
        let a = result.unwrap_or_else(|f| panic!("{} failed: {}", f.name, f.error.message));
        assert_eq!(a.request_id, expected_id, "order kept");
        let single = pipeline.encode(input).unwrap();
        assert_eq!(a.input.name, single.name);
        assert_eq!(
            a.input.view, single.view,
            "{}: same preprocessing",
            single.name
        );
        assert_eq!(a.input.item.codes, single.item.codes, "{}", single.name);
        for (x, y) in a.input.item.embedding.iter().zip(&single.item.embedding) {
            assert!(
                (x - y).abs() < 1e-4,
                "{}: embedding {x} vs {y}",
                single.name
            );
        }
        let scores = pipeline
            .classify(&single.item.embedding, &labels, &templates)
            .unwrap();
        let got = a.zero_shot.as_ref().unwrap();
        assert_eq!(got.len(), scores.len());
        for (g, s) in got.iter().zip(&scores) {
            assert_eq!(g.label, s.label);
            assert!((g.probability - s.probability).abs() < 1e-3);
        }
        assert_eq!(a.neighbours.len(), 3, "neighbours in every modality");
    }
}

/// Drops `paths` on the window in one frame.
fn drop_files(harness: &mut AppHarness, paths: &[PathBuf]) {
    for p in paths {
        drop_file(harness, p);
    }
}

/// Steps until nothing is analysing, returning each `step()` duration.
fn step_until_idle(h: &mut AppHarness, what: &str) -> Vec<Duration> {
    let start = Instant::now();
    let mut steps = Vec::new();
    loop {
        let t = Instant::now();
        h.step();
        steps.push(t.elapsed());
        if !h.state().as_ref().unwrap().session().busy() {
            return steps;
        }
        assert!(
            start.elapsed() < TIMEOUT * 5,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Names of the session's inputs, in order.
fn input_names(h: &AppHarness) -> Vec<String> {
    let app = h.state().as_ref().unwrap();
    app.session()
        .inputs
        .iter()
        .map(|e| e.name.clone())
        .collect()
}

#[test]
fn a_thousand_dropped_files_are_all_analysed_in_order() {
    let (mut h, tmp) = app_with_tiny_bundle();
    let files = small_files(&tmp.path().join("drop"), 1000);
    drop_files(&mut h, &files);
    step_until_idle(&mut h, "1,000 analyses");
    let expected: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(input_names(&h), expected, "every file, in drop order");
    let app = h.state().as_ref().unwrap();
    for e in &app.session().inputs {
        let a = e
            .analysis()
            .unwrap_or_else(|| panic!("{} not analysed: {:?}", e.name, e.status));
        let m = if e.name.ends_with(".png") {
            transference::Modality::Image
        } else {
            transference::Modality::Audio
        };
        assert_eq!(a.input.modality, m, "{}", e.name);
    }
    assert!(app.session().notifications.items().is_empty());
    // The lists draw only what is in view, yet the newest input is there and selected.
    assert!(has_label(&h, "f0999.wav"));
}

#[test]
fn cancel_stops_the_analyses_and_marks_the_rest_cancelled() {
    use transference::ui::model_panel::CANCEL_ANALYSES_LABEL;
    use transference::ui::state::InputStatus;

    let (mut h, tmp) = app_with_tiny_bundle();
    // More than two batches: the inputs after the first batches wait in the window, so some
    // still wait when the click lands, however fast the worker is.
    let n = 2 * transference::ui::batch_queue::MAX_BATCH_INPUTS + 88;
    let files = small_files(&tmp.path().join("drop"), n);
    drop_files(&mut h, &files);
    h.step(); // the drop is read and the first batch sent
    h.step(); // the status bar shows the progress
    assert!(has_label(&h, &format!("/{n}")), "progress shows done/total");
    h.get_by_label(CANCEL_ANALYSES_LABEL).click();
    step_until_idle(&mut h, "the cancelled analyses");
    assert_eq!(input_names(&h).len(), n, "no input is lost");
    let app = h.state().as_ref().unwrap();
    let inputs = &app.session().inputs;
    let cancelled = inputs
        .iter()
        .filter(|e| e.status == InputStatus::Cancelled)
        .count();
    let done = inputs.iter().filter(|e| e.analysis().is_some()).count();
    assert_eq!(done + cancelled, n, "each input is analysed or cancelled");
    assert!(cancelled >= 88, "the waiting inputs are cancelled");
    // Analysed inputs come first: the worker stops after a chunk, never skips one.
    assert!(inputs[..done].iter().all(|e| e.analysis().is_some()));
    assert!(
        app.session().notifications.items().is_empty(),
        "cancelling is not an error"
    );
}

/// Timing report (not a test of speed): drops 1,000 small files into the window and prints
/// the wall time until all are analysed and the frame (`step()`) times while they run. Run
/// with `cargo test --test ui many_dropped_files_timing_report -- --ignored --nocapture`.
#[test]
#[ignore]
fn many_dropped_files_timing_report() {
    /// Sorted `step()` times of `n` idle frames, in milliseconds.
    fn idle_frames_ms(h: &mut AppHarness, n: usize) -> Vec<f64> {
        let mut ms: Vec<f64> = (0..n)
            .map(|_| {
                let t = Instant::now();
                h.step();
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        ms
    }
    let (mut h, tmp) = app_with_tiny_bundle();
    let files = small_files(&tmp.path().join("drop"), 1000);
    let empty = idle_frames_ms(&mut h, 50);
    let t0 = Instant::now();
    drop_files(&mut h, &files);
    let steps = step_until_idle(&mut h, "1,000 analyses");
    let wall = t0.elapsed();
    let mut ms: Vec<f64> = steps.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    let rank = |q: f64| ms[((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    let idle_sorted = idle_frames_ms(&mut h, 50);
    println!(
        "frame with no input, idle: p50 {:.1} ms, max {:.1} ms",
        empty[empty.len() / 2],
        empty[empty.len() - 1]
    );
    println!(
        "1,000 dropped files (500 PNG 28x28, 500 WAV 0.25 s): all analysed in {:.2} s over {} frames",
        wall.as_secs_f64(),
        ms.len()
    );
    println!(
        "frame (harness.step) while analysing: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        rank(0.5),
        rank(0.95),
        ms[ms.len() - 1]
    );
    println!(
        "frame with 1,000 analysed inputs, idle: p50 {:.1} ms, max {:.1} ms",
        idle_sorted[idle_sorted.len() / 2],
        idle_sorted[idle_sorted.len() - 1]
    );
    assert_eq!(input_names(&h).len(), 1000);

    // The same files straight through the worker, no window: the compute time alone.
    use transference::engine::protocol::BatchItem;
    use transference::engine::{Event, Job, Worker};
    let worker = Worker::spawn(|| {});
    worker.submit(Job::Load {
        dir: tmp.path().join("tiny"),
        device: DeviceRequest::Cpu,
    });
    while !matches!(worker.recv_timeout(TIMEOUT), Some(Event::Loaded(_))) {}
    let t0 = Instant::now();
    worker.submit(Job::AnalyzeBatch {
        items: files
            .iter()
            .enumerate()
            .map(|(i, p)| BatchItem {
                request_id: i as u64,
                input: InputSource::File(p.clone()),
            })
            .collect(),
        labels: vec!["one".into(), "two".into()],
        templates: vec!["{label}".into()],
        k: 5,
        cancel: Default::default(),
    });
    let mut answered = 0;
    while answered < files.len() {
        if let Some(Event::AnalyzedChunk(chunk)) = worker.recv_timeout(TIMEOUT) {
            answered += chunk.len();
        }
    }
    println!(
        "the same 1,000 files through the worker alone: {:.2} s",
        t0.elapsed().as_secs_f64()
    );
}

/// Drags the primary button along `path` (window points) in small steps, one frame each.
fn drag_along(h: &mut AppHarness, path: &[egui::Pos2]) {
    let press = |h: &mut AppHarness, pos, pressed| {
        h.input_mut().events.push(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
    };
    h.input_mut()
        .events
        .push(egui::Event::PointerMoved(path[0]));
    h.step();
    press(h, path[0], true);
    h.step();
    for w in path.windows(2) {
        for i in 1..=8 {
            let p = w[0] + (w[1] - w[0]) * (i as f32 / 8.0);
            h.input_mut().events.push(egui::Event::PointerMoved(p));
            h.step();
        }
    }
    press(h, *path.last().unwrap(), false);
    h.step();
    h.step();
}

fn map_rect(h: &AppHarness) -> egui::Rect {
    h.state()
        .as_ref()
        .unwrap()
        .view()
        .chart_rects
        .map
        .expect("the map is drawn")
}

fn selected_items(h: &AppHarness) -> Vec<usize> {
    h.state()
        .as_ref()
        .unwrap()
        .session()
        .selection
        .as_ref()
        .map(|s| s.items.clone())
        .unwrap_or_default()
}

/// Box selection on the map opens the linked Selection view; filters narrow it; export
/// writes CSV and JSON with the real gallery ids.
#[test]
fn box_selection_filters_and_export() {
    use transference::ui::selection_panel::{EXPORT_SELECTION, LABEL_FILTER};
    let (mut h, tmp) = app_with_tiny_bundle();
    let export = tmp.path().join("export");
    h.state_mut().as_mut().unwrap().settings_mut().export_dir = export.display().to_string();
    h.get_by_label("box").click();
    h.step();
    // From one corner of the map to the other (the plot keeps a margin around its points).
    let r = map_rect(&h).shrink(2.0);
    drag_along(&mut h, &[r.left_top(), r.right_bottom()]);
    wait_for(&mut h, "the selection view", |h| {
        has_label(h, "items selected (box)")
    });
    assert!(
        has_label(&h, "3 of 3 items selected (box)"),
        "{:?}",
        selected_items(&h)
    );
    assert_eq!(selected_items(&h), vec![0, 1, 2]);
    assert!(has_label(&h, "codes used most:"));

    // Narrow by label: only the item labelled "1" is left.
    h.get_by_label(LABEL_FILTER).focus();
    h.step();
    h.get_by_label(LABEL_FILTER).type_text("1");
    h.step();
    wait_for(&mut h, "the filtered selection", |h| {
        has_label(h, "1 of 3 items selected (box)")
    });
    assert_eq!(selected_items(&h), vec![1]);

    h.get_by_label(EXPORT_SELECTION).click();
    wait_for(&mut h, "the exported files", |_| {
        export.join("selection.json").is_file() && export.join("selection.csv").is_file()
    });
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("selection.json")).unwrap()).unwrap();
    assert_eq!(json["count"], 1);
    assert_eq!(json["items"][0]["id"], 1);
    assert_eq!(json["items"][0]["source"], "test item 1");
    let csv = std::fs::read_to_string(export.join("selection.csv")).unwrap();
    assert_eq!(csv.lines().count(), 2, "header and one row: {csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("1,audio,1,test item 1"),
        "{csv}"
    );
}

/// Lasso: an outline drawn around the whole map selects every item; an outline drawn in an
/// empty corner selects none and leaves no selection.
#[test]
fn lasso_selects_what_is_inside_the_outline() {
    let (mut h, _tmp) = app_with_tiny_bundle();
    h.get_by_label("lasso").click();
    h.step();
    let r = map_rect(&h).shrink(6.0);
    drag_along(
        &mut h,
        &[
            r.left_top(),
            r.right_top(),
            r.right_bottom(),
            r.left_bottom(),
            r.left_top() + egui::vec2(0.0, 4.0),
        ],
    );
    wait_for(&mut h, "the lasso selection", |h| {
        has_label(h, "3 of 3 items selected (lasso)")
    });
    let app = h.state().as_ref().unwrap();
    assert!(matches!(
        app.session().selection.as_ref().unwrap().shape,
        transference::ui::selection::SelectionShape::Lasso(ref outline) if outline.len() >= 3
    ));
}

#[test]
fn an_imported_vectors_bundle_shows_map_usage_and_stored_items_without_encoders() {
    use transference::bundle::import::{ImportRequest, import};
    use transference::ui::no_encoders;
    let tmp = tempfile::tempdir().unwrap();
    let fixture = common::repo().join("tests/fixtures/import");
    let out = tmp.path().join("byov");
    import(&ImportRequest {
        embeddings: fixture.join("embeddings.npy"),
        metadata: Some(fixture.join("metadata.tsv")),
        codes: Some(fixture.join("codes.npy")),
        codebook: Some(fixture.join("codebook.npy")),
        codebook_size: None,
        default_modality: Modality::Image,
        name: None,
        out: out.clone(),
    })
    .expect("import");
    let mut h = app_on(out, SimulatedAudio::with_clip(seven_clip()));
    h.step();
    // The inputs panel says why it is off instead of failing input by input.
    assert!(has_label(&h, no_encoders::NOTICE_TITLE));
    assert!(is_disabled(&h, "Analyse"), "typing is off");
    assert!(is_disabled(&h, RECORD_LABEL), "recording is off");
    // The empty input tab points at the map, not at dropping files.
    assert!(has_label(&h, "This bundle holds imported vectors only"));
    assert!(!has_label(&h, "Drop an image or an audio file anywhere"));
    // Codebook usage of the imported codes (numbers from tests/fixtures/import/expected.json).
    assert!(has_label(&h, "active 9/10 · dead 1"), "usage panel");
    let session = h.state().as_ref().unwrap().session();
    assert_eq!(session.summary.as_ref().unwrap().gallery.len(), 18);
    assert!(
        has_label(&h, "PCA · "),
        "the map of the imported embeddings"
    );
    // A gallery item (what a map click sends) is analysed by its stored codes.
    h.state_mut()
        .as_mut()
        .unwrap()
        .add_input(InputSource::GalleryItem(0));
    wait_for(&mut h, "the stored item", |h| {
        has_label(h, "codes: 4 positions")
    });
    assert!(has_label(&h, "stored vectors"));
    let app = h.state().as_ref().unwrap();
    assert!(
        app.session().inputs[0].analysis().is_some(),
        "analysed without error"
    );
    // The analysed list stays usable.
    assert!(h.query_by_label("Clear all").is_some() && !is_disabled(&h, "Clear all"));
    // A dropped file is refused with the reason, not queued.
    let png = tmp.path().join("one.png");
    common::write_digit_png(&png);
    drop_file(&mut h, &png);
    wait_for(&mut h, "the refusal", |h| {
        let notes = h.state().as_ref().unwrap().session().notifications.items();
        notes.iter().any(|n| n.title == no_encoders::NOTICE_TITLE)
    });
    assert_eq!(h.state().as_ref().unwrap().session().inputs.len(), 1);
    // The transfer lab fits on the imported codes.
    h.get_by_label("Transfer lab").click();
    h.step();
    h.step();
    h.get_by_label(transfer_panel::FIT_LABEL).click();
    wait_for(&mut h, "the transfer accuracy", |h| {
        has_label(h, "accuracy on")
    });
    assert!(has_label(&h, "confusion matrix 3×3"));
}

#[test]
fn the_map_switches_to_tsne_in_the_background_and_says_so() {
    use transference::index::projection::Projection;
    let silent = SimulatedAudio {
        input: None,
        output: true,
        speed: 1.0,
    };
    let (mut h, _tmp) = app_with(silent, 40);
    assert!(
        h.query_by_label_contains("PCA ·").is_some(),
        "the map starts on PCA"
    );
    h.get_by_label("t-SNE").click();
    wait_for(&mut h, "the t-SNE map", |h| {
        h.query_by_label_contains("t-SNE · perplexity 13").is_some()
            && h.state()
                .as_ref()
                .is_some_and(|a| a.session().projection_running.is_none())
    });
    let app = h.state().as_ref().unwrap();
    assert_eq!(app.settings().map_projection, Projection::Tsne);
    let layout = &app.session().layouts[&Projection::Tsne];
    assert_eq!(layout.xy.len(), 40);
    assert!(layout.seconds.is_some() && layout.failed.is_none());
}

/// A large gallery (60,000 imported vectors) opens, the map draws every item (one image made
/// off the UI thread for the current view), hover finds an item and a box over the whole map
/// selects every item.
#[test]
fn a_large_imported_gallery_is_drawn_whole_and_selects_everything() {
    use transference::bundle::import::{ImportRequest, arrays::write_npy, import};
    let n = 60_000;
    let d = 4;
    let tmp = tempfile::tempdir().unwrap();
    let embeddings = tmp.path().join("big.npy");
    let mut state = 7u32;
    let values: Vec<f32> = (0..n * d)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect();
    write_npy(&embeddings, &values, n, d).unwrap();
    let out = tmp.path().join("big");
    import(&ImportRequest {
        embeddings,
        metadata: None,
        codes: None,
        codebook: None,
        codebook_size: None,
        default_modality: Modality::Image,
        name: None,
        out: out.clone(),
    })
    .expect("import");
    let mut h = app_on(out, SimulatedAudio::no_devices());
    wait_for(&mut h, "the map image of every item", |h| {
        has_label(h, "· 60000 of 60000 items in view")
    });
    // Imported without codes: the usage panel says so instead of "active 0/1 · dead 1".
    assert!(has_label(&h, "The gallery stores no codes"));
    assert!(!has_label(&h, "active 0/"));
    // Hover over the middle of the map (the random vectors' PCA is densest there).
    let centre = map_rect(&h).center();
    h.hover_at(centre);
    h.step();
    h.step();
    assert!(
        h.state().as_ref().unwrap().view().hovered_gallery.is_some(),
        "hover finds the item under the pointer"
    );
    h.get_by_label("box").click();
    h.step();
    let r = map_rect(&h).shrink(2.0);
    drag_along(&mut h, &[r.left_top(), r.right_bottom()]);
    wait_for(&mut h, "the selection", |h| {
        has_label(h, "60000 of 60000 items selected (box)")
    });
}

/// A lesson for the tiny bundle (random weights: no check on what it predicts).
const UI_LESSON: &str = r#"
id = "ui-test"
title = "UI test lesson"
summary = "Two steps that drive the window."

[[steps]]
title = "Queue a word"
text = "A word is queued and the model card shown."
question = "What changed?"
actions = [
    { do = "queue_input", text = "seven" },
    { do = "show", panel = "model" },
]
checks = [{ check = "top_label_is_not", label = "no such label" }]

[[steps]]
title = "Labels and the lab"
text = "New labels, then the transfer lab."
question = "What did the lab report?"
actions = [
    { do = "set_labels", labels = "seven, three" },
    { do = "color_map", by = "class" },
    { do = "run_transfer", source = "image", target = "audio", features = "embedding" },
]
"#;

/// Opens the Lessons panel and picks the lesson titled `title`.
fn open_lesson(h: &mut AppHarness, title: &str) {
    h.get_by_label(transference::ui::model_panel::LESSONS_LABEL)
        .click();
    h.step();
    h.step();
    h.get_by_label(title).click();
    h.step();
    h.step();
}

/// Presses "Do it" and waits until the step is done; returns its checks.
fn do_step(h: &mut AppHarness) -> Vec<(String, transference::lessons::check::Verdict)> {
    use transference::ui::lessons_panel::{DO_IT_LABEL, StepStatus};
    h.get_by_label(DO_IT_LABEL).click();
    let status = |h: &AppHarness| h.state().as_ref().unwrap().lesson_status();
    wait_for(h, "the step's actions", |h| {
        !matches!(status(h), StepStatus::Running { .. } | StepStatus::NotRun)
    });
    h.step();
    match status(h) {
        StepStatus::Done { checks } => checks,
        other => panic!("the step did not finish: {other:?}"),
    }
}

#[test]
fn the_lessons_panel_drives_the_app_step_by_step() {
    use transference::ui::lessons_panel::NEXT_LABEL;
    use transference::ui::state::{CentralTab, MapColoring};
    let (mut h, tmp) = app_with_tiny_bundle();
    let lessons = tmp.path().join("lessons");
    std::fs::create_dir_all(&lessons).unwrap();
    std::fs::write(lessons.join("ui.toml"), UI_LESSON).unwrap();
    h.state_mut().as_mut().unwrap().load_lessons(Some(&lessons));
    open_lesson(&mut h, "UI test lesson");
    assert!(has_label(&h, "Step 1 of 2"));
    assert!(has_label(&h, "What changed?"), "the question is shown");

    let checks = do_step(&mut h);
    {
        let app = h.state().as_ref().unwrap();
        assert_eq!(app.session().inputs.len(), 1, "the word was queued");
        assert_eq!(app.session().inputs[0].name, "“seven”");
        assert_eq!(app.settings().tab, CentralTab::Model, "the tab switched");
    }
    assert_eq!(checks.len(), 1);
    assert!(checks[0].1.passed, "{checks:?}");
    assert!(has_label(&h, transference::ui::lessons_panel::CHECK_PASSED));

    h.get_by_label(NEXT_LABEL).click();
    h.step();
    h.step();
    assert!(has_label(&h, "Step 2 of 2"));
    do_step(&mut h);
    let app = h.state().as_ref().unwrap();
    assert_eq!(app.session().labels(), vec!["seven", "three"]);
    assert_eq!(app.settings().map_coloring, MapColoring::Class);
    assert_eq!(app.settings().tab, CentralTab::Transfer);
    let report = app.session().transfer.as_ref().expect("the lab ran");
    assert_eq!(
        (report.source, report.target, report.features),
        (
            Modality::Image,
            Modality::Audio,
            TransferFeatures::Embedding
        )
    );
    assert_eq!(app.settings().lesson.id.as_deref(), Some("ui-test"));
    assert_eq!(app.settings().lesson.step, 1);
}

#[test]
fn built_in_lessons_1_and_2_can_be_followed_in_the_window() {
    use transference::ui::lessons_panel::NEXT_LABEL;
    let mut h = app_on(
        common::repo().join("models/digits"),
        SimulatedAudio::no_devices(),
    );
    for title in [
        "1. Transfer from a pretrained model",
        "2. Co-learning via a shared representation",
    ] {
        if title.starts_with('1') {
            open_lesson(&mut h, title);
        } else {
            h.get_by_label(title).click();
            h.step();
            h.step();
        }
        let n = h.state().as_ref().unwrap().lessons()[usize::from(title.starts_with('2'))]
            .steps
            .len();
        for step in 0..n {
            assert!(has_label(&h, &format!("Step {} of {n}", step + 1)));
            for (what, result) in do_step(&mut h) {
                assert!(
                    result.passed,
                    "{title}, step {}: {what}: {result:?}",
                    step + 1
                );
            }
            if step + 1 < n {
                h.get_by_label(NEXT_LABEL).click();
                h.step();
                h.step();
            }
        }
    }
}

#[test]
fn presenter_mode_shows_one_panel_in_large_text_and_is_remembered() {
    use transference::ui::model_panel::PRESENTER_LABEL;
    use transference::ui::state::PresenterFocus;
    let (mut h, _tmp) = app_with_tiny_bundle();
    assert!(has_label(&h, "Drawing canvas"));
    h.get_by_label("View").click();
    h.step();
    h.step();
    h.get_by_label(PRESENTER_LABEL).click();
    h.step();
    h.step();
    assert!(h.state().as_ref().unwrap().settings().presenter);
    assert!(
        !has_label(&h, "Drawing canvas"),
        "the side panels are hidden"
    );
    assert_eq!(h.ctx.zoom_factor(), transference::ui::theme::PRESENTER_ZOOM);
    let mut storage = MemoryStorage::default();
    let dir = {
        let app = h.state_mut().as_mut().unwrap();
        app.settings_mut().presenter_focus = PresenterFocus::Map;
        app.settings_mut().lesson.step = 2;
        eframe::App::save(app, &mut storage);
        app.session().summary.as_ref().unwrap().dir.clone()
    };
    drop(h);

    let mut h = app_restarted(storage, dir);
    h.step();
    h.step();
    let settings = h.state().as_ref().unwrap().settings().clone();
    assert!(settings.presenter, "presenter mode is remembered");
    assert_eq!(settings.presenter_focus, PresenterFocus::Map);
    assert_eq!(settings.lesson.step, 2, "the lesson step is remembered");
    assert_eq!(h.ctx.zoom_factor(), transference::ui::theme::PRESENTER_ZOOM);
    assert!(
        has_label(&h, "Embedding map"),
        "the focused panel is the map"
    );
    assert!(!has_label(&h, "Drawing canvas"));
}

/// Many bad files dropped at once (more than one chunk of analyses): one notification of one
/// line, whose Details window lists every file with its reason and can copy them all.
#[test]
fn many_failed_inputs_are_one_line_with_a_details_window() {
    let (mut h, tmp) = app_with_tiny_bundle();
    let n = 2 * transference::engine::protocol::MAX_CHUNK_INPUTS + 20;
    let bad: Vec<PathBuf> = (0..n)
        .map(|i| {
            let p = tmp.path().join(format!("broken-{i:03}.png"));
            std::fs::write(&p, "text, not pixels").unwrap();
            p
        })
        .collect();
    drop_files(&mut h, &bad);
    wait_for(&mut h, "the batch notification", |h| {
        has_label(h, "inputs failed")
    });
    wait_for(&mut h, "every input analysed", |h| {
        !h.state().as_ref().unwrap().session().busy()
    });
    let notes = h.state().as_ref().unwrap().session().notifications.items();
    assert_eq!(notes.len(), 1, "one notification: {notes:?}");
    assert_eq!(notes[0].title, format!("Analysing {n} inputs failed"));
    assert_eq!(notes[0].details.len(), n, "every file is in the details");
    assert!(
        !notes[0].message.contains('\n'),
        "one line: {:?}",
        notes[0].message
    );
    h.get_all_by_label(transference::ui::notifications::DETAILS_LABEL)
        .next()
        .expect("a Details button")
        .click();
    wait_for(&mut h, "the details window", |h| {
        has_label(h, transference::ui::notifications::COPY_DETAILS_LABEL)
    });
    assert!(has_label(&h, "broken-"), "the window names the files");
    assert!(has_label(&h, "not a decodable image"), "and the reasons");
    h.get_by_label(transference::ui::notifications::COPY_DETAILS_LABEL)
        .click();
    h.step();
}

/// Clicks the primary button at `pos` (window points): move there, press, release.
fn click_at(h: &mut AppHarness, pos: egui::Pos2) {
    h.input_mut().events.push(egui::Event::PointerMoved(pos));
    h.step();
    for pressed in [true, false] {
        h.input_mut().events.push(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
    }
    h.step();
}

fn open_code(h: &AppHarness) -> Option<u32> {
    h.state().as_ref().unwrap().session().code_pages.current()
}

/// Waits until the page of `code` is shown, and returns it.
fn wait_for_page(h: &mut AppHarness, code: u32) -> transference::engine::code_page::CodePage {
    use transference::ui::code_pages::PageState;
    wait_for(h, &format!("the page of code {code}"), |h| {
        matches!(
            h.state().as_ref().unwrap().session().code_pages.state(),
            PageState::Ready(p) if p.facts.code == code
        ) && has_label(h, "of all")
    });
    // Wrapped rows settle in the frames after the first.
    for _ in 0..3 {
        h.step();
    }
    match h.state().as_ref().unwrap().session().code_pages.state() {
        PageState::Ready(p) => p.clone(),
        other => panic!("{other:?}"),
    }
}

/// A code page opens in one click from a code strip and from the usage chart, and from its
/// id typed; its nearest codes link to their pages; back and forward walk them; *Show on
/// map* selects the items that use the code in the linked Selection tab; the export writes
/// the page as PNG and JSON.
#[test]
fn clicking_a_code_opens_its_page_with_back_forward_and_show_on_map() {
    use transference::ui::code_page_panel::{BACK, EXPORT_PAGE, FORWARD, GO_TO_CODE, SHOW_ON_MAP};
    use transference::ui::state::CentralTab;
    let (mut h, tmp) = app_with_tiny_bundle();
    let export = tmp.path().join("export");
    h.state_mut().as_mut().unwrap().settings_mut().export_dir = export.display().to_string();
    let png = tmp.path().join("one.png");
    common::write_digit_png(&png);
    drop_file(&mut h, &png);
    wait_for(&mut h, "the code strip", |h| has_label(h, "code strip: "));
    h.step();

    // A click on a blank cell of the 4x4 grid (paper, no code) opens nothing; a click on the
    // first cell with a code opens that code's page.
    let item = h.state().as_ref().unwrap().session().inputs[0]
        .analysis()
        .unwrap()
        .input
        .item
        .clone();
    let (first, at) = (item.codes[0], item.positions[0] as usize);
    let blank = (0..16)
        .find(|c| !item.positions.contains(&(*c as u32)))
        .unwrap();
    let strip = h.get_by_label_contains("code strip: ").rect();
    let side = strip.width() / 4.0;
    let centre = |cell: usize| {
        strip.min
            + egui::vec2(
                (cell % 4) as f32 * side + side / 2.0,
                (cell / 4) as f32 * side + side / 2.0,
            )
    };
    click_at(&mut h, centre(blank));
    assert_eq!(open_code(&h), None, "blank paper has no code to open");
    click_at(&mut h, centre(at));
    assert_eq!(open_code(&h), Some(first));
    assert_eq!(h.state().as_ref().unwrap().settings().tab, CentralTab::Code);
    let page = wait_for_page(&mut h, first);
    assert!(has_label(&h, &format!("Code {first}")));
    assert_eq!(
        h.state().as_ref().unwrap().session().selected_code,
        Some(first),
        "the code is lit up everywhere"
    );

    // Its nearest code is a link to that code's page.
    let near = &page.facts.nearest_codes[0];
    let chip = format!("code {} \u{b7} {:.2}", near.code, near.l2_distance);
    // (Below the fold in the window's narrow central column: clicked through accesskit.)
    h.get_by_label(&chip).click_accesskit();
    h.step();
    assert_eq!(open_code(&h), Some(near.code));
    wait_for_page(&mut h, near.code);

    // Back and forward.
    h.get_by_label(BACK).click();
    h.step();
    assert_eq!(open_code(&h), Some(first));
    wait_for_page(&mut h, first);
    h.get_by_label(FORWARD).click();
    h.step();
    assert_eq!(open_code(&h), Some(near.code));

    // Typed id.
    h.get_by_label(GO_TO_CODE).focus();
    h.step();
    h.get_by_label(GO_TO_CODE).type_text("7");
    h.step();
    h.key_press(egui::Key::Enter);
    h.step();
    assert_eq!(open_code(&h), Some(7));
    wait_for_page(&mut h, 7);

    // A click on the usage chart opens the page of the code under the pointer.
    let usage = h
        .state()
        .as_ref()
        .unwrap()
        .view()
        .chart_rects
        .usage
        .unwrap();
    let pos = egui::pos2(usage.center().x, usage.top() + 60.0);
    h.input_mut().events.push(egui::Event::PointerMoved(pos));
    h.step();
    let under = h
        .state()
        .as_ref()
        .unwrap()
        .view()
        .hovered_code
        .expect("a code under the pointer");
    click_at(&mut h, pos);
    assert_eq!(open_code(&h), Some(under));
    let page = wait_for_page(&mut h, under);

    // Show on map: the items that use it, selected, in the Selection tab.
    h.get_by_label(SHOW_ON_MAP).click();
    h.step();
    h.step();
    let app = h.state().as_ref().unwrap();
    assert_eq!(app.settings().tab, CentralTab::Selection);
    let gallery = &app.session().summary.as_ref().unwrap().gallery;
    let users: Vec<usize> = gallery
        .iter()
        .filter(|p| p.codes.contains(&under))
        .map(|p| p.index)
        .collect();
    assert_eq!(selected_items(&h), users);
    assert_eq!(users.len(), page.facts.items);
    assert!(has_label(
        &h,
        &format!("{} of 3 items selected (code {under})", users.len())
    ));

    // Export: back on the page, PNG and JSON.
    h.state_mut().as_mut().unwrap().settings_mut().tab = CentralTab::Code;
    h.step();
    h.get_by_label(EXPORT_PAGE).click();
    wait_for(&mut h, "the export notification", |h| {
        has_label(h, "Code page exported")
    });
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join(format!("code_{under}.json"))).unwrap())
            .unwrap();
    assert_eq!(json["code"], under);
    assert_eq!(json["items"], page.facts.items);
    let png = image::open(export.join(format!("code_{under}.png"))).unwrap();
    assert!(
        png.width() > 300 && png.height() > 100,
        "{}x{}",
        png.width(),
        png.height()
    );
    h.render().unwrap().save("/tmp/codepage-ui.png").ok();
}

/// Compare with…: a second bundle (the first one's gallery items in reverse order) opens in
/// the Compare tab beside the loaded model, both maps drawn, B laid onto A; a click on an item
/// of map A picks it and its match on map B (shift-click adds), a click on map B the other way;
/// the table shows a figure both report with the difference; the input is read by both.
#[test]
fn the_compare_tab_links_picks_between_the_two_maps_and_shows_the_table() {
    use transference::bundle::manifest::Manifest;
    use transference::ui::compare_state::MapSide;
    const ITEMS: usize = 6;
    let tmp = tempfile::tempdir().unwrap();
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    common::write_tiny_bundle_with_gallery(&a_dir, ITEMS);
    common::write_tiny_bundle_with_reversed_gallery(&b_dir, ITEMS);
    for (dir, value) in [(&a_dir, 0.5), (&b_dir, 0.75)] {
        let mut m = Manifest::read(dir).unwrap();
        m.metrics.insert("zero_shot.image.accuracy".into(), value);
        std::fs::write(dir.join("manifest.toml"), m.to_toml().unwrap()).unwrap();
    }
    let mut h = app_on(a_dir, SimulatedAudio::with_clip(seven_clip()));
    h.state_mut()
        .as_mut()
        .unwrap()
        .add_input(InputSource::Text("seven".into()));
    // What the dialog's answer does.
    h.state_mut().as_mut().unwrap().compare_with(b_dir);
    let compare = |h: &AppHarness| h.state().as_ref().unwrap().session().compare.clone();
    wait_for(&mut h, "the comparison", |h| {
        let c = compare(h);
        c.view.is_some() && c.drawn.iter().all(Option::is_some)
    });
    for _ in 0..3 {
        h.step();
    }
    let view = compare(&h).view.unwrap();
    let al = view.comparison.alignment.as_ref().expect("aligned");
    assert_eq!(al.matched, ITEMS);
    assert!(al.residual_rms < 1e-3, "the same items: {al:?}");
    // The table: the figure both report, with B − A.
    assert!(has_label(&h, "zero_shot.image.accuracy"));
    assert!(has_label(&h, "+0.2500"));
    // The input, read by both models.
    assert_eq!(view.comparison.inputs.len(), 1);
    assert!(view.comparison.inputs[0].a.label().is_some());
    assert!(view.comparison.inputs[0].b.label().is_some());

    // A click on item 2 of map A picks it, and its match on map B: B's item ITEMS - 1 - 2.
    let screen = |h: &AppHarness, side: MapSide, item: usize| {
        let c = compare(h);
        let v = c.view.as_ref().unwrap();
        let xy = match side {
            MapSide::A => summary(h).gallery[item].xy,
            MapSide::B => v.comparison.alignment.as_ref().unwrap().b_on_a[item],
        };
        c.drawn[side as usize]
            .unwrap()
            .position_from_point(&egui_plot::PlotPoint::new(xy[0], xy[1]))
    };
    let at = screen(&h, MapSide::A, 2);
    click_at(&mut h, at);
    wait_for(&mut h, "the pick", |h| !compare(h).selection.a.is_empty());
    let picked = compare(&h).selection;
    assert_eq!(picked.a, vec![2], "{picked:?}");
    assert_eq!(picked.b, vec![ITEMS - 1 - 2]);
    assert!(has_label(&h, "picked 1 on A, 1 on B"));
    // A click on map B picks there and its match on A.
    let at = screen(&h, MapSide::B, 0);
    click_at(&mut h, at);
    wait_for(&mut h, "the pick on B", |h| {
        compare(h).selection.b == vec![0]
    });
    assert_eq!(compare(&h).selection.a, vec![ITEMS - 1]);
}

/// The transfer lab on the shipped model: clicking a confusion cell selects exactly the
/// gallery items of that (true, predicted) pair, on the map and in the Selection tab.
#[test]
fn clicking_a_confusion_cell_selects_exactly_its_items() {
    let mut h = app_on(
        common::repo().join("models/digits"),
        SimulatedAudio::no_devices(),
    );
    h.get_by_label("Transfer lab").click();
    h.step();
    h.step();
    h.get_by_label(transfer_panel::FIT_LABEL).click();
    wait_for(&mut h, "the transfer report", |h| {
        has_label(h, "accuracy on") && h.state().as_ref().unwrap().session().transfer.is_some()
    });
    h.step();
    let session = h.state().as_ref().unwrap().session();
    let report = session.transfer.clone().unwrap();
    let heat = h
        .state()
        .as_ref()
        .unwrap()
        .view()
        .chart_rects
        .confusion
        .expect("the heat map is drawn");
    assert_eq!(report.tested.len(), report.n_test);
    // The largest mistake (an off-diagonal cell), else the first class's correct items.
    let n = report.labels.len();
    let (truth, predicted) = (0..n)
        .flat_map(|t| (0..n).map(move |p| (t, p)))
        .filter(|&(t, p)| t != p && report.confusion[t][p] > 0)
        .max_by_key(|&(t, p)| (report.confusion[t][p], std::cmp::Reverse((t, p))))
        .unwrap_or((0, 0));
    let expected: Vec<usize> = {
        let mut v: Vec<usize> = report
            .tested
            .iter()
            .filter(|t| t.truth == truth && t.predicted == predicted)
            .map(|t| t.index)
            .collect();
        v.sort_unstable();
        v
    };
    assert_eq!(expected.len(), report.confusion[truth][predicted] as usize);
    assert!(!expected.is_empty());
    let gallery = &session.summary.as_ref().unwrap().gallery;
    for &i in &expected {
        assert_eq!(gallery[i].modality, report.target);
        assert_eq!(
            gallery[i].label.as_deref(),
            Some(report.labels[truth].as_str())
        );
    }
    let cell = transfer_panel::cell_rect(heat, n, truth, predicted);
    click_at(&mut h, cell.center());
    let what = format!(
        "{} true {}, predicted {}",
        report.target, report.labels[truth], report.labels[predicted]
    );
    wait_for(&mut h, "the cell's selection", |h| {
        has_label(
            h,
            &format!(
                "{} of {} items selected ({what})",
                expected.len(),
                gallery_len(h)
            ),
        )
    });
    assert_eq!(selected_items(&h), expected);
}

/// The app's session.
fn session(h: &AppHarness) -> &transference::ui::session::Session {
    h.state().as_ref().unwrap().session()
}

/// The loaded model's summary (the model must have loaded).
fn summary(h: &AppHarness) -> &transference::engine::ModelSummary {
    session(h).summary.as_ref().expect("a loaded model")
}

fn gallery_len(h: &AppHarness) -> usize {
    session(h).summary.as_ref().map_or(0, |s| s.gallery.len())
}

/// Where the shipped model fails: the Selection tab's *Score the gallery zero-shot* colours
/// the map correct / wrong and ranks the gallery's sources by error rate; each item's
/// verdict equals the pipeline's own zero-shot scores of its stored embedding, and a click
/// on a source selects exactly its wrong items.
#[test]
fn sources_are_ranked_by_zero_shot_errors_and_select_their_wrong_items() {
    use transference::ui::failures::{errors_by_source, source_group};
    use transference::ui::selection_panel::SCORE_GALLERY;
    use transference::ui::state::{CentralTab, MapColoring};
    let dir = common::repo().join("models/digits");
    let mut h = app_on(dir.clone(), SimulatedAudio::no_devices());
    h.state_mut().as_mut().unwrap().settings_mut().tab = CentralTab::Selection;
    h.step();
    h.get_by_label(SCORE_GALLERY).click();
    wait_for(&mut h, "the gallery's zero-shot labels", |h| {
        h.state()
            .as_ref()
            .unwrap()
            .session()
            .gallery_zero_shot
            .is_some()
    });
    h.step();
    let app = h.state().as_ref().unwrap();
    assert_eq!(app.settings().map_coloring, MapColoring::Correctness);
    let session = app.session();
    let zero_shot = session.gallery_zero_shot.clone().unwrap();
    let gallery = session.summary.as_ref().unwrap().gallery.clone();

    // The reference: the pipeline's ranked zero-shot scores of every stored embedding.
    let mut pipeline = Pipeline::open(&dir, DeviceRequest::Cpu).unwrap();
    let stored = pipeline.bundle.gallery.clone().unwrap();
    let mut wrong_per_group: std::collections::BTreeMap<&str, (usize, Vec<usize>)> =
        Default::default();
    for p in &gallery {
        let label = p.label.as_deref().unwrap();
        let scores = pipeline
            .classify(
                &stored.embedding(p.index),
                &zero_shot.labels,
                &zero_shot.templates,
            )
            .unwrap();
        let entry = wrong_per_group.entry(source_group(&p.source)).or_default();
        entry.0 += 1;
        if scores[0].label != label {
            entry.1.push(p.index);
        }
        assert_eq!(
            zero_shot.correct(p.index, Some(label)),
            Some(scores[0].label == label),
            "item {}",
            p.index
        );
    }
    let rows = errors_by_source(&gallery, &zero_shot);
    assert_eq!(
        session.errors_by_source, rows,
        "ranked once, when the answer came"
    );
    assert_eq!(rows.len(), wrong_per_group.len());
    for row in &rows {
        let (scored, wrong) = &wrong_per_group[row.group.as_str()];
        assert_eq!((row.scored, &row.wrong), (*scored, wrong), "{}", row.group);
    }
    // The real voice the model never heard is one source: its 300 recordings in the gallery.
    let george = rows
        .iter()
        .find(|r| r.group == "FSDD speaker george recording")
        .expect("george's recordings are one source");
    assert_eq!(george.scored, 300);
    // Worst first, and every row is on screen.
    assert!(
        rows.windows(2)
            .all(|w| w[0].error_rate() >= w[1].error_rate())
    );
    for row in &rows {
        assert!(has_label(&h, &row.describe()), "{}", row.describe());
    }

    // A click on the worst source with mistakes selects exactly its wrong items.
    let worst = rows
        .iter()
        .find(|r| !r.wrong.is_empty())
        .expect("some mistake");
    h.get_by_label(&worst.describe()).click();
    let what = format!("{}: wrong zero-shot", worst.group);
    wait_for(&mut h, "the source's wrong items selected", |h| {
        has_label(
            h,
            &format!(
                "{} of {} items selected ({what})",
                worst.wrong.len(),
                gallery.len()
            ),
        )
    });
    assert_eq!(selected_items(&h), worst.wrong);
}

/// The map coloured by similarity to a typed prompt on the shipped model: the scores are
/// the cosines the retrieval index finds for the same prompt, and the most similar items
/// are the prompt's digit in every modality.
#[test]
fn the_map_colours_by_similarity_to_a_typed_prompt() {
    use transference::ui::map_panel::SIMILAR_TO_LABEL;
    use transference::ui::state::MapColoring;
    let dir = common::repo().join("models/digits");
    let mut h = app_on(dir.clone(), SimulatedAudio::no_devices());
    h.get_by_label("similarity").click();
    h.step();
    assert_eq!(
        h.state().as_ref().unwrap().settings().map_coloring,
        MapColoring::Similarity
    );
    h.get_by_label(SIMILAR_TO_LABEL).focus();
    h.step();
    h.get_by_label(SIMILAR_TO_LABEL).type_text("seven");
    wait_for(&mut h, "the gallery's similarity to \"seven\"", |h| {
        h.state()
            .as_ref()
            .unwrap()
            .session()
            .gallery_similarity
            .as_ref()
            .is_some_and(|s| s.query.describe() == "“seven”")
    });
    h.step();
    assert!(has_label(&h, "colours: similarity to “seven”"));
    let session = h.state().as_ref().unwrap().session();
    let cosine = session.gallery_similarity.clone().unwrap().cosine;
    let gallery = session.summary.as_ref().unwrap().gallery.clone();
    assert_eq!(cosine.len(), gallery.len());

    // The reference: the retrieval index's scores for the same prompt.
    let pipeline = Pipeline::open(&dir, DeviceRequest::Cpu).unwrap();
    let query = pipeline
        .encode(&InputSource::Text("seven".into()))
        .unwrap()
        .item
        .embedding;
    let neighbours = pipeline.retrieve(&query, None, gallery.len()).unwrap();
    assert_eq!(neighbours.len(), gallery.len());
    for n in &neighbours {
        assert!(
            (cosine[n.index] - n.score).abs() < 1e-4,
            "item {}: {} vs {}",
            n.index,
            cosine[n.index],
            n.score
        );
    }
    // The 30 most similar items are sevens, from more than one modality.
    let mut order: Vec<usize> = (0..gallery.len()).collect();
    order.sort_by(|&a, &b| cosine[b].total_cmp(&cosine[a]));
    let top = &order[..30];
    let sevens = top
        .iter()
        .filter(|&&i| gallery[i].label.as_deref() == Some("seven"))
        .count();
    assert!(sevens >= 27, "{sevens} of the 30 most similar are sevens");
    let modalities: std::collections::BTreeSet<_> =
        top.iter().map(|&i| gallery[i].modality).collect();
    assert!(modalities.len() >= 2, "{modalities:?}");
}

/// A gallery item whose clip is not shipped (george's recordings in `models/digits`) is read
/// from its stored codes and embedding, and the view says so, not that the bundle has no
/// encoders.
#[test]
fn a_gallery_item_without_media_says_it_is_read_from_the_gallery() {
    use transference::ui::input_view::{STORED_ITEM_NOTE, STORED_VECTORS_NOTE};
    let mut h = app_on(
        common::repo().join("models/digits"),
        SimulatedAudio::no_devices(),
    );
    let item = summary(&h)
        .gallery
        .iter()
        .find(|p| p.media.is_none() && p.modality == Modality::Audio)
        .expect("a george recording without its clip")
        .index;
    h.state_mut()
        .as_mut()
        .unwrap()
        .add_input(InputSource::GalleryItem(item));
    wait_for(&mut h, "the stored item's view", |h| {
        has_label(h, STORED_ITEM_NOTE)
    });
    assert!(!has_label(&h, STORED_VECTORS_NOTE));
    assert!(has_label(&h, "codes:"));
}
