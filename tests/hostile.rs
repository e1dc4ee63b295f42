//! Hostile peers against one connection in memory, on a virtual clock: every behaviour here
//! would grow a connection's memory or lifetime without bound if its limit were missing.

mod common;

use common::{client_frame, drain};
use sockless::codec::OpCode;
use sockless::handshake::{ClientOptions, RequestError, Uri};
use sockless::{
    CloseCode, Config, Connection, Error, Event, MessageKind, ProtocolError, Role, SendError, State,
};
use std::time::Duration;

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn open_server() -> Connection {
    Connection::open(Role::Server, Config::default())
}

/// A peer that pings as fast as it can and never reads, one ping per read: the connection
/// owes it one pong, for the latest ping, however many arrived.
#[test]
fn ping_flood_without_reading_owes_one_pong() {
    let mut server = open_server();
    for i in 0..100_000u32 {
        let payload = [(i % 251) as u8; 125];
        server.receive(&client_frame(OpCode::Ping, true, &payload, i as u8));
        while let Some(event) = server.poll_event().unwrap() {
            assert!(matches!(event, Event::Ping(_)));
        }
        // The driver never gets to write: the peer is not reading.
        assert!(server.pending_outbound() <= 2 + 125, "after {i} pings");
    }
    let last = [(99_999 % 251) as u8; 125];
    let mut expected = vec![0x8a, 125];
    expected.extend_from_slice(&last);
    assert_eq!(server.outbound(), &expected[..]);
}

/// The pings of one read are each answered (peers and Autobahn 2.10 expect every pong);
/// when the next read brings pings while those pongs are still unwritten, its pongs
/// replace them: what is owed in pongs never exceeds what one read asks for.
#[test]
fn pongs_of_an_earlier_read_left_unwritten_are_replaced() {
    let mut server = open_server();
    let mut read = Vec::new();
    for i in 0..10u8 {
        read.extend(client_frame(OpCode::Ping, true, &[i], i));
    }
    server.receive(&read);
    assert_eq!(drain(&mut server).0.len(), 10);
    assert_eq!(server.pending_outbound(), 10 * 3);
    server.receive(&[read.clone(), read].concat());
    assert_eq!(drain(&mut server).0.len(), 20);
    assert_eq!(server.pending_outbound(), 20 * 3);
    // Anything queued after the pongs keeps them.
    server.send_text("x").unwrap();
    server.receive(&client_frame(OpCode::Ping, true, b"z", 1));
    drain(&mut server);
    assert_eq!(server.pending_outbound(), 20 * 3 + 3 + 3);
}

/// A pong partly written is not replaced: the next ping's pong follows it whole.
#[test]
fn a_pong_partly_written_is_kept_whole() {
    let mut server = open_server();
    server.receive(&client_frame(OpCode::Ping, true, b"one", 1));
    drain(&mut server);
    server.advance_outbound(1);
    server.receive(&client_frame(OpCode::Ping, true, b"two", 2));
    drain(&mut server);
    assert_eq!(server.outbound(), b"\x03one\x8a\x03two");
}

/// A peer that sends messages the application echoes, but never reads: the connection
/// tells the driver to stop reading past the high-water mark, and lets it read again once
/// the output drained.
#[test]
fn slow_reader_raises_and_clears_the_backpressure_signal() {
    let mut config = Config::default();
    config.outbound_high_water = 64 * 1024;
    let mut server = Connection::open(Role::Server, config);
    let frame = client_frame(OpCode::Binary, true, &[7; 1000], 3);
    let mut reads = 0;
    while server.wants_read() {
        server.receive(&frame);
        reads += 1;
        for event in drain(&mut server).0 {
            if let Event::Message(m) = event {
                server.send(&m).unwrap();
            }
        }
        assert!(reads < 1000, "the signal never rose");
    }
    assert!(server.pending_outbound() > 64 * 1024);
    assert!(server.pending_outbound() < 64 * 1024 + 2000);
    server.advance_outbound(server.pending_outbound() - 1000);
    assert!(server.wants_read());
}

/// A send that would take what is owed past the hard limit is refused and writes nothing;
/// a close is still accepted.
#[test]
fn sends_past_the_outbound_limit_are_refused() {
    let mut config = Config::default();
    config.max_pending_outbound = 10_000;
    let mut server = Connection::open(Role::Server, config);
    server.send_binary(&[1; 9_000]).unwrap();
    let pending = server.pending_outbound();
    assert_eq!(
        server.send_binary(&[1; 1_000]),
        Err(SendError::OutboundFull {
            pending,
            max: 10_000
        })
    );
    assert_eq!(
        server.send_fragment(MessageKind::Text, &[b'a'; 1_000], true),
        Err(SendError::OutboundFull {
            pending,
            max: 10_000
        })
    );
    assert_eq!(server.pending_outbound(), pending);
    server.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.pending_outbound(), pending + 4);
}

/// Slowloris: a request that arrives a byte every few seconds is cut off at the handshake
/// deadline, on the caller's clock.
#[test]
fn slowloris_is_closed_at_the_handshake_deadline() {
    let mut server = Connection::server(Config::default());
    assert_eq!(server.poll_timeout(), Some(Duration::ZERO));
    server.handle_timeout(Duration::from_secs(100));
    assert_eq!(server.poll_timeout(), Some(Duration::from_secs(110)));
    let mut now = Duration::from_secs(100);
    for &byte in REQUEST.iter().take(40) {
        now += Duration::from_secs(2);
        if now >= Duration::from_secs(110) {
            break;
        }
        server.receive(&[byte]);
        assert_eq!(server.poll_event(), Ok(None));
        server.handle_timeout(now);
        assert!(!server.should_close_transport());
    }
    server.handle_timeout(Duration::from_secs(110));
    assert!(server.should_close_transport());
    assert_eq!(server.poll_event(), Err(Error::HandshakeTimeout));
    assert!(server.outbound().is_empty());
    assert_eq!(server.poll_timeout(), None);
}

