//! Arbitrary bytes into `message::Decoder`, in chunks whose sizes come from the input.
//!
//! Input: `[flags][n][n chunk sizes][bytes]`. Flags bit 0: the decoder is a server's
//! (expects masked frames), else a client's; bit 1: `ReceiveMode::Frames`; bits 2-3: one of
//! four sets of limits, small enough to be reached.
//!
//! Checks: every message is within `max_message_size` and text is UTF-8; frame chunks stay
//! within `max_frame_size`, `max_message_size` and `max_fragments`, arrive in order and are
//! valid UTF-8 so far; control payloads are at most 125 bytes; the decoder is not called
//! again after an error; and how the input is chunked changes nothing: the same items (in
//! frames mode: the same frames, once their chunks are put together) and the same error
//! as decoding it in one piece.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockless::frame::FrameHeader;
use sockless::message::{Decoded, Decoder, MessageKind};
use sockless::{Config, ProtocolError, ReceiveMode, Role};
use sockless_fuzz::wire::Inbound;
use sockless_fuzz::{Reader, chunk_size};

fn config(flags: u8) -> Config {
    let mut config = Config::default();
    if flags & 2 != 0 {
        config.receive_mode = ReceiveMode::Frames;
    }
    let (frame, message, fragments) = match (flags >> 2) & 3 {
        0 => (16, 40, 4),
        1 => (125, 300, 8),
        2 => (70_000, 100_000, 1000),
        _ => (64, 64, 2),
    };
    config.max_frame_size = frame;
    config.max_message_size = message;
    config.max_fragments = fragments;
    config
}

/// Decodes `bytes` handed over in chunks of `sizes` (all at once without sizes), checking
/// each item; stops at the first error.
fn decode(
    role: Role,
    config: &Config,
    bytes: &[u8],
    sizes: &[u8],
) -> (Vec<Decoded>, Option<ProtocolError>) {
    let mut decoder = Decoder::new(role, config);
    let mut inbound = Inbound::new(config);
    let mut input = BytesMut::new();
    let mut items = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunk_size(sizes, i).unwrap_or(rest.len()).min(rest.len());
        i += 1;
        input.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(item)) => {
                    match &item {
                        Decoded::Message(m) => {
                            assert_eq!(config.receive_mode, ReceiveMode::Messages);
                            inbound.message(m);
                        }
                        Decoded::Chunk(c) => {
                            assert_eq!(config.receive_mode, ReceiveMode::Frames);
                            inbound.chunk(c);
                        }
                        Decoded::Control(opcode, payload) => {
                            assert!(opcode.is_control(), "a control item of {opcode:?}");
                            inbound.control(payload);
                        }
                    }
                    items.push(item);
                }
                Ok(None) => break,
                // An error is final: no more decode calls.
                Err(e) => return (items, Some(e)),
            }
        }
    }
    (items, None)
}

/// A frame whose chunks were put back together, or any other item.
#[derive(Debug, PartialEq)]
enum Item {
    Frame(FrameHeader, MessageKind, Vec<u8>),
    Other(Decoded),
}

fn frames(items: Vec<Decoded>) -> Vec<Item> {
    let mut out = Vec::new();
    for item in items {
        match item {
            Decoded::Chunk(c) if c.offset > 0 => match out.last_mut() {
                Some(Item::Frame(header, _, data)) if *header == c.header => {
                    data.extend_from_slice(&c.data)
                }
                _ => panic!("a chunk at offset {} with no start: {c:?}", c.offset),
            },
            Decoded::Chunk(c) => out.push(Item::Frame(c.header, c.kind, c.data.to_vec())),
            other => out.push(Item::Other(other)),
        }
    }
    out
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
    let (chunked, chunked_err) = decode(role, &config, bytes, sizes);
    let (whole, whole_err) = decode(role, &config, bytes, &[]);
    assert_eq!(chunked_err, whole_err, "chunking changed the error");
    match config.receive_mode {
        ReceiveMode::Messages => assert_eq!(chunked, whole, "chunking changed the items"),
        // Chunks handed out before an error depend on the chunking; without one, the
        // frames they make up must not.
        ReceiveMode::Frames if whole_err.is_none() => {
            assert_eq!(
                frames(chunked),
                frames(whole),
                "chunking changed the frames"
            )
        }
        ReceiveMode::Frames => {}
    }
});
