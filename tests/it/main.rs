//! Integration tests: a real daemon on port 0 with simulated plugs. One binary, one module
//! per area.

mod api;
mod api_rules;
mod bridge;
mod common;
mod diskfull;
mod energy;
mod families;
mod family_cli;
mod firstday;
mod firsthour;
mod gate;
mod hass;
mod homeassistant;
mod homeassistant_families;
mod house;
mod humidifiers;
mod layers;
mod limits;
mod merossiot;
mod merossiot_families;
mod merosslan;
mod openapi;
mod pair;
mod process;
mod raw;
mod service;
mod session;
mod shares;
mod sim;
mod stop;
mod store;
mod tls;
mod traces;
mod trust;
mod withdraw;