/// A handshake that completes in time leaves no deadline behind.
#[test]
fn handshake_deadline_ends_with_the_handshake() {
    let mut server = Connection::server(Config::default());
    server.handle_timeout(Duration::ZERO);
    server.receive(REQUEST);
    assert!(matches!(
        server.poll_event(),
        Ok(Some(Event::HandshakeRequest(_)))
    ));
    server.accept(&Default::default()).unwrap();
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(Duration::from_secs(3600));
    assert_eq!(server.state(), State::Open);
}

/// A server that never answers the upgrade: the client fails with a typed error.
#[test]
fn client_handshake_times_out() {
    let uri = Uri::parse("ws://example.com/").unwrap();
    let mut client = Connection::client(&uri, ClientOptions::new(), Config::default());
    client.handle_timeout(Duration::ZERO);
    client.handle_timeout(Duration::from_secs(10));
    assert_eq!(client.poll_event(), Err(Error::HandshakeTimeout));
    assert!(client.should_close_transport());
}

/// Timers on a clock near its end, or with huge durations, saturate instead of wrapping.
#[test]
fn timers_saturate_on_large_durations() {
    let mut config = Config::default();
    config.close_timeout = Some(Duration::MAX);
    config.keepalive = Some(sockless::Keepalive {
        interval: Duration::MAX,
        timeout: Duration::MAX,
    });
    let mut server = Connection::open(Role::Server, config);
    server.handle_timeout(Duration::MAX - Duration::from_secs(1));
    server.close(CloseCode::NORMAL, "").unwrap();
    server.handle_timeout(Duration::MAX - Duration::from_secs(1));
    assert_eq!(server.poll_timeout(), Some(Duration::MAX));
    assert_eq!(server.state(), State::Closing);
}

/// A header bomb: a head over the limit is answered with 431.
#[test]
fn header_bomb_is_answered_with_431() {
    let mut server = Connection::server(Config::default());
    let mut head = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
    for i in 0..10_000 {
        head.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    for piece in head.chunks(4096) {
        server.receive(piece);
        match server.poll_event() {
            Ok(None) => continue,
            Err(Error::Request(RequestError::HeadTooLarge | RequestError::TooManyHeaders)) => {
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(server.outbound().starts_with(b"HTTP/1.1 431 "));
    assert!(server.should_close_transport());
}

/// Empty fragments without end: 1009 exactly when one more would pass the limit.
#[test]
fn fragment_flood_fails_with_1009_exactly_past_the_limit() {
    let mut config = Config::default();
    config.max_fragments = 1000;
    let mut server = Connection::open(Role::Server, config);
    server.receive(&client_frame(OpCode::Text, false, b"", 0));
    for i in 1..1000 {
        server.receive(&client_frame(OpCode::Continuation, false, b"", i as u8));
        assert_eq!(drain(&mut server), (vec![], None), "fragment {i}");
    }
    server.receive(&client_frame(OpCode::Continuation, true, b"", 0));
    let (events, error) = drain(&mut server);
    assert!(events.is_empty());
    assert_eq!(
        error,
        Some(Error::Protocol(ProtocolError::TooManyFragments {
            max: 1000
        }))
    );
    assert_eq!(&server.outbound()[..4], &[0x88, 2, 0x03, 0xf1]);
}

/// A split client that closed, against a server that answers but never closes the
/// transport: the close timer runs on the sending half, and ends the wait.
#[test]
fn split_client_whose_server_never_closes_gives_up_at_the_close_timeout() {
    let client = Connection::open(Role::Client, Config::default());
    let mut server = open_server();
    let (mut rx, mut tx) = client.split().unwrap();
    tx.close(CloseCode::NORMAL, "bye").unwrap();
    tx.handle_timeout(Duration::ZERO);
    server.receive(&tx.take_outbound());
    assert!(matches!(drain(&mut server).0[..], [Event::Close(_)]));
    rx.receive(&server.take_outbound());
    assert!(matches!(rx.poll_event(), Ok(Some(Event::Close(_)))));
    // The server answered but never closes TCP: from its answer on, the client waits one
    // close timeout, but not longer.
    assert!(!rx.should_close_transport());
    assert_eq!(tx.poll_timeout(), Some(Duration::ZERO));
    tx.handle_timeout(Duration::from_secs(1));
    assert_eq!(tx.poll_timeout(), Some(Duration::from_secs(11)));
    tx.handle_timeout(Duration::from_secs(10));
    assert!(!rx.should_close_transport());
    tx.handle_timeout(Duration::from_secs(11));
    assert!(rx.should_close_transport());
}

/// The client's key stays out of its `Debug` output.
#[test]
fn debug_of_a_client_connection_hides_its_key() {
    let uri = Uri::parse("ws://example.com/").unwrap();
    let client = Connection::client(&uri, ClientOptions::new(), Config::default());
    let request = String::from_utf8(client.outbound().to_vec()).unwrap();
    let key = request
        .lines()
        .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
        .unwrap();
    assert!(!format!("{client:?}").contains(key));
}
