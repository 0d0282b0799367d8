#[tokio::main]
async fn main() {
    let cli = merossd::cli::args::parse();
    // A config that does not load is reported by `run` below; log with defaults till then.
    let log = cli.load_config().map(|c| c.log).unwrap_or_default();
    merossd::logging::init(&log);
    let code = match cli.run().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("merossd: {e}");
            e.exit_code()
        }
    };
    // Everything is written and the store closed by now: exit at once, without waiting
    // for the runtime to wind down threads that have nothing left to do (rumqttd's
    // router cannot be stopped at all).
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
