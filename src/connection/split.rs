//! A connection split into a receiving half and a sending half, for two tasks or threads.
//!
//! Each half owns its own buffers, so neither waits while the other decodes or encodes. They
//! share one small mailbox, locked only to hand over a reply or read a flag: the pongs and
//! close answers the receiving half owes go through it to the sending half, which writes
//! them between its own frames.

use super::{Closure, Connection, Phase, Reply};
use crate::close::CloseCode;
use crate::config::Role;
use crate::connection::{Event, State};
use crate::error::{Error, SendError};
use crate::message::{Message, MessageKind};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<SharedState>,
    /// Bytes arrived: proof of life for the keepalive timer, which the sending half runs.
    activity: AtomicBool,
}

#[derive(Debug, Default)]
struct SharedState {
    /// A close frame went out or is queued: nothing else may follow it.
    close_sent: bool,
    /// Replies from the receiving half, in order.
    mailbox: VecDeque<Reply>,
    /// How the connection closed, once it has.
    closed: Option<Closure>,
    /// The transport should be closed now.
    close_transport: bool,
    /// A failure the sending half found (a timeout), for the receiving half to report.
    failure: Option<Error>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, SharedState> {
        // A panic while holding this lock leaves only flags and a queue behind, all valid.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The receiving half of a [`Connection`]: takes the transport's bytes, yields events.
#[derive(Debug)]
pub struct ReceiveHalf {
    conn: Connection,
    shared: Arc<Shared>,
}

/// The sending half of a [`Connection`]: sends messages, writes out the replies the
/// receiving half owes, and runs the timers.
#[derive(Debug)]
pub struct SendHalf {
    conn: Connection,
    shared: Arc<Shared>,
}

impl Connection {
    /// Splits an open connection into halves that two tasks or threads can own.
    ///
    /// The receiving half answers pings and closes by posting replies that the sending half
    /// writes on its next call; when [`ReceiveHalf::replies_pending`] turns true (after an
    /// [`Event::Ping`], an [`Event::Close`] or an error), wake the task that owns the
    /// sending half so it writes them out.
    ///
    /// ```
    /// use sockless::{Config, Connection, Event, Role};
    /// let mut client = Connection::open(Role::Client, Config::default());
    /// client.send_ping(b"hi")?;
    /// let (mut rx, mut tx) = Connection::open(Role::Server, Config::default()).split();
    /// rx.receive(&client.take_outbound());
    /// assert!(matches!(rx.poll_event()?, Some(Event::Ping(_))));
    /// assert!(rx.replies_pending());
    /// assert_eq!(tx.poll_outbound(), &[0x8a, 0x02, b'h', b'i']); // the pong
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(mut self) -> (ReceiveHalf, SendHalf) {
        let shared = Arc::new(Shared::default());
        let mut send =
            Connection::new(self.role, self.config.clone(), Phase::Open, self.rng.take());
        send.out = core::mem::take(&mut self.out);
        send.spliced = self.spliced.take();
        send.sending_fragmented = self.sending_fragmented.take();
        #[cfg(feature = "deflate")]
        {
            send.deflater = self.deflater.take();
        }
        send.protocol = self.protocol.clone();
        send.timers = core::mem::take(&mut self.timers);
        send.phase = match self.phase {
            Phase::CloseSent => Phase::CloseSent,
            Phase::Closed(closure) => Phase::Closed(closure),
            _ => Phase::Open,
        };
        {
            let mut state = shared.lock();
            state.close_sent = !matches!(self.phase, Phase::Open);
            if let Phase::Closed(closure) = self.phase {
                state.closed = Some(closure);
                state.close_transport = self.should_close_transport();
            }
        }
        self.replies = Some(Vec::new());
        (
            ReceiveHalf {
                conn: self,
                shared: shared.clone(),
            },
            SendHalf { conn: send, shared },
        )
    }
}

impl ReceiveHalf {
    /// See [`Connection::receive`].
    pub fn receive(&mut self, data: &[u8]) {
        self.note_activity(data.len());
        self.conn.receive(data);
    }

    /// See [`Connection::receive_bytes`].
    pub fn receive_bytes(&mut self, data: BytesMut) {
        self.note_activity(data.len());
        self.conn.receive_bytes(data);
    }

    fn note_activity(&self, len: usize) {
        if len > 0 {
            self.shared.activity.store(true, Ordering::Relaxed);
        }
    }

    /// See [`Connection::receive_eof`].
    pub fn receive_eof(&mut self) {
        self.conn.receive_eof();
        let mut state = self.shared.lock();
        if matches!(state.closed, Some(Closure::Clean)) {
            state.close_transport = true;
        }
    }

    /// See [`Connection::poll_event`].
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        {
            let mut state = self.shared.lock();
            if let Some(failure) = state.failure.take() {
                self.conn.phase = Phase::Closed(Closure::Abrupt);
                return Err(failure);
            }
            if state.close_sent && matches!(self.conn.phase, Phase::Open) {
                self.conn.phase = Phase::CloseSent;
            }
            if matches!(state.closed, Some(Closure::Abrupt)) {
                self.conn.phase = Phase::Closed(Closure::Abrupt);
            }
        }
        let was_closed = self.conn.is_closed();
        let result = self.conn.poll_event();
        let replies = self
            .conn
            .replies
            .as_mut()
            .map(core::mem::take)
            .unwrap_or_default();
        if !replies.is_empty() || self.conn.is_closed() != was_closed {
            let mut state = self.shared.lock();
            for reply in replies {
                // The sending half may have closed meanwhile: then nothing more goes out.
                if state.close_sent {
                    break;
                }
                if matches!(reply, Reply::Close(_)) {
                    state.close_sent = true;
                }
                state.mailbox.push_back(reply);
            }
            if let Phase::Closed(closure) = self.conn.phase {
                state.closed.get_or_insert(closure);
                state.close_transport |= self.conn.should_close_transport();
            }
        }
        result
    }

    /// The sending half has replies to write: wake its task.
    pub fn replies_pending(&self) -> bool {
        !self.shared.lock().mailbox.is_empty()
    }

    /// See [`Connection::state`].
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// See [`Connection::shrink_buffers`].
    pub fn shrink_buffers(&mut self) {
        self.conn.shrink_buffers();
    }

    /// See [`Connection::should_close_transport`].
    pub fn should_close_transport(&self) -> bool {
        self.shared.lock().close_transport
    }
}

impl SendHalf {
    /// Takes what the receiving half posted: replies to write, and how the connection
    /// closed.
    fn sync(&mut self) {
        let mut state = self.shared.lock();
        while let Some(reply) = state.mailbox.pop_front() {
            self.conn.write_reply(reply);
        }
        if let Some(closure) = state.closed {
            self.conn.phase = Phase::Closed(closure);
        } else if state.close_sent && matches!(self.conn.phase, Phase::Open) {
            self.conn.phase = Phase::CloseSent;
        }
    }

