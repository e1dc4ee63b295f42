//! A whole [`Connection`], handshake included, driven by the fuzzer's bytes: what the peer
//! sends (in chunks of the input's choosing), and what the application does in between
//! (accept or reject, send, close, let time pass, write out part of the output).
//!
//! The driver keeps its own model of the connection (its state, what it should have
//! written, what each call should return) and checks the connection against it after every
//! step:
//!
//! - every call returns what the documented rules say (`SendError`s included), and
//!   `state()` agrees with the events delivered;
//! - messages and frame chunks stay within the configured limits, and text is UTF-8;
//! - nothing is delivered after a `Close` event or an error, and an error's close code is
//!   one that may be sent;
//! - a read of more than the input limit (`max_frame_size` + 14 + `max_buffered_input`)
//!   makes the connection fail (or close), in every phase but a request awaiting the
//!   application's answer; and `InputBufferFull` comes only after more than
//!   `max_buffered_input` bytes were handed over without a complete poll in between (or
//!   while the handshake held them), as `Config::max_buffered_input` promises;
//! - the output is the expected HTTP answer, then (once open) exactly the frames the model
//!   expects (pongs, close replies, what was sent), masked iff the endpoint is a client,
//!   with every ping of a read answered, and the auto-pongs of an earlier read still
//!   entirely unwritten at the tail of the output replaced by the pongs of the next read
//!   that brings pings; `pending_outbound()` is the model's count of bytes owed
//!   and `wants_read()` is false exactly above `outbound_high_water`;
//! - a send that would take the bytes owed past `max_pending_outbound` fails with
//!   `OutboundFull` and queues nothing (a close never does), and a text fragment that does
//!   not continue the message as UTF-8 (per `core::str::from_utf8`) fails with
//!   `InvalidUtf8`;
//! - the handshake times out exactly `handshake_timeout` after the first `handle_timeout`
//!   (which `poll_timeout` asks for at once), with `HandshakeTimeout`, nothing written.
//!
//! Input layout: `[flags][control length: u16 LE][control bytes][wire bytes]`. The flags
//! pick the configuration ([`connection_config`]) and, for a client, what it offers
//! ([`client_options`]); the control bytes are the operations, read by [`Driver::op`]; the
//! wire bytes are what the peer sends. When the operations run out, the rest of the wire is
//! handed over in one read (after accepting a pending request).

use crate::wire::{Inbound, Outbound, SentFrame};
use crate::{
    CLIENT_SEED, Reader, TestRng, TextCarry, client_key, client_options, client_uri,
    connection_config,
};
use bytes::BytesMut;
use core::time::Duration;
use sockless::codec::{MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use sockless::handshake::{
    Accept, ClientOptions, ExtensionOffer, Limits, Reject, Request, parse_request, parse_response,
    validate_response,
};
use sockless::{
    CloseCode, Config, Connection, Error, Event, MAX_REASON_LEN, MessageKind, ProtocolError,
    ReceiveMode, Role, SendError, State,
};

/// Runs one input against an endpoint of `role`.
pub fn run(role: Role, data: &[u8]) {
    let mut input = Reader::new(data);
    let flags = input.u8().unwrap_or(0);
    let control_len = usize::from(input.u16().unwrap_or(0));
    let mut control = Reader::new(input.bytes(control_len));
    let mut wire = Reader::new(input.rest());
    let mut driver = Driver::new(role, flags);
    while let Some(op) = control.u8() {
        driver.op(op, &mut control, &mut wire);
        driver.check_output();
    }
    driver.answer_pending_request();
    driver.feed(wire.rest(), true);
    driver.answer_pending_request();
    driver.drain();
    driver.finish();
}

/// Close codes to send, valid and not; a selector byte of 0xF0 or more reads a raw code.
const CLOSE_CODES: [u16; 16] = [
    1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1009, 1011, 1014, 1015, 1016, 2999, 3000, 4999,
];

/// Statuses to refuse a handshake with.
const REJECT_STATUSES: [u16; 11] = [400, 401, 403, 404, 426, 500, 503, 200, 302, 599, 999];

/// Headers the client handshake writes itself (`ClientOptions::try_header` refuses them).
pub const CLIENT_RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

/// Generous limits for parsing what the library itself wrote.
pub const BIG_LIMITS: Limits = Limits::new()
    .with_max_head_size(1 << 20)
    .with_max_headers(4096);

/// What a client offering exactly `req`'s subprotocols (first occurrences) and extensions
/// would have sent, for checking the answer to `req` as that client.
pub fn options_of(req: &Request) -> ClientOptions {
    let mut opts = ClientOptions::new();
    for p in req.protocols() {
        if !opts.protocols().iter().any(|o| o == p) {
            opts = match opts.try_protocol(p) {
                Ok(o) => o,
                Err(e) => panic!("a subprotocol the parser accepted cannot be offered: {e}"),
            };
        }
    }
    for e in req.extensions() {
        opts = match opts.try_extension(e.clone()) {
            Ok(o) => o,
            Err(err) => panic!("an extension the parser accepted cannot be offered: {err}"),
        };
    }
    opts
}

/// The `Sec-WebSocket-Key` of a parsed request, as the client had it.
pub fn key_of(req: &Request) -> [u8; 24] {
    match req.key().as_bytes().try_into() {
        Ok(key) => key,
        Err(_) => panic!("an accepted key is not 24 bytes: {:?}", req.key()),
    }
}

/// Checks that `http` is exactly one `101` answering `req`, that the client that sent
/// `req` would take, settling on `protocol`.
pub fn check_101(http: &[u8], req: &Request, protocol: Option<&str>) {
    let (resp, n) = match parse_response(http, &BIG_LIMITS) {
        Ok(Some(parsed)) => parsed,
        other => panic!("the 101 does not parse: {other:?}: {http:02x?}"),
    };
    assert_eq!(n, http.len(), "bytes after the 101's head");
    assert_eq!(resp.status(), 101);
    match validate_response(&resp, &key_of(req), &options_of(req)) {
        Ok(negotiated) => assert_eq!(negotiated.protocol.as_deref(), protocol),
        Err(e) => panic!("the client would refuse the 101: {e}: {resp:?}"),
    }
}

/// With `SOCKLESS_FUZZ_TRACE` set, prints what the driver does (for reading a crash or
/// checking what a seed reaches: run the target binary on one input).
fn trace(what: core::fmt::Arguments<'_>) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("SOCKLESS_FUZZ_TRACE").is_some()) {
        eprintln!("{what}");
    }
}

