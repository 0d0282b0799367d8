//! What a device's MQTT client id says: `fmware:<uuid>_<random>`.

/// The device part of a client id: `fmware:<uuid>_<random>` -> `<uuid>`.
pub fn device_uuid(client_id: &str) -> Option<&str> {
    let rest = client_id.strip_prefix("fmware:")?;
    let uuid = rest.split('_').next().unwrap_or(rest);
    super::valid_uuid(uuid).then_some(uuid)
}
