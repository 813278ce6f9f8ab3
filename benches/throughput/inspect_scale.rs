//! Inspecting the codebook at scale (issue 18): the UI-thread cost of a window frame with a
//! code page open, and with a second model compared, at 100k gallery items per model and a
//! 4,096-code codebook, release build, target p95 ≤ 16 ms. The frame is the window's layout
//! (the analysis panel's map on the right, the tab in a scroll area in the middle), run
//! headlessly in an egui context, tessellation included, while the pointer sweeps the window
//! (hovering bars, code chips and map points; on the compare tab the hover is linked across
//! both maps) and the wheel scrolls the tab. Frames are paced at 30 per second so the
//! rasteriser threads' map images arrive between them, as in the window. The worker's side
//! (the page's facts over the gallery, laying B's map onto A's) is timed apart.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::{Event, Pos2, vec2};
use transference::bundle::gallery::{Gallery, GalleryItem};
use transference::engine::code_page::{CodePage, DecodedCode, DecodedImage, DecodedSound};
use transference::engine::compare::{Comparison, InputRow, ModelSide, Reading, SetComparison};
use transference::engine::{ComparisonView, ModelSummary};
use transference::index::accuracy::Accuracy;
use transference::index::code_facts::CodeSource;
use transference::index::compare::{align_maps, metric_rows};
use transference::modality::Modality;
use transference::ui::Command;
use transference::ui::code_pages::PageState;
use transference::ui::frame_view::FrameView;
use transference::ui::map_canvas::MapCanvas;
use transference::ui::media::MediaCache;
use transference::ui::session::Session;
use transference::ui::state::Settings;
use transference::ui::{code_page_panel, compare_panel, map_panel};

use super::Latency;
use super::map_scale::timed_frame;

/// The window, in points (the app's default size).
const SCREEN: [f32; 2] = [1600.0, 1000.0];
/// Gallery items per model.
const ITEMS: usize = 100_000;
/// Codebook size and codes per item (a 4x4 image grid).
const CODES: usize = 4096;
const CODES_PER_ITEM: usize = 16;
/// Embedding width of the gallery the page's facts are computed over.
const D_MODEL: usize = 256;
/// Inputs read by both models in the comparison's table.
const COMPARED_INPUTS: usize = 1_000;
/// The code whose page is open.
const PAGE_CODE: u32 = 137;
/// Frames timed per view.
const FRAMES: usize = 180;
/// Frame pacing: 30 frames per second.
const FRAME_BUDGET: Duration = Duration::from_millis(33);
/// The target for a frame's UI-thread time at the 95th percentile.
const P95_TARGET_MS: f64 = 16.0;

/// A deterministic stream of pseudo-random numbers.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

/// Every item's codes: ten "digits", each drawing most of its codes from its own 40 codes.
fn item_codes(rng: &mut Lcg) -> Vec<Vec<u32>> {
    (0..ITEMS)
        .map(|i| {
            let class = (i % 10) as u32;
            (0..CODES_PER_ITEM)
                .map(|_| match rng.next() % 4 {
                    0 => rng.next() % CODES as u32,
                    _ => PAGE_CODE + class * 40 + rng.next() % 40,
                })
                .collect()
        })
        .collect()
}

/// A 100k-item summary (the map's 12 blobs) whose items carry `codes`.
fn summary(codes: &[Vec<u32>], name: &str) -> ModelSummary {
    let mut s = super::map_scale::summary(ITEMS);
    s.name = name.into();
    s.codebook_size = CODES;
    // The map's items are labelled by blob, "class 0" to "class 11".
    s.labels = (0..12).map(|c| format!("class {c}")).collect();
    for (p, c) in s.gallery.iter_mut().zip(codes) {
        p.codes = c.clone();
    }
    s
}

