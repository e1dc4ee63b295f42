//! # sockless
//!
//! A sans-IO WebSocket protocol core (RFC 6455, with RFC 7692 permessage-deflate): received
//! bytes, the time and randomness go in; events, bytes to write and the next deadline come
//! out. It owns no socket, clock, thread or global state, so any runtime can drive it
//! (blocking `std::net`, tokio, smol, io_uring, a bare-metal stack on `no_std` + `alloc`),
//! and so can fuzzers and deterministic tests.
//!
//! One [`Connection`] is one WebSocket, either side, from the first byte of the HTTP upgrade
//! to the last close frame. A driver does four things with it, in a loop:
//!
//! 1. **Read**: hand what the transport read to [`Connection::receive`] (any chunking; `0`
//!    bytes read is [`Connection::receive_eof`]), then call [`Connection::poll_event`] until
//!    it returns `Ok(None)`, acting on each [`Event`]. Pings are answered and closes echoed
//!    by the connection itself. A driver that reads into a `BytesMut` can read the rest of
//!    a large frame straight into the connection's buffer: [`Connection::read_buffer`].
//! 2. **Write**: after every poll loop and every send, write [`Connection::outbound`] to the
//!    transport and [`Connection::advance_outbound`] by what it took. Do this also after an
//!    error: the close frame or HTTP error response the peer is owed is queued there.
//! 3. **Time**: sleep until [`Connection::poll_timeout`] (a deadline on your clock) and call
//!    [`Connection::handle_timeout`] with the time when it passes, or whenever you wake.
//!    The handshake timeout (on by default), keepalive, the close timeout and the release
//!    of buffers over 64 KiB a second after their last use run there.
//! 4. **Close**: once [`Connection::should_close_transport`] is true, close the transport.
//!
//! While [`Connection::wants_read`] is false, stop reading until the output drains: a peer
//! that sends without reading must not make the connection owe it without bound.
//!
//! # A server over `std::net`
//!
//! ```no_run
//! use sockless::{handshake::Accept, Config, Connection, Event};
//! use std::io::{ErrorKind, Read, Write};
//! use std::time::{Duration, Instant};
//!
//! fn serve(mut tcp: std::net::TcpStream) -> std::io::Result<()> {
//!     let start = Instant::now(); // the connection's clock: any monotonic one will do
//!     let mut ws = Connection::server(Config::default());
//!     let mut buf = vec![0; 16 * 1024];
//!     loop {
//!         // 1. Events, from what was received so far.
//!         loop {
//!             match ws.poll_event() {
//!                 Ok(Some(Event::HandshakeRequest(request))) => {
//!                     // Look at request.path(), .origin(), .protocols() and decide.
//!                     let _ = request;
//!                     ws.accept(&Accept::new()).expect("a request is pending");
//!                 }
//!                 Ok(Some(Event::Message(message))) => {
//!                     let _ = ws.send(&message); // echo
//!                 }
//!                 Ok(Some(_)) => {} // pongs and close answers are queued already
//!                 Ok(None) => break,
//!                 Err(e) => {
//!                     eprintln!("connection failed: {e}"); // what the peer is owed is queued
//!                     break;
//!                 }
//!             }
//!         }
//!         // 2. Everything owed to the transport.
//!         tcp.write_all(ws.outbound())?;
//!         ws.advance_outbound(ws.pending_outbound());
//!         // 4. The end.
//!         if ws.should_close_transport() {
//!             return Ok(());
//!         }
//!         // 3. Read, but wake for the next deadline.
//!         let wait = ws.poll_timeout().map(|at| {
//!             at.saturating_sub(start.elapsed()).max(Duration::from_millis(1))
//!         });
//!         tcp.set_read_timeout(wait)?;
//!         match tcp.read(&mut buf) {
//!             Ok(0) => ws.receive_eof(),
//!             Ok(n) => ws.receive(&buf[..n]),
//!             Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
//!             Err(e) if e.kind() == ErrorKind::Interrupted => {}
//!             Err(_) => ws.receive_eof(), // a reset ends the transport too
//!         }
//!         ws.handle_timeout(start.elapsed());
//!     }
//! }
//! ```
//!
//! # A client over `std::net`
//!
//! The client's upgrade request is queued in [`Connection::outbound`] as soon as it is made;
//! the same loop then drives it. [`Event::Connected`] says the server accepted.
//!
//! ```no_run
//! use sockless::handshake::{ClientOptions, Uri};
//! use sockless::{CloseCode, Config, Connection, Event, Message};
//! use std::io::{Read, Write};
//! use std::time::Instant;
//!
//! fn hello(url: &str) -> Result<(), Box<dyn std::error::Error>> {
//!     let uri = Uri::parse(url)?;
//!     let mut tcp = std::net::TcpStream::connect((uri.host(), uri.port()))?;
//!     let start = Instant::now();
//!     let options = ClientOptions::new().try_protocol("chat")?;
//!     let mut ws = Connection::client(&uri, options, Config::default());
//!     let mut buf = vec![0; 16 * 1024];
//!     loop {
//!         while let Some(event) = ws.poll_event()? {
//!             match event {
//!                 Event::Connected(_) => ws.send_text("hello")?,
//!                 Event::Message(Message::Text(reply)) => {
//!                     println!("{reply}");
//!                     ws.close(CloseCode::NORMAL, "")?;
//!                 }
//!                 _ => {}
//!             }
//!         }
//!         tcp.write_all(ws.outbound())?;
//!         ws.advance_outbound(ws.pending_outbound());
//!         if ws.should_close_transport() {
//!             return Ok(());
//!         }
//!         let wait = ws.poll_timeout().map(|at| at.saturating_sub(start.elapsed()));
//!         tcp.set_read_timeout(wait.map(|w| w.max(std::time::Duration::from_millis(1))))?;
//!         match tcp.read(&mut buf) {
//!             Ok(0) => ws.receive_eof(),
//!             Ok(n) => ws.receive(&buf[..n]),
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
//!             Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
//!             Err(e) => return Err(e.into()),
//!         }
//!         ws.handle_timeout(start.elapsed());
//!     }
//! }
//! ```
//!
//! # Two endpoints in memory
//!
//! A connection whose handshake happened elsewhere (an HTTP server's upgrade, an HTTP/2
//! stream) starts open with [`Connection::open`]; two of them make a deterministic test:
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
//!
//! # What is where
//!
//! - [`Connection`], [`Config`], [`Event`], [`Message`] and the close and error types at the
//!   crate root: what a driver and an application use.
//! - [`handshake`]: the HTTP/1.1 upgrade (requests, responses, keys, URIs, `Origin` checks)
//!   as pure functions, and the RFC 8441 checks for WebSockets over HTTP/2.
//! - [`deflate`] (feature `deflate`): permessage-deflate's settings and negotiation.
//! - [`codec`]: lower-level pieces (the frame header codec, masking, the UTF-8 validator).
//!
//! Errors say who is to blame: [`ProtocolError`] the peer after the handshake (each with the
//! close code sent for it), [`Error::Request`] and [`Error::Response`] the handshake,
//! [`SendError`] the caller (nothing was queued), and the timeouts.
//!
//! # Limits
//!
//! Every buffer a peer can grow has a bound in [`Config`], enforced before allocating:
//! the handshake head (`handshake_limits`: 431), a frame (`max_frame_size`), a message,
//! counted inflated under permessage-deflate (`max_message_size`), the fragments of one
//! message (`max_fragments`), input held beyond one frame (`max_buffered_input`), all 1009;
//! and what is owed to the peer: pongs coalesce to the latest ping, `outbound_high_water`
//! turns [`Connection::wants_read`] off and `max_pending_outbound` refuses sends. Time is
//! bounded by `handshake_timeout`, `keepalive` and `close_timeout`.
//!
//! # Features
//!
//! - `std` (default): `std::error::Error`, [`SystemRng`] for masking and handshake keys,
//!   [`Connection::client`] and [`Connection::open`] without an explicit random source, and
//!   [`Connection::split`] (its halves share the connection through `std::sync::Mutex`).
//! - `simd` (default): UTF-8 validation with `simdutf8`.
//! - `deflate` (default, needs `std`): permessage-deflate through `flate2`'s zlib-rs backend.
//! - `http`: conversions between the handshake types and the `http` crate's.
//!
//! Without default features the crate is `no_std` + `alloc`: give a client its random
//! source with [`Connection::client_with_rng`] or [`Connection::open_with_rng`].
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
