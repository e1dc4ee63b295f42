//! Writes the seed corpora, `fuzz/corpus/TARGET/seed-*`, from the protocol's own examples:
//! RFC 6455 §1.2/§1.3 and §5.7, browser upgrade requests, and inputs of the unit tests.
//!
//! ```text
//! cd fuzz && cargo run --example gen_seeds
//! ```
//!
//! Inputs of the connection targets follow `sockless_fuzz::drive`'s layout, those of the
//! decoder and UTF-8 targets their own (see each target's doc). The client seeds answer with
//! the `Sec-WebSocket-Accept` of the client target's deterministic key.

use sockless::handshake::{
    Accept, ClientOptions, ExtensionOffer, Limits, Reject, RequestError, Uri, accept_key,
    parse_request, write_request,
};
use sockless_fuzz::{client_key, client_options, client_uri};
use std::path::{Path, PathBuf};

/// RFC 6455 §5.7's masking key.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame with first byte `b0` (FIN, RSV, opcode), masked with `mask` if given.
fn frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}

/// Frame streams, built for a sender whose frames are masked with `mask` (a client's) or
/// not: the RFC 6455 §5.7 examples and cases from the unit tests.
fn frame_streams(mask: Option<[u8; 4]>) -> Vec<(&'static str, Vec<u8>)> {
    let f = |b0: u8, payload: &[u8]| frame(b0, payload, mask);
    let cat = |frames: &[Vec<u8>]| frames.concat();
    let mut binary_64k_header = vec![0x82, if mask.is_some() { 0xFF } else { 0x7F }];
    binary_64k_header.extend_from_slice(&65536u64.to_be_bytes());
    if let Some(k) = mask {
        binary_64k_header.extend_from_slice(&k);
    }
    binary_64k_header.extend_from_slice(&[0x55; 64]);
    let euro = "€".as_bytes();
    vec![
        ("rfc-text-hello", f(0x81, b"Hello")),
        (
            "rfc-fragmented-hello",
            cat(&[f(0x01, b"Hel"), f(0x80, b"lo")]),
        ),
        ("rfc-ping-hello", f(0x89, b"Hello")),
        ("rfc-pong-hello", f(0x8a, b"Hello")),
        ("rfc-binary-256", f(0x82, &[0xAB; 256])),
        ("rfc-binary-64k-truncated", binary_64k_header),
        (
            "ping-between-fragments",
            cat(&[f(0x01, b"Hel"), f(0x89, b"p"), f(0x80, b"lo")]),
        ),
        (
            "codepoint-across-fragments",
            cat(&[
                f(0x01, &euro[..1]),
                f(0x00, &euro[1..2]),
                f(0x80, &euro[2..]),
            ]),
        ),
        (
            "text-then-close",
            cat(&[
                f(0x81, "κόσμε".as_bytes()),
                f(0x88, &close_payload(1000, b"bye")),
            ]),
        ),
        ("invalid-utf8", f(0x81, b"ok\xff and much more text")),
        (
            "text-ends-in-codepoint",
            cat(&[f(0x01, &euro[..2]), f(0x80, b"")]),
        ),
        ("rsv2-set", f(0xA1, b"hi")),
        ("reserved-opcode", f(0x83, b"hi")),
        ("fragmented-ping", f(0x09, b"")),
        ("ping-126", f(0x89, &[0; 126])),
        ("continuation-first", f(0x80, b"x")),
        ("data-inside-message", cat(&[f(0x01, b"a"), f(0x82, b"b")])),
        ("close-1000-bye", f(0x88, &close_payload(1000, b"bye"))),
        ("close-empty", f(0x88, b"")),
        ("close-one-byte", f(0x88, b"\x03")),
        ("close-1005", f(0x88, &close_payload(1005, b""))),
        (
            "close-reason-not-utf8",
            f(0x88, &close_payload(1000, b"\xff")),
        ),
        (
            "many-empty-fragments",
            cat(&[
                f(0x02, b""),
                f(0x00, b""),
                f(0x00, b""),
                f(0x00, b""),
                f(0x80, b""),
            ]),
        ),
        (
            "binary-over-small-limits",
            cat(&[f(0x02, &[7; 20]), f(0x80, &[8; 30])]),
        ),
        (
            "ping-flood",
            cat(&[
                f(0x89, b"1"),
                f(0x89, b"22"),
                f(0x81, b"x"),
                f(0x89, b"333"),
                f(0x89, b""),
            ]),
        ),
    ]
}

