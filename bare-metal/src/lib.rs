//! # sockless-bare-metal
//!
//! A driving loop for a [`sockless::Connection`] over a [smoltcp] TCP socket, written
//! against `core` and `alloc` only: what a microcontroller with a network stack, a
//! heap and no operating system runs.
//!
//! sockless owns no socket and no clock, and smoltcp owns no protocol above TCP; a
//! [`WsSocket`] ties one of each together. Every turn of the device's main loop:
//!
//! 1. `iface.poll(now, &mut device, &mut sockets)`: smoltcp moves packets between the
//!    device and its TCP sockets.
//! 2. [`WsSocket::poll`] on every WebSocket: received bytes go from the TCP socket's
//!    receive buffer into the connection, its timers run at `now`, its events go to your
//!    handler, and what it owes the peer goes into the TCP socket's send buffer, as much
//!    as that takes; the rest waits for the next turn. Once the connection says so, the
//!    TCP socket is closed.
//! 3. `iface.poll(...)` again, so that what was just queued leaves now rather than next
//!    turn (optional, it saves one wake-up per reply).
//! 4. Sleep for [`WsSocket::poll_delay`] (the sooner of smoltcp's and the connection's
//!    deadlines; with several WebSockets, the soonest of all, see [`earliest`]), or until
//!    the device raises an interrupt.
//!
//! The clock is smoltcp's [`Instant`]: on a device, a hardware timer; in tests, a virtual
//! clock that only moves when the test says so. The connection sees it as the time since
//! the [`WsSocket`] was made (its epoch), which is all [`Connection::handle_timeout`]
//! needs: any monotonic clock will do.
//!
//! A client's handshake key and masking keys come from the random source given to
//! [`Connection::client_with_rng`]: on a device, its hardware RNG (RFC 6455 §10.3 wants
//! masking keys the application cannot predict). A server needs none.
//!
//! ```no_run
//! # use smoltcp::{iface::{Interface, SocketSet, SocketHandle}, phy::Loopback, time::Instant};
//! # fn clock() -> Instant { Instant::ZERO }
//! # fn wait(_: Option<smoltcp::time::Duration>) {}
//! # fn run(mut iface: Interface, mut device: Loopback, mut sockets: SocketSet<'_>, handle: SocketHandle) {
//! use sockless::{handshake::Accept, Config, Connection, Event};
//! use sockless_bare_metal::WsSocket;
//!
//! // `handle` is a TCP socket that `listen`s on port 80.
//! let mut ws = WsSocket::new(handle, Connection::server(Config::default()), clock());
//! while !ws.is_finished(&sockets) {
//!     iface.poll(clock(), &mut device, &mut sockets);
//!     let result = ws.poll(clock(), &mut sockets, |conn, event| match event {
//!         Event::HandshakeRequest(_) => conn.accept(&Accept::new()).unwrap(),
//!         Event::Message(message) => {
//!             let _ = conn.send(&message); // echo
//!         }
//!         _ => {} // pongs and close answers are queued by the connection itself
//!     });
//!     if let Err(error) = result {
//!         // The connection failed; the close frame the peer is owed is queued, and the
//!         // next polls write it and close the TCP socket.
//!         let _ = error;
//!     }
//!     iface.poll(clock(), &mut device, &mut sockets);
//!     wait(ws.poll_delay(clock(), &mut iface, &sockets));
//! }
//! # }
//! ```
#![no_std]
#![deny(missing_docs)]
#![deny(unsafe_code)]

// sockless buffers frames and messages on the heap: a device must provide a
// `#[global_allocator]` (e.g. the `embedded-alloc` crate) for this crate to link.
extern crate alloc;

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use sockless::{Connection, Error, Event};

/// How long a closing connection may take to hand TCP what it still owes when its
/// [`Config::close_timeout`](sockless::Config::close_timeout) is off: a peer that stopped
/// reading must not hold the socket (and its buffers) forever.
pub const FLUSH_GRACE: Duration = Duration::from_secs(10);

/// One WebSocket over one smoltcp TCP socket: the socket's handle, the sockless
/// [`Connection`] and the bookkeeping between them.
///
/// The TCP socket stays in the [`SocketSet`], which smoltcp needs in one piece for
/// `iface.poll`; every method that touches it takes the set.
///
/// A server's TCP socket should be listening (or already connected) and a client's
/// connecting when the `WsSocket` is made; the connection's timers only start once the
/// TCP socket is active, so that a server that waits for a client to connect does not
/// spend its handshake timeout on the wait.
#[derive(Debug)]
pub struct WsSocket {
    handle: SocketHandle,
    conn: Connection,
    epoch: Instant,
    /// The TCP socket left `Listen`/`Closed` at least once: from then on a socket that
    /// may not receive means the peer is gone, not that it has not come yet.
    active: bool,
    eof: bool,
    closed: bool,
    /// Once the connection wants the transport closed: when to give up writing what it
    /// still owes and reset the TCP connection instead.
    flush_by: Option<Instant>,
}

