//! The connection state machine: ties the handshake, the decoder and the encoder together,
//! answers pings and closes, runs the timers, and tells the driver when to close the
//! transport.
//!
//! A [`Connection`] owns no socket, clock or thread. The driver moves bytes both ways and
//! passes the time in:
//!
//! 1. [`receive`](Connection::receive) what the transport read (any chunking), then
//!    [`poll_event`](Connection::poll_event) until it returns `Ok(None)`;
//! 2. write out [`outbound`](Connection::outbound) and [`advance_outbound`](Connection::advance_outbound)
//!    by what was written;
//! 3. arm a timer for [`poll_timeout`](Connection::poll_timeout) and call
//!    [`handle_timeout`](Connection::handle_timeout) when it passes;
//! 4. close the transport when [`should_close_transport`](Connection::should_close_transport) says so.

use crate::close::{self, CloseCode, CloseFrame, MAX_REASON_LEN};
use crate::config::{Config, Role};
use crate::error::{Error, ProtocolError, Rejection, SendError};
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, apply_mask};
use crate::handshake::{
    self, Accept, ClientOptions, HeadScanner, Negotiated, Reject, Request, Response,
    ResponseParser, Uri,
};
use crate::message::{
    Decoded, DecodedRef, Decoder, FrameChunk, Message, MessageKind, MessageRef, Raw, Span,
};
use crate::rng::BoxedRng;
use crate::utf8::{Utf8Bytes, Utf8Validator};
use alloc::boxed::Box;
use alloc::sync::Arc;
use bytes::{Buf, Bytes, BytesMut};
use core::time::Duration;

#[cfg(feature = "std")]
mod split;
#[cfg(feature = "std")]
pub use split::{ReceiveHalf, SendHalf, SplitError};

/// Buffers up to this size are kept between messages, so that a busy connection allocates
/// nothing per message.
const RETAINED_CAPACITY: usize = 64 * 1024;

/// A larger buffer is kept this long after it was last emptied, so that a connection busy
/// with large messages does not grow a new buffer for each one, and then released at a
/// [`Connection::handle_timeout`], so that a quiet connection holds none.
const BUFFER_LINGER: Duration = Duration::from_secs(1);

/// Something the peer sent, or the connection concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server: a valid upgrade request arrived. Answer it with
    /// [`Connection::accept`] or [`Connection::reject`].
    ///
    /// Shared with the connection, which needs the request to build the response.
    HandshakeRequest(Arc<Request>),
    /// Client: the server accepted the upgrade; the connection is open.
    Connected(Negotiated),
    /// A complete message ([`ReceiveMode::Messages`](crate::ReceiveMode::Messages)).
    Message(Message),
    /// A piece of a data frame ([`ReceiveMode::Frames`](crate::ReceiveMode::Frames)).
    Frame(FrameChunk),
    /// A ping; with [`Config::auto_pong`] the pong is already queued.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer closed (its close frame, whose answer is already queued), or the transport
    /// ended without a close frame ([`CloseCode::ABNORMAL`], 1006, never sent). Nothing
    /// follows it.
    Close(CloseFrame),
}

/// An event whose payload is borrowed from the connection, from
/// [`Connection::poll_borrowed`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BorrowedEvent<'a> {
    /// A complete message.
    Message(MessageRef<'a>),
    /// A ping; with [`Config::auto_pong`] the pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// Any other event, owned.
    Other(Event),
}

/// What one step of the connection produced.
enum Step {
    Event(Event),
    /// Data whose bytes are still in the decoder's buffers.
    Data(Raw),
}

/// The connection's state, as the driver sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// The opening handshake is under way.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// This endpoint sent a close frame and waits for the peer's.
    Closing,
    /// No more frames either way.
    Closed,
}

/// Where the connection is, with what each stage needs.
#[derive(Debug)]
enum Phase {
    /// Server: reading the upgrade request head (the scan resumes where it stopped; the
    /// limits are the config's).
    AwaitRequest(HeadScanner),
    /// Server: the request went to the application, which must accept or reject it.
    AwaitDecision(Arc<Request>),
    /// Client: the request is queued; reading the response head.
    AwaitResponse(Box<ClientHandshake>),
    /// Client: a non-101 response; reading its body (this many bytes) before reporting it.
    RejectionBody(Box<Response>, usize),
    Open,
    /// We sent a close frame; the peer's data is dropped until its close frame.
    CloseSent,
    Closed(Closure),
}

struct ClientHandshake {
    key: [u8; 24],
    options: ClientOptions,
    parser: ResponseParser,
}

impl core::fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The key stays out of logs: with it, a log reader could answer for the server.
        f.debug_struct("ClientHandshake")
            .field("key", &"<redacted>")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A fragmented message this endpoint is sending.
#[derive(Clone, Copy, Debug)]
struct Sending {
    kind: MessageKind,
    /// Its fragments are compressed (RSV1 was set on the first).
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))]
    compressed: bool,
    /// Text: the UTF-8 state after the pieces sent so far.
    utf8: Utf8Validator,
}

/// How the connection came to be closed, which decides who closes the transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closure {
    /// Both close frames were exchanged. The server closes the transport; the client waits
    /// for it (RFC 6455 §7.1.1), up to the close timeout.
    Clean,
    /// Failed by either side, refused at the handshake, or timed out: close now.
    Abrupt,
    /// The transport ended first.
    Dropped,
}

/// See [`Connection`]'s `unsent_pongs`.
#[derive(Clone, Copy, Debug, Default)]
struct UnsentPongs {
    len: u32,
    read: u32,
}

/// Handshake, keepalive, buffer and close timers, as deadlines on the caller's clock.
#[derive(Debug, Default)]
struct Timers {
    /// The handshake timer needs `now` to be armed (at the first `handle_timeout`).
    arm_handshake: bool,
    /// The close timer needs `now` to be armed: ask for an immediate `handle_timeout`.
    arm_close: bool,
    /// The deadline of the phase: the opening handshake's while connecting, the release of
    /// large empty buffers while open, the closing handshake's once a close frame went out
    /// (one phase at a time, so one deadline).
    phase_deadline: Option<Duration>,
    /// When to next look at whether the peer has been quiet or, with `awaiting_pong`, the
    /// time by which it must have sent something after our keepalive ping.
    keepalive_at: Option<Duration>,
    awaiting_pong: bool,
    /// Bytes arrived since the last look.
    activity: bool,
    /// A buffer over [`RETAINED_CAPACITY`] emptied while open: ask for `now` to start its
    /// linger.
    arm_release: bool,
}

/// One WebSocket connection, either side, from the first handshake byte to the close.
///
/// ```
/// use sockless::{Config, Connection, Event, Message, Role};
/// // Both ends in memory; the HTTP upgrade was done elsewhere.
/// let mut client = Connection::open(Role::Client, Config::default());
/// let mut server = Connection::open(Role::Server, Config::default());
/// client.send_text("hello")?;
/// server.receive(&client.take_outbound());
/// match server.poll_event()? {
///     Some(Event::Message(Message::Text(text))) => assert_eq!(text, "hello"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    input: BytesMut,
    /// The size of the input buffer's allocation, which a payload handed out owned keeps
    /// alive: a small one is copied out instead (see `message::MAX_PIN_FACTOR`).
    input_alloc: usize,
    eof: bool,
    /// More input arrived than [`Config::input_limit`] allows; fail once the rest is decoded.
    input_overflow: bool,
    /// A message larger than [`RETAINED_CAPACITY`] went through the input buffer, which may
    /// still pin its allocation even when it reports little capacity: drop it once empty.
    input_oversized: bool,
    decoder: Decoder,
    out: BytesMut,
    /// Auto-pongs at the tail of `out`, unwritten and with nothing after them: how many
    /// bytes they take, and the read whose pings they answer. The first ping of a later
    /// read replaces them all, so a peer that pings without reading is owed the pongs of
    /// one read at most.
    unsent_pongs: UnsentPongs,
    /// Counts reads handed over (wrapping), to tell the pongs of one read from another's.
    reads: u32,
    rng: Option<BoxedRng>,
    /// The fragmented message this endpoint is sending, if any.
    sending_fragmented: Option<Sending>,
    /// permessage-deflate's compressor, once negotiated (and allowed to compress).
    #[cfg(feature = "deflate")]
    deflater: Option<Box<crate::deflate::Deflater>>,
    protocol: Option<Box<str>>,
    timers: Timers,
    /// An error found outside `poll_event` (a timeout), reported by the next call.
    pending_error: Option<Box<Error>>,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("buffered_input", &self.input.len())
            .field("pending_outbound", &self.pending_outbound())
            .finish_non_exhaustive()
    }
}

impl Connection {
    fn new(role: Role, config: Config, phase: Phase, rng: Option<BoxedRng>) -> Connection {
        let phase_connecting = !matches!(phase, Phase::Open);
        let config_handshake_timeout = config.handshake_timeout.is_some();
        Connection {
            role,
            decoder: Decoder::new(role, &config),
            config,
            phase,
            input: BytesMut::new(),
            input_alloc: 0,
            eof: false,
            input_overflow: false,
            input_oversized: false,
            out: BytesMut::new(),
            unsent_pongs: UnsentPongs::default(),
            reads: 0,
            rng,
            sending_fragmented: None,
            #[cfg(feature = "deflate")]
            deflater: None,
            protocol: None,
            timers: Timers {
                arm_handshake: phase_connecting && config_handshake_timeout,
                ..Timers::default()
            },
            pending_error: None,
        }
    }

    /// A server connection that starts by reading the client's HTTP upgrade request.
    pub fn server(config: Config) -> Connection {
        Connection::new(
            Role::Server,
            config,
            Phase::AwaitRequest(HeadScanner::default()),
            None,
        )
    }

    /// A client connection to `uri`; the upgrade request is queued in
    /// [`outbound`](Self::outbound) at once, with a key from the OS random source.
    #[cfg(feature = "std")]
    pub fn client(uri: &Uri, options: ClientOptions, config: Config) -> Connection {
        Connection::client_with_rng(uri, options, config, crate::rng::SystemRng::new())
    }

    /// A client connection whose handshake key and masking keys come from `rng` (RFC 6455
    /// §10.3 wants them unpredictable: use a cryptographically strong source).
    pub fn client_with_rng(
        uri: &Uri,
        options: ClientOptions,
        config: Config,
        rng: impl rand_core::Rng + Send + 'static,
    ) -> Connection {
        let mut rng: BoxedRng = Box::new(rng);
        let key = handshake::generate_key(&mut rng);
        #[cfg(feature = "deflate")]
        let options = match &config.deflate {
            Some(deflate) => options.extension(crate::deflate::client_offer(deflate)),
            None => options,
        };
        let mut conn = Connection::new(Role::Client, config, Phase::Open, None);
        handshake::write_request(uri, &key, &options, &mut conn.out);
        let parser = ResponseParser::new(conn.config.handshake_limits);
        conn.phase = Phase::AwaitResponse(Box::new(ClientHandshake {
            key,
            options,
            parser,
        }));
        conn.rng = Some(rng);
        conn.timers.arm_handshake = conn.config.handshake_timeout.is_some();
        conn
    }

