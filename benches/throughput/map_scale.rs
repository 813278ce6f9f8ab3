//! The map at scale (issue 10): the UI-thread cost of a map frame while the view pans and
//! zooms, at 100k and 1M gallery points (the map panel run headlessly in an egui context,
//! tessellation included, frames paced at 30 per second so the rasteriser thread's images
//! arrive and are uploaded between them); the rasteriser's time per view; and the time from
//! opening a 1M x 256 vectors-only bundle (`transference import` of random unit vectors) to
//! the first map frame and to the first map image, phase by phase.

use std::path::Path;
use std::time::{Duration, Instant};

use egui::{Event, Pos2, RawInput, Rect, vec2};
use transference::engine::{GalleryPoint, ModelSummary};
use transference::modality::Modality;
use transference::ui::frame_view::FrameView;
use transference::ui::map_canvas::MapCanvas;
use transference::ui::map_panel;
use transference::ui::media::MediaCache;
use transference::ui::session::Session;
use transference::ui::state::Settings;

use super::Latency;

/// Window the map is drawn in, in points.
const SCREEN: [f32; 2] = [900.0, 640.0];
/// Frames timed per gallery size.
const FRAMES: usize = 120;
/// Frame pacing: 30 frames per second.
const FRAME_BUDGET: Duration = Duration::from_millis(33);

/// A summary of `n` gallery points in 12 Gaussian blobs (2-D positions only).
pub fn summary(n: usize) -> ModelSummary {
    let mut state = 99u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 40) as f32 + 0.5) / (1u64 << 24) as f32
    };
    let gallery = (0..n)
        .map(|i| {
            let blob = (i % 12) as f32;
            let (r, a) = (
                (-2.0 * uniform().ln()).sqrt(),
                uniform() * std::f32::consts::TAU,
            );
            GalleryPoint {
                index: i,
                modality: if i % 3 == 0 {
                    Modality::Audio
                } else {
                    Modality::Image
                },
                label: Some(format!("class {}", i % 12)),
                source: format!("item {i}"),
                text: None,
                media: None,
                xy: [
                    (blob * 0.52).cos() * 4.0 + r * a.cos() * 0.6,
                    (blob * 0.52).sin() * 4.0 + r * a.sin() * 0.6,
                ],
                codes: vec![],
            }
        })
        .collect();
    ModelSummary {
        dir: format!("bench-map-{n}").into(),
        name: "bench".into(),
        d_model: 2,
        temperature: 0.07,
        device: "cpu".into(),
        gallery,
        ..Default::default()
    }
}

/// One headless frame of `ctx` in a `screen`-sized window, drawn by `draw` with `events`: its
/// UI-thread time (egui run + tessellation) in milliseconds. There is no renderer: the image
/// uploads (what the GPU side would take) are dropped.
pub fn timed_frame(
    ctx: &egui::Context,
    screen: [f32; 2],
    events: Vec<Event>,
    draw: impl FnMut(&mut egui::Ui),
) -> f64 {
    let input = RawInput {
        screen_rect: Some(Rect::from_min_size(Pos2::ZERO, vec2(screen[0], screen[1]))),
        events,
        ..Default::default()
    };
    let t = Instant::now();
    let out = ctx.run_ui(input, draw);
    let _ = ctx.tessellate(out.shapes, out.pixels_per_point);
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut textures = out.textures_delta;
    textures.clear();
    ms
}

/// The map panel in a headless egui context.
struct Headless {
    ctx: egui::Context,
    session: Session,
    settings: Settings,
    media: MediaCache,
    canvas: MapCanvas,
}

impl Headless {
    fn new(summary: ModelSummary) -> Self {
        let ctx = egui::Context::default();
        let mut settings = Settings::default();
        let mut session = Session::default();
        session.loaded(summary, &mut settings);
        Headless {
            media: MediaCache::new(&ctx),
            canvas: MapCanvas::new(&ctx),
            ctx,
            session,
            settings,
        }
    }

    /// One frame with `events`; its UI-thread time (run + tessellation) in milliseconds.
    fn frame(&mut self, events: Vec<Event>) -> f64 {
        timed_frame(&self.ctx, SCREEN, events, |ui| {
            let mut commands = Vec::new();
            map_panel::show(
                ui,
                &self.session,
                &FrameView::default(),
                &mut self.settings,
                &mut self.media,
                &mut self.canvas,
                &mut commands,
            );
        })
    }

