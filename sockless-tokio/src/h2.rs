//! WebSockets over HTTP/2 (RFC 8441) on the [`h2`](::h2) crate: each WebSocket is one
//! extended CONNECT stream, and one HTTP/2 connection carries any number of them.
//!
//! The HTTP/2 connection stays the application's: it polls the server's
//! [`Connection::accept`](::h2::server::Connection::accept) loop, or spawns the client's
//! connection future, as it would for any h2 traffic. This module answers (or sends) the
//! extended CONNECT with the core's RFC 8441 checks
//! ([`validate_h2_request`](sockless::handshake::validate_h2_request),
//! [`h2_response_headers`](sockless::handshake::h2_response_headers)) and then runs the
//! same driving loop as every other [`WebSocket`], over an
//! [`H2Stream`](crate::h2::H2Stream). Frames keep their RFC 6455 form inside the stream:
//! the client still masks them.
//!
//! HTTP/2 flow control is the backpressure: a stream's window is handed back to the peer
//! only as the socket reads, so a peer cannot send further ahead of the reader than one
//! window, and a `send` to a peer that does not read waits once the peer's window is used.
//!
//! # Server
//!
//! ```no_run
//! use sockless::handshake::Accept;
//!
//! # async fn run() -> Result<(), sockless_tokio::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! // SETTINGS_ENABLE_CONNECT_PROTOCOL: without it clients may not send extended CONNECT.
//! let mut h2 = sockless_tokio::h2::server_handshake(tcp).await?;
//! while let Some(Ok((request, respond))) = h2.accept().await {
//!     let decide = |request: &sockless::handshake::H2Request| {
//!         let chat = request.protocols().find(|p| *p == "chat");
//!         Ok(chat.map_or(Accept::new(), |p| Accept::new().protocol(p)))
//!     };
//!     match sockless_tokio::h2::accept_with(request, respond, sockless::Config::default(), decide) {
//!         Ok(mut ws) => {
//!             tokio::spawn(async move {
//!                 while let Some(Ok(message)) = ws.recv().await {
//!                     if ws.send(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!         // Already answered (400, 426, or the refusal's status).
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! # Client
//!
//! ```no_run
//! use sockless::handshake::ClientOptions;
//!
//! # async fn run() -> Result<(), sockless_tokio::Error> {
//! let tcp = tokio::net::TcpStream::connect("127.0.0.1:9001").await?;
//! // Waits for the server's SETTINGS, which say whether it takes extended CONNECT.
//! let (mut send_request, connection) = sockless_tokio::h2::client_handshake(tcp).await?;
//! tokio::spawn(connection);
//! let options = ClientOptions::new().protocol("chat");
//! let mut ws = sockless_tokio::h2::connect(
//!     &mut send_request,
//!     "ws://127.0.0.1:9001/chat",
//!     options,
//!     sockless::Config::default(),
//! )
//! .await?;
//! ws.send("hello").await?;
//! # Ok(()) }
//! ```

use crate::{Error, WebSocket};
use ::h2::client::SendRequest;
use ::h2::server::SendResponse;
use ::h2::{Ping, Reason, RecvStream, SendStream};
use bytes::{Buf, Bytes, BytesMut};
use sockless::handshake::{
    Accept, ClientOptions, ExtensionOffer, H2Error, H2Request, Limits, Reject, ResponseError, Uri,
    h2_response_headers, parse_response, validate_h2_request,
};
use sockless::{Config, Connection, Role, SendError};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// How long a stream that ended its side waits for the peer to end its own before it
/// resets the stream. Over TCP the server's FIN goes out and the socket is gone; over
/// HTTP/2 dropping a half-closed stream resets it, which the peer would see in place of
/// the END_STREAM that completes the close.
const LINGER: Duration = Duration::from_secs(2);

/// The connection-level receive window the helpers set. HTTP/2's default (65 535 bytes)
/// is also one stream's window, so a single WebSocket whose application does not read
/// would stall every other stream on the connection; this lets many stalled streams fill
/// their own windows first. It is a permission, not an allocation.
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// What went wrong with HTTP/2 itself under a WebSocket ([`Error::H2`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum H2Failure {
    /// The HTTP/2 connection or stream failed (I/O, GOAWAY, a reset, a request h2 would not
    /// send).
    Transport(::h2::Error),
    /// The extended CONNECT request was not a valid WebSocket request; it was answered with
    /// its [`status`](H2Error::status) (400, or 426 naming version 13).
    Request(H2Error),
    /// The server has not enabled extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC
    /// 8441 §3), or its SETTINGS had not arrived yet (see [`client_handshake`]).
    ExtendedConnectDisabled,
}

