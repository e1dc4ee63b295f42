//! The server side: reading and checking a client's opening handshake
//! (RFC 6455 §4.2.1), and answering one that fails the checks.

use alloc::string::ToString;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use core::fmt;
use core::ops::Range;

use super::head::{
    Field, HeadError, HeadScanner, RequestLine, ScanError, Syntax, ows_trimmed, parse_request_head,
};
use super::header::{
    AUTHORITY, VISIBLE, all_in, eq_lowercase, is_extension_list, is_token_list, list_elements,
    lists_contain, parse_extension_list,
};
use super::response::Reject;
use super::{ExtensionOffer, Limits, VERSION, is_valid_key};
#[cfg(target_arch = "x86_64")]
use super::{
    header::TCHAR,
    marks::{Scan, Stop},
};

/// A client's opening handshake that passed every check of RFC 6455 §4.2.1.
///
/// Built by [`parse_request`]; answer it with [`Accept`](super::Accept) or
/// [`Reject`].
///
/// It holds one copy of the head as received and the positions of its parts,
/// so parsing a request allocates the same few buffers however many headers it
/// has; the accessors borrow from that copy. The header lines of a head in the
/// plain form browsers send (spaces around values, CRLF) are found again when
/// [`headers`](Self::headers) or [`header`](Self::header) asks, rather than
/// listed while the request is read.
#[derive(Clone)]
pub struct Request {
    /// The head as received, from the request line to the empty line.
    head: Bytes,
    /// Where its parts are.
    at: Checked,
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
    /// The request target was not an absolute path with an optional query
    /// (`/chat?room=1`). Absolute-form (`http://host/chat`), authority-form and
    /// `*` are refused, since a WebSocket client talks to the server directly.
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
            RequestError::InvalidTarget => {
                f.write_str("request target must be an absolute path such as /chat")
            }
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
        Ok(resume_request(&mut self.scanner, &self.limits, buf)?
            .map(|(checked, n)| (checked.with_head(Bytes::copy_from_slice(&buf[..n])), n)))
    }
}

/// [`RequestParser::parse`] on a scanner kept elsewhere (inline in a server
/// connection that waits for its request).
pub(crate) fn resume_request(
    scanner: &mut HeadScanner,
    limits: &Limits,
    buf: &[u8],
) -> Result<Option<(Checked, usize)>, RequestError> {
    let mut fields = Vec::new();
    // The common case, a whole well-formed head in the first read, is parsed in
    // one pass. Anything else (an unfinished head, a broken rule or limit) goes
    // through the scanner, which reports exactly what it would have without
    // this shortcut, so the result never depends on how the bytes arrived. The
    // shortcut looks no further than the head may reach and lists no more
    // headers than allowed, so a hostile first read cannot make it hold more.
    if scanner.is_fresh() {
        #[cfg(target_arch = "x86_64")]
        if let Some(whole) = parse_whole(buf, limits) {
            return Ok(Some(whole));
        }
        // Room for a browser's dozen headers, so the list grows at most rarely.
        fields.reserve(16.min(limits.max_headers));
        let window = &buf[..buf.len().min(limits.max_head_size)];
        if let Ok(line) = parse_request_head(window, &mut fields, limits.max_headers) {
            let head = &buf[..line.head_len];
            return Checked::new(head, &line, fields).map(|r| Some((r, line.head_len)));
        }
        fields.clear();
    }
    let Some(end) = scanner.next_head(buf, limits)? else {
        return Ok(None);
    };
    let head = &buf[..end.len];
    fields.reserve(end.headers);
    match parse_request_head(head, &mut fields, end.headers) {
        Ok(line) => Checked::new(head, &line, fields).map(|r| Some((r, end.len))),
        // Also covers "HTTP/2.0" and friends: a version we do not speak.
        Err(HeadError::Syntax(Syntax::Version)) => Err(RequestError::HttpVersion),
        Err(HeadError::Syntax(s)) => Err(RequestError::Malformed(s)),
        // The scanner found the empty line that ends the head, after this many
        // header lines.
        Err(HeadError::Incomplete | HeadError::TooManyFields) => {
            Err(RequestError::Malformed(Syntax::StartLine))
        }
    }
}

