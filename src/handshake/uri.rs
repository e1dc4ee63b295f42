//! `ws://` and `wss://` URIs (RFC 6455 §3), reduced to what a client needs
//! to connect and to write its request: host, port, `Host` header, resource.

use alloc::string::{String, ToString};
use core::fmt;

/// A parsed `ws://` or `wss://` URI.
///
/// Parsing is deliberately narrower than RFC 3986, so that every accepted URI
/// can be written into a request line and a `Host` header unchanged:
///
/// - the scheme is `ws` or `wss`, in any case;
/// - the host is a DNS name or IPv4 address (letters, digits, `-`, `.`, `_`,
///   `~`) or an IPv6 address in brackets; an internationalized name must be
///   given in its ASCII (punycode) form;
/// - userinfo (`user:pass@host`) is refused: RFC 6455 has no place to send it,
///   and quietly dropping credentials would hide a mistake; send them in a
///   header instead;
/// - the port, if given, is a number from 1 to 65535;
/// - a fragment (`#...`) is refused, as RFC 6455 §3 requires; write `%23` for a
///   literal `#`;
/// - the path and query may hold only the characters RFC 3986 allows there,
///   with `%` followed by two hex digits. Nothing is decoded or normalized.
///
/// ```
/// use sockless::handshake::Uri;
///
/// let uri = Uri::parse("wss://[2001:db8::1]:8443/chat?room=1").unwrap();
/// assert!(uri.secure());
/// assert_eq!(uri.host(), "2001:db8::1");
/// assert_eq!(uri.port(), 8443);
/// assert_eq!(uri.host_header(), "[2001:db8::1]:8443");
/// assert_eq!(uri.resource(), "/chat?room=1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Uri {
    secure: bool,
    host: String,
    port: u16,
    host_header: String,
    resource: String,
    /// Length of the path part of `resource`.
    path_len: usize,
}

/// Why a string is not a usable WebSocket URI.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {
    /// There was no `scheme://` at the start.
    MissingScheme,
    /// The scheme was not `ws` or `wss` (RFC 6455 §3); holds the scheme given.
    UnsupportedScheme(String),
    /// The authority held userinfo (`user@host`), which RFC 6455 has no
    /// way to send.
    UserInfo,
    /// There was no host.
    EmptyHost,
    /// The host held characters a host name cannot have, or an IPv6 address
    /// was malformed or missing its closing bracket.
    InvalidHost,
    /// The port was empty, not a number, 0, or over 65535.
    InvalidPort,
    /// The URI had a fragment (`#`), which RFC 6455 §3 forbids.
    Fragment,
    /// The URI held a space, a control or non-ASCII character, or a character
    /// (or broken `%` escape) not allowed in a path or query.
    InvalidCharacter,
}

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriError::MissingScheme => f.write_str("URI has no ws:// or wss:// scheme"),
            UriError::UnsupportedScheme(s) => {
                write!(f, "URI scheme {s:?} is not ws or wss")
            }
            UriError::UserInfo => f.write_str("URI has userinfo, which WebSocket cannot send"),
            UriError::EmptyHost => f.write_str("URI has no host"),
            UriError::InvalidHost => f.write_str("URI host is invalid"),
            UriError::InvalidPort => f.write_str("URI port is invalid"),
            UriError::Fragment => f.write_str("WebSocket URIs may not have a fragment"),
            UriError::InvalidCharacter => f.write_str("URI holds a character it may not"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UriError {}

/// Characters allowed in a path or query besides `%`-escapes (RFC 3986 §3.3,
/// §3.4: unreserved, sub-delims, `:`, `@`, `/`, `?`).
fn is_resource_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?".contains(&b)
}

fn is_valid_resource(r: &str) -> bool {
    let b = r.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if is_resource_char(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn is_reg_name(h: &str) -> bool {
    h.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn parse_port(p: &str) -> Result<u16, UriError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UriError::InvalidPort);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UriError::InvalidPort),
        Ok(n) => Ok(n),
    }
}