const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\n\
Sec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Protocol: chat\r\n\r\n";

/// What Chrome sends for `new WebSocket("ws://example.com:8000/chat")` from a page on
/// `http://example.com:8000`.
const CHROME_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: example.com:8000\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://example.com:8000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// Firefox's, with its `keep-alive, Upgrade` and fetch metadata.
const FIREFOX_REQUEST: &[u8] = b"GET /socket?room=1&user=a%20b HTTP/1.1\r\n\
Host: localhost:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n\
Accept: */*\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Sec-WebSocket-Version: 13\r\n\
Origin: http://localhost:8080\r\n\
Sec-WebSocket-Extensions: permessage-deflate\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Connection: keep-alive, Upgrade\r\n\
Sec-Fetch-Dest: empty\r\n\
Sec-Fetch-Mode: websocket\r\n\
Sec-Fetch-Site: same-origin\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
Upgrade: websocket\r\n\r\n";

/// A request target in absolute-form (RFC 7230 §5.3.2), which a server must accept.
const ABSOLUTE_FORM_REQUEST: &[u8] = b"GET ws://example.com:8181/ HTTP/1.1\r\n\
Host: example.com:8181\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// From the unit tests: an old draft's version, which gets a 426.
const VERSION_8_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n";

fn requests() -> Vec<(&'static str, Vec<u8>)> {
    let uri = Uri::parse("ws://[2001:db8::1]:8443/chat?room=1").expect("valid");
    let opts = ClientOptions::new()
        .protocol("v2.chat")
        .protocol("v1.chat")
        .extension(
            ExtensionOffer::new("permessage-deflate")
                .param("client_max_window_bits")
                .param_value("server_max_window_bits", "10"),
        )
        .origin("https://example.com")
        .header("Authorization", "Bearer abc");
    let mut written = bytes::BytesMut::new();
    write_request(&uri, b"dGhlIHNhbXBsZSBub25jZQ==", &opts, &mut written);
    vec![
        ("rfc-request", RFC_REQUEST.to_vec()),
        ("chrome-request", CHROME_REQUEST.to_vec()),
        ("firefox-request", FIREFOX_REQUEST.to_vec()),
        ("written-request", written.to_vec()),
        ("absolute-form-request", ABSOLUTE_FORM_REQUEST.to_vec()),
        ("version-8-request", VERSION_8_REQUEST.to_vec()),
        (
            "folded-header",
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n".to_vec(),
        ),
        ("bare-lf", b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n".to_vec()),
        ("space-before-colon", b"GET / HTTP/1.1\r\nHost : a\r\n\r\n".to_vec()),
        (
            "quoted-extension-param",
            [
                &RFC_REQUEST[..RFC_REQUEST.len() - 2],
                b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"10\", x-foo\r\n\r\n",
            ]
            .concat(),
        ),
    ]
}

fn responses() -> Vec<(&'static str, Vec<u8>)> {
    let (req, _) = parse_request(RFC_REQUEST, &Limits::default())
        .expect("valid")
        .expect("complete");
    let mut accepted = bytes::BytesMut::new();
    Accept::new()
        .protocol("chat")
        .header("Set-Cookie", "session=1")
        .write_response(&req, &mut accepted)
        .expect("chat was offered");
    let mut refused = bytes::BytesMut::new();
    Reject::new(401)
        .header("WWW-Authenticate", "Bearer")
        .body("log in first\n")
        .write_response(&mut refused);
    let mut upgrade_required = bytes::BytesMut::new();
    RequestError::UnsupportedVersion.write_response(&mut upgrade_required);
    vec![
        ("rfc-response", RFC_RESPONSE.to_vec()),
        ("accept-chat-cookie", accepted.to_vec()),
        ("reject-401", refused.to_vec()),
        ("error-426", upgrade_required.to_vec()),
        (
            "forbidden-with-body",
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno".to_vec(),
        ),
        (
            "101-over-http-1.0",
            [b"HTTP/1.0".as_slice(), &RFC_RESPONSE[8..]].concat(),
        ),
        (
            "101-with-deflate",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n\r\n"
                .to_vec(),
        ),
        (
            "redirect",
            b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/chat\r\n\
Content-Length: 0\r\n\r\n"
                .to_vec(),
        ),
    ]
}

/// A connection target input: `[flags][control length][control][wire]`.
fn connection_input(flags: u8, control: &[u8], wire: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    out.extend_from_slice(&(control.len() as u16).to_le_bytes());
    out.extend_from_slice(control);
    out.extend_from_slice(wire);
    out
}

/// Control operation: feed `n` wire bytes (1..=65536) and poll.
fn feed(n: usize) -> Vec<u8> {
    let [lo, hi] = ((n.max(1) - 1) as u16).to_le_bytes();
    vec![1, lo, hi]
}

fn send_text(text: &str) -> Vec<u8> {
    [&[4, text.len() as u8][..], text.as_bytes()].concat()
}

fn send_fragment(text: bool, fin: bool, back: u8, data: &[u8]) -> Vec<u8> {
    let how = u8::from(!text) | (u8::from(fin) << 1) | (back << 2);
    [&[6, how, data.len() as u8][..], data].concat()
}

/// A text fragment of raw bytes, UTF-8 or not.
fn send_raw_text_fragment(fin: bool, data: &[u8]) -> Vec<u8> {
    let how = 0x10 | (u8::from(fin) << 1);
    [&[6, how, data.len() as u8][..], data].concat()
}

fn send_binary(data: &[u8]) -> Vec<u8> {
    [&[5, data.len() as u8][..], data].concat()
}

/// Write out only `n` bytes of the output.
fn write_out(n: u16) -> Vec<u8> {
    let [lo, hi] = n.to_le_bytes();
    vec![14, lo, hi]
}

const FLUSH: [u8; 1] = [15];

fn ping(data: &[u8]) -> Vec<u8> {
    [&[7, data.len() as u8][..], data].concat()
}

/// Close with the `CLOSE_CODES` entry at `index`.
fn close(index: u8, reason: &str) -> Vec<u8> {
    [&[9, index, reason.len() as u8][..], reason.as_bytes()].concat()
}

const ACCEPT_PLAIN: [u8; 2] = [10, 0];
const ACCEPT_PROTOCOL: [u8; 2] = [10, 1];
const EOF: [u8; 1] = [12];

fn timeout(step: u8) -> Vec<u8> {
    vec![13, step]
}

fn server_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let client = |b0: u8, payload: &[u8]| frame(b0, payload, Some(KEY));
    let hello = client(0x81, b"Hello");
    let ping_frame = client(0x89, b"are you there");
    let close_frame = client(0x88, &close_payload(1000, b"bye"));
    let chrome_then_frames = [CHROME_REQUEST, &hello, &ping_frame, &close_frame].concat();
    let control = [
        feed(CHROME_REQUEST.len()),
        ACCEPT_PLAIN.to_vec(),
        feed(hello.len()),
        send_text("hi"),
        feed(ping_frame.len()),
        send_fragment(true, false, 1, "κόσμε".as_bytes()),
        ping(b"between"),
        send_fragment(true, true, 0, b" world"),
        feed(close_frame.len()),
    ]
    .concat();
    let rfc_then_frames = [
        RFC_REQUEST,
        &client(0x01, b"Hel"),
        &client(0x89, b"p"),
        &client(0x80, b"lo"),
    ]
    .concat();
    let rfc_control = [
        feed(RFC_REQUEST.len()),
        ACCEPT_PROTOCOL.to_vec(),
        vec![0, 2, 0, 2, 0, 2, 0, 2, 0, 2],
        close(1, "going"),
        feed(64),
    ]
    .concat();
    let firefox_keepalive = [FIREFOX_REQUEST, &client(0x8a, b"")].concat();
    let keepalive_control = [
        feed(FIREFOX_REQUEST.len()),
        ACCEPT_PLAIN.to_vec(),
        timeout(0),
        timeout(20),
        timeout(20),
        feed(6),
        timeout(30),
        timeout(30),
        timeout(30),
    ]
    .concat();
    // Pings read while their pongs are unwritten: only the latest is answered; a pong
    // partly written stays.
    let pings = [
        client(0x89, b"1"),
        client(0x89, b"22"),
        client(0x89, b"333"),
        client(0x89, b"4444"),
    ];
    let ping_flood = [RFC_REQUEST, &pings.concat()].concat();
    let ping_flood_control = [
        feed(RFC_REQUEST.len()),
        ACCEPT_PLAIN.to_vec(),
        feed(pings[0].len() + pings[1].len()),
        write_out(1),
        feed(pings[2].len()),
        FLUSH.to_vec(),
        feed(pings[3].len()),
    ]
    .concat();
    // The tightest output limit (set 3: 150 bytes owed at most): sends fail with
    // OutboundFull until the output is written; the pong owed takes it past the limit, and
    // the close is still taken.
    let peer_ping = client(0x89, &[5; 60]);
    let full_wire = [RFC_REQUEST, &peer_ping].concat();
    let full_control = [
        feed(RFC_REQUEST.len()),
        ACCEPT_PLAIN.to_vec(),
        send_binary(&[1; 100]),
        send_binary(&[2; 100]),
        FLUSH.to_vec(),
        send_binary(&[3; 100]),
        feed(peer_ping.len()),
        ping(&[4; 60]),
        close(0, "full"),
    ]
    .concat();
    let utf8_control = [
        feed(RFC_REQUEST.len()),
        ACCEPT_PLAIN.to_vec(),
        send_raw_text_fragment(false, b"ok \xe2\x82"),
        send_raw_text_fragment(false, b"\xff"),
        send_raw_text_fragment(true, b"\xac"),
        send_raw_text_fragment(false, b"\xe2"),
        send_raw_text_fragment(true, b"\x82"),
    ]
    .concat();
    vec![
        (
            "chrome-accept-talk-close",
            connection_input(0x08, &control, &chrome_then_frames),
        ),
        (
            "ping-flood-coalesces",
            connection_input(0x08, &ping_flood_control, &ping_flood),
        ),
        (
            "outbound-full",
            connection_input(0x0C, &full_control, &full_wire),
        ),
        (
            "fragment-not-utf8",
            connection_input(0x08, &utf8_control, RFC_REQUEST),
        ),
        (
            "handshake-timeout",
            connection_input(
                0x08,
                &[feed(20), timeout(0), timeout(59), timeout(1), feed(64)].concat(),
                RFC_REQUEST,
            ),
        ),
        (
            "rfc-protocol-frames-mode",
            connection_input(0x09, &rfc_control, &rfc_then_frames),
        ),
        (
            "all-in-one-read",
            connection_input(0x08, &[], &chrome_then_frames),
        ),
        (
            "small-limits",
            connection_input(0x00, &[], &chrome_then_frames),
        ),
        (
            "version-8-gets-426",
            connection_input(0x08, &feed(VERSION_8_REQUEST.len()), VERSION_8_REQUEST),
        ),
        (
            "reject-403",
            connection_input(
                0x08,
                &[feed(RFC_REQUEST.len()), vec![11, 0x82]].concat(),
                RFC_REQUEST,
            ),
        ),
        (
            "keepalive",
            connection_input(0x18, &keepalive_control, &firefox_keepalive),
        ),
        (
            "eof-mid-message",
            connection_input(
                0x08,
                &[
                    feed(RFC_REQUEST.len()),
                    ACCEPT_PLAIN.to_vec(),
                    feed(8),
                    EOF.to_vec(),
                ]
                .concat(),
                &[RFC_REQUEST, &client(0x01, b"half a message")].concat(),
            ),
        ),
    ]
}

