//! The echo server on sockless-tokio: one task per connection, echoing text and binary
//! messages, choosing the first offered subprotocol of `chat` and `superchat`, accepting
//! permessage-deflate, with keepalive pings.
//!
//! ```text
//! cargo run --release -p sockless-tokio --example tokio_echo -- 127.0.0.1:9001
//! ```
//!
//! Echoes are fed (queued) as they are read and written when the socket would wait for
//! more input, so a burst of messages goes out in few writes.

use sockless::handshake::{Accept, Request};
use sockless::{Config, Keepalive};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("tokio_echo: listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(tcp).await {
                eprintln!("tokio_echo: {peer}: {e}");
            }
        });
    }
}

fn config() -> Config {
    let mut config = Config::default();
    config.deflate = Some(sockless::deflate::DeflateConfig::default());
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
    });
    config
}

fn decide(request: &Request) -> Result<Accept, sockless::handshake::Reject> {
    Ok(match request.protocols().find(|p| PROTOCOLS.contains(p)) {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    })
}

async fn serve(tcp: TcpStream) -> Result<(), sockless_tokio::Error> {
    tcp.set_nodelay(true)?;
    let mut ws = sockless_tokio::accept_with(tcp, config(), decide).await?;
    while let Some(message) = ws.recv().await {
        ws.feed(message?).await?;
    }
    Ok(())
}