impl Uri {
    /// Parses a `ws://` or `wss://` URI.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        if s.contains('#') {
            return Err(UriError::Fragment);
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UriError::InvalidCharacter);
        }
        let (scheme, rest) = s.split_once("://").ok_or(UriError::MissingScheme)?;
        let secure = if scheme.eq_ignore_ascii_case("ws") {
            false
        } else if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.is_empty() || scheme.contains(['/', '?']) {
            return Err(UriError::MissingScheme);
        } else {
            return Err(UriError::UnsupportedScheme(scheme.to_string()));
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UriError::UserInfo);
        }

        let (host, port, ipv6) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (inner, after) = bracketed.split_once(']').ok_or(UriError::InvalidHost)?;
            if inner.parse::<core::net::Ipv6Addr>().is_err() {
                return Err(UriError::InvalidHost);
            }
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or(UriError::InvalidHost)?),
            };
            (inner, port, true)
        } else {
            // More than one colon is an IPv6 address without its brackets,
            // which cannot be told apart from a port.
            if authority.matches(':').count() > 1 {
                return Err(UriError::InvalidHost);
            }
            let (host, port) = match authority.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            };
            if host.is_empty() {
                return Err(UriError::EmptyHost);
            }
            if !is_reg_name(host) {
                return Err(UriError::InvalidHost);
            }
            (host, port, false)
        };
        let default_port = if secure { 443 } else { 80 };
        let port = port.map(parse_port).transpose()?.unwrap_or(default_port);

        if !is_valid_resource(resource) {
            return Err(UriError::InvalidCharacter);
        }
        // RFC 6455 §3: an empty path means "/".
        let resource = if resource.starts_with('/') {
            resource.to_string()
        } else {
            alloc::format!("/{resource}")
        };
        let mut host_header = if ipv6 {
            alloc::format!("[{host}]")
        } else {
            host.to_string()
        };
        if port != default_port {
            host_header = alloc::format!("{host_header}:{port}");
        }
        Ok(Uri {
            secure,
            host: host.to_string(),
            port,
            host_header,
            path_len: resource.find('?').unwrap_or(resource.len()),
            resource,
        })
    }

    /// Whether the scheme is `wss`: the caller must run TLS to the host
    /// before the handshake.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// `"ws"` or `"wss"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure { "wss" } else { "ws" }
    }

    /// The host to connect to; an IPv6 address without its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port to connect to: the one given, or 80 for `ws`, 443 for `wss`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header value: the host (IPv6 in brackets) and the port
    /// unless it is the scheme's default.
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// The resource name for the request line: path and query, `/` at least.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path part of the resource.
    pub fn path(&self) -> &str {
        &self.resource[..self.path_len]
    }

    /// The query without its `?`, if there was a `?`.
    pub fn query(&self) -> Option<&str> {
        self.resource.get(self.path_len + 1..)
    }
}

