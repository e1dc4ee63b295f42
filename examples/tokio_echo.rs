//! The echo server on tokio: one task per client driving one `Connection`, with the
//! connection's timers on `tokio::time`.
//!
//! ```text
//! cargo run --release --example tokio_echo -- 127.0.0.1:9001
//! ```
//!
//! The task writes out everything the connection owes (the 101, echoes, pongs, close
//! answers, HTTP error responses) before it reads again, so what is owed to a peer that
//! does not read stays bounded by what one read can cause. It holds no read buffer between
//! reads: it waits until the socket is readable, then reads into a scratch buffer that
//! lives only for that call, so an idle connection costs the connection's own bytes.

use sockless::handshake::Accept;
use sockless::{Config, Connection, Event, Keepalive};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("tokio_echo: listening on ws://{}", listener.local_addr()?);
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("tokio_echo: {peer}: {e}");
            }
        });
    }
}

fn config() -> Config {
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
    }
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
    });
    config
}

async fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let start = Instant::now();
    let mut ws = Connection::server(config());
    loop {
        if let Err(e) = handle_events(&mut ws) {
            // What the peer is owed (a close frame, an HTTP error response) is queued.
            eprintln!("tokio_echo: connection failed: {e}");
        }
        stream.write_all(ws.outbound()).await?;
        ws.advance_outbound(ws.pending_outbound());
        if ws.should_close_transport() {
            return stream.shutdown().await;
        }
        let deadline = ws.poll_timeout().map(|d| start + d);
        tokio::select! {
            ready = stream.readable() => {
                ready?;
                let mut scratch = [0u8; 16 * 1024];
                match stream.try_read(&mut scratch) {
                    Ok(0) => ws.receive_eof(),
                    Ok(n) => ws.receive(&scratch[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => ws.receive_eof(),
                    Err(e) => return Err(e),
                }
            }
            () = sleep_until(deadline) => {}
        }
        ws.handle_timeout(start.elapsed());
    }
}

fn handle_events(ws: &mut Connection) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(event) = ws.poll_event()? {
        match event {
            Event::HandshakeRequest(request) => {
                let mut accept = Accept::new();
                if let Some(p) = request.protocols().find(|p| PROTOCOLS.contains(p)) {
                    accept = accept.protocol(p);
                }
                ws.accept(&accept)?;
            }
            Event::Message(message) => ws.send(&message)?,
            // Pongs and close answers are queued by the connection itself.
            _ => {}
        }
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