/// The page of [`PAGE_CODE`] computed as the worker computes it, over a gallery holding the
/// items and codes of `summary`, and the time that took.
fn code_page(summary: &ModelSummary, rng: &mut Lcg) -> (CodePage, f64) {
    let mut gallery = Gallery::default();
    let embedding = vec![1.0 / (D_MODEL as f32).sqrt(); D_MODEL];
    for p in &summary.gallery {
        let item = GalleryItem {
            modality: p.modality,
            label: p.label.clone(),
            source: p.source.clone(),
            media: None,
            text: None,
        };
        gallery.push(item, &embedding, p.codes.clone()).unwrap();
    }
    let codebook: Vec<f32> = (0..CODES * D_MODEL)
        .map(|_| (rng.next() % 1000) as f32 / 1000.0)
        .collect();
    let source = CodeSource {
        gallery: &gallery,
        classes: &summary.labels,
        codebook_size: CODES,
        codebook: Some(&codebook),
        image_grid: Some([4, 4]),
    };
    let t = Instant::now();
    let facts = source.facts(PAGE_CODE).unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let page = CodePage {
        model: "bench".into(),
        facts,
        resets_recorded: true,
        last_reset_step: Some(2_300),
        decoded: DecodedCode {
            image: Some(DecodedImage {
                width: 28,
                height: 28,
                pixels: (0..28 * 28).map(|i| (i * 7 % 256) as u8).collect(),
            }),
            sound: Some(DecodedSound {
                sample_rate_hz: 16_000,
                duration_secs: 1.0,
                samples: (0..16_000).map(|i| (i as f32 * 0.05).sin() * 0.5).collect(),
            }),
            not_decoded: vec![],
        },
    };
    (page, ms)
}

/// Model B (the same items, its map turned and shaken) compared with A, as the worker sends
/// it, and the time laying B's map onto A's took.
fn comparison(a: &ModelSummary, b_codes: &[Vec<u32>], rng: &mut Lcg) -> (ComparisonView, f64) {
    let mut b = summary(b_codes, "bench-b");
    let (sin, cos) = 0.7f32.sin_cos();
    for p in &mut b.gallery {
        let [x, y] = p.xy;
        let shake = |r: u32| (r % 1000) as f32 / 1000.0 - 0.5;
        p.xy = [
            cos * x - sin * y + shake(rng.next()),
            sin * x + cos * y + shake(rng.next()),
        ];
    }
    let xy = |s: &ModelSummary| s.gallery.iter().map(|p| p.xy).collect::<Vec<_>>();
    let t = Instant::now();
    let alignment = align_maps(&xy(a), &xy(&b), (0..ITEMS).map(|i| (i, i)).collect()).unwrap();
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let metrics = |shift: f64| {
        (0..60)
            .map(|i| (format!("figure.{i:02}"), 0.5 + shift * i as f64 / 60.0))
            .collect()
    };
    let labels: Vec<String> = (0..10).map(|c| format!("class {c}")).collect();
    let accuracy = |acc: f32| Accuracy {
        accuracy: acc,
        n: 500,
        per_class: (0..10).map(|c| Some(acc - c as f32 * 0.01)).collect(),
        confusion: vec![vec![5; 10]; 10],
    };
    let reading = |r: &mut Lcg| Reading::Read {
        label: Some(format!("class {}", r.next() % 10)),
        probability: Some(0.9),
        codes: (0..CODES_PER_ITEM)
            .map(|_| r.next() % CODES as u32)
            .collect(),
    };
    let side = |name: &str| ModelSide {
        dir: PathBuf::from(name),
        name: name.into(),
        codebook_size: CODES,
        gallery_items: ITEMS,
    };
    let comparison = Comparison {
        a: side("bench"),
        b: side("bench-b"),
        metrics: metric_rows(&metrics(0.0), &metrics(0.1)),
        alignment: Some(alignment),
        alignment_unavailable: None,
        sets: [Modality::Image, Modality::Audio]
            .into_iter()
            .map(|modality| SetComparison {
                modality,
                source: PathBuf::from("inputs"),
                labels: labels.clone(),
                a: accuracy(0.95),
                b: accuracy(0.97),
            })
            .collect(),
        inputs: (0..COMPARED_INPUTS)
            .map(|i| InputRow {
                name: format!("{}_input_{i}.wav", i % 10),
                modality: Some(Modality::Audio),
                truth: Some(format!("class {}", i % 10)),
                a: reading(rng),
                b: reading(rng),
            })
            .collect(),
    };
    (
        ComparisonView {
            comparison,
            summary: b,
        },
        ms,
    )
}

/// Which tab the central panel shows.
#[derive(Clone, Copy)]
enum Tab {
    CodePage,
    Compare,
}

/// The window's panels in a headless egui context.
struct Window {
    ctx: egui::Context,
    session: Session,
    settings: Settings,
    media: MediaCache,
    map: MapCanvas,
    compare_maps: [MapCanvas; 2],
    typed_code: String,
}

