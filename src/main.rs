use clap::Parser;

/// Log filter when `RUST_LOG` is unset: warnings, and the progress lines of `transference data`.
const DEFAULT_LOG_FILTER: &str = "warn,transference::train::data=info";

fn main() {
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
