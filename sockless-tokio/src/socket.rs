//! The WebSocket over a transport: a `Stream` of messages and a `Sink` for them.

use crate::Error;
use crate::driver::Driver;
use crate::split::{Reader, Writer};
use futures_core::Stream;
use futures_sink::Sink;
use sockless::{CloseCode, CloseFrame, Connection, Event, Message, State};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// Waits for room under the high-water mark, queues `message` (taking it), and with
/// `flush` writes out everything owed. The futures of `send` and `feed` hold nothing else,
/// so a dropped one has queued the whole message or none of it.
pub(crate) fn poll_send<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    message: &mut Option<Message>,
    flush: bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    if let Some(pending) = message {
        ready!(driver.poll_below_high_water(cx))?;
        driver.conn.send(pending)?;
        *message = None;
    }
    if flush {
        ready!(driver.poll_write_out(cx))?;
    }
    Poll::Ready(Ok(()))
}

/// An open WebSocket over the transport `S` (a `TcpStream`, a TLS stream, a hyper upgrade).
///
/// Read with [`recv`](Self::recv) or as a [`Stream`] of [`Message`]s; write with
/// [`send`](Self::send) or as a [`Sink`]. Whatever the application does, the connection
/// keeps its part of the protocol while it is polled: pings are answered, keepalive pings
/// sent, the closing handshake completed and timed out, all on `tokio::time` (the runtime
/// needs its timer enabled).
///
/// Reading drives the connection: a socket that is never read answers no pings and
/// learns of no close. [`split`](Self::split) gives a reader and a writer for two tasks.
///
/// # Backpressure
/// [`send`](Self::send) and `Sink::poll_ready` wait while more than
/// [`Config::outbound_high_water`](sockless::Config::outbound_high_water) bytes are owed to
/// the transport; reading pauses likewise, so a peer that sends without reading slows
/// itself down instead of growing what it is owed.
///
/// # Cancel safety
/// [`recv`](Self::recv) and [`recv_event`](Self::recv_event) are cancel safe: dropped in a
/// `select!`, they lose nothing, and a partly received message stays buffered for the next
/// call. A [`send`](Self::send) dropped before it completes has either queued nothing (it
/// was waiting for room) or queued the whole message, which then goes out with the next
/// `flush`, `send` or `recv`; it never queues part of a message.
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) driver: Driver<S>,
    /// The peer's close frame, once it arrived.
    close_frame: Option<Box<CloseFrame>>,
    /// The stream ended (after the close, or after an error was reported).
    ended: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A WebSocket over a transport whose opening handshake was done elsewhere (an HTTP
    /// server's upgrade, a test): `conn` is usually [`Connection::open`], and its clock
    /// starts now.
    pub fn from_connection(io: S, conn: Connection) -> WebSocket<S> {
        WebSocket::from_driver(Driver::new(io, conn, Instant::now()))
    }

    pub(crate) fn from_driver(driver: Driver<S>) -> WebSocket<S> {
        WebSocket {
            driver,
            close_frame: None,
            ended: false,
        }
    }

    /// The next message; `None` once the connection closed (see
    /// [`close_frame`](Self::close_frame) for why). Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next event of any kind: messages, and also pings and pongs (already answered
    /// when [`Config::auto_pong`](sockless::Config::auto_pong) is on), and with
    /// [`ReceiveMode::Frames`](sockless::ReceiveMode::Frames) frame pieces; the peer's close
    /// as [`Event::Close`]. `None` once the transport was shut down. Cancel safe.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| self.poll_recv_event(cx)).await
    }

    /// [`recv`](Self::recv) as a poll function.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match ready!(self.poll_recv_event(cx)) {
                Some(Ok(Event::Message(message))) => return Poll::Ready(Some(Ok(message))),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }

    /// [`recv_event`](Self::recv_event) as a poll function.
    pub fn poll_recv_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let event = ready!(self.driver.poll_event(cx, true));
        Poll::Ready(self.observe(event))
    }

    /// Records what the socket needs to know of an event on its way to the application.
    fn observe(&mut self, event: Result<Option<Event>, Error>) -> Option<Result<Event, Error>> {
        match event {
            Ok(Some(event)) => {
                if let Event::Close(frame) = &event {
                    self.close_frame = Some(Box::new(frame.clone()));
                }
                Some(Ok(event))
            }
            Ok(None) => {
                self.ended = true;
                None
            }
            Err(e) => {
                self.ended = true;
                Some(Err(e))
            }
        }
    }

    /// Sends a message: waits for room under the high-water mark, queues it, and writes
    /// everything owed to the transport (flushing it). See the cancel-safety note above.
    pub fn send(
        &mut self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        let mut message = Some(message.into());
        poll_fn(move |cx| poll_send(&mut self.driver, &mut message, true, cx))
    }

    /// Queues a message without writing it (waiting first for room under the high-water
    /// mark), like `SinkExt::feed`: it goes out with the next `flush`, `send` or `recv`.
    pub fn feed(
        &mut self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        let mut message = Some(message.into());
        poll_fn(move |cx| poll_send(&mut self.driver, &mut message, false, cx))
    }

    /// Sends a ping with this payload (at most 125 bytes) and flushes.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.driver.conn.send_ping(payload)?;
        self.flush().await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_write_out(cx)).await?;
        Ok(())
    }

    /// Starts the closing handshake with this code and reason (at most 123 bytes) and
    /// completes it: messages that arrive meanwhile are dropped, and the transport is shut
    /// down once the peer answered, or after
    /// [`Config::close_timeout`](sockless::Config::close_timeout). Closing a socket the
    /// peer already closed only finishes shutting it down.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.driver.conn.state() == State::Open {
            self.driver.conn.close(code, reason)?;
        }
        poll_fn(|cx| self.poll_closed(cx)).await
    }

    /// Drives the connection until the transport is shut down, dropping data.
    fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            match ready!(self.poll_recv_event(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    fn poll_ready_send(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.driver.poll_below_high_water(cx))?;
        Poll::Ready(Ok(()))
    }

    /// The subprotocol the handshake chose, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.driver.conn.protocol()
    }

    /// The peer's close frame, once it arrived (code 1006 if the transport ended without
    /// one).
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.close_frame.as_deref()
    }

    /// The core connection, for its state and settings.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.driver.io
    }

    /// A reader and a writer for two tasks. The reader drives the connection as the whole
    /// socket does (it answers pings and completes the close even when the writer is idle);
    /// the writer sends. Both lock the same connection for the length of one poll.
    pub fn split(self) -> (Reader<S>, Writer<S>) {
        crate::split::split(self)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

/// Items are queued by `start_send` and written by `poll_flush` (or by the next read);
/// `poll_ready` waits for room under the high-water mark; `poll_close` completes the
/// closing handshake with 1000.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().driver.conn.send(&item)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.get_mut().driver.poll_write_out(cx))?;
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.driver.conn.state() == State::Open {
            this.driver.conn.close(CloseCode::NORMAL, "")?;
        }
        this.poll_closed(cx)
    }
}
