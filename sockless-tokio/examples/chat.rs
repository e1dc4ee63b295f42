//! A broadcast chat server: every text message a client sends goes to every client.
//!
//! ```text
//! cargo run -p sockless-tokio --example chat -- 127.0.0.1:9001
//! ```
//!
//! Each connection is split: its reader publishes to a broadcast channel in one task, its
//! writer forwards the channel to the client in another. A client too slow to keep up
//! skips what it missed rather than holding memory for it.

use sockless::Message;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("chat: listening on ws://{}", listener.local_addr()?);
    let (room, _) = broadcast::channel::<Message>(1024);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let room = room.clone();
        tokio::spawn(async move {
            let ws = match sockless_tokio::accept(tcp).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("chat: {peer}: {e}"),
            };
            let (mut reader, mut writer) = ws.split();
            let mut feed = room.subscribe();
            let forward = tokio::spawn(async move {
                loop {
                    match feed.recv().await {
                        Ok(message) => {
                            if writer.send(message).await.is_err() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
            while let Some(Ok(message)) = reader.recv().await {
                if let Message::Text(_) = message {
                    let _ = room.send(message);
                }
            }
            forward.abort();
        });
    }
}
