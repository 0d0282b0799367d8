//! Integration tests: a real daemon on port 0 with simulated plugs. One binary, one module
//! per area.

mod api;
mod common;
mod energy;
mod gate;
mod homeassistant;
mod session;
mod sim;
mod store;
mod traces;