impl fmt::Display for H2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2Failure::Transport(e) => write!(f, "{e}"),
            H2Failure::Request(e) => write!(f, "invalid extended CONNECT: {e}"),
            H2Failure::ExtendedConnectDisabled => {
                f.write_str("the server does not accept extended CONNECT (RFC 8441)")
            }
        }
    }
}

impl std::error::Error for H2Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            H2Failure::Transport(e) => Some(e),
            H2Failure::Request(e) => Some(e),
            H2Failure::ExtendedConnectDisabled => None,
        }
    }
}

fn transport(e: ::h2::Error) -> Error {
    Error::H2(H2Failure::Transport(e))
}

/// One HTTP/2 stream as a byte transport: DATA frames in, DATA frames out.
///
/// Reads hand back receive window only for the bytes they return, so h2 flow control
/// holds the peer to one window ahead of the reader. Writes wait for send window
/// (`poll_capacity`) and send at most what was granted, so nothing piles up in h2 beyond
/// the peer's window. Shutting down sends an empty DATA frame with END_STREAM, then waits
/// a little for the peer's END_STREAM. Dropped before both sides ended, the stream is
/// reset with CANCEL, so that a failed socket frees its stream.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received and not yet read.
    unread: Bytes,
    /// The peer's END_STREAM was read.
    peer_ended: bool,
    /// Our END_STREAM was sent.
    ended: bool,
    /// The deadline of the wait for the peer's END_STREAM, once shutdown started it.
    linger: Option<Pin<Box<Sleep>>>,
}

impl fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Stream")
            .field("stream_id", &self.send.stream_id())
            .field("unread", &self.unread.len())
            .field("peer_ended", &self.peer_ended)
            .field("ended", &self.ended)
            .finish()
    }
}

impl H2Stream {
    /// The transport over the two halves of one stream: the request's (or response's)
    /// body, and the stream `send_request` or `send_response` returned.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> H2Stream {
        H2Stream {
            send,
            recv,
            unread: Bytes::new(),
            peer_ended: false,
            ended: false,
            linger: None,
        }
    }

    /// The stream's identifier on its connection.
    pub fn stream_id(&self) -> ::h2::StreamId {
        self.send.stream_id()
    }

    /// Whether the peer ended its side cleanly with END_STREAM (and all it sent was read),
    /// rather than not yet, or with a reset.
    pub fn is_end_stream(&self) -> bool {
        self.peer_ended
    }

    /// Hands back window for `n` bytes the reader took.
    fn release(&mut self, n: usize) {
        // Fails only once the stream is gone, which the next read reports.
        let _ = self.recv.flow_control().release_capacity(n);
    }
}

/// h2's errors as the driver understands them: a reset or GOAWAY is the peer going away
/// (the socket reports an abrupt closure, 1006), as a TCP reset is.
fn to_io(e: ::h2::Error) -> io::Error {
    if e.is_io() {
        return e.into_io().unwrap_or_else(|| io::ErrorKind::Other.into());
    }
    if e.is_reset() || e.is_go_away() {
        return io::Error::new(io::ErrorKind::ConnectionReset, e);
    }
    io::Error::other(e)
}

impl AsyncRead for H2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.unread.is_empty() {
                let n = this.unread.len().min(buf.remaining());
                buf.put_slice(&this.unread[..n]);
                this.unread.advance(n);
                this.release(n);
                return Poll::Ready(Ok(()));
            }
            if this.peer_ended {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.unread = data,
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                None => this.peer_ended = true,
            }
        }
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        loop {
            let granted = this.send.capacity();
            if granted > 0 {
                let n = granted.min(buf.len());
                this.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(to_io)?;
                return Poll::Ready(Ok(n));
            }
            // A reservation is a total, not an increment: asking again for the same bytes
            // after a partial write asks for no more than are waiting.
            this.send.reserve_capacity(buf.len());
            match ready!(this.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                // The stream can send no more: it was reset or closed.
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
    }

    /// h2's connection task writes what was sent; there is nothing to flush here.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            this.send.send_data(Bytes::new(), true).map_err(to_io)?;
        }
        // The socket reads nothing more: what still comes is dropped, with its window
        // handed back so that the peer can get to its END_STREAM.
        let unread = std::mem::take(&mut this.unread).len();
        this.release(unread);
        while !this.peer_ended {
            let linger = this
                .linger
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
            if linger.as_mut().poll(cx).is_ready() {
                // The peer keeps its side open: dropping the stream resets it.
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.release(data.len()),
                // Reset: there is no END_STREAM to wait for.
                Some(Err(_)) => return Poll::Ready(Ok(())),
                None => this.peer_ended = true,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        if !(self.ended && self.peer_ended) {
            // A stream left open would hold a slot of the connection's concurrent streams
            // and leave the peer waiting for data that never comes.
            self.send.send_reset(Reason::CANCEL);
        }
    }
}