/// The headers RFC 6455 §4.2.1 gives a meaning to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Host,
    Upgrade,
    Connection,
    Origin,
    Key,
    Version,
    Protocol,
    Extensions,
}

impl Known {
    /// Which known header `name` is, if any; ASCII case-insensitive. The length
    /// picks the one candidate, so each name is compared at most once.
    #[inline]
    fn of(name: &[u8]) -> Option<Known> {
        let (known, spelled) = match name.len() {
            4 => (Known::Host, "host"),
            6 => (Known::Origin, "origin"),
            7 => (Known::Upgrade, "upgrade"),
            10 => (Known::Connection, "connection"),
            17 => (Known::Key, "sec-websocket-key"),
            21 => (Known::Version, "sec-websocket-version"),
            22 => (Known::Protocol, "sec-websocket-protocol"),
            24 => (Known::Extensions, "sec-websocket-extensions"),
            _ => return None,
        };
        eq_lowercase(name, spelled.as_bytes()).then_some(known)
    }
}

/// How often a header that may appear once was seen, and where.
#[derive(Clone, Debug, Default)]
enum Once {
    #[default]
    Absent,
    One(Range<usize>),
    Repeated,
}

impl Once {
    fn see(&mut self, at: Range<usize>) {
        *self = match self {
            Once::Absent => Once::One(at),
            _ => Once::Repeated,
        };
    }

    /// Where the header's value is, if it appeared at most once and `valid`
    /// accepts it; `repeated` or `valid`'s error otherwise.
    #[inline(always)]
    fn optional(
        self,
        head: &[u8],
        repeated: RequestError,
        valid: impl FnOnce(&[u8]) -> Result<(), RequestError>,
    ) -> Result<Option<Range<usize>>, RequestError> {
        match self {
            Once::Absent => Ok(None),
            Once::Repeated => Err(repeated),
            Once::One(at) => valid(&head[at.clone()]).map(|()| Some(at)),
        }
    }

    /// [`optional`](Self::optional) for a header that must be there: `missing`
    /// when it is not.
    #[inline(always)]
    fn required(
        self,
        head: &[u8],
        missing: RequestError,
        repeated: RequestError,
        valid: impl FnOnce(&[u8]) -> Result<(), RequestError>,
    ) -> Result<Range<usize>, RequestError> {
        self.optional(head, repeated, valid)?.ok_or(missing)
    }
}

/// `Ok` if `ok`, else `error`: a value check for [`Once::optional`].
fn require(ok: bool, error: RequestError) -> Result<(), RequestError> {
    if ok { Ok(()) } else { Err(error) }
}

/// How a list header (`Upgrade`, `Connection`) read: absent, present without
/// the option the handshake needs, or with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Listed {
    #[default]
    Absent,
    Without,
    With,
}

impl Listed {
    fn see(&mut self, value: &[u8], option: &str) {
        if *self != Listed::With {
            // Usually the value is just the option; the list is split only if not.
            *self = if eq_lowercase(value, option.as_bytes())
                || lists_contain(core::iter::once(value), option)
            {
                Listed::With
            } else {
                Listed::Without
            };
        }
    }
}

/// What one pass over the header lines found.
#[derive(Debug, Default)]
struct Findings {
    host: Once,
    upgrade: Listed,
    connection: Listed,
    version: Once,
    key: Once,
    origin: Once,
    protocols_valid: bool,
    extensions_valid: bool,
}

/// Whether `v` is visible ASCII without the characters that would take it
/// outside an authority (`host[:port]`).
fn is_host(v: &[u8]) -> bool {
    !v.is_empty() && all_in(v, AUTHORITY)
}

/// Whether `v` could be an origin (`scheme://host[:port]` or `null`): visible
/// ASCII only, since browsers send origins in their ASCII serialization.
fn is_origin(v: &[u8]) -> bool {
    !v.is_empty() && all_in(v, VISIBLE)
}

