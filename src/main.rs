use clap::Parser;
use tracing_subscriber::prelude::*;

/// Log filter when `RUST_LOG` is unset: warnings, and the progress lines of `transference data`.
/// wgpu's platform layer logs every backend it fails to open while probing for a GPU (EGL on a
/// machine without one); the device choice itself is reported by the commands and the window.
const DEFAULT_LOG_FILTER: &str = "warn,wgpu_hal=off,transference::train::data=info";

fn main() {
    if let Some(dir) = transference::device::runtime_dir_fallback() {
        // SAFETY: no other thread exists yet; nothing reads the environment concurrently.
        unsafe { std::env::set_var(transference::device::RUNTIME_DIR_VAR, dir) };
    }
    let cli = transference::cli::Cli::parse();
    // The window also keeps its log in a file, named when a failure is to be reported.
    let log_file = if cli.command.is_none() {
        dirs::state_dir()
            .or_else(dirs::data_dir)
            .map(|d| {
                d.join(transference::bundle::locate::APP_DIR_NAME)
                    .join(transference::log_file::LOG_FILE_NAME)
            })
            .and_then(|path| transference::log_file::start(&path).ok())
    } else {
        None
    };
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(log_file.map(|file| {
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
        }))
        .init();
    let code = match cli.command {
        Some(_) => transference::cli::run(cli),
        None => transference::app::run_window(cli.model, cli.device, cli.lessons),
    };
    std::process::exit(code);
}
