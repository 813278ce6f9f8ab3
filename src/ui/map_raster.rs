//! Rasterising the map's gallery points off the UI thread: a [`MapScene`] (every item's map
//! position and palette entry, plus sets of items drawn again as rings) and a [`RasterView`]
//! (the map rectangle and its size in pixels) go in, an RGBA image made for that view comes
//! out. [`Rasterizer`] runs [`rasterize`] on its own thread, always on the newest request, and
//! asks egui for a repaint when an image is ready. Plain data in and out; no egui state.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender, unbounded};
use egui::{Color32, ColorImage};

/// Palette entry drawn underneath every other one (items hidden by the filter).
pub const BEHIND: u16 = 0;

/// What the map draws for its gallery items.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapScene {
    /// Map coordinates of every gallery item.
    pub xy: Arc<Vec<[f32; 2]>>,
    /// Palette entry of every gallery item; [`BEHIND`] items are drawn first.
    pub paint: Vec<u16>,
    /// Colour and disc radius (points) of each palette entry.
    pub palette: Vec<(Color32, f32)>,
    /// Items drawn again on top as rings: their indices, colour and radius (points).
    pub rings: Vec<(Vec<u32>, Color32, f32)>,
    /// Changes whenever anything above changes.
    pub generation: u64,
}

/// The part of the map an image covers and its size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RasterView {
    /// Map coordinates of the lower-left and upper-right corners.
    pub min: [f64; 2],
    pub max: [f64; 2],
    /// Image size in pixels.
    pub width_px: usize,
    pub height_px: usize,
    /// Pixels per egui point (radii are in points).
    pub pixels_per_point: f32,
}

impl RasterView {
    /// Pixel position of map point `p` (x right, y down), not clipped.
    fn pixel_of(self, p: [f32; 2]) -> (f32, f32) {
        let sx = self.width_px as f64 / (self.max[0] - self.min[0]);
        let sy = self.height_px as f64 / (self.max[1] - self.min[1]);
        (
            ((f64::from(p[0]) - self.min[0]) * sx) as f32,
            ((self.max[1] - f64::from(p[1])) * sy) as f32,
        )
    }
}

/// An image of a scene at a view.
#[derive(Clone, Debug)]
pub struct Raster {
    pub view: RasterView,
    /// [`MapScene::generation`] it was made from.
    pub generation: u64,
    /// Items whose position lies inside the view.
    pub items_in_view: usize,
    pub image: ColorImage,
}

/// A mark as pixel row spans `(dy, dx_from, dx_to)` (inclusive) around its centre: a disc
/// (`ring == false`) or a ring 1.5 pixels wide, of radius `radius_px`.
type Stamp = Vec<(i32, i32, i32)>;

fn stamp(radius_px: f32, ring: bool) -> Stamp {
    let r = radius_px.max(0.5);
    let reach = r.ceil() as i32 + 1;
    let inner = if ring { (r - 1.5).max(0.0) } else { -1.0 };
    let mut spans: Stamp = Vec::new();
    for dy in -reach..=reach {
        for dx in -reach..=reach {
            let d = ((dx * dx + dy * dy) as f32).sqrt();
            if d <= r && d > inner {
                match spans.last_mut() {
                    Some((y, _, to)) if *y == dy && *to == dx - 1 => *to = dx,
                    _ => spans.push((dy, dx, dx)),
                }
            }
        }
    }
    spans
}

/// Draws one mark at pixel `(x, y)`, clipped to the image.
fn put(image: &mut ColorImage, spans: &[(i32, i32, i32)], (x, y): (f32, f32), color: Color32) {
    let [w, h] = image.size;
    let (cx, cy) = (x as i32, y as i32);
    for &(dy, from, to) in spans {
        let py = cy + dy;
        let (a, b) = ((cx + from).max(0), (cx + to).min(w as i32 - 1));
        if py < 0 || py >= h as i32 || a > b {
            continue;
        }
        let row = py as usize * w;
        image.pixels[row + a as usize..=row + b as usize].fill(color);
    }
}

/// No item in this pixel.
const EMPTY: u16 = u16::MAX;