struct Driver {
    role: Role,
    config: Config,
    conn: Connection,
    /// The state the connection should be in.
    state: State,
    /// Server: the request awaiting `accept` or `reject`.
    request: Option<std::sync::Arc<Request>>,
    /// A `Close` event or an error was delivered: nothing may follow.
    finished: bool,
    /// The timeout error the next `poll_event` must return.
    pending: Option<Error>,
    eof: bool,
    /// One read brought more than the input limit: the connection must fail (or close)
    /// once it has delivered what came before, whatever phase it is in.
    overflowed: bool,
    /// Bytes handed over since `poll_event` last ran out of input while open or closing
    /// (everything since the start while connecting, when the head and what follows it may
    /// wait): only over `max_buffered_input` may the input buffer fill.
    unpolled: usize,
    /// The kind of the fragmented message being sent.
    sending: Option<MessageKind>,
    /// The unfinished code point the text fragments sent so far end with.
    text_tail: Vec<u8>,
    text: TextCarry,
    /// Bytes of frames queued and not yet written (once `frames`).
    pending_out: usize,
    /// The auto-pongs at the tail of the output while none of them was written and nothing
    /// was queued after them: their wire length, how many, and the read whose pings they
    /// answer. The first ping of a later read replaces them all.
    unsent_pongs: Option<(usize, usize, u64)>,
    /// Non-empty reads handed over so far.
    reads: u64,
    /// When the opening handshake times out, once the first `handle_timeout` armed it.
    handshake_deadline: Option<Duration>,
    client_options: ClientOptions,
    inbound: Inbound,
    out: Outbound,
    /// The output is frames now (a server's after its 101, a client's after its request).
    frames: bool,
    /// A server's HTTP answer, while it is not a 101.
    http: Vec<u8>,
    /// The status that answer must have.
    http_status: Option<u16>,
    now: Duration,
}

impl Driver {
    fn new(role: Role, flags: u8) -> Driver {
        let config = connection_config(flags);
        let client_options = client_options(flags);
        let conn = match role {
            Role::Server => Connection::server(config.clone()),
            Role::Client => Connection::client_with_rng(
                &client_uri(),
                client_options.clone(),
                config.clone(),
                TestRng::new(CLIENT_SEED),
            ),
        };
        let mut driver = Driver {
            role,
            inbound: Inbound::new(&config),
            config,
            conn,
            state: State::Connecting,
            request: None,
            finished: false,
            pending: None,
            eof: false,
            overflowed: false,
            unpolled: 0,
            sending: None,
            text_tail: Vec::new(),
            text: TextCarry::default(),
            pending_out: 0,
            unsent_pongs: None,
            reads: 0,
            handshake_deadline: None,
            client_options,
            // No configuration here negotiates permessage-deflate: RSV1 is never right.
            out: Outbound::new(role, false),
            frames: false,
            http: Vec::new(),
            http_status: None,
            now: Duration::ZERO,
        };
        if role == Role::Client {
            driver.check_client_request();
        }
        driver
    }

