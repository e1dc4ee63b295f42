//! An echo server on fastwebsockets, for `e2e.sh`: every text or binary message goes back as
//! it came, one task per connection, on a current-thread runtime like sockless's
//! `sockless-tokio/examples/tokio_echo.rs`.
//!
//! ```text
//! fastwebsockets_echo 127.0.0.1:9003
//! ```
//!
//! fastwebsockets does the upgrade through hyper (its `upgrade` feature); to keep hyper out of
//! the build, this server answers the upgrade request itself (httparse, and tungstenite's
//! accept-key function), then hands the socket to `WebSocket::after_handshake`. Only the
//! handshake is not fastwebsockets'; every frame is.

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The most bytes an upgrade request head may take.
const MAX_HEAD: usize = 16 * 1024;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "fastwebsockets_echo: listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("fastwebsockets_echo: {peer}: {e}");
            }
        });
    }
}

async fn serve(mut stream: TcpStream) -> Result<(), BoxError> {
    stream.set_nodelay(true)?;
    if !upgrade(&mut stream).await? {
        return Ok(());
    }
    // The collector reassembles fragmented messages and checks their UTF-8, as the other
    // servers do; it also answers pings and closes.
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(stream, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

/// Reads the upgrade request and answers 101; false if the peer left before a request.
async fn upgrade(stream: &mut TcpStream) -> Result<bool, BoxError> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 4096];
    let key = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(false);
        }
        head.extend_from_slice(&buf[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head)? {
            httparse::Status::Partial if head.len() > MAX_HEAD => {
                return Err("request head too large".into());
            }
            httparse::Status::Partial => continue,
            httparse::Status::Complete(len) => {
                // after_handshake cannot be handed bytes already read; a client that waits
                // for the 101 (as the load generator does) sends nothing more before it.
                if len != head.len() {
                    return Err("frames sent before the 101 response".into());
                }
                let header = |name: &str| {
                    request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| h.value)
                };
                let upgrade =
                    header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case(b"websocket"));
                if request.method != Some("GET")
                    || !upgrade
                    || header("sec-websocket-version") != Some(b"13")
                {
                    stream
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                        .await?;
                    return Err("not a WebSocket upgrade request".into());
                }
                break header("sec-websocket-key")
                    .ok_or("no Sec-WebSocket-Key")?
                    .to_vec();
            }
        }
    };
    let accept = tungstenite::handshake::derive_accept_key(&key);
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    Ok(true)
}
