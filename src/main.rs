use clap::Parser;
use merossd::cli::Cli;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                // rumqttd logs every ordinary disconnect at ERROR; the gate counts and logs
                // what matters about connections. `RUST_LOG=info,rumqttd=debug` shows it.
                .unwrap_or_else(|_| EnvFilter::new("info,rumqttd=off")),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: not in files or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = cli.run().await {
        eprintln!("merossd: {e}");
        std::process::exit(e.exit_code());
    }
}
