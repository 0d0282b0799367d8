//! The MQTT codec every part shares (no policy here): the CONNECT and CONNACK, packets
//! after the CONNECT, and a reader that cuts a stream into whole packets. Used by the
//! gate, the router probe, the simulated plug and the tests.

pub mod connect;
pub mod filter;
pub mod framed;
pub mod packet;