fn client_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let accept = accept_key(&client_key());
    let accept = std::str::from_utf8(&accept).expect("base64");
    let ok_101 = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    let chat_101 = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\
         Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n"
    );
    let server = |b0: u8, payload: &[u8]| frame(b0, payload, None);
    let frames = [
        server(0x81, b"Hello"),
        server(0x89, b"Hello"),
        server(0x01, b"Hel"),
        server(0x80, b"lo"),
        server(0x88, &close_payload(1001, b"")),
    ]
    .concat();
    let control = [
        feed(ok_101.len()),
        send_text("Hello, server"),
        feed(7),
        ping(b"p"),
        feed(7),
        close(0, "done"),
        feed(64),
        EOF.to_vec(),
    ]
    .concat();
    let rfc_accept_101 = RFC_RESPONSE.to_vec();
    vec![
        ("accept-talk-close", connection_input(0x08, &control, &[ok_101.as_bytes(), &frames].concat())),
        ("all-in-one-read", connection_input(0x08, &[], &[ok_101.as_bytes(), &frames].concat())),
        ("frames-mode-chunked", connection_input(0x09, &[0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4], &[ok_101.as_bytes(), &frames].concat())),
        ("protocol-and-extension", connection_input(0xC8, &[], &[chat_101.as_bytes(), &frames].concat())),
        ("small-limits", connection_input(0x00, &[], &[ok_101.as_bytes(), &frames].concat())),
        (
            "forbidden-with-body",
            connection_input(
                0x08,
                &[],
                b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
            ),
        ),
        (
            "redirect",
            connection_input(
                0x08,
                &[],
                b"HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/chat\r\nContent-Length: 0\r\n\r\n",
            ),
        ),
        ("someone-elses-accept", connection_input(0x08, &[], &rfc_accept_101)),
        (
            "handshake-timeout",
            connection_input(
                0x08,
                &[timeout(0), feed(30), timeout(59), timeout(1), feed(64)].concat(),
                ok_101.as_bytes(),
            ),
        ),
        (
            "close-timeout",
            connection_input(
                0x08,
                &[feed(ok_101.len()), close(0, ""), timeout(0), timeout(50)].concat(),
                ok_101.as_bytes(),
            ),
        ),
    ]
}

