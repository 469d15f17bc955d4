//! # wmpush (library part)
//!
//! The publishing-point server and the command implementations behind the `wmpush` binary,
//! exposed as a library so tests can embed them.
