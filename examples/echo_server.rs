//! An echo server on blocking `std::net`, one thread per connection.
//!
//! ```text
//! cargo run --release --example echo_server -- 127.0.0.1:9001
//! ```
//!
//! It completes the opening handshake (choosing the first subprotocol the client offers
//! among `chat` and `superchat`), echoes every text and binary message unchanged, answers
//! pings and closes (sockless does both by itself), and drops a misbehaving client without
//! affecting the others. This is the whole driving loop a runtime needs: bytes in, events
//! out, bytes back, and a read timeout for the connection's timers.

use sockless::handshake::Accept;
use sockless::{Config, Connection, Event};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!("echo_server: listening on ws://{}", listener.local_addr()?);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        thread::spawn(move || {
            let peer = stream.peer_addr().ok();
            if let Err(e) = serve(stream) {
                eprintln!("echo_server: {peer:?}: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let start = Instant::now();
    let mut ws = Connection::server(config());
    // A thread per connection keeps this for the connection's life: small, so that an idle
    // connection costs little more than its thread.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if let Err(e) = handle_events(&mut ws) {
            // The close frame or HTTP error response it owes the client is queued.
            eprintln!("echo_server: connection failed: {e}");
        }
        if let Err(e) = stream.write_all(ws.outbound()) {
            // The peer is gone; what it was owed cannot reach it any more.
            if !matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) {
                return Err(e);
            }
            ws.receive_eof();
        }
        ws.advance_outbound(ws.pending_outbound());
        if ws.should_close_transport() {
            return stream.shutdown(std::net::Shutdown::Both).or(Ok(()));
        }
        // Wake up for the connection's next deadline, if it has one.
        let timeout = ws.poll_timeout().map(|deadline| {
            deadline
                .saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        });
        stream.set_read_timeout(timeout)?;
        match stream.read(&mut buf) {
            Ok(0) => ws.receive_eof(),
            Ok(n) => ws.receive(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset is the transport ending too, just less politely.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => ws.receive_eof(),
            Err(e) => return Err(e),
        }
        ws.handle_timeout(start.elapsed());
    }
}

/// Default limits; permessage-deflate accepted when the crate has it (browsers offer it).
fn config() -> Config {
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
    }
    config
}

fn handle_events(ws: &mut Connection) -> Result<(), Box<dyn std::error::Error>> {
    while let Some(event) = ws.poll_event()? {
        match event {
            Event::HandshakeRequest(request) => {
                let chosen = request.protocols().find(|p| PROTOCOLS.contains(p));
                let mut accept = Accept::new();
                if let Some(protocol) = chosen {
                    accept = accept.protocol(protocol);
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
