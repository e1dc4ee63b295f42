//! One TLS port serving WebSockets over both HTTP/2 (RFC 8441 extended CONNECT) and
//! HTTP/1.1 (the RFC 6455 upgrade), as a browser-facing server does: ALPN picks the
//! protocol per connection, and both go through the same decision (the first offered of
//! `chat` and `superchat`) and echo text and binary messages.
//!
//! Plain requests serve a browser test (`interop/browser_h2.sh`): `GET /` is the page
//! `h2_echo.html` (next to this file), which opens a WebSocket back to this origin, and
//! `GET /result?TEXT` is how the page reports its outcome, printed as a `page result:`
//! line. Any other request gets 404.
//!
//! ```text
//! cargo run -p sockless-tokio --features h2,rustls,hyper --example h2_echo -- \
//!     127.0.0.1:9443 --cert-out /tmp/h2_echo.pem
//!
//! curl --http2 -k https://127.0.0.1:9443/          # the test page, over h2
//! curl --http2 -k https://127.0.0.1:9443/nothing   # 404
//! ```
//!
//! The certificate is self-signed and made at start, for `localhost` and `127.0.0.1`; it is
//! written as PEM (by default to the temporary directory) for clients to trust. Each
//! accepted WebSocket prints one line naming its transport, `h2` or `http/1.1`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sockless::handshake::{Accept, Reject};
use sockless_tokio::WebSocket;
use sockless_tokio::tokio_rustls::TlsAcceptor;
use sockless_tokio::tokio_rustls::rustls::pki_types::PrivatePkcs8KeyDer;
use sockless_tokio::tokio_rustls::rustls::{self, ServerConfig};
use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];
/// The names the generated certificate carries: what a local client may dial.
const NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// A client that connects and never finishes TLS must not hold its task forever.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);

const USAGE: &str = "usage: h2_echo ADDR [--cert-out PATH]";

/// The browser test's page. Served by this server rather than another so that its
/// WebSocket is same-origin: Chromium opens a WebSocket over HTTP/2 only on an HTTP/2
/// connection it already holds to that origin, and loading the page made one.
const PAGE: &str = include_str!("h2_echo.html");

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (addr, cert_out) = match args.as_slice() {
        [addr] => (
            *addr,
            std::env::temp_dir().join("sockless-h2-echo-localhost.pem"),
        ),
        [addr, "--cert-out", path] => (*addr, PathBuf::from(path)),
        _ => return Err(USAGE.into()),
    };
    serve(addr, &cert_out).await
}

async fn serve(addr: &str, cert_out: &Path) -> Result<()> {
    let (pem, acceptor) = self_signed()?;
    std::fs::write(cert_out, pem)?;
    let listener = TcpListener::bind(addr).await?;
    println!("h2_echo: listening on https://{}", listener.local_addr()?);
    println!(
        "h2_echo: certificate for {} written to {}",
        NAMES.join(", "),
        cert_out.display()
    );
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(tcp, peer, acceptor).await {
                eprintln!("h2_echo: {peer}: {e}");
            }
        });
    }
}

/// A fresh self-signed certificate for [`NAMES`], as PEM, and an acceptor serving it that
/// offers both protocols through ALPN.
fn self_signed() -> Result<(String, TlsAcceptor)> {
    let generated = rcgen::generate_simple_self_signed(NAMES.map(String::from).to_vec())?;
    let der = generated.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![der], key.into())?;
    // h2 first: a client offering both gets HTTP/2, and its WebSockets share the
    // connection.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((generated.cert.pem(), TlsAcceptor::from(Arc::new(config))))
}

/// The one decision for both transports: the first offered subprotocol we speak.
fn choose<'a>(mut offered: impl Iterator<Item = &'a str>) -> Result<Accept, Reject> {
    Ok(match offered.find(|p| PROTOCOLS.contains(p)) {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    })
}

fn config() -> sockless::Config {
    #[allow(unused_mut)]
    let mut config = sockless::Config::default();
    // Built without the `deflate` feature the server still runs, only uncompressed.
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
    }
    config
}

/// TLS, then whichever protocol ALPN settled on.
async fn connection(tcp: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor) -> Result<()> {
    tcp.set_nodelay(true)?;
    let tls = tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(tcp)).await??;
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        serve_h2(tls, peer).await
    } else {
        // No ALPN at all is HTTP/1.1 too (RFC 7301: the server need not pick one).
        serve_http1(tls, peer).await
    }
}

