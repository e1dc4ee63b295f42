//! Conversions to and from the `http` crate's types, for servers and clients
//! whose HTTP/1.1 layer is hyper, axum or the like: they parse and write the
//! heads, and this module applies the same RFC 6455 checks and builds the
//! same answers as the byte-level functions.
//!
//! Only HTTP/1.1 upgrades go through [`Request::from_http`]; an HTTP/2
//! extended CONNECT carries its `:protocol` outside `http::Request` (in a
//! library-specific extension), so feed its pseudo-headers to
//! [`validate_h2_request`](super::validate_h2_request) instead.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::Bytes;

use super::client::ClientOptions;
use super::header::InvalidHeader;
use super::request::{Request, RequestError, RequestParser};
use super::response::{Accept, AcceptError, Response, ResponseError};
use super::{Header, Limits, Syntax, Uri, accept_key};

fn own_headers(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(name, value)| Header {
            name: name.as_str().to_string(),
            value: Bytes::copy_from_slice(value.as_bytes()),
        })
        .collect()
}

impl Request {
    /// Checks an HTTP/1.1 request that another HTTP stack parsed, exactly as
    /// [`parse_request`](super::parse_request) checks raw bytes.
    ///
    /// Header names come back lowercase, in the `HeaderMap`'s order (which
    /// groups repeated names together). The URI is read as a request target
    /// on the wire is, so an absolute URI (`ws://host/chat`) is accepted and
    /// the authority-form refused; HTTP/2 and later are refused with
    /// [`RequestError::HttpVersion`].
    ///
    /// ```
    /// use sockless::handshake::Request;
    ///
    /// let req = http::Request::get("/chat")
    ///     .header("host", "example.com")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .body(())
    ///     .unwrap();
    /// let checked = Request::from_http(&req).unwrap();
    /// assert_eq!(checked.path(), "/chat");
    /// ```
    pub fn from_http<B>(req: &http::Request<B>) -> Result<Request, RequestError> {
        if req.version() != http::Version::HTTP_11 {
            return Err(RequestError::HttpVersion);
        }
        // The head is written out again and read by the same parser as bytes from the
        // wire, so both paths apply exactly the same checks and build the same `Request`.
        let target = req.uri().to_string();
        let mut head = Vec::new();
        for part in [req.method().as_str(), " ", &target, " HTTP/1.1\r\n"] {
            head.extend_from_slice(part.as_bytes());
        }
        for (name, value) in req.headers() {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        let limits = Limits {
            max_head_size: head.len(),
            max_headers: req.headers().len(),
        };
        match RequestParser::new(limits).parse(&head)? {
            Some((request, _)) => Ok(request),
            // The head written above always ends.
            None => Err(RequestError::Malformed(Syntax::StartLine)),
        }
    }
}

fn header_pair(
    name: &str,
    value: &[u8],
) -> Result<(http::HeaderName, http::HeaderValue), AcceptError> {
    let n = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| AcceptError::InvalidHeader(InvalidHeader::Name(name.to_string())))?;
    let v = http::HeaderValue::from_bytes(value)
        .map_err(|_| AcceptError::InvalidHeader(InvalidHeader::Value(name.to_string())))?;
    Ok((n, v))
}

impl Accept {
    /// The `101 Switching Protocols` answer to `req` as an `http::Response`,
    /// with the same checks and headers as [`Accept::write_response`].
    ///
    /// ```
    /// # use sockless::handshake::{Accept, Request};
    /// # let req = http::Request::get("/chat")
    /// #     .header("host", "example.com")
    /// #     .header("upgrade", "websocket")
    /// #     .header("connection", "upgrade")
    /// #     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    /// #     .header("sec-websocket-version", "13")
    /// #     .body(())
    /// #     .unwrap();
    /// let req = Request::from_http(&req).unwrap();
    /// let resp = Accept::new().to_http_response(&req).unwrap();
    /// assert_eq!(resp.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    /// assert_eq!(resp.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// ```
    pub fn to_http_response(&self, req: &Request) -> Result<http::Response<()>, AcceptError> {
        self.check_request(req)?;
        let mut resp = http::Response::new(());
        *resp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
        *resp.version_mut() = http::Version::HTTP_11;
        let accept = accept_key(req.key().as_bytes());
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        pairs.push(("upgrade".into(), b"websocket".to_vec()));
        pairs.push(("connection".into(), b"Upgrade".to_vec()));
        pairs.push(("sec-websocket-accept".into(), accept.to_vec()));
        if let Some(p) = &self.protocol {
            pairs.push(("sec-websocket-protocol".into(), p.as_bytes().to_vec()));
        }
        if let Some(e) = self.extensions_value() {
            pairs.push(("sec-websocket-extensions".into(), e.into_bytes()));
        }
        for h in &self.headers {
            pairs.push((h.name.clone(), h.value.to_vec()));
        }
        let headers = resp.headers_mut();
        for (name, value) in pairs {
            let (n, v) = header_pair(&name, &value)?;
            headers.append(n, v);
        }
        Ok(resp)
    }
}

