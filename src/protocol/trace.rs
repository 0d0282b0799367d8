//! A protocol trace's rows, in the tab-separated format of the recorded devices in
//! `tests/fixtures/device-traces` (meross_lan's): `time`, `rxtx`, `protocol`, `method`,
//! `namespace`, `data`, so that a trace a user records can become a fixture and a
//! `merossd sim --trace` device as it is.

use super::moko::MokoTopic;
use super::Message;
use serde_json::Value;

/// One message to or from a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// When, epoch seconds.
    pub at: u64,
    /// From the device (`RX`) or to it (`TX`).
    pub rx: bool,
    /// `mqtt` for a Meross message, `moko` for a MOKO plug's topic.
    pub protocol: &'static str,
    /// The header's method (`GETACK`, `PUSH`, ...); `PUBLISH` for a MOKO message.
    pub method: String,
    /// The header's namespace; a MOKO message's `<what>`.
    pub namespace: String,
    /// The payload (a MOKO payload that is not JSON: as a string).
    pub data: Value,
}

impl Row {
    /// The row of a message on `topic`, or `None` if it is neither a Meross message nor a
    /// MOKO topic.
    pub fn of(at: u64, rx: bool, topic: &str, payload: &[u8]) -> Option<Row> {
        if let Some(moko) = MokoTopic::parse(topic) {
            let data = serde_json::from_slice(payload)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));
            return Some(Row {
                at,
                rx,
                protocol: "moko",
                method: "PUBLISH".to_owned(),
                namespace: moko.what.to_owned(),
                data,
            });
        }
        let message = Message::parse(payload).ok()?;
        Some(Row {
            at,
            rx,
            protocol: "mqtt",
            method: message.header.method.to_string(),
            namespace: message.header.namespace,
            data: message.payload,
        })
    }

    /// The row as a line of the trace file, with its newline. Tabs and newlines inside a
    /// value cannot break it: the data is JSON on one line, the rest is ours.
    pub fn line(&self) -> String {
        let time = jiff::Timestamp::from_second(i64::try_from(self.at).unwrap_or(0))
            .map(|t| t.strftime("%Y/%m/%d - %H:%M:%S").to_string())
            .unwrap_or_default();
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        format!(
            "{time}\t{}\t{}\t{}\t{}\t{}\n",
            if self.rx { "RX" } else { "TX" },
            self.protocol,
            clean(&self.method),
            clean(&self.namespace),
            self.data
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Method;
    use serde_json::json;

    #[test]
    fn a_meross_message_becomes_a_fixture_line() {
        let m = Message::new(
            Method::GetAck,
            "Appliance.System.Runtime",
            json!({"runtime": {"signal": 80}}),
            "/appliance/x/publish",
            "k",
        );
        let row = Row::of(1_644_417_322, true, "/appliance/x/publish", &m.to_bytes()).unwrap();
        assert_eq!(
            row.line(),
            "2022/02/09 - 14:35:22\tRX\tmqtt\tGETACK\tAppliance.System.Runtime\t{\"runtime\":{\"signal\":80}}\n"
        );
    }

    #[test]
    fn a_moko_message_keeps_its_what_and_bytes_that_are_not_json() {
        let topic = "iot_plug/plug_one/us/11:22:33:44:55:66/app/switch_state";
        let row = Row::of(0, false, topic, b"on\t").unwrap();
        assert_eq!(
            (row.protocol, row.namespace.as_str()),
            ("moko", "switch_state")
        );
        assert_eq!(row.data, json!("on\t"));
        assert!(row.line().ends_with("\"on\\t\"\n"));
        assert!(Row::of(0, true, "/appliance/x/publish", b"not json").is_none());
    }
}
