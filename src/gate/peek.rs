//! A look at a Meross message's header as it passes the gate, without reading the rest:
//! where a request wants its answer (`from`), its method, and the device it names.

use std::borrow::Cow;

/// The header fields the gate reads; absent ones are empty.
#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct Head<'a> {
    #[serde(borrow, default)]
    pub from: Cow<'a, str>,
    #[serde(borrow, default)]
    pub method: Cow<'a, str>,
    #[serde(borrow, default)]
    pub uuid: Option<Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    header: Head<'a>,
}

/// The header of `payload`, if it is a Meross message.
pub(super) fn header(payload: &[u8]) -> Option<Head<'_>> {
    serde_json::from_slice::<Envelope>(payload)
        .ok()
        .map(|e| e.header)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_header_is_read_and_anything_else_is_none() {
        let raw = br#"{"header":{"from":"/app/1-x/subscribe","method":"GET","messageId":"a"},"payload":{}}"#;
        let head = super::header(raw).unwrap();
        assert_eq!(
            (head.from.as_ref(), head.method.as_ref()),
            ("/app/1-x/subscribe", "GET")
        );
        assert!(head.uuid.is_none());
        assert!(super::header(b"{not json").is_none());
    }
}
