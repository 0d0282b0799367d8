//! The push bridge to app clients (MerossIot and the Meross app's way): every PUSH a device
//! sends is handed on to `/app/<userId>/subscribe` of its account as it came (its own
//! header and sign, `from` naming the device), and a device coming or going is told there
//! as `PUSH Appliance.System.Online`, as the Meross cloud does. On while the cloud API is.

use super::Engine;
use crate::protocol::{device_publish_topic, Message, Method};
use serde_json::json;
use tracing::debug;

const NS_ONLINE: &str = "Appliance.System.Online";

/// An account's push topic.
pub fn app_push_topic(user_id: &str) -> String {
    format!("/app/{user_id}/subscribe")
}

impl Engine {
    /// Turns the push bridge on (the cloud API is on).
    pub fn enable_push_bridge(&self) {
        self.shared
            .push_bridge
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn push_bridge_on(&self) -> bool {
        self.shared
            .push_bridge
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Hands a device's (sign-checked) PUSH on to its account's apps, bytes unchanged.
    pub(super) async fn bridge_push(&self, uuid: &str, payload: &bytes::Bytes) {
        if !self.push_bridge_on() {
            return;
        }
        let Some(user_id) = self.device(uuid).and_then(|d| d.user_id) else {
            return;
        };
        let topic = app_push_topic(&user_id);
        if self
            .shared
            .outbox
            .publish(topic, payload.to_vec())
            .await
            .is_err()
        {
            debug!("router link closed; push not bridged");
        }
    }

    /// Tells a device's account's apps that it came (`status` 1) or went (2).
    pub(super) fn bridge_online(&self, uuid: &str, online: bool) {
        if !self.push_bridge_on() {
            return;
        }
        let Some(device) = self.device(uuid) else {
            return;
        };
        let (Some(user_id), Some(key)) = (device.user_id.clone(), self.key_of(&device)) else {
            return;
        };
        let mut message = Message::new(
            Method::Push,
            NS_ONLINE,
            json!({"online": {"status": if online { 1 } else { 2 }}}),
            &device_publish_topic(uuid),
            &key,
        );
        message.header.uuid = Some(uuid.to_owned());
        let outbox = self.shared.outbox.clone();
        self.spawn(async move {
            let _ = outbox
                .publish(app_push_topic(&user_id), message.to_bytes())
                .await;
        });
    }
}