impl core::str::FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme(),
            self.host_header,
            self.resource
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Uri {
        Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn host_name_with_default_port() {
        let u = ok("ws://example.com/chat");
        assert!(!u.secure());
        assert_eq!((u.host(), u.port()), ("example.com", 80));
        assert_eq!(u.host_header(), "example.com");
        assert_eq!(u.resource(), "/chat");
        let u = ok("wss://example.com/");
        assert!(u.secure());
        assert_eq!((u.port(), u.host_header()), (443, "example.com"));
    }

    #[test]
    fn default_ports_are_omitted_from_host_header_even_when_explicit() {
        assert_eq!(ok("ws://example.com:80/").host_header(), "example.com");
        assert_eq!(ok("wss://example.com:443/").host_header(), "example.com");
        assert_eq!(ok("ws://example.com:443/").host_header(), "example.com:443");
        assert_eq!(ok("wss://example.com:80/").host_header(), "example.com:80");
    }

    #[test]
    fn ipv4_host() {
        let u = ok("ws://127.0.0.1:9001");
        assert_eq!((u.host(), u.port()), ("127.0.0.1", 9001));
        assert_eq!(u.host_header(), "127.0.0.1:9001");
    }

    #[test]
    fn bracketed_ipv6_host() {
        let u = ok("ws://[::1]/x");
        assert_eq!((u.host(), u.port()), ("::1", 80));
        assert_eq!(u.host_header(), "[::1]");
        let u = ok("wss://[2001:db8::1]:8443");
        assert_eq!(u.host_header(), "[2001:db8::1]:8443");
    }

    #[test]
    fn malformed_ipv6_is_rejected() {
        for s in [
            "ws://[::1/",
            "ws://[::1]x/",
            "ws://[not-ip]/",
            "ws://::1/",
            "ws://[]/",
        ] {
            assert_eq!(Uri::parse(s), Err(UriError::InvalidHost), "{s}");
        }
    }

    #[test]
    fn empty_path_becomes_slash() {
        assert_eq!(ok("ws://example.com").resource(), "/");
        assert_eq!(ok("ws://example.com?a=b").resource(), "/?a=b");
    }

    #[test]
    fn query_is_kept() {
        let u = ok("ws://example.com/a/b?x=1&y=%20");
        assert_eq!(u.resource(), "/a/b?x=1&y=%20");
        assert_eq!((u.path(), u.query()), ("/a/b", Some("x=1&y=%20")));
        assert_eq!(ok("ws://example.com/a").query(), None);
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert!(ok("WSS://example.com").secure());
        assert!(!ok("Ws://example.com").secure());
        assert_eq!(ok("WSS://Example.com").to_string(), "wss://Example.com/");
    }

    #[test]
    fn other_schemes_are_rejected() {
        assert_eq!(
            Uri::parse("http://example.com/"),
            Err(UriError::UnsupportedScheme("http".into()))
        );
        assert_eq!(
            Uri::parse("https://example.com/"),
            Err(UriError::UnsupportedScheme("https".into()))
        );
        assert_eq!(Uri::parse("example.com/chat"), Err(UriError::MissingScheme));
        assert_eq!(Uri::parse("ws:/example.com"), Err(UriError::MissingScheme));
        assert_eq!(Uri::parse("://example.com"), Err(UriError::MissingScheme));
    }

    #[test]
    fn fragments_are_rejected() {
        assert_eq!(Uri::parse("ws://example.com/#x"), Err(UriError::Fragment));
        assert_eq!(Uri::parse("ws://example.com/?a#"), Err(UriError::Fragment));
    }

    #[test]
    fn bad_ports_are_rejected() {
        for s in [
            "ws://example.com:/",
            "ws://example.com:0/",
            "ws://example.com:65536/",
            "ws://example.com:99999999999/",
            "ws://example.com:8o/",
            "ws://example.com:+80/",
            "ws://[::1]:/",
        ] {
            assert_eq!(Uri::parse(s), Err(UriError::InvalidPort), "{s}");
        }
        assert_eq!(ok("ws://example.com:65535/").port(), 65535);
    }

    #[test]
    fn userinfo_is_rejected() {
        assert_eq!(
            Uri::parse("ws://user:pw@example.com/"),
            Err(UriError::UserInfo)
        );
    }

    #[test]
    fn empty_host_is_rejected() {
        assert_eq!(Uri::parse("ws:///chat"), Err(UriError::EmptyHost));
        assert_eq!(Uri::parse("ws://:80/chat"), Err(UriError::EmptyHost));
    }

    #[test]
    fn host_characters_are_restricted() {
        assert_eq!(Uri::parse("ws://exa!mple.com/"), Err(UriError::InvalidHost));
        assert_eq!(
            Uri::parse("ws://exa%41mple.com/"),
            Err(UriError::InvalidHost)
        );
        assert_eq!(
            Uri::parse("ws://example.com:80:80/"),
            Err(UriError::InvalidHost)
        );
    }

    #[test]
    fn spaces_controls_and_non_ascii_are_rejected() {
        for s in [
            "ws://example.com/a b",
            " ws://example.com/",
            "ws://example.com/\t",
            "ws://ex\u{e4}mple.com/",
            "ws://example.com/\u{7f}",
        ] {
            assert_eq!(Uri::parse(s), Err(UriError::InvalidCharacter), "{s:?}");
        }
    }

    #[test]
    fn path_characters_and_escapes_follow_rfc_3986() {
        for s in [
            "ws://a/<",
            "ws://a/\"",
            "ws://a/{}",
            "ws://a/%",
            "ws://a/%4",
            "ws://a/%zz",
            "ws://a/\\",
        ] {
            assert_eq!(Uri::parse(s), Err(UriError::InvalidCharacter), "{s:?}");
        }
        assert_eq!(
            ok("ws://a/%4A~:@!$&'()*+,;=").resource(),
            "/%4A~:@!$&'()*+,;="
        );
    }

    #[test]
    fn display_gives_a_uri_that_parses_to_the_same() {
        for s in ["ws://example.com:8080/x?y", "wss://[::1]/", "ws://a"] {
            let u = ok(s);
            assert_eq!(ok(&u.to_string()), u);
        }
    }
}