/// The settings the helpers use for a server: extended CONNECT enabled
/// (SETTINGS_ENABLE_CONNECT_PROTOCOL), and a connection window larger than a stream's, so
/// that a stalled WebSocket does not stall the others. Adjust and call
/// [`handshake`](::h2::server::Builder::handshake) on it.
pub fn server_builder() -> ::h2::server::Builder {
    let mut builder = ::h2::server::Builder::new();
    builder
        .enable_connect_protocol()
        .initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

/// The server side of an HTTP/2 connection over `io` (after TLS with ALPN `h2`, or with
/// prior knowledge), with [`server_builder`]'s settings. Poll its
/// [`accept`](::h2::server::Connection::accept) in a loop: that drives the whole connection,
/// and hands each request to [`accept_with`] or to the application's other routes.
pub async fn server_handshake<T>(io: T) -> Result<::h2::server::Connection<T, Bytes>, Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    server_builder().handshake(io).await.map_err(transport)
}

/// The settings [`client_handshake`] uses: a connection window larger than a stream's, as
/// in [`server_builder`].
pub fn client_builder() -> ::h2::client::Builder {
    let mut builder = ::h2::client::Builder::new();
    builder.initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

/// The client side of an HTTP/2 connection over `io`, once the server's SETTINGS arrived:
/// only they say whether it takes extended CONNECT, which [`connect`] checks. Spawn the
/// returned connection (it drives all streams) and open WebSockets with [`connect`] on the
/// `SendRequest` (clone it for each task).
///
/// The wait is one PING round trip (the server's SETTINGS come before its answer), which
/// takes the connection's [`PingPong`](::h2::PingPong): `ping_pong()` on the returned
/// connection gives `None`.
pub async fn client_handshake<T>(
    io: T,
) -> Result<(SendRequest<Bytes>, ::h2::client::Connection<T, Bytes>), Error>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let (send_request, mut connection) = client_builder().handshake(io).await.map_err(transport)?;
    let mut ping_pong = connection
        .ping_pong()
        .expect("a new connection still has its PingPong");
    ping_pong.send_ping(Ping::opaque()).map_err(transport)?;
    poll_fn(|cx| {
        // The connection has to run for the PING to go out and the answer to come in.
        if let Poll::Ready(ended) = Pin::new(&mut connection).poll(cx) {
            return Poll::Ready(Err(match ended {
                Err(e) => transport(e),
                Ok(()) => Error::Io(io::ErrorKind::UnexpectedEof.into()),
            }));
        }
        ping_pong
            .poll_pong(cx)
            .map(|pong| pong.map(drop).map_err(transport))
    })
    .await?;
    Ok((send_request, connection))
}

/// Accepts a WebSocket on an extended CONNECT request with the default [`Config`],
/// choosing no subprotocol. See [`accept_with`].
#[allow(clippy::result_large_err)]
pub fn accept(
    request: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
) -> Result<WebSocket<H2Stream>, Error> {
    accept_with(request, respond, Config::default(), |_| Ok(Accept::new()))
}

