//! The one driving loop: a core [`Connection`] over an `AsyncRead + AsyncWrite` transport,
//! with its timers on `tokio::time`. Whole sockets, split halves and the handshakes all go
//! through [`Driver::poll_event`] and [`Driver::poll_write_out`].

use crate::Error;
use sockless::{Connection, Event};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use tokio_util::io::poll_read_buf;

/// One read takes at most this much into a stack buffer, which lives for the one call, so
/// that an idle connection holds no read buffer; and at least this much room is what a read
/// into the connection's own buffer asks for.
const READ_CHUNK: usize = 64 * 1024;

/// Once the connection ended or failed, this long at most goes into writing what the peer
/// is owed (a close frame, an HTTP error response) and shutting the transport down, when
/// the config sets no close timeout.
const FINISH_GRACE: Duration = Duration::from_secs(10);

/// Where the transport is.
#[derive(Debug)]
enum Transport {
    /// Reading and writing.
    Open,
    /// The connection ended (no error) or failed (the error): what it owes the peer is
    /// written out and the transport shut down, until the deadline at most, whether or not
    /// the peer reads; then the error, if any, is reported.
    Finishing(Box<(Option<Error>, Instant)>),
    /// Shut down (or given up on); nothing more is read or written.
    Done,
}

/// The core connection, its transport and its clock.
#[derive(Debug)]
pub(crate) struct Driver<S> {
    pub(crate) io: S,
    /// Boxed so that moving the driver (from a handshake future into the socket, into a
    /// split half) moves a pointer, and futures that hold a driver stay small.
    pub(crate) conn: Box<Connection>,
    /// The origin of the connection's clock (`poll_timeout` and `handle_timeout` count from
    /// it).
    start: Instant,
    /// Allocated the first time the connection asks for a deadline, then reset in place.
    sleep: Option<Pin<Box<Sleep>>>,
    /// Bytes were written since the last successful flush.
    unflushed: bool,
    transport: Transport,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    pub(crate) fn new(io: S, conn: Connection, start: Instant) -> Driver<S> {
        Driver {
            io,
            conn: Box::new(conn),
            start,
            sleep: None,
            unflushed: false,
            transport: Transport::Open,
        }
    }

