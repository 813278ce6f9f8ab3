use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = transference::cli::Cli::parse();
    let code = match cli.command {
        Some(_) => transference::cli::run(cli),
        None => transference::app::run_window(cli.model, cli.device),
    };
    std::process::exit(code);
}