async fn serve_h2<T>(tls: T, peer: SocketAddr) -> Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut h2 = sockless_tokio::h2::server_handshake(tls).await?;
    // Accepting drives the whole connection: the sockets' frames too.
    while let Some(next) = h2.accept().await {
        let (request, mut respond) = next?;
        let websocket = request.method() == http::Method::CONNECT
            && request
                .extensions()
                .get::<h2::ext::Protocol>()
                .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
        if !websocket {
            let (head, body) = plain(request.method(), request.uri(), peer).into_parts();
            let head = http::Response::from_parts(head, ());
            // A body-less answer ends the stream with its HEADERS. Errors mean the client
            // reset the stream; there is no one left to tell.
            if body.is_empty() {
                let _ = respond.send_response(head, true);
            } else if let Ok(mut stream) = respond.send_response(head, false) {
                // Buffered beyond the stream's window, and sent as the connection (this
                // accept loop) is polled.
                let _ = stream.send_data(body, true);
            }
            continue;
        }
        match sockless_tokio::h2::accept_with(request, respond, config(), |r| choose(r.protocols()))
        {
            Ok(ws) => {
                accepted(peer, "h2", &ws);
                tokio::spawn(echo(ws, peer));
            }
            // Already answered (400, 426).
            Err(e) => eprintln!("h2_echo: {peer}: {e}"),
        }
    }
    Ok(())
}

async fn serve_http1<T>(tls: T, peer: SocketAddr) -> Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| handle_http1(request, peer));
    // Without `with_upgrades` hyper would keep the connection as HTTP and the pending
    // upgrade would never resolve.
    http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .with_upgrades()
        .await?;
    Ok(())
}

async fn handle_http1(
    mut request: hyper::Request<Incoming>,
    peer: SocketAddr,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let upgrade = request
        .headers()
        .get_all(http::header::UPGRADE)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade {
        return Ok(plain(request.method(), request.uri(), peer).map(Full::new));
    }
    Ok(
        match sockless_tokio::upgrade(&mut request, config(), |r| choose(r.protocols())) {
            Ok((response, pending)) => {
                // The socket exists only once hyper has written the 101 returned below.
                tokio::spawn(async move {
                    match pending.await_socket().await {
                        Ok(ws) => {
                            accepted(peer, "http/1.1", &ws);
                            echo(ws, peer).await;
                        }
                        Err(e) => eprintln!("h2_echo: {peer}: {e}"),
                    }
                });
                response
            }
            // An invalid upgrade gets the core's answer (400, 426).
            Err(response) => response,
        },
    )
}

/// The answer to a request that is not a WebSocket, the same on both transports: the test
/// page, a receipt for the page's result, or 404.
fn plain(method: &http::Method, uri: &http::Uri, peer: SocketAddr) -> http::Response<Bytes> {
    let (status, content_type, body) = match (method, uri.path()) {
        (&http::Method::GET, "/") => (http::StatusCode::OK, "text/html; charset=utf-8", PAGE),
        (&http::Method::GET, "/result") => {
            // The script that opened the page waits for this line.
            let text = percent_decode(uri.query().unwrap_or_default());
            println!("h2_echo: {peer}: page result: {text}");
            (http::StatusCode::OK, "text/plain", "ok")
        }
        _ => (http::StatusCode::NOT_FOUND, "text/plain", ""),
    };
    let mut response = http::Response::new(Bytes::from_static(body.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The page's `encodeURIComponent` undone, kept to one printable line: the text comes from
/// the network, and a newline in it could forge a line the script reads.
fn percent_decode(query: &str) -> String {
    let digit = |d: u8| (d as char).to_digit(16);
    let mut bytes = Vec::with_capacity(query.len());
    let mut rest = query.as_bytes();
    while let [b, tail @ ..] = rest {
        if let (b'%', [high, low, after @ ..]) = (b, tail)
            && let (Some(high), Some(low)) = (digit(*high), digit(*low))
        {
            bytes.push((high * 16 + low) as u8);
            rest = after;
        } else {
            bytes.push(*b);
            rest = tail;
        }
    }
    String::from_utf8_lossy(&bytes)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn accepted<S>(peer: SocketAddr, transport: &str, ws: &WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    println!(
        "h2_echo: {peer}: WebSocket over {transport}, subprotocol {}",
        ws.protocol().unwrap_or("(none)")
    );
}

async fn echo<S>(mut ws: WebSocket<S>, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(message) = ws.recv().await {
        let sent = match message {
            // Fed, not sent: a burst read together goes back together.
            Ok(message) => ws.feed(message).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            eprintln!("h2_echo: {peer}: {e}");
            return;
        }
    }
    match ws.close_frame() {
        Some(frame) => eprintln!("h2_echo: {peer}: closed with {}", frame.code.0),
        None => eprintln!("h2_echo: {peer}: ended without a close"),
    }
}
