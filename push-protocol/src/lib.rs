//! # push-protocol
//!
//! Sans-IO MS-WMHTTP push (client and server) and MS-WMSP (MMSH) pull (server and client): framing, HTTP heads, authentication, session state machines. No IO, no clock, no randomness inside.
#![forbid(unsafe_code)]

// -- push side (C1b) --
pub mod auth;
pub mod error;
pub mod framing;
pub mod http;
pub mod push_client;
pub mod push_server;
pub mod rng;

pub use error::Error;

// -- pull side (C2) --
pub mod asx;
pub mod pragma;
pub mod pull_client;
pub mod pull_server;
