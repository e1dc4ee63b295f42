//! The client side: what to offer, and writing the opening handshake
//! (RFC 6455 §4.1).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::BytesMut;
use core::fmt;

use super::header::{InvalidHeader, check_header, is_token, join_extensions};
use super::{ExtensionOffer, Header, Uri, VERSION, is_valid_key};

/// Headers that [`write_request`] writes itself; a caller may not add them.
const CLIENT_RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    // The handshake request has no body (RFC 6455 §4.1 sends only a head).
    "Content-Length",
    "Transfer-Encoding",
];

/// What a client offers in its handshake, in the spirit of the browser's
/// `new WebSocket(url, protocols)`: subprotocols in order of preference,
/// extensions, an origin, and any extra headers (cookies, authorization).
///
/// Every builder method checks its argument, since what it is given ends up
/// in the request head: the plain ones panic on a bad value, the `try_` ones
/// return an error instead, for values that come from elsewhere.
///
/// ```
/// use sockless::handshake::{ClientOptions, ExtensionOffer};
///
/// let opts = ClientOptions::new()
///     .protocol("v2.chat")
///     .protocol("v1.chat")
///     .extension(ExtensionOffer::new("permessage-deflate").param("client_max_window_bits"))
///     .origin("https://example.com")
///     .header("Authorization", "Bearer abc");
/// assert_eq!(opts.protocols(), ["v2.chat", "v1.chat"]);
/// assert!(ClientOptions::new().try_protocol("two words").is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    pub(crate) protocols: Vec<String>,
    pub(crate) extensions: Vec<ExtensionOffer>,
    pub(crate) origin: Option<String>,
    pub(crate) headers: Vec<Header>,
}

/// A [`ClientOptions`] value that cannot be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidOption {
    /// A subprotocol was not a token (RFC 6455 §4.1 item 10).
    Protocol(String),
    /// A subprotocol was offered twice; RFC 6455 §4.1 requires them unique.
    DuplicateProtocol(String),
    /// An extension with this name had a name, parameter name or value that
    /// is not a token.
    Extension(String),
    /// The origin was empty or held characters other than visible ASCII.
    Origin(String),
    /// An extra header could not be sent.
    Header(InvalidHeader),
}

