mod common;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use transference::app::ExplorerApp;
use transference::device::DeviceRequest;
use transference::engine::InputSource;
use transference::ui::state::CentralTab;

#[derive(Debug)]
struct DroppedPath(PathBuf);
impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &Path { &self.0 }
    fn bytes(&self) -> Result<Vec<u8>, String> { std::fs::read(&self.0).map_err(|e| e.to_string()) }
}
type H = Harness<'static, Option<ExplorerApp>>;
fn settle(h: &mut H, secs: f64) {
    let t = Instant::now();
    while t.elapsed().as_secs_f64() < secs { h.step(); std::thread::sleep(Duration::from_millis(20)); }
}
fn save(h: &mut H, name: &str) {
    let img = h.render().unwrap();
    img.save(format!("/tmp/look_{name}.png")).unwrap();
}
#[test]
fn look() {
    let model = std::env::var("LOOK_MODEL").unwrap_or("/tmp/tiny_bundle".into());
    let dir = PathBuf::from(model);
    let mut h: H = Harness::builder().with_size(egui::vec2(1500.0, 950.0)).with_accessibility_check(false).build_ui_state(
        move |ui, app: &mut Option<ExplorerApp>| {
            app.get_or_insert_with(|| ExplorerApp::new(ui.ctx(), None, Some(dir.clone()), DeviceRequest::Cpu)).show(ui);
        }, None);
    settle(&mut h, 3.0);
    let inputs = std::env::var("LOOK_INPUTS").unwrap_or("/tmp/digit.png;/tmp/tone.wav;text:seven".into());
    for i in transference::app::parse_demo_inputs(&inputs) {
        h.state_mut().as_mut().unwrap().add_input(i);
    }
    settle(&mut h, 6.0);
    save(&mut h, "input");
    h.state_mut().as_mut().unwrap().settings_mut().tab = CentralTab::Transfer;
    settle(&mut h, 0.3);
    h.get_by_label("Fit").click();
    settle(&mut h, 5.0);
    save(&mut h, "transfer");
    // draw a 7
    let r = h.get_by_label("Drawing canvas").rect();
    let p = |x: f32, y: f32| egui::pos2(r.left() + x * r.width(), r.top() + y * r.height());
    h.hover_at(p(0.25, 0.25)); h.step();
    h.drag_at(p(0.25, 0.25)); h.step();
    for i in 0..=10 { h.hover_at(p(0.25 + 0.5 * i as f32 / 10.0, 0.25)); h.step(); }
    for i in 0..=10 { h.hover_at(p(0.75 - 0.3 * i as f32 / 10.0, 0.25 + 0.55 * i as f32 / 10.0)); h.step(); }
    h.drop_at(p(0.45, 0.8)); h.step();
    settle(&mut h, 3.0);
    save(&mut h, "drawing");
    std::fs::write("/tmp/bad.png", "nope").unwrap();
    h.input_mut().dropped_files.push(Arc::new(DroppedPath("/tmp/bad.png".into())));
    for _ in 0..20 { h.step(); std::thread::sleep(Duration::from_millis(30)); if !h.state().as_ref().unwrap().session().notifications.items().is_empty() { break; } }
    h.state_mut().as_mut().unwrap().settings_mut().tab = CentralTab::Model;
    h.step(); h.step();
    save(&mut h, "model");
    // scan the map for a gallery point
    h.state_mut().as_mut().unwrap().settings_mut().tab = CentralTab::Input;
    h.step();
    let map = h.state().as_ref().unwrap().session().chart_rects.map.unwrap();
    let mut found = None;
    'outer: for yi in 0..(map.height() as i32 / 5) {
        for xi in 0..(map.width() as i32 / 5) {
            let p = egui::pos2(map.left() + xi as f32 * 5.0, map.top() + yi as f32 * 5.0);
            h.hover_at(p);
            h.step();
            if h.query_all_by_label_contains("click to use as the query").next().is_some() {
                found = Some(p);
                break 'outer;
            }
        }
    }
    eprintln!("found map point at {found:?}");
    h.step();
    save(&mut h, "maphover");
    if let Some(p) = found {
        h.drag_at(p); h.step(); h.drop_at(p); h.step();
        settle(&mut h, 2.0);
        let n = h.state().as_ref().unwrap().session().inputs.len();
        eprintln!("inputs after map click: {n}; last = {}", h.state().as_ref().unwrap().session().inputs.last().unwrap().name);
        save(&mut h, "mapclick");
    }
    // hover a code cell
    let r = h.get_all_by_label_contains("code strip:").next().unwrap().rect();
    h.hover_at(r.left_top() + egui::vec2(10.0, 10.0));
    h.step(); h.step();
    save(&mut h, "codehover");
    h.input_mut().hovered_files.push(egui::HoveredFile { path: Some("/tmp/digit.png".into()), mime: String::new() });
    h.step(); h.step();
    save(&mut h, "hover");
    let _ = InputSource::Text(String::new());
}