fn decoder_input(flags: u8, sizes: &[u8], bytes: &[u8]) -> Vec<u8> {
    [&[flags, sizes.len() as u8][..], sizes, bytes].concat()
}

fn decoder_seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (masked, role_bit, side) in [(Some(KEY), 1u8, "masked"), (None, 0, "unmasked")] {
        for (name, bytes) in frame_streams(masked) {
            // Large limits, whole; then frames mode in 3-byte chunks; then small limits.
            out.push((
                format!("{side}-{name}"),
                decoder_input(role_bit | 0x08, &[], &bytes),
            ));
            out.push((
                format!("{side}-{name}-frames-chunked"),
                decoder_input(role_bit | 0x0A, &[2], &bytes),
            ));
            out.push((
                format!("{side}-{name}-small-limits"),
                decoder_input(role_bit, &[0, 6], &bytes),
            ));
            // Written out after each read, so that pongs of separate reads do not collapse.
            out.push((
                format!("{side}-{name}-write-between-reads"),
                decoder_input(role_bit | 0x18, &[4, 1], &bytes),
            ));
        }
    }
    out
}

fn utf8_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let with_splits =
        |splits: &[u8], text: &[u8]| [&[splits.len() as u8][..], splits, text].concat();
    vec![
        ("kosme", with_splits(&[3, 5], "κόσμε".as_bytes())),
        ("emoji", with_splits(&[1, 2, 3], "a😀b".as_bytes())),
        ("max-codepoint", with_splits(&[2], b"\xf4\x8f\xbf\xbf")),
        ("over-max", with_splits(&[2], b"\xf4\x90\x80\x80")),
        ("surrogate", with_splits(&[1], b"\xed\xa0\x80")),
        ("overlong", with_splits(&[1], b"\xc0\xaf")),
        ("overlong-3", with_splits(&[], b"\xe0\x80\xaf")),
        ("lone-continuation", with_splits(&[0], b"ab\x80cd")),
        ("truncated", with_splits(&[1], b"\xe2\x82")),
        (
            "mixed",
            with_splits(&[4, 9, 13], "Hello-µ@ßöäüàá-UTF-8!!€".as_bytes()),
        ),
    ]
}