/// Draws `scene` at `view`: [`BEHIND`] items, then the others, then the rings. Items are
/// first binned by pixel (one item's palette entry per pixel; one that is not [`BEHIND`]
/// wins), then each occupied pixel stamps its mark, so a million items cost one pass over
/// them plus one mark per occupied pixel.
pub fn rasterize(scene: &MapScene, view: RasterView) -> Raster {
    let (w, h) = (view.width_px, view.height_px);
    let mut image = ColorImage::filled([w, h], Color32::TRANSPARENT);
    let sx = (w as f64 / (view.max[0] - view.min[0])) as f32;
    let sy = (h as f64 / (view.max[1] - view.min[1])) as f32;
    let (x0, y1) = (view.min[0] as f32, view.max[1] as f32);
    let mut top = vec![EMPTY; w * h];
    let mut items_in_view = 0;
    for (p, &paint) in scene.xy.iter().zip(&scene.paint) {
        let (x, y) = ((p[0] - x0) * sx, (y1 - p[1]) * sy);
        // Also false for NaN.
        if !(x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32) {
            continue;
        }
        items_in_view += 1;
        let cell = &mut top[y as usize * w + x as usize];
        if *cell == EMPTY || paint != BEHIND {
            *cell = paint;
        }
    }
    let stamps: Vec<Stamp> = scene
        .palette
        .iter()
        .map(|(_, r)| stamp(r * view.pixels_per_point, false))
        .collect();
    for behind in [true, false] {
        for (i, &paint) in top.iter().enumerate() {
            if paint == EMPTY || (paint == BEHIND) != behind {
                continue;
            }
            if let (Some((color, _)), Some(offsets)) = (
                scene.palette.get(paint as usize),
                stamps.get(paint as usize),
            ) {
                let at = ((i % w) as f32, (i / w) as f32);
                put(&mut image, offsets, at, *color);
            }
        }
    }
    for (items, color, radius) in &scene.rings {
        let offsets = stamp(radius * view.pixels_per_point, true);
        for &i in items {
            if let Some(p) = scene.xy.get(i as usize) {
                put(&mut image, &offsets, view.pixel_of(*p), *color);
            }
        }
    }
    Raster {
        view,
        generation: scene.generation,
        items_in_view,
        image,
    }
}

/// A thread that rasterises the newest requested view and hands the images back.
pub struct Rasterizer {
    requests: Sender<(Arc<MapScene>, RasterView)>,
    rasters: Receiver<Raster>,
}

impl Rasterizer {
    /// Starts the thread; it asks `ctx` to repaint whenever an image is ready and ends when
    /// the rasteriser is dropped.
    pub fn new(ctx: egui::Context) -> Self {
        let (requests, jobs) = unbounded::<(Arc<MapScene>, RasterView)>();
        let (done, rasters) = unbounded();
        std::thread::Builder::new()
            .name("map-raster".into())
            .spawn(move || {
                while let Ok(mut job) = jobs.recv() {
                    // Only the newest view matters.
                    while let Ok(newer) = jobs.try_recv() {
                        job = newer;
                    }
                    if done.send(rasterize(&job.0, job.1)).is_err() {
                        break;
                    }
                    ctx.request_repaint();
                }
            })
            .expect("spawn the map rasteriser thread");
        Rasterizer { requests, rasters }
    }

    /// Asks for `scene` at `view` (an older request not yet started is skipped).
    pub fn request(&self, scene: Arc<MapScene>, view: RasterView) {
        // The thread only stops when `self` is dropped, so sending cannot fail here.
        let _ = self.requests.send((scene, view));
    }

    /// The newest finished image, if any arrived since the last call.
    pub fn poll(&self) -> Option<Raster> {
        self.rasters.try_iter().last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(w: usize, h: usize) -> RasterView {
        RasterView {
            min: [0.0, 0.0],
            max: [10.0, 10.0],
            width_px: w,
            height_px: h,
            pixels_per_point: 1.0,
        }
    }

    fn scene(xy: Vec<[f32; 2]>, paint: Vec<u16>) -> MapScene {
        MapScene {
            xy: Arc::new(xy),
            paint,
            palette: vec![(Color32::GRAY, 1.0), (Color32::RED, 1.0)],
            rings: vec![],
            generation: 3,
        }
    }

    #[test]
    fn points_land_where_the_view_puts_them_and_outside_ones_are_skipped() {
        // x = 2.5 of 0..10 over 100 px → column 25; y = 7.5 (up) → row 25 (down).
        let s = scene(vec![[2.5, 7.5], [20.0, 5.0]], vec![1, 1]);
        let r = rasterize(&s, view(100, 100));
        assert_eq!(r.items_in_view, 1);
        assert_eq!(r.generation, 3);
        assert_eq!(r.image.pixels[25 * 100 + 25], Color32::RED);
        assert_eq!(r.image.pixels[75 * 100 + 75], Color32::TRANSPARENT);
    }

    #[test]
    fn filtered_out_items_are_drawn_underneath_the_others() {
        // Same place: the coloured item wins although the faint one comes later.
        let s = scene(vec![[5.0, 5.0], [5.0, 5.0]], vec![1, BEHIND]);
        let r = rasterize(&s, view(20, 20));
        assert_eq!(r.image.pixels[10 * 20 + 10], Color32::RED);
    }

    #[test]
    fn rings_leave_their_centre_alone() {
        let mut s = scene(vec![[5.0, 5.0]], vec![1]);
        s.rings.push((vec![0], Color32::GREEN, 5.0));
        let r = rasterize(&s, view(40, 40));
        assert_eq!(r.image.pixels[20 * 40 + 20], Color32::RED);
        assert_eq!(r.image.pixels[20 * 40 + 25], Color32::GREEN);
    }

    #[test]
    fn the_thread_answers_the_newest_request() {
        let r = Rasterizer::new(egui::Context::default());
        let s = Arc::new(scene(vec![[5.0, 5.0]], vec![1]));
        r.request(s.clone(), view(8, 8));
        r.request(s, view(16, 16));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut last = None;
        while std::time::Instant::now() < deadline {
            if let Some(raster) = r.poll() {
                last = Some(raster.view.width_px);
                if raster.view.width_px == 16 {
                    break;
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(last, Some(16));
    }
}
