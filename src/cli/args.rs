//! Parsing the command line, with the global options described once: in `merossd --help`.
//!
//! The options every command takes (`--config`, `--log-level`, ...) are clap globals, so
//! they are accepted before or after the subcommand. Left alone, clap lists them again in
//! every subcommand's help, where they bury the few options that subcommand has; here each
//! subcommand gets a hidden copy instead, and a line pointing to the top-level help.

use super::Cli;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

/// The line under every subcommand's help.
const GLOBALS_HINT: &str = "Global options (--config, --data-dir, --url, --token, --log-level, \
                            --log-format) are accepted too: see `merossd --help`.";

/// The command line as clap sees it, global options hidden below the top level.
pub fn command() -> clap::Command {
    let top = Cli::command();
    let globals: Vec<clap::Arg> = top
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    let names: Vec<String> = top
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.into_iter().fold(top, |top, name| {
        top.mut_subcommand(name, |sub| hide_globals(sub, &globals))
    })
}

/// A subcommand (and its own subcommands) with hidden copies of the global options: clap
/// propagates a global only where no argument of that id exists yet.
fn hide_globals(sub: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    let sub = globals
        .iter()
        .fold(sub, |sub, a| sub.arg(a.clone().hide(true)))
        .after_help(GLOBALS_HINT);
    let names: Vec<String> = sub
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.into_iter().fold(sub, |sub, name| {
        sub.mut_subcommand(name, |inner| hide_globals(inner, globals))
    })
}

/// Parses these arguments (the first is the program's name); on a mistake, or for `--help`
/// and `--version`, clap's error or text is returned.
pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command();
    let matches: ArgMatches = cmd.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// Parses the process's arguments, or prints clap's text and exits as clap does.
pub fn parse() -> Cli {
    try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(args: &[&str]) -> String {
        match try_parse_from(args.iter().copied()) {
            Ok(_) => panic!("{args:?} parsed instead of printing help"),
            Err(e) => e.render().to_string(),
        }
    }

    #[test]
    fn global_options_are_listed_once_at_the_top() {
        let top = help(&["merossd", "--help"]);
        assert!(top.contains("--log-level"), "{top}");
        let serve = help(&["merossd", "serve", "--help"]);
        assert!(!serve.contains("--log-level <"), "{serve}");
        assert!(serve.contains("see `merossd --help`"), "{serve}");
    }

    #[test]
    fn global_options_still_work_after_the_subcommand() {
        let cli = try_parse_from([
            "merossd",
            "serve",
            "--config",
            "/x.toml",
            "--log-level",
            "debug",
        ])
        .expect("parses");
        assert_eq!(cli.config.as_deref(), Some(std::path::Path::new("/x.toml")));
        assert!(cli.log_level.is_some());
        let before = try_parse_from(["merossd", "--data-dir", "/d", "devices"]).expect("parses");
        assert_eq!(before.data_dir.as_deref(), Some(std::path::Path::new("/d")));
    }
}