    /// The client's request is queued at once, and is what was asked for.
    fn check_client_request(&mut self) {
        let written = self.conn.take_outbound();
        let (req, n) = match parse_request(&written, &BIG_LIMITS) {
            Ok(Some(parsed)) => parsed,
            other => panic!("the client's request does not parse: {other:?}"),
        };
        assert_eq!(n, written.len(), "bytes after the client's request");
        assert_eq!(req.key().as_bytes(), &client_key()[..]);
        assert_eq!(req.target(), client_uri().resource());
        assert!(
            req.protocols()
                .eq(self.client_options.protocols().iter().map(String::as_str))
        );
        assert_eq!(req.extensions(), self.client_options.extensions());
        assert_eq!(req.origin(), self.client_options.origin_value());
        self.frames = true;
    }

    fn op(&mut self, op: u8, control: &mut Reader<'_>, wire: &mut Reader<'_>) {
        trace(format_args!("op {}", op % 16));
        match op % 16 {
            0 => {
                let n = usize::from(control.u8().unwrap_or(0)) + 1;
                self.feed(wire.bytes(n), true);
            }
            1 => {
                let n = usize::from(control.u16().unwrap_or(0)) + 1;
                self.feed(wire.bytes(n), true);
            }
            2 => {
                // A read without polling in between, which the buffer limit is for.
                let n = usize::from(control.u8().unwrap_or(0)) + 1;
                self.feed(wire.bytes(n), false);
            }
            3 => self.drain(),
            4 => {
                let n = usize::from(control.u8().unwrap_or(0));
                let text = String::from_utf8_lossy(control.bytes(n)).into_owned();
                self.send_message(MessageKind::Text, text.as_bytes());
            }
            5 => {
                let n = usize::from(control.u8().unwrap_or(0));
                let data = control.bytes(n).to_vec();
                self.send_message(MessageKind::Binary, &data);
            }
            6 => {
                let how = control.u8().unwrap_or(0);
                let n = usize::from(control.u8().unwrap_or(0));
                let data = control.bytes(n);
                let fin = how & 2 != 0;
                if how & 0x11 == 0x10 {
                    // Text as raw bytes, UTF-8 or not: `send_fragment` must refuse a piece
                    // that cannot continue the message, and take any other. The held-back
                    // tail no longer continues what was sent; drop it.
                    if self.send_fragment(MessageKind::Text, data, fin) {
                        self.text.commit(Vec::new());
                    }
                } else if how & 1 == 0 {
                    let text = String::from_utf8_lossy(data).into_owned();
                    let (payload, tail) = self.text.piece(&text, usize::from(how >> 2) & 3, fin);
                    if self.send_fragment(MessageKind::Text, &payload, fin) {
                        self.text.commit(tail);
                    }
                } else {
                    self.send_fragment(MessageKind::Binary, data, fin);
                }
            }
            7 => {
                let n = usize::from(control.u8().unwrap_or(0)) % (MAX_CONTROL_PAYLOAD + 6);
                let data = control.bytes(n).to_vec();
                self.send_control(OpCode::Ping, &data);
            }
            8 => {
                let n = usize::from(control.u8().unwrap_or(0)) % (MAX_CONTROL_PAYLOAD + 6);
                let data = control.bytes(n).to_vec();
                self.send_control(OpCode::Pong, &data);
            }
            9 => {
                let selector = control.u8().unwrap_or(0);
                let code = if selector < 0xF0 {
                    CLOSE_CODES[usize::from(selector) % CLOSE_CODES.len()]
                } else {
                    control.u16().unwrap_or(0)
                };
                let n = usize::from(control.u8().unwrap_or(0)) % (MAX_REASON_LEN + 6);
                let reason = String::from_utf8_lossy(control.bytes(n)).into_owned();
                self.close(CloseCode(code), &reason);
            }
            10 => self.accept(control.u8().unwrap_or(0)),
            11 => self.reject(control.u8().unwrap_or(0)),
            12 => {
                self.conn.receive_eof();
                self.eof = true;
                self.drain();
            }
            13 => self.timeout(control.u8().unwrap_or(0)),
            14 => {
                let n = usize::from(control.u16().unwrap_or(0));
                self.write_out(n);
            }
            _ => self.flush(),
        }
    }

    // ---- input and events ----

    /// `Config::max_buffered_input` counts bytes beyond one whole frame and its header; a
    /// control frame may be 125 bytes whatever `max_frame_size` says.
    fn input_limit(&self) -> usize {
        self.config
            .max_frame_size
            .max(MAX_CONTROL_PAYLOAD)
            .saturating_add(MAX_HEADER_LEN)
            .saturating_add(self.config.max_buffered_input)
    }