/// Accepts a WebSocket on `request`, an HTTP/2 request with its `respond` handle (as
/// [`Connection::accept`](::h2::server::Connection::accept) yields them), if it is a valid
/// RFC 8441 request and `decide` accepts it.
///
/// The request is checked with the core's [`validate_h2_request`]: CONNECT with `:protocol`
/// `websocket`, version 13, well-formed subprotocols, extensions and `origin`. An invalid
/// one is answered with [`H2Error::status`] (426 carries `sec-websocket-version: 13`) and
/// fails with [`H2Failure::Request`]. `decide` sees the path, authority, `origin`, offered
/// subprotocols and headers, and accepts (choosing a subprotocol, adding headers) or
/// refuses with any status, headers and body, which is answered before
/// [`Error::Refused`] is returned. With [`Config::deflate`](sockless::Config) set,
/// permessage-deflate is accepted when offered.
///
/// The answer is `200` and the stream becomes the socket at once: HTTP/2 needs no
/// `101`. The socket is a server's, so it requires masked frames from the client.
#[allow(clippy::result_large_err)]
pub fn accept_with<F>(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    config: Config,
    decide: F,
) -> Result<WebSocket<H2Stream>, Error>
where
    F: FnOnce(&H2Request) -> Result<Accept, Reject>,
{
    let (parts, body) = request.into_parts();
    let checked = match check_request(&parts) {
        Ok(checked) => checked,
        Err(e) => {
            answer_invalid(&mut respond, &e);
            return Err(Error::H2(H2Failure::Request(e)));
        }
    };
    let accept = match decide(&checked) {
        Ok(accept) => accept,
        Err(reject) => {
            answer_reject(&mut respond, &reject);
            return Err(Error::Refused(reject.status()));
        }
    };
    let (accept, settled) = crate::settled::settle(accept, checked.extensions(), &config);
    let response = match h2_response_headers(&checked, &accept)
        .map_err(SendError::Accept)
        .and_then(|headers| response_from(&headers))
    {
        Ok(response) => response,
        // The application chose something the request did not offer, or a header HTTP/2
        // cannot carry: a server bug, told to the client as a 500.
        Err(e) => {
            answer_reject(&mut respond, &Reject::new(500).body(e.to_string()));
            return Err(Error::Send(e));
        }
    };
    let send = respond.send_response(response, false).map_err(transport)?;
    let conn = settled.open(config);
    Ok(WebSocket::from_connection(H2Stream::new(send, body), conn))
}

/// The request's pseudo-headers and headers, in the order HTTP/2 sent them, through the
/// core's checks. h2 keeps `:protocol` as an extension of the request.
fn check_request(parts: &http::request::Parts) -> Result<H2Request, H2Error> {
    let mut fields: Vec<(&str, &[u8])> = Vec::with_capacity(parts.headers.len() + 5);
    fields.push((":method", parts.method.as_str().as_bytes()));
    if let Some(protocol) = parts.extensions.get::<::h2::ext::Protocol>() {
        fields.push((":protocol", protocol.as_str().as_bytes()));
    }
    if let Some(scheme) = parts.uri.scheme_str() {
        fields.push((":scheme", scheme.as_bytes()));
    }
    if let Some(path) = parts.uri.path_and_query() {
        fields.push((":path", path.as_str().as_bytes()));
    }
    if let Some(authority) = parts.uri.authority() {
        fields.push((":authority", authority.as_str().as_bytes()));
    }
    for (name, value) in &parts.headers {
        fields.push((name.as_str(), value.as_bytes()));
    }
    validate_h2_request(&fields)
}

/// The `http` form of the core's answer headers (`:status` first).
fn response_from(headers: &[(String, String)]) -> Result<http::Response<()>, SendError> {
    let mut response = http::Response::new(());
    for (name, value) in headers {
        if name == ":status" {
            continue;
        }
        let invalid = || {
            SendError::Accept(sockless::handshake::AcceptError::InvalidHeader(
                sockless::handshake::InvalidHeader::Value(name.clone()),
            ))
        };
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let value = http::HeaderValue::from_str(value).map_err(|_| invalid())?;
        response.headers_mut().append(name, value);
    }
    Ok(response)
}

/// Answers an invalid request, as the core answers one over HTTP/1.1: the status, the
/// supported version with a 426, and the reason as the body.
fn answer_invalid(respond: &mut SendResponse<Bytes>, e: &H2Error) {
    let mut response = http::Response::new(());
    *response.status_mut() =
        http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
    if e.status() == 426 {
        response.headers_mut().insert(
            "sec-websocket-version",
            http::HeaderValue::from_static(sockless::handshake::VERSION),
        );
    }
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    send_answer(respond, response, Bytes::from(e.to_string()));
}

/// Connection-specific headers HTTP/2 forbids (RFC 9113 §8.2.2), and the framing ones it
/// does itself: the core writes a refusal as HTTP/1.1 and may put them there.
const NOT_OVER_H2: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "content-length",
];

