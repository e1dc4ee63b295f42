//! sockless: a sans-IO WebSocket protocol core (RFC 6455).
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod handshake;
