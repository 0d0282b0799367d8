//! What a command can fail with, and the exit code each deserves.

use crate::client::ClientError;
use crate::config::ConfigError;
use crate::daemon::StartError;

/// What went wrong, with the exit code it deserves.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A configuration that does not load, or a data directory in use (restore): exit code 2.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The daemon did not start: the exit code [`StartError::exit_code`] gives.
    #[error("{0}")]
    Start(#[from] StartError),
    /// A client command had no token, could not reach the API, or the API said no: exit code 1.
    #[error("{0}")]
    Client(#[from] ClientError),
    /// Anything else, said in one line: exit code 1.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// The process's exit code: 2 for a bad configuration (also one found at start), else 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => 2,
            CliError::Start(e) => e.exit_code(),
            CliError::Client(_) | CliError::Other(_) => 1,
        }
    }
}
