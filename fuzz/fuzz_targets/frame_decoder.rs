//! Arbitrary bytes into an open `Connection` (the public path to the frame decoder), in
//! chunks whose sizes come from the input.
//!
//! Input: `[flags][n][n chunk sizes][bytes]`. Flags bit 0: the connection is a server's
//! (expects masked frames), else a client's; bit 1: `ReceiveMode::Frames`; bits 2-3: one of
//! four sets of limits, small enough to be reached; bit 4: the output is written out after
//! each read's events (else only at the end); bit 5: `auto_pong` off.
//!
//! Checks:
//! - every message is within `max_message_size` and text is UTF-8 per
//!   `core::str::from_utf8`; frame chunks stay within `max_frame_size`, `max_message_size`
//!   and `max_fragments`, arrive in order and are valid UTF-8 so far; control payloads are
//!   at most 125 bytes; limit errors name the configured limit;
//! - the events before an error are returned first, and how the input is chunked changes
//!   neither them nor the error: the same events (in frames mode: the same whole frames,
//!   once their chunks are put together) and the same error as handing it over in one
//!   piece;
//! - after the first error, or a `Close` event, nothing is ever decoded again, whatever is
//!   fed (the rest of the input, a valid frame, the end of the transport), and nothing more
//!   is written;
//! - the output is, per write, a pong for every ping of the last read that brought pings
//!   (the unwritten pongs of an earlier read are replaced by a later read's), then the
//!   close frame: the echo of the peer's code, or the error's code;
//!   checked by `wire::Outbound` (masking direction, framing rules);
//! - the end of the transport without a close gives `Close(1006)`, and nothing is written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockless::codec::{FrameHeader, OpCode};
use sockless::{
    CloseCode, Config, Connection, Error, Event, MessageKind, ProtocolError, ReceiveMode, Role,
    State,
};
use sockless_fuzz::wire::{Inbound, Outbound, SentFrame, peer};
use sockless_fuzz::{Reader, TestRng, chunk_size};

fn config(flags: u8) -> Config {
    let mut config = Config::default();
    if flags & 2 != 0 {
        config.receive_mode = ReceiveMode::Frames;
    }
    config.auto_pong = flags & 0x20 == 0;
    let (frame, message, fragments) = match (flags >> 2) & 3 {
        0 => (16, 40, 4),
        1 => (125, 300, 8),
        2 => (70_000, 100_000, 1000),
        _ => (64, 64, 2),
    };
    config.max_frame_size = frame;
    config.max_message_size = message;
    config.max_fragments = fragments;
    // `max_buffered_input` stays at its default (1 MiB, far over any input here), so that
    // handing the input over whole is never refused where chunks would not be, and the
    // two runs can be compared.
    config
}

/// What a connection delivered, with frame chunks put back into frames.
#[derive(Debug, PartialEq)]
enum Item {
    /// A whole frame (frames mode), from its chunks.
    Frame(FrameHeader, MessageKind, Vec<u8>),
    /// The chunks so far of a frame that did not end.
    Partial(FrameHeader, MessageKind, Vec<u8>),
    Event(Event),
}

