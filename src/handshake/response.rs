//! Answers to an opening handshake: the server's 101 ([`Accept`]) or refusal
//! ([`Reject`]), and the client's reading and checking of either
//! ([`parse_response`], [`validate_response`], RFC 6455 §4.1 and §4.2.2).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::fmt::{self, Write as _};

use super::client::ClientOptions;
use super::head::{HeadScanner, ScanError, Syntax, own_headers, parse_response_head};
use super::header::{
    InvalidHeader, check_header, join_extensions, list_elements, lists_contain,
    parse_extension_list,
};
use super::request::Request;
use super::{ExtensionOffer, Header, Limits, accept_key, header_values};

/// The standard reason phrase for an HTTP status code (RFC 9110 §15), or
/// `""` for a code it does not know; the phrase is informative only.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

fn put_header(out: &mut BytesMut, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Headers that [`Accept`] writes itself; a caller may not add them.
pub(crate) const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    // A 101 has no body, and RFC 7230 §3.3.1/§3.3.2 forbid these on it.
    "Content-Length",
    "Transfer-Encoding",
];

/// Headers that [`Reject`] writes itself.
const REJECT_RESERVED: &[&str] = &["Connection", "Content-Length", "Transfer-Encoding"];

/// The server's acceptance of a handshake: what it chose from the client's
/// offer, and any extra headers (cookies, for instance) for the 101 response.
///
/// ```
/// use bytes::BytesMut;
/// use sockless::handshake::{parse_request, Accept, Limits};
///
/// let head = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";
/// let (req, _) = parse_request(head, &Limits::default()).unwrap().unwrap();
///
/// let mut out = BytesMut::new();
/// Accept::new()
///     .protocol("chat")
///     .header("Set-Cookie", "session=1")
///     .write_response(&req, &mut out)
///     .unwrap();
/// assert_eq!(
///     &out[..],
///     &b"HTTP/1.1 101 Switching Protocols\r\n\
///        Upgrade: websocket\r\n\
///        Connection: Upgrade\r\n\
///        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
///        Sec-WebSocket-Protocol: chat\r\n\
///        Set-Cookie: session=1\r\n\r\n"[..]
/// );
/// ```
#[derive(Clone, Debug, Default)]
pub struct Accept {
    pub(crate) protocol: Option<String>,
    pub(crate) extensions: Vec<ExtensionOffer>,
    pub(crate) headers: Vec<Header>,
}

/// Why an [`Accept`] could not answer a request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The chosen subprotocol is not one the client offered; RFC 6455
    /// §4.2.2 only lets the server pick from the client's list.
    ProtocolNotOffered(String),
    /// An accepted extension has a name the client did not offer (RFC 6455
    /// §9.1: a server may only accept what was offered).
    ExtensionNotOffered(String),
    /// An accepted extension with this name has a name, parameter name or
    /// value that is not a token.
    InvalidExtension(String),
    /// An extra header could not be sent as given.
    InvalidHeader(InvalidHeader),
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::ProtocolNotOffered(p) => {
                write!(f, "subprotocol {p:?} was not offered by the client")
            }
            AcceptError::ExtensionNotOffered(e) => {
                write!(f, "extension {e:?} was not offered by the client")
            }
            AcceptError::InvalidExtension(e) => write!(f, "extension {e:?} is not valid"),
            AcceptError::InvalidHeader(h) => h.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AcceptError {}