    fn feed(&mut self, bytes: &[u8], poll: bool) {
        if bytes.len() > self.input_limit() && self.state != State::Closed {
            self.overflowed = true;
        }
        self.unpolled = self.unpolled.saturating_add(bytes.len());
        if !bytes.is_empty() {
            self.reads += 1;
        }
        // Odd-sized reads go through the buffer the connection lends while a frame is
        // partly buffered, as a driver that reads into it does; some ask for far more room
        // than any input limit allows, which must reserve no more than the limit.
        let min = if bytes.len() % 4 == 3 {
            usize::MAX
        } else {
            bytes.len()
        };
        if bytes.len() % 2 == 1
            && let Some(mut room) = self.conn.read_buffer(min)
        {
            room.extend_from_slice(bytes);
            self.conn.receive_bytes(room);
        } else {
            self.conn.receive(bytes);
        }
        if poll {
            self.drain();
        }
    }

    fn drain(&mut self) {
        for _ in 0..1_000_000 {
            match self.conn.poll_event() {
                Ok(None) => {
                    assert!(
                        self.pending.is_none(),
                        "poll_event did not report the timeout: {:?}",
                        self.pending
                    );
                    assert_eq!(
                        self.conn.state(),
                        self.state,
                        "state() disagrees with what was delivered"
                    );
                    // Config::max_buffered_input: a driver that hands over more than the
                    // input limit fails the connection (1009) rather than buffering it.
                    // Only a request awaiting the application's answer may hold that off.
                    assert!(
                        !self.overflowed || self.finished || self.request.is_some(),
                        "a read of more than the input limit ({} bytes) was dropped, yet \
                         the connection neither failed nor closed ({:?})",
                        self.input_limit(),
                        self.state
                    );
                    // Out of input while open or closing: what is buffered is less than a
                    // frame, and the buffer limit counts from here.
                    if matches!(self.state, State::Open | State::Closing) {
                        self.unpolled = 0;
                    }
                    return;
                }
                Ok(Some(event)) => self.event(event),
                Err(e) => self.error(e),
            }
        }
        panic!("poll_event never returned Ok(None)");
    }

    fn event(&mut self, event: Event) {
        trace(format_args!("event {event:?}"));
        assert!(
            !self.finished,
            "an event after a Close event or an error: {event:?}"
        );
        assert!(
            self.pending.is_none(),
            "an event before the timeout's error: {event:?}"
        );
        match event {
            Event::HandshakeRequest(req) => {
                assert_eq!(self.role, Role::Server, "a client got a request");
                assert_eq!(
                    self.state,
                    State::Connecting,
                    "a request after the handshake"
                );
                assert!(self.request.is_none(), "a second request");
                assert_eq!(req.method(), "GET");
                key_of(&req);
                self.request = Some(req);
            }
            Event::Connected(negotiated) => {
                assert_eq!(self.role, Role::Client, "a server got Connected");
                assert_eq!(self.state, State::Connecting, "Connected twice");
                if let Some(p) = &negotiated.protocol {
                    assert!(
                        self.client_options.protocols().contains(p),
                        "settled on subprotocol {p:?}, which was not offered"
                    );
                }
                for e in &negotiated.extensions {
                    assert!(
                        self.client_options
                            .extensions()
                            .iter()
                            .any(|o| o.name.eq_ignore_ascii_case(&e.name)),
                        "settled on extension {e:?}, which was not offered"
                    );
                }
                assert_eq!(self.conn.protocol(), negotiated.protocol.as_deref());
                self.state = State::Open;
            }
            Event::Message(message) => {
                assert_eq!(self.state, State::Open, "a message while {:?}", self.state);
                assert_eq!(self.config.receive_mode, ReceiveMode::Messages);
                self.inbound.message(&message);
            }
            Event::Frame(chunk) => {
                assert_eq!(self.state, State::Open, "a chunk while {:?}", self.state);
                assert_eq!(self.config.receive_mode, ReceiveMode::Frames);
                self.inbound.chunk(&chunk);
            }
            Event::Ping(payload) => {
                assert_eq!(self.state, State::Open, "a ping while {:?}", self.state);
                self.inbound.control(&payload);
                if self.config.auto_pong {
                    self.expect_auto_pong(&payload);
                }
            }
            Event::Pong(payload) => {
                assert_eq!(self.state, State::Open, "a pong while {:?}", self.state);
                self.inbound.control(&payload);
            }
            Event::Close(frame) => {
                if frame.code == CloseCode::ABNORMAL {
                    assert!(
                        self.eof,
                        "1006 (transport ended) before the transport ended"
                    );
                    assert!(frame.reason.is_empty());
                } else {
                    assert!(
                        matches!(self.state, State::Open | State::Closing),
                        "a close frame while {:?}",
                        self.state
                    );
                    if frame.code == CloseCode::NO_STATUS {
                        assert!(frame.reason.is_empty());
                    } else {
                        assert!(
                            frame.code.is_valid_on_wire(),
                            "a close code that may not be sent was delivered: {frame:?}"
                        );
                    }
                    if self.state == State::Open {
                        // The echo (RFC 6455 §5.5.1): the code alone, or nothing.
                        self.expect(if frame.code == CloseCode::NO_STATUS {
                            SentFrame::whole(OpCode::Close, b"")
                        } else {
                            SentFrame::close(frame.code.0, b"")
                        });
                    }
                }
                self.state = State::Closed;
                self.finished = true;
                // The server closes the transport first after a clean close; the client
                // waits for it (RFC 6455 §7.1.1); after a dropped transport, both close.
                let close_now =
                    frame.code == CloseCode::ABNORMAL || self.role == Role::Server || self.eof;
                assert_eq!(
                    self.conn.should_close_transport(),
                    close_now,
                    "should_close_transport after {frame:?}"
                );
            }
            other => panic!("an event of a kind this driver does not know: {other:?}"),
        }
    }