    /// A connection whose handshake was done elsewhere (an HTTP server's upgrade, an
    /// HTTP/2 extended CONNECT stream): it starts open. A client draws masking keys from the
    /// OS random source.
    #[cfg(feature = "std")]
    pub fn open(role: Role, config: Config) -> Connection {
        let rng: Option<BoxedRng> = match role {
            Role::Client => Some(Box::new(crate::rng::SystemRng::new())),
            Role::Server => None,
        };
        Connection::new(role, config, Phase::Open, rng)
    }

    /// [`open`](Self::open) with the caller's random source for masking keys (the only
    /// way to open a client without `std`).
    pub fn open_with_rng(
        role: Role,
        config: Config,
        rng: impl rand_core::Rng + Send + 'static,
    ) -> Connection {
        Connection::new(role, config, Phase::Open, Some(Box::new(rng)))
    }

    /// Records the subprotocol a handshake done elsewhere chose (an HTTP server's upgrade,
    /// an HTTP/2 extended CONNECT), so that [`protocol`](Self::protocol) reports it.
    pub fn set_protocol(&mut self, protocol: Option<&str>) {
        self.protocol = protocol.map(Box::from);
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The subprotocol the handshake settled on, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The state of the connection.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::AwaitRequest(_)
            | Phase::AwaitDecision(_)
            | Phase::AwaitResponse(_)
            | Phase::RejectionBody(..) => State::Connecting,
            Phase::Open => State::Open,
            Phase::CloseSent => State::Closing,
            Phase::Closed(_) => State::Closed,
        }
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed(_))
    }

    /// Whether the driver should now close the transport, after writing out what
    /// [`outbound`](Self::outbound) holds.
    ///
    /// The server closes first after a clean closing handshake; the client waits for the
    /// server to do so (its [`receive_eof`](Self::receive_eof)), or for the close timeout.
    /// After a failure, a refused handshake or a timeout, either side closes at once.
    pub fn should_close_transport(&self) -> bool {
        match self.phase {
            Phase::Closed(Closure::Clean) => self.role == Role::Server || self.eof,
            Phase::Closed(_) => true,
            _ => false,
        }
    }

    // ---- input ----

    /// Hands over bytes read from the transport, in any chunking. They are only buffered:
    /// call [`poll_event`](Self::poll_event) until it returns `Ok(None)` before the next
    /// read, so that the input held stays within one frame plus one read.
    pub fn receive(&mut self, data: &[u8]) {
        if self.accepts_input(data.len()) {
            // Empty, the buffer is a view past the last frame: asking for its whole
            // allocation moves the view back to the front, so that the next frame has all
            // of it rather than only the room after the last one.
            if self.input.is_empty() && !self.input.try_reclaim(data.len().max(self.input_alloc)) {
                // The last buffer is too small, or still shared with payloads the
                // application kept: start one sized to this read, so that a kept payload
                // pins at most the read it came in.
                self.input = BytesMut::with_capacity(data.len());
                self.input_alloc = data.len();
            }
            self.input.extend_from_slice(data);
            self.input_alloc = self.input_alloc.max(self.input.capacity());
        }
    }

    /// Hands over a buffer read from the transport, taking it without a copy when nothing
    /// is buffered already (the common case when events are polled after every read), or
    /// when it is the [`read_buffer`](Self::read_buffer) the connection lent, filled.
    pub fn receive_bytes(&mut self, data: BytesMut) {
        if self.accepts_input(data.len()) {
            if self.input.is_empty() {
                self.input_alloc = data.capacity();
                self.input = data;
            } else {
                // Appends in place when `data` continues the input's own allocation (a
                // filled `read_buffer`), and copies otherwise.
                self.input.unsplit(data);
                self.input_alloc = self.input_alloc.max(self.input.capacity());
            }
        }
    }

    /// Room at the end of the connection's own input buffer to read into: after the part
    /// of a frame that is buffered, or, when nothing is, the whole of a buffer kept from
    /// earlier messages if it has room for `min` bytes. `None` otherwise: read into a buffer
    /// of your own then, so that an idle connection keeps holding no buffer.
    ///
    /// Fill it (tokio's `AsyncReadExt::read_buf` does) and hand it back with
    /// [`receive_bytes`](Self::receive_bytes), which appends it without a copy: a large
    /// frame then goes from the transport to the connection in one copy. While a frame is
    /// partly buffered the room is at least `min` bytes, the buffer growing as
    /// [`receive`](Self::receive) would grow it, but never past what the input limits
    /// still accept (one frame of [`Config::max_frame_size`] plus
    /// [`Config::max_buffered_input`]): asking for more reserves no more, and at the limit
    /// there is no room to lend. The room is only what comes after the bytes received:
    /// what it is filled with is input like any other. Dropping it instead of handing it
    /// back loses nothing.
    ///
    /// # Panics
    /// As [`BytesMut::reserve`] does, if the room cannot be allocated: only possible when
    /// the input limits themselves are near `usize::MAX` and `min` is too.
    pub fn read_buffer(&mut self, min: usize) -> Option<BytesMut> {
        if self.is_closed() || self.input_overflow {
            return None;
        }
        // Bytes past the limit would fail the connection when handed back, so room for
        // them is never worth reserving; a huge `min` must not become a huge allocation.
        // At the limit, no room at all: a read into the caller's own buffer then reports
        // the overflow, where an empty room would look like the end of the stream.
        let allowed = self.config.input_limit().saturating_sub(self.input.len());
        if allowed == 0 {
            return None;
        }
        let min = min.min(allowed);
        if self.input.is_empty() {
            // As in `receive`: the whole allocation, from its front, if nothing shares it.
            if !self.input.try_reclaim(min.max(self.input_alloc)) || self.input.capacity() < min {
                return None;
            }
        } else {
            self.input.reserve(min);
            self.input_alloc = self.input_alloc.max(self.input.capacity());
        }
        Some(self.input.split_off(self.input.len()))
    }

    fn accepts_input(&mut self, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        self.reads = self.reads.wrapping_add(1);
        self.timers.activity = true;
        if self.is_closed() || self.input_overflow {
            return false;
        }
        if self.input.len().saturating_add(len) > self.config.input_limit() {
            self.input_overflow = true;
            return false;
        }
        true
    }

    /// The transport ended (a read returned 0 bytes, or failed). Without a prior close
    /// frame, [`poll_event`](Self::poll_event) reports [`CloseCode::ABNORMAL`] (1006).
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// The next event, decoded from the input received so far.
    ///
    /// `Ok(None)`: nothing more until more input arrives (or a timer fires). `Err`: the
    /// connection failed; every event that arrived before the failure was returned first,
    /// and what the peer is owed (a close frame with the right code, or an HTTP error
    /// response) is queued in [`outbound`](Self::outbound). After an error, `Ok(None)`.
    pub fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        // A server's first event, handed straight back rather than through `step`'s
        // layers, each of which would move the event once more.
        if matches!(self.phase, Phase::AwaitRequest(_)) && self.pending_error.is_none() {
            return self.read_request();
        }
        if let Some((kind, span)) = self.small_message()? {
            return Ok(Some(Event::Message(Decoder::take_small(
                kind,
                span,
                &mut self.input,
                self.input_alloc,
            ))));
        }
        Ok(match self.step()? {
            None => None,
            Some(Step::Event(event)) => Some(event),
            Some(Step::Data(raw)) => Some(
                match self
                    .decoder
                    .take_owned(raw, &mut self.input, self.input_alloc)
                {
                    Decoded::Message(message) => Event::Message(message),
                    Decoded::Chunk(chunk) => Event::Frame(chunk),
                    Decoded::Control(OpCode::Ping, payload) => Event::Ping(payload),
                    Decoded::Control(_, payload) => Event::Pong(payload),
                },
            ),
        })
    }

    /// [`poll_event`](Self::poll_event) with messages, pings and pongs borrowed from the
    /// connection's buffers instead of handed out as [`Bytes`]: valid until the next call,
    /// and free of the reference counting that dominates the cost of small frames. Other
    /// events come as [`BorrowedEvent::Other`].
    ///
    /// ```
    /// use sockless::{BorrowedEvent, Config, Connection, MessageRef, Role};
    /// let mut client = Connection::open(Role::Client, Config::default());
    /// client.send_text("hello")?;
    /// let mut server = Connection::open(Role::Server, Config::default());
    /// server.receive(&client.take_outbound());
    /// match server.poll_borrowed()? {
    ///     Some(BorrowedEvent::Message(MessageRef::Text(text))) => assert_eq!(text, "hello"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_borrowed(&mut self) -> Result<Option<BorrowedEvent<'_>>, Error> {
        if let Some((kind, span)) = self.small_message()? {
            let message = self.decoder.lend_small(kind, span, &self.input);
            return Ok(Some(BorrowedEvent::Message(message)));
        }
        Ok(match self.step()? {
            None => None,
            Some(Step::Event(event)) => Some(BorrowedEvent::Other(event)),
            Some(Step::Data(raw)) => Some(match self.decoder.lend(raw, &self.input) {
                DecodedRef::Message(message) => BorrowedEvent::Message(message),
                DecodedRef::Control(OpCode::Ping, payload) => BorrowedEvent::Ping(payload),
                DecodedRef::Control(_, payload) => BorrowedEvent::Pong(payload),
                DecodedRef::Owned(Decoded::Message(message)) => {
                    BorrowedEvent::Other(Event::Message(message))
                }
                DecodedRef::Owned(Decoded::Chunk(chunk)) => {
                    BorrowedEvent::Other(Event::Frame(chunk))
                }
                DecodedRef::Owned(Decoded::Control(OpCode::Ping, payload)) => {
                    BorrowedEvent::Other(Event::Ping(payload))
                }
                DecodedRef::Owned(Decoded::Control(_, payload)) => {
                    BorrowedEvent::Other(Event::Pong(payload))
                }
            }),
        })
    }

    /// The fast path: a whole small message while open, with nothing else to report.
    #[inline]
    fn small_message(&mut self) -> Result<Option<(MessageKind, Span)>, Error> {
        if !matches!(self.phase, Phase::Open) || self.pending_error.is_some() {
            return Ok(None);
        }
        self.decoder
            .small_message(&mut self.input)
            .map_err(|e| self.fail(e))
    }

    /// The connection logic shared by both ways of handing out events: the handshake,
    /// replies, the close handshake, dropping data after our close.
    fn step(&mut self) -> Result<Option<Step>, Error> {
        if let Some(error) = self.pending_error.take() {
            return Err(*error);
        }
        loop {
            match &mut self.phase {
                Phase::AwaitRequest(_) => return Ok(self.read_request()?.map(Step::Event)),
                Phase::AwaitResponse(_) => return Ok(self.read_response()?.map(Step::Event)),
                Phase::RejectionBody(_, len) => {
                    let len = *len;
                    if self.input.len() < len && !self.eof && !self.input_overflow {
                        return Ok(None);
                    }
                    let body = self.input.split_to(len.min(self.input.len())).freeze();
                    let Phase::RejectionBody(response, _) =
                        core::mem::replace(&mut self.phase, Phase::Closed(Closure::Abrupt))
                    else {
                        unreachable!("matched above")
                    };
                    self.input = BytesMut::new();
                    return Err(Error::Rejected(Box::new(Rejection {
                        response: *response,
                        body,
                    })));
                }
                Phase::AwaitDecision(_) => return Ok(None),
                Phase::Closed(_) => return Ok(None),
                Phase::Open | Phase::CloseSent => {}
            }
            let raw = match self.decoder.decode_raw(&mut self.input) {
                Ok(Some(raw)) => raw,
                Ok(None) => return Ok(self.out_of_input()?.map(Step::Event)),
                Err(e) => return Err(self.fail(e)),
            };
            if let Some(step) = self.handle(raw)? {
                return Ok(Some(step));
            }
        }
    }

    /// What a decoded item means for the connection; `None` when it is dropped.
    #[inline]
    fn handle(&mut self, raw: Raw) -> Result<Option<Step>, Error> {
        let closing = matches!(self.phase, Phase::CloseSent);
        match raw {
            Raw::Whole(_, span) if !closing => {
                self.input_oversized |= span.len > RETAINED_CAPACITY;
                Ok(Some(Step::Data(raw)))
            }
            Raw::Control(OpCode::Close, _) => {
                let Decoded::Control(_, payload) =
                    self.decoder
                        .take_owned(raw, &mut self.input, self.input_alloc)
                else {
                    unreachable!("a control frame stays a control frame")
                };
                self.peer_closed(payload).map(|e| Some(Step::Event(e)))
            }
            // After our close frame, only the peer's close matters (RFC 6455 §1.4).
            _ if closing => {
                self.decoder
                    .take_owned(raw, &mut self.input, self.input_alloc);
                Ok(None)
            }
            Raw::Control(OpCode::Ping, span) => {
                if self.config.auto_pong {
                    self.answer_ping(span);
                }
                Ok(Some(Step::Data(raw)))
            }
            Raw::Owned(Decoded::Message(ref message)) => {
                self.input_oversized |= message.as_bytes().len() > RETAINED_CAPACITY;
                Ok(Some(Step::Data(raw)))
            }
            _ => Ok(Some(Step::Data(raw))),
        }
    }

    /// Queues the pong for a ping whose payload is at `span` in the input.
    fn answer_ping(&mut self, span: Span) {
        let len = span.len;
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..len].copy_from_slice(span.of(&self.input));
        let mut run = self.unsent_pongs;
        if run.read != self.reads {
            // Pongs for an earlier read are still unwritten: the peer is not reading. Answer
            // only the pings of this read (RFC 6455 §5.5.3 allows answering the latest).
            self.out.truncate(self.out.len() - run.len as usize);
            run = UnsentPongs {
                len: 0,
                read: self.reads,
            };
        }
        let start = self.out.len();
        self.write_frame(OpCode::Pong, true, &payload[..len]);
        // Past 4 GiB of pongs from one read (only a read that large could ask for them) the
        // run is no longer tracked, and is simply left to be written.
        run.len = u32::try_from(self.out.len() - start)
            .ok()
            .and_then(|n| run.len.checked_add(n))
            .unwrap_or(0);
        self.unsent_pongs = run;
    }

    /// The decoder needs more bytes than there are.
    fn out_of_input(&mut self) -> Result<Option<Event>, Error> {
        if self.input_overflow {
            let max = self.config.input_limit();
            return Err(self.fail(ProtocolError::InputBufferFull { max }));
        }
        if self.eof {
            return Ok(Some(self.dropped()));
        }
        self.linger_large_buffers();
        Ok(None)
    }

    /// Starts the linger of buffers over [`RETAINED_CAPACITY`] that are empty now, unless
    /// one is running.
    fn linger_large_buffers(&mut self) {
        let t = &self.timers;
        if !matches!(self.phase, Phase::Open) || t.arm_release || t.phase_deadline.is_some() {
            return;
        }
        if self.input_is_large_and_empty()
            || is_large_and_empty(&mut self.out)
            || self.decoder.holds_empty_buffer_over(RETAINED_CAPACITY)
            || self.deflater_holds_over(RETAINED_CAPACITY)
        {
            self.timers.arm_release = true;
        }
    }

    fn input_is_large_and_empty(&mut self) -> bool {
        // `input_alloc` bounds the allocation from above, so a connection that never held a
        // large buffer skips the reclaim. A large payload the application still holds pins
        // the input's allocation, which then cannot be reclaimed to be measured.
        self.input.is_empty()
            && self.input_alloc > RETAINED_CAPACITY
            && (self.input_oversized || is_large_and_empty(&mut self.input))
    }

    /// Releases the buffers over [`RETAINED_CAPACITY`] that are empty.
    fn release_large_buffers(&mut self) {
        if self.input_is_large_and_empty() {
            self.input = BytesMut::new();
            self.input_alloc = 0;
            self.input_oversized = false;
        }
        if is_large_and_empty(&mut self.out) {
            self.out = BytesMut::new();
        }
        self.decoder.shrink(RETAINED_CAPACITY);
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &mut self.deflater {
            deflater.shrink(RETAINED_CAPACITY);
        }
    }

    /// Whether the compressor's output buffer is over `keep` bytes.
    fn deflater_holds_over(&self, keep: usize) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflater.as_ref().is_some_and(|d| d.holds_over(keep));
        #[cfg(not(feature = "deflate"))]
        {
            let _ = keep;
            false
        }
    }

    /// The transport ended without a close frame.
    fn dropped(&mut self) -> Event {
        self.phase = Phase::Closed(Closure::Dropped);
        self.input = BytesMut::new();
        Event::Close(CloseFrame {
            code: CloseCode::ABNORMAL,
            reason: Utf8Bytes::default(),
        })
    }

    fn peer_closed(&mut self, payload: Bytes) -> Result<Event, Error> {
        let frame = match close::parse_payload(payload) {
            Ok(frame) => frame,
            Err(e) => return Err(self.fail(ProtocolError::InvalidClose(e))),
        };
        if matches!(self.phase, Phase::Open) {
            // Echo the code (RFC 6455 §5.5.1); an empty close is answered with an empty one.
            match &frame {
                Some(frame) => self.write_close(frame.code, ""),
                None => self.write_frame(OpCode::Close, true, b""),
            }
        }
        self.phase = Phase::Closed(Closure::Clean);
        self.input = BytesMut::new();
        // A client waits for the server to close the transport, but not forever; a server
        // closes it itself, so nothing is left to time (no close timer, no linger).
        self.timers.phase_deadline = None;
        self.timers.arm_release = false;
        self.timers.arm_close = self.role == Role::Client && self.config.close_timeout.is_some();
        Ok(Event::Close(frame.unwrap_or(CloseFrame {
            code: CloseCode::NO_STATUS,
            reason: Utf8Bytes::default(),
        })))
    }

    /// Fails the connection (RFC 6455 §7.1.7): a close frame with the violation's code,
    /// unless one was sent already, then closed.
    fn fail(&mut self, e: ProtocolError) -> Error {
        self.abort(e.close_code(), "");
        Error::Protocol(e)
    }

    fn abort(&mut self, code: CloseCode, reason: &str) {
        if matches!(self.phase, Phase::Open) {
            self.write_close(code, reason);
        }
        self.phase = Phase::Closed(Closure::Abrupt);
        self.input = BytesMut::new();
        self.timers = Timers::default();
    }

    // ---- opening handshake ----

    fn read_request(&mut self) -> Result<Option<Event>, Error> {
        let Phase::AwaitRequest(scanner) = &mut self.phase else {
            unreachable!("read_request runs in AwaitRequest")
        };
        match handshake::resume_request(scanner, &self.config.handshake_limits, &self.input) {
            Ok(Some((request, n))) => {
                self.input.advance(n);
                let request = Arc::new(request);
                self.phase = Phase::AwaitDecision(request.clone());
                Ok(Some(Event::HandshakeRequest(request)))
            }
            // A read larger than the input limit was refused: the head cannot fit.
            Ok(None) if self.input_overflow => {
                let e = handshake::RequestError::HeadTooLarge;
                e.write_response(&mut self.out);
                self.phase = Phase::Closed(Closure::Abrupt);
                self.input = BytesMut::new();
                Err(Error::Request(e))
            }
            Ok(None) if self.eof => Ok(Some(self.dropped())),
            Ok(None) => Ok(None),
            Err(e) => {
                e.write_response(&mut self.out);
                self.phase = Phase::Closed(Closure::Abrupt);
                self.input = BytesMut::new();
                Err(Error::Request(e))
            }
        }
    }

    fn read_response(&mut self) -> Result<Option<Event>, Error> {
        let response = loop {
            let Phase::AwaitResponse(client) = &mut self.phase else {
                unreachable!("read_response runs in AwaitResponse")
            };
            let (response, n) = match client.parser.parse(&self.input) {
                Ok(Some(done)) => done,
                Ok(None) if self.input_overflow => {
                    self.phase = Phase::Closed(Closure::Abrupt);
                    self.input = BytesMut::new();
                    return Err(Error::Response(handshake::ResponseError::HeadTooLarge));
                }
                Ok(None) if self.eof => return Ok(Some(self.dropped())),
                Ok(None) => return Ok(None),
                Err(e) => {
                    self.phase = Phase::Closed(Closure::Abrupt);
                    self.input = BytesMut::new();
                    return Err(Error::Response(e));
                }
            };
            self.input.advance(n);
            // An interim response (100 Continue, 103 Early Hints) may come before the
            // final one, and a client must read past it (RFC 7231 §6.2); 101 is the final
            // answer to an upgrade.
            if !(100..200).contains(&response.status()) || response.status() == 101 {
                break response;
            }
        };
        if response.status() != 101 {
            let len = response
                .content_length()
                .unwrap_or(0)
                .min(self.config.handshake_limits.max_head_size);
            self.phase = Phase::RejectionBody(Box::new(response), len);
            return self.poll_event();
        }
        let Phase::AwaitResponse(client) = &self.phase else {
            unreachable!("read_response runs in AwaitResponse")
        };
        match handshake::validate_response(&response, &client.key, &client.options) {
            Ok(negotiated) => {
                #[cfg(feature = "deflate")]
                if let Some(config) = self.config.deflate {
                    match crate::deflate::accept_response(&negotiated.extensions, &config) {
                        Ok(Some(params)) => {
                            self.enable_deflate(&params);
                        }
                        Ok(None) => {}
                        Err(e) => {
                            self.phase = Phase::Closed(Closure::Abrupt);
                            self.input = BytesMut::new();
                            return Err(Error::Deflate(e));
                        }
                    }
                }
                self.protocol = negotiated.protocol.as_deref().map(Box::from);
                self.opened();
                Ok(Some(Event::Connected(negotiated)))
            }
            Err(e) => {
                self.phase = Phase::Closed(Closure::Abrupt);
                self.input = BytesMut::new();
                Err(Error::Response(e))
            }
        }
    }

    /// Server: accepts the pending [`Event::HandshakeRequest`], queueing the `101` response.
    /// Frames the client sent right behind its request are decoded next.
    pub fn accept(&mut self, accept: &Accept) -> Result<(), SendError> {
        let Phase::AwaitDecision(request) = &self.phase else {
            return Err(SendError::NoPendingRequest);
        };
        #[cfg(feature = "deflate")]
        if let Some(config) = &self.config.deflate
            && let Some((response, params)) =
                crate::deflate::negotiate(request.extensions(), config)
        {
            accept
                .clone()
                .extension(response)
                .write_response(request, &mut self.out)
                .map_err(SendError::Accept)?;
            self.enable_deflate(&params);
            self.protocol = accept.protocol.as_deref().map(Box::from);
            self.opened();
            return Ok(());
        }
        accept
            .write_response(request, &mut self.out)
            .map_err(SendError::Accept)?;
        self.protocol = accept.protocol.as_deref().map(Box::from);
        self.opened();
        Ok(())
    }

    /// The opening handshake is done: its deadline no longer applies.
    fn opened(&mut self) {
        self.phase = Phase::Open;
        self.timers.arm_handshake = false;
        self.timers.phase_deadline = None;
    }

    /// Server: refuses the pending [`Event::HandshakeRequest`] with an HTTP response; the
    /// connection is closed once it is written.
    pub fn reject(&mut self, reject: &Reject) -> Result<(), SendError> {
        if !matches!(self.phase, Phase::AwaitDecision(_)) {
            return Err(SendError::NoPendingRequest);
        }
        reject.write_response(&mut self.out);
        self.phase = Phase::Closed(Closure::Abrupt);
        self.input = BytesMut::new();
        Ok(())
    }

    /// Turns on permessage-deflate with parameters negotiated elsewhere (an HTTP stack that
    /// did the upgrade, RFC 8441). A server or client `Connection` that does its own
    /// handshake calls this itself when [`Config::deflate`] is set. Frames are compressed
    /// per [`Config::deflate`] (defaults when unset).
    ///
    /// Call it once, before messages flow. Returns whether it took effect: `false`, and
    /// nothing changes, once permessage-deflate is on (a second negotiation cannot replace
    /// the contexts the peer's frames are compressed against) or while a message is being
    /// received or sent in pieces (its frames began under the other rules).
    #[cfg(feature = "deflate")]
    pub fn enable_deflate(&mut self, params: &crate::deflate::DeflateParams) -> bool {
        if self.decoder.deflate_enabled()
            || self.decoder.message_in_progress()
            || self.sending_fragmented.is_some()
        {
            return false;
        }
        let config = self.config.deflate.unwrap_or_default();
        self.decoder.enable_deflate(self.role, params);
        self.deflater = crate::deflate::Deflater::new(self.role, params, &config).map(Box::new);
        true
    }

    // ---- sending ----

    /// Whether a frame with a payload of `len` bytes may be queued now: the connection is
    /// open, and the frame fits under [`Config::max_pending_outbound`].
    fn check_can_send(&self, len: usize) -> Result<(), SendError> {
        match self.phase {
            Phase::Open => {}
            Phase::CloseSent => return Err(SendError::Closing),
            Phase::Closed(_) => return Err(SendError::Closed),
            _ => return Err(SendError::NotOpen),
        }
        let pending = self.out.len();
        let max = self.config.max_pending_outbound;
        if pending.saturating_add(len).saturating_add(MAX_HEADER_LEN) > max {
            return Err(SendError::OutboundFull { pending, max });
        }
        Ok(())
    }

    /// [`check_can_send`](Self::check_can_send) for a whole message: not while a fragmented
    /// one is being sent.
    #[inline]
    fn check_can_send_message(&self, len: usize) -> Result<(), SendError> {
        self.check_can_send(len)?;
        if self.sending_fragmented.is_some() {
            return Err(SendError::MessageInProgress);
        }
        Ok(())
    }

    /// Whether a message payload of `len` bytes goes out compressed (permessage-deflate
    /// negotiated, and the payload worth it).
    #[cfg(feature = "deflate")]
    #[inline]
    fn compresses(&self, len: usize) -> bool {
        self.deflater.as_ref().is_some_and(|d| d.wants(len))
    }

    /// Queues a text message.
    #[inline]
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Queues a binary message.
    #[inline]
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    /// Queues a message of either kind.
    #[inline]
    pub fn send(&mut self, message: &Message) -> Result<(), SendError> {
        self.send_message(message.kind(), message.as_bytes())
    }

    #[inline]
    fn send_message(&mut self, kind: MessageKind, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send_message(payload.len())?;
        #[cfg(feature = "deflate")]
        if self.compresses(payload.len()) {
            return self.write_compressed(kind.opcode(), true, payload);
        }
        self.write_frame(kind.opcode(), true, payload);
        Ok(())
    }

    /// Compresses a message piece and writes it as one frame, RSV1 on a message's first.
    ///
    /// Incompressible data grows (by up to an eighth at level 1), so the limit on what may
    /// be owed is checked again on the compressed piece. A refused piece queues nothing and
    /// resets the compressor: its input is in the compressor's window but never reaches the
    /// peer, and a reset stream refers to nothing before it, which every inflater accepts.
    #[cfg(feature = "deflate")]
    fn write_compressed(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let Some(mut deflater) = self.deflater.take() else {
            self.write_frame(opcode, fin, payload);
            return Ok(());
        };
        let compressed = deflater.compress(payload, fin);
        let pending = self.out.len();
        let max = self.config.max_pending_outbound;
        let result = if pending
            .saturating_add(compressed.len())
            .saturating_add(MAX_HEADER_LEN)
            > max
        {
            deflater.reset();
            Err(SendError::OutboundFull { pending, max })
        } else {
            self.write_frame_with(opcode, fin, opcode != OpCode::Continuation, compressed);
            Ok(())
        };
        self.deflater = Some(deflater);
        result
    }

    /// Queues a message without compressing it, whatever was negotiated: for data that is
    /// already compressed, or secret data next to attacker-chosen data in one context.
    pub fn send_uncompressed(&mut self, message: &Message) -> Result<(), SendError> {
        self.check_can_send_message(message.as_bytes().len())?;
        self.write_frame(message.kind().opcode(), true, message.as_bytes());
        Ok(())
    }

    /// Queues one fragment of a message sent piece by piece: the first call starts a
    /// message of `kind`, later ones continue it, and `fin` ends it. Control frames may be
    /// sent between fragments. For text, the pieces together must be UTF-8; a piece may end
    /// inside a code point, and one that breaks the rule (or a final piece that ends inside
    /// a code point) is refused with [`SendError::InvalidUtf8`], queueing nothing.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.check_can_send(payload.len())?;
        let (opcode, mut sending) = match self.sending_fragmented {
            // A message sent in pieces has no known size: compress it whenever we can.
            None => (
                kind.opcode(),
                Sending {
                    kind,
                    compressed: self.can_compress(),
                    utf8: Utf8Validator::new(),
                },
            ),
            Some(current) if current.kind == kind => (OpCode::Continuation, current),
            Some(_) => return Err(SendError::FragmentKindMismatch),
        };
        if kind == MessageKind::Text {
            // On a copy of the state: a refused piece leaves the message as it was.
            sending
                .utf8
                .feed(payload)
                .and_then(|()| if fin { sending.utf8.finish() } else { Ok(()) })
                .map_err(|_| SendError::InvalidUtf8)?;
        }
        #[cfg(feature = "deflate")]
        if sending.compressed {
            self.write_compressed(opcode, fin, payload)?;
        } else {
            self.write_frame(opcode, fin, payload);
        }
        #[cfg(not(feature = "deflate"))]
        self.write_frame(opcode, fin, payload);
        self.sending_fragmented = if fin { None } else { Some(sending) };
        Ok(())
    }

    fn can_compress(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflater.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// Queues a ping (at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (at most 125 bytes), e.g. as a one-way heartbeat.
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_can_send(payload.len())?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong(payload.len()));
        }
        self.write_frame(opcode, true, payload);
        Ok(())
    }

    /// Starts the closing handshake: queues a close frame with `code` and `reason` (at most
    /// 123 bytes). No data frames may follow; data arriving until the peer's close frame is
    /// dropped.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        // A close is never refused for the output owed: it ends what the connection owes.
        self.check_can_send(0).or_else(|e| match e {
            SendError::OutboundFull { .. } => Ok(()),
            e => Err(e),
        })?;
        if !code.is_valid_on_wire() {
            return Err(SendError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(SendError::ReasonTooLong(reason.len()));
        }
        self.write_close(code, reason);
        self.phase = Phase::CloseSent;
        // While open, the phase deadline may be the linger of large buffers: without a
        // close timeout it must not end the close.
        self.timers.phase_deadline = None;
        self.timers.arm_release = false;
        self.timers.arm_close = self.config.close_timeout.is_some();
        Ok(())
    }

    fn write_close(&mut self, code: CloseCode, reason: &str) {
        let mut body = [0u8; MAX_CONTROL_PAYLOAD];
        body[..2].copy_from_slice(&code.0.to_be_bytes());
        body[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        self.write_frame(OpCode::Close, true, &body[..2 + reason.len()]);
    }

    /// Encodes one frame into the outbound buffer, masked when this is a client.
    #[inline]
    fn write_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.write_frame_with(opcode, fin, false, payload);
    }

    /// The masking key for the next frame: a fresh random one for a client (RFC 6455 §5.3),
    /// none for a server.
    #[inline]
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        self.rng
            .as_mut()
            .filter(|_| self.role == Role::Client)
            .map(|rng| rng.next_u32().to_ne_bytes())
    }

    #[inline]
    fn write_frame_with(&mut self, opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) {
        // Whatever follows queued pongs keeps them: they are no longer at the tail.
        self.unsent_pongs.len = 0;
        let mask = self.next_mask();
        let header = FrameHeader {
            fin,
            rsv1,
            mask,
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return self.write_large_frame(&header, payload);
        }
        // Small frames, the common case, are inlined: the header length is then known to
        // be 2 (or 6 with a mask), so writing it is a store or two instead of a `memcpy`.
        match mask {
            None => {
                let (head, _) = FrameHeader {
                    mask: None,
                    ..header
                }
                .encode();
                self.out.reserve(2 + payload.len());
                self.out.extend_from_slice(&head[..2]);
                self.out.extend_from_slice(payload);
            }
            Some(key) => {
                let (head, _) = FrameHeader {
                    mask: Some(key),
                    ..header
                }
                .encode();
                self.out.reserve(6 + payload.len());
                self.out.extend_from_slice(&head[..6]);
                let start = self.out.len();
                self.out.extend_from_slice(payload);
                apply_mask(&mut self.out[start..], key, 0);
            }
        }
    }

    /// Writes a frame whose payload is over 125 bytes.
    fn write_large_frame(&mut self, header: &FrameHeader, payload: &[u8]) {
        let (head, head_len) = header.encode();
        self.out.reserve(head_len + payload.len());
        self.out.extend_from_slice(&head[..head_len]);
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut self.out[start..], key, 0);
        }
    }

    // ---- output ----

    /// Every byte waiting to be written to the transport, in order: the `101` or an HTTP
    /// error response, frames, replies the connection owes (pongs, close answers).
    ///
    /// Write them out, then [`advance_outbound`](Self::advance_outbound) by what the
    /// transport took; call it after every [`poll_event`](Self::poll_event) loop and every
    /// send, and before closing the transport.
    #[inline]
    pub fn outbound(&self) -> &[u8] {
        &self.out
    }

    /// How many bytes wait to be written: `outbound().len()`, everything owed.
    #[inline]
    pub fn pending_outbound(&self) -> usize {
        self.out.len()
    }

    /// Whether the driver should read from the transport now: false while more than
    /// [`Config::outbound_high_water`] bytes are owed to it. Stop reading until
    /// [`outbound`](Self::outbound) drains below the mark, so that a peer that sends
    /// without reading slows itself down instead of growing what it is owed.
    #[inline]
    pub fn wants_read(&self) -> bool {
        self.out.len() <= self.config.outbound_high_water
    }

    /// Drops the first `n` bytes of [`outbound`](Self::outbound), once the transport
    /// has taken them (a partial write advances by what it wrote).
    ///
    /// # Panics
    /// If `n` exceeds [`pending_outbound`](Self::pending_outbound).
    pub fn advance_outbound(&mut self, n: usize) {
        self.out.advance(n);
        if self.unsent_pongs.len as usize > self.out.len() {
            // Some of them went out: what is left is no longer whole frames to replace.
            self.unsent_pongs.len = 0;
        }
        if self.out.is_empty() {
            self.linger_large_buffers();
        }
    }

    /// Takes every byte waiting to be written at once, as a buffer of its own (for a
    /// driver that hands buffers to its transport, or a test).
    pub fn take_outbound(&mut self) -> BytesMut {
        self.unsent_pongs.len = 0;
        self.out.split()
    }

    /// Frees every buffer that holds nothing, so that an idle connection costs only its
    /// struct (under 512 bytes for a server). Buffers are otherwise kept between messages:
    /// up to 64 KiB each for good, larger ones for a second after they were last used (they
    /// are released at a [`handle_timeout`](Self::handle_timeout) after that), so that a busy
    /// connection allocates nothing per message; call this when a connection goes quiet and
    /// memory matters more (many idle connections).
    pub fn shrink_buffers(&mut self) {
        if self.input.is_empty() {
            self.input = BytesMut::new();
        }
        if self.out.is_empty() {
            self.out = BytesMut::new();
        }
        self.decoder.shrink(0);
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &mut self.deflater {
            deflater.shrink(0);
        }
    }

    // ---- timers ----

    /// The next deadline on the caller's clock (the same clock as `now` in
    /// [`handle_timeout`](Self::handle_timeout)), if any timer runs.
    ///
    /// `Some(Duration::ZERO)` asks for an immediate `handle_timeout`: a timer was started
    /// and needs to learn the current time.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let t = &self.timers;
        let connecting = self.state() == State::Connecting;
        let wants_keepalive = self.config.keepalive.is_some()
            && matches!(self.phase, Phase::Open)
            && t.keepalive_at.is_none();
        if t.arm_close
            || wants_keepalive
            || (connecting && t.arm_handshake)
            || (t.arm_release && matches!(self.phase, Phase::Open))
        {
            return Some(Duration::ZERO);
        }
        // A connection that failed or was refused keeps no deadline: nothing is left to time.
        let phase_deadline = t
            .phase_deadline
            .filter(|_| !self.is_closed() || matches!(self.phase, Phase::Closed(Closure::Clean)));
        let keepalive_at = t.keepalive_at.filter(|_| matches!(self.phase, Phase::Open));
        [phase_deadline, keepalive_at].into_iter().flatten().min()
    }

    /// Runs the timers that are due at `now`: a time on any monotonic clock of the caller's
    /// choosing (e.g. `Instant::now() - start`). Sends keepalive pings, fails a silent peer
    /// with 1011, ends a closing handshake that takes too long, and releases buffers over
    /// 64 KiB a second after they were last used.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.timers.arm_handshake {
            self.timers.arm_handshake = false;
            self.timers.phase_deadline =
                self.config.handshake_timeout.map(|d| now.saturating_add(d));
        }
        if self.timers.arm_close {
            self.timers.arm_close = false;
            self.timers.phase_deadline = self.config.close_timeout.map(|d| now.saturating_add(d));
        }
        if core::mem::take(&mut self.timers.arm_release) && matches!(self.phase, Phase::Open) {
            self.timers.phase_deadline = Some(now.saturating_add(BUFFER_LINGER));
        }
        if let Some(at) = self.timers.phase_deadline
            && now >= at
        {
            self.timers.phase_deadline = None;
            match self.phase {
                _ if self.state() == State::Connecting => {
                    // No answer to a request that never finished arriving, nor to a server
                    // that never answered: close the transport.
                    self.phase = Phase::Closed(Closure::Abrupt);
                    self.input = BytesMut::new();
                    self.pending_error = Some(Box::new(Error::HandshakeTimeout));
                }
                Phase::CloseSent => {
                    self.abort(CloseCode::NORMAL, "");
                    self.pending_error = Some(Box::new(Error::CloseTimeout));
                }
                // A client done with the handshake stops waiting for the server's FIN.
                Phase::Closed(Closure::Clean) => self.phase = Phase::Closed(Closure::Abrupt),
                Phase::Open => self.release_large_buffers(),
                _ => {}
            }
        }
        self.keepalive(now);
    }

    fn keepalive(&mut self, now: Duration) {
        let Some(keepalive) = self.config.keepalive else {
            return;
        };
        if !matches!(self.phase, Phase::Open) {
            self.timers.keepalive_at = None;
            self.timers.awaiting_pong = false;
            return;
        }
        let t = &mut self.timers;
        let heard = core::mem::take(&mut t.activity);
        match t.keepalive_at {
            None => t.keepalive_at = Some(now.saturating_add(keepalive.interval)),
            // A keepalive ping is out: anything at all from the peer will do.
            Some(_) if t.awaiting_pong && heard => {
                t.awaiting_pong = false;
                t.keepalive_at = Some(now.saturating_add(keepalive.interval));
            }
            Some(at) if t.awaiting_pong => {
                if now >= at {
                    self.abort(CloseCode::INTERNAL_ERROR, "keepalive timeout");
                    self.pending_error = Some(Box::new(Error::KeepaliveTimeout));
                }
            }
            Some(at) if now < at => t.activity |= heard,
            Some(_) if heard => t.keepalive_at = Some(now.saturating_add(keepalive.interval)),
            Some(_) => {
                t.awaiting_pong = true;
                t.keepalive_at = Some(now.saturating_add(keepalive.timeout));
                self.write_frame(OpCode::Ping, true, b"");
            }
        }
    }
}

