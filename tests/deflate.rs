//! permessage-deflate through whole connections: negotiation in the handshake, compressed
//! messages both ways, context takeover, limits and errors.
#![cfg(feature = "deflate")]

use sockless::deflate::{DeflateConfig, DeflateParams};
use sockless::handshake::{Accept, ClientOptions, Uri};
use sockless::{Config, Connection, Error, Event, Message, ProtocolError, ReceiveMode, Role};

fn deflate_config(deflate: DeflateConfig) -> Config {
    let mut config = Config::default();
    config.deflate = Some(deflate);
    config
}

/// A client and a server that completed the handshake with these settings.
fn pair(client: DeflateConfig, server: DeflateConfig) -> (Connection, Connection, Option<String>) {
    let uri = Uri::parse("ws://localhost/").unwrap();
    let mut c = Connection::client(&uri, ClientOptions::new(), deflate_config(client));
    let mut s = Connection::server(deflate_config(server));
    s.receive(&c.take_outbound());
    let Ok(Some(Event::HandshakeRequest(_))) = s.poll_event() else {
        panic!()
    };
    s.accept(&Accept::new()).unwrap();
    let response = s.take_outbound();
    let head = String::from_utf8_lossy(&response).into_owned();
    c.receive(&response);
    let Ok(Some(Event::Connected(negotiated))) = c.poll_event() else {
        panic!("{head}")
    };
    let extension = negotiated.extensions.first().map(|e| e.to_string());
    (c, s, extension)
}

fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<Event> {
    to.receive(&from.take_outbound());
    let mut events = Vec::new();
    while let Some(event) = to.poll_event().unwrap() {
        events.push(event);
    }
    events
}

fn text(s: &str) -> Event {
    Event::Message(Message::Text(s.into()))
}

const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
tempor incididunt ut labore et dolore magna aliqua. Lorem ipsum dolor sit amet again.";

#[test]
fn negotiated_messages_are_compressed_both_ways() {
    let (mut c, mut s, extension) = pair(DeflateConfig::default(), DeflateConfig::default());
    assert_eq!(extension.as_deref(), Some("permessage-deflate"));
    c.send_text(LOREM).unwrap();
    assert_eq!(
        c.outbound()[0] & 0x40,
        0x40,
        "RSV1 marks the compressed message"
    );
    assert!(c.pending_outbound() < LOREM.len());
    assert_eq!(deliver(&mut c, &mut s), [text(LOREM)]);
    s.send_text(LOREM).unwrap();
    assert_eq!(s.outbound()[0], 0xC1);
    assert_eq!(deliver(&mut s, &mut c), [text(LOREM)]);
}

