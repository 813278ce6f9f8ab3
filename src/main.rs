use clap::Parser;

/// Log filter when `RUST_LOG` is unset: warnings, and the progress lines of `transference data`.
/// wgpu's platform layer logs every backend it fails to open while probing for a GPU (EGL on a
/// machine without one); the device choice itself is reported by the commands and the window.
const DEFAULT_LOG_FILTER: &str = "warn,wgpu_hal=off,transference::train::data=info";

fn main() {
    if let Some(dir) = transference::device::runtime_dir_fallback() {
        // SAFETY: no other thread exists yet; nothing reads the environment concurrently.
        unsafe { std::env::set_var(transference::device::RUNTIME_DIR_VAR, dir) };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = transference::cli::Cli::parse();
    let code = match cli.command {
        Some(_) => transference::cli::run(cli),
        None => transference::app::run_window(cli.model, cli.device, cli.lessons),
    };
    std::process::exit(code);
}
