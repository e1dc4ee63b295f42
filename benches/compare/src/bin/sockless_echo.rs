//! The plainest echo server on sockless, for `e2e.sh`: one task per connection that reads,
//! hands the bytes to the `Connection`, answers each message, and writes what is owed. It is
//! shaped like the tokio-tungstenite and fastwebsockets servers next to it, to tell the cost
//! of the library from that of `examples/tokio_echo.rs`'s architecture (a reader task and a
//! writer task per connection, a channel between them, keepalive timers).
//!
//! ```text
//! sockless_echo 127.0.0.1:9004
//! ```

use bytes::BytesMut;
use sockless::handshake::Accept;
use sockless::{Config, Connection, Event};
use std::io::IoSlice;
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
                // The echo goes out by reference: no copy of the payload, as
                // fastwebsockets' vectored writes of 1 KiB and more.
                Ok(Some(Event::Message(message))) => ws.send_shared(message)?,
                Ok(Some(_)) => {}
                Ok(None) => break None,
                // What the peer is owed (a close frame, an HTTP error) is queued: write it.
                Err(e) => break Some(e),
            }
        };
        while ws.pending_outbound() > 0 {
            let written = {
                let mut slices = [IoSlice::new(&[]); 8];
                let n = ws.outbound_vectored(&mut slices);
                stream.write_vectored(&slices[..n]).await?
            };
            if written == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
            ws.advance_outbound(written);
        }
        if let Some(e) = failed {
            return Err(e.into());
        }
        if ws.should_close_transport() {
            return Ok(());
        }
        buf.reserve(64 * 1024);
        match stream.read_buf(&mut buf).await? {
            0 => ws.receive_eof(),
            _ => ws.receive_bytes(buf.split()),
        }
    }
}
