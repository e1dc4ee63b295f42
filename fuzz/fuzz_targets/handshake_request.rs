//! Arbitrary heads into `parse_request`.
//!
//! Checks, for any input: the incremental `RequestParser`, given the bytes in three
//! growing steps, answers as `parse_request` does on each step. For a request it accepts:
//! the head is `input[..n]` and ends with an empty line; every shorter prefix is
//! incomplete (`Ok(None)`); and the request round-trips:
//!
//! - rebuilt with `write_request` (a `Uri` from its host and resource where `Uri` can hold
//!   them, `ClientOptions` with its subprotocols, extensions, origin and other headers) and
//!   parsed again, it has the same path and query, host, key, subprotocols, extensions, origin and
//!   other headers;
//! - accepted with `Accept` (its first subprotocol and extension), the `101` parses, and
//!   `validate_response` takes it for the client that sent the request, with the same
//!   subprotocol and extension.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockless::handshake::{
    Accept, ClientOptions, Limits, Request, RequestParser, Uri, parse_request, parse_response,
    validate_response, write_request,
};
use sockless_fuzz::drive::{BIG_LIMITS, CLIENT_RESERVED, key_of, options_of};

fn is_reserved(name: &str) -> bool {
    CLIENT_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

fn other_headers(req: &Request) -> Vec<(&str, &[u8])> {
    req.headers()
        .filter(|(name, _)| !is_reserved(name))
        .collect()
}

/// The path and query of the request URI, as an origin-form target.
fn resource(req: &Request) -> String {
    match req.query() {
        Some(q) => format!("{}?{q}", req.path()),
        None => req.path().to_string(),
    }
}

/// The `Uri` a client would have used: the request's own host and resource when `Uri`
/// accepts them, else a stand-in for whichever does not fit.
fn uri_of(req: &Request) -> (Uri, bool, bool) {
    let resource = resource(req);
    let host = Uri::parse(&format!("ws://{}/", req.host())).ok();
    let target = Uri::parse(&format!("ws://example.com{resource}")).ok();
    let host_ok = host.is_some();
    let target_ok = target.is_some();
    let text = format!(
        "ws://{}{}",
        if host_ok { req.host() } else { "example.com" },
        if target_ok { &resource } else { "/" }
    );
    match Uri::parse(&text) {
        Ok(uri) => (uri, host_ok, target_ok),
        Err(e) => panic!("{text:?} does not parse ({e}), though its parts do"),
    }
}

fn rebuild(req: &Request) {
    let (uri, host_ok, target_ok) = uri_of(req);
    if target_ok {
        assert_eq!(uri.resource(), resource(req), "Uri changed the resource");
    }
    if host_ok && uri.host_header() != req.host() {
        // Uri writes the port canonically (no leading zeros) and drops the default one;
        // nothing else may change.
        let (host, port) = req
            .host()
            .rsplit_once(':')
            .expect("only the port can differ");
        assert_eq!(
            port.parse::<u16>(),
            Ok(uri.port()),
            "Uri changed {:?}",
            req.host()
        );
        assert_eq!(
            host.trim_start_matches('[').trim_end_matches(']'),
            uri.host(),
            "Uri changed {:?}",
            req.host()
        );
    }
    let mut opts = options_of(req);
    if let Some(origin) = req.origin() {
        opts = match opts.try_origin(origin) {
            Ok(o) => o,
            Err(e) => panic!("an accepted origin cannot be sent: {e}"),
        };
    }
    for (name, value) in other_headers(req) {
        opts = match opts.try_header(name, value) {
            Ok(o) => o,
            Err(e) => panic!("an accepted header cannot be sent: {e}"),
        };
    }
    let key = key_of(req);
    let mut wire = BytesMut::new();
    write_request(&uri, &key, &opts, &mut wire);
    let (again, n) = match parse_request(&wire, &BIG_LIMITS) {
        Ok(Some(parsed)) => parsed,
        other => panic!("a rebuilt request does not parse: {other:?}\n{wire:?}"),
    };
    assert_eq!(n, wire.len());
    assert_eq!(again.target(), uri.resource());
    if target_ok {
        assert_eq!((again.path(), again.query()), (req.path(), req.query()));
    }
    assert_eq!(again.host(), uri.host_header());
    assert_eq!(again.key(), req.key());
    assert!(
        again
            .protocols()
            .eq(opts.protocols().iter().map(String::as_str))
    );
    assert_eq!(again.extensions(), req.extensions());
    assert_eq!(again.origin(), req.origin());
    assert_eq!(other_headers(&again), other_headers(req));
}

fn accept(req: &Request, opts: &ClientOptions) {
    let mut accept = Accept::new();
    if let Some(p) = req.protocols().next() {
        accept = accept.protocol(p);
    }
    if let Some(e) = req.extensions().first() {
        accept = accept.extension(e.clone());
    }
    let mut out = BytesMut::new();
    if let Err(e) = accept.write_response(req, &mut out) {
        panic!("accepting what the client offered failed: {e}");
    }
    let (resp, n) = match parse_response(&out, &BIG_LIMITS) {
        Ok(Some(parsed)) => parsed,
        other => panic!("the 101 does not parse: {other:?}"),
    };
    assert_eq!((n, resp.status()), (out.len(), 101));
    let negotiated = match validate_response(&resp, &key_of(req), opts) {
        Ok(n) => n,
        Err(e) => panic!("the client would refuse the 101: {e}"),
    };
    assert_eq!(negotiated.protocol.as_deref(), req.protocols().next());
    assert_eq!(
        negotiated.extensions.first(),
        req.extensions().first(),
        "the accepted extension changed on the way"
    );
    assert!(negotiated.extensions.len() <= 1);
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let result = parse_request(data, &limits);

    let mut parser = RequestParser::new(limits);
    for cut in [data.len() / 3, data.len() * 2 / 3, data.len()] {
        let step = parser.parse(&data[..cut]);
        assert_eq!(step, parse_request(&data[..cut], &limits), "at {cut} bytes");
        if step != Ok(None) {
            break;
        }
    }

    let Ok(Some((req, n))) = result else {
        return;
    };
    assert!(n <= data.len() && data[..n].ends_with(b"\r\n\r\n"));
    assert_eq!(
        parse_request(&data[..n], &limits),
        Ok(Some((req.clone(), n)))
    );
    for cut in [n - 1, n / 2] {
        assert_eq!(
            parse_request(&data[..cut], &limits),
            Ok(None),
            "prefix {cut}"
        );
    }
    assert_eq!(req.method(), "GET");
    assert_eq!(req.version(), 13);
    // The target is the path and query (origin-form), or a scheme, the host and them
    // (absolute-form, where an empty path reads as "/").
    let resource = resource(&req);
    if req.target().starts_with('/') {
        assert_eq!(req.target(), resource);
    } else {
        let (scheme, rest) = req.target().split_once("://").expect("absolute-form");
        assert!(
            ["ws", "wss", "http", "https"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme)),
            "scheme {scheme:?}"
        );
        let after = rest
            .strip_prefix(req.host())
            .expect("the host is the authority");
        assert!(
            after == resource || (req.path() == "/" && format!("/{after}") == resource),
            "{:?} is not {resource:?}",
            req.target()
        );
    }

    rebuild(&req);
    accept(&req, &options_of(&req));
});
