//! A MOKO plug's AP-mode provisioning (seeds/004, section 2): the headers of the three
//! messages, their fields, and what their answers' codes mean.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plug's address in AP mode.
pub const AP_ADDRESS: &str = "192.168.4.1:8266";
/// Who the plug is.
pub const DEVICE_INFO: u32 = 4001;
/// The MQTT server it is to dial.
pub const MQTT_SERVER: u32 = 4002;
/// The Wi-Fi it is to join.
pub const WIFI: u32 = 4003;
/// The most the plug's answers are read to (as the vendor's app reads them).
pub const MAX_ANSWER: usize = 1024;

/// What an answer's `code` means (the seed's table).
pub fn code_meaning(code: i64) -> &'static str {
    match code {
        0 => "success",
        1 => "the length does not meet the requirements",
        2 => "a data type does not meet the requirements",
        3 => "the MQTT settings must come before the Wi-Fi settings",
        4 => "the data is not JSON",
        5 => "the JSON is not one the plug knows",
        6 => "a value is out of range",
        _ => "a code the plug's documentation does not list",
    }
}

/// An answer: `{"code":0,"message":"success","result":{...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// 0 on success; see [`code_meaning`].
    pub code: i64,
    /// The plug's word for it.
    #[serde(default)]
    pub message: String,
    /// What it answers.
    #[serde(default)]
    pub result: Value,
}

/// 4001's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// `iot_plug`.
    pub device_function: String,
    /// `plug_one`.
    pub device_name: String,
    /// `us`, `eu`, ...
    pub device_specifications: String,
    /// `11:22:33:44:55:66`.
    pub device_mac: String,
    /// `"1"`: measures power; `"0"`: does not.
    #[serde(default)]
    pub device_type: String,
}

impl DeviceInfo {
    /// The plug's topic prefix: `<function>/<name>/<region>/<mac>`.
    pub fn prefix(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.device_function, self.device_name, self.device_specifications, self.device_mac
        )
    }
}

/// 4002: the MQTT server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MqttServer {
    /// [`MQTT_SERVER`].
    pub header: u32,
    /// 1 to 64 bytes.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// 0: plain TCP; 1: TLS.
    pub connect_mode: u8,
    /// 1 to 32 bytes.
    pub username: String,
    /// 1 to 32 bytes.
    pub password: String,
    /// 60 to 120 s.
    pub keepalive: u16,
    /// 0 to 2.
    pub qos: u8,
    /// 0 or 1.
    pub clean_session: u8,
}

/// 4003: the Wi-Fi.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wifi {
    /// [`WIFI`].
    pub header: u32,
    /// Not empty.
    pub wifi_ssid: String,
    /// Its password.
    pub wifi_pwd: String,
    /// OPEN 0, WEP 1, WPA_PSK 2, WPA2_PSK 3, WPA_WPA2_PSK 4.
    pub wifi_security: u8,
}