#[test]
fn context_takeover_makes_a_repeated_message_smaller() {
    let (mut c, mut s, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    c.send_text(LOREM).unwrap();
    let first = c.pending_outbound();
    deliver(&mut c, &mut s);
    c.send_text(LOREM).unwrap();
    assert!(
        c.pending_outbound() < first / 2,
        "{} vs {first}",
        c.pending_outbound()
    );
    assert_eq!(deliver(&mut c, &mut s), [text(LOREM)]);
}

#[test]
fn no_context_takeover_compresses_each_message_alone() {
    let mut config = DeflateConfig::default();
    config.client_no_context_takeover = true;
    config.server_no_context_takeover = true;
    let (mut c, mut s, extension) = pair(config, DeflateConfig::default());
    assert_eq!(
        extension.as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    );
    s.send_text(LOREM).unwrap();
    let first = s.take_outbound();
    s.send_text(LOREM).unwrap();
    let second = s.take_outbound();
    assert_eq!(first, second);
    c.receive(&first);
    c.receive(&second);
    assert_eq!(c.poll_event().unwrap(), Some(text(LOREM)));
    assert_eq!(c.poll_event().unwrap(), Some(text(LOREM)));
}

#[test]
fn small_messages_and_control_frames_go_uncompressed() {
    let (mut c, mut s, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    c.send_text("hi").unwrap();
    assert_eq!(c.outbound()[0], 0x81);
    c.take_outbound();
    c.send_ping(&LOREM.as_bytes()[..100]).unwrap();
    assert_eq!(c.outbound()[0], 0x89);
    c.take_outbound();
    s.send_uncompressed(&Message::Text(LOREM.into())).unwrap();
    assert_eq!(s.outbound()[0], 0x81);
    assert_eq!(deliver(&mut s, &mut c), [text(LOREM)]);
}

#[test]
fn fragmented_compressed_message_round_trips() {
    let (mut c, mut s, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    let (a, b) = LOREM.split_at(40);
    c.send_fragment(sockless::MessageKind::Text, a.as_bytes(), false)
        .unwrap();
    assert_eq!(c.outbound()[0], 0x41, "RSV1 on the first frame only");
    c.send_ping(b"between").unwrap();
    c.send_fragment(sockless::MessageKind::Text, b.as_bytes(), true)
        .unwrap();
    let events = deliver(&mut c, &mut s);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], text(LOREM));
}

#[test]
fn frame_mode_hands_out_inflated_chunks() {
    let (mut c, _, _) = pair(DeflateConfig::default(), DeflateConfig::default());
    let mut config = deflate_config(DeflateConfig::default());
    config.receive_mode = ReceiveMode::Frames;
    let mut s = Connection::open(Role::Server, config);
    s.enable_deflate(&DeflateParams::default());
    c.send_text(LOREM).unwrap();
    let wire = c.take_outbound();
    let mut got = Vec::new();
    for piece in wire.chunks(7) {
        s.receive(piece);
        while let Some(event) = s.poll_event().unwrap() {
            let Event::Frame(chunk) = event else { panic!() };
            got.extend_from_slice(&chunk.data);
        }
    }
    assert_eq!(got, LOREM.as_bytes());
}

#[test]
fn decompression_bomb_fails_with_1009_at_the_inflated_limit() {
    let mut level9 = DeflateConfig::default();
    level9.level = 9;
    let mut config = deflate_config(level9);
    let mut sender = Connection::open(Role::Client, config.clone());
    sender.enable_deflate(&DeflateParams::default());
    sender.send_binary(&vec![0u8; 4 << 20]).unwrap();
    let bomb = sender.take_outbound();
    assert!(bomb.len() < 16 << 10, "{}", bomb.len());
    config.max_message_size = 1 << 20;
    let mut s = Connection::open(Role::Server, config);
    s.enable_deflate(&DeflateParams::default());
    s.receive(&bomb);
    let err = s.poll_event().unwrap_err();
    assert!(
        matches!(err, Error::Protocol(ProtocolError::MessageTooLarge { .. })),
        "{err:?}"
    );
    assert_eq!(err.close_code(), Some(sockless::CloseCode::MESSAGE_TOO_BIG));
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![first, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

fn server_with_deflate() -> Connection {
    let mut s = Connection::open(Role::Server, deflate_config(DeflateConfig::default()));
    s.enable_deflate(&DeflateParams::default());
    s
}

#[test]
fn rsv1_on_a_continuation_frame_is_a_protocol_error() {
    let mut s = server_with_deflate();
    let mut input = masked(0x01, b"a"); // text, not final, uncompressed
    input.extend(masked(0xC0, b"b")); // continuation with RSV1
    s.receive(&input);
    let err = s.poll_event().unwrap_err();
    assert_eq!(err.close_code(), Some(sockless::CloseCode::PROTOCOL_ERROR));
}

#[test]
fn rsv1_on_a_control_frame_is_a_protocol_error() {
    let mut s = server_with_deflate();
    s.receive(&masked(0xC9, b""));
    assert_eq!(
        s.poll_event().unwrap_err().close_code(),
        Some(sockless::CloseCode::PROTOCOL_ERROR)
    );
}

#[test]
fn corrupt_deflate_data_fails_with_1007() {
    let mut s = server_with_deflate();
    s.receive(&masked(0xC2, &[0xff, 0xff, 0xff, 0xff]));
    assert_eq!(
        s.poll_event(),
        Err(Error::Protocol(ProtocolError::InvalidCompressedData))
    );
}

#[test]
fn compressed_text_that_inflates_to_invalid_utf8_fails_with_1007() {
    let mut c = Connection::open(Role::Client, deflate_config(DeflateConfig::default()));
    c.enable_deflate(&DeflateParams::default());
    // Bytes that are not UTF-8, compressed as a binary message, then relabelled as text
    // (the opcode is outside the masked payload): no send can produce it.
    c.send_binary(&[0xff; 64]).unwrap();
    let mut wire = c.take_outbound();
    assert_eq!(wire[0], 0xC2, "FIN, RSV1, binary");
    wire[0] = 0xC1;
    let mut s = server_with_deflate();
    s.receive(&wire);
    assert_eq!(
        s.poll_event(),
        Err(Error::Protocol(ProtocolError::InvalidUtf8))
    );
}

#[test]
fn server_without_deflate_declines_and_rsv1_stays_an_error() {
    let uri = Uri::parse("ws://localhost/").unwrap();
    let mut c = Connection::client(
        &uri,
        ClientOptions::new(),
        deflate_config(DeflateConfig::default()),
    );
    let mut s = Connection::server(Config::default());
    s.receive(&c.take_outbound());
    s.poll_event().unwrap();
    s.accept(&Accept::new()).unwrap();
    c.receive(&s.take_outbound());
    let Ok(Some(Event::Connected(negotiated))) = c.poll_event() else {
        panic!()
    };
    assert!(negotiated.extensions.is_empty());
    c.send_text(LOREM).unwrap();
    assert_eq!(c.outbound()[0], 0x81, "no compression without agreement");
}

#[test]
fn browser_offer_is_accepted() {
    // What Chromium and Node's `ws` send by default.
    let mut s = Connection::server(deflate_config(DeflateConfig::default()));
    s.receive(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    );
    s.poll_event().unwrap();
    s.accept(&Accept::new()).unwrap();
    let head = String::from_utf8(s.take_outbound().to_vec()).unwrap();
    assert!(
        head.contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        "{head}"
    );
    // RFC 7692 §7.2.3.1: a compressed "Hello" from the browser.
    s.receive(&masked(0xC1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]));
    assert_eq!(s.poll_event().unwrap(), Some(text("Hello")));
}

#[test]
fn server_window_of_8_bits_is_accepted_but_sent_uncompressed() {
    let mut config = DeflateConfig::default();
    config.server_max_window_bits = 8;
    let (mut c, mut s, extension) = pair(config, DeflateConfig::default());
    assert_eq!(
        extension.as_deref(),
        Some("permessage-deflate; server_max_window_bits=8")
    );
    s.send_text(LOREM).unwrap();
    assert_eq!(s.outbound()[0], 0x81);
    assert_eq!(deliver(&mut s, &mut c), [text(LOREM)]);
    c.send_text(LOREM).unwrap();
    assert_eq!(c.outbound()[0], 0xC1);
    assert_eq!(deliver(&mut c, &mut s), [text(LOREM)]);
}

/// `n` bytes that no compressor can shrink (xorshift).
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn enable_deflate_takes_effect_once_and_never_mid_message() {
    let mut s = server_with_deflate();
    // A compressed text message whose first fragment (a stored block) ends inside "κ"...
    s.receive(&masked(0x41, &[0x00, 0x01, 0x00, 0xFE, 0xFF, 0xCE]));
    assert_eq!(s.poll_event(), Ok(None));
    // ...then a second negotiation, which must not replace what the message was inflated
    // into so far while its UTF-8 state runs on.
    assert!(!s.enable_deflate(&DeflateParams::default()));
    s.receive(&masked(0x80, &[0x00, 0x01, 0x00, 0xFE, 0xFF, 0xBA, 0x00]));
    assert_eq!(s.poll_event(), Ok(Some(text("κ"))));

    // Once on, it stays as negotiated; before anything flowed, it takes effect.
    let mut fresh = Connection::open(Role::Server, deflate_config(DeflateConfig::default()));
    assert!(fresh.enable_deflate(&DeflateParams::default()));
    assert!(!fresh.enable_deflate(&DeflateParams::default()));

    // Not while a message is being sent in pieces: its first frame went out uncompressed.
    let mut sender = Connection::open(Role::Server, deflate_config(DeflateConfig::default()));
    sender
        .send_fragment(sockless::MessageKind::Binary, b"first", false)
        .unwrap();
    assert!(!sender.enable_deflate(&DeflateParams::default()));
}

#[test]
fn a_compressed_send_is_held_to_the_outbound_limit_after_compression() {
    let mut config = deflate_config(DeflateConfig::default());
    config.max_pending_outbound = 1_000_000;
    let mut s = Connection::open(Role::Server, config);
    assert!(s.enable_deflate(&DeflateParams::default()));
    let mut c = Connection::open(Role::Client, deflate_config(DeflateConfig::default()));
    assert!(c.enable_deflate(&DeflateParams::default()));
    s.send_text(LOREM).unwrap();
    assert_eq!(deliver(&mut s, &mut c), [text(LOREM)]);

    // Fits before compression, not after: incompressible bytes grow.
    let payload = noise(1_000_000 - 14);
    assert!(matches!(
        s.send_binary(&payload),
        Err(sockless::SendError::OutboundFull {
            pending: 0,
            max: 1_000_000
        })
    ));
    assert_eq!(s.pending_outbound(), 0, "a refused send queues nothing");
    assert!(matches!(
        s.send_fragment(sockless::MessageKind::Binary, &payload, true),
        Err(sockless::SendError::OutboundFull { .. })
    ));
    assert_eq!(s.pending_outbound(), 0);

    // The compressor forgot the refused bytes, and the peer's inflater follows.
    s.send_text(LOREM).unwrap();
    s.send_binary(&payload[..100_000]).unwrap();
    assert_eq!(
        deliver(&mut s, &mut c),
        [
            text(LOREM),
            Event::Message(Message::Binary(payload[..100_000].to_vec().into()))
        ]
    );
}
