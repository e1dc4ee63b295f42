//! permessage-deflate's receive side under hostile input, and its round trip.
//!
//! Input (`arbitrary`): negotiated parameters, a small message size limit, a receive mode,
//! and frames whose payloads are either raw bytes (likely corrupt deflate data, possibly a
//! bomb) or messages compressed by a real client connection with the same parameters.
//!
//! Checks: no panic; no message (inflated) and no run of frame chunks of one message over
//! the limit; text is UTF-8; nothing after a `Close` or an error; every error carries a
//! close code that may be sent. For messages a client compressed: the server inflates
//! exactly what was sent, in order, with context takeover across messages.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sockless::codec::{FrameHeader, OpCode, apply_mask};
use sockless::deflate::DeflateParams;
use sockless::{Config, Connection, Event, Message, MessageKind, ReceiveMode, Role};
use sockless_fuzz::TestRng;

#[derive(Arbitrary, Debug)]
enum Piece {
    /// A frame with whatever payload and bits the fuzzer chose.
    Raw {
        text: bool,
        rsv1: bool,
        fin: bool,
        continuation: bool,
        payload: Vec<u8>,
    },
    /// A message compressed by a client connection.
    Sent { text: bool, data: Vec<u8> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    client_window: u8,
    limit: u16,
    frames_mode: bool,
    chunk: u8,
    pieces: Vec<Piece>,
}

fn masked(opcode: OpCode, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let header = FrameHeader {
        fin,
        rsv1,
        mask: Some(key),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let (buf, n) = header.encode();
    let mut out = buf[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out
}

fuzz_target!(|input: Input| {
    let params = DeflateParams {
        server_no_context_takeover: input.server_no_context_takeover,
        client_no_context_takeover: input.client_no_context_takeover,
        server_max_window_bits: 15,
        client_max_window_bits: 8 + input.client_window % 8,
    };
    let limit = usize::from(input.limit) + 1;
    let mut config = Config::default();
    config.max_message_size = limit;
    // Frames may carry a little more than the message once compressed; the limit that
    // matters is on inflated bytes.
    config.max_frame_size = limit + 1024;
    if input.frames_mode {
        config.receive_mode = ReceiveMode::Frames;
    }
    let mut server = Connection::open(Role::Server, config);
    server.enable_deflate(&params);
    let mut client = Connection::open_with_rng(Role::Client, Config::default(), TestRng::new(1));
    client.enable_deflate(&params);

    // What the server must deliver for the `Sent` pieces, when nothing raw came before.
    let mut expected: Vec<Message> = Vec::new();
    let mut wire = Vec::new();
    let mut only_sent = true;
    for piece in &input.pieces {
        match piece {
            Piece::Raw {
                text,
                rsv1,
                fin,
                continuation,
                payload,
            } => {
                only_sent = false;
                let opcode = match (continuation, text) {
                    (true, _) => OpCode::Continuation,
                    (false, true) => OpCode::Text,
                    (false, false) => OpCode::Binary,
                };
                let payload = &payload[..payload.len().min(125_000)];
                wire.extend(masked(opcode, *fin, *rsv1, payload));
            }
            Piece::Sent { text, data } => {
                let kind = if *text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                let message = match kind {
                    MessageKind::Text => {
                        Message::Text(String::from_utf8_lossy(data).into_owned().into())
                    }
                    MessageKind::Binary => Message::Binary(data.clone().into()),
                };
                client.send(&message).unwrap();
                wire.extend_from_slice(&client.take_outbound());
                if message.as_bytes().len() <= limit {
                    expected.push(message);
                } else {
                    only_sent = false;
                }
            }
        }
    }

    let chunk = usize::from(input.chunk).max(1);
    let mut messages = Vec::new();
    let mut message_len = 0usize;
    let mut ended = false;
    'feed: for piece in wire.chunks(chunk) {
        server.receive(piece);
        loop {
            match server.poll_event() {
                Ok(Some(event)) => {
                    assert!(!ended, "an event after the end: {event:?}");
                    match event {
                        Event::Message(message) => {
                            assert!(message.as_bytes().len() <= limit, "message over the limit");
                            if let Message::Text(t) = &message {
                                assert!(core::str::from_utf8(t.as_bytes()).is_ok());
                            }
                            messages.push(message);
                        }
                        Event::Frame(chunk) => {
                            message_len += chunk.data.len();
                            assert!(message_len <= limit, "chunks of one message over the limit");
                            if chunk.ends_message() {
                                message_len = 0;
                            }
                        }
                        Event::Close(_) => ended = true,
                        _ => {}
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(code) = e.close_code() {
                        assert!(code.is_valid_on_wire(), "{e:?} sends {code}");
                    }
                    assert_eq!(server.poll_event(), Ok(None), "an event after an error");
                    ended = true;
                    break 'feed;
                }
            }
        }
    }
    if only_sent && !input.frames_mode {
        assert!(
            !ended,
            "compressed messages from a real client failed the connection"
        );
        assert_eq!(
            messages, expected,
            "inflated messages differ from what was sent"
        );
    }
});
