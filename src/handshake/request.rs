//! The server side: reading and checking a client's opening handshake
//! (RFC 6455 §4.2.1), and answering one that fails the checks.

use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::fmt;
use core::ops::Range;

use super::head::{HeadScanner, ScanError, Syntax, parse_request_head, trim_ows};
use super::header::{
    is_authority_char, is_token_list, list_elements, lists_contain, parse_extension_list,
};
use super::response::Reject;
use super::{ExtensionOffer, Limits, VERSION, is_valid_key, redacted};

/// A client's opening handshake that passed every check of RFC 6455 §4.2.1.
///
/// Built by [`parse_request`]; answer it with [`Accept`](super::Accept) or
/// [`Reject`].
///
/// It keeps a copy of the head as received and where its parts are; the
/// accessors borrow from that copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    /// The head as received, from the request line to the empty line.
    head: Bytes,
    /// The request target as sent.
    target: Range<usize>,
    /// The path of the effective request URI (RFC 7230 §5.5); empty for an
    /// absolute-form target without one, which stands for `/`.
    path: Range<usize>,
    /// The query without its `?`.
    query: Option<Range<usize>>,
    /// The authority of an absolute-form target, else the `Host` value.
    host: Range<usize>,
    origin: Option<Range<usize>>,
    key: Range<usize>,
    /// The extensions offered, from every `Sec-WebSocket-Extensions` line.
    extensions: Vec<ExtensionOffer>,
    /// Every header line, in order.
    fields: Vec<Field>,
}

/// Where one header line's name and value (without surrounding whitespace)
/// are in the head.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