/// Answers with `reject`'s status, headers and body. The core writes refusals only as
/// HTTP/1.1 bytes; they are parsed back so that both transports answer alike.
fn answer_reject(respond: &mut SendResponse<Bytes>, reject: &Reject) {
    let mut wire = BytesMut::new();
    reject.write_response(&mut wire);
    let limits = Limits::new()
        .with_max_head_size(wire.len())
        .with_max_headers(256);
    let mut response = http::Response::new(());
    *response.status_mut() = http::StatusCode::from_u16(reject.status())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = Bytes::new();
    if let Ok(Some((parsed, head_len))) = parse_response(&wire, &limits) {
        for header in parsed.headers() {
            let name = header.name.to_ascii_lowercase();
            if NOT_OVER_H2.contains(&name.as_str()) {
                continue;
            }
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(&header.value),
            ) {
                response.headers_mut().append(n, v);
            }
        }
        body = wire.freeze().slice(head_len..);
    }
    send_answer(respond, response, body);
}

fn send_answer(respond: &mut SendResponse<Bytes>, response: http::Response<()>, body: Bytes) {
    // The request is refused whatever h2 says: a stream the client already reset has no
    // one to answer.
    if body.is_empty() {
        let _ = respond.send_response(response, true);
    } else if let Ok(mut stream) = respond.send_response(response, false) {
        let _ = stream.send_data(body, true);
    }
}

/// Opens a WebSocket to `uri` as an RFC 8441 extended CONNECT on an HTTP/2 connection to
/// its server (see [`client_handshake`]).
///
/// `uri` is a `ws://` or `wss://` URI: it gives `:scheme` (`http` or `https`),
/// `:authority` and `:path`; the connection is the caller's, so no TCP or TLS is started.
/// The request offers `options`' subprotocols, extensions, `origin` and headers, and with
/// [`Config::deflate`](sockless::Config) set, permessage-deflate. The answer must be a 2xx
/// naming at most one offered subprotocol and only offered extensions; another status
/// fails with [`ResponseError::Rejected`] (in [`Error::Protocol`]), as a refused HTTP/1.1
/// upgrade does. [`Config::handshake_timeout`](sockless::Config) bounds the wait.
///
/// Fails with [`H2Failure::ExtendedConnectDisabled`] if the server has not enabled
/// extended CONNECT.
pub async fn connect(
    send_request: &mut SendRequest<Bytes>,
    uri: &str,
    options: ClientOptions,
    config: Config,
) -> Result<WebSocket<H2Stream>, Error> {
    let uri = Uri::parse(uri)?;
    if !send_request.is_extended_connect_protocol_enabled() {
        return Err(Error::H2(H2Failure::ExtendedConnectDisabled));
    }
    #[cfg(feature = "deflate")]
    let options = match &config.deflate {
        Some(deflate) => options.extension(sockless::deflate::client_offer(deflate)),
        None => options,
    };
    let request = connect_request(&uri, &options)?;
    let exchange = async {
        // Waits for room under the server's SETTINGS_MAX_CONCURRENT_STREAMS.
        poll_fn(|cx| send_request.poll_ready(cx))
            .await
            .map_err(transport)?;
        let (response, send) = send_request
            .send_request(request, false)
            .map_err(transport)?;
        let response = response.await.map_err(transport)?;
        Ok::<_, Error>((response, send))
    };
    let (response, send) = match config.handshake_timeout {
        // Dropping the exchange drops the stream's handles: h2 resets it.
        Some(timeout) => tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| Error::Protocol(sockless::Error::HandshakeTimeout))??,
        None => exchange.await?,
    };
    let (parts, body) = response.into_parts();
    // Built before the checks, so that a refused or invalid answer resets the stream.
    let stream = H2Stream::new(send, body);
    let negotiated = check_response(&parts, &options, &config)?;
    let mut conn = Connection::open(Role::Client, config);
    conn.set_protocol(negotiated.protocol.as_deref());
    #[cfg(feature = "deflate")]
    if let Some(params) = &negotiated.deflate {
        conn.enable_deflate(params);
    }
    Ok(WebSocket::from_connection(stream, conn))
}