/// The client's opening handshake as an `http::Request`, with the same
/// headers as [`write_request`](super::write_request).
///
/// The request's URI is the resource (`/chat?room=1`), as it goes on the
/// wire, and the host is in the `Host` header: the caller has already
/// connected to [`Uri::host`] and [`Uri::port`], with TLS if
/// [`Uri::secure`].
///
/// ```
/// use sockless::handshake::{http_request, ClientOptions, Uri};
///
/// let uri = Uri::parse("ws://example.com:8080/chat").unwrap();
/// let req = http_request(&uri, b"dGhlIHNhbXBsZSBub25jZQ==", &ClientOptions::new());
/// assert_eq!(req.uri(), "/chat");
/// assert_eq!(req.headers()["host"], "example.com:8080");
/// ```
pub fn http_request(uri: &Uri, key: &[u8; 24], opts: &ClientOptions) -> http::Request<()> {
    let mut req = http::Request::new(());
    *req.method_mut() = http::Method::GET;
    *req.version_mut() = http::Version::HTTP_11;
    // `Uri` admits only RFC 3986 path and query characters, all of which
    // `http::Uri` accepts.
    *req.uri_mut() = http::Uri::try_from(uri.resource()).expect("a Uri resource is a valid path");
    let headers = req.headers_mut();
    for (name, value) in opts.request_headers(uri, key) {
        // `ClientOptions` checked every name and value when it was built.
        let (n, v) =
            header_pair(name, value.as_bytes()).expect("ClientOptions holds valid headers");
        headers.append(n, v);
    }
    req
}