/// What was wrong with a client's opening handshake.
///
/// [`status`](RequestError::status) gives the HTTP status to answer with and
/// [`write_response`](RequestError::write_response) writes the whole answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The head grew past [`Limits::max_head_size`] without ending.
    HeadTooLarge,
    /// The head had more header lines than [`Limits::max_headers`].
    TooManyHeaders,
    /// The head was not well-formed HTTP/1.1.
    Malformed(Syntax),
    /// The method was not `GET` (RFC 6455 §4.1 item 2).
    MethodNotGet,
    /// The request was not HTTP/1.1 (RFC 6455 §4.1 item 2).
    HttpVersion,
    /// The request target was neither an absolute path with an optional query
    /// (`/chat?room=1`, the origin-form) nor an absolute URI with a `ws`,
    /// `wss`, `http` or `https` scheme (`ws://host/chat`, the absolute-form of
    /// RFC 7230 §5.3.2); or it held a fragment, userinfo, an empty host, or
    /// bytes other than visible ASCII. The authority-form (`host:port`) and
    /// `*` are for other methods than `GET`.
    InvalidTarget,
    /// There was no `Host` header (RFC 6455 §4.1 item 4).
    MissingHost,
    /// There was more than one `Host` header, so which host was meant is
    /// ambiguous (RFC 7230 §5.4).
    DuplicateHost,
    /// The `Host` header was empty or held characters a host cannot have.
    InvalidHost,
    /// There was no `Upgrade` header (RFC 6455 §4.1 item 5).
    MissingUpgrade,
    /// The `Upgrade` header did not name `websocket`.
    UpgradeNotWebSocket,
    /// There was no `Connection` header (RFC 6455 §4.1 item 6).
    MissingConnection,
    /// The `Connection` header did not include the `Upgrade` option.
    ConnectionNotUpgrade,
    /// There was no `Sec-WebSocket-Version` header (RFC 6455 §4.1 item 9).
    MissingVersion,
    /// There was more than one `Sec-WebSocket-Version` header.
    DuplicateVersion,
    /// `Sec-WebSocket-Version` was not `13`; the answer lists the version
    /// this server speaks (RFC 6455 §4.2.2).
    UnsupportedVersion,
    /// There was no `Sec-WebSocket-Key` header (RFC 6455 §4.1 item 7).
    MissingKey,
    /// There was more than one `Sec-WebSocket-Key` header.
    DuplicateKey,
    /// `Sec-WebSocket-Key` was not base64 of exactly 16 bytes.
    InvalidKey,
    /// There was more than one `Origin` header, which would let an origin
    /// check read one and the application another.
    DuplicateOrigin,
    /// The `Origin` header held characters an origin cannot have.
    InvalidOrigin,
    /// `Sec-WebSocket-Protocol` was not a comma list of tokens.
    InvalidProtocol,
    /// `Sec-WebSocket-Extensions` did not follow RFC 6455 §9.1.
    InvalidExtensions,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::HeadTooLarge => f.write_str("request head too large"),
            RequestError::TooManyHeaders => f.write_str("too many request headers"),
            RequestError::Malformed(s) => write!(f, "malformed request: {s}"),
            RequestError::MethodNotGet => f.write_str("WebSocket handshake must use GET"),
            RequestError::HttpVersion => f.write_str("WebSocket handshake must use HTTP/1.1"),
            RequestError::InvalidTarget => f.write_str(
                "request target must be a path such as /chat or a URI such as ws://host/chat",
            ),
            RequestError::MissingHost => f.write_str("missing Host header"),
            RequestError::DuplicateHost => f.write_str("more than one Host header"),
            RequestError::InvalidHost => f.write_str("invalid Host header"),
            RequestError::MissingUpgrade => f.write_str("missing Upgrade header"),
            RequestError::UpgradeNotWebSocket => f.write_str("Upgrade header must be websocket"),
            RequestError::MissingConnection => f.write_str("missing Connection header"),
            RequestError::ConnectionNotUpgrade => {
                f.write_str("Connection header must include Upgrade")
            }
            RequestError::MissingVersion => f.write_str("missing Sec-WebSocket-Version header"),
            RequestError::DuplicateVersion => {
                f.write_str("more than one Sec-WebSocket-Version header")
            }
            RequestError::UnsupportedVersion => f.write_str("Sec-WebSocket-Version must be 13"),
            RequestError::MissingKey => f.write_str("missing Sec-WebSocket-Key header"),
            RequestError::DuplicateKey => f.write_str("more than one Sec-WebSocket-Key header"),
            RequestError::InvalidKey => f.write_str("Sec-WebSocket-Key must be base64 of 16 bytes"),
            RequestError::DuplicateOrigin => f.write_str("more than one Origin header"),
            RequestError::InvalidOrigin => f.write_str("invalid Origin header"),
            RequestError::InvalidProtocol => {
                f.write_str("Sec-WebSocket-Protocol must be a comma list of tokens")
            }
            RequestError::InvalidExtensions => f.write_str("malformed Sec-WebSocket-Extensions"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RequestError {}

impl From<ScanError> for RequestError {
    fn from(e: ScanError) -> Self {
        match e {
            ScanError::TooLarge => RequestError::HeadTooLarge,
            ScanError::TooManyHeaders => RequestError::TooManyHeaders,
            ScanError::Syntax(s) => RequestError::Malformed(s),
        }
    }
}

impl RequestError {
    /// The HTTP status to answer with: 431 when the head broke the
    /// [`Limits`], 426 (Upgrade Required) when the WebSocket version is
    /// missing or not 13, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::MissingVersion | RequestError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// Writes a complete HTTP/1.1 error response to `out`: the status line,
    /// `Connection: close`, and a short text body saying what was wrong. A
    /// 426 also names the version this server speaks, so that a client can
    /// retry with it (RFC 6455 §4.4).
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use sockless::handshake::{parse_request, Limits, RequestError};
    ///
    /// let head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    ///              Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n";
    /// let err = parse_request(head, &Limits::default()).unwrap_err();
    /// assert_eq!(err, RequestError::UnsupportedVersion);
    /// let mut out = BytesMut::new();
    /// err.write_response(&mut out);
    /// assert!(out.starts_with(b"HTTP/1.1 426 Upgrade Required\r\n"));
    /// ```
    pub fn write_response(&self, out: &mut BytesMut) {
        let mut reject = Reject::new(self.status()).body(self.to_string() + "\n");
        if self.status() == 426 {
            // RFC 7231 §6.5.15 requires an Upgrade header on a 426, and
            // RFC 7230 §6.7 a matching Connection option.
            reject = reject
                .header("Upgrade", "websocket")
                .header("Sec-WebSocket-Version", VERSION)
                .connection("Upgrade, close");
        }
        reject
            .header("Content-Type", "text/plain; charset=utf-8")
            .write_response(out);
    }
}

/// Parses a client's opening handshake from the start of `buf`, the bytes
/// received so far.
///
/// - `Ok(None)`: the head is not complete yet; call again with more bytes.
/// - `Ok(Some((request, n)))`: the head is `buf[..n]`. Anything after it
///   (frames a client sent without waiting) is not part of the handshake.
/// - `Err`: answer with [`RequestError::write_response`] and close.
///
/// The result does not depend on how the bytes were split across calls.
/// Each call looks at the whole buffer again; use [`RequestParser`] to resume
/// where the previous call stopped.
///
/// ```
/// use sockless::handshake::{parse_request, Limits};
///
/// let head = b"GET /chat HTTP/1.1\r\n\
///     Host: server.example.com\r\n\
///     Upgrade: websocket\r\n\
///     Connection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Origin: http://example.com\r\n\
///     Sec-WebSocket-Protocol: chat, superchat\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// assert_eq!(parse_request(&head[..20], &Limits::default()), Ok(None));
/// let (req, n) = parse_request(head, &Limits::default()).unwrap().unwrap();
/// assert_eq!(n, head.len());
/// assert_eq!(req.path(), "/chat");
/// assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
/// ```
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Request, usize)>, RequestError> {
    RequestParser::new(*limits).parse(buf)
}

/// [`parse_request`] that remembers how far it has looked, so that a head
/// arriving in many small reads is scanned once in total.
///
/// Each call must be given the same buffer as the previous one, grown at the
/// end. After it returns a request or an error, it starts over.
#[derive(Clone, Debug, Default)]
pub struct RequestParser {
    scanner: HeadScanner,
    limits: Limits,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            scanner: HeadScanner::default(),
            limits,
        }
    }

    /// As [`parse_request`], resuming the scan where the previous call stopped.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<(Request, usize)>, RequestError> {
        resume_request(&mut self.scanner, &self.limits, buf)
    }
}

/// [`RequestParser::parse`] on a scanner kept elsewhere (inline in a server
/// connection that waits for its request).
pub(crate) fn resume_request(
    scanner: &mut HeadScanner,
    limits: &Limits,
    buf: &[u8],
) -> Result<Option<(Request, usize)>, RequestError> {
    let Some(end) = scanner.next_head(buf, limits)? else {
        return Ok(None);
    };
    let head = Bytes::copy_from_slice(&buf[..end.len]);
    Request::read(head, end.headers).map(|r| Some((r, end.len)))
}