/// Whether `t` is origin-form: `/path[?query]` with only visible ASCII and no
/// fragment, which a client must never send (RFC 7230 §5.3.1).
pub(crate) fn is_origin_form(t: &[u8]) -> bool {
    t.starts_with(b"/") && all_in(t, VISIBLE) && !t.contains(&b'#')
}

impl Findings {
    fn new() -> Findings {
        Findings {
            protocols_valid: true,
            extensions_valid: true,
            ..Findings::default()
        }
    }

    /// Notes a header line whose name is `known`, with its value at `at`.
    #[inline]
    fn see(&mut self, known: Known, head: &[u8], at: Range<usize>) {
        let value = &head[at.clone()];
        match known {
            Known::Host => self.host.see(at),
            Known::Upgrade => self.upgrade.see(value, "websocket"),
            Known::Connection => self.connection.see(value, "upgrade"),
            Known::Version => self.version.see(at),
            Known::Key => self.key.see(at),
            Known::Origin => self.origin.see(at),
            Known::Protocol => {
                self.protocols_valid &= is_token_list(value);
            }
            // Checked now, built only if asked for (`extensions()`): most
            // servers do not negotiate extensions, or not for every client.
            Known::Extensions if self.extensions_valid => {
                self.extensions_valid = is_extension_list(value);
            }
            Known::Extensions => {}
        }
    }

    /// The checks of RFC 6455 §4.2.1 on what the header lines held: where the
    /// host, origin and key are if they pass.
    ///
    /// The checks run in the order of the RFC whatever the order of the
    /// headers, so that a request with several faults always gets the same
    /// answer.
    #[inline(always)]
    fn finish(self, head: &[u8]) -> Result<Parts, RequestError> {
        let host = self.host.required(
            head,
            RequestError::MissingHost,
            RequestError::DuplicateHost,
            |v| require(is_host(v), RequestError::InvalidHost),
        )?;
        match self.upgrade {
            Listed::Absent => return Err(RequestError::MissingUpgrade),
            Listed::Without => return Err(RequestError::UpgradeNotWebSocket),
            Listed::With => {}
        }
        match self.connection {
            Listed::Absent => return Err(RequestError::MissingConnection),
            Listed::Without => return Err(RequestError::ConnectionNotUpgrade),
            Listed::With => {}
        }
        // The version comes before the key so that a client from an older
        // draft, whose key headers differ, learns which version to retry with.
        self.version.required(
            head,
            RequestError::MissingVersion,
            RequestError::DuplicateVersion,
            |v| require(v == VERSION.as_bytes(), RequestError::UnsupportedVersion),
        )?;
        let key = self.key.required(
            head,
            RequestError::MissingKey,
            RequestError::DuplicateKey,
            |v| require(is_valid_key(v), RequestError::InvalidKey),
        )?;
        let origin = self
            .origin
            .optional(head, RequestError::DuplicateOrigin, |v| {
                require(is_origin(v), RequestError::InvalidOrigin)
            })?;
        if !self.protocols_valid {
            return Err(RequestError::InvalidProtocol);
        }
        if !self.extensions_valid {
            return Err(RequestError::InvalidExtensions);
        }
        Ok(Parts { host, origin, key })
    }
}

/// Where the headers a [`Request`] answers for directly are in its head.
struct Parts {
    host: Range<usize>,
    origin: Option<Range<usize>>,
    key: Range<usize>,
}