impl fmt::Display for InvalidOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidOption::Protocol(p) => write!(f, "subprotocol {p:?} is not a token"),
            InvalidOption::DuplicateProtocol(p) => write!(f, "subprotocol {p:?} offered twice"),
            InvalidOption::Extension(e) => write!(f, "extension {e:?} is not valid"),
            InvalidOption::Origin(o) => write!(f, "origin {o:?} is not visible ASCII"),
            InvalidOption::Header(h) => h.fmt(f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InvalidOption {}

fn unwrap_option(r: Result<ClientOptions, InvalidOption>) -> ClientOptions {
    match r {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    }
}

impl ClientOptions {
    /// No subprotocols, no extensions, no origin, no extra headers.
    pub fn new() -> Self {
        ClientOptions::default()
    }

    /// Offers a subprotocol; repeat for more, most preferred first.
    ///
    /// # Panics
    ///
    /// If [`try_protocol`](Self::try_protocol) would fail.
    pub fn protocol(self, protocol: impl Into<String>) -> Self {
        unwrap_option(self.try_protocol(protocol))
    }

    /// Offers a subprotocol, unless it is not a token or already offered.
    pub fn try_protocol(mut self, protocol: impl Into<String>) -> Result<Self, InvalidOption> {
        let protocol = protocol.into();
        if !is_token(protocol.as_bytes()) {
            return Err(InvalidOption::Protocol(protocol));
        }
        if self.protocols.contains(&protocol) {
            return Err(InvalidOption::DuplicateProtocol(protocol));
        }
        self.protocols.push(protocol);
        Ok(self)
    }

    /// Offers an extension; repeat for more, in order of preference.
    ///
    /// # Panics
    ///
    /// If [`try_extension`](Self::try_extension) would fail.
    pub fn extension(self, extension: ExtensionOffer) -> Self {
        unwrap_option(self.try_extension(extension))
    }

    /// Offers an extension, unless it is not valid
    /// ([`ExtensionOffer::is_valid`]).
    pub fn try_extension(mut self, extension: ExtensionOffer) -> Result<Self, InvalidOption> {
        if !extension.is_valid() {
            return Err(InvalidOption::Extension(extension.name));
        }
        self.extensions.push(extension);
        Ok(self)
    }

    /// Sends an `Origin` header, as a browser would for the page that opened
    /// the connection.
    ///
    /// # Panics
    ///
    /// If [`try_origin`](Self::try_origin) would fail.
    pub fn origin(self, origin: impl Into<String>) -> Self {
        unwrap_option(self.try_origin(origin))
    }

    /// Sends an `Origin` header, unless it is empty or holds anything but
    /// visible ASCII.
    pub fn try_origin(mut self, origin: impl Into<String>) -> Result<Self, InvalidOption> {
        let origin = origin.into();
        if origin.is_empty() || !origin.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(InvalidOption::Origin(origin));
        }
        self.origin = Some(origin);
        Ok(self)
    }

    /// Adds a header, such as `Cookie` or `Authorization`.
    ///
    /// # Panics
    ///
    /// If [`try_header`](Self::try_header) would fail.
    pub fn header(self, name: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        unwrap_option(self.try_header(name, value))
    }

    /// Adds a header, unless its name is not a token, its value holds a
    /// control character, or it is one the handshake writes itself (`Host`,
    /// `Upgrade`, `Connection`, `Origin`, the `Sec-WebSocket-*` headers,
    /// `Content-Length`, `Transfer-Encoding`).
    pub fn try_header(
        mut self,
        name: impl Into<String>,
        value: impl AsRef<[u8]>,
    ) -> Result<Self, InvalidOption> {
        let h = Header::new(name, value);
        check_header(&h.name, &h.value, CLIENT_RESERVED).map_err(InvalidOption::Header)?;
        self.headers.push(h);
        Ok(self)
    }

    /// The subprotocols offered, in order.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions offered, in order.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The origin sent, if any.
    pub fn origin_value(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The extra headers, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// Every header of the request for `uri` with `key`, in the order
    /// [`write_request`] sends them.
    pub(crate) fn request_headers<'a>(
        &'a self,
        uri: &'a Uri,
        key: &'a [u8; 24],
    ) -> impl Iterator<Item = (&'a str, HeaderValue<'a>)> + 'a {
        let fixed = [
            ("Host", HeaderValue::Borrowed(uri.host_header().as_bytes())),
            ("Upgrade", HeaderValue::Borrowed(b"websocket")),
            ("Connection", HeaderValue::Borrowed(b"Upgrade")),
            ("Sec-WebSocket-Key", HeaderValue::Borrowed(key)),
            (
                "Sec-WebSocket-Version",
                HeaderValue::Borrowed(VERSION.as_bytes()),
            ),
        ];
        let protocols = (!self.protocols.is_empty()).then(|| {
            (
                "Sec-WebSocket-Protocol",
                HeaderValue::Owned(self.protocols.join(", ")),
            )
        });
        let extensions = (!self.extensions.is_empty()).then(|| {
            (
                "Sec-WebSocket-Extensions",
                HeaderValue::Owned(join_extensions(&self.extensions)),
            )
        });
        let origin = self
            .origin
            .as_ref()
            .map(|o| ("Origin", HeaderValue::Borrowed(o.as_bytes())));
        fixed
            .into_iter()
            .chain(protocols)
            .chain(extensions)
            .chain(origin)
            .chain(
                self.headers
                    .iter()
                    .map(|h| (h.name.as_str(), HeaderValue::Borrowed(&h.value[..]))),
            )
    }
}

/// A header value that is either borrowed from the options or built for the
/// request.
pub(crate) enum HeaderValue<'a> {
    Borrowed(&'a [u8]),
    Owned(String),
}

impl HeaderValue<'_> {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            HeaderValue::Borrowed(b) => b,
            HeaderValue::Owned(s) => s.as_bytes(),
        }
    }
}

