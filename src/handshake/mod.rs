//! The opening handshake (RFC 6455 §4), as pure functions over byte buffers.
//!
//! Nothing here reads from or writes to a socket, and nothing here knows about
//! frames: a server hands [`parse_request`] the bytes it has received so far and,
//! once a [`Request`] comes back, answers with [`Accept::write_response`] or
//! [`Reject::write_response`]; a client writes its request with
//! [`write_request`], then checks the server's answer with [`parse_response`] and
//! [`validate_response`]. Both parsers report exactly how many bytes the head
//! took, so frames that arrive in the same read as the head stay with the caller.
//!
//! WebSocket over HTTP/2 (RFC 8441 extended CONNECT) lives in
//! [`validate_h2_request`] and [`h2_response_headers`]; with the `http` feature,
//! the request and response types convert to and from the `http` crate's.
//!
//! # Example: a server and a client talking to each other
//!
//! ```
//! use bytes::BytesMut;
//! use sockless::handshake::{
//!     parse_request, parse_response, validate_response, write_request, Accept,
//!     ClientOptions, Limits, Uri,
//! };
//!
//! // Client: build the request.
//! let uri = Uri::parse("ws://example.com/chat").unwrap();
//! let key = *b"dGhlIHNhbXBsZSBub25jZQ==";
//! let opts = ClientOptions::new().protocol("chat");
//! let mut wire = BytesMut::new();
//! write_request(&uri, &key, &opts, &mut wire);
//!
//! // Server: parse it and accept.
//! let (req, used) = parse_request(&wire, &Limits::default()).unwrap().unwrap();
//! assert_eq!(used, wire.len());
//! let mut reply = BytesMut::new();
//! Accept::new().protocol("chat").write_response(&req, &mut reply).unwrap();
//!
//! // Client: check the answer.
//! let (resp, _) = parse_response(&reply, &Limits::default()).unwrap().unwrap();
//! let negotiated = validate_response(&resp, &key, &opts).unwrap();
//! assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
//! ```

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

mod client;
mod h2;
mod head;
mod header;
#[cfg(feature = "http")]
mod http_interop;
mod origin;
mod request;
mod response;
mod uri;

pub use client::{ClientOptions, InvalidOption, write_request};
pub use h2::{H2Error, H2Request, h2_response_headers, validate_h2_request};
pub(crate) use head::HeadScanner;
pub use head::Syntax;
pub use header::{ExtensionOffer, ExtensionParam, InvalidHeader};
#[cfg(feature = "http")]
pub use http_interop::http_request;
pub use origin::Origins;
pub(crate) use request::resume_request;
pub use request::{Request, RequestError, RequestParser, parse_request};
pub use response::{
    Accept, AcceptError, Negotiated, Reject, Response, ResponseError, ResponseParser,
    parse_response, validate_response,
};
pub use uri::{Uri, UriError};

/// The GUID that RFC 6455 §1.3 appends to the client's key before hashing it.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only `Sec-WebSocket-Version` this crate speaks (RFC 6455 §4.1, item 9).
pub const VERSION: &str = "13";

/// Bounds on how much of a peer's handshake head is buffered and parsed.
///
/// Without them a peer could make the caller buffer an endless head, or
/// allocate room for an endless list of headers. Over either, a request is
/// answered with 431.
///
/// ```
/// use sockless::handshake::Limits;
/// let limits = Limits::new().with_max_head_size(16 * 1024).with_max_headers(100);
/// assert_eq!((limits.max_head_size, limits.max_headers), (16 * 1024, 100));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest head, in bytes, including the final empty line. Default 8192.
    pub max_head_size: usize,
    /// The most header lines a head may carry. Default 64.
    pub max_headers: usize,
}

impl Limits {
    /// The defaults: heads of at most 8192 bytes and 64 header lines.
    pub const fn new() -> Self {
        Limits {
            max_head_size: 8192,
            max_headers: 64,
        }
    }

    /// These limits with [`max_head_size`](Self::max_head_size) set to `bytes`.
    pub const fn with_max_head_size(mut self, bytes: usize) -> Self {
        self.max_head_size = bytes;
        self
    }

    /// These limits with [`max_headers`](Self::max_headers) set to `lines`.
    pub const fn with_max_headers(mut self, lines: usize) -> Self {
        self.max_headers = lines;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::new()
    }
}

/// One header line of a handshake, as it appeared on the wire.
///
/// `Debug` leaves out the value of a header that carries a secret (see
/// [`Request`]'s `Debug`).
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name with the case the peer (or caller) gave it; compare it
    /// ASCII case-insensitively.
    pub name: String,
    /// The field value without its surrounding whitespace. Not necessarily
    /// UTF-8: HTTP allows any octet above 0x7F.
    pub value: Bytes,
}

impl Header {
    /// A header from a name and a value, copying both.
    pub fn new(name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        Header {
            name: name.into(),
            value: Bytes::copy_from_slice(value.as_ref()),
        }
    }

    /// The value as text, if it is UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("name", &self.name)
            .field("value", &redacted(&self.name, &self.value))
            .finish()
    }
}

/// The headers whose values are secrets: credentials, session cookies, and
/// the handshake key (which a replayed handshake would need).
const SECRET_HEADERS: &[&str] = &[
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "Set-Cookie",
    "Sec-WebSocket-Key",
];