impl WsSocket {
    /// Ties `conn` to the TCP socket `handle`. `epoch` is time zero on the connection's
    /// clock: any instant at or before the first [`poll`](Self::poll), usually now.
    pub fn new(handle: SocketHandle, conn: Connection, epoch: Instant) -> WsSocket {
        WsSocket {
            handle,
            conn,
            epoch,
            active: false,
            eof: false,
            closed: false,
            flush_by: None,
        }
    }

    /// The TCP socket's handle in the [`SocketSet`].
    pub fn handle(&self) -> SocketHandle {
        self.handle
    }

    /// The WebSocket connection, to look at its state.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The WebSocket connection, to send on it between polls; what is queued goes out at
    /// the next [`poll`](Self::poll) or [`transmit`](Self::transmit).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Ends the pairing, handing back the connection (e.g. to read its final state).
    pub fn into_connection(self) -> Connection {
        self.conn
    }

    /// One turn of the loop at `now`, after `iface.poll`: [`receive`](Self::receive),
    /// the connection's timers, every event to `on_event` (which may send or close on the
    /// connection it is given), then [`transmit`](Self::transmit).
    ///
    /// `Err` when the connection failed (a protocol error, a timeout): the events before
    /// the failure went to `on_event` first, the close frame the peer is owed is queued,
    /// and later polls write it and close the TCP socket. Keep polling until
    /// [`is_finished`](Self::is_finished).
    pub fn poll<F>(
        &mut self,
        now: Instant,
        sockets: &mut SocketSet<'_>,
        mut on_event: F,
    ) -> Result<(), Error>
    where
        F: FnMut(&mut Connection, Event),
    {
        self.receive(sockets);
        self.handle_timeout(now);
        let mut result = Ok(());
        loop {
            match self.conn.poll_event() {
                Ok(Some(event)) => on_event(&mut self.conn, event),
                Ok(None) => break,
                // After an error the connection yields `Ok(None)`; stop here so that the
                // error is reported once, with what it owes the peer written just below.
                Err(error) => {
                    result = Err(error);
                    break;
                }
            }
        }
        self.transmit(now, sockets);
        result
    }

    /// Moves what the TCP socket received into the connection, and tells it when the
    /// peer's side of the TCP connection ended. Returns the number of bytes moved.
    ///
    /// Nothing is read while [`Connection::wants_read`] is false: the bytes stay in the
    /// TCP receive buffer, whose window then closes, so that a peer that sends without
    /// reading is slowed down by TCP instead of growing what this side owes it. Call
    /// [`Connection::poll_event`] until `Ok(None)` after it (as [`poll`](Self::poll)
    /// does): at most one receive buffer's worth is handed over per call.
    pub fn receive(&mut self, sockets: &mut SocketSet<'_>) -> usize {
        let socket = sockets.get_mut::<tcp::Socket>(self.handle);
        self.note_activity(socket);
        if !self.active || self.eof {
            return 0;
        }
        let mut moved = 0;
        // The receive buffer is a ring: its bytes may come in two contiguous pieces, and
        // taking both keeps a message that straddles the wrap from waiting a turn.
        while self.conn.wants_read() && socket.can_recv() {
            let conn = &mut self.conn;
            match socket.recv(|data| {
                conn.receive(data);
                (data.len(), data.len())
            }) {
                Ok(0) | Err(_) => break,
                Ok(n) => moved += n,
            }
        }
        // `may_recv` stays true while received bytes wait in the buffer, so the end is
        // only reported once the connection has every byte that came before it.
        if !socket.may_recv()
            && !matches!(
                socket.state(),
                tcp::State::SynSent | tcp::State::SynReceived
            )
        {
            // The peer's FIN (CLOSE-WAIT, CLOSING, TIME-WAIT, LAST-ACK) or a reset
            // (CLOSED): either way nothing more will arrive.
            self.eof = true;
            self.conn.receive_eof();
        }
        moved
    }