    fn error(&mut self, e: Error) {
        trace(format_args!("error {e:?}"));
        assert!(
            !self.finished,
            "an error after a Close event or an earlier error: {e:?}"
        );
        if let Some(code) = e.close_code() {
            assert!(
                code.is_valid_on_wire(),
                "error {e:?} has close code {code}, which may not be sent"
            );
        }
        if let Some(pending) = self.pending.take() {
            assert_eq!(e, pending, "poll_event did not report the timeout first");
        } else {
            match &e {
                Error::Protocol(p) => {
                    assert!(
                        matches!(self.state, State::Open | State::Closing),
                        "a protocol error while {:?}: {p:?}",
                        self.state
                    );
                    self.check_limit(p);
                    if self.state == State::Open {
                        self.expect(SentFrame::close(p.close_code().0, b""));
                    }
                }
                Error::Request(r) => {
                    assert_eq!(self.role, Role::Server);
                    assert_eq!(self.state, State::Connecting);
                    self.http_status = Some(r.status());
                }
                Error::Response(_) => {
                    assert_eq!(self.role, Role::Client);
                    assert_eq!(self.state, State::Connecting);
                }
                Error::Rejected(r) => {
                    assert_eq!(self.role, Role::Client);
                    assert_eq!(self.state, State::Connecting);
                    assert_ne!(r.response.status(), 101);
                    let announced = r.response.content_length().unwrap_or(0);
                    assert!(
                        r.body.len() <= announced.min(self.config.handshake_limits.max_head_size),
                        "a rejection body longer than announced"
                    );
                }
                other => panic!("an error nothing caused: {other:?}"),
            }
        }
        self.state = State::Closed;
        self.finished = true;
        assert!(
            self.conn.should_close_transport(),
            "after an error the transport should be closed"
        );
    }

    /// A limit error names the configured limit, and only a limit error stops a message.
    fn check_limit(&self, p: &ProtocolError) {
        match *p {
            ProtocolError::FrameTooLarge { len, max } => {
                assert_eq!(max, self.config.max_frame_size);
                assert!(len > max as u64);
            }
            ProtocolError::MessageTooLarge { len, max } => {
                assert_eq!(max, self.config.max_message_size);
                assert!(len > max as u64);
            }
            ProtocolError::TooManyFragments { max } => {
                assert_eq!(max, self.config.max_fragments);
            }
            ProtocolError::InputBufferFull { max } => {
                assert_eq!(max, self.input_limit());
                // The promise of `Config::max_buffered_input`: a driver that polls after
                // every read of at most that many bytes never fills the buffer.
                assert!(
                    self.unpolled > self.config.max_buffered_input,
                    "the input buffer filled ({max} bytes) though only {} bytes arrived \
                     since poll_event last ran out of input, within max_buffered_input {}",
                    self.unpolled,
                    self.config.max_buffered_input
                );
            }
            _ => {}
        }
    }

    // ---- the application's calls ----

    fn can_send(&self) -> Result<(), SendError> {
        match self.state {
            State::Open => Ok(()),
            State::Closing => Err(SendError::Closing),
            State::Closed => Err(SendError::Closed),
            State::Connecting => Err(SendError::NotOpen),
        }
    }