/// A header value as `Debug` shows it: as escaped text, or `<redacted>` for
/// the value of one of [`SECRET_HEADERS`], so that a logged handshake does not
/// leak it.
pub(crate) struct Redacted<'a>(Option<&'a [u8]>);

/// The value of header `name` as `Debug` should show it.
pub(crate) fn redacted<'a>(name: &str, value: &'a [u8]) -> Redacted<'a> {
    let secret = SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name));
    Redacted((!secret).then_some(value))
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "\"{}\"", value.escape_ascii()),
            None => f.write_str("<redacted>"),
        }
    }
}

/// The values of every header called `name` (ASCII case-insensitive), in order.
pub(crate) fn header_values<'h>(
    headers: &'h [Header],
    name: &str,
) -> impl Iterator<Item = &'h [u8]> {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| &h.value[..])
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ [`GUID`])), RFC 6455 §4.2.2 item 5.4.
///
/// The key is hashed exactly as given (its base64 text, not the decoded bytes).
///
/// ```
/// use sockless::handshake::accept_key;
/// assert_eq!(&accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    use base64::Engine as _;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    let digest = sha.digest().bytes();
    let mut out = [0u8; 28];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut out)
        .expect("20 bytes always encode to 28 base64 characters");
    debug_assert_eq!(written, 28);
    out
}

/// A fresh `Sec-WebSocket-Key`: the base64 text of 16 random bytes
/// (RFC 6455 §4.1 item 7).
///
/// The key is a nonce that keeps caches and confused intermediaries from
/// replaying an old handshake, so `rng` should be a cryptographically secure
/// generator, seeded anew for each process.
///
/// ```
/// # use core::convert::Infallible;
/// # struct Counter(u8);
/// # impl rand_core::TryRng for Counter {
/// #     type Error = Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Infallible> { Ok(0) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Infallible> { Ok(0) }
/// #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
/// #         for b in dst { self.0 = self.0.wrapping_add(1); *b = self.0; }
/// #         Ok(())
/// #     }
/// # }
/// # let mut rng = Counter(0);
/// use sockless::handshake::generate_key;
/// let key = generate_key(&mut rng);
/// assert_eq!(key.len(), 24);
/// assert!(key.ends_with(b"=="));
/// ```
pub fn generate_key(rng: &mut impl rand_core::Rng) -> [u8; 24] {
    use base64::Engine as _;
    let mut nonce = [0u8; 16];
    rng.fill_bytes(&mut nonce);
    let mut out = [0u8; 24];
    let written = base64::engine::general_purpose::STANDARD
        .encode_slice(nonce, &mut out)
        .expect("16 bytes always encode to 24 base64 characters");
    debug_assert_eq!(written, 24);
    out
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly
/// 16 bytes (RFC 6455 §4.1 item 7), with canonical padding and trailing bits.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    let mut decoded = [0u8; 18];
    key.len() == 24
        && base64::engine::general_purpose::STANDARD.decode_slice(key, &mut decoded) == Ok(16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::convert::Infallible;

    struct Fixed(u8);
    impl rand_core::TryRng for Fixed {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(u32::from(self.0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(self.0);
            Ok(())
        }
    }

    #[test]
    fn accept_key_matches_rfc_6455_section_1_3_example() {
        assert_eq!(
            &accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn generate_key_is_base64_of_16_rng_bytes() {
        let key = generate_key(&mut Fixed(0));
        assert_eq!(&key, b"AAAAAAAAAAAAAAAAAAAAAA==");
        let key = generate_key(&mut Fixed(0xff));
        assert_eq!(&key, b"/////////////////////w==");
        assert!(is_valid_key(&key));
    }

    #[test]
    fn key_must_decode_to_exactly_16_bytes() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        // 15 bytes, 20 characters.
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25j"));
        // 17 bytes.
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZSE="));
        // Right length, not base64.
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ!!"));
        // Non-canonical trailing bits.
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZR=="));
    }

    #[test]
    fn every_16_byte_value_gives_a_valid_key() {
        use base64::Engine as _;
        for last in 0..=255u8 {
            let mut bytes = [0x5au8; 16];
            bytes[15] = last;
            let key = base64::engine::general_purpose::STANDARD.encode(bytes);
            assert!(is_valid_key(key.as_bytes()), "{key}");
        }
    }

    #[test]
    fn limits_default_to_8k_head_and_64_headers() {
        let l = Limits::default();
        assert_eq!((l.max_head_size, l.max_headers), (8192, 64));
    }

    #[test]
    fn header_debug_redacts_secret_values() {
        for name in [
            "Cookie",
            "set-cookie",
            "Authorization",
            "PROXY-AUTHORIZATION",
            "Sec-WebSocket-Key",
        ] {
            let shown = alloc::format!("{:?}", Header::new(name, "s3cr3t"));
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(
                shown.contains("<redacted>") && shown.contains(name),
                "{shown}"
            );
        }
        let shown = alloc::format!("{:?}", Header::new("X-Trace", "a\"b\r"));
        assert_eq!(shown, r#"Header { name: "X-Trace", value: "a\"b\r" }"#);
    }
}