impl Window {
    /// One frame of `tab` with `events`; its UI-thread time (run + tessellation) in ms.
    fn frame(&mut self, tab: Tab, events: Vec<Event>) -> f64 {
        let mut commands: Vec<Command> = Vec::new();
        let mut hovered = None;
        let ms = timed_frame(&self.ctx, SCREEN, events, |ui| {
            egui::Panel::right("analysis-panel")
                .default_size(560.0)
                .show(ui, |ui| {
                    map_panel::show(
                        ui,
                        &self.session,
                        &FrameView::default(),
                        &mut self.settings,
                        &mut self.media,
                        &mut self.map,
                        &mut commands,
                    );
                });
            egui::CentralPanel::default().show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .auto_shrink([false, false])
                    .show(ui, |ui| match tab {
                        Tab::CodePage => {
                            code_page_panel::show(
                                ui,
                                &self.session,
                                &mut self.media,
                                &mut self.typed_code,
                                &mut commands,
                            );
                        }
                        Tab::Compare => {
                            hovered = compare_panel::show(
                                ui,
                                &self.session,
                                &self.settings,
                                &mut self.media,
                                &mut self.compare_maps,
                                &mut commands,
                            )
                            .hovered;
                        }
                    });
            });
        });
        // The app hands the hovered item back to the session, which links it across maps.
        self.session.compare.hovered = hovered;
        ms
    }
}

/// The pointer sweeping the window left to right and back (0.8 px a frame apart in y, so it
/// crosses bars, chips and map points), with a wheel step down or up every 20 frames.
fn gesture(frame: usize) -> Vec<Event> {
    let phase = frame % 120;
    let along = if phase < 60 { phase } else { 119 - phase } as f32 / 59.0;
    let pos = Pos2::new(
        20.0 + along * (SCREEN[0] - 40.0),
        120.0 + (frame as f32 * 4.3) % (SCREEN[1] - 200.0),
    );
    let mut events = vec![Event::PointerMoved(pos)];
    if frame % 20 == 10 {
        events.push(Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: vec2(0.0, if frame % 80 < 40 { -120.0 } else { 120.0 }),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: Default::default(),
        });
    }
    events
}

/// Frame times with a code page open and with a comparison open.
pub fn inspect_frames() {
    println!(
        "\nInspecting at scale ({ITEMS} gallery items per model, {CODES} codes; window {}x{} pt: the map panel + the tab; {FRAMES} frames sweeping and scrolling, paced at 30 fps; UI thread = egui run + tessellation):",
        SCREEN[0], SCREEN[1]
    );
    let mut rng = Lcg(137);
    let codes_a = item_codes(&mut rng);
    let codes_b = item_codes(&mut rng);
    let summary_a = summary(&codes_a, "bench");
    let (page, page_ms) = code_page(&summary_a, &mut rng);
    let (view, align_ms) = comparison(&summary_a, &codes_b, &mut rng);
    println!(
        "  worker: page of code {PAGE_CODE} over the gallery {page_ms:.1} ms; B's map laid onto A's ({ITEMS} pairs) {align_ms:.1} ms"
    );

    let ctx = egui::Context::default();
    let mut settings = Settings::default();
    let mut session = Session::default();
    session.loaded(summary_a, &mut settings);
    session.selected_code = Some(PAGE_CODE);
    session.code_pages.open(PAGE_CODE);
    let _ = session.code_pages.next_job();
    session.code_pages.received(page);
    session.compare.compared(view);
    assert!(
        matches!(session.code_pages.state(), PageState::Ready(_)),
        "the page is shown, not a spinner"
    );
    let mut w = Window {
        media: MediaCache::new(&ctx),
        map: MapCanvas::new(&ctx),
        compare_maps: [MapCanvas::new(&ctx), MapCanvas::new(&ctx)],
        ctx,
        session,
        settings,
        typed_code: String::new(),
    };
    for (tab, name) in [
        (Tab::CodePage, "code page open"),
        (Tab::Compare, "comparison open"),
    ] {
        // Let the maps' first images arrive before timing.
        let warm = Instant::now();
        while warm.elapsed() < Duration::from_secs(3) {
            w.frame(tab, vec![]);
            std::thread::sleep(FRAME_BUDGET);
        }
        assert!(
            w.map.items_in_view().is_some(),
            "the map panel shows an image of the gallery"
        );
        if let Tab::Compare = tab {
            assert!(
                w.compare_maps.iter().all(|m| m.items_in_view().is_some()),
                "both compared maps show an image"
            );
        }
        let mut ms = Vec::with_capacity(FRAMES);
        for f in 0..FRAMES {
            let t = Instant::now();
            ms.push(w.frame(tab, gesture(f)));
            std::thread::sleep(FRAME_BUDGET.saturating_sub(t.elapsed()));
        }
        let frames = Latency::of(ms);
        println!(
            "  {name:<16} frame {frames} (target p95 <= {P95_TARGET_MS} ms: {})",
            if frames.p95_ms <= P95_TARGET_MS {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}