    /// `can_send`, and a frame of `len` payload bytes fits under `max_pending_outbound`
    /// (counting a header of the largest size, as documented).
    fn can_queue(&self, len: usize) -> Result<(), SendError> {
        self.can_send()?;
        let max = self.config.max_pending_outbound;
        if self
            .pending_out
            .saturating_add(len)
            .saturating_add(MAX_HEADER_LEN)
            > max
        {
            return Err(SendError::OutboundFull {
                pending: self.pending_out,
                max,
            });
        }
        Ok(())
    }

    fn send_message(&mut self, kind: MessageKind, payload: &[u8]) {
        let want = self.can_queue(payload.len()).and(match self.sending {
            Some(_) => Err(SendError::MessageInProgress),
            None => Ok(()),
        });
        let got = match kind {
            MessageKind::Text => self
                .conn
                .send_text(core::str::from_utf8(payload).expect("built from a String")),
            MessageKind::Binary => self.conn.send_binary(payload),
        };
        trace(format_args!(
            "send {kind:?} of {} bytes: {got:?}",
            payload.len()
        ));
        assert_eq!(got, want, "sending a {kind:?} message");
        if got.is_ok() {
            self.expect(SentFrame::whole(kind.opcode(), payload));
        }
    }

    /// Whether text `payload` continues the fragments sent so far as UTF-8 (and, if `fin`,
    /// ends the message on a code point), per `core::str::from_utf8`; with the unfinished
    /// code point it then ends with.
    fn continues_text(&self, payload: &[u8], fin: bool) -> Result<Vec<u8>, SendError> {
        let mut all = self.text_tail.clone();
        all.extend_from_slice(payload);
        match core::str::from_utf8(&all) {
            Ok(_) => Ok(Vec::new()),
            Err(e) if e.error_len().is_none() && !fin => Ok(all[e.valid_up_to()..].to_vec()),
            Err(_) => Err(SendError::InvalidUtf8),
        }
    }

    fn send_fragment(&mut self, kind: MessageKind, payload: &[u8], fin: bool) -> bool {
        let mut tail = Vec::new();
        let want = self
            .can_queue(payload.len())
            .and(match self.sending {
                Some(current) if current != kind => Err(SendError::FragmentKindMismatch),
                _ => Ok(()),
            })
            .and_then(|()| match kind {
                MessageKind::Text => self.continues_text(payload, fin).map(|t| tail = t),
                MessageKind::Binary => Ok(()),
            });
        let opcode = match self.sending {
            Some(_) => OpCode::Continuation,
            None => kind.opcode(),
        };
        let got = self.conn.send_fragment(kind, payload, fin);
        trace(format_args!(
            "send {kind:?} fragment {payload:02x?} fin {fin}: {got:?}"
        ));
        assert_eq!(got, want, "sending a {kind:?} fragment");
        if got.is_err() {
            return false;
        }
        self.expect(SentFrame {
            opcode,
            fin,
            payload: payload.to_vec(),
        });
        self.sending = (!fin).then_some(kind);
        self.text_tail = tail;
        true
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) {
        let want = self
            .can_queue(payload.len())
            .and(if payload.len() > MAX_CONTROL_PAYLOAD {
                Err(SendError::ControlTooLong(payload.len()))
            } else {
                Ok(())
            });
        let got = match opcode {
            OpCode::Ping => self.conn.send_ping(payload),
            _ => self.conn.send_pong(payload),
        };
        trace(format_args!(
            "send {opcode:?} of {} bytes: {got:?}",
            payload.len()
        ));
        assert_eq!(got, want, "sending a {opcode:?}");
        if got.is_ok() {
            self.expect(SentFrame::whole(opcode, payload));
        }
    }

    fn close(&mut self, code: CloseCode, reason: &str) {
        // Never refused for the bytes owed: a close ends what the connection owes.
        let want = self.can_send().and_then(|()| {
            if !code.is_valid_on_wire() {
                Err(SendError::InvalidCloseCode(code))
            } else if reason.len() > MAX_REASON_LEN {
                Err(SendError::ReasonTooLong(reason.len()))
            } else {
                Ok(())
            }
        });
        let got = self.conn.close(code, reason);
        trace(format_args!("close {code} {reason:?}: {got:?}"));
        assert_eq!(got, want, "closing with {code} {reason:?}");
        if got.is_ok() {
            self.expect(SentFrame::close(code.0, reason.as_bytes()));
            self.state = State::Closing;
        }
    }

    /// Answers a request still waiting once the operations have run out.
    fn answer_pending_request(&mut self) {
        if self.request.is_some() {
            self.accept(0);
        }
    }