/// Reads and checks a whole request that came in the first read, in one pass
/// over the head, for a request as browsers and clients send them: `GET`,
/// HTTP/1.1, header values without tabs inside. `None` for anything else
/// (an error, an unfinished head, a rare form) so that [`parse_request_head`]
/// and [`Checked::new`] give the answer, and the result is always theirs:
/// a request this accepts, they accept the same way (a property test and the
/// `handshake_request` fuzz target compare the two).
///
/// Ends of lines, names and values come from bitmaps of the head ([`Scan`]),
/// which with AVX-512 also prove each name a token; a header the handshake
/// needs is recognised by its name once, which proves it a token anyway.
#[cfg(target_arch = "x86_64")]
fn parse_whole(buf: &[u8], limits: &Limits) -> Option<(Checked, usize)> {
    let buf = &buf[..buf.len().min(limits.max_head_size)];
    if !buf.starts_with(b"GET /") {
        return None;
    }
    // The target ends at a space; a control character there is left to the full parser.
    let target = 4..4 + buf[4..].iter().position(|&b| b <= b' ' || b == 0x7F)?;
    let mut i = target.end + 11;
    if buf.get(target.end..i)? != b" HTTP/1.1\r\n" || !is_origin_form(&buf[target.clone()]) {
        return None;
    }
    let mut scan = Scan::new(buf);
    let checks_names = scan.checks_names();
    let mut found = Findings::new();
    let from = i;
    let mut count = 0;
    let head_len = loop {
        // A header line is a name, a colon, and a value up to the line's first
        // control character, which must be a CR followed by LF: a tab inside
        // a line (rare) is left to the full parser, and so is a name that
        // stops at anything but its colon.
        let colon = scan.find(Stop::NameEnd, i)?;
        if buf[colon] != b':' {
            if colon == i && buf[i] == b'\r' && *buf.get(i + 1)? == b'\n' {
                break i + 2;
            }
            return None;
        }
        let name = &buf[i..colon];
        // A name that ends at its colon is a token where the scan checks
        // names. Elsewhere, a known name matched ignoring case holds only
        // letters and `-` (the case fold could take only a control character
        // for `-`, and those are out), and any other name is checked here.
        let known = Known::of(name);
        if known.is_none() && !checks_names && !all_in(name, TCHAR) {
            return None;
        }
        // An extension list is read as the scan goes, where it can find the
        // ends of tokens; its line ends where the list does.
        let listed = known == Some(Known::Extensions) && checks_names;
        let cr = if listed {
            extension_list_end(&mut scan, buf, colon + 1)?
        } else {
            scan.find(Stop::Control, colon + 1)?
        };
        if colon == i
            || buf[cr] != b'\r'
            || *buf.get(cr + 1)? != b'\n'
            || count == limits.max_headers
        {
            return None;
        }
        // Optional whitespace around the value can only be spaces here.
        let mut start = colon + 1;
        while start < cr && buf[start] == b' ' {
            start += 1;
        }
        let mut end = cr;
        while end > start && buf[end - 1] == b' ' {
            end -= 1;
        }
        count += 1;
        if let Some(known) = known
            && !listed
        {
            found.see(known, buf, start..end);
        }
        i = cr + 2;
    };
    let head = &buf[..head_len];
    let parts = found.finish(head).ok()?;
    let fields = Fields::Plain { from, count };
    Some((Checked::located(head, target, parts, fields), head_len))
}

/// Where the line of a `Sec-WebSocket-Extensions` value starting at `from`
/// ends (its CR, for the caller to check the LF), if the value is an
/// extension list (grammar at [`parse_extension_list`]) without a
/// quoted-string or a tab. `None` for anything else, which the full parser
/// decides.
///
/// The scan must [`check names`](Scan::checks_names): [`Stop::NameEnd`] then
/// stops at the first byte after a token, so a token costs one question, and
/// only the few bytes between tokens are read one by one.
#[cfg(target_arch = "x86_64")]
fn extension_list_end(scan: &mut Scan, buf: &[u8], from: usize) -> Option<usize> {
    let spaces = |mut p: usize| {
        while buf.get(p) == Some(&b' ') {
            p += 1;
        }
        p
    };
    let mut token = |p: usize| {
        let end = scan.find(Stop::NameEnd, p)?;
        (end > p).then_some(end)
    };
    let mut p = from;
    'list: loop {
        // Empty list elements are allowed and ignored (RFC 7230 §7).
        p = spaces(p);
        while *buf.get(p)? == b',' {
            p = spaces(p + 1);
        }
        if buf[p] == b'\r' {
            return Some(p);
        }
        p = token(p)?;
        loop {
            p = spaces(p);
            match *buf.get(p)? {
                b',' => continue 'list,
                b';' => {}
                b'\r' => return Some(p),
                _ => return None,
            }
            p = spaces(token(spaces(p + 1))?);
            if buf.get(p) == Some(&b'=') {
                p = token(spaces(p + 1))?;
            }
        }
    }
}

