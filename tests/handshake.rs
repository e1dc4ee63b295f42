//! The opening handshake through whole connections: browser bytes in, 101 out, frames after.

use bytes::Bytes;
use sockless::handshake::{Accept, ClientOptions, Reject, RequestError, ResponseError, Uri};
use sockless::{Config, Connection, Error, Event, Message, Role, SendError, State};

/// A deterministic RNG so that keys are reproducible.
struct Counter(u32);

impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        Ok(self.0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(u64::from(self.try_next_u32()?) << 32 | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

/// What Chromium sends, with a pipelined masked "Hello" frame (RFC 6455 §5.7) behind it.
const BROWSER_REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\n\
Host: server.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n\
\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

fn serve(server: &mut Connection) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = server.poll_event().unwrap() {
        if let Event::HandshakeRequest(_) = &event {
            server.accept(&Accept::new().protocol("chat")).unwrap();
        }
        if let Event::Message(message) = &event {
            server.send(message).unwrap();
        }
        events.push(event);
    }
    events
}

#[test]
fn browser_request_gets_a_101_and_pipelined_frames_are_echoed() {
    let mut server = Connection::server(Config::default());
    server.receive(BROWSER_REQUEST);
    let events = serve(&mut server);
    let Event::HandshakeRequest(request) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        request.protocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(request.path(), "/chat");
    assert_eq!(request.query(), Some("room=1"));
    assert_eq!(request.origin(), Some("http://example.com"));
    assert_eq!(events[1], Event::Message(Message::Text("Hello".into())));
    let out = server.take_outbound();
    let text = std::str::from_utf8(&out[..out.len() - 7]).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
    assert!(text.ends_with("\r\n\r\n"));
    // The echo, unmasked from the server.
    assert_eq!(&out[out.len() - 7..], b"\x81\x05Hello");
    assert_eq!(server.protocol(), Some("chat"));
}

/// RFC 7230 §5.3.2: a server must accept a request target in absolute-form; this one
/// got a 400 before.
#[test]
fn absolute_form_request_gets_a_101() {
    let mut server = Connection::server(Config::default());
    server.receive(
        b"GET ws://example.com:8181/ HTTP/1.1\r\nHost: example.com:8181\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    let Ok(Some(Event::HandshakeRequest(request))) = server.poll_event() else {
        panic!("no request")
    };
    assert_eq!((request.host(), request.path()), ("example.com:8181", "/"));
    server.accept(&Accept::new()).unwrap();
    assert!(server.outbound().starts_with(b"HTTP/1.1 101 "));
}

#[test]
fn request_split_at_every_byte_gives_the_same_events() {
    let mut whole = Connection::server(Config::default());
    whole.receive(BROWSER_REQUEST);
    let expected = serve(&mut whole);
    let mut bytewise = Connection::server(Config::default());
    let mut events = Vec::new();
    for byte in BROWSER_REQUEST {
        bytewise.receive(std::slice::from_ref(byte));
        events.extend(serve(&mut bytewise));
    }
    assert_eq!(events, expected);
    assert_eq!(bytewise.take_outbound(), whole.take_outbound());
}

fn pair(options: ClientOptions) -> (Connection, Connection) {
    let uri = Uri::parse("ws://server.example.com:8080/chat").unwrap();
    let client = Connection::client_with_rng(&uri, options, Config::default(), Counter(7));
    (client, Connection::server(Config::default()))
}

#[test]
fn client_and_server_complete_the_handshake_and_exchange_messages() {
    let (mut client, mut server) =
        pair(ClientOptions::new().protocol("superchat").protocol("chat"));
    assert_eq!(client.state(), State::Connecting);
    assert_eq!(client.send_text("too early"), Err(SendError::NotOpen));
    server.receive(&client.take_outbound());
    let events = serve(&mut server);
    assert!(
        matches!(&events[..], [Event::HandshakeRequest(r)] if r.host() == "server.example.com:8080")
    );
    // The server's first message rides in the same packet as its 101.
    server.send_text("welcome").unwrap();
    client.receive(&server.take_outbound());
    let Some(Event::Connected(negotiated)) = client.poll_event().unwrap() else {
        panic!()
    };
    assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
    assert_eq!(client.protocol(), Some("chat"));
    assert_eq!(
        client.poll_event().unwrap(),
        Some(Event::Message(Message::Text("welcome".into())))
    );
    client.send_binary(b"\x00\x01").unwrap();
    server.receive(&client.take_outbound());
    assert_eq!(
        serve(&mut server),
        [Event::Message(Message::Binary(Bytes::from_static(
            b"\x00\x01"
        )))]
    );
}

#[test]
fn non_101_response_surfaces_status_headers_and_body() {
    let (mut client, _) = pair(ClientOptions::new());
    client.take_outbound();
    client.receive(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"ws\"\r\nContent-Length: 12\r\n\r\nlog in first");
    let Err(Error::Rejected(rejection)) = client.poll_event() else {
        panic!()
    };
    assert_eq!(rejection.response.status(), 401);
    assert_eq!(
        rejection.response.header("www-authenticate"),
        Some(&b"Basic realm=\"ws\""[..])
    );
    assert_eq!(&rejection.body[..], b"log in first");
    assert!(client.should_close_transport());
}

#[test]
fn redirect_surfaces_its_location() {
    let (mut client, _) = pair(ClientOptions::new());
    client.receive(b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere/\r\nContent-Length: 0\r\n\r\n");
    let Err(Error::Rejected(rejection)) = client.poll_event() else {
        panic!()
    };
    assert_eq!(
        rejection.response.header("location"),
        Some(&b"ws://elsewhere/"[..])
    );
}

#[test]
fn interim_1xx_responses_before_the_101_are_skipped() {
    let (mut client, mut server) = pair(ClientOptions::new().protocol("chat"));
    server.receive(&client.take_outbound());
    assert!(matches!(
        &serve(&mut server)[..],
        [Event::HandshakeRequest(_)]
    ));
    let mut answer = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    // Many of them in one read: skipped in a loop, not by recursion.
    for _ in 0..10_000 {
        answer.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n");
    }
    answer.extend_from_slice(&server.take_outbound());
    // Byte by byte as well as in one read.
    for piece in [answer.len(), 1] {
        let (mut client, _) = pair(ClientOptions::new().protocol("chat"));
        client.take_outbound();
        let mut connected = false;
        for chunk in answer.chunks(piece) {
            client.receive(chunk);
            while let Some(event) = client.poll_event().unwrap() {
                assert!(matches!(event, Event::Connected(_)), "{event:?}");
                connected = true;
            }
        }
        assert!(connected, "reads of {piece}");
        assert_eq!(client.state(), State::Open);
    }
}

#[test]
fn a_1xx_that_is_not_101_and_ends_the_stream_is_no_answer() {
    let (mut client, _) = pair(ClientOptions::new());
    client.receive(b"HTTP/1.1 100 Continue\r\n\r\n");
    assert_eq!(client.poll_event(), Ok(None));
    client.receive_eof();
    assert!(
        matches!(client.poll_event(), Ok(Some(Event::Close(f))) if f.code == sockless::CloseCode::ABNORMAL)
    );
}

#[test]
fn wrong_accept_key_fails_the_client() {
    let (mut client, _) = pair(ClientOptions::new());
    client.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
    assert!(matches!(
        client.poll_event(),
        Err(Error::Response(ResponseError::AcceptMismatch))
    ));
    assert!(client.should_close_transport());
}

#[test]
fn invalid_request_gets_a_400_and_closes() {
    let mut server = Connection::server(Config::default());
    server.receive(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
    assert_eq!(
        server.poll_event(),
        Err(Error::Request(RequestError::MissingKey))
    );
    assert!(server.outbound().starts_with(b"HTTP/1.1 400 "));
    assert!(server.should_close_transport());
}

#[test]
fn wrong_version_gets_a_426_naming_version_13() {
    let mut server = Connection::server(Config::default());
    server.receive(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    assert!(server.poll_event().is_err());
    let out = std::str::from_utf8(server.outbound()).unwrap();
    assert!(out.starts_with("HTTP/1.1 426 "), "{out}");
    assert!(out.contains("Sec-WebSocket-Version: 13\r\n"));
}

#[test]
fn oversize_head_gets_a_431_without_buffering_it_all() {
    let mut server = Connection::server(Config::default());
    server.receive(b"GET / HTTP/1.1\r\nX-Filler: ");
    for _ in 0..100 {
        server.receive(&[b'a'; 1024]);
        if server.poll_event().is_err() {
            break;
        }
    }
    assert!(server.outbound().starts_with(b"HTTP/1.1 431 "));
    assert!(server.is_closed());
}

#[test]
fn rejecting_writes_the_response_and_closes() {
    let mut server = Connection::server(Config::default());
    server.receive(BROWSER_REQUEST);
    assert!(matches!(
        server.poll_event(),
        Ok(Some(Event::HandshakeRequest(_)))
    ));
    server.reject(&Reject::new(403).body("no")).unwrap();
    assert!(server.outbound().starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert!(server.should_close_transport());
    // The pipelined frame is not decoded for a refused connection.
    assert_eq!(server.poll_event(), Ok(None));
}

#[test]
fn accepting_a_protocol_not_offered_is_an_error_and_writes_nothing() {
    let mut server = Connection::server(Config::default());
    server.receive(BROWSER_REQUEST);
    server.poll_event().unwrap();
    assert!(matches!(
        server.accept(&Accept::new().protocol("mqtt")),
        Err(SendError::Accept(_))
    ));
    assert!(server.outbound().is_empty());
    assert_eq!(server.state(), State::Connecting);
    assert_eq!(server.accept(&Accept::new()), Ok(()));
    assert_eq!(
        server.accept(&Accept::new()),
        Err(SendError::NoPendingRequest)
    );
}

#[test]
fn transport_ending_during_the_handshake_is_a_1006() {
    let mut server = Connection::server(Config::default());
    server.receive(b"GET / HTTP/1.1\r\n");
    server.receive_eof();
    assert!(
        matches!(server.poll_event(), Ok(Some(Event::Close(f))) if f.code == sockless::CloseCode::ABNORMAL)
    );
    assert!(server.should_close_transport());
}

#[test]
fn already_upgraded_connection_starts_open() {
    let server = Connection::open(Role::Server, Config::default());
    assert_eq!(server.state(), State::Open);
}

/// A read larger than the input limit (one frame plus `max_buffered_input`) during the
/// handshake fails it instead of stalling (found by the `server_connection` and
/// `client_connection` fuzz targets).
#[test]
fn oversized_read_during_the_handshake_fails_it() {
    let mut config = Config::default();
    // A control frame of 125 bytes is always allowed, so that is the smallest frame the
    // limit makes room for.
    config.max_frame_size = 10;
    config.max_buffered_input = 60;
    assert!(BROWSER_REQUEST.len() > 125 + 14 + 60);
    let mut server = Connection::server(config.clone());
    server.receive(BROWSER_REQUEST);
    assert_eq!(
        server.poll_event(),
        Err(Error::Request(RequestError::HeadTooLarge))
    );
    assert!(server.outbound().starts_with(b"HTTP/1.1 431 "));
    assert!(server.should_close_transport());

    let uri = Uri::parse("ws://server.example.com/").unwrap();
    let mut client = Connection::client_with_rng(&uri, ClientOptions::new(), config, Counter(1));
    client.receive(&[b'x'; 300]);
    assert_eq!(
        client.poll_event(),
        Err(Error::Response(ResponseError::HeadTooLarge))
    );
    assert!(client.should_close_transport());
}
