//! # wmpush (library part)
//!
//! The publishing-point server and the command implementations behind the
//! `wmpush` binary, exposed as a library so tests can embed them.
//!
//! - [`server::Server`]: `wmpush serve`, a router that parses each request head once and
//!   hands it to one front-end per protocol (players over MS-WMSP, plain-HTTP ASF, encoders
//!   over MS-WMHTTP, `/_status`, `/_metrics`).
//! - [`point::PublishingPoint`]: one live stream shared by its players.
//! - [`demo`]: the embedded demo and its `--check`.
//! - [`pull`]: the MS-WMSP pull client driver.
//! - [`load`]: the load generator behind `wmpush pull --clients N`.

pub mod auth;
pub mod chunk_reader;
pub mod config;
pub mod demo;
pub mod exit;
pub mod generator;
pub mod ingest;
pub mod inspect;
pub mod live_mux;
pub mod load;
pub mod outputs;
pub mod point;
pub mod pull;
pub mod push;
pub mod server;
pub mod status_page;
