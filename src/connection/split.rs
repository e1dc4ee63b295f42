//! A connection split into a receiving half and a sending half, for two tasks or threads.
//!
//! Both halves are handles to the one [`Connection`], behind a lock held only for the
//! length of a call: there is one state machine, so the halves cannot disagree about the
//! close state, the timers or what is owed to the peer, and a reply (a pong, a close answer)
//! lands in the output in the order it arose, after the data queued before it. Each method
//! of a half is the connection's method of the same name and signature.

use super::{Connection, Event, Phase, State};
use crate::close::CloseCode;
use crate::error::{Error, SendError};
use crate::message::{Message, MessageKind};
use alloc::boxed::Box;
use alloc::sync::Arc;
use bytes::BytesMut;
use core::fmt;
use core::time::Duration;
use std::sync::{Mutex, MutexGuard};

/// The receiving half of a split [`Connection`]: takes the transport's bytes, yields events.
///
/// Pongs and close answers are queued on the shared connection as events are polled; when
/// [`pending_outbound`](Self::pending_outbound) is non-zero after polling, wake the task
/// that owns the [`SendHalf`] so that it writes them out.
#[derive(Debug)]
pub struct ReceiveHalf {
    conn: Arc<Mutex<Connection>>,
}

/// The sending half of a split [`Connection`]: sends messages, drains every byte owed to the
/// transport (replies included) with [`take_outbound`](Self::take_outbound), and runs the
/// timers.
///
/// It has no `outbound()` view: a slice of the shared buffer cannot outlive the lock, so the
/// writer takes the bytes it is about to write as a buffer of its own.
#[derive(Debug)]
pub struct SendHalf {
    conn: Arc<Mutex<Connection>>,
}

/// [`Connection::split`] was called on a connection that is not open (still in the
/// handshake, closing or closed); the connection comes back unchanged.
pub struct SplitError(pub Box<Connection>);

impl fmt::Debug for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SplitError").field(&self.0.state()).finish()
    }
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "only an open connection can be split (this one is {:?})",
            self.0.state()
        )
    }
}

impl std::error::Error for SplitError {}

impl Connection {
    /// Splits an open connection into halves that two tasks or threads can own.
    ///
    /// A connection in the handshake, closing or closed is handed back in a [`SplitError`]:
    /// the halves exist only for the phase where both directions carry messages.
    ///
    /// ```
    /// use sockless::{Config, Connection, Event, Role};
    /// let mut client = Connection::open(Role::Client, Config::default());
    /// client.send_ping(b"hi")?;
    /// let (mut rx, mut tx) = Connection::open(Role::Server, Config::default()).split()?;
    /// rx.receive(&client.take_outbound());
    /// assert!(matches!(rx.poll_event()?, Some(Event::Ping(_))));
    /// assert!(rx.pending_outbound() > 0); // wake the writer
    /// assert_eq!(&tx.take_outbound()[..], &[0x8a, 0x02, b'h', b'i']); // the pong
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(self) -> Result<(ReceiveHalf, SendHalf), SplitError> {
        if !matches!(self.phase, Phase::Open) {
            return Err(SplitError(Box::new(self)));
        }
        let conn = Arc::new(Mutex::new(self));
        Ok((ReceiveHalf { conn: conn.clone() }, SendHalf { conn }))
    }
}

fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // Every `Connection` method leaves it consistent when it panics (the panics are
    // argument checks made before any change), so a poisoned lock is still usable.
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Defines methods that lock the shared connection and call its method of the same name
/// and signature, so that a half cannot drift from [`Connection`].
macro_rules! forward {
    () => {};
    (fn $name:ident(&mut self $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?; $($rest:tt)*) => {
        #[doc = concat!("[`Connection::", stringify!($name), "`], on the shared connection.")]
        pub fn $name(&mut self $(, $arg: $ty)*) $(-> $ret)? {
            lock(&self.conn).$name($($arg),*)
        }
        forward! { $($rest)* }
    };
    (fn $name:ident(&self $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?; $($rest:tt)*) => {
        #[doc = concat!("[`Connection::", stringify!($name), "`], on the shared connection.")]
        pub fn $name(&self $(, $arg: $ty)*) $(-> $ret)? {
            lock(&self.conn).$name($($arg),*)
        }
        forward! { $($rest)* }
    };
}

impl ReceiveHalf {
    forward! {
        fn receive(&mut self, data: &[u8]);
        fn receive_bytes(&mut self, data: BytesMut);
        fn receive_eof(&mut self);
        fn poll_event(&mut self) -> Result<Option<Event>, Error>;
        fn pending_outbound(&self) -> usize;
        fn state(&self) -> State;
        fn is_closed(&self) -> bool;
        fn should_close_transport(&self) -> bool;
    }
}

impl SendHalf {
    forward! {
        fn send_text(&mut self, text: &str) -> Result<(), SendError>;
        fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError>;
        fn send(&mut self, message: &Message) -> Result<(), SendError>;
        fn send_uncompressed(&mut self, message: &Message) -> Result<(), SendError>;
        fn send_fragment(&mut self, kind: MessageKind, payload: &[u8], fin: bool) -> Result<(), SendError>;
        fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError>;
        fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError>;
        fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError>;
        fn pending_outbound(&self) -> usize;
        fn take_outbound(&mut self) -> BytesMut;
        fn poll_timeout(&self) -> Option<Duration>;
        fn handle_timeout(&mut self, now: Duration);
        fn state(&self) -> State;
        fn is_closed(&self) -> bool;
        fn should_close_transport(&self) -> bool;
        fn shrink_buffers(&mut self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Role};

    #[test]
    fn split_refuses_a_connection_in_the_handshake() {
        let server = Connection::server(Config::default());
        let SplitError(back) = server.split().unwrap_err();
        assert_eq!(back.state(), State::Connecting);
    }

    #[test]
    fn split_refuses_a_closing_connection() {
        let mut server = Connection::open(Role::Server, Config::default());
        server.close(CloseCode::NORMAL, "").unwrap();
        assert!(server.split().is_err());
    }

    #[test]
    fn halves_see_one_close_state() {
        let (rx, mut tx) = Connection::open(Role::Server, Config::default())
            .split()
            .unwrap();
        tx.close(CloseCode::NORMAL, "bye").unwrap();
        assert_eq!(rx.state(), State::Closing);
        assert_eq!(tx.send_text("late"), Err(SendError::Closing));
    }

    #[test]
    fn replies_follow_data_queued_before_them() {
        let mut client = Connection::open(Role::Client, Config::default());
        let (mut rx, mut tx) = Connection::open(Role::Server, Config::default())
            .split()
            .unwrap();
        tx.send_text("first").unwrap();
        client.send_ping(b"p").unwrap();
        rx.receive(&client.take_outbound());
        assert!(matches!(rx.poll_event(), Ok(Some(Event::Ping(_)))));
        let out = tx.take_outbound();
        assert_eq!(
            &out[..],
            &[0x81, 5, b'f', b'i', b'r', b's', b't', 0x8a, 1, b'p']
        );
    }

    #[test]
    fn close_timer_runs_on_the_sending_half() {
        let (_rx, mut tx) = Connection::open(Role::Client, Config::default())
            .split()
            .unwrap();
        tx.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(tx.poll_timeout(), Some(Duration::ZERO));
        tx.handle_timeout(Duration::from_secs(1));
        let deadline = tx.poll_timeout().unwrap();
        tx.handle_timeout(deadline);
        assert!(tx.should_close_transport());
    }
}