/// Where `part`, which httparse cut out of `head`, is in `head`.
fn span(head: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize)
        .checked_sub(head.as_ptr() as usize)
        .filter(|&start| start + part.len() <= head.len())
        .expect("httparse hands out parts of the head it read");
    start..start + part.len()
}

/// Whether `v` is visible ASCII without the characters that would take it
/// outside an authority (`host[:port]`).
fn is_host(v: &[u8]) -> bool {
    !v.is_empty() && v.iter().all(|&b| is_authority_char(b))
}

/// Whether `v` could be an origin (`scheme://host[:port]` or `null`): visible
/// ASCII only, since browsers send origins in their ASCII serialization.
fn is_origin(v: &[u8]) -> bool {
    !v.is_empty() && is_visible(v)
}

/// Whether `v` is visible ASCII (`VCHAR`), 0x21 to 0x7E.
fn is_visible(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_graphic)
}

/// Whether `t` is origin-form: `/path[?query]` with only visible ASCII and no
/// fragment, which a client must never send (RFC 7230 §5.3.1).
pub(crate) fn is_origin_form(t: &[u8]) -> bool {
    t.starts_with(b"/") && parse_target(t).is_some()
}

/// Where the parts of a request target are, from its start.
struct Target {
    /// Empty for an absolute-form target without a path.
    path: Range<usize>,
    query: Option<Range<usize>>,
    /// The authority of an absolute-form target.
    authority: Option<Range<usize>>,
}

/// Reads a request target in origin-form (`/chat?room=1`, RFC 7230 §5.3.1) or
/// absolute-form (`ws://example.com/chat?room=1`, §5.3.2, with a scheme a
/// WebSocket can be reached by: `ws`, `wss`, `http`, `https`, in any case).
/// `None` for any other form, and for a target with a fragment, with userinfo
/// (RFC 7230 §2.7.1 asks to treat it as an error), with an empty host or with
/// bytes other than visible ASCII.
fn parse_target(t: &[u8]) -> Option<Target> {
    if !is_visible(t) || t.contains(&b'#') {
        return None;
    }
    let (authority, rest) = if t.starts_with(b"/") {
        (None, 0)
    } else {
        let sep = t.windows(3).position(|w| w == b"://")?;
        let scheme = &t[..sep];
        if !["ws", "wss", "http", "https"]
            .iter()
            .any(|s| scheme.eq_ignore_ascii_case(s.as_bytes()))
        {
            return None;
        }
        let start = sep + 3;
        let end = t[start..]
            .iter()
            .position(|&b| b == b'/' || b == b'?')
            .map_or(t.len(), |i| start + i);
        if !is_host(&t[start..end]) {
            return None;
        }
        (Some(start..end), end)
    };
    let question = t[rest..].iter().position(|&b| b == b'?').map(|i| rest + i);
    Some(Target {
        path: rest..question.unwrap_or(t.len()),
        query: question.map(|q| q + 1..t.len()),
        authority,
    })
}

/// `Ok` if `ok`, else `error`.
fn require(ok: bool, error: RequestError) -> Result<(), RequestError> {
    if ok { Ok(()) } else { Err(error) }
}

/// The one value in `values`, if any: `repeated` if there is more than one.
fn at_most_one<T>(
    mut values: impl Iterator<Item = T>,
    repeated: RequestError,
) -> Result<Option<T>, RequestError> {
    let first = values.next();
    require(values.next().is_none(), repeated)?;
    Ok(first)
}