    /// Frames until the map shows an image made for the current scene (at most `limit`).
    fn until_image(&mut self, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        while t.elapsed() < limit {
            self.frame(vec![]);
            if self.canvas.items_in_view().is_some() {
                return Some(t.elapsed());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }
}

/// Pan (drag) then zoom in and out around the centre, one step per frame.
fn gesture(frame: usize) -> Vec<Event> {
    let centre = Pos2::new(SCREEN[0] / 2.0, SCREEN[1] / 2.0 + 40.0);
    let phase = frame % 60;
    let drag_x = centre.x + (phase.min(30) as f32) * 6.0;
    let button = |pressed| Event::PointerButton {
        pos: Pos2::new(drag_x, centre.y),
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: Default::default(),
    };
    match phase {
        0 => vec![
            Event::PointerMoved(Pos2::new(drag_x, centre.y)),
            button(true),
        ],
        1..=29 => vec![Event::PointerMoved(Pos2::new(drag_x, centre.y))],
        30 => vec![button(false)],
        31..=44 => vec![Event::PointerMoved(centre), Event::Zoom(1.06)],
        _ => vec![Event::PointerMoved(centre), Event::Zoom(1.0 / 1.06)],
    }
}

/// Map frame time while panning and zooming, and the rasteriser's time per view.
pub fn map_frames() {
    println!(
        "\nMap at scale ({FRAMES} frames panning and zooming, paced at 30 fps; UI thread = egui run + tessellation):"
    );
    for n in [100_000usize, 1_000_000] {
        let mut h = Headless::new(summary(n));
        let first = h.frame(vec![]);
        let first_image = h.until_image(Duration::from_secs(120));
        let mut ms = Vec::with_capacity(FRAMES);
        let mut images = 0;
        let mut last_in_view = None;
        for f in 0..FRAMES {
            let t = Instant::now();
            ms.push(h.frame(gesture(f)));
            let in_view = h.canvas.items_in_view();
            if in_view.is_some() && in_view != last_in_view {
                images += 1;
            }
            last_in_view = in_view;
            std::thread::sleep(FRAME_BUDGET.saturating_sub(t.elapsed()));
        }
        let frames = Latency::of(ms);
        println!(
            "  {n:>9} points: frame {frames}; first frame (scene + grid build) {first:.1} ms; first image after {}; new images shown during the gesture: {images}",
            first_image.map_or("(none in 120 s)".to_string(), |d| format!(
                "{:.0} ms",
                d.as_secs_f64() * 1000.0
            ))
        );
        // The rasteriser's own time for one view of the whole map, at 1x and 2x pixels.
        let xy: Vec<[f32; 2]> = h
            .session
            .summary
            .as_ref()
            .unwrap()
            .gallery
            .iter()
            .map(|p| p.xy)
            .collect();
        use transference::ui::map_raster::{MapScene, RasterView, rasterize};
        let scene = MapScene {
            xy: std::sync::Arc::new(xy),
            paint: (0..n).map(|i| 1 + (i % 12) as u16).collect(),
            palette: std::iter::once((egui::Color32::GRAY, 2.5))
                .chain((0..12).map(|i| (transference::ui::theme::class_color(i), 3.5)))
                .collect(),
            rings: vec![],
            generation: 1,
        };
        for ppp in [1.0f32, 2.0] {
            let view = RasterView {
                min: [-6.0, -6.0],
                max: [6.0, 6.0],
                width_px: (560.0 * ppp) as usize,
                height_px: (560.0 * ppp) as usize,
                pixels_per_point: ppp,
            };
            let raster = super::time_ms(5, || rasterize(&scene, view));
            println!(
                "  {n:>9} points: raster of a {}x{} px view (rasteriser thread): {raster}",
                view.width_px, view.height_px
            );
        }
    }
}

/// Time from opening a 1M x 256 vectors-only bundle to the first map frame and image.
pub fn open_to_first_frame(tmp: &Path, n: usize) {
    use transference::bundle::import::{ImportRequest, arrays::write_npy, import};
    use transference::device::DeviceRequest;
    use transference::engine::Pipeline;
    use transference::engine::summary::summarize;
    let d = 256;
    let dir = tmp.join(format!("open-{n}"));
    std::fs::create_dir_all(&dir).unwrap();
    let npy = dir.join("embeddings.npy");
    write_npy(&npy, &super::random_unit_rows(n, d, 5), n, d).unwrap();
    let out = dir.join("bundle");
    let t = Instant::now();
    import(&ImportRequest {
        embeddings: npy,
        metadata: None,
        codes: None,
        codebook: None,
        codebook_size: None,
        default_modality: Modality::Image,
        name: None,
        out: out.clone(),
    })
    .expect("import");
    println!(
        "\nOpening a {n} x {d} vectors-only bundle in the window (import took {:.1} s, not counted):",
        t.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let pipeline = Pipeline::open(&out, DeviceRequest::Cpu).expect("open");
    let open_s = t0.elapsed().as_secs_f64();
    let t = Instant::now();
    let (summary, _pca) = summarize(&pipeline, open_s * 1000.0);
    let summary_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut h = Headless::new(summary);
    let loaded_s = t.elapsed().as_secs_f64();
    let first_ms = h.frame(vec![]);
    let to_frame_s = t0.elapsed().as_secs_f64();
    let image = h.until_image(Duration::from_secs(300));
    println!(
        "  bundle open (manifest, items.json, mapped rows) {open_s:.2} s; summary (PCA + map points) {summary_s:.2} s; session load {loaded_s:.2} s; first map frame {first_ms:.0} ms"
    );
    println!(
        "  open -> first map frame {to_frame_s:.2} s; -> first map image {}",
        image.map_or("(none)".to_string(), |d| format!(
            "{:.2} s",
            to_frame_s + d.as_secs_f64()
        ))
    );
    let _ = std::fs::remove_dir_all(&dir);
}