    fn accept(&mut self, how: u8) {
        let offered: Vec<&str> = self.request.iter().flat_map(|r| r.protocols()).collect();
        let offered_ext = self
            .request
            .as_ref()
            .map(|r| r.extensions().to_vec())
            .unwrap_or_default();
        let (accept, protocol, ok) = match how % 6 {
            0 => (Accept::new(), None, true),
            1 => match offered.first() {
                Some(p) => (Accept::new().protocol(*p), Some(p.to_string()), true),
                None => (Accept::new().protocol("chat"), Some("chat".into()), false),
            },
            2 => {
                let p = "x-never-offered";
                let ok = offered.iter().any(|o| *o == p);
                (Accept::new().protocol(p), Some(p.into()), ok)
            }
            3 => match offered_ext.first() {
                Some(e) => (Accept::new().extension(e.clone()), None, true),
                None => (
                    Accept::new().extension(ExtensionOffer::new("permessage-deflate")),
                    None,
                    false,
                ),
            },
            4 => (Accept::new().header("Set-Cookie", "id=1"), None, true),
            _ => (Accept::new().header("Connection", "close"), None, false),
        };
        let got = self.conn.accept(&accept);
        let Some(req) = self.request.take() else {
            assert_eq!(got, Err(SendError::NoPendingRequest));
            return;
        };
        if !ok {
            assert!(
                matches!(got, Err(SendError::Accept(_))),
                "accept({accept:?}) gave {got:?}"
            );
            self.request = Some(req);
            return;
        }
        assert_eq!(got, Ok(()), "accept({accept:?})");
        assert!(self.http.is_empty(), "the server wrote before accepting");
        let written = self.conn.take_outbound();
        check_101(&written, &req, protocol.as_deref());
        assert_eq!(self.conn.protocol(), protocol.as_deref());
        self.frames = true;
        self.state = State::Open;
        self.drain();
    }

    fn reject(&mut self, how: u8) {
        let status = REJECT_STATUSES[usize::from(how) % REJECT_STATUSES.len()];
        let mut reject = Reject::new(status);
        if how & 0x80 != 0 {
            reject = reject.header("X-Reason", "fuzz").body("go away\n");
        }
        let got = self.conn.reject(&reject);
        if self.request.take().is_none() {
            assert_eq!(got, Err(SendError::NoPendingRequest));
            return;
        }
        assert_eq!(got, Ok(()));
        self.http_status = Some(status);
        self.state = State::Closed;
        self.finished = true;
        self.flush();
        assert!(self.conn.should_close_transport());
    }

    /// What `poll_timeout` must say while connecting: at once until the handshake timer
    /// learnt the time, then its deadline (no other timer runs before the connection opens).
    fn check_handshake_timer(&self) {
        if self.state != State::Connecting {
            return;
        }
        let want = match self.config.handshake_timeout {
            None => None,
            Some(_) => Some(self.handshake_deadline.unwrap_or(Duration::ZERO)),
        };
        assert_eq!(
            self.conn.poll_timeout(),
            want,
            "poll_timeout while connecting"
        );
    }

    fn timeout(&mut self, step: u8) {
        self.flush();
        let before = self.conn.state();
        assert_eq!(before, self.state);
        self.check_handshake_timer();
        self.now += Duration::from_millis(u64::from(step) * 50);
        // The first `handle_timeout` while connecting arms the handshake deadline.
        let handshake_due = match self.config.handshake_timeout {
            Some(limit) if before == State::Connecting => {
                let at = *self
                    .handshake_deadline
                    .get_or_insert_with(|| self.now.saturating_add(limit));
                self.now >= at
            }
            _ => false,
        };
        self.conn.handle_timeout(self.now);
        let after = self.conn.state();
        let written = self.conn.take_outbound();
        self.unsent_pongs = None;
        match (before, after) {
            (State::Connecting, State::Connecting) => {
                assert!(
                    !handshake_due,
                    "the handshake did not time out at {:?} (deadline {:?})",
                    self.now, self.handshake_deadline
                );
                assert!(written.is_empty(), "a timer wrote while connecting");
                self.check_handshake_timer();
            }
            (State::Connecting, State::Closed) => {
                assert!(
                    handshake_due,
                    "the handshake timed out at {:?}, before its deadline {:?}",
                    self.now, self.handshake_deadline
                );
                assert!(
                    written.is_empty(),
                    "a handshake timeout wrote {written:02x?}"
                );
                assert!(
                    self.conn.should_close_transport(),
                    "a handshake timeout leaves the transport open"
                );
                self.pending = Some(Error::HandshakeTimeout);
                self.state = State::Closed;
                // The request, if one was waiting, can no longer be answered.
                self.request = None;
            }
            (a, b) if a == b => {
                if !written.is_empty() {
                    assert_eq!(a, State::Open, "a timer wrote while {a:?}");
                    assert!(self.config.keepalive.is_some(), "a ping without keepalive");
                    self.expect(SentFrame::whole(OpCode::Ping, b""));
                }
            }
            (State::Open, State::Closed) => {
                assert!(self.config.keepalive.is_some(), "failed without keepalive");
                self.expect(SentFrame::close(1011, b"keepalive timeout"));
                self.pending = Some(Error::KeepaliveTimeout);
                self.state = State::Closed;
            }
            (State::Closing, State::Closed) => {
                assert!(
                    self.config.close_timeout.is_some(),
                    "closed without a timeout"
                );
                assert!(written.is_empty(), "a second close frame");
                self.pending = Some(Error::CloseTimeout);
                self.state = State::Closed;
            }
            (a, b) => panic!("handle_timeout moved the connection from {a:?} to {b:?}"),
        }
        self.sink(&written);
    }

