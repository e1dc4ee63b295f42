//! A reader and a writer over one socket, for two tasks.
//!
//! Both halves lock the one [`WebSocket`] for the length of a poll (never across an
//! `.await`), so they share its connection, transport and timers rather than mirroring
//! them. The transport has one waker slot per direction, and both halves write (the reader
//! writes pongs and close answers), so each half registers its own waker here and polls
//! the transport with a waker that wakes both: neither can steal the other's wake-up.

use crate::socket::poll_send;
use crate::{Error, WebSocket};
use futures_core::Stream;
use futures_sink::Sink;
use sockless::{CloseCode, CloseFrame, Event, Message, State};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker, ready};
use tokio::io::{AsyncRead, AsyncWrite};

/// The reading half of a split [`WebSocket`]: a [`Stream`] of messages. It drives the
/// connection (answers pings, runs the timers, completes the close) as the whole socket
/// does, so a task that only reads keeps the protocol going.
#[derive(Debug)]
pub struct Reader<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocket`]: a [`Sink`] of messages.
#[derive(Debug)]
pub struct Writer<S> {
    shared: Arc<Shared<S>>,
}

#[derive(Debug)]
struct Shared<S> {
    socket: Mutex<WebSocket<S>>,
    wakers: Arc<Wakers>,
    /// Wakes both halves; what the transport and the timer are polled with.
    both: Waker,
}

/// Which half is polling.
#[derive(Clone, Copy)]
enum Half {
    Reader,
    Writer,
}

#[derive(Debug, Default)]
struct Wakers {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.reader, &self.writer] {
            if let Some(waker) = lock(slot).take() {
                waker.wake();
            }
        }
    }
}

/// A panic in one half while it held a lock leaves the socket in a consistent state
/// (every method leaves it so between calls), so the other half may go on.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn split<S>(socket: WebSocket<S>) -> (Reader<S>, Writer<S>) {
    let wakers = Arc::new(Wakers::default());
    let shared = Arc::new(Shared {
        socket: Mutex::new(socket),
        both: Waker::from(wakers.clone()),
        wakers,
    });
    (
        Reader {
            shared: shared.clone(),
        },
        Writer { shared },
    )
}

impl<S> Shared<S> {
    /// Runs `f` on the socket for `half`, with a context whose waker wakes both halves.
    fn poll<T>(
        &self,
        half: Half,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut WebSocket<S>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let slot = match half {
            Half::Reader => &self.wakers.reader,
            Half::Writer => &self.wakers.writer,
        };
        {
            let mut slot = lock(slot);
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        let mut both = Context::from_waker(&self.both);
        let poll = f(&mut lock(&self.socket), &mut both);
        if poll.is_ready() {
            // Done waiting: wake-ups for the other half's waits should not reach this one.
            *lock(slot) = None;
        }
        poll
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Reader<S> {
    /// The next message; `None` once the connection closed. Cancel safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll(Half::Reader, cx, WebSocket::poll_recv)).await
    }

    /// The next event of any kind (see [`WebSocket::recv_event`]). Cancel safe.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        poll_fn(|cx| {
            self.shared
                .poll(Half::Reader, cx, WebSocket::poll_recv_event)
        })
        .await
    }

    /// The peer's close frame, once it arrived.
    pub fn close_frame(&self) -> Option<CloseFrame> {
        lock(&self.shared.socket).close_frame().cloned()
    }

    /// Whether `writer` is this reader's other half.
    pub fn is_pair_of(&self, writer: &Writer<S>) -> bool {
        Arc::ptr_eq(&self.shared, &writer.shared)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Reader<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll(Half::Reader, cx, WebSocket::poll_recv)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Writer<S> {
    /// Sends a message: waits for room, queues it and flushes (see [`WebSocket::send`]).
    pub fn send(
        &mut self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        self.send_or_feed(message.into(), true)
    }

    /// Queues a message without writing it, once there is room.
    pub fn feed(
        &mut self,
        message: impl Into<Message>,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        self.send_or_feed(message.into(), false)
    }

    fn send_or_feed(
        &mut self,
        message: Message,
        flush: bool,
    ) -> impl Future<Output = Result<(), Error>> + '_ {
        let mut message = Some(message);
        poll_fn(move |cx| {
            self.shared.poll(Half::Writer, cx, |socket, cx| {
                poll_send(&mut socket.driver, &mut message, flush, cx)
            })
        })
    }

    /// Sends a ping and flushes.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        lock(&self.shared.socket).driver.conn.send_ping(payload)?;
        self.flush().await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_out(cx)).await
    }

    /// Sends a close frame and flushes it. The reader completes the handshake: it ends
    /// once the peer answered and the transport is shut down (or the close timeout ran
    /// out), so keep reading until then.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        {
            let mut socket = lock(&self.shared.socket);
            if socket.driver.conn.state() == State::Open {
                socket.driver.conn.close(code, reason)?;
            }
        }
        self.flush().await
    }

    fn poll_ready_send(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Half::Writer, cx, |socket, cx| {
            ready!(socket.driver.poll_below_high_water(cx))?;
            Poll::Ready(Ok(()))
        })
    }

    fn poll_flush_out(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll(Half::Writer, cx, |socket, cx| {
            ready!(socket.driver.poll_write_out(cx))?;
            Poll::Ready(Ok(()))
        })
    }
}

/// As for [`WebSocket`], except that `poll_close` only sends the close frame and flushes:
/// the reader completes the handshake.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for Writer<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_ready_send(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        lock(&self.shared.socket).driver.conn.send(&item)?;
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_out(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        {
            let mut socket = lock(&self.shared.socket);
            if socket.driver.conn.state() == State::Open {
                socket.driver.conn.close(CloseCode::NORMAL, "")?;
            }
        }
        self.poll_flush_out(cx)
    }
}