    /// Writes what the connection owes the peer into the TCP socket's send buffer, as
    /// much as that takes (the rest waits for the next call), and closes the TCP socket
    /// once the connection [should close it](Connection::should_close_transport) and
    /// everything it owed is in the buffer. Returns the number of bytes written.
    ///
    /// A peer that takes nothing more (its receive window stays shut) gets the
    /// connection's `close_timeout`, or [`FLUSH_GRACE`] without one, counted from when
    /// the connection wanted the transport closed; then the TCP connection is reset
    /// rather than kept open for bytes that will never leave.
    pub fn transmit(&mut self, now: Instant, sockets: &mut SocketSet<'_>) -> usize {
        let socket = sockets.get_mut::<tcp::Socket>(self.handle);
        self.note_activity(socket);
        let mut written = 0;
        // Same ring as on receive: the free space may be two pieces.
        while self.conn.pending_outbound() > 0 && socket.can_send() {
            match socket.send_slice(self.conn.outbound()) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.conn.advance_outbound(n);
                    written += n;
                }
            }
        }
        // A socket that may no longer send (the peer reset it) will never take the rest:
        // holding the close back for it would keep the socket forever.
        let drained = self.conn.pending_outbound() == 0 || !socket.may_send();
        if !self.closed && self.conn.should_close_transport() {
            let grace = self
                .conn
                .config()
                .close_timeout
                .map_or(FLUSH_GRACE, Duration::from);
            let flush_by = *self.flush_by.get_or_insert(now + grace);
            if drained {
                // `close` sends FIN after the bytes already in the send buffer, so the
                // close frame still reaches the peer; TCP then finishes on its own.
                socket.close();
                self.closed = true;
            } else if now >= flush_by {
                // Closing here would still wait on the peer to take the send buffer;
                // a reset frees the socket at once.
                socket.abort();
                self.closed = true;
            }
        }
        written
    }

    /// Runs the connection's timers at `now` (keepalive pings, the silent-peer,
    /// handshake and close timeouts). [`poll`](Self::poll) calls it; a timeout shows up
    /// as an error from the next [`Connection::poll_event`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.active {
            self.conn.handle_timeout(self.elapsed(now));
        }
    }

    /// When the connection next needs a [`poll`](Self::poll), as an instant on the same
    /// clock as `now`; `None` while no timer runs (or before the TCP socket is active).
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.active || self.closed {
            return None;
        }
        let deadline = self
            .conn
            .poll_timeout()
            .map(|d| self.epoch + Duration::from(d));
        // While a flush waits on the peer, wake in time to give up on it.
        match (deadline, self.flush_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// How long the device may sleep before the next turn of the loop: the sooner of
    /// smoltcp's [`Interface::poll_delay`] (retransmissions, delayed ACKs, data waiting
    /// to be sent) and this connection's next deadline. `None`: nothing is due until a
    /// packet arrives. With several WebSockets on one interface, combine their
    /// [`poll_at`](Self::poll_at)s with [`earliest`].
    pub fn poll_delay(
        &self,
        now: Instant,
        iface: &mut Interface,
        sockets: &SocketSet<'_>,
    ) -> Option<Duration> {
        earliest(now, iface, sockets, [self])
    }

    /// Whether this WebSocket is over: the connection is closed and so is the TCP
    /// socket (CLOSED, or TIME-WAIT, where it only lingers to absorb stray segments).
    /// The TCP socket may then listen or connect again, for a new `WsSocket`.
    pub fn is_finished(&self, sockets: &SocketSet<'_>) -> bool {
        self.closed && !sockets.get::<tcp::Socket>(self.handle).is_open()
    }

    fn note_activity(&mut self, socket: &tcp::Socket<'_>) {
        self.active |= socket.is_active();
    }

    fn elapsed(&self, now: Instant) -> core::time::Duration {
        // smoltcp's `Instant - Instant` is the distance either way; a `now` before the
        // epoch (a caller's mistake) counts as the epoch instead of as time in the future.
        if now < self.epoch {
            core::time::Duration::ZERO
        } else {
            (now - self.epoch).into()
        }
    }
}

/// How long the device may sleep: the sooner of smoltcp's [`Interface::poll_delay`] and
/// every WebSocket's [`poll_at`](WsSocket::poll_at), counted from `now`. `None`: nothing
/// is due until a packet arrives (or the application has something to send).
pub fn earliest<'a>(
    now: Instant,
    iface: &mut Interface,
    sockets: &SocketSet<'_>,
    websockets: impl IntoIterator<Item = &'a WsSocket>,
) -> Option<Duration> {
    let connections = websockets
        .into_iter()
        .filter_map(WsSocket::poll_at)
        // A deadline already passed means "now", not a negative sleep.
        .map(|at| if at > now { at - now } else { Duration::ZERO });
    iface
        .poll_delay(now, sockets)
        .into_iter()
        .chain(connections)
        .min()
}
