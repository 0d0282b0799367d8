//! A client that behaves as meross_lan (the Home Assistant integration) does on merossd's
//! local listener: it reads every device's topic, sends signed requests naming its own
//! reply topic `/appliance/meross_lan/publish`, and the device answers there.

use crate::common::*;
use crate::raw;
use merossd::mqtt::connect::Connect;
use merossd::protocol::{Message, Method};
use serde_json::json;
use std::time::Duration;

const REPLY_TOPIC: &str = "/appliance/meross_lan/publish";

#[tokio::test]
async fn a_meross_lan_style_client_reads_and_commands_plugs() {
    let d = daemon().await;
    let plug = &plugs(&d, "h1", 1)[0];
    known(&d, plug).await;
    let (mut ml, code) = raw::local(&d, &Connect::new(4, "meross_lan_ab12", 30)).await;
    assert_eq!(code, Some(0));
    assert!(ml
        .subscribe(&["/appliance/+/publish"])
        .await
        .is_some_and(|c| c[0] < 0x80));
    let before = d.counters.snapshot();
    let inbox = format!("/appliance/{}/subscribe", plug.uuid);

    let get = Message::new(
        Method::Get,
        "Appliance.System.All",
        json!({}),
        REPLY_TOPIC,
        KEY,
    );
    ml.publish0(&inbox, &get.to_bytes()).await;
    let reply = wait_for(&mut ml, REPLY_TOPIC, &get.header.message_id).await;
    assert_eq!(reply.header.method, Method::GetAck);
    assert!(reply.payload.pointer("/all/system/hardware").is_some());

    let set = Message::new(
        Method::Set,
        "Appliance.Control.ToggleX",
        json!({"togglex": {"channel": 0, "onoff": 1}}),
        REPLY_TOPIC,
        KEY,
    );
    ml.publish0(&inbox, &set.to_bytes()).await;
    let ack = wait_for(&mut ml, REPLY_TOPIC, &set.header.message_id).await;
    assert_eq!(ack.header.method, Method::SetAck);
    assert!(plug.state().relays[&0], "the plug was not switched");
    eventually(
        "merossd saw the plug's PUSH",
        Duration::from_secs(3),
        || {
            d.engine
                .device(&plug.uuid)
                .is_some_and(|x| x.channels[&0].on)
        },
    )
    .await;

    // Replies addressed to meross_lan are not merossd's business, and no error.
    let now = d.counters.snapshot();
    assert_eq!(now.bad_messages, before.bad_messages);
    assert_eq!(now.sign_failures, before.sign_failures);
    assert_eq!(now.acl_denied, before.acl_denied);
    d.stop().await;
}

async fn wait_for(
    client: &mut raw::Raw<tokio::net::TcpStream>,
    topic: &str,
    message_id: &str,
) -> Message {
    for _ in 0..50 {
        let Some((t, payload)) = client.next_publish(Duration::from_secs(3)).await else {
            break;
        };
        if t != topic {
            continue;
        }
        if let Ok(m) = Message::parse(&payload) {
            if m.header.message_id == message_id {
                return m;
            }
        }
    }
    panic!("no reply {message_id} on {topic}");
}