/// A frame `sender` would send, with a fixed mask if it is a client.
fn frame_from(sender: Role, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0xA5, 0x5A, 0x0F, 0xF0];
    let mask = (sender == Role::Client).then_some(key);
    let (head, n) = FrameHeader {
        mask,
        ..FrameHeader::new(opcode, payload.len() as u64)
    }
    .encode();
    let mut out = head[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        sockless::codec::apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A limit error names the configured limit.
fn check_limit(config: &Config, e: &ProtocolError) {
    match *e {
        ProtocolError::FrameTooLarge { len, max } => {
            assert_eq!(max, config.max_frame_size);
            assert!(len > max as u64);
        }
        ProtocolError::MessageTooLarge { len, max } => {
            assert_eq!(max, config.max_message_size);
            assert!(len > max as u64);
        }
        ProtocolError::TooManyFragments { max } => assert_eq!(max, config.max_fragments),
        ProtocolError::InputBufferFull { max } => {
            panic!(
                "the input buffer filled ({max}) though a frame's worth of input plus 1 MiB never arrived"
            )
        }
        _ => {}
    }
}

/// Hands `bytes` to a connection of `role` in chunks of `sizes` (all at once without
/// sizes), checking each event and what it writes; returns what it delivered and the error
/// it failed with.
fn run(
    role: Role,
    config: &Config,
    bytes: &[u8],
    sizes: &[u8],
    write_between_reads: bool,
) -> (Vec<Item>, Option<ProtocolError>) {
    let mut conn = match role {
        Role::Server => Connection::open(Role::Server, config.clone()),
        Role::Client => Connection::open_with_rng(Role::Client, config.clone(), TestRng::new(7)),
    };
    let mut inbound = Inbound::new(config);
    let mut out = Outbound::new(role, false);
    let mut items: Vec<Item> = Vec::new();
    let mut error = None;
    // A `Close` event or an error ended the connection.
    let mut ended = false;
    // The pings whose pongs are owed since the last write (all of one read: the read's
    // number and their payloads), and the close frame owed.
    let mut owed_pongs: (usize, Vec<Vec<u8>>) = (0, Vec::new());
    let mut close_owed = None;
    let write = |conn: &mut Connection,
                 out: &mut Outbound,
                 owed_pongs: &mut (usize, Vec<Vec<u8>>),
                 close_owed: &mut Option<SentFrame>| {
        for ping in owed_pongs.1.drain(..) {
            out.expect(SentFrame::whole(OpCode::Pong, &ping));
        }
        if let Some(close) = close_owed.take() {
            out.expect(close);
        }
        out.feed(&conn.take_outbound());
    };

    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunk_size(sizes, i).unwrap_or(rest.len()).min(rest.len());
        i += 1;
        conn.receive(&rest[..n]);
        rest = &rest[n..];
        loop {
            match conn.poll_event() {
                Ok(None) => break,
                Ok(Some(event)) => {
                    assert!(!ended, "an event after the end: {event:?}");
                    match &event {
                        Event::Message(m) => {
                            assert_eq!(config.receive_mode, ReceiveMode::Messages);
                            inbound.message(m);
                        }
                        Event::Frame(c) => {
                            assert_eq!(config.receive_mode, ReceiveMode::Frames);
                            inbound.chunk(c);
                            match items.last_mut() {
                                Some(Item::Partial(header, _, data)) if c.offset > 0 => {
                                    assert_eq!(*header, c.header, "chunks of two frames");
                                    data.extend_from_slice(&c.data);
                                }
                                _ => {
                                    assert_eq!(c.offset, 0, "a frame's first chunk at {c:?}");
                                    items.push(Item::Partial(c.header, c.kind, c.data.to_vec()));
                                }
                            }
                            if c.is_last {
                                let Some(Item::Partial(header, kind, data)) = items.pop() else {
                                    unreachable!("pushed above")
                                };
                                items.push(Item::Frame(header, kind, data));
                            }
                            continue;
                        }
                        Event::Ping(p) => {
                            inbound.control(p);
                            if config.auto_pong {
                                if owed_pongs.0 != i {
                                    owed_pongs = (i, Vec::new());
                                }
                                owed_pongs.1.push(p.to_vec());
                            }
                        }
                        Event::Pong(p) => inbound.control(p),
                        Event::Close(frame) => {
                            if frame.code == CloseCode::NO_STATUS {
                                assert!(frame.reason.is_empty());
                                close_owed = Some(SentFrame::whole(OpCode::Close, b""));
                            } else {
                                assert!(
                                    frame.code.is_valid_on_wire(),
                                    "a close code that may not be sent: {frame:?}"
                                );
                                close_owed = Some(SentFrame::close(frame.code.0, b""));
                            }
                            assert_eq!(conn.state(), State::Closed);
                            assert_eq!(conn.should_close_transport(), role == Role::Server);
                            ended = true;
                        }
                        other => panic!("an open connection delivered {other:?}"),
                    }
                    items.push(Item::Event(event));
                }
                Err(Error::Protocol(e)) => {
                    assert!(!ended, "an error after the end: {e:?}");
                    let code = e.close_code();
                    assert!(code.is_valid_on_wire(), "{e:?} sends {code}");
                    check_limit(config, &e);
                    close_owed = Some(SentFrame::close(code.0, b""));
                    assert_eq!(conn.state(), State::Closed);
                    assert!(conn.should_close_transport());
                    error = Some(e);
                    ended = true;
                }
                Err(other) => panic!("an open connection failed with {other:?}"),
            }
        }
        if write_between_reads {
            write(&mut conn, &mut out, &mut owed_pongs, &mut close_owed);
        }
    }
    write(&mut conn, &mut out, &mut owed_pongs, &mut close_owed);
    assert_eq!(
        out.close_seen(),
        ended,
        "the output ends with a close frame exactly when the connection ended"
    );

    if ended {
        // Nothing more is decoded whatever comes: the input again, a valid ping of the
        // peer's, the end of the transport. Nor written.
        conn.receive(bytes);
        conn.receive(&frame_from(peer(role), OpCode::Ping, b"late"));
        assert_eq!(conn.poll_event(), Ok(None), "decoded after the end");
        conn.receive_eof();
        assert_eq!(conn.poll_event(), Ok(None), "decoded after the end");
        assert_eq!(conn.pending_outbound(), 0, "wrote after the end");
    } else {
        conn.receive_eof();
        match conn.poll_event() {
            Ok(Some(Event::Close(frame))) => {
                assert_eq!(frame.code, CloseCode::ABNORMAL);
                assert!(frame.reason.is_empty());
            }
            other => panic!("the end of the transport gave {other:?}, not Close(1006)"),
        }
        assert_eq!(conn.poll_event(), Ok(None), "an event after Close(1006)");
        assert!(conn.should_close_transport());
        assert_eq!(
            conn.pending_outbound(),
            0,
            "a close frame for a dropped transport"
        );
    }
    out.finish(false);
    (items, error)
}

/// The items that do not depend on the chunking: all but the chunks of a frame that never
/// ended.
fn whole_items(items: Vec<Item>) -> Vec<Item> {
    items
        .into_iter()
        .filter(|item| !matches!(item, Item::Partial(..)))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Reader::new(data);
    let flags = input.u8().unwrap_or(0);
    let n = usize::from(input.u8().unwrap_or(0) % 16);
    let sizes = input.bytes(n);
    let bytes = input.rest();
    let role = if flags & 1 != 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = config(flags);
    let (chunked, chunked_err) = run(role, &config, bytes, sizes, flags & 0x10 != 0);
    let (whole, whole_err) = run(role, &config, bytes, &[], false);
    assert_eq!(chunked_err, whole_err, "chunking changed the error");
    assert_eq!(
        whole_items(chunked),
        whole_items(whole),
        "chunking changed what was delivered"
    );
});
