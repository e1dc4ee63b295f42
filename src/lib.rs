//! # sockless
//!
//! A sans-IO WebSocket protocol core (RFC 6455): bytes and the time go in; events, bytes to
//! write and the next deadline come out. It owns no socket, clock, thread or global state,
//! so any runtime can drive it (blocking `std::net`, tokio, smol, io_uring, a bare-metal
//! stack on `no_std` + `alloc`), and so can fuzzers and tests.
//!
//! The data path reads top to bottom, one module per layer:
//! [`handshake`] (HTTP/1.1 upgrade, keys, URIs) → [`frame`] (header codec, masking) →
//! [`message`] (reassembly, UTF-8 via [`utf8`]) → [`close`] (codes, reasons) →
//! [`Connection`] (the state machine that ties them).
//!
//! ```
//! use sockless::{Config, Connection, Event, Message, Role};
//! let mut client = Connection::open(Role::Client, Config::default());
//! let mut server = Connection::open(Role::Server, Config::default());
//! client.send_text("hello")?;
//! server.receive(&client.take_outbound());
//! while let Some(event) = server.poll_event()? {
//!     if let Event::Message(Message::Text(text)) = event {
//!         server.send_text(&text)?; // echo
//!     }
//! }
//! client.receive(&server.take_outbound());
//! assert!(matches!(client.poll_event()?, Some(Event::Message(Message::Text(t))) if t == "hello"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod handshake;

mod close;
#[cfg(feature = "deflate")]
pub mod deflate;
mod frame;
mod message;
mod utf8;

mod config;
mod connection;
mod error;
mod rng;

pub use close::{CloseCode, CloseFrame, ClosePayloadError, MAX_REASON_LEN};
pub use config::{Config, Keepalive, ReceiveMode, Role};
pub use connection::{BorrowedEvent, Connection, Event, State};
#[cfg(feature = "std")]
pub use connection::{ReceiveHalf, SendHalf, SplitError};
pub use error::{Error, ProtocolError, Rejection, SendError};
pub use message::{FrameChunk, Message, MessageKind, MessageRef};
#[cfg(feature = "std")]
pub use rng::SystemRng;
pub use utf8::Utf8Bytes;

/// Lower-level building blocks: the frame header codec, masking, the close payload parser
/// and the incremental UTF-8 validator. Each is a pure function or a small value type, sound on any input; a
/// [`Connection`] is what drives them, and what most users need.
pub mod codec {
    pub use crate::close::parse_payload as parse_close_payload;
    pub use crate::frame::{
        FrameError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, apply_mask,
    };
    pub use crate::utf8::{InvalidUtf8, Utf8Validator};
}

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `buf.reserve(additional)`, allocating exactly that much at once when `buf` has no
/// room at all: for a server's first read and its handshake response, where the buffer
/// never had storage and `BytesMut::reserve`'s growth path costs about as much again as
/// the allocation. Correct for any buffer, but a buffer left with no room after its
/// bytes were split off could have taken its allocation back through `reserve` without
/// allocating, so the send paths keep `reserve`.
#[inline]
pub(crate) fn reserve_fresh(buf: &mut bytes::BytesMut, additional: usize) {
    if buf.capacity() == 0 {
        *buf = bytes::BytesMut::with_capacity(additional);
    } else {
        buf.reserve(additional);
    }
}
