//! Checking the `Origin` header against an allow-list (RFC 6455 §10.2).

use alloc::string::String;
use alloc::vec::Vec;

use super::request::Request;

/// An allow-list of origins, for refusing WebSocket connections opened by
/// pages of other sites (cross-site WebSocket hijacking).
///
/// A browser always sends the origin of the page that opens a WebSocket, and
/// a page cannot change it; but, unlike `fetch`, the browser does not check
/// the server's answer, and it sends the user's cookies along. So a server
/// that authenticates by cookie must check the origin itself.
///
/// Origins match when they are equal ignoring ASCII case, as whole
/// `scheme://host[:port]` strings: `https://example.com` does not allow
/// `https://example.com:8443` or `https://sub.example.com`. Browsers omit the
/// default port, so list `https://example.com`, not `https://example.com:443`.
/// A trailing `/` on a listed origin is ignored. The opaque origin `null`
/// (sandboxed frames, `file:` pages) is only allowed if listed.
///
/// A request with no `Origin` is allowed by default: non-browser clients
/// usually omit it, and since they can send any origin they like, refusing
/// them for leaving it out protects nothing. Use
/// [`allow_missing(false)`](Origins::allow_missing) to refuse them anyway.
///
/// ```
/// use sockless::handshake::Origins;
///
/// let origins = Origins::new(["https://example.com", "https://app.example.com"]);
/// assert!(origins.allows_origin(Some("https://EXAMPLE.com")));
/// assert!(!origins.allows_origin(Some("https://evil.example")));
/// assert!(origins.allows_origin(None));
/// assert!(!origins.clone().allow_missing(false).allows_origin(None));
/// ```
#[derive(Clone, Debug)]
pub struct Origins {
    allowed: Vec<String>,
    allow_missing: bool,
}

impl Origins {
    /// Allows the listed origins, and requests without an `Origin`.
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let allowed = origins
            .into_iter()
            .map(|o| {
                let mut o = o.into();
                if o.ends_with('/') {
                    o.pop();
                }
                o
            })
            .collect();
        Origins {
            allowed,
            allow_missing: true,
        }
    }

    /// Whether a request without an `Origin` header is allowed (the default).
    pub fn allow_missing(mut self, allow: bool) -> Self {
        self.allow_missing = allow;
        self
    }

    /// Whether `req` may connect, judging by its `Origin`.
    pub fn allows(&self, req: &Request) -> bool {
        self.allows_origin(req.origin())
    }

    /// Whether a request with this `Origin` value (or none) may connect; for
    /// requests that did not come through [`Request`], such as RFC 8441 ones.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        match origin {
            None => self.allow_missing,
            Some(o) => self.allowed.iter().any(|a| a.eq_ignore_ascii_case(o)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Limits, parse_request};

    fn request(origin: Option<&str>) -> Request {
        let mut head = alloc::string::String::from(
            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        );
        if let Some(o) = origin {
            head.push_str("Origin: ");
            head.push_str(o);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        parse_request(head.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn listed_origin_is_allowed_case_insensitively() {
        let o = Origins::new(["https://example.com"]);
        assert!(o.allows(&request(Some("https://example.com"))));
        assert!(o.allows(&request(Some("HTTPS://Example.COM"))));
    }

    #[test]
    fn origin_must_match_exactly_not_by_prefix_or_port() {
        let o = Origins::new(["https://example.com"]);
        for other in [
            "https://example.com.evil",
            "https://example.com:8443",
            "http://example.com",
            "https://sub.example.com",
            "null",
        ] {
            assert!(!o.allows(&request(Some(other))), "{other}");
        }
    }

    #[test]
    fn missing_origin_is_allowed_by_default_and_can_be_refused() {
        let o = Origins::new(["https://example.com"]);
        assert!(o.allows(&request(None)));
        assert!(!o.allow_missing(false).allows(&request(None)));
    }

    #[test]
    fn trailing_slash_in_the_list_is_ignored() {
        let o = Origins::new([String::from("https://example.com/")]);
        assert!(o.allows(&request(Some("https://example.com"))));
    }
}