/// The extended CONNECT for `uri` with `options`.
fn connect_request(uri: &Uri, options: &ClientOptions) -> Result<http::Request<()>, Error> {
    let invalid = |e: &dyn fmt::Display| {
        Error::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot send as HTTP/2: {e}"),
        ))
    };
    let target = http::Uri::builder()
        .scheme(if uri.secure() { "https" } else { "http" })
        .authority(uri.host_header())
        .path_and_query(uri.resource())
        .build()
        .map_err(|e| invalid(&e))?;
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::CONNECT;
    *request.uri_mut() = target;
    request
        .extensions_mut()
        .insert(::h2::ext::Protocol::from_static("websocket"));
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-version",
        http::HeaderValue::from_static(sockless::handshake::VERSION),
    );
    if !options.protocols().is_empty() {
        let value = options.protocols().join(", ");
        headers.insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_str(&value).map_err(|e| invalid(&e))?,
        );
    }
    if !options.extensions().is_empty() {
        let value = options
            .extensions()
            .iter()
            .map(ExtensionOffer::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        headers.insert(
            "sec-websocket-extensions",
            http::HeaderValue::from_str(&value).map_err(|e| invalid(&e))?,
        );
    }
    if let Some(origin) = options.origin_value() {
        headers.insert(
            http::header::ORIGIN,
            http::HeaderValue::from_str(origin).map_err(|e| invalid(&e))?,
        );
    }
    for header in options.headers() {
        let name = http::HeaderName::from_bytes(header.name.to_ascii_lowercase().as_bytes())
            .map_err(|e| invalid(&e))?;
        let value = http::HeaderValue::from_bytes(&header.value).map_err(|e| invalid(&e))?;
        headers.append(name, value);
    }
    Ok(request)
}

/// What the server's answer settled.
struct Negotiated {
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<sockless::deflate::DeflateParams>,
}

fn refused(e: ResponseError) -> Error {
    Error::Protocol(sockless::Error::Response(e))
}

/// The client's checks on the answer (RFC 6455 §4.1, less the key, which HTTP/2 does not
/// have: RFC 8441 §5).
fn check_response(
    parts: &http::response::Parts,
    options: &ClientOptions,
    #[allow(unused_variables)] config: &Config,
) -> Result<Negotiated, Error> {
    if !parts.status.is_success() {
        return Err(refused(ResponseError::Rejected {
            status: parts.status.as_u16(),
        }));
    }
    let mut protocol = None;
    for value in parts.headers.get_all("sec-websocket-protocol") {
        for name in value.as_bytes().split(|b| *b == b',') {
            let name = name.trim_ascii();
            if name.is_empty() {
                continue;
            }
            if protocol.is_some() {
                return Err(refused(ResponseError::MultipleProtocols));
            }
            let name = String::from_utf8_lossy(name).into_owned();
            if !options.protocols().contains(&name) {
                return Err(refused(ResponseError::ProtocolNotOffered(name)));
            }
            protocol = Some(name);
        }
    }
    let extensions = answered_extensions(parts.headers.get_all("sec-websocket-extensions"))?;
    for extension in &extensions {
        if !options
            .extensions()
            .iter()
            .any(|offer| offer.name.eq_ignore_ascii_case(&extension.name))
        {
            return Err(refused(ResponseError::ExtensionNotOffered(
                extension.name.clone(),
            )));
        }
    }
    #[cfg(feature = "deflate")]
    let deflate = match &config.deflate {
        Some(deflate) => sockless::deflate::accept_response(&extensions, deflate)
            .map_err(|e| Error::Protocol(sockless::Error::Deflate(e)))?,
        None => None,
    };
    Ok(Negotiated {
        protocol,
        #[cfg(feature = "deflate")]
        deflate,
    })
}

/// Parses `sec-websocket-extensions` answers. The core exposes its RFC 6455 §9.1 list
/// grammar only through its request checks, so the values go through one: a minimal valid
/// extended CONNECT that carries them.
fn answered_extensions(
    values: http::header::GetAll<'_, http::HeaderValue>,
) -> Result<Vec<ExtensionOffer>, Error> {
    let mut fields: Vec<(&str, &[u8])> = vec![
        (":method", b"CONNECT"),
        (":protocol", b"websocket"),
        (":scheme", b"https"),
        (":path", b"/"),
        (":authority", b"answer"),
        (
            "sec-websocket-version",
            sockless::handshake::VERSION.as_bytes(),
        ),
    ];
    for value in values {
        fields.push(("sec-websocket-extensions", value.as_bytes()));
    }
    validate_h2_request(&fields)
        .map(|request| request.extensions().to_vec())
        .map_err(|_| refused(ResponseError::InvalidExtensions))
}