/// A request head that passed the checks of RFC 6455 §4.2.1: where each part
/// the [`Request`] answers for is, to go with the bytes of the head (which the
/// caller keeps as it can: a server connection hands over its input buffer
/// when the head fills it, so the head is not copied).
#[derive(Clone, Debug)]
pub(crate) struct Checked {
    target: Range<usize>,
    /// Length of the path part of `target` (up to the `?`, if any).
    path_len: usize,
    host: Range<usize>,
    origin: Option<Range<usize>>,
    key: Range<usize>,
    fields: Fields,
}

/// Where a request's header lines are.
#[derive(Clone, Debug)]
enum Fields {
    /// Listed by [`parse_request_head`], which reads every form HTTP/1.1
    /// allows (tabs as whitespace, a head across reads).
    Listed(Vec<Field>),
    /// `count` lines from byte `from`, in the plain form [`parse_whole`]
    /// reads: a name, its colon, a value with only spaces around it, and CRLF.
    ///
    /// The lines are found again when asked for (a server reads a few headers
    /// of a request, if any) rather than listed while the request is read:
    /// the list took an allocation and about 22 ns of Chrome's handshake.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    Plain { from: usize, count: usize },
}

impl Fields {
    /// Each header line of `head`, whose lines these are.
    fn iter<'a>(&'a self, head: &'a [u8]) -> FieldIter<'a> {
        match self {
            Fields::Listed(fields) => FieldIter::Listed(fields.iter()),
            &Fields::Plain { from, count } => FieldIter::Plain {
                head,
                at: from,
                left: count,
            },
        }
    }
}

/// The header lines of a head, from [`Fields::iter`].
#[derive(Clone, Debug)]
enum FieldIter<'a> {
    Listed(core::slice::Iter<'a, Field>),
    Plain {
        head: &'a [u8],
        /// Where the next line starts.
        at: usize,
        left: usize,
    },
}

