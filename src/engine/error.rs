//! Why a request to a device failed.

use crate::broker::LinkClosed;
use crate::protocol::Message;
use std::time::Duration;

/// Why a request got no good answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// No device with this uuid is known.
    #[error("no device with uuid {0}")]
    UnknownDevice(String),
    /// The device (this uuid) is not connected.
    #[error("device {0} is offline")]
    Offline(String),
    /// No reply came within the given time (counted in `request_timeouts`).
    #[error("device did not answer within {0:?}")]
    Timeout(Duration),
    /// The device replied with method `ERROR`.
    #[error("device answered ERROR {code:?}")]
    DeviceError {
        /// The payload's `error.code`, when it has one.
        code: Option<i64>,
        /// The whole `ERROR` reply.
        reply: Box<Message>,
    },
    /// The daemon is stopping: the router link or the wait for the reply closed.
    #[error("the daemon is stopping")]
    Closed,
    /// A later switch command for the same channel took this one's place.
    #[error("a later command for the same channel replaced this one")]
    Superseded,
    /// The device cannot do what was asked (a channel it does not have, say).
    #[error("{0}")]
    Unsupported(String),
    /// A value of the command is out of range or malformed.
    #[error("`{field}`: {detail}")]
    Invalid {
        /// The command's field, as the API names it.
        field: &'static str,
        /// What is wrong and what would be right.
        detail: String,
    },
}

impl From<LinkClosed> for RequestError {
    fn from(_: LinkClosed) -> Self {
        RequestError::Closed
    }
}