/// Raw bytes for the structure-aware target: `arbitrary` reads any bytes, so these only
/// give it varied material (text, a close code, lengths).
fn roundtrip_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "text",
            b"\x00\x01\x02\x03\x04\x05\x06\x07Hello, world\x0c\x00\x00\x00".to_vec(),
        ),
        (
            "kosme",
            [
                b"\x01\x00".as_slice(),
                "κόσμε€😀".as_bytes(),
                b"\x03\xe8bye",
            ]
            .concat(),
        ),
        ("bytes", (0u8..=255).collect()),
    ]
}

fn write(dir: &Path, target: &str, seeds: impl IntoIterator<Item = (impl AsRef<str>, Vec<u8>)>) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    let mut n = 0;
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("seed-{}", name.as_ref())), bytes).expect("write a seed");
        n += 1;
    }
    println!("{target}: {n} seeds");
}

fn main() {
    // The client seeds are for the options the flags pick; check the two agree.
    assert_eq!(client_options(0xC0).protocols(), ["chat", "superchat"]);
    assert_eq!(client_uri().resource(), "/chat");
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    write(&dir, "frame_decoder", decoder_seeds());
    write(&dir, "server_connection", server_seeds());
    write(&dir, "client_connection", client_seeds());
    write(&dir, "handshake_request", requests());
    write(&dir, "handshake_response", responses());
    write(&dir, "roundtrip", roundtrip_seeds());
    write(&dir, "utf8", utf8_seeds());
    println!(
        "client target's Sec-WebSocket-Accept: {}",
        String::from_utf8_lossy(&accept_key(&client_key()))
    );
}
