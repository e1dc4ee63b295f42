//! The echo server as a plain hyper 1.x HTTP/1.1 server: hyper reads the request and
//! writes the response, and `sockless_tokio::upgrade` turns WebSocket upgrades (on any
//! path) into sockets that echo text and binary messages. It chooses the first offered
//! subprotocol of `chat` and `superchat` and accepts permessage-deflate. A request that
//! is not a valid upgrade (a plain `GET` from a browser) gets the core's error answer.
//!
//! ```text
//! cargo run -p sockless-tokio --features hyper --example hyper_echo -- 127.0.0.1:9001
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sockless::handshake::{Accept, Reject};
use sockless_tokio::{PendingUpgrade, upgrade};
use std::convert::Infallible;
use tokio::net::TcpListener;

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("hyper_echo: listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            // Without `with_upgrades` hyper would keep the connection as HTTP and the
            // pending upgrade would never resolve.
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service_fn(handle))
                .with_upgrades();
            if let Err(e) = connection.await {
                eprintln!("hyper_echo: {peer}: {e}");
            }
        });
    }
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

fn decide(request: &sockless::handshake::Request) -> Result<Accept, Reject> {
    Ok(match request.protocols().find(|p| PROTOCOLS.contains(p)) {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    })
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(match upgrade(&mut request, config(), decide) {
        Ok((response, pending)) => {
            // The socket only exists after hyper has written the 101 returned below, so
            // it is awaited in a task of its own rather than here.
            tokio::spawn(async move {
                if let Err(e) = echo(pending).await {
                    eprintln!("hyper_echo: {e}");
                }
            });
            response
        }
        Err(response) => response,
    })
}

async fn echo(pending: PendingUpgrade) -> Result<(), sockless_tokio::Error> {
    let mut ws = pending.await_socket().await?;
    while let Some(message) = ws.recv().await {
        // Fed, not sent: a burst of echoes goes out together when the socket next waits
        // for input.
        ws.feed(message?).await?;
    }
    Ok(())
}
