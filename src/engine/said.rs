//! What a device's message is, read once from its header, and the one rule of trust: a
//! message whose sign does not verify came from a connection the gate logged in (so the
//! device is who it says), but its content proves nothing. Such a message is answered
//! when it is part of the session (so that the firmware stays bound) and changes nothing.

use super::namespaces::*;
use crate::protocol::{Header, Method};

/// What a device said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Said {
    /// An answer (GETACK, SETACK, ERROR...) to a request, ours or an app's.
    Answer,
    /// `SET Bind`: answered with a SETACK, or current firmware drops the session.
    Bind,
    /// `PUSH Clock`: answered with the time.
    Clock,
    /// `PUSH ConsumptionConfig`: answered with its echo.
    ConsumptionConfig,
    /// `PUSH Report`: kept as it came.
    Report,
    /// `PUSH` or `SET Unbind`: the device was reset; a SET is acknowledged.
    Unbind { acknowledge: bool },
    /// Any other `PUSH`: state to take.
    State,
    /// Anything else (a device asking us for something we do not serve).
    Other,
}

impl Said {
    /// Reads what a message is from its header.
    pub(super) fn of(header: &Header) -> Said {
        match (header.method, header.namespace.as_str()) {
            (method, _) if method.is_reply() => Said::Answer,
            (Method::Set, NS_BIND) => Said::Bind,
            (Method::Push, NS_CLOCK) => Said::Clock,
            (Method::Push, NS_CONSUMPTION_CONFIG) => Said::ConsumptionConfig,
            (Method::Push, NS_REPORT) => Said::Report,
            (Method::Push, NS_UNBIND) => Said::Unbind { acknowledge: false },
            (Method::Set, NS_UNBIND) => Said::Unbind { acknowledge: true },
            (Method::Push, _) => Said::State,
            _ => Said::Other,
        }
    }

    /// What the engine does with it when its sign does not verify.
    pub(super) fn unverified(self) -> Unverified {
        match self {
            Said::Bind | Said::Clock | Said::ConsumptionConfig => Unverified::AnswerOnly,
            Said::Report => Unverified::Ignore,
            _ => Unverified::Drop,
        }
    }
}

/// The fate of a message whose sign does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unverified {
    /// Answered as the session needs, and nothing taken from it.
    AnswerOnly,
    /// Noted as a sign that the device is alive, and nothing more.
    Ignore,
    /// Not even that.
    Drop,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(method: Method, namespace: &str) -> Header {
        Header::new(method, namespace, "/cloud", "key")
    }

    #[test]
    fn a_message_is_read_from_its_method_and_namespace() {
        assert_eq!(Said::of(&header(Method::Set, NS_BIND)), Said::Bind);
        assert_eq!(Said::of(&header(Method::SetAck, NS_BIND)), Said::Answer);
        assert_eq!(Said::of(&header(Method::Push, NS_TOGGLEX)), Said::State);
        assert_eq!(Said::of(&header(Method::Get, NS_TOGGLEX)), Said::Other);
        assert_eq!(
            Said::of(&header(Method::Set, NS_UNBIND)),
            Said::Unbind { acknowledge: true }
        );
    }

    #[test]
    fn an_unverified_message_keeps_only_the_session_alive() {
        assert_eq!(Said::Bind.unverified(), Unverified::AnswerOnly);
        assert_eq!(Said::Clock.unverified(), Unverified::AnswerOnly);
        assert_eq!(Said::State.unverified(), Unverified::Drop);
        assert_eq!(Said::Answer.unverified(), Unverified::Drop);
        assert_eq!(
            Said::Unbind { acknowledge: true }.unverified(),
            Unverified::Drop
        );
    }
}