/// Whether `buf` is empty and its allocation is over [`RETAINED_CAPACITY`].
fn is_large_and_empty(buf: &mut BytesMut) -> bool {
    // Drained or split, a buffer reports only the room after its view: reclaiming the whole
    // allocation first (when nothing else shares it) makes its real size what is compared.
    buf.is_empty() && {
        let _ = buf.try_reclaim(RETAINED_CAPACITY + 1);
        buf.capacity() > RETAINED_CAPACITY
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::config::{Keepalive, ReceiveMode};
    use alloc::vec::Vec;

    fn server() -> Connection {
        Connection::open(Role::Server, Config::default())
    }

    fn client() -> Connection {
        Connection::open(Role::Client, Config::default())
    }

    /// Frames as a client sends them (masked).
    fn client_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            mask: Some([9, 8, 7, 6]),
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        let (buf, n) = header.encode();
        let mut out = buf[..n].to_vec();
        let start = out.len();
        out.extend_from_slice(payload);
        apply_mask(&mut out[start..], [9, 8, 7, 6], 0);
        out
    }

    /// Decodes what `conn` wrote, as its peer would.
    fn sent_frames(conn: &mut Connection) -> Vec<Decoded> {
        let peer = match conn.role {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let mut decoder = Decoder::new(peer, &Config::default());
        let mut out = conn.take_outbound();
        let mut frames = Vec::new();
        while let Some(item) = decoder.decode(&mut out).unwrap() {
            frames.push(item);
        }
        assert!(out.is_empty(), "a partial frame was written");
        frames
    }

    fn events(conn: &mut Connection) -> (Vec<Event>, Option<Error>) {
        let mut out = Vec::new();
        loop {
            match conn.poll_event() {
                Ok(Some(event)) => out.push(event),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    fn close_payload(code: u16, reason: &str) -> Vec<u8> {
        let mut p = code.to_be_bytes().to_vec();
        p.extend_from_slice(reason.as_bytes());
        p
    }

    #[test]
    fn read_buffer_is_lent_while_a_frame_is_partly_buffered() {
        let mut conn = server();
        assert!(
            conn.read_buffer(1024).is_none(),
            "an idle connection lends no buffer"
        );
        let frame = client_frame(OpCode::Binary, true, &[5; 300]);
        conn.receive(&frame[..100]);
        assert_eq!(events(&mut conn).0, []);
        let room = conn.read_buffer(1024).expect("a frame is partly buffered");
        assert!(room.is_empty() && room.capacity() >= 1024);
        drop(room);
        conn.receive(&frame[100..]);
        let (got, error) = events(&mut conn);
        assert_eq!(
            got,
            [Event::Message(Message::Binary(alloc::vec![5; 300].into()))]
        );
        assert!(error.is_none());
        // The small buffer kept after the message has no room for such a read.
        assert!(conn.read_buffer(1024).is_none());
    }

    #[test]
    fn read_buffer_reserves_no_more_than_the_input_limits_accept() {
        let config = Config {
            max_frame_size: 4096,
            max_buffered_input: 4096,
            ..Config::default()
        };
        let limit = config.input_limit();
        let mut conn = Connection::open(Role::Server, config.clone());
        let frame = client_frame(OpCode::Binary, true, &[5; 3000]);
        conn.receive(&frame[..100]);
        assert_eq!(events(&mut conn).0, []);
        for min in [limit, usize::MAX, 1 << 40] {
            let room = conn.read_buffer(min).expect("a frame is partly buffered");
            assert!(room.is_empty());
            assert!(
                room.capacity() < 4 * limit,
                "asked for {min}: {} bytes reserved",
                room.capacity()
            );
        }
        // The room is still a read's worth, and the frame still completes through it.
        let mut room = conn.read_buffer(usize::MAX).unwrap();
        room.extend_from_slice(&frame[100..]);
        conn.receive_bytes(room);
        let (got, error) = events(&mut conn);
        assert_eq!(got.len(), 1);
        assert!(error.is_none());

        // Input buffered up to the limit (never polled): no room is lent, so the driver's
        // next read goes through its own buffer and the overflow is reported.
        let mut conn = Connection::open(Role::Server, config);
        let mut flood = Vec::new();
        while flood.len() < limit {
            flood.extend(client_frame(OpCode::Binary, true, &[1; 100]));
        }
        conn.receive(&flood[..limit]);
        assert!(conn.read_buffer(1).is_none());
        conn.receive(&[0x82]);
        assert!(
            events(&mut conn).1.is_some(),
            "the overflow fails the connection"
        );
    }

    /// A server that has received one 200 KB message (its buffer over 64 KiB, now empty),
    /// and that message's frame.
    fn after_a_large_message() -> (Connection, Vec<u8>) {
        let mut conn = server();
        let frame = client_frame(OpCode::Binary, true, &[5; 200_000]);
        conn.receive(&frame);
        assert_eq!(events(&mut conn).0.len(), 1);
        (conn, frame)
    }

    #[test]
    fn read_buffer_lends_a_kept_large_buffer_until_it_is_released() {
        let (mut conn, frame) = after_a_large_message();
        // Lingering: the next read may go straight into it, whole.
        let mut room = conn.read_buffer(64 * 1024).expect("a kept buffer");
        assert!(room.capacity() >= frame.len());
        room.extend_from_slice(&frame);
        conn.receive_bytes(room);
        assert_eq!(events(&mut conn).0.len(), 1);
        conn.handle_timeout(Duration::ZERO);
        conn.handle_timeout(BUFFER_LINGER);
        assert!(conn.read_buffer(64).is_none(), "released: nothing to lend");
    }

    #[test]
    fn a_filled_read_buffer_is_appended_in_place() {
        let mut conn = server();
        let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let frame = client_frame(OpCode::Binary, true, &payload);
        conn.receive(&frame[..64 * 1024]);
        assert_eq!(events(&mut conn).0, []);
        let mut rest = &frame[64 * 1024..];
        while !rest.is_empty() {
            let mut room = conn.read_buffer(64 * 1024).unwrap();
            // The room starts where the buffered bytes end, in the same allocation.
            let end = conn.input.as_ptr().wrapping_add(conn.input.len());
            assert_eq!(room.as_ptr(), end);
            let n = rest.len().min(room.capacity());
            room.extend_from_slice(&rest[..n]);
            let (before, len) = (conn.input.as_ptr(), conn.input.len());
            conn.receive_bytes(room);
            assert_eq!(conn.input.as_ptr(), before, "the input moved: a copy");
            assert_eq!(conn.input.len(), len + n);
            rest = &rest[n..];
            if !rest.is_empty() {
                assert_eq!(events(&mut conn).0, []);
            }
        }
        let (got, error) = events(&mut conn);
        assert_eq!(got, [Event::Message(Message::Binary(payload.into()))]);
        assert!(error.is_none());
    }

    #[test]
    fn a_read_buffer_dropped_or_replaced_loses_nothing() {
        let mut conn = server();
        let frame = client_frame(OpCode::Text, true, "κόσμε".repeat(50).as_bytes());
        conn.receive(&frame[..7]);
        assert_eq!(events(&mut conn).0, []);
        // Dropped unfilled, as a cancelled read does.
        drop(conn.read_buffer(16));
        // Filled past its room, so that it reallocates: appended by a copy instead.
        let mut room = conn.read_buffer(4).unwrap();
        room.extend_from_slice(&frame[7..frame.len() - 10]);
        conn.receive_bytes(room);
        // A buffer of the caller's own.
        conn.receive_bytes(BytesMut::from(&frame[frame.len() - 10..]));
        let (got, error) = events(&mut conn);
        let text = "κόσμε".repeat(50);
        assert_eq!(got, [Event::Message(Message::Text(text.as_str().into()))]);
        assert!(error.is_none());
    }

    #[test]
    fn a_read_buffer_filled_with_invalid_bytes_is_input_like_any_other() {
        let mut conn = server();
        let mut frame = client_frame(OpCode::Text, true, &[b'a'; 40]);
        conn.receive(&frame[..20]);
        assert_eq!(events(&mut conn).0, []);
        // The rest, unmasked to 0xFF after the key: invalid UTF-8.
        let key = [9, 8, 7, 6];
        for (i, b) in frame[20..].iter_mut().enumerate() {
            *b = 0xFF ^ key[(20 - 6 + i) % 4];
        }
        let mut room = conn.read_buffer(64).unwrap();
        room.extend_from_slice(&frame[20..]);
        conn.receive_bytes(room);
        let (got, error) = events(&mut conn);
        assert_eq!(got, []);
        assert!(matches!(
            error,
            Some(Error::Protocol(ProtocolError::InvalidUtf8))
        ));
        assert!(
            conn.read_buffer(64).is_none(),
            "a failed connection lends no buffer"
        );
    }

    #[test]
    fn the_next_frame_starts_at_the_front_of_the_kept_buffer() {
        let mut conn = server();
        let payload_at = |conn: &mut Connection, frame: &[u8]| {
            conn.receive(frame);
            match events(conn).0.as_slice() {
                [Event::Message(message)] => message.as_bytes().as_ptr(),
                other => panic!("{other:?}"),
            }
        };
        let first = payload_at(
            &mut conn,
            &client_frame(OpCode::Binary, true, &[1; 200_000]),
        );
        // Smaller frames in the kept buffer: each at its front (after its 8-byte header),
        // rather than each after the last, which would copy back to the front once the room
        // after them ran out.
        let frame = client_frame(OpCode::Binary, true, &[2; 40_000]);
        for _ in 0..3 {
            let at = payload_at(&mut conn, &frame);
            assert_eq!(at, first.wrapping_sub(6));
        }
    }

    #[test]
    fn large_buffers_linger_a_second_after_their_last_use() {
        let (mut conn, frame) = after_a_large_message();
        // The emptied buffer is over 64 KiB: the linger needs the time to start.
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
        conn.handle_timeout(Duration::from_secs(5));
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(6)));
        // Used again meanwhile: reused, not regrown.
        conn.receive(&frame);
        assert_eq!(events(&mut conn).0.len(), 1);
        conn.handle_timeout(Duration::from_millis(5_999));
        assert!(conn.input.capacity() > RETAINED_CAPACITY || conn.input_oversized);
        conn.handle_timeout(Duration::from_secs(6));
        assert_eq!(conn.input.capacity(), 0, "released at the deadline");
        assert_eq!(conn.poll_timeout(), None);
        // Small buffers are kept for good: no timer for them.
        conn.receive(&client_frame(OpCode::Binary, true, &[3; 1000]));
        assert_eq!(events(&mut conn).0.len(), 1);
        assert_eq!(conn.poll_timeout(), None);
    }

    #[test]
    fn the_close_timer_replaces_the_linger_of_buffers() {
        let mut conn = server();
        conn.receive(&client_frame(OpCode::Binary, true, &[3; 200_000]));
        assert_eq!(events(&mut conn).0.len(), 1);
        conn.handle_timeout(Duration::from_secs(1));
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(2)));
        conn.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
        conn.handle_timeout(Duration::from_secs(1));
        // The close timeout (10 s by default), not the linger, is what is left to time.
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(11)));
        conn.handle_timeout(Duration::from_secs(2));
        assert_eq!(conn.state(), State::Closing);
    }

    #[test]
    fn without_a_close_timeout_the_linger_does_not_end_the_close() {
        let config = Config {
            close_timeout: None,
            ..Config::default()
        };
        let mut conn = Connection::open(Role::Server, config);
        conn.receive(&client_frame(OpCode::Binary, true, &[3; 200_000]));
        assert_eq!(events(&mut conn).0.len(), 1);
        conn.handle_timeout(Duration::from_secs(5));
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(6)));
        conn.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(
            conn.poll_timeout(),
            None,
            "no close timeout: nothing to time"
        );
        conn.handle_timeout(Duration::from_secs(6));
        conn.handle_timeout(Duration::from_secs(3600));
        assert_eq!(events(&mut conn), (alloc::vec![], None));
        assert_eq!(conn.state(), State::Closing);
    }

    #[test]
    fn a_server_closed_cleanly_keeps_no_timer() {
        let close = client_frame(OpCode::Close, true, &[0x03, 0xE8]);
        // It closed first, and the close timer was running.
        let mut conn = server();
        conn.close(CloseCode::NORMAL, "").unwrap();
        conn.handle_timeout(Duration::ZERO);
        conn.receive(&close);
        assert!(matches!(events(&mut conn), (ref e, None) if e.len() == 1));
        assert!(conn.should_close_transport());
        assert_eq!(conn.poll_timeout(), None);
        // The peer closed first while large buffers lingered.
        let mut conn = server();
        conn.receive(&client_frame(OpCode::Binary, true, &[3; 200_000]));
        assert_eq!(events(&mut conn).0.len(), 1);
        conn.handle_timeout(Duration::ZERO);
        conn.receive(&close);
        assert!(matches!(events(&mut conn), (ref e, None) if e.len() == 1));
        assert!(conn.should_close_transport());
        assert_eq!(conn.poll_timeout(), None);
        // A client still waits for the server to close the transport, but not forever.
        let mut conn = Connection::open(Role::Client, Config::default());
        conn.receive(&[0x88, 0x02, 0x03, 0xE8]);
        assert!(matches!(events(&mut conn), (ref e, None) if e.len() == 1));
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn the_compressors_large_buffer_lingers_then_goes() {
        let mut conn = Connection::open(
            Role::Server,
            Config {
                deflate: Some(crate::deflate::DeflateConfig::default()),
                ..Config::default()
            },
        );
        assert!(conn.enable_deflate(&crate::deflate::DeflateParams::default()));
        // Incompressible bytes: the compressed copy is as large as the message.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        conn.send_binary(&noise).unwrap();
        conn.advance_outbound(conn.pending_outbound());
        assert!(conn.deflater_holds_over(RETAINED_CAPACITY));
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
        conn.handle_timeout(Duration::ZERO);
        conn.handle_timeout(BUFFER_LINGER);
        assert!(!conn.deflater_holds_over(RETAINED_CAPACITY));
        assert_eq!(conn.poll_timeout(), None);
        // And shrink_buffers frees it at once.
        conn.send_binary(&noise).unwrap();
        conn.advance_outbound(conn.pending_outbound());
        conn.shrink_buffers();
        assert!(!conn.deflater_holds_over(0));
    }

    #[test]
    fn the_linger_runs_beside_keepalive() {
        let config = Config {
            keepalive: Some(Keepalive {
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
            }),
            ..Config::default()
        };
        let mut conn = Connection::open(Role::Server, config);
        conn.handle_timeout(Duration::ZERO);
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(30)));
        conn.receive(&client_frame(OpCode::Binary, true, &[3; 200_000]));
        assert_eq!(events(&mut conn).0.len(), 1);
        assert_eq!(conn.poll_timeout(), Some(Duration::ZERO));
        conn.handle_timeout(Duration::from_secs(3));
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(4)));
        conn.handle_timeout(Duration::from_secs(4));
        assert_eq!(conn.poll_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(
            conn.pending_outbound(),
            0,
            "no keepalive ping before its time"
        );
    }

    /// Every kind of send a server can make, queued one after the other.
    fn mixed_sends(server: &mut Connection) -> (Bytes, Utf8Bytes) {
        let binary = Bytes::from((0..2000).map(|i| i as u8).collect::<Vec<u8>>());
        let text = Utf8Bytes::from(alloc::string::String::from("é").repeat(750));
        server.send_text("a").unwrap();
        server.send(&Message::Binary(binary.clone())).unwrap();
        server.send_ping(b"p").unwrap();
        server
            .send_uncompressed(&Message::Text(text.clone()))
            .unwrap();
        server
            .send_fragment(MessageKind::Binary, b"fr", false)
            .unwrap();
        server.send_pong(b"q").unwrap();
        server
            .send_fragment(MessageKind::Binary, b"ag", true)
            .unwrap();
        server.send_binary(&alloc::vec![9u8; 70_000]).unwrap();
        server.close(CloseCode::NORMAL, "done").unwrap();
        (binary, text)
    }

    #[test]
    fn the_documented_driving_loop_writes_every_byte_whatever_was_sent() {
        let mut s = server();
        let (binary, text) = mixed_sends(&mut s);
        // The crate documentation's loop: write `outbound()` whole, then advance by
        // `pending_outbound()`.
        let mut wire = Vec::new();
        wire.extend_from_slice(s.outbound());
        s.advance_outbound(s.pending_outbound());
        assert_eq!(s.pending_outbound(), 0);
        let mut c = client();
        c.receive(&wire);
        let (events, error) = events(&mut c);
        assert_eq!(error, None);
        assert_eq!(
            events,
            [
                Event::Message(Message::Text("a".into())),
                Event::Message(Message::Binary(binary)),
                Event::Ping(Bytes::from_static(b"p")),
                Event::Message(Message::Text(text)),
                Event::Pong(Bytes::from_static(b"q")),
                Event::Message(Message::Binary(Bytes::from_static(b"frag"))),
                Event::Message(Message::Binary(Bytes::from(alloc::vec![9u8; 70_000]))),
                Event::Close(CloseFrame {
                    code: CloseCode::NORMAL,
                    reason: "done".into()
                }),
            ]
        );
    }

    #[test]
    fn partial_writes_drained_in_pieces_of_any_size_give_the_same_bytes() {
        let mut whole = server();
        mixed_sends(&mut whole);
        let wire = whole.take_outbound();
        for step in [1, 3, 1000, 2001, usize::MAX] {
            let mut s = server();
            mixed_sends(&mut s);
            let mut got = Vec::new();
            while s.pending_outbound() > 0 {
                let n = s.outbound().len().min(step);
                got.extend_from_slice(&s.outbound()[..n]);
                s.advance_outbound(n);
            }
            assert_eq!(got, wire[..], "pieces of {step}");
        }
    }

    /// A masked text frame whose last byte is invalid UTF-8, fed in two reads: the first
    /// leaves part of it unmasked and validated in place. Once the connection has failed,
    /// nothing can make it hand out those bytes as text.
    #[test]
    fn after_invalid_utf8_nothing_more_is_decoded() {
        let frame = [
            0x81,
            0x84,
            0x11,
            0xC3,
            0xED,
            0xBE,
            0xE2 ^ 0x11,
            0x82 ^ 0xC3,
            0xAC ^ 0xED,
            0xFF ^ 0xBE,
        ];
        let mut s = server();
        s.receive(&frame[..7]);
        assert_eq!(s.poll_event(), Ok(None));
        s.receive(&frame[7..]);
        assert_eq!(
            s.poll_event(),
            Err(Error::Protocol(ProtocolError::InvalidUtf8))
        );
        for _ in 0..3 {
            assert_eq!(s.poll_event(), Ok(None));
            assert!(s.poll_borrowed().unwrap().is_none());
            s.receive(&frame);
        }
        assert_eq!(s.state(), State::Closed);
    }

    #[test]
    fn ping_is_answered_with_a_pong_of_the_same_payload() {
        let mut s = server();
        s.receive(&client_frame(OpCode::Ping, true, b"are you there"));
        let (evs, err) = events(&mut s);
        assert_eq!(evs, [Event::Ping(Bytes::from_static(b"are you there"))]);
        assert!(err.is_none());
        assert_eq!(
            sent_frames(&mut s),
            [Decoded::Control(
                OpCode::Pong,
                Bytes::from_static(b"are you there")
            )]
        );
    }

    #[test]
    fn auto_pong_can_be_turned_off() {
        let config = Config {
            auto_pong: false,
            ..Config::default()
        };
        let mut s = Connection::open(Role::Server, config);
        s.receive(&client_frame(OpCode::Ping, true, b"x"));
        assert_eq!(events(&mut s).0.len(), 1);
        assert!(s.outbound().is_empty());
    }

    #[test]
    fn close_is_answered_with_its_code_and_nothing_follows() {
        let mut s = server();
        let mut input = client_frame(OpCode::Close, true, &close_payload(4000, "bye"));
        input.extend(client_frame(OpCode::Text, true, b"too late"));
        s.receive(&input);
        let (evs, err) = events(&mut s);
        assert!(err.is_none());
        let [Event::Close(frame)] = &evs[..] else {
            panic!("{evs:?}")
        };
        assert_eq!(
            (frame.code, frame.reason.as_str()),
            (CloseCode(4000), "bye")
        );
        assert_eq!(
            sent_frames(&mut s),
            [Decoded::Control(
                OpCode::Close,
                Bytes::from(close_payload(4000, ""))
            )]
        );
        assert_eq!(s.state(), State::Closed);
        assert_eq!(s.send_text("x"), Err(SendError::Closed));
        s.receive(&client_frame(OpCode::Text, true, b"later still"));
        assert_eq!(events(&mut s).0, []);
    }

    #[test]
    fn empty_close_is_answered_empty_and_reported_as_no_status() {
        let mut s = server();
        s.receive(&client_frame(OpCode::Close, true, b""));
        let (evs, _) = events(&mut s);
        assert!(matches!(&evs[..], [Event::Close(f)] if f.code == CloseCode::NO_STATUS));
        assert_eq!(
            sent_frames(&mut s),
            [Decoded::Control(OpCode::Close, Bytes::new())]
        );
    }

    #[test]
    fn events_before_a_violation_are_delivered_first() {
        let mut s = server();
        let mut input = client_frame(OpCode::Text, true, b"first");
        input.extend(client_frame(OpCode::Ping, true, b"p"));
        input.extend(client_frame(OpCode::Continuation, true, b"bad"));
        s.receive(&input);
        let (evs, err) = events(&mut s);
        assert_eq!(evs.len(), 2);
        assert_eq!(
            err,
            Some(Error::Protocol(ProtocolError::ContinuationWithoutMessage))
        );
    }

    fn fails_with(input: &[u8], config: Config, code: u16) -> Error {
        let mut s = Connection::open(Role::Server, config);
        s.receive(input);
        let (_, err) = events(&mut s);
        let err = err.expect("the connection must fail");
        assert_eq!(err.close_code(), Some(CloseCode(code)));
        let frames = sent_frames(&mut s);
        let Some(Decoded::Control(OpCode::Close, payload)) = frames.last() else {
            panic!("no close frame sent: {frames:?}")
        };
        assert_eq!(&payload[..2], &code.to_be_bytes());
        assert!(s.should_close_transport());
        assert_eq!(s.poll_event(), Ok(None));
        err
    }

    #[test]
    fn protocol_violation_sends_close_1002() {
        let mut bad = client_frame(OpCode::Text, true, b"x");
        bad[0] |= 0x20; // RSV2
        fails_with(&bad, Config::default(), 1002);
    }

    #[test]
    fn invalid_utf8_sends_close_1007() {
        fails_with(
            &client_frame(OpCode::Text, true, b"\xc0\xaf"),
            Config::default(),
            1007,
        );
    }

    #[test]
    fn frame_over_limit_sends_close_1009() {
        let config = Config {
            max_frame_size: 4,
            ..Config::default()
        };
        fails_with(&client_frame(OpCode::Binary, true, b"12345"), config, 1009);
    }

    #[test]
    fn close_payload_of_one_byte_sends_1002() {
        fails_with(
            &client_frame(OpCode::Close, true, b"\x03"),
            Config::default(),
            1002,
        );
    }

    #[test]
    fn close_code_not_valid_on_wire_sends_1002() {
        fails_with(
            &client_frame(OpCode::Close, true, &close_payload(1005, "")),
            Config::default(),
            1002,
        );
    }

    #[test]
    fn close_reason_not_utf8_sends_1007() {
        let mut payload = close_payload(1000, "");
        payload.push(0xff);
        fails_with(
            &client_frame(OpCode::Close, true, &payload),
            Config::default(),
            1007,
        );
    }

    #[test]
    fn unread_input_over_limit_sends_1009_after_what_was_decodable() {
        // Room for one 8-byte frame with its header, and 2 bytes more.
        let config = Config {
            max_frame_size: 8,
            max_buffered_input: 2,
            ..Config::default()
        };
        let mut s = Connection::open(Role::Server, config);
        s.receive(&client_frame(OpCode::Text, true, b"ok"));
        s.receive(&client_frame(OpCode::Text, true, b"this one does not fit"));
        let (evs, err) = events(&mut s);
        assert_eq!(evs.len(), 1);
        assert_eq!(err.and_then(|e| e.close_code()), Some(CloseCode(1009)));
    }

    #[test]
    fn data_after_our_close_is_dropped_until_the_peers_close() {
        let mut s = server();
        s.close(CloseCode::GOING_AWAY, "restart").unwrap();
        assert_eq!(s.state(), State::Closing);
        assert_eq!(s.send_text("x"), Err(SendError::Closing));
        let mut input = client_frame(OpCode::Text, true, b"ignored");
        input.extend(client_frame(OpCode::Ping, true, b"ignored"));
        input.extend(client_frame(OpCode::Close, true, &close_payload(1001, "")));
        s.receive(&input);
        let (evs, err) = events(&mut s);
        assert!(err.is_none());
        assert!(matches!(&evs[..], [Event::Close(f)] if f.code == CloseCode::GOING_AWAY));
        // Only our own close went out: no pong, no second close.
        assert_eq!(sent_frames(&mut s).len(), 1);
        assert!(s.should_close_transport());
    }

    #[test]
    fn transport_ending_without_close_reports_1006_and_sends_nothing() {
        let mut s = server();
        s.receive(&client_frame(OpCode::Text, false, b"half a mess"));
        s.receive_eof();
        let (evs, err) = events(&mut s);
        assert!(err.is_none());
        assert!(matches!(&evs[..], [Event::Close(f)] if f.code == CloseCode::ABNORMAL));
        assert!(s.outbound().is_empty());
        assert!(s.should_close_transport());
    }

    #[test]
    fn client_waits_for_the_server_to_close_the_transport() {
        let mut c = client();
        c.close(CloseCode::NORMAL, "").unwrap();
        let mut s = server();
        s.receive(&c.take_outbound());
        events(&mut s);
        assert!(s.should_close_transport());
        c.receive(&s.take_outbound());
        assert!(matches!(&events(&mut c).0[..], [Event::Close(_)]));
        assert_eq!(c.state(), State::Closed);
        assert!(!c.should_close_transport());
        c.receive_eof();
        assert!(c.should_close_transport());
    }

    #[test]
    fn illegal_sends_are_errors_and_write_nothing() {
        let mut s = server();
        assert_eq!(s.send_ping(&[0; 126]), Err(SendError::ControlTooLong(126)));
        assert_eq!(
            s.close(CloseCode::ABNORMAL, ""),
            Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL))
        );
        assert_eq!(
            s.close(CloseCode::NORMAL, &"x".repeat(124)),
            Err(SendError::ReasonTooLong(124))
        );
        s.send_fragment(MessageKind::Text, b"a", false).unwrap();
        let written = s.pending_outbound();
        assert_eq!(s.send_text("b"), Err(SendError::MessageInProgress));
        assert_eq!(
            s.send_fragment(MessageKind::Binary, b"b", true),
            Err(SendError::FragmentKindMismatch)
        );
        assert_eq!(s.pending_outbound(), written);
        let mut pending = Connection::server(Config::default());
        assert_eq!(pending.send_text("x"), Err(SendError::NotOpen));
    }

    #[test]
    fn text_sent_in_fragments_is_validated_across_the_pieces() {
        let mut c = client();
        let euro = "€".as_bytes();
        c.send_fragment(MessageKind::Text, &euro[..1], false)
            .unwrap();
        c.send_fragment(MessageKind::Text, &euro[1..2], false)
            .unwrap();
        let queued = c.pending_outbound();
        // A piece that cannot continue the code point, and a final piece that leaves it
        // unfinished, are refused and queue nothing; the message goes on as before.
        assert_eq!(
            c.send_fragment(MessageKind::Text, b"a", false),
            Err(SendError::InvalidUtf8)
        );
        assert_eq!(
            c.send_fragment(MessageKind::Text, b"", true),
            Err(SendError::InvalidUtf8)
        );
        assert_eq!(c.pending_outbound(), queued);
        c.send_fragment(MessageKind::Text, &euro[2..], true)
            .unwrap();
        let mut s = server();
        s.receive(&c.take_outbound());
        assert_eq!(
            s.poll_event(),
            Ok(Some(Event::Message(Message::Text("€".into()))))
        );
        // Binary fragments are not text.
        c.send_fragment(MessageKind::Binary, &[0xff], true).unwrap();
    }

    #[test]
    fn fragmented_send_reassembles_with_ping_between() {
        let mut c = client();
        c.send_fragment(MessageKind::Text, "κό".as_bytes(), false)
            .unwrap();
        c.send_ping(b"between").unwrap();
        c.send_fragment(MessageKind::Text, "σμε".as_bytes(), true)
            .unwrap();
        let mut s = server();
        s.receive(&c.take_outbound());
        let (evs, _) = events(&mut s);
        assert_eq!(evs.len(), 2);
        assert!(matches!(&evs[1], Event::Message(Message::Text(t)) if t == "κόσμε"));
    }

    #[test]
    fn large_frame_is_unmasked_while_it_is_copied_in() {
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut wire = client_frame(OpCode::Binary, true, &payload);
        // A ping behind it, in the same reads: it must not be unmasked with the frame's key.
        wire.extend(client_frame(OpCode::Ping, true, b"after"));
        for read in [1, 3, 4096, 65536] {
            let mut conn = server();
            let mut events = Vec::new();
            for piece in wire.chunks(read) {
                conn.receive(piece);
                while let Some(event) = conn.poll_event().unwrap() {
                    events.push(event);
                }
            }
            assert_eq!(events.len(), 2, "reads of {read}");
            let Event::Message(Message::Binary(got)) = &events[0] else {
                panic!("{:?}", events[0])
            };
            assert!(got[..] == payload[..], "reads of {read}");
            assert!(matches!(&events[1], Event::Ping(p) if &p[..] == b"after"));
        }
        // Text keeps being unmasked by the decoder, which validates it on the way.
        let mut text = alloc::vec![b'a'; 50_000];
        text[40_000] = 0xFF;
        let wire = client_frame(OpCode::Text, true, &text);
        let mut conn = server();
        let mut result = Ok(None);
        for piece in wire.chunks(4096) {
            conn.receive(piece);
            result = conn.poll_event();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(Error::Protocol(ProtocolError::InvalidUtf8)));
    }

    #[test]
    fn client_frames_are_masked_and_server_frames_are_not() {
        let mut c = client();
        c.send_binary(b"abc").unwrap();
        assert_eq!(c.outbound()[1] & 0x80, 0x80);
        let mut s = server();
        s.send_binary(b"abc").unwrap();
        assert_eq!(s.outbound()[1] & 0x80, 0);
    }

    #[test]
    fn frame_mode_gives_chunks_with_the_same_payload() {
        let config = Config {
            receive_mode: ReceiveMode::Frames,
            ..Config::default()
        };
        let mut s = Connection::open(Role::Server, config);
        let bytes = client_frame(OpCode::Binary, true, b"0123456789");
        let mut got = Vec::new();
        for piece in bytes.chunks(3) {
            s.receive(piece);
            for ev in events(&mut s).0 {
                let Event::Frame(chunk) = ev else { panic!() };
                got.extend_from_slice(&chunk.data);
            }
        }
        assert_eq!(got, b"0123456789");
    }

    fn keepalive_server() -> Connection {
        let config = Config {
            keepalive: Some(Keepalive {
                interval: Duration::from_secs(10),
                timeout: Duration::from_secs(5),
            }),
            ..Config::default()
        };
        Connection::open(Role::Server, config)
    }

    #[test]
    fn keepalive_pings_a_quiet_peer() {
        let mut s = keepalive_server();
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO));
        s.handle_timeout(Duration::from_secs(100));
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(110)));
        s.handle_timeout(Duration::from_secs(110));
        assert_eq!(
            sent_frames(&mut s),
            [Decoded::Control(OpCode::Ping, Bytes::new())]
        );
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(115)));
    }

    #[test]
    fn keepalive_does_not_ping_a_talking_peer() {
        let mut s = keepalive_server();
        s.handle_timeout(Duration::from_secs(0));
        s.receive(&client_frame(OpCode::Text, true, b"hi"));
        events(&mut s);
        s.handle_timeout(Duration::from_secs(10));
        assert!(s.outbound().is_empty());
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(20)));
    }

    #[test]
    fn keepalive_fails_a_silent_peer_with_1011() {
        let mut s = keepalive_server();
        s.handle_timeout(Duration::from_secs(0));
        s.handle_timeout(Duration::from_secs(10));
        sent_frames(&mut s);
        s.handle_timeout(Duration::from_secs(15));
        assert_eq!(s.poll_event(), Err(Error::KeepaliveTimeout));
        let frames = sent_frames(&mut s);
        assert!(
            matches!(&frames[..], [Decoded::Control(OpCode::Close, p)] if p[..2] == 1011u16.to_be_bytes())
        );
        assert!(s.should_close_transport());
    }

    #[test]
    fn keepalive_pong_keeps_the_connection() {
        let mut s = keepalive_server();
        s.handle_timeout(Duration::from_secs(0));
        s.handle_timeout(Duration::from_secs(10));
        s.receive(&client_frame(OpCode::Pong, true, b""));
        events(&mut s);
        s.handle_timeout(Duration::from_secs(15));
        assert_eq!(s.state(), State::Open);
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(25)));
    }

    #[test]
    fn closing_handshake_is_bounded_by_the_close_timeout() {
        let mut s = server();
        s.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(s.poll_timeout(), Some(Duration::ZERO));
        s.handle_timeout(Duration::from_secs(1));
        assert_eq!(s.poll_timeout(), Some(Duration::from_secs(11)));
        s.handle_timeout(Duration::from_secs(11));
        assert_eq!(s.poll_event(), Err(Error::CloseTimeout));
        assert!(s.should_close_transport());
    }

    /// The same stream through `poll_borrowed` and `poll_event` gives the same events, the
    /// same replies and the same end state.
    #[test]
    fn borrowed_events_match_owned_events() {
        let mut input = client_frame(OpCode::Text, true, "κόσμε".as_bytes());
        input.extend(client_frame(OpCode::Binary, false, b"frag"));
        input.extend(client_frame(OpCode::Ping, true, b"ping"));
        input.extend(client_frame(OpCode::Continuation, true, b"mented"));
        input.extend(client_frame(OpCode::Pong, true, b""));
        input.extend(client_frame(OpCode::Binary, true, &[1; 300]));
        input.extend(client_frame(OpCode::Close, true, &close_payload(1000, "")));
        let mut owned = server();
        owned.receive(&input);
        let (expected, err) = events(&mut owned);
        assert!(err.is_none());
        for chunk in [1, 7, input.len()] {
            let mut borrowed = server();
            let mut got = Vec::new();
            for piece in input.chunks(chunk) {
                borrowed.receive(piece);
                while let Some(event) = borrowed.poll_borrowed().unwrap() {
                    got.push(match event {
                        BorrowedEvent::Message(MessageRef::Text(t)) => {
                            Event::Message(Message::Text(t.into()))
                        }
                        BorrowedEvent::Message(MessageRef::Binary(b)) => {
                            Event::Message(Message::Binary(Bytes::copy_from_slice(b)))
                        }
                        BorrowedEvent::Ping(p) => Event::Ping(Bytes::copy_from_slice(p)),
                        BorrowedEvent::Pong(p) => Event::Pong(Bytes::copy_from_slice(p)),
                        BorrowedEvent::Other(event) => event,
                    });
                }
            }
            assert_eq!(got, expected, "chunks of {chunk}");
            assert_eq!(
                borrowed.take_outbound(),
                owned.outbound(),
                "chunks of {chunk}"
            );
            assert_eq!(borrowed.state(), State::Closed);
        }
    }

    #[test]
    fn receive_bytes_takes_the_buffer_without_copying() {
        let mut s = server();
        let buf = BytesMut::from(&client_frame(OpCode::Binary, true, &[5; 64])[..]);
        let payload_addr = buf.as_ptr() as usize + 6;
        s.receive_bytes(buf);
        let Ok(Some(Event::Message(Message::Binary(b)))) = s.poll_event() else {
            panic!()
        };
        assert_eq!(b.as_ptr() as usize, payload_addr);
    }
}
