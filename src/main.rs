use clap::Parser;
use merossd::cli::Cli;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // A config that does not load is reported by `run` below; log with defaults till then.
    let log = cli.load_config().map(|c| c.log).unwrap_or_default();
    merossd::logging::init(&log);
    if let Err(e) = cli.run().await {
        eprintln!("merossd: {e}");
        std::process::exit(e.exit_code());
    }
}