    /// Sends after taking in the receiving half's news. A close that the receiving half
    /// answers meanwhile lands after this frame, which is still before our close: legal.
    fn send_with(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), SendError> {
        self.sync();
        f(&mut self.conn)
    }

    /// See [`Connection::send_text`].
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_with(|c| c.send_text(text))
    }

    /// See [`Connection::send_binary`].
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_with(|c| c.send_binary(data))
    }

    /// See [`Connection::send`].
    pub fn send(&mut self, message: &Message) -> Result<(), SendError> {
        self.send_with(|c| c.send(message))
    }

    /// See [`Connection::send_shared`]; drain with [`poll_outbound`](Self::poll_outbound) in
    /// a loop or with [`poll_outbound_vectored`](Self::poll_outbound_vectored).
    pub fn send_shared(&mut self, message: Message) -> Result<(), SendError> {
        self.send_with(|c| c.send_shared(message))
    }

    /// See [`Connection::send_fragment`].
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.send_with(|c| c.send_fragment(kind, payload, fin))
    }

    /// See [`Connection::send_ping`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_with(|c| c.send_ping(payload))
    }

    /// See [`Connection::send_pong`].
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_with(|c| c.send_pong(payload))
    }

    /// See [`Connection::close`].
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        // Decide under the lock: the receiving half may be about to answer a close.
        let shared = self.shared.clone();
        let mut state = shared.lock();
        while let Some(reply) = state.mailbox.pop_front() {
            self.conn.write_reply(reply);
        }
        if state.close_sent {
            return Err(if state.closed.is_some() {
                SendError::Closed
            } else {
                SendError::Closing
            });
        }
        self.conn.close(code, reason)?;
        state.close_sent = true;
        Ok(())
    }

    /// The bytes waiting to be written, replies from the receiving half included (the
    /// first piece of them after a [`send_shared`](Self::send_shared)).
    pub fn poll_outbound(&mut self) -> &[u8] {
        self.sync();
        self.conn.outbound()
    }

    /// See [`Connection::outbound_vectored`]; replies from the receiving half included.
    pub fn poll_outbound_vectored<'a>(&'a mut self, slices: &mut [std::io::IoSlice<'a>]) -> usize {
        self.sync();
        self.conn.outbound_vectored(slices)
    }

    /// See [`Connection::pending_outbound`] (replies not yet taken from the receiving half
    /// are not counted).
    pub fn pending_outbound(&self) -> usize {
        self.conn.pending_outbound()
    }

    /// See [`Connection::advance_outbound`].
    pub fn advance_outbound(&mut self, n: usize) {
        self.conn.advance_outbound(n);
    }

    /// See [`Connection::take_outbound`]; includes the replies from the receiving half.
    pub fn take_outbound(&mut self) -> BytesMut {
        self.sync();
        self.conn.take_outbound()
    }

    /// See [`Connection::shrink_buffers`].
    pub fn shrink_buffers(&mut self) {
        self.conn.shrink_buffers();
    }

    /// See [`Connection::poll_timeout`].
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.conn.poll_timeout()
    }

    /// See [`Connection::handle_timeout`]. A timeout that fails the connection is returned
    /// here and reported to the receiving half's next `poll_event` too.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), Error> {
        self.sync();
        if self.shared.activity.swap(false, Ordering::Relaxed) {
            self.conn.timers.activity = true;
        }
        self.conn.handle_timeout(now);
        let Some(error) = self.conn.pending_error.take().map(|e| *e) else {
            return Ok(());
        };
        let mut state = self.shared.lock();
        state.close_sent = true;
        state.closed = Some(Closure::Abrupt);
        state.close_transport = true;
        state.failure = Some(error.clone());
        Err(error)
    }

    /// See [`Connection::state`].
    pub fn state(&mut self) -> State {
        self.sync();
        self.conn.state()
    }

    /// See [`Connection::should_close_transport`].
    pub fn should_close_transport(&self) -> bool {
        let state = self.shared.lock();
        state.close_transport || (self.conn.role == Role::Server && state.closed.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Keepalive};
    use bytes::Bytes;

    fn pair() -> (Connection, ReceiveHalf, SendHalf) {
        let client = Connection::open(Role::Client, Config::default());
        let (rx, tx) = Connection::open(Role::Server, Config::default()).split();
        (client, rx, tx)
    }

    #[test]
    fn pong_owed_by_the_receiving_half_is_written_by_the_sending_half() {
        let (mut client, mut rx, mut tx) = pair();
        tx.send_text("before").unwrap();
        client.send_ping(b"p").unwrap();
        rx.receive(&client.take_outbound());
        assert_eq!(
            rx.poll_event(),
            Ok(Some(Event::Ping(Bytes::from_static(b"p"))))
        );
        assert!(rx.replies_pending());
        client.receive(&tx.take_outbound());
        assert!(matches!(client.poll_event(), Ok(Some(Event::Message(_)))));
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::Pong(Bytes::from_static(b"p"))))
        );
        assert!(!rx.replies_pending());
    }

    #[test]
    fn close_from_the_peer_is_answered_and_stops_the_sending_half() {
        let (mut client, mut rx, mut tx) = pair();
        client.close(CloseCode::NORMAL, "done").unwrap();
        rx.receive(&client.take_outbound());
        assert!(matches!(rx.poll_event(), Ok(Some(Event::Close(_)))));
        assert_eq!(tx.send_text("late"), Err(SendError::Closed));
        client.receive(&tx.take_outbound());
        assert!(
            matches!(client.poll_event(), Ok(Some(Event::Close(f))) if f.code == CloseCode::NORMAL)
        );
        assert!(rx.should_close_transport() && tx.should_close_transport());
    }

    #[test]
    fn close_race_sends_one_close_frame() {
        let (mut client, mut rx, mut tx) = pair();
        client.close(CloseCode::NORMAL, "").unwrap();
        tx.close(CloseCode::GOING_AWAY, "").unwrap();
        rx.receive(&client.take_outbound());
        assert!(matches!(rx.poll_event(), Ok(Some(Event::Close(_)))));
        client.receive(&tx.take_outbound());
        let first = client.poll_event();
        assert!(matches!(first, Ok(Some(Event::Close(f))) if f.code == CloseCode::GOING_AWAY));
        // The peer's close crossed ours: no echo of it goes out.
        assert!(tx.take_outbound().is_empty());
        assert_eq!(tx.state(), State::Closed);
    }

    #[test]
    fn failure_seen_by_the_receiving_half_closes_with_its_code() {
        let (_, mut rx, mut tx) = pair();
        rx.receive(&[0x81, 0x02, b'h', b'i']); // unmasked from a client
        assert!(rx.poll_event().is_err());
        let out = tx.take_outbound();
        assert_eq!(&out[..], &[0x88, 0x02, 0x03, 0xea]);
        assert_eq!(tx.send_text("x"), Err(SendError::Closed));
        assert!(tx.should_close_transport());
    }

    #[test]
    fn keepalive_timeout_on_the_sending_half_reaches_the_receiving_half() {
        let config = Config {
            keepalive: Some(Keepalive {
                interval: Duration::from_secs(1),
                timeout: Duration::from_secs(1),
            }),
            ..Config::default()
        };
        let (mut rx, mut tx) = Connection::open(Role::Server, config).split();
        tx.handle_timeout(Duration::ZERO).unwrap();
        tx.handle_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(
            tx.handle_timeout(Duration::from_secs(2)),
            Err(Error::KeepaliveTimeout)
        );
        assert_eq!(rx.poll_event(), Err(Error::KeepaliveTimeout));
        assert!(rx.should_close_transport());
    }
}
