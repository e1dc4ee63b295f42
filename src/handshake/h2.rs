//! WebSocket over HTTP/2 (RFC 8441): the extended CONNECT request and its
//! answer, as header lists for whichever HTTP/2 implementation carries them.
//!
//! Over HTTP/2 there is no key and no accept hash (RFC 8441 §5): the stream
//! itself proves that the server understood the request. What is left to
//! check is the pseudo-headers, the version, and the offered subprotocols and
//! extensions, which keep their RFC 6455 meaning.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::header::{is_field_value, parse_extension_list, parse_token_list};
use super::request::is_origin_form;
use super::response::Accept;
use super::{AcceptError, ExtensionOffer, Header, VERSION, header_values};

/// An extended CONNECT request (RFC 8441 §4) that passed every check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct H2Request {
    scheme: String,
    authority: String,
    path: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
    headers: Vec<Header>,
}

/// What was wrong with an extended CONNECT request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum H2Error {
    /// `:method` was missing or not `CONNECT`.
    MethodNotConnect,
    /// `:protocol` was missing: a plain CONNECT asks for a tunnel, not a
    /// WebSocket.
    MissingProtocol,
    /// `:protocol` was not `websocket`.
    ProtocolNotWebSocket,
    /// `:scheme` was missing (RFC 8441 §4 requires it).
    MissingScheme,
    /// `:path` was missing (RFC 8441 §4 requires it).
    MissingPath,
    /// `:path` was not an absolute path with an optional query.
    InvalidPath,
    /// `:authority` was missing.
    MissingAuthority,
    /// A pseudo-header appeared twice.
    DuplicatePseudoHeader(String),
    /// A pseudo-header that HTTP/2 requests do not have.
    UnknownPseudoHeader(String),
    /// A pseudo-header came after a regular header (RFC 9113 §8.3).
    MisplacedPseudoHeader(String),
    /// A header value held a control character.
    InvalidValue(String),
    /// `sec-websocket-version` was missing.
    MissingVersion,
    /// There was more than one `sec-websocket-version`.
    DuplicateVersion,
    /// `sec-websocket-version` was not 13.
    UnsupportedVersion,
    /// There was more than one `origin`.
    DuplicateOrigin,
    /// `sec-websocket-protocol` was not a comma list of tokens.
    InvalidProtocol,
    /// `sec-websocket-extensions` did not follow RFC 6455 §9.1.
    InvalidExtensions,
}