impl Accept {
    /// Accepts with no subprotocol, no extensions and no extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Chooses one of the subprotocols the client offered.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// The subprotocol chosen with [`protocol`](Self::protocol), if any.
    pub fn chosen_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Accepts an extension the client offered, with the parameters the
    /// server settled on. Repeatable, in the order the extensions apply.
    pub fn extension(mut self, extension: ExtensionOffer) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds a header to the response, such as `Set-Cookie`.
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    /// Checks the choices against what was offered, and the extra headers
    /// against `reserved`.
    pub(crate) fn check<'a>(
        &self,
        mut offered_protocols: impl Iterator<Item = &'a str>,
        offered_extensions: &[ExtensionOffer],
        reserved: &[&str],
    ) -> Result<(), AcceptError> {
        if let Some(p) = &self.protocol
            && !offered_protocols.any(|o| o == p)
        {
            return Err(AcceptError::ProtocolNotOffered(p.clone()));
        }
        for e in &self.extensions {
            if !offered_extensions
                .iter()
                .any(|o| o.name.eq_ignore_ascii_case(&e.name))
            {
                return Err(AcceptError::ExtensionNotOffered(e.name.clone()));
            }
            if !e.is_valid() {
                return Err(AcceptError::InvalidExtension(e.name.clone()));
            }
        }
        for h in &self.headers {
            check_header(&h.name, &h.value, reserved).map_err(AcceptError::InvalidHeader)?;
        }
        Ok(())
    }

    /// [`check`](Self::check) against what `req` offered.
    pub(crate) fn check_request(&self, req: &Request) -> Result<(), AcceptError> {
        self.check(req.protocols(), req.extensions(), ACCEPT_RESERVED)
    }

    /// The `Sec-WebSocket-Extensions` value to send, if any extension was
    /// accepted.
    pub(crate) fn extensions_value(&self) -> Option<String> {
        (!self.extensions.is_empty()).then(|| join_extensions(&self.extensions))
    }

    /// Writes the `101 Switching Protocols` response to `req` into `out`.
    /// On error nothing is written.
    pub fn write_response(&self, req: &Request, out: &mut BytesMut) -> Result<(), AcceptError> {
        self.check_request(req)?;
        let extensions = self.extensions_value();
        // One allocation for the whole head instead of one per doubling.
        const FIXED: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
            Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
        let line = |name: &str, value: usize| name.len() + value + 4;
        out.reserve(
            FIXED.len()
                + 28
                + 4
                + self
                    .protocol
                    .as_ref()
                    .map_or(0, |p| line("Sec-WebSocket-Protocol", p.len()))
                + extensions
                    .as_ref()
                    .map_or(0, |e| line("Sec-WebSocket-Extensions", e.len()))
                + self
                    .headers
                    .iter()
                    .map(|h| line(&h.name, h.value.len()))
                    .sum::<usize>(),
        );
        out.extend_from_slice(FIXED);
        out.extend_from_slice(&accept_key(req.key().as_bytes()));
        out.extend_from_slice(b"\r\n");
        if let Some(p) = &self.protocol {
            put_header(out, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        if let Some(e) = extensions {
            put_header(out, "Sec-WebSocket-Extensions", e.as_bytes());
        }
        for h in &self.headers {
            put_header(out, &h.name, &h.value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// A refusal of a handshake: any non-101 response, such as 403 for an origin
/// that is not allowed, 401 with `WWW-Authenticate`, or a redirect.
///
/// The response always carries `Connection: close` and a `Content-Length`,
/// because the connection ends with it.
///
/// ```
/// use bytes::BytesMut;
/// use sockless::handshake::Reject;
///
/// let mut out = BytesMut::new();
/// Reject::new(401)
///     .header("WWW-Authenticate", "Bearer")
///     .body("log in first\n")
///     .write_response(&mut out);
/// assert_eq!(
///     &out[..],
///     &b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\n\
///        Connection: close\r\nContent-Length: 13\r\n\r\nlog in first\n"[..]
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Reject {
    status: u16,
    headers: Vec<Header>,
    body: Bytes,
    connection: &'static str,
}

impl Reject {
    /// A response with `status` and no body.
    ///
    /// # Panics
    ///
    /// If `status` is not in `200..=999`: a 1xx would not end the handshake.
    pub fn new(status: u16) -> Self {
        assert!(
            (200..=999).contains(&status),
            "a handshake rejection needs a final status, not {status}"
        );
        Reject {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            connection: "close",
        }
    }

    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If the header cannot be sent (see [`Reject::try_header`]); for values
    /// that come from elsewhere, use `try_header`.
    pub fn header(self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        match self.try_header(name, value) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Adds a header, unless its name is not a token, its value holds a
    /// control character, or it is one that `Reject` writes itself
    /// (`Connection`, `Content-Length`, `Transfer-Encoding`).
    pub fn try_header(
        mut self,
        name: impl Into<String>,
        value: impl AsRef<[u8]>,
    ) -> Result<Self, InvalidHeader> {
        let h = Header::new(name, value);
        check_header(&h.name, &h.value, REJECT_RESERVED)?;
        self.headers.push(h);
        Ok(self)
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Replaces the `Connection` value (always one that closes).
    pub(crate) fn connection(mut self, value: &'static str) -> Self {
        self.connection = value;
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Writes the whole response, body included, into `out`.
    pub fn write_response(&self, out: &mut BytesMut) {
        let _ = write!(
            out,
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        for h in &self.headers {
            put_header(out, &h.name, &h.value);
        }
        put_header(out, "Connection", self.connection.as_bytes());
        let _ = write!(out, "Content-Length: {}\r\n\r\n", self.body.len());
        out.extend_from_slice(&self.body);
    }
}

/// The head of a server's answer to a client's handshake, as parsed; not yet
/// checked (that is [`validate_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    reason: String,
    minor: u8,
    headers: Vec<Header>,
    content_length: Option<usize>,
}

/// What was wrong with a server's answer to the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The head grew past [`Limits::max_head_size`] without ending.
    HeadTooLarge,
    /// The head had more header lines than [`Limits::max_headers`].
    TooManyHeaders,
    /// The head was not well-formed HTTP/1.x.
    Malformed(Syntax),
    /// `Content-Length` was not a number, or its copies disagreed.
    InvalidContentLength,
    /// The server answered with a status other than 101: it refused the
    /// upgrade, or redirected. The response and its body say more.
    Rejected {
        /// The status code the server sent.
        status: u16,
    },
    /// A 101 came over HTTP/1.0, which has no upgrade mechanism.
    HttpVersion,
    /// The 101 had no `Upgrade` header (RFC 6455 §4.1, client item 2).
    MissingUpgrade,
    /// `Upgrade` did not name `websocket`.
    UpgradeNotWebSocket,
    /// The 101 had no `Connection` header (RFC 6455 §4.1, client item 3).
    MissingConnection,
    /// `Connection` did not include `Upgrade`.
    ConnectionNotUpgrade,
    /// The 101 had no `Sec-WebSocket-Accept` header (client item 4).
    MissingAccept,
    /// The 101 had more than one `Sec-WebSocket-Accept` header.
    DuplicateAccept,
    /// `Sec-WebSocket-Accept` was not derived from this client's key: the
    /// server did not understand the handshake, or the answer is for someone
    /// else's (a cache replaying it, say).
    AcceptMismatch,
    /// The server chose a subprotocol the client did not offer (client item 6).
    ProtocolNotOffered(String),
    /// The server named more than one subprotocol.
    MultipleProtocols,
    /// The server accepted an extension the client did not offer (item 5).
    ExtensionNotOffered(String),
    /// `Sec-WebSocket-Extensions` did not follow RFC 6455 §9.1.
    InvalidExtensions,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResponseError::HeadTooLarge => f.write_str("response head too large"),
            ResponseError::TooManyHeaders => f.write_str("too many response headers"),
            ResponseError::Malformed(s) => write!(f, "malformed response: {s}"),
            ResponseError::InvalidContentLength => f.write_str("invalid Content-Length"),
            ResponseError::Rejected { status } => {
                write!(f, "server refused the upgrade with status {status}")
            }
            ResponseError::HttpVersion => f.write_str("101 response over HTTP/1.0"),
            ResponseError::MissingUpgrade => f.write_str("missing Upgrade header"),
            ResponseError::UpgradeNotWebSocket => f.write_str("Upgrade header is not websocket"),
            ResponseError::MissingConnection => f.write_str("missing Connection header"),
            ResponseError::ConnectionNotUpgrade => {
                f.write_str("Connection header does not include Upgrade")
            }
            ResponseError::MissingAccept => f.write_str("missing Sec-WebSocket-Accept header"),
            ResponseError::DuplicateAccept => {
                f.write_str("more than one Sec-WebSocket-Accept header")
            }
            ResponseError::AcceptMismatch => {
                f.write_str("Sec-WebSocket-Accept does not match the key sent")
            }
            ResponseError::ProtocolNotOffered(p) => {
                write!(f, "server chose subprotocol {p:?}, which was not offered")
            }
            ResponseError::MultipleProtocols => {
                f.write_str("server chose more than one subprotocol")
            }
            ResponseError::ExtensionNotOffered(e) => {
                write!(f, "server accepted extension {e:?}, which was not offered")
            }
            ResponseError::InvalidExtensions => f.write_str("malformed Sec-WebSocket-Extensions"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ResponseError {}

impl From<ScanError> for ResponseError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::TooLarge => ResponseError::HeadTooLarge,
            ScanError::TooManyHeaders => ResponseError::TooManyHeaders,
            ScanError::Syntax(s) => ResponseError::Malformed(s),
        }
    }
}

/// Parses the head of a server's response from the start of `buf`.
///
/// The same contract as [`parse_request`](super::parse_request): `Ok(None)`
/// until the head is complete, then the response and the head's length.
/// Bytes after the head (frames the server sent right after its 101, or the
/// body of a refusal) are left to the caller.
///
/// ```
/// use sockless::handshake::{parse_response, Limits};
///
/// let buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00";
/// let (resp, n) = parse_response(buf, &Limits::default()).unwrap().unwrap();
/// assert_eq!(resp.status(), 101);
/// assert_eq!(&buf[n..], b"\x81\x00");
/// ```
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Response, usize)>, ResponseError> {
    ResponseParser::new(*limits).parse(buf)
}

/// [`parse_response`] that remembers how far it has looked; see
/// [`RequestParser`](super::RequestParser).
#[derive(Clone, Debug, Default)]
pub struct ResponseParser {
    scanner: HeadScanner,
    limits: Limits,
}

impl ResponseParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        ResponseParser {
            scanner: HeadScanner::default(),
            limits,
        }
    }

    /// As [`parse_response`], resuming the scan where the previous call stopped.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(Response, usize)>, ResponseError> {
        let Some(end) = self.scanner.next_head(buf, &self.limits)? else {
            return Ok(None);
        };
        let head =
            parse_response_head(&buf[..end.len], end.headers).map_err(ResponseError::Malformed)?;
        let response = Response::from_parts(
            head.status,
            String::from(head.reason),
            head.minor,
            own_headers(&head.headers),
        )?;
        Ok(Some((response, end.len)))
    }
}

/// The body length that `Content-Length` headers declare, checking that they
/// are numbers and agree (RFC 7230 §3.3.2 allows repeats of one value);
/// `Ok(None)` when there is none.
fn content_length(headers: &[Header]) -> Result<Option<usize>, ResponseError> {
    let mut found = None;
    for v in header_values(headers, "Content-Length") {
        // Split by hand rather than skipping empty elements: `Content-Length: ,`
        // is no length at all.
        for e in v.split(|&b| b == b',') {
            let e = super::head::trim_ows(e);
            if e.is_empty() || !e.iter().all(u8::is_ascii_digit) {
                return Err(ResponseError::InvalidContentLength);
            }
            let n = e.iter().try_fold(0usize, |n, &d| {
                n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
            });
            let n = n.ok_or(ResponseError::InvalidContentLength)?;
            if found.is_some_and(|f| f != n) {
                return Err(ResponseError::InvalidContentLength);
            }
            found = Some(n);
        }
    }
    Ok(found)
}

impl Response {
    pub(crate) fn from_parts(
        status: u16,
        reason: String,
        minor: u8,
        headers: Vec<Header>,
    ) -> Result<Response, ResponseError> {
        let mut content_length = content_length(&headers)?;
        // Transfer-Encoding decides the body's length when both are present
        // (RFC 7230 §3.3.3), so a Content-Length beside it is not to be used.
        if header_values(&headers, "Transfer-Encoding")
            .next()
            .is_some()
        {
            content_length = None;
        }
        Ok(Response {
            status,
            reason,
            minor,
            headers,
            content_length,
        })
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase, which carries no meaning; empty if it was missing
    /// or not UTF-8.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The HTTP/1.x minor version of the status line.
    pub fn http_minor_version(&self) -> u8 {
        self.minor
    }

    /// Every header, in order, with its original name case.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        header_values(&self.headers, name).next()
    }

    /// The values of every header called `name` (ASCII case-insensitive).
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        header_values(&self.headers, name)
    }

    /// The body length of a refusal, from `Content-Length`. `None` when there
    /// is no `Content-Length`, or when `Transfer-Encoding` frames the body
    /// instead; without either, the body runs until the server closes.
    pub fn content_length(&self) -> Option<usize> {
        self.content_length
    }
}

/// What the server chose from the client's offer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// The subprotocol in use, if the server chose one.
    pub protocol: Option<String>,
    /// The extensions in use, in the order the server listed them, with the
    /// parameters it chose.
    pub extensions: Vec<ExtensionOffer>,
}

