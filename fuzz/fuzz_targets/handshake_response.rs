//! Arbitrary heads into `parse_response`.
//!
//! Checks, for any input: the incremental `ResponseParser`, given the bytes in three
//! growing steps, answers as `parse_response` does on each step. For a response it
//! accepts: the head is `input[..n]` and ends with an empty line; every shorter prefix is
//! incomplete; a `content_length` comes from a `Content-Length` header and never sits beside
//! `Transfer-Encoding`; and the response round-trips:
//!
//! - a `101` that `validate_response` takes for the RFC 6455 key (with an offer of `chat`,
//!   `superchat` and `permessage-deflate`): answering the same client's request with
//!   `Accept` and the same choices and other headers gives a `101` that validates to the
//!   same `Negotiated`, with the same other headers;
//! - a final status (200-999): rebuilt with `Reject` (same status, the headers it lets a
//!   caller set, the body that followed the head), it parses back to the same status,
//!   headers and body.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockless::handshake::{
    Accept, ClientOptions, ExtensionOffer, Header, Limits, Negotiated, Reject, Response,
    ResponseParser, Uri, parse_request, parse_response, validate_response, write_request,
};
use sockless_fuzz::drive::BIG_LIMITS;

/// RFC 6455 §1.3's key.
const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

/// Headers `Accept` writes itself.
const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// Headers `Reject` writes itself.
const REJECT_RESERVED: &[&str] = &["Connection", "Content-Length", "Transfer-Encoding"];

fn others<'a>(resp: &'a Response, reserved: &[&str]) -> Vec<&'a Header> {
    resp.headers()
        .iter()
        .filter(|h| !reserved.iter().any(|r| r.eq_ignore_ascii_case(&h.name)))
        .collect()
}

fn offer() -> ClientOptions {
    ClientOptions::new()
        .protocol("chat")
        .protocol("superchat")
        .extension(ExtensionOffer::new("permessage-deflate").param("client_max_window_bits"))
}

fn reanswer(resp: &Response, negotiated: &Negotiated, opts: &ClientOptions) {
    let uri = Uri::parse("ws://server.example.com/chat").expect("valid");
    let mut request = BytesMut::new();
    write_request(&uri, KEY, opts, &mut request);
    let (req, _) = parse_request(&request, &BIG_LIMITS)
        .expect("our own request parses")
        .expect("and is complete");
    let mut accept = Accept::new();
    if let Some(p) = &negotiated.protocol {
        accept = accept.protocol(p.clone());
    }
    for e in &negotiated.extensions {
        accept = accept.extension(e.clone());
    }
    for h in others(resp, ACCEPT_RESERVED) {
        accept = accept.header(h.name.clone(), &h.value);
    }
    let mut out = BytesMut::new();
    if let Err(e) = accept.write_response(&req, &mut out) {
        panic!("answering with what the server chose failed: {e}");
    }
    let (again, n) = match parse_response(&out, &BIG_LIMITS) {
        Ok(Some(parsed)) => parsed,
        other => panic!("our 101 does not parse: {other:?}"),
    };
    assert_eq!(n, out.len());
    match validate_response(&again, KEY, opts) {
        Ok(n) => assert_eq!(&n, negotiated, "the choices changed on the way"),
        Err(e) => panic!("our 101 does not validate: {e}"),
    }
    assert_eq!(
        others(&again, ACCEPT_RESERVED),
        others(resp, ACCEPT_RESERVED)
    );
}

fn rebuild_rejection(resp: &Response, after_head: &[u8]) {
    let body = &after_head[..resp.content_length().unwrap_or(0).min(after_head.len())];
    let mut reject = Reject::new(resp.status()).body(body.to_vec());
    for h in others(resp, REJECT_RESERVED) {
        reject = match reject.try_header(h.name.clone(), &h.value) {
            Ok(r) => r,
            Err(e) => panic!("a header the parser accepted cannot be sent: {e}"),
        };
    }
    let mut out = BytesMut::new();
    reject.write_response(&mut out);
    let (again, n) = match parse_response(&out, &BIG_LIMITS) {
        Ok(Some(parsed)) => parsed,
        other => panic!("our refusal does not parse: {other:?}"),
    };
    assert_eq!(again.status(), resp.status());
    let status_line = format!("HTTP/1.1 {} {}\r\n", resp.status(), again.reason());
    assert!(out.starts_with(status_line.as_bytes()), "{status_line:?}");
    assert_eq!(again.content_length(), Some(body.len()));
    assert_eq!(&out[n..], body);
    assert_eq!(
        others(&again, REJECT_RESERVED),
        others(resp, REJECT_RESERVED)
    );
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let result = parse_response(data, &limits);

    let mut parser = ResponseParser::new(limits);
    for cut in [data.len() / 3, data.len() * 2 / 3, data.len()] {
        let step = parser.parse(&data[..cut]);
        assert_eq!(
            step,
            parse_response(&data[..cut], &limits),
            "at {cut} bytes"
        );
        if step != Ok(None) {
            break;
        }
    }

    let Ok(Some((resp, n))) = result else {
        return;
    };
    assert!(n <= data.len() && data[..n].ends_with(b"\r\n\r\n"));
    assert_eq!(
        parse_response(&data[..n], &limits),
        Ok(Some((resp.clone(), n)))
    );
    for cut in [n - 1, n / 2] {
        assert_eq!(
            parse_response(&data[..cut], &limits),
            Ok(None),
            "prefix {cut}"
        );
    }
    if resp.content_length().is_some() {
        assert!(resp.header("Content-Length").is_some());
        assert!(resp.header("Transfer-Encoding").is_none());
    }

    let opts = offer();
    if let Ok(negotiated) = validate_response(&resp, KEY, &opts) {
        assert_eq!(resp.status(), 101);
        reanswer(&resp, &negotiated, &opts);
    }
    if (200..=999).contains(&resp.status()) {
        rebuild_rejection(&resp, &data[n..]);
    }
});
