//! # asf-packetizer
//!
//! The writer's multiplexer: media samples to fixed-size ASF data packets, live and file headers, indexes and remuxing. No IO, no clock.
#![forbid(unsafe_code)]