impl fmt::Display for H2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2Error::MethodNotConnect => f.write_str(":method must be CONNECT"),
            H2Error::MissingProtocol => f.write_str("missing :protocol pseudo-header"),
            H2Error::ProtocolNotWebSocket => f.write_str(":protocol must be websocket"),
            H2Error::MissingScheme => f.write_str("missing :scheme pseudo-header"),
            H2Error::MissingPath => f.write_str("missing :path pseudo-header"),
            H2Error::InvalidPath => f.write_str(":path must be an absolute path"),
            H2Error::MissingAuthority => f.write_str("missing :authority pseudo-header"),
            H2Error::DuplicatePseudoHeader(n) => write!(f, "pseudo-header {n} repeated"),
            H2Error::UnknownPseudoHeader(n) => write!(f, "unknown pseudo-header {n}"),
            H2Error::MisplacedPseudoHeader(n) => {
                write!(f, "pseudo-header {n} after a regular header")
            }
            H2Error::InvalidValue(n) => write!(f, "value of {n} holds a control character"),
            H2Error::MissingVersion => f.write_str("missing sec-websocket-version header"),
            H2Error::DuplicateVersion => f.write_str("more than one sec-websocket-version header"),
            H2Error::UnsupportedVersion => f.write_str("sec-websocket-version must be 13"),
            H2Error::DuplicateOrigin => f.write_str("more than one origin header"),
            H2Error::InvalidProtocol => {
                f.write_str("sec-websocket-protocol must be a comma list of tokens")
            }
            H2Error::InvalidExtensions => f.write_str("malformed sec-websocket-extensions"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for H2Error {}

impl H2Error {
    /// The `:status` to answer with: 426 for a missing or unsupported
    /// version, as over HTTP/1.1, 400 otherwise. (A 426 answer should carry
    /// `sec-websocket-version: 13`.)
    pub fn status(&self) -> u16 {
        match self {
            H2Error::MissingVersion | H2Error::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}

fn text(name: &str, v: &[u8]) -> Result<String, H2Error> {
    if !is_field_value(v) {
        return Err(H2Error::InvalidValue(name.to_string()));
    }
    core::str::from_utf8(v)
        .map(String::from)
        .map_err(|_| H2Error::InvalidValue(name.to_string()))
}

/// Checks an RFC 8441 extended CONNECT request, given as the stream's
/// pseudo-headers and headers in order, with lowercase names (as HTTP/2
/// requires; names are compared ignoring case all the same).
///
/// `sec-websocket-key` is not needed and, if present, ignored (RFC 8441 §5).
///
/// ```
/// use sockless::handshake::{h2_response_headers, validate_h2_request, Accept};
///
/// let req = validate_h2_request(&[
///     (":method", b"CONNECT"),
///     (":protocol", b"websocket"),
///     (":scheme", b"https"),
///     (":path", b"/chat"),
///     (":authority", b"server.example.com"),
///     ("sec-websocket-protocol", b"chat, superchat"),
///     ("sec-websocket-version", b"13"),
///     ("origin", b"http://www.example.com"),
/// ])
/// .unwrap();
/// assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
/// let headers = h2_response_headers(&req, &Accept::new().protocol("chat")).unwrap();
/// assert_eq!(headers[0], (":status".to_string(), "200".to_string()));
/// ```
pub fn validate_h2_request(headers: &[(&str, &[u8])]) -> Result<H2Request, H2Error> {
    let mut method = None;
    let mut protocol = None;
    let mut scheme = None;
    let mut path = None;
    let mut authority = None;
    let mut regular = Vec::new();
    for &(name, value) in headers {
        if let Some(pseudo) = name.strip_prefix(':') {
            if !regular.is_empty() {
                return Err(H2Error::MisplacedPseudoHeader(name.to_string()));
            }
            let slot = match pseudo.to_ascii_lowercase().as_str() {
                "method" => &mut method,
                "protocol" => &mut protocol,
                "scheme" => &mut scheme,
                "path" => &mut path,
                "authority" => &mut authority,
                _ => return Err(H2Error::UnknownPseudoHeader(name.to_string())),
            };
            if slot.replace(value).is_some() {
                return Err(H2Error::DuplicatePseudoHeader(name.to_string()));
            }
        } else {
            regular.push(Header::new(name, value));
        }
    }
    if method != Some(&b"CONNECT"[..]) {
        return Err(H2Error::MethodNotConnect);
    }
    let protocol = protocol.ok_or(H2Error::MissingProtocol)?;
    if !protocol.eq_ignore_ascii_case(b"websocket") {
        return Err(H2Error::ProtocolNotWebSocket);
    }
    let scheme = text(":scheme", scheme.ok_or(H2Error::MissingScheme)?)?;
    let path = text(":path", path.ok_or(H2Error::MissingPath)?)?;
    if !is_origin_form(path.as_bytes()) {
        return Err(H2Error::InvalidPath);
    }
    let authority = text(":authority", authority.ok_or(H2Error::MissingAuthority)?)?;
    if authority.is_empty() {
        return Err(H2Error::MissingAuthority);
    }

    match header_values(&regular, "sec-websocket-version").collect::<Vec<_>>()[..] {
        [] => return Err(H2Error::MissingVersion),
        [v] if v == VERSION.as_bytes() => {}
        [_] => return Err(H2Error::UnsupportedVersion),
        _ => return Err(H2Error::DuplicateVersion),
    }
    let origin = match header_values(&regular, "origin").collect::<Vec<_>>()[..] {
        [] => None,
        [o] => Some(text("origin", o)?),
        _ => return Err(H2Error::DuplicateOrigin),
    };
    let mut protocols = Vec::new();
    for v in header_values(&regular, "sec-websocket-protocol") {
        parse_token_list(v, &mut protocols).map_err(|()| H2Error::InvalidProtocol)?;
    }
    let mut extensions = Vec::new();
    for v in header_values(&regular, "sec-websocket-extensions") {
        parse_extension_list(v, &mut extensions).map_err(|_| H2Error::InvalidExtensions)?;
    }
    Ok(H2Request {
        scheme,
        authority,
        path,
        origin,
        protocols,
        extensions,
        headers: regular,
    })
}

impl H2Request {
    /// `:scheme`, such as `https`.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// `:path`: path and query, such as `/chat?room=1`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `:authority`: host and port.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The `origin` header, if sent.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The subprotocols offered, in order (as [`Request::protocols`](super::Request::protocols)).
    pub fn protocols(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.protocols.iter().map(String::as_str)
    }

    /// The extensions offered, in order.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The regular (not pseudo-) headers, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The value of the first header called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        header_values(&self.headers, name).next()
    }
}

/// Headers an HTTP/2 answer may not carry: the ones [`Accept`] sets itself,
/// and the connection-specific ones HTTP/2 forbids (RFC 9113 §8.2.2).
const H2_RESERVED: &[&str] = &[
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "sec-websocket-accept",
    "connection",
    "upgrade",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    // A 2xx answer to CONNECT has no content (RFC 9110 §9.3.6).
    "content-length",
];

/// The headers of the answer that accepts `req`: `:status` 200, then the
/// chosen subprotocol and extensions, then `accept`'s extra headers with
/// lowercase names. Checks the choices as [`Accept::write_response`] does.
pub fn h2_response_headers(
    req: &H2Request,
    accept: &Accept,
) -> Result<Vec<(String, String)>, AcceptError> {
    accept.check(req.protocols(), &req.extensions, H2_RESERVED)?;
    let mut out = Vec::new();
    out.push((":status".to_string(), "200".to_string()));
    if let Some(p) = &accept.protocol {
        out.push(("sec-websocket-protocol".to_string(), p.clone()));
    }
    if let Some(e) = accept.extensions_value() {
        out.push(("sec-websocket-extensions".to_string(), e));
    }
    for h in &accept.headers {
        let value = h.value_str().ok_or_else(|| {
            AcceptError::InvalidHeader(super::header::InvalidHeader::Value(h.name.clone()))
        })?;
        out.push((h.name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::header::InvalidHeader;
    use alloc::vec;

    type Pairs = Vec<(&'static str, &'static [u8])>;

    fn valid() -> Pairs {
        vec![
            (":method", b"CONNECT"),
            (":protocol", b"websocket"),
            (":scheme", b"https"),
            (":path", b"/chat?room=1"),
            (":authority", b"server.example.com"),
            ("sec-websocket-version", b"13"),
        ]
    }

    fn without(name: &str) -> Pairs {
        valid().into_iter().filter(|(n, _)| *n != name).collect()
    }

    fn with(name: &'static str, value: &'static [u8]) -> Pairs {
        let mut v = valid();
        match v.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => v.push((name, value)),
        }
        v
    }

    #[test]
    fn rfc_8441_example_request_is_accepted() {
        let req = validate_h2_request(&with("sec-websocket-protocol", b"chat, superchat")).unwrap();
        assert_eq!(req.scheme(), "https");
        assert_eq!(req.path(), "/chat?room=1");
        assert_eq!(req.authority(), "server.example.com");
        assert_eq!(req.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
        assert_eq!(req.origin(), None);
        assert_eq!(req.headers().len(), 2);
    }

    #[test]
    fn method_must_be_connect() {
        assert_eq!(
            validate_h2_request(&with(":method", b"GET")).unwrap_err(),
            H2Error::MethodNotConnect
        );
        assert_eq!(
            validate_h2_request(&without(":method")).unwrap_err(),
            H2Error::MethodNotConnect
        );
    }

    #[test]
    fn protocol_pseudo_header_must_be_websocket() {
        assert_eq!(
            validate_h2_request(&without(":protocol")).unwrap_err(),
            H2Error::MissingProtocol
        );
        assert_eq!(
            validate_h2_request(&with(":protocol", b"connect-udp")).unwrap_err(),
            H2Error::ProtocolNotWebSocket
        );
    }

    #[test]
    fn scheme_path_and_authority_are_required() {
        assert_eq!(
            validate_h2_request(&without(":scheme")).unwrap_err(),
            H2Error::MissingScheme
        );
        assert_eq!(
            validate_h2_request(&without(":path")).unwrap_err(),
            H2Error::MissingPath
        );
        assert_eq!(
            validate_h2_request(&without(":authority")).unwrap_err(),
            H2Error::MissingAuthority
        );
        assert_eq!(
            validate_h2_request(&with(":authority", b"")).unwrap_err(),
            H2Error::MissingAuthority
        );
        assert_eq!(
            validate_h2_request(&with(":path", b"chat")).unwrap_err(),
            H2Error::InvalidPath
        );
    }

    #[test]
    fn pseudo_headers_must_be_known_unique_and_first() {
        let mut dup = valid();
        dup.insert(1, (":path", b"/other"));
        assert_eq!(
            validate_h2_request(&dup).unwrap_err(),
            H2Error::DuplicatePseudoHeader(":path".into())
        );
        let mut late = without(":authority");
        late.push((":authority", b"a"));
        assert_eq!(
            validate_h2_request(&late).unwrap_err(),
            H2Error::MisplacedPseudoHeader(":authority".into())
        );
        let mut unknown = valid();
        unknown.insert(0, (":status", b"200"));
        assert_eq!(
            validate_h2_request(&unknown).unwrap_err(),
            H2Error::UnknownPseudoHeader(":status".into())
        );
    }

    #[test]
    fn version_must_be_13() {
        let missing = without("sec-websocket-version");
        assert_eq!(
            validate_h2_request(&missing).unwrap_err(),
            H2Error::MissingVersion
        );
        let err = validate_h2_request(&with("sec-websocket-version", b"8")).unwrap_err();
        assert_eq!(err, H2Error::UnsupportedVersion);
        assert_eq!(err.status(), 426);
        let mut twice = valid();
        twice.push(("sec-websocket-version", b"13"));
        assert_eq!(
            validate_h2_request(&twice).unwrap_err(),
            H2Error::DuplicateVersion
        );
    }

    #[test]
    fn key_is_not_required() {
        assert!(validate_h2_request(&valid()).is_ok());
    }

    #[test]
    fn origin_is_read_and_must_be_single() {
        let req = validate_h2_request(&with("origin", b"https://example.com")).unwrap();
        assert_eq!(req.origin(), Some("https://example.com"));
        let mut twice = with("origin", b"https://a.example");
        twice.push(("origin", b"https://b.example"));
        assert_eq!(
            validate_h2_request(&twice).unwrap_err(),
            H2Error::DuplicateOrigin
        );
    }

    #[test]
    fn protocols_and_extensions_follow_rfc_6455_grammar() {
        assert_eq!(
            validate_h2_request(&with("sec-websocket-protocol", b"a b")).unwrap_err(),
            H2Error::InvalidProtocol
        );
        assert_eq!(
            validate_h2_request(&with("sec-websocket-extensions", b"x;")).unwrap_err(),
            H2Error::InvalidExtensions
        );
        let req = validate_h2_request(&with(
            "sec-websocket-extensions",
            b"permessage-deflate; a=\"1\"",
        ))
        .unwrap();
        assert_eq!(
            req.extensions()[0],
            ExtensionOffer::new("permessage-deflate").param_value("a", "1")
        );
    }

    #[test]
    fn control_characters_in_pseudo_headers_are_refused() {
        assert_eq!(
            validate_h2_request(&with(":authority", b"a\r\nb")).unwrap_err(),
            H2Error::InvalidValue(":authority".into())
        );
    }

    #[test]
    fn response_headers_carry_status_choices_and_extras() {
        let mut pairs = with("sec-websocket-protocol", b"chat, superchat");
        pairs.push(("sec-websocket-extensions", b"permessage-deflate"));
        let req = validate_h2_request(&pairs).unwrap();
        let accept = Accept::new()
            .protocol("superchat")
            .extension(
                ExtensionOffer::new("permessage-deflate").param("server_no_context_takeover"),
            )
            .header("Set-Cookie", "a=b");
        let headers = h2_response_headers(&req, &accept).unwrap();
        let want: Vec<(String, String)> = [
            (":status", "200"),
            ("sec-websocket-protocol", "superchat"),
            (
                "sec-websocket-extensions",
                "permessage-deflate; server_no_context_takeover",
            ),
            ("set-cookie", "a=b"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(headers, want);
    }

    #[test]
    fn response_refuses_choices_not_offered() {
        let req = validate_h2_request(&valid()).unwrap();
        assert_eq!(
            h2_response_headers(&req, &Accept::new().protocol("chat")).unwrap_err(),
            AcceptError::ProtocolNotOffered("chat".into())
        );
        assert_eq!(
            h2_response_headers(&req, &Accept::new().extension(ExtensionOffer::new("x")))
                .unwrap_err(),
            AcceptError::ExtensionNotOffered("x".into())
        );
    }

    #[test]
    fn response_refuses_connection_specific_headers() {
        let req = validate_h2_request(&valid()).unwrap();
        assert_eq!(
            h2_response_headers(&req, &Accept::new().header("Connection", "close")).unwrap_err(),
            AcceptError::InvalidHeader(InvalidHeader::Reserved("Connection".into()))
        );
    }

    #[test]
    fn request_debug_redacts_credentials() {
        let req = validate_h2_request(&with("cookie", b"session=s3cr3t")).unwrap();
        let shown = alloc::format!("{req:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
