//! WebSockets on tokio, over the [`sockless`] sans-IO core.
//!
//! The core does the protocol (RFC 6455, RFC 7692 permessage-deflate) as pure state
//! transitions; this crate drives it over tokio transports: it reads into the core, writes
//! what the core owes, and runs the core's timers on `tokio::time`. The application sees a
//! [`WebSocket`]: a `Stream` of [`Message`]s and a `Sink` for them, with `recv`, `send`,
//! `ping`, `close` and `flush`.
//!
//! # Server
//!
//! ```no_run
//! use sockless::handshake::Accept;
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//!     loop {
//!         let (tcp, _) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             // Choose a subprotocol, check the path or the Origin, or refuse.
//!             let decide = |request: &sockless::handshake::Request| {
//!                 let chat = request.protocols().find(|p| *p == "chat");
//!                 Ok(chat.map_or(Accept::new(), |p| Accept::new().protocol(p)))
//!             };
//!             let mut ws = sockless_tokio::accept_with(tcp, sockless::Config::default(), decide)
//!                 .await?;
//!             while let Some(message) = ws.recv().await {
//!                 ws.send(message?).await?;
//!             }
//!             Ok::<_, sockless_tokio::Error>(())
//!         });
//!     }
//! }
//! ```
//!
//! # Client
//!
//! ```no_run
//! use sockless_tokio::ConnectOptions;
//!
//! # async fn run() -> Result<(), sockless_tokio::Error> {
//! let options = ConnectOptions::new().protocol("chat");
//! let mut ws = sockless_tokio::connect_with("ws://127.0.0.1:9001/", options).await?;
//! ws.send("hello").await?;
//! let reply = ws.recv().await.transpose()?;
//! println!("{reply:?}");
//! ws.close(sockless::CloseCode::NORMAL, "bye").await?;
//! # Ok(()) }
//! ```
//!
//! # What runs without the application
//!
//! While the socket is read (by [`WebSocket::recv`], the `Stream`, or a split [`Reader`]),
//! it answers pings, sends the keepalive pings of
//! [`Config::keepalive`](sockless::Config::keepalive), completes the closing handshake the
//! peer starts, and enforces the handshake and close timeouts. The application never calls
//! `handle_timeout`. The runtime needs its timer (`enable_time`, on in `#[tokio::main]`).
//!
//! # Memory
//!
//! Reads go through a scratch buffer on the stack that lives for one poll, so an idle
//! connection holds no read buffer of its own: its memory is the core connection (512
//! bytes), the transport and, once a timer runs, tokio's timer entry.
//!
//! # Features
//!
//! - `deflate` (default): permessage-deflate, set with
//!   [`Config::deflate`](sockless::Config).
//! - `rustls`: `wss://` in [`connect`] through tokio-rustls (ring, webpki roots). Servers
//!   wrap their `TcpStream` in `tokio_rustls::TlsAcceptor` and call [`accept`] on it.
//! - `hyper`: [`upgrade`], for hyper and axum servers.
//! - `h2`: WebSockets over HTTP/2 (RFC 8441) on the `h2` crate, in the [`h2`] module.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod driver;
mod error;
/// WebSockets over HTTP/2 (RFC 8441): extended CONNECT streams of an `h2` connection.
#[cfg(feature = "h2")]
pub mod h2;
mod server;
#[cfg(any(feature = "hyper", feature = "h2"))]
mod settled;
mod socket;
mod split;
#[cfg(feature = "rustls")]
mod tls;
#[cfg(feature = "hyper")]
mod upgrade;

pub use client::{ConnectOptions, MaybeTlsStream, client, connect, connect_with};
pub use error::{Error, TlsError};
pub use server::{Accepting, Decide, Incoming, accept, accept_with, incoming};
pub use socket::WebSocket;
pub use split::{Reader, Writer};
#[cfg(feature = "rustls")]
pub use tls::default_client_config;
#[cfg(feature = "rustls")]
pub use tokio_rustls;
#[cfg(feature = "hyper")]
pub use upgrade::{PendingUpgrade, UpgradedIo, upgrade};

pub use sockless;
pub use sockless::{CloseCode, CloseFrame, Config, Message};

/// The README's examples, compiled as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