impl Response {
    /// A server's answer that another HTTP stack parsed, ready for
    /// [`validate_response`](super::validate_response).
    pub fn from_http<B>(resp: &http::Response<B>) -> Result<Response, ResponseError> {
        let minor = match resp.version() {
            http::Version::HTTP_09 | http::Version::HTTP_10 => 0,
            _ => 1,
        };
        let reason = resp.status().canonical_reason().unwrap_or("");
        Response::from_parts(
            resp.status().as_u16(),
            String::from(reason),
            minor,
            own_headers(resp.headers()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{
        ExtensionOffer, Limits, parse_request, validate_response, write_request,
    };
    use bytes::BytesMut;

    const KEY: &[u8; 24] = b"dGhlIHNhbXBsZSBub25jZQ==";

    fn opts() -> ClientOptions {
        ClientOptions::new()
            .protocol("chat")
            .extension(ExtensionOffer::new("permessage-deflate"))
            .origin("https://example.com")
            .header("Cookie", "a=b")
    }

    #[test]
    fn http_request_matches_write_request() {
        let uri = Uri::parse("wss://example.com/chat?x=1").unwrap();
        let from_http = Request::from_http(&http_request(&uri, KEY, &opts())).unwrap();
        let mut wire = BytesMut::new();
        write_request(&uri, KEY, &opts(), &mut wire);
        let (from_bytes, _) = parse_request(&wire, &Limits::default()).unwrap().unwrap();
        assert_eq!(from_http.target(), from_bytes.target());
        assert_eq!(from_http.host(), from_bytes.host());
        assert_eq!(from_http.key(), from_bytes.key());
        assert!(from_http.protocols().eq(from_bytes.protocols()));
        assert_eq!(from_http.extensions(), from_bytes.extensions());
        assert_eq!(from_http.origin(), from_bytes.origin());
        assert_eq!(from_http.header("cookie"), Some(&b"a=b"[..]));
    }

    #[test]
    fn from_http_applies_the_same_checks() {
        let uri = Uri::parse("ws://example.com/").unwrap();
        let mut req = http_request(&uri, KEY, &ClientOptions::new());
        req.headers_mut().remove("sec-websocket-key");
        assert_eq!(
            Request::from_http(&req).unwrap_err(),
            RequestError::MissingKey
        );

        let mut req = http_request(&uri, KEY, &ClientOptions::new());
        *req.method_mut() = http::Method::POST;
        assert_eq!(
            Request::from_http(&req).unwrap_err(),
            RequestError::MethodNotGet
        );
    }

    #[test]
    fn from_http_refuses_other_http_versions() {
        let uri = Uri::parse("ws://example.com/").unwrap();
        for v in [http::Version::HTTP_10, http::Version::HTTP_2] {
            let mut req = http_request(&uri, KEY, &ClientOptions::new());
            *req.version_mut() = v;
            assert_eq!(
                Request::from_http(&req).unwrap_err(),
                RequestError::HttpVersion
            );
        }
    }

    #[test]
    fn from_http_reads_the_target_forms_as_the_wire_does() {
        let uri = Uri::parse("ws://example.com/").unwrap();
        let mut req = http_request(&uri, KEY, &ClientOptions::new());
        *req.uri_mut() = http::Uri::from_static("ws://other.example:8181/chat?x");
        let checked = Request::from_http(&req).unwrap();
        assert_eq!(checked.target(), "ws://other.example:8181/chat?x");
        assert_eq!(
            (checked.host(), checked.path(), checked.query()),
            ("other.example:8181", "/chat", Some("x"))
        );
        for refused in ["other.example:8181", "*", "ftp://other.example/"] {
            *req.uri_mut() = http::Uri::from_static(refused);
            assert_eq!(
                Request::from_http(&req).unwrap_err(),
                RequestError::InvalidTarget,
                "{refused}"
            );
        }
    }

    #[test]
    fn http_response_round_trips_through_validate_response() {
        let uri = Uri::parse("ws://example.com/").unwrap();
        let req = Request::from_http(&http_request(&uri, KEY, &opts())).unwrap();
        let resp = Accept::new()
            .protocol("chat")
            .extension(ExtensionOffer::new("permessage-deflate"))
            .header("Set-Cookie", "s=1")
            .to_http_response(&req)
            .unwrap();
        assert_eq!(resp.headers()["set-cookie"], "s=1");
        let parsed = Response::from_http(&resp).unwrap();
        assert_eq!(parsed.status(), 101);
        assert_eq!(parsed.reason(), "Switching Protocols");
        let n = validate_response(&parsed, KEY, &opts()).unwrap();
        assert_eq!(n.protocol.as_deref(), Some("chat"));
        assert_eq!(n.extensions, [ExtensionOffer::new("permessage-deflate")]);
    }

    #[test]
    fn to_http_response_applies_the_same_checks() {
        let uri = Uri::parse("ws://example.com/").unwrap();
        let req = Request::from_http(&http_request(&uri, KEY, &opts())).unwrap();
        assert_eq!(
            Accept::new()
                .protocol("other")
                .to_http_response(&req)
                .unwrap_err(),
            AcceptError::ProtocolNotOffered("other".into())
        );
        assert_eq!(
            Accept::new()
                .header("X", "a\nb")
                .to_http_response(&req)
                .unwrap_err(),
            AcceptError::InvalidHeader(InvalidHeader::Value("X".into()))
        );
    }

    #[test]
    fn response_from_http_reports_rejection_and_length() {
        let resp = http::Response::builder()
            .status(403)
            .header("content-length", "3")
            .body(())
            .unwrap();
        let parsed = Response::from_http(&resp).unwrap();
        assert_eq!(parsed.content_length(), Some(3));
        assert_eq!(
            validate_response(&parsed, KEY, &opts()),
            Err(ResponseError::Rejected { status: 403 })
        );
    }
}