/// Checks a server's response against the request the client sent with `key`
/// and `opts` (RFC 6455 §4.1, the client's checks on the server's answer).
///
/// A status other than 101 is [`ResponseError::Rejected`]; the response
/// itself, with its body, says why.
///
/// ```
/// use sockless::handshake::{parse_response, validate_response, ClientOptions, Limits};
///
/// let buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
/// let (resp, _) = parse_response(buf, &Limits::default()).unwrap().unwrap();
/// let negotiated =
///     validate_response(&resp, b"dGhlIHNhbXBsZSBub25jZQ==", &ClientOptions::new()).unwrap();
/// assert_eq!(negotiated.protocol, None);
/// ```
pub fn validate_response(
    resp: &Response,
    key: &[u8; 24],
    opts: &ClientOptions,
) -> Result<Negotiated, ResponseError> {
    if resp.status != 101 {
        return Err(ResponseError::Rejected {
            status: resp.status,
        });
    }
    if resp.minor < 1 {
        return Err(ResponseError::HttpVersion);
    }
    let headers = &resp.headers[..];
    if header_values(headers, "Upgrade").next().is_none() {
        return Err(ResponseError::MissingUpgrade);
    }
    if !lists_contain(header_values(headers, "Upgrade"), "websocket") {
        return Err(ResponseError::UpgradeNotWebSocket);
    }
    if header_values(headers, "Connection").next().is_none() {
        return Err(ResponseError::MissingConnection);
    }
    if !lists_contain(header_values(headers, "Connection"), "Upgrade") {
        return Err(ResponseError::ConnectionNotUpgrade);
    }
    let mut accepts = header_values(headers, "Sec-WebSocket-Accept");
    let accept = accepts.next().ok_or(ResponseError::MissingAccept)?;
    if accepts.next().is_some() {
        return Err(ResponseError::DuplicateAccept);
    }
    // base64 is case-sensitive, so the comparison is exact.
    if accept != accept_key(key) {
        return Err(ResponseError::AcceptMismatch);
    }

    let mut protocol = None;
    for v in header_values(headers, "Sec-WebSocket-Protocol") {
        for p in list_elements(v) {
            if protocol.is_some() {
                return Err(ResponseError::MultipleProtocols);
            }
            let p = String::from_utf8_lossy(p).into_owned();
            if !opts.protocols.contains(&p) {
                return Err(ResponseError::ProtocolNotOffered(p));
            }
            protocol = Some(p);
        }
    }

    let mut extensions = Vec::new();
    for v in header_values(headers, "Sec-WebSocket-Extensions") {
        parse_extension_list(v, &mut extensions).map_err(|_| ResponseError::InvalidExtensions)?;
    }
    for e in &extensions {
        if !opts
            .extensions
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&e.name))
        {
            return Err(ResponseError::ExtensionNotOffered(e.name.clone()));
        }
    }
    Ok(Negotiated {
        protocol,
        extensions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::request::tests::RFC_REQUEST;
    use crate::handshake::{Uri, parse_request, write_request};
    use alloc::string::ToString;

    const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

    /// The server handshake of RFC 6455 §1.2 / §1.3.
    const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\r\n";

    fn rfc_request() -> Request {
        parse_request(RFC_REQUEST, &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    fn response(buf: &[u8]) -> Response {
        parse_response(buf, &Limits::default()).unwrap().unwrap().0
    }

    fn chat_opts() -> ClientOptions {
        ClientOptions::new().protocol("chat").protocol("superchat")
    }

    /// RFC_RESPONSE with one header line replaced (or removed, if `with` is empty).
    fn edited(name: &str, with: &str) -> Vec<u8> {
        let text = core::str::from_utf8(RFC_RESPONSE).unwrap();
        let mut out = String::new();
        for line in text.split_inclusive("\r\n") {
            if line.starts_with(name) {
                out.push_str(with);
            } else {
                out.push_str(line);
            }
        }
        out.into_bytes()
    }

    #[test]
    fn accept_writes_the_rfc_6455_example_response() {
        let mut out = BytesMut::new();
        Accept::new()
            .protocol("chat")
            .write_response(&rfc_request(), &mut out)
            .unwrap();
        assert_eq!(&out[..], RFC_RESPONSE);
    }

    #[test]
    fn accept_refuses_a_protocol_not_offered() {
        let mut out = BytesMut::new();
        let err = Accept::new()
            .protocol("Chat")
            .write_response(&rfc_request(), &mut out)
            .unwrap_err();
        assert_eq!(err, AcceptError::ProtocolNotOffered("Chat".into()));
        assert!(out.is_empty());
    }

    #[test]
    fn accept_refuses_an_extension_not_offered() {
        let mut out = BytesMut::new();
        let err = Accept::new()
            .extension(ExtensionOffer::new("permessage-deflate"))
            .write_response(&rfc_request(), &mut out)
            .unwrap_err();
        assert_eq!(
            err,
            AcceptError::ExtensionNotOffered("permessage-deflate".into())
        );
        assert!(out.is_empty());
    }

    #[test]
    fn accept_writes_offered_extensions_with_chosen_params() {
        let head = core::str::from_utf8(RFC_REQUEST).unwrap().replace(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        );
        let req = parse_request(head.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0;
        let mut out = BytesMut::new();
        Accept::new()
            .extension(
                ExtensionOffer::new("permessage-deflate")
                    .param_value("client_max_window_bits", "10"),
            )
            .write_response(&req, &mut out)
            .unwrap();
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10\r\n"
        ));
    }

    #[test]
    fn accept_refuses_extension_params_that_are_not_tokens() {
        let head = core::str::from_utf8(RFC_REQUEST)
            .unwrap()
            .replace("\r\n\r\n", "\r\nSec-WebSocket-Extensions: x\r\n\r\n");
        let req = parse_request(head.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0;
        let err = Accept::new()
            .extension(ExtensionOffer::new("x").param_value("a", "b\r\nEvil: 1"))
            .write_response(&req, &mut BytesMut::new())
            .unwrap_err();
        assert_eq!(err, AcceptError::InvalidExtension("x".into()));
    }

    #[test]
    fn accept_refuses_header_injection() {
        let req = rfc_request();
        let mut out = BytesMut::new();
        let cases = [
            ("X-A", "ok\r\nEvil: 1", InvalidHeader::Value("X-A".into())),
            (
                "X-A\r\nEvil",
                "1",
                InvalidHeader::Name("X-A\r\nEvil".into()),
            ),
            ("X A", "1", InvalidHeader::Name("X A".into())),
            ("", "1", InvalidHeader::Name("".into())),
            ("x-b", "a\0", InvalidHeader::Value("x-b".into())),
        ];
        for (name, value, want) in cases {
            let err = Accept::new()
                .header(name, value)
                .write_response(&req, &mut out)
                .unwrap_err();
            assert_eq!(err, AcceptError::InvalidHeader(want));
        }
        assert!(out.is_empty());
    }

    #[test]
    fn accept_refuses_headers_it_writes_itself() {
        for name in ["sec-websocket-accept", "Connection", "Content-Length"] {
            let err = Accept::new()
                .header(name, "x")
                .write_response(&rfc_request(), &mut BytesMut::new())
                .unwrap_err();
            assert_eq!(
                err,
                AcceptError::InvalidHeader(InvalidHeader::Reserved(name.into()))
            );
        }
    }

    #[test]
    fn reject_writes_status_reason_close_and_length() {
        let mut out = BytesMut::new();
        Reject::new(403).body("no").write_response(&mut out);
        assert_eq!(
            &out[..],
            b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
        );
        let mut out = BytesMut::new();
        Reject::new(599).write_response(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 599 \r\n"));
    }

    #[test]
    fn reject_refuses_bad_and_reserved_headers() {
        assert!(Reject::new(403).try_header("X", "a\nb").is_err());
        assert_eq!(
            Reject::new(403)
                .try_header("content-length", "5")
                .unwrap_err(),
            InvalidHeader::Reserved("content-length".into())
        );
    }

    #[test]
    #[should_panic]
    fn reject_refuses_an_informational_status() {
        let _ = Reject::new(101);
    }

    #[test]
    fn rejection_is_parsed_back_with_its_body_length() {
        let mut out = BytesMut::new();
        Reject::new(404).body("gone").write_response(&mut out);
        let (resp, n) = parse_response(&out, &Limits::default()).unwrap().unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(resp.reason(), "Not Found");
        assert_eq!(resp.content_length(), Some(4));
        assert_eq!(&out[n..], b"gone");
        assert_eq!(
            validate_response(&resp, KEY, &chat_opts()),
            Err(ResponseError::Rejected { status: 404 })
        );
    }

    #[test]
    fn rfc_6455_example_response_validates() {
        let n = validate_response(&response(RFC_RESPONSE), KEY, &chat_opts()).unwrap();
        assert_eq!(n.protocol.as_deref(), Some("chat"));
        assert!(n.extensions.is_empty());
    }

    #[test]
    fn status_must_be_101() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            validate_response(&response(buf), KEY, &chat_opts()),
            Err(ResponseError::Rejected { status: 200 })
        );
    }

    #[test]
    fn switching_protocols_needs_http_1_1() {
        let buf = edited("HTTP/1.1", "HTTP/1.0 101 Switching Protocols\r\n");
        assert_eq!(
            validate_response(&response(&buf), KEY, &chat_opts()),
            Err(ResponseError::HttpVersion)
        );
    }

    #[test]
    fn upgrade_must_be_websocket() {
        let opts = chat_opts();
        let missing = edited("Upgrade", "");
        assert_eq!(
            validate_response(&response(&missing), KEY, &opts),
            Err(ResponseError::MissingUpgrade)
        );
        let wrong = edited("Upgrade", "Upgrade: h2c\r\n");
        assert_eq!(
            validate_response(&response(&wrong), KEY, &opts),
            Err(ResponseError::UpgradeNotWebSocket)
        );
        let upper = edited("Upgrade", "Upgrade: WEBSOCKET\r\n");
        assert!(validate_response(&response(&upper), KEY, &opts).is_ok());
    }

    #[test]
    fn connection_must_include_upgrade() {
        let opts = chat_opts();
        let missing = edited("Connection", "");
        assert_eq!(
            validate_response(&response(&missing), KEY, &opts),
            Err(ResponseError::MissingConnection)
        );
        let wrong = edited("Connection", "Connection: keep-alive\r\n");
        assert_eq!(
            validate_response(&response(&wrong), KEY, &opts),
            Err(ResponseError::ConnectionNotUpgrade)
        );
        let lower = edited("Connection", "connection: upgrade\r\n");
        assert!(validate_response(&response(&lower), KEY, &opts).is_ok());
    }

    #[test]
    fn accept_header_must_match_the_key() {
        let opts = chat_opts();
        let missing = edited("Sec-WebSocket-Accept", "");
        assert_eq!(
            validate_response(&response(&missing), KEY, &opts),
            Err(ResponseError::MissingAccept)
        );
        let wrong = edited(
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        );
        assert_eq!(
            validate_response(&response(&wrong), KEY, &opts),
            Err(ResponseError::AcceptMismatch)
        );
        let other_key = b"AAAAAAAAAAAAAAAAAAAAAA==";
        assert_eq!(
            validate_response(&response(RFC_RESPONSE), other_key, &opts),
            Err(ResponseError::AcceptMismatch)
        );
    }

    #[test]
    fn accept_header_must_not_be_repeated() {
        let twice = edited(
            "Sec-WebSocket-Accept",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        );
        assert_eq!(
            validate_response(&response(&twice), KEY, &chat_opts()),
            Err(ResponseError::DuplicateAccept)
        );
    }

    #[test]
    fn protocol_must_have_been_offered() {
        assert_eq!(
            validate_response(&response(RFC_RESPONSE), KEY, &ClientOptions::new()),
            Err(ResponseError::ProtocolNotOffered("chat".into()))
        );
        let other = edited("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: CHAT\r\n");
        assert_eq!(
            validate_response(&response(&other), KEY, &chat_opts()),
            Err(ResponseError::ProtocolNotOffered("CHAT".into()))
        );
    }

    #[test]
    fn at_most_one_protocol_may_be_chosen() {
        let two = edited(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Protocol: chat, superchat\r\n",
        );
        assert_eq!(
            validate_response(&response(&two), KEY, &chat_opts()),
            Err(ResponseError::MultipleProtocols)
        );
        let two_lines = edited(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n",
        );
        assert_eq!(
            validate_response(&response(&two_lines), KEY, &chat_opts()),
            Err(ResponseError::MultipleProtocols)
        );
    }

    #[test]
    fn extensions_must_have_been_offered() {
        let buf = edited(
            "Sec-WebSocket-Protocol",
            "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n",
        );
        let resp = response(&buf);
        assert_eq!(
            validate_response(&resp, KEY, &ClientOptions::new()),
            Err(ResponseError::ExtensionNotOffered(
                "permessage-deflate".into()
            ))
        );
        let opts = ClientOptions::new().extension(ExtensionOffer::new("permessage-deflate"));
        let n = validate_response(&resp, KEY, &opts).unwrap();
        assert_eq!(
            n.extensions,
            [ExtensionOffer::new("permessage-deflate").param("server_no_context_takeover")]
        );
    }

    #[test]
    fn extensions_must_follow_the_grammar() {
        let buf = edited("Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions: ;;\r\n");
        assert_eq!(
            validate_response(&response(&buf), KEY, &ClientOptions::new()),
            Err(ResponseError::InvalidExtensions)
        );
    }

    #[test]
    fn content_length_must_be_a_number_and_agree() {
        let parse = |cl: &str| {
            let buf = alloc::format!("HTTP/1.1 403 Forbidden\r\n{cl}\r\n\r\n");
            parse_response(buf.as_bytes(), &Limits::default())
                .map(|r| r.unwrap().0.content_length())
        };
        assert_eq!(parse("Content-Length: 12"), Ok(Some(12)));
        assert_eq!(parse("Content-Length: 12, 12"), Ok(Some(12)));
        assert_eq!(
            parse("Content-Length: 12\r\nContent-Length: 12"),
            Ok(Some(12))
        );
        assert_eq!(parse("X: y"), Ok(None));
        assert_eq!(
            parse("Content-Length: 5\r\nTransfer-Encoding: chunked"),
            Ok(None)
        );
        for bad in [
            "Content-Length: -1",
            "Content-Length: 1 2",
            "Content-Length: 1, 2",
            "Content-Length: ",
            "Content-Length: 99999999999999999999999",
            "Content-Length: +3",
        ] {
            assert_eq!(
                parse(bad),
                Err(ResponseError::InvalidContentLength),
                "{bad}"
            );
        }
    }

    #[test]
    fn response_head_limits_and_syntax_are_enforced() {
        let small = Limits {
            max_head_size: 20,
            ..Limits::default()
        };
        assert_eq!(
            parse_response(RFC_RESPONSE, &small).unwrap_err(),
            ResponseError::HeadTooLarge
        );
        let few = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse_response(RFC_RESPONSE, &few).unwrap_err(),
            ResponseError::TooManyHeaders
        );
        assert_eq!(
            parse_response(
                b"HTTP/1.1 101 OK\nUpgrade: websocket\r\n\r\n",
                &Limits::default()
            )
            .unwrap_err(),
            ResponseError::Malformed(Syntax::BareLf)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 101 OK\r\nX: a\r\n b\r\n\r\n", &Limits::default())
                .unwrap_err(),
            ResponseError::Malformed(Syntax::ObsFold)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 1x1 OK\r\n\r\n", &Limits::default()).unwrap_err(),
            ResponseError::Malformed(Syntax::Status)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 101 Switching Protocols\r\n", &Limits::default()),
            Ok(None)
        );
    }

    #[test]
    fn response_byte_at_a_time_gives_the_same_result_as_all_at_once() {
        let mut buf = RFC_RESPONSE.to_vec();
        buf.extend_from_slice(b"\x81\x02hi");
        let whole = parse_response(&buf, &Limits::default()).unwrap().unwrap();
        let mut parser = ResponseParser::new(Limits::default());
        for end in 0..buf.len() {
            match parser.parse(&buf[..end]).unwrap() {
                None => assert!(end < RFC_RESPONSE.len()),
                Some((resp, n)) => {
                    assert_eq!(end, RFC_RESPONSE.len());
                    assert_eq!(n, whole.1);
                    assert_eq!(resp.headers(), whole.0.headers());
                    break;
                }
            }
        }
        assert_eq!(&buf[whole.1..], b"\x81\x02hi");
    }

    #[test]
    fn server_101_then_client_validate_round_trip() {
        let uri = Uri::parse("wss://example.com/chat?x=1").unwrap();
        let opts = ClientOptions::new()
            .protocol("v2.chat")
            .protocol("v1.chat")
            .extension(ExtensionOffer::new("permessage-deflate").param("client_max_window_bits"));
        let mut wire = BytesMut::new();
        write_request(&uri, KEY, &opts, &mut wire);
        let (req, _) = parse_request(&wire, &Limits::default()).unwrap().unwrap();
        let chosen =
            ExtensionOffer::new("permessage-deflate").param_value("client_max_window_bits", "12");
        let mut reply = BytesMut::new();
        Accept::new()
            .protocol(req.protocols().nth(1).unwrap())
            .extension(chosen.clone())
            .header("Set-Cookie", "id=1")
            .write_response(&req, &mut reply)
            .unwrap();
        let (resp, n) = parse_response(&reply, &Limits::default()).unwrap().unwrap();
        assert_eq!(n, reply.len());
        assert_eq!(resp.header("set-cookie"), Some(&b"id=1"[..]));
        let negotiated = validate_response(&resp, KEY, &opts).unwrap();
        assert_eq!(
            negotiated,
            Negotiated {
                protocol: Some("v1.chat".to_string()),
                extensions: alloc::vec![chosen],
            }
        );
    }

    #[test]
    fn reason_phrases_cover_the_handshake_statuses() {
        assert_eq!(reason_phrase(101), "Switching Protocols");
        assert_eq!(reason_phrase(426), "Upgrade Required");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(799), "");
    }

    #[test]
    fn response_debug_redacts_cookies() {
        let buf = edited("Sec-WebSocket-Protocol", "Set-Cookie: session=s3cr3t\r\n");
        let shown = alloc::format!("{:?}", response(&buf));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("websocket"),
            "{shown}"
        );
    }

    #[test]
    fn accept_and_reject_debug_redact_cookies() {
        let accept = Accept::new().header("Set-Cookie", "session=s3cr3t");
        let reject = Reject::new(401).header("Set-Cookie", "session=s3cr3t");
        for shown in [alloc::format!("{accept:?}"), alloc::format!("{reject:?}")] {
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
    }
}