    // ---- output ----

    /// The endpoint should write `frame` after everything expected so far.
    fn expect(&mut self, frame: SentFrame) {
        self.pending_out += frame.wire_len(self.role);
        // Whatever follows a queued pong keeps it.
        self.unsent_pongs = None;
        self.out.expect(frame);
    }

    /// The automatic answer to a ping: every ping of a read is answered, but the pongs of
    /// an earlier read still entirely unwritten at the tail of the output are dropped first
    /// (RFC 6455 §5.5.3 lets an endpoint answer only the latest ping).
    fn expect_auto_pong(&mut self, payload: &[u8]) {
        let (mut len, mut count, read) = self.unsent_pongs.take().unwrap_or((0, 0, self.reads));
        if read != self.reads {
            for _ in 0..count {
                match self.out.unexpect_last() {
                    Some(pong) if pong.opcode == OpCode::Pong => {}
                    other => panic!("the driver's model lost track of its pongs: {other:?}"),
                }
            }
            self.pending_out -= len;
            (len, count) = (0, 0);
        }
        let pong = SentFrame::whole(OpCode::Pong, payload);
        let pong_len = pong.wire_len(self.role);
        self.expect(pong);
        self.unsent_pongs = Some((len + pong_len, count + 1, self.reads));
    }

    /// The bytes owed agree with the model, and so does `wants_read`.
    fn check_output(&self) {
        let pending = self.conn.pending_outbound();
        assert_eq!(
            pending,
            self.conn.outbound().len(),
            "pending_outbound is not outbound().len()"
        );
        if self.frames {
            assert_eq!(
                pending, self.pending_out,
                "pending_outbound disagrees with the frames queued and not written"
            );
        }
        assert_eq!(
            self.conn.wants_read(),
            pending <= self.config.outbound_high_water,
            "wants_read with {pending} bytes owed, high water {}",
            self.config.outbound_high_water
        );
    }

    fn sink(&mut self, bytes: &[u8]) {
        if self.frames {
            assert!(
                bytes.len() <= self.pending_out,
                "the endpoint wrote {} bytes, more than the {} queued",
                bytes.len(),
                self.pending_out
            );
            self.pending_out -= bytes.len();
            self.out.feed(bytes);
        } else {
            self.http.extend_from_slice(bytes);
        }
    }

    fn flush(&mut self) {
        let written: BytesMut = self.conn.take_outbound();
        // Taken out, the pong is as good as written: a newer ping gets a pong of its own.
        self.unsent_pongs = None;
        self.sink(&written);
    }

    /// A transport that took only `n` bytes.
    fn write_out(&mut self, n: usize) {
        let n = n.min(self.conn.pending_outbound());
        let written = self.conn.outbound()[..n].to_vec();
        self.conn.advance_outbound(n);
        self.sink(&written);
        // A pong that started going out is no longer replaced.
        if self
            .unsent_pongs
            .is_some_and(|(len, _, _)| self.pending_out < len)
        {
            self.unsent_pongs = None;
        }
    }

    fn finish(&mut self) {
        self.flush();
        self.check_output();
        self.out.finish(self.sending.is_some());
        if self.frames {
            assert!(self.http.is_empty());
            return;
        }
        let Some(status) = self.http_status else {
            assert!(
                self.http.is_empty(),
                "the server wrote HTTP without refusing"
            );
            return;
        };
        let (resp, n) = match parse_response(&self.http, &BIG_LIMITS) {
            Ok(Some(parsed)) => parsed,
            other => panic!("the server's refusal does not parse: {other:?}"),
        };
        assert_eq!(resp.status(), status);
        assert_eq!(
            resp.content_length(),
            Some(self.http.len() - n),
            "the refusal's body is not as long as its Content-Length"
        );
    }
}