impl Request {
    /// Reads a head that the scanner delimited (it has `headers` header
    /// lines) and checks it against RFC 6455 §4.2.1.
    ///
    /// The checks run in the order of the RFC whatever the order of the
    /// headers, so that a request with several faults always gets the same
    /// answer.
    fn read(head: Bytes, headers: usize) -> Result<Request, RequestError> {
        let parsed = parse_request_head(&head, headers).map_err(|s| match s {
            // Also covers "HTTP/2.0" and friends: a version we do not speak.
            Syntax::Version => RequestError::HttpVersion,
            s => RequestError::Malformed(s),
        })?;
        // Methods are case-sensitive (RFC 7231 §4.1).
        require(parsed.method == "GET", RequestError::MethodNotGet)?;
        require(parsed.minor >= 1, RequestError::HttpVersion)?;
        let target = span(&head, parsed.target.as_bytes());
        let parts = parse_target(parsed.target.as_bytes()).ok_or(RequestError::InvalidTarget)?;
        let in_target = |r: Range<usize>| target.start + r.start..target.start + r.end;
        let fields: Vec<Field> = parsed
            .headers
            .iter()
            .map(|h| Field {
                name: span(&head, h.name.as_bytes()),
                value: span(&head, trim_ows(h.value)),
            })
            .collect();
        drop(parsed);

        let (bytes, lines) = (&head[..], &fields[..]);
        let values = |name: &'static str| {
            lines
                .iter()
                .filter(move |f| bytes[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
                .map(|f| f.value.clone())
        };
        let text = |r: &Range<usize>| &bytes[r.clone()];
        // RFC 7230 §5.4: a Host header is required even when the target names
        // the host, and then the target's authority is the one that counts.
        let host = at_most_one(values("Host"), RequestError::DuplicateHost)?
            .ok_or(RequestError::MissingHost)?;
        require(is_host(text(&host)), RequestError::InvalidHost)?;
        let host = parts.authority.map_or(host, in_target);
        let listed = |name, option| lists_contain(values(name).map(|r| text(&r)), option);
        require(
            values("Upgrade").next().is_some(),
            RequestError::MissingUpgrade,
        )?;
        require(
            listed("Upgrade", "websocket"),
            RequestError::UpgradeNotWebSocket,
        )?;
        require(
            values("Connection").next().is_some(),
            RequestError::MissingConnection,
        )?;
        require(
            listed("Connection", "upgrade"),
            RequestError::ConnectionNotUpgrade,
        )?;
        // The version comes before the key so that a client from an older
        // draft, whose key headers differ, learns which version to retry with.
        let version = at_most_one(
            values("Sec-WebSocket-Version"),
            RequestError::DuplicateVersion,
        )?
        .ok_or(RequestError::MissingVersion)?;
        require(
            text(&version) == VERSION.as_bytes(),
            RequestError::UnsupportedVersion,
        )?;
        let key = at_most_one(values("Sec-WebSocket-Key"), RequestError::DuplicateKey)?
            .ok_or(RequestError::MissingKey)?;
        require(is_valid_key(text(&key)), RequestError::InvalidKey)?;
        let origin = at_most_one(values("Origin"), RequestError::DuplicateOrigin)?;
        if let Some(origin) = &origin {
            require(is_origin(text(origin)), RequestError::InvalidOrigin)?;
        }
        require(
            values("Sec-WebSocket-Protocol").all(|r| is_token_list(text(&r))),
            RequestError::InvalidProtocol,
        )?;
        let mut extensions = Vec::new();
        for value in values("Sec-WebSocket-Extensions") {
            parse_extension_list(text(&value), &mut extensions)
                .map_err(|_| RequestError::InvalidExtensions)?;
        }
        Ok(Request {
            path: in_target(parts.path),
            query: parts.query.map(in_target),
            target,
            host,
            origin,
            key,
            extensions,
            fields,
            head,
        })
    }

    /// The part of the head at `at`, which the checks found to be visible
    /// ASCII (or a token), so UTF-8.
    fn text(&self, at: &Range<usize>) -> &str {
        core::str::from_utf8(&self.head[at.clone()]).unwrap_or_default()
    }

    /// The request method; always `GET`.
    pub fn method(&self) -> &str {
        "GET"
    }

    /// The request target as sent: a path and query such as `/chat?room=1`,
    /// or an absolute URI such as `ws://example.com/chat?room=1`.
    pub fn target(&self) -> &str {
        self.text(&self.target)
    }

    /// The path of the request URI, such as `/chat`, whichever form the
    /// target took; `/` for an absolute URI without a path. Not
    /// percent-decoded.
    pub fn path(&self) -> &str {
        match self.text(&self.path) {
            "" => "/",
            path => path,
        }
    }

    /// The query of the request URI without its `?`, if there was a `?`. Not
    /// percent-decoded.
    pub fn query(&self) -> Option<&str> {
        self.query.as_ref().map(|at| self.text(at))
    }

    /// The host and port the client asked for: the authority of an absolute
    /// URI target, else the `Host` header (the effective request URI's
    /// authority, RFC 7230 §5.5).
    pub fn host(&self) -> &str {
        self.text(&self.host)
    }

    /// The `Origin` header, which browsers always send and other clients
    /// usually do not. See [`Origins`](super::Origins) for checking it.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_ref().map(|at| self.text(at))
    }

    /// The `Sec-WebSocket-Key` header, still base64 encoded.
    pub fn key(&self) -> &str {
        self.text(&self.key)
    }

    /// The `Sec-WebSocket-Version` the client asked for; always 13.
    pub fn version(&self) -> u8 {
        13
    }

    /// The subprotocols the client offered, in its order of preference, from
    /// every `Sec-WebSocket-Protocol` header line.
    ///
    /// ```
    /// # use sockless::handshake::{parse_request, Limits};
    /// # let head = b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\
    /// #     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    /// #     Sec-WebSocket-Version: 13\r\n\
    /// #     Sec-WebSocket-Protocol: v2.chat, v1.chat\r\n\r\n";
    /// # let (req, _) = parse_request(head, &Limits::default()).unwrap().unwrap();
    /// let ours = ["v1.chat", "v2.chat"];
    /// let chosen = req.protocols().find(|p| ours.contains(p));
    /// assert_eq!(chosen, Some("v2.chat"));
    /// ```
    pub fn protocols(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.header_all("Sec-WebSocket-Protocol")
            .flat_map(list_elements)
            // Checked to be tokens, so ASCII.
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The extensions the client offered, in order, from every
    /// `Sec-WebSocket-Extensions` header line.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// Every header of the request, in order, as `(name, value)`: the name with
    /// its original case (compare it ASCII case-insensitively), the value
    /// without surrounding whitespace and not necessarily UTF-8.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + Clone + '_ {
        self.fields
            .iter()
            .map(|f| (self.text(&f.name), &self.head[f.value.clone()]))
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.header_all(name).next()
    }

    /// The values of every header called `name` (ASCII case-insensitive), in
    /// order.
    pub fn header_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + Clone + use<'a, 'n> {
        self.headers()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }
}

