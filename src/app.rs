//! The explorer window (eframe). Filled in by the UI modules.

use std::path::PathBuf;

use crate::device::DeviceRequest;

/// Opens the window on `model` (default: the bundled model). Returns the exit code.
pub fn run_window(model: Option<PathBuf>, device: DeviceRequest) -> i32 {
    let _ = (model, device);
    eprintln!("error: the explorer window is not built yet; use a subcommand (see --help)");
    2
}