impl Iterator for FieldIter<'_> {
    type Item = Field;

    fn next(&mut self) -> Option<Field> {
        match self {
            FieldIter::Listed(fields) => fields.next().cloned(),
            FieldIter::Plain { head, at, left } => {
                *left = left.checked_sub(1)?;
                // The plain form has no control character before the CR that
                // ends the line, and a colon ends the name.
                let line = head.get(*at..)?;
                let colon = *at + line.iter().position(|&b| b == b':')?;
                let cr = colon + memchr::memchr(b'\r', &head[colon..])?;
                let trimmed = ows_trimmed(&head[colon + 1..cr]);
                let value = colon + 1 + trimmed.start..colon + 1 + trimmed.end;
                let name = *at..colon;
                *at = cr + 2;
                Some(Field { name, value })
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = match self {
            FieldIter::Listed(fields) => fields.len(),
            FieldIter::Plain { left, .. } => *left,
        };
        (left, Some(left))
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

impl Checked {
    /// Checks a request head read by [`parse_request_head`] against RFC 6455
    /// §4.2.1; `fields` are its headers.
    fn new(
        head: &[u8],
        line: &RequestLine<'_>,
        fields: Vec<Field>,
    ) -> Result<Checked, RequestError> {
        let (method, minor) = (line.method, line.minor);
        // Methods are case-sensitive (RFC 7231 §4.1).
        if method != b"GET" {
            return Err(RequestError::MethodNotGet);
        }
        if minor < 1 {
            return Err(RequestError::HttpVersion);
        }
        if !is_origin_form(&head[line.target.clone()]) {
            return Err(RequestError::InvalidTarget);
        }
        let mut found = Findings::new();
        for field in &fields {
            if let Some(known) = Known::of(&head[field.name.clone()]) {
                found.see(known, head, field.value.clone());
            }
        }
        let parts = found.finish(head)?;
        let fields = Fields::Listed(fields);
        Ok(Checked::located(head, line.target.clone(), parts, fields))
    }

    #[inline(always)]
    fn located(head: &[u8], target: Range<usize>, parts: Parts, fields: Fields) -> Checked {
        // Targets are short: a plain search beats setting up `memchr`.
        let path_len = head[target.clone()]
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(target.len());
        Checked {
            target,
            path_len,
            host: parts.host,
            origin: parts.origin,
            key: parts.key,
            fields,
        }
    }

    /// The request, with `head`: the bytes this was checked on.
    pub(crate) fn with_head(self, head: Bytes) -> Request {
        Request { head, at: self }
    }
}

impl Request {
    /// The part of the head at `at`, which the checks found to be visible
    /// ASCII (or a token), so UTF-8.
    fn text(&self, at: &Range<usize>) -> &str {
        core::str::from_utf8(&self.head[at.clone()]).unwrap_or_default()
    }

    /// The request method; always `GET`.
    pub fn method(&self) -> &str {
        "GET"
    }

    /// The request target as sent: path and query, such as `/chat?room=1`.
    pub fn target(&self) -> &str {
        self.text(&self.at.target)
    }

    /// The path part of the target, such as `/chat`. Not percent-decoded.
    pub fn path(&self) -> &str {
        &self.target()[..self.at.path_len]
    }

    /// The query part of the target without its `?`, if there was a `?`.
    /// Not percent-decoded.
    pub fn query(&self) -> Option<&str> {
        self.target().get(self.at.path_len + 1..)
    }

    /// The `Host` header: the host and port the client asked for.
    pub fn host(&self) -> &str {
        self.text(&self.at.host)
    }

    /// The `Origin` header, which browsers always send and other clients
    /// usually do not. See [`Origins`](super::Origins) for checking it.
    pub fn origin(&self) -> Option<&str> {
        self.at.origin.as_ref().map(|at| self.text(at))
    }

    /// The `Sec-WebSocket-Key` header, still base64 encoded.
    pub fn key(&self) -> &str {
        self.text(&self.at.key)
    }

    /// [`key`](Self::key) as the bytes received, for the accept key: no UTF-8
    /// check on the way to SHA-1.
    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.head[self.at.key.clone()]
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
    ///
    /// The request keeps these lines as received (they were checked against
    /// the grammar when it was parsed) and builds the list on each call, so a
    /// server that does not negotiate extensions never pays for them.
    pub fn extensions(&self) -> Vec<ExtensionOffer> {
        let mut offers = Vec::new();
        for value in self.header_all("Sec-WebSocket-Extensions") {
            // Checked when parsed, so this cannot fail.
            let _ = parse_extension_list(value, &mut offers);
        }
        offers
    }

    /// Every header of the request, in order, as `(name, value)`: the name with
    /// its original case (compare it ASCII case-insensitively), the value
    /// without surrounding whitespace and not necessarily UTF-8.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = (&str, &[u8])> + Clone + '_ {
        self.at
            .fields
            .iter(&self.head)
            .map(|f| (self.text(&f.name), &self.head[f.value]))
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
        self.at
            .fields
            .iter(&self.head)
            .filter(move |f| self.head[f.name.clone()].eq_ignore_ascii_case(name.as_bytes()))
            .map(|f| &self.head[f.value])
    }

    /// The head as received: the request line and every header line, up to and
    /// including the empty line that ends it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.head
    }
}

/// Requests are equal when their heads are: the same bytes, checked the same
/// way, whichever way their header lines are kept.
impl PartialEq for Request {
    fn eq(&self, other: &Request) -> bool {
        let (a, b) = (&self.at, &other.at);
        self.head == other.head
            && (&a.target, a.path_len, &a.host, &a.origin, &a.key)
                == (&b.target, b.path_len, &b.host, &b.origin, &b.key)
            && self.headers().eq(other.headers())
    }
}

impl Eq for Request {}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("target", &self.target())
            .field("host", &self.host())
            .field("origin", &self.origin())
            .field("key", &self.key())
            .field("head", &self.head)
            .finish()
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
    fn target_must_be_origin_form() {
        for line in [
            "GET http://server.example.com/chat HTTP/1.1",
            "GET * HTTP/1.1",
            "GET server.example.com:80 HTTP/1.1",
            "GET /chat#frag HTTP/1.1",
        ] {
            assert_eq!(
                parse(&build(line, |_| {})).unwrap_err(),
                RequestError::InvalidTarget,
                "{line}"
            );
        }
        // httparse allows bytes above 0x7F in the target; a URI may not.
        let line = "GET /caf\u{e9} HTTP/1.1";
        assert_eq!(
            parse(&build(line, |_| {})).unwrap_err(),
            RequestError::InvalidTarget
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
        let whole = parse_request(buf, limits).map(|o| o.map(|(r, n)| (r.as_bytes().to_vec(), n)));
        let mut parser = RequestParser::new(*limits);
        for end in 0..=buf.len() {
            let fresh = parse_request(&buf[..end], limits);
            let resumed = parser.parse(&buf[..end]);
            let fresh = fresh.map(|o| o.map(|(r, n)| (r.as_bytes().to_vec(), n)));
            let resumed = resumed.map(|o| o.map(|(r, n)| (r.as_bytes().to_vec(), n)));
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

    #[cfg(target_arch = "x86_64")]
    use crate::handshake::head::tests::{edited, head_edits};

    /// The full parser and checks, without the one-pass shortcut.
    #[cfg(target_arch = "x86_64")]
    fn full_path(buf: &[u8], limits: &Limits) -> Option<(Request, usize)> {
        let mut fields = Vec::new();
        let window = &buf[..buf.len().min(limits.max_head_size)];
        let line = parse_request_head(window, &mut fields, limits.max_headers).ok()?;
        let head = &buf[..line.head_len];
        let checked = Checked::new(head, &line, fields).ok()?;
        Some((
            checked.with_head(Bytes::copy_from_slice(head)),
            line.head_len,
        ))
    }

    /// The one pass, as a request (equal to another when its header lines
    /// read the same, however they are kept).
    #[cfg(target_arch = "x86_64")]
    fn one_pass(buf: &[u8], limits: &Limits) -> Option<(Request, usize)> {
        let (checked, n) = parse_whole(buf, limits)?;
        Some((checked.with_head(Bytes::copy_from_slice(&buf[..n])), n))
    }

    /// A browser's request: Chrome's headers and order, offering an extension.
    #[cfg(target_arch = "x86_64")]
    const CHROME_REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: server.example.com\r\n\
        Connection: Upgrade\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\
        User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n\
        Upgrade: websocket\r\nOrigin: https://example.com\r\nSec-WebSocket-Version: 13\r\n\
        Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\nframes";

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn one_pass_reads_ordinary_requests_as_the_full_parser_does() {
        let limits = Limits::default();
        let mut long_cookie = CHROME_REQUEST.to_vec();
        // A head of many blocks, with a long line across several.
        let cookie = alloc::format!("Cookie: {}\r\n", "k=v; ".repeat(700));
        long_cookie.splice(27..27, cookie.bytes());
        for request in [RFC_REQUEST, CHROME_REQUEST, &long_cookie] {
            let whole = one_pass(request, &limits);
            assert!(whole.is_some(), "{}", request.escape_ascii());
            let full = full_path(request, &limits);
            let count = |r: &Option<(Request, usize)>| r.as_ref().map(|(r, _)| r.headers().len());
            assert_eq!(count(&whole), count(&full));
            assert_eq!(whole, full);
        }
    }

    /// An extension list read as the one pass scans (with AVX-512) is valid
    /// exactly when the full parser says so; a quoted-string or an invalid
    /// list is left to the full parser.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn one_pass_reads_extension_lists_as_the_full_parser_does() {
        let limits = Limits::default();
        let chrome = core::str::from_utf8(CHROME_REQUEST).unwrap();
        let offered = "permessage-deflate; client_max_window_bits";
        let scans_lists = Scan::new(b"").checks_names();
        for (list, valid) in [
            ("", true),
            ("  ", true),
            (",", true),
            (" , ,a , ", true),
            ("a", true),
            ("a;b", true),
            ("a ; b = c , d;e=f;g", true),
            ("a;b=1,c;d", true),
            ("a b", false),
            ("a;", false),
            ("a;b=", false),
            ("a;=1", false),
            (";a", false),
            ("a,;b", false),
            ("a;b=c=d", false),
            ("a;b=c d", false),
            ("a:b", false),
            ("a;b=\"1\"", true),
            ("a;b=\"1 2\"", false),
        ] {
            let request = chrome.replace(offered, list);
            let full = full_path(request.as_bytes(), &limits);
            assert_eq!(full.is_some(), valid, "{list:?}");
            let whole = one_pass(request.as_bytes(), &limits);
            if whole.is_some() {
                assert_eq!(whole, full, "{list:?}");
            }
            if scans_lists {
                assert_eq!(whole.is_some(), valid && !list.contains('"'), "{list:?}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn one_pass_leaves_rare_forms_and_errors_to_the_full_parser() {
        let limits = Limits::default();
        let rfc = core::str::from_utf8(RFC_REQUEST).unwrap();
        for (request, valid) in [
            // A tab inside a value: refused in an origin, fine elsewhere.
            (
                rfc.replace("Origin: http://example.com", "Origin: http://ex\tample.com"),
                false,
            ),
            (rfc.replace("Origin:", "X-Tab: a\tb\r\nOrigin:"), true),
            (
                rfc.replace("GET /chat HTTP/1.1", "GET /chat HTTP/1.0"),
                false,
            ),
            (rfc.replace("GET", "get"), false),
            (rfc.replace("Host:", "Host :"), false),
            (
                rfc.replace("Upgrade: websocket\r\n", "Upgrade: websocket\n"),
                false,
            ),
            (
                rfc.replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
                false,
            ),
            (rfc.replace("\r\n\r\n", "\r\n"), false),
        ] {
            assert!(
                parse_whole(request.as_bytes(), &limits).is_none(),
                "{request:?}"
            );
            assert_eq!(
                parse_request(request.as_bytes(), &limits).is_ok_and(|r| r.is_some()),
                valid,
                "{request:?}"
            );
        }
        let few = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        assert!(parse_whole(RFC_REQUEST, &few).is_none());
        let short = Limits {
            max_head_size: RFC_REQUEST.len() - 1,
            ..Limits::default()
        };
        assert!(parse_whole(RFC_REQUEST, &short).is_none());
    }

    #[cfg(target_arch = "x86_64")]
    proptest::proptest! {
        /// Whatever the one pass accepts, the full parser and checks accept the
        /// same way, on a browser's request mutated where the grammar is subtle.
        /// Any extension list the one pass reads, the full parser reads the
        /// same way: lists of tokens, separators, spaces and quotes.
        #[test]
        fn one_pass_reads_any_extension_list_as_the_full_parser_does(
            list in proptest::collection::vec(
                proptest::sample::select(b"ab-;;,,== \t\"\\\x80".to_vec()), 0..24),
        ) {
            let offered = b"permessage-deflate; client_max_window_bits";
            let at = CHROME_REQUEST.windows(offered.len()).position(|w| w == offered).unwrap();
            let mut buf = CHROME_REQUEST.to_vec();
            buf.splice(at..at + offered.len(), list);
            let limits = Limits::default();
            if let Some(whole) = one_pass(&buf, &limits) {
                proptest::prop_assert_eq!(Some(whole), full_path(&buf, &limits));
            }
        }

        #[test]
        fn one_pass_agrees_with_the_full_parser(
            edits in head_edits(b"\r\n \t:;,=\"\0\x7f\x80\xffaA-/?#Hh1.", 600),
            max_headers in 10usize..16,
        ) {
            let buf = edited(CHROME_REQUEST, edits);
            let limits = Limits { max_headers, ..Limits::default() };
            if let Some(whole) = one_pass(&buf, &limits) {
                proptest::prop_assert_eq!(Some(whole), full_path(&buf, &limits));
            }
        }
    }
}