/// Writes the client's opening handshake for `uri` into `out`.
///
/// `key` is a fresh [`generate_key`](super::generate_key) result, kept to
/// check the server's answer with [`validate_response`](super::validate_response).
///
/// ```
/// use bytes::BytesMut;
/// use sockless::handshake::{write_request, ClientOptions, Uri};
///
/// let uri = Uri::parse("ws://server.example.com/chat").unwrap();
/// let opts = ClientOptions::new()
///     .protocol("chat")
///     .protocol("superchat")
///     .origin("http://example.com");
/// let mut out = BytesMut::new();
/// write_request(&uri, b"dGhlIHNhbXBsZSBub25jZQ==", &opts, &mut out);
/// assert_eq!(
///     &out[..],
///     &b"GET /chat HTTP/1.1\r\n\
///        Host: server.example.com\r\n\
///        Upgrade: websocket\r\n\
///        Connection: Upgrade\r\n\
///        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///        Sec-WebSocket-Version: 13\r\n\
///        Sec-WebSocket-Protocol: chat, superchat\r\n\
///        Origin: http://example.com\r\n\r\n"[..]
/// );
/// ```
pub fn write_request(uri: &Uri, key: &[u8; 24], opts: &ClientOptions, out: &mut BytesMut) {
    debug_assert!(
        is_valid_key(key),
        "Sec-WebSocket-Key must be base64 of 16 bytes"
    );
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(uri.resource().as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in opts.request_headers(uri, key) {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Limits, parse_request};

    const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

    #[test]
    fn request_writes_resource_host_and_the_required_headers() {
        let uri = Uri::parse("ws://example.com:8080?q=1").unwrap();
        let mut out = BytesMut::new();
        write_request(&uri, KEY, &ClientOptions::new(), &mut out);
        assert_eq!(
            &out[..],
            b"GET /?q=1 HTTP/1.1\r\nHost: example.com:8080\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
              Sec-WebSocket-Version: 13\r\n\r\n"
        );
    }

    #[test]
    fn client_request_round_trips_through_parse_request() {
        let uri = Uri::parse("wss://[::1]:9443/chat?room=7").unwrap();
        let deflate = ExtensionOffer::new("permessage-deflate").param("client_max_window_bits");
        let opts = ClientOptions::new()
            .protocol("chat")
            .protocol("superchat")
            .extension(deflate.clone())
            .extension(ExtensionOffer::new("x-test").param_value("level", "3"))
            .origin("https://example.com")
            .header("Cookie", "a=b");
        let mut out = BytesMut::new();
        write_request(&uri, KEY, &opts, &mut out);
        let (req, n) = parse_request(&out, &Limits::default()).unwrap().unwrap();
        assert_eq!(n, out.len());
        assert_eq!(req.target(), "/chat?room=7");
        assert_eq!(req.host(), "[::1]:9443");
        assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert!(req.protocols().eq(opts.protocols()));
        assert_eq!(req.extensions(), opts.extensions());
        assert_eq!(req.origin(), Some("https://example.com"));
        assert_eq!(req.header("cookie"), Some(&b"a=b"[..]));
    }

    #[test]
    fn protocols_must_be_unique_tokens() {
        assert_eq!(
            ClientOptions::new().try_protocol("a b").unwrap_err(),
            InvalidOption::Protocol("a b".into())
        );
        assert_eq!(
            ClientOptions::new().try_protocol("").unwrap_err(),
            InvalidOption::Protocol("".into())
        );
        assert_eq!(
            ClientOptions::new()
                .protocol("chat")
                .try_protocol("chat")
                .unwrap_err(),
            InvalidOption::DuplicateProtocol("chat".into())
        );
    }

    #[test]
    #[should_panic]
    fn protocol_builder_panics_on_a_non_token() {
        let _ = ClientOptions::new().protocol("chat, superchat");
    }

    #[test]
    fn extensions_must_be_valid() {
        let bad = ExtensionOffer::new("x").param_value("a", "1 2");
        assert_eq!(
            ClientOptions::new().try_extension(bad).unwrap_err(),
            InvalidOption::Extension("x".into())
        );
    }

    #[test]
    fn origin_must_be_visible_ascii() {
        assert!(ClientOptions::new().try_origin("").is_err());
        assert!(
            ClientOptions::new()
                .try_origin("https://a\r\nX: y")
                .is_err()
        );
        assert!(ClientOptions::new().try_origin("null").is_ok());
    }

    #[test]
    fn extra_headers_may_not_inject_or_replace_handshake_headers() {
        assert_eq!(
            ClientOptions::new()
                .try_header("X", "a\r\nHost: evil")
                .unwrap_err(),
            InvalidOption::Header(InvalidHeader::Value("X".into()))
        );
        assert_eq!(
            ClientOptions::new().try_header("host", "evil").unwrap_err(),
            InvalidOption::Header(InvalidHeader::Reserved("host".into()))
        );
        assert_eq!(
            ClientOptions::new()
                .try_header("Bad Name", "1")
                .unwrap_err(),
            InvalidOption::Header(InvalidHeader::Name("Bad Name".into()))
        );
    }

    #[cfg(feature = "std")]
    mod proptests {
        use super::*;
        use crate::handshake::ExtensionParam;
        use alloc::format;
        use alloc::string::ToString;
        use proptest::prelude::*;

        /// Subprotocol tokens: RFC 7230 tchars.
        fn token() -> impl Strategy<Value = String> {
            "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
        }

        /// Path segments and queries from RFC 3986's allowed characters,
        /// with valid percent escapes.
        fn segment() -> impl Strategy<Value = String> {
            prop::collection::vec(
                prop_oneof!["[A-Za-z0-9._~!$&'()*+,;=:@-]", "%[0-9A-Fa-f]{2}",],
                0..8,
            )
            .prop_map(|parts| parts.concat())
        }

        /// Extension offers with token names and optional token values.
        fn extension() -> impl Strategy<Value = ExtensionOffer> {
            let param = (token(), prop::option::of(token()))
                .prop_map(|(name, value)| ExtensionParam { name, value });
            (token(), prop::collection::vec(param, 0..4))
                .prop_map(|(name, params)| ExtensionOffer { name, params })
        }

        proptest! {
            #[test]
            fn any_written_request_parses_back_with_the_same_values(
                protocols in prop::collection::vec(token(), 0..5),
                segments in prop::collection::vec(segment(), 0..4),
                query in prop::option::of(segment()),
                port in 1u16..,
                secure in any::<bool>(),
                key_bytes in any::<[u8; 16]>(),
                extensions in prop::collection::vec(extension(), 0..3),
            ) {
                // Offering a subprotocol twice is refused by the builder.
                let mut unique = Vec::new();
                for p in protocols {
                    if !unique.contains(&p) {
                        unique.push(p);
                    }
                }
                let path = format!("/{}", segments.join("/"));
                let resource = match &query {
                    Some(q) => format!("{path}?{q}"),
                    None => path.clone(),
                };
                let scheme = if secure { "wss" } else { "ws" };
                let uri = Uri::parse(&format!("{scheme}://example.com:{port}{resource}")).unwrap();
                let key = {
                    use base64::Engine as _;
                    let s = base64::engine::general_purpose::STANDARD.encode(key_bytes);
                    <[u8; 24]>::try_from(s.as_bytes()).unwrap()
                };
                let mut opts = ClientOptions::new();
                for p in &unique {
                    opts = opts.protocol(p.clone());
                }
                for e in &extensions {
                    opts = opts.extension(e.clone());
                }
                let mut out = BytesMut::new();
                write_request(&uri, &key, &opts, &mut out);
                let (req, n) = parse_request(&out, &Limits::default()).unwrap().unwrap();
                prop_assert_eq!(n, out.len());
                prop_assert_eq!(req.target(), resource.as_str());
                prop_assert_eq!(req.path(), path.as_str());
                prop_assert_eq!(req.query(), query.as_deref());
                prop_assert!(req.protocols().eq(unique.iter()));
                prop_assert_eq!(req.extensions(), extensions.as_slice());
                prop_assert_eq!(req.key().as_bytes(), &key[..]);
                prop_assert_eq!(req.host(), uri.host_header());
                let default_port = if secure { 443 } else { 80 };
                let want_host = if port == default_port {
                    "example.com".to_string()
                } else {
                    format!("example.com:{port}")
                };
                prop_assert_eq!(req.host(), want_host.as_str());
            }
        }
    }

    #[test]
    fn options_debug_redacts_credentials() {
        let opts = ClientOptions::new()
            .header("Authorization", "Bearer s3cr3t")
            .header("Cookie", "session=s3cr3t")
            .header("X-Trace", "visible");
        let shown = alloc::format!("{opts:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("visible"),
            "{shown}"
        );
    }
}
