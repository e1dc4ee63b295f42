//! The echo server on tokio, with a split connection: a reader task and a writer task per
//! client, and the keepalive timer on `tokio::time`.
//!
//! ```text
//! cargo run --release --example tokio_echo -- 127.0.0.1:9001
//! ```
//!
//! The reader task owns the receiving half and the socket's read side; it forwards each
//! message to the writer task over a bounded channel (backpressure: a slow writer slows the
//! reader) and wakes the writer when the receiving half owes a pong or a close answer. The
//! writer task owns the sending half, the socket's write side and the timers.

use sockless::handshake::Accept;
use sockless::{Config, Connection, Event, Keepalive, Message, ReceiveHalf, SendHalf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
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

async fn serve(mut stream: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
    }
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
    });
    let mut ws = Connection::server(config);
    let mut buf = vec![0u8; 64 * 1024];
    // The handshake, before splitting.
    loop {
        match ws.poll_event()? {
            Some(Event::HandshakeRequest(request)) => {
                let mut accept = Accept::new();
                if let Some(p) = request.protocols().find(|p| PROTOCOLS.contains(p)) {
                    accept = accept.protocol(p);
                }
                ws.accept(&accept)?;
                break;
            }
            Some(_) => {}
            None => {
                stream.write_all(&ws.take_outbound()).await?;
                if ws.should_close_transport() {
                    return Ok(());
                }
                match stream.read(&mut buf).await? {
                    0 => ws.receive_eof(),
                    n => ws.receive(&buf[..n]),
                }
            }
        }
    }
    let (read, write) = stream.into_split();
    let (rx, tx) = ws.split();
    let (messages, inbox) = mpsc::channel(64);
    let wake = Arc::new(Notify::new());
    let wake_reader = wake.clone();
    let reader = tokio::spawn(async move {
        if let Err(e) = read_task(rx, read, messages, wake_reader).await {
            eprintln!("tokio_echo: {e}");
        }
    });
    let written = write_task(tx, write, inbox, wake).await;
    // The writer ends when the transport should close; a reader still blocked on a silent
    // peer (a keepalive timeout) has nothing left to do.
    reader.abort();
    written
}

async fn read_task(
    mut rx: ReceiveHalf,
    mut read: OwnedReadHalf,
    messages: mpsc::Sender<Message>,
    wake: Arc<Notify>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut buf = vec![0u8; 64 * 1024];
    let result = loop {
        loop {
            match rx.poll_event() {
                Ok(Some(Event::Message(message))) => {
                    if messages.send(message).await.is_err() {
                        return Ok(());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    wake.notify_one();
                    return Err(e.into());
                }
            }
        }
        if rx.replies_pending() {
            wake.notify_one();
        }
        if rx.should_close_transport() {
            break Ok(());
        }
        match read.read(&mut buf).await {
            Ok(0) => rx.receive_eof(),
            Ok(n) => rx.receive(&buf[..n]),
            Err(e) => break Err(e.into()),
        }
    };
    wake.notify_one();
    result
}

async fn write_task(
    mut tx: SendHalf,
    mut write: OwnedWriteHalf,
    mut inbox: mpsc::Receiver<Message>,
    wake: Arc<Notify>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let start = Instant::now();
    loop {
        let out = tx.take_outbound();
        if !out.is_empty() {
            write.write_all(&out).await?;
        }
        if tx.should_close_transport() {
            return Ok(write.shutdown().await?);
        }
        let deadline = tx.poll_timeout().map(|d| start + d);
        tokio::select! {
            message = inbox.recv() => match message {
                Some(message) => { let _ = tx.send(&message); }
                // The reader is gone: write what is owed (a close answer), then stop.
                None => {
                    write.write_all(&tx.take_outbound()).await?;
                    return Ok(write.shutdown().await?);
                }
            },
            () = wake.notified() => {}
            () = sleep_until(deadline) => {
                if let Err(e) = tx.handle_timeout(start.elapsed()) {
                    eprintln!("tokio_echo: {e}");
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
