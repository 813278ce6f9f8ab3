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
use transference::ui::record_panel::{RECORD_LABEL, STOP_RECORDING_LABEL};
use transference::ui::state::Session;
use transference::ui::{code_strip, transfer_panel};

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
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    common::write_tiny_bundle(&dir);
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
        has_label(h, "codes: 16 positions")
    });
    assert!(
        has_label(&h, "code strip: "),
        "the strip describes its codes"
    );
    wait_for(&mut h, "zero-shot scores", |h| {
        has_label(h, "zero-shot: top")
    });
    assert!(has_label(&h, "model input 28×28"));
    assert!(has_label(&h, "4×4 feature map"));
    // The image also lands on the map and in the retrieval lists.
    let app = h.state().as_ref().unwrap();
    let a = app.session().inputs[0].analysis().unwrap();
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
    let dir = h
        .state()
        .as_ref()
        .unwrap()
        .session()
        .summary
        .as_ref()
        .unwrap()
        .dir
        .clone();
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
    let model = dir.clone();
    let mut h: AppHarness = Harness::builder()
        .with_size(egui::vec2(1500.0, 950.0))
        .build_ui_state(
            move |ui, app: &mut Option<ExplorerApp>| {
                app.get_or_insert_with(|| {
                    ExplorerApp::new(
                        ui.ctx(),
                        Some(&storage),
                        Some(model.clone()),
                        DeviceRequest::Cpu,
                    )
                })
                .show(ui);
            },
            None,
        );
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
    wait_for(&mut h, "the drawing's codes", |h| {
        has_label(h, "codes: 16 positions")
    });
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
        has_label(h, "codes: 16 positions")
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
                codes,
                embedding: vec![0.0; 4],
            },
            preprocess_ms: 0.0,
            encode_ms: 0.0,
        },
        xy: None,
        zero_shot: Err(ZeroShotUnavailable::NoLabels),
        neighbours: vec![],
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
                code_strip::show_strip(ui, &session, &analysis, 40.0, true, false, &mut commands);
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
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(330.0, 300.0))
        .with_context_setup(transference::ui::theme::apply)
        .build_ui(move |ui| {
            egui::CentralPanel::default().show(ui, |ui| {
                transfer_panel::confusion(ui, &report);
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