/// Shows the request line and the headers, with the values of the headers
/// that carry secrets (cookies, credentials, the key) left out, so that a
/// logged request does not leak them.
impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = self
            .headers()
            .map(|(name, value)| (name, redacted(name, value)));
        f.debug_struct("Request")
            .field("target", &self.target())
            .field("host", &self.host())
            .field("origin", &self.origin())
            .field("headers", &DebugList(headers))
            .finish()
    }
}

/// A list shown by `Debug` from an iterator that can be cloned.
struct DebugList<I>(I);

impl<I: Iterator<Item = T> + Clone, T: fmt::Debug> fmt::Debug for DebugList<I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.clone()).finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// The client handshake of RFC 6455 §1.2, with the key of §1.3.
    pub(crate) const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    const VALID_HEADERS: &[(&str, &str)] = &[
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    /// A valid request with `edit` applied to its header list.
    type Headers = Vec<(&'static str, &'static str)>;

    fn build(request_line: &str, edit: impl FnOnce(&mut Headers)) -> Vec<u8> {
        let mut headers = VALID_HEADERS.to_vec();
        edit(&mut headers);
        let mut out = Vec::from(request_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (n, v) in headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    fn parse(buf: &[u8]) -> Result<Request, RequestError> {
        parse_request(buf, &Limits::default()).map(|r| r.expect("complete head").0)
    }

    fn without(name: &'static str) -> impl FnOnce(&mut Headers) {
        move |h| h.retain(|(n, _)| *n != name)
    }

    fn set(name: &'static str, value: &'static str) -> impl FnOnce(&mut Headers) {
        move |h| {
            for (n, v) in h.iter_mut() {
                if *n == name {
                    *v = value;
                }
            }
        }
    }

    fn add(name: &'static str, value: &'static str) -> impl FnOnce(&mut Headers) {
        move |h| h.push((name, value))
    }

    #[test]
    fn rfc_6455_example_request_is_accepted() {
        let (req, n) = parse_request(RFC_REQUEST, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(n, RFC_REQUEST.len());
        assert_eq!(req.method(), "GET");
        assert_eq!(req.target(), "/chat");
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.query(), None);
        assert_eq!(req.host(), "server.example.com");
        assert_eq!(req.origin(), Some("http://example.com"));
        assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(req.version(), 13);
        assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
        assert!(req.extensions().is_empty());
        assert_eq!(req.headers().len(), 7);
        assert_eq!(req.headers().next().unwrap().0, "Host");
        assert_eq!(
            req.header("sec-websocket-protocol"),
            Some(&b"chat, superchat"[..])
        );
        assert_eq!(req.header("X-Missing"), None);
    }

    #[test]
    fn query_is_split_from_path() {
        let req = parse(&build("GET /chat?room=1&x HTTP/1.1", |_| {})).unwrap();
        assert_eq!(req.target(), "/chat?room=1&x");
        assert_eq!(req.path(), "/chat");
        assert_eq!(req.query(), Some("room=1&x"));
        let req = parse(&build("GET /? HTTP/1.1", |_| {})).unwrap();
        assert_eq!((req.path(), req.query()), ("/", Some("")));
    }

    #[test]
    fn method_must_be_get() {
        assert_eq!(
            parse(&build("POST / HTTP/1.1", |_| {})).unwrap_err(),
            RequestError::MethodNotGet
        );
        assert_eq!(
            parse(&build("get / HTTP/1.1", |_| {})).unwrap_err(),
            RequestError::MethodNotGet
        );
    }

    #[test]
    fn http_version_must_be_1_1() {
        assert_eq!(
            parse(&build("GET / HTTP/1.0", |_| {})).unwrap_err(),
            RequestError::HttpVersion
        );
        assert_eq!(
            parse(&build("GET / HTTP/2.0", |_| {})).unwrap_err(),
            RequestError::HttpVersion
        );
    }

    #[test]
    fn target_must_be_origin_form_or_absolute_form() {
        for line in [
            "GET * HTTP/1.1",
            "GET server.example.com:80 HTTP/1.1",
            "GET /chat#frag HTTP/1.1",
            "GET ws://example.com/chat#frag HTTP/1.1",
            "GET ftp://example.com/chat HTTP/1.1",
            "GET wss:/example.com/chat HTTP/1.1",
            "GET ws:///chat HTTP/1.1",
            "GET ws://user@example.com/chat HTTP/1.1",
            "GET chat HTTP/1.1",
        ] {
            assert_eq!(
                parse(&build(line, |_| {})).unwrap_err(),
                RequestError::InvalidTarget,
                "{line}"
            );
        }
        // httparse allows bytes above 0x7F in the target; a URI may not.
        for line in ["GET /caf\u{e9} HTTP/1.1", "GET ws://caf\u{e9}/ HTTP/1.1"] {
            assert_eq!(
                parse(&build(line, |_| {})).unwrap_err(),
                RequestError::InvalidTarget
            );
        }
    }

    /// RFC 7230 §5.3.2: a server must accept the absolute-form, and §5.5 makes
    /// the target's authority the request's host whatever `Host` says.
    #[test]
    fn absolute_form_target_is_accepted_with_its_authority_as_host() {
        let cases = [
            ("ws://example.com:8181/", "example.com:8181", "/", None),
            (
                "WSS://example.com/chat?room=1",
                "example.com",
                "/chat",
                Some("room=1"),
            ),
            ("http://a.example/chat", "a.example", "/chat", None),
            ("hTTps://[::1]:443/", "[::1]:443", "/", None),
            ("ws://example.com", "example.com", "/", None),
            ("ws://example.com?x", "example.com", "/", Some("x")),
        ];
        for (target, host, path, query) in cases {
            let line = alloc::format!("GET {target} HTTP/1.1");
            let req = parse(&build(&line, |_| {})).unwrap();
            assert_eq!(req.target(), target);
            assert_eq!((req.host(), req.path(), req.query()), (host, path, query));
        }
    }

    /// `GET ws://example.com:8181/` got a 400 before the absolute-form was
    /// read; Node's `ws` server accepts it.
    #[test]
    fn absolute_form_ws_target_with_a_port_is_accepted() {
        let head = build(
            "GET ws://example.com:8181/ HTTP/1.1",
            set("Host", "example.com:8181"),
        );
        let req = parse(&head).unwrap();
        assert_eq!((req.host(), req.path()), ("example.com:8181", "/"));
    }

    #[test]
    fn absolute_form_still_needs_a_valid_host_header() {
        let line = "GET ws://example.com/ HTTP/1.1";
        assert_eq!(
            parse(&build(line, without("Host"))).unwrap_err(),
            RequestError::MissingHost
        );
        assert_eq!(
            parse(&build(line, set("Host", "a b"))).unwrap_err(),
            RequestError::InvalidHost
        );
    }

    #[test]
    fn host_must_be_present() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", without("Host"))).unwrap_err(),
            RequestError::MissingHost
        );
    }

    #[test]
    fn host_must_not_be_repeated() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", add("host", "evil.example"))).unwrap_err(),
            RequestError::DuplicateHost
        );
    }

    #[test]
    fn host_must_look_like_an_authority() {
        for bad in ["", "a b", "user@host", "host/path"] {
            assert_eq!(
                parse(&build("GET / HTTP/1.1", set("Host", bad))).unwrap_err(),
                RequestError::InvalidHost,
                "{bad:?}"
            );
        }
        let req = parse(&build("GET / HTTP/1.1", set("Host", "[::1]:8080"))).unwrap();
        assert_eq!(req.host(), "[::1]:8080");
    }

    #[test]
    fn upgrade_must_be_present() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", without("Upgrade"))).unwrap_err(),
            RequestError::MissingUpgrade
        );
    }

    #[test]
    fn upgrade_must_name_websocket_case_insensitively() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", set("Upgrade", "h2c"))).unwrap_err(),
            RequestError::UpgradeNotWebSocket
        );
        assert!(parse(&build("GET / HTTP/1.1", set("Upgrade", "WebSocket"))).is_ok());
        assert!(parse(&build("GET / HTTP/1.1", set("Upgrade", "h2c, websocket"))).is_ok());
    }

    #[test]
    fn connection_must_be_present() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", without("Connection"))).unwrap_err(),
            RequestError::MissingConnection
        );
    }

    #[test]
    fn connection_must_include_upgrade_token() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", set("Connection", "keep-alive"))).unwrap_err(),
            RequestError::ConnectionNotUpgrade
        );
        assert_eq!(
            parse(&build("GET / HTTP/1.1", set("Connection", "Upgraded"))).unwrap_err(),
            RequestError::ConnectionNotUpgrade
        );
        assert!(
            parse(&build(
                "GET / HTTP/1.1",
                set("Connection", "keep-alive, upgrade")
            ))
            .is_ok()
        );
    }

    #[test]
    fn connection_upgrade_token_may_be_on_a_later_header_line() {
        let head = build("GET / HTTP/1.1", |h| {
            set("Connection", "keep-alive")(h);
            h.push(("Connection", "Upgrade"));
        });
        assert!(parse(&head).is_ok());
    }

    #[test]
    fn version_must_be_present() {
        let err = parse(&build("GET / HTTP/1.1", without("Sec-WebSocket-Version"))).unwrap_err();
        assert_eq!(err, RequestError::MissingVersion);
        assert_eq!(err.status(), 426);
    }

    #[test]
    fn version_must_be_13() {
        for bad in ["8", "13, 8", "013", "14"] {
            let err =
                parse(&build("GET / HTTP/1.1", set("Sec-WebSocket-Version", bad))).unwrap_err();
            assert_eq!(err, RequestError::UnsupportedVersion, "{bad}");
            assert_eq!(err.status(), 426);
        }
    }

    #[test]
    fn version_must_not_be_repeated() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", add("Sec-WebSocket-Version", "13"))).unwrap_err(),
            RequestError::DuplicateVersion
        );
    }

    #[test]
    fn key_must_be_present() {
        assert_eq!(
            parse(&build("GET / HTTP/1.1", without("Sec-WebSocket-Key"))).unwrap_err(),
            RequestError::MissingKey
        );
    }

    #[test]
    fn key_must_not_be_repeated() {
        assert_eq!(
            parse(&build(
                "GET / HTTP/1.1",
                add("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")
            ))
            .unwrap_err(),
            RequestError::DuplicateKey
        );
    }

    #[test]
    fn key_must_be_base64_of_16_bytes() {
        for bad in [
            "dGhlIHNhbXBsZSBub25j",
            "not base64 at all!!!!!!!",
            "AAAAAAAAAAAAAAAAAAAAAA==, x",
        ] {
            assert_eq!(
                parse(&build("GET / HTTP/1.1", set("Sec-WebSocket-Key", bad))).unwrap_err(),
                RequestError::InvalidKey,
                "{bad}"
            );
        }
    }

    #[test]
    fn origin_must_not_be_repeated() {
        let head = build("GET / HTTP/1.1", |h| {
            h.push(("Origin", "https://good.example"));
            h.push(("Origin", "https://evil.example"));
        });
        assert_eq!(parse(&head).unwrap_err(), RequestError::DuplicateOrigin);
    }

    #[test]
    fn origin_must_be_visible_ascii() {
        assert_eq!(
            parse(&build(
                "GET / HTTP/1.1",
                add("Origin", "https://caf\u{e9}.example")
            ))
            .unwrap_err(),
            RequestError::InvalidOrigin
        );
    }

    #[test]
    fn tab_inside_a_value_is_kept_but_not_in_an_origin() {
        let req = parse(&build("GET / HTTP/1.1", add("X-Tab", "a\tb"))).unwrap();
        assert_eq!(req.header("x-tab"), Some(&b"a\tb"[..]));
        assert_eq!(
            parse(&build(
                "GET / HTTP/1.1",
                add("Origin", "http://ex\tample.com")
            ))
            .unwrap_err(),
            RequestError::InvalidOrigin
        );
    }

    #[test]
    fn protocols_are_collected_across_header_lines_in_order() {
        let head = build("GET / HTTP/1.1", |h| {
            h.push(("Sec-WebSocket-Protocol", "chat, superchat"));
            h.push(("sec-websocket-protocol", "v2.json"));
        });
        assert_eq!(
            parse(&head).unwrap().protocols().collect::<Vec<_>>(),
            ["chat", "superchat", "v2.json"]
        );
    }

    #[test]
    fn protocols_must_be_tokens() {
        assert_eq!(
            parse(&build(
                "GET / HTTP/1.1",
                add("Sec-WebSocket-Protocol", "chat, \"super chat\"")
            ))
            .unwrap_err(),
            RequestError::InvalidProtocol
        );
    }

    #[test]
    fn extensions_are_collected_across_header_lines_in_order() {
        let head = build("GET / HTTP/1.1", |h| {
            h.push((
                "Sec-WebSocket-Extensions",
                "permessage-deflate; client_max_window_bits",
            ));
            h.push(("Sec-WebSocket-Extensions", "x-foo; a=\"1\", x-bar"));
        });
        let req = parse(&head).unwrap();
        let offers = req.extensions();
        let names: Vec<_> = offers.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["permessage-deflate", "x-foo", "x-bar"]);
        assert_eq!(req.extensions()[1].params[0].value.as_deref(), Some("1"));
    }

    #[test]
    fn extensions_must_follow_the_grammar() {
        assert_eq!(
            parse(&build(
                "GET / HTTP/1.1",
                add("Sec-WebSocket-Extensions", "foo; =1")
            ))
            .unwrap_err(),
            RequestError::InvalidExtensions
        );
    }

    #[test]
    fn oversize_head_is_431() {
        let limits = Limits {
            max_head_size: 64,
            ..Limits::default()
        };
        let err = parse_request(RFC_REQUEST, &limits).unwrap_err();
        assert_eq!(err, RequestError::HeadTooLarge);
        assert_eq!(err.status(), 431);
    }

    #[test]
    fn too_many_headers_is_431() {
        let limits = Limits {
            max_headers: 5,
            ..Limits::default()
        };
        let err = parse_request(RFC_REQUEST, &limits).unwrap_err();
        assert_eq!(err, RequestError::TooManyHeaders);
        assert_eq!(err.status(), 431);
        let limits = Limits {
            max_headers: 7,
            ..Limits::default()
        };
        assert!(parse_request(RFC_REQUEST, &limits).is_ok());
    }

    #[test]
    fn nul_byte_in_a_header_is_rejected() {
        let head = build("GET / HTTP/1.1", add("X-Evil", "a\0b"));
        assert_eq!(
            parse(&head).unwrap_err(),
            RequestError::Malformed(Syntax::Nul)
        );
    }

    #[test]
    fn obs_fold_is_rejected() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n";
        assert_eq!(
            parse(head).unwrap_err(),
            RequestError::Malformed(Syntax::ObsFold)
        );
    }

    #[test]
    fn bare_lf_is_rejected() {
        let mut head = build("GET / HTTP/1.1", |_| {});
        let at = head.windows(2).position(|w| w == b"\r\n").unwrap();
        head.remove(at);
        assert_eq!(
            parse(&head).unwrap_err(),
            RequestError::Malformed(Syntax::BareLf)
        );
    }

    #[test]
    fn lone_cr_is_rejected() {
        let head = b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n";
        assert!(matches!(
            parse(head).unwrap_err(),
            RequestError::Malformed(_)
        ));
    }

    #[test]
    fn header_name_with_space_before_colon_is_rejected() {
        let head = b"GET / HTTP/1.1\r\nHost : a\r\n\r\n";
        assert_eq!(
            parse(head).unwrap_err(),
            RequestError::Malformed(Syntax::HeaderName)
        );
    }

    #[test]
    fn missing_final_crlf_stays_partial_then_too_large() {
        let head = &RFC_REQUEST[..RFC_REQUEST.len() - 2];
        let limits = Limits::default();
        assert_eq!(parse_request(head, &limits), Ok(None));
        let mut grown = head.to_vec();
        grown.resize(limits.max_head_size, b'a');
        assert_eq!(parse_request(&grown, &limits), Ok(None));
        grown.push(b'a');
        assert_eq!(
            parse_request(&grown, &limits),
            Err(RequestError::HeadTooLarge)
        );
    }

    #[test]
    fn pipelined_bytes_after_the_head_are_left_alone() {
        let mut buf = RFC_REQUEST.to_vec();
        buf.extend_from_slice(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
        let (_, n) = parse_request(&buf, &Limits::default()).unwrap().unwrap();
        assert_eq!(n, RFC_REQUEST.len());
        assert_eq!(&buf[n..], b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58");
    }

    /// Feeds `buf` one byte at a time, as growing prefixes, to a fresh
    /// `parse_request` each time and to one `RequestParser`; both must agree
    /// with parsing the whole buffer at once.
    fn assert_chunking_invariant(buf: &[u8], limits: &Limits) {
        let whole = parse_request(buf, limits);
        let mut parser = RequestParser::new(*limits);
        for end in 0..=buf.len() {
            let fresh = parse_request(&buf[..end], limits);
            let resumed = parser.parse(&buf[..end]);
            assert_eq!(fresh, resumed, "at {end}");
            if fresh != Ok(None) {
                assert_eq!(fresh, whole, "stopped early at {end}");
                return;
            }
        }
        assert_eq!(whole, Ok(None));
    }

    #[test]
    fn byte_at_a_time_gives_the_same_result_as_all_at_once() {
        let small = Limits {
            max_head_size: 100,
            ..Limits::default()
        };
        let few = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        let mut pipelined = RFC_REQUEST.to_vec();
        pipelined.extend_from_slice(b"\x81\x00");
        let cases: &[(&[u8], &Limits)] = &[
            (RFC_REQUEST, &Limits::default()),
            (&pipelined, &Limits::default()),
            (RFC_REQUEST, &small),
            (RFC_REQUEST, &few),
            (
                b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
                &Limits::default(),
            ),
            (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &Limits::default()),
            (b"GET / HTTP/1.1\r\nX: a\0\r\n\r\n", &Limits::default()),
            (b"POST / HTTP/1.1\r\n\r\n", &Limits::default()),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", &Limits::default()),
        ];
        for (buf, limits) in cases {
            assert_chunking_invariant(buf, limits);
        }
    }

    #[test]
    fn whole_head_in_one_read_keeps_the_scanners_rules() {
        // httparse alone would take each of these; the scanner's answer wins.
        let cases: &[(&[u8], RequestError)] = &[
            (
                b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
                RequestError::Malformed(Syntax::EmptyStartLine),
            ),
            (
                b"GET / HTTP/1.1\nHost: a\r\n\r\n",
                RequestError::Malformed(Syntax::BareLf),
            ),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\n\n",
                RequestError::Malformed(Syntax::BareLf),
            ),
        ];
        for (head, error) in cases {
            assert_eq!(parse_request(head, &Limits::default()), Err(error.clone()));
        }
        let few = Limits {
            max_headers: 6,
            ..Limits::default()
        };
        assert_eq!(
            parse_request(RFC_REQUEST, &few),
            Err(RequestError::TooManyHeaders)
        );
        let small = Limits {
            max_head_size: RFC_REQUEST.len() - 1,
            ..Limits::default()
        };
        assert_eq!(
            parse_request(RFC_REQUEST, &small),
            Err(RequestError::HeadTooLarge)
        );
    }

    #[test]
    fn error_response_is_complete_http_with_body() {
        let mut out = BytesMut::new();
        RequestError::MissingKey.write_response(&mut out);
        let text = core::str::from_utf8(&out).unwrap();
        let body = "missing Sec-WebSocket-Key header\n";
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
        assert!(text.contains("\r\nConnection: close\r\n"));
        assert!(text.contains(&alloc::format!("\r\nContent-Length: {}\r\n", body.len())));
        assert!(text.ends_with(&alloc::format!("\r\n\r\n{body}")));
    }

    #[test]
    fn version_error_response_is_426_naming_version_13() {
        let mut out = BytesMut::new();
        RequestError::UnsupportedVersion.write_response(&mut out);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
        assert!(text.contains("\r\nUpgrade: websocket\r\n"));
    }

    #[test]
    fn limit_error_response_is_431() {
        let mut out = BytesMut::new();
        RequestError::HeadTooLarge.write_response(&mut out);
        assert!(out.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    }

    #[test]
    fn request_debug_redacts_the_key_and_credentials() {
        let head = build("GET /chat HTTP/1.1", |h| {
            h.push(("Cookie", "session=s3cr3t"));
            h.push(("Authorization", "Bearer s3cr3t"));
            h.push(("X-Trace", "visible"));
        });
        let shown = alloc::format!("{:?}", parse(&head).unwrap());
        for secret in ["s3cr3t", "dGhlIHNhbXBsZSBub25jZQ=="] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("<redacted>") && shown.contains("visible"),
            "{shown}"
        );
        assert!(shown.contains("/chat") && shown.contains("server.example.com"));
    }
}