    /// The connection's clock now.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether the transport was shut down (or given up on).
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.transport, Transport::Done)
    }

    /// Writes everything the connection owes and flushes the transport. Ready once nothing
    /// is pending; pending while the transport takes no more (the waker is registered).
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.is_done() {
            return Poll::Ready(Ok(()));
        }
        while !self.conn.outbound().is_empty() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, self.conn.outbound()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.advance_outbound(n);
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes until the output is under the core's high-water mark (or empty): what
    /// `Sink::poll_ready` and `send` wait for.
    pub(crate) fn poll_below_high_water(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let high_water = self.conn.config().outbound_high_water;
        while self.conn.pending_outbound() > high_water {
            ready!(self.poll_write_some(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// One write of what is pending.
    fn poll_write_some(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let n = ready!(Pin::new(&mut self.io).poll_write(cx, self.conn.outbound()))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        self.conn.advance_outbound(n);
        self.unflushed = true;
        Poll::Ready(Ok(()))
    }

    /// Drives the connection until it has an event: writes what it owes, reads when it
    /// wants input, runs its timers (`timers`: the split writer leaves them to the reader).
    /// `Ready(Ok(None))` once the transport is shut down; an error is reported once, after
    /// what the peer was owed is written.
    ///
    /// Cancel safe: every byte read is in the connection before this returns, and an
    /// event leaves the connection only in the `Ready` it is returned in.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        timers: bool,
    ) -> Poll<Result<Option<Event>, Error>> {
        loop {
            if !matches!(self.transport, Transport::Open) {
                return self.poll_finish(cx);
            }
            match self.conn.poll_event() {
                Ok(Some(event)) => return Poll::Ready(Ok(Some(event))),
                Ok(None) => {}
                Err(e) => {
                    self.fail(Error::Protocol(e));
                    continue;
                }
            }
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                return self.abandon(Error::Io(e));
            }
            if self.conn.should_close_transport() {
                // What is still owed (the close reply) goes out within a deadline: a peer
                // that stops reading must not hold the connection open.
                self.finish(None);
                continue;
            }
            if timers && self.poll_timer(cx).is_ready() {
                continue;
            }
            if !self.conn.wants_read() {
                // Over the high-water mark: the pending write wakes this task.
                return Poll::Pending;
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => self.conn.receive_eof(),
                // A reset is the peer going away without a close frame: the core reports
                // it as a closure with 1006, as it does for a plain end of stream.
                Poll::Ready(Err(e)) if is_disconnect(&e) => self.conn.receive_eof(),
                Poll::Ready(Err(e)) => return self.abandon(Error::Io(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// One read, handed to the connection; `Ready(Ok(false))` at the end of the stream.
    ///
    /// While part of a frame is buffered, or a large buffer is kept from the last messages,
    /// the read goes into the room in the connection's own buffer, so that a large frame is
    /// copied once, from the transport. Otherwise it goes through a stack buffer, so that an
    /// idle connection holds none.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        if let Some(mut room) = self.conn.read_buffer(READ_CHUNK) {
            // Pending: nothing was read, and dropping the room loses nothing.
            let n = ready!(poll_read_buf(Pin::new(&mut self.io), cx, &mut room))?;
            self.conn.receive_bytes(room);
            return Poll::Ready(Ok(n > 0));
        }
        let mut scratch = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut scratch);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf))?;
        self.conn.receive(buf.filled());
        Poll::Ready(Ok(!buf.filled().is_empty()))
    }

    /// Polls the timer for the connection's next deadline; when it fires, hands the time to
    /// the connection. Ready if a deadline passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        // A deadline too far out for the clock is as good as none.
        let Some(at) = self.start.checked_add(deadline) else {
            return Poll::Pending;
        };
        ready!(self.poll_sleep(cx, at));
        let now = self.now();
        self.conn.handle_timeout(now);
        Poll::Ready(())
    }

    fn poll_sleep(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                sleep
            }
            none => none.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        sleep.as_mut().poll(cx)
    }

    /// The connection failed: write what it owes the peer, for a bounded time, then report.
    fn fail(&mut self, error: Error) {
        self.finish(Some(error));
    }

    /// The connection ended (`None`) or failed: what it owes the peer is written and the
    /// transport shut down for a bounded time, then the end (or the error) is reported.
    fn finish(&mut self, error: Option<Error>) {
        let grace = self.conn.config().close_timeout.unwrap_or(FINISH_GRACE);
        let deadline = Instant::now()
            .checked_add(grace)
            .unwrap_or_else(Instant::now);
        self.transport = Transport::Finishing(Box::new((error, deadline)));
    }

    /// The transport itself failed: nothing more can be written. The connection learns that
    /// its transport is gone, so that it refuses sends instead of queueing bytes that can
    /// never go out.
    fn abandon(&mut self, error: Error) -> Poll<Result<Option<Event>, Error>> {
        self.transport = Transport::Done;
        self.conn.receive_eof();
        // Up to the closure it reports (1006): what was still buffered can no longer be
        // delivered once the error is.
        while let Ok(Some(event)) = self.conn.poll_event() {
            if matches!(event, Event::Close(_)) {
                break;
            }
        }
        Poll::Ready(Err(error))
    }

    /// Writes what is owed, shuts the transport down, then reports the failure if there was
    /// one (or the end of the stream).
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Event>, Error>> {
        if let Transport::Finishing(finishing) = &self.transport {
            let deadline = finishing.1;
            if self.poll_sleep(cx, deadline).is_ready() {
                // The peer does not take what it is owed: give up on it.
                return self.report();
            }
        }
        if matches!(self.transport, Transport::Done) {
            return Poll::Ready(Ok(None));
        }
        match ready!(self.poll_write_out(cx)) {
            Ok(()) => {}
            Err(_) => return self.report(),
        }
        // A transport that is already gone has nothing left to shut down.
        let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
        self.report()
    }

    fn report(&mut self) -> Poll<Result<Option<Event>, Error>> {
        match std::mem::replace(&mut self.transport, Transport::Done) {
            Transport::Finishing(finishing) => match finishing.0 {
                Some(error) => Poll::Ready(Err(error)),
                None => Poll::Ready(Ok(None)),
            },
            _ => Poll::Ready(Ok(None)),
        }
    }
}

/// The ways a peer's disappearance shows up in a read.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}
