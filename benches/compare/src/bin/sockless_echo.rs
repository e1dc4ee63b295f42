//! The plainest echo server on sockless, for `e2e.sh`: one task per connection that reads,
//! hands the bytes to the `Connection`, answers each message, and writes what is owed. It is
//! shaped like the tokio-tungstenite and fastwebsockets servers next to it, to tell the cost
//! of the core from that of sockless-tokio's driver (`sockless-tokio/examples/tokio_echo.rs`:
//! `recv` and `feed` on a `WebSocket`, keepalive timers on).
//!
//! ```text
//! sockless_echo 127.0.0.1:9004
//! ```

use bytes::BytesMut;
use sockless::handshake::Accept;
use sockless::{Config, Connection, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9004".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!(
        "sockless_echo: listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = serve(stream).await {
                eprintln!("sockless_echo: {peer}: {e}");
            }
        });
    }
}

async fn serve(mut stream: TcpStream) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    stream.set_nodelay(true)?;
    let mut ws = Connection::server(Config::default());
    // Reads land in a `BytesMut` that is handed over whole (`receive_bytes`): no copy into
    // the connection, as fastwebsockets reads straight into its own buffer.
    let mut buf = BytesMut::new();
    loop {
        let failed = loop {
            match ws.poll_event() {
                Ok(Some(Event::HandshakeRequest(_))) => ws.accept(&Accept::new())?,
                // The echo is copied into the outbound buffer with its frame header: the
                // one sending path sockless keeps, so that `outbound()` always holds every
                // pending byte.
                Ok(Some(Event::Message(message))) => ws.send(&message)?,
                Ok(Some(_)) => {}
                Ok(None) => break None,
                // What the peer is owed (a close frame, an HTTP error) is queued: write it.
                Err(e) => break Some(e),
            }
        };
        // The documented driving loop: write all of `outbound()`, then drop what was written.
        let pending = ws.pending_outbound();
        if pending > 0 {
            // A check, not a hope: if `outbound()` ever held less than what is pending, this
            // server would silently drop the rest and the load generator would hang.
            assert_eq!(
                ws.outbound().len(),
                pending,
                "outbound() holds every pending byte"
            );
            stream.write_all(ws.outbound()).await?;
            ws.advance_outbound(pending);
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        if ws.should_close_transport() {
            return Ok(());
        }
        // While a frame is partly buffered, the rest is read straight into the
        // connection's own buffer after it, and appended there without a copy.
        let read = match ws.read_buffer(64 * 1024) {
            Some(mut room) => {
                let n = stream.read_buf(&mut room).await?;
                ws.receive_bytes(room);
                n
            }
            None => {
                buf.reserve(64 * 1024);
                let n = stream.read_buf(&mut buf).await?;
                ws.receive_bytes(buf.split());
                n
            }
        };
        if read == 0 {
            ws.receive_eof();
        }
    }
}
