//! An echo server on tokio-tungstenite, for `e2e.sh`: every text or binary message goes back
//! as it came, one task per connection, on a current-thread runtime like sockless's
//! `sockless-tokio/examples/tokio_echo.rs`.
//!
//! ```text
//! tungstenite_echo 127.0.0.1:9002
//! ```

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "tungstenite_echo: listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("tungstenite_echo: {peer}: {e}");
            }
        });
    }
}

async fn serve(stream: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    // Pings are answered and a close is echoed by tungstenite itself, on the next poll; the
    // stream ends once the closing handshake is done.
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}
