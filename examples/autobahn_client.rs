//! The Autobahn|Testsuite client: runs every case of a `wstest -m fuzzingserver`.
//!
//! ```text
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! The URL defaults to `$AUTOBAHN_URL`, then `ws://127.0.0.1:9001`. It reads the case count
//! from `/getCaseCount`, runs `/runCase?case=N&agent=sockless` for each case echoing every
//! message, then asks for `/updateReports?agent=sockless`.

use sockless::handshake::{ClientOptions, Uri};
use sockless::{Config, Connection, Event, Message};
use std::error::Error;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const AGENT: &str = "sockless";

fn main() -> Result<(), Box<dyn Error>> {
    let base = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("AUTOBAHN_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');
    let count: usize = run(&format!("{base}/getCaseCount"), false)?
        .ok_or("no case count received")?
        .trim()
        .parse()?;
    eprintln!("autobahn_client: {count} cases");
    for case in 1..=count {
        if let Err(e) = run(&format!("{base}/runCase?case={case}&agent={AGENT}"), true) {
            // A case may legitimately end in a failed connection; carry on with the next.
            eprintln!("autobahn_client: case {case}: {e}");
        }
    }
    run(&format!("{base}/updateReports?agent={AGENT}"), false)?;
    eprintln!("autobahn_client: reports updated");
    Ok(())
}

/// Runs one connection to its end; echoes messages when `echo`, else returns the last
/// text message received.
fn run(url: &str, echo: bool) -> Result<Option<String>, Box<dyn Error>> {
    let uri = Uri::parse(url)?;
    let mut stream = TcpStream::connect((uri.host(), uri.port()))?;
    stream.set_nodelay(true)?;
    let start = Instant::now();
    #[allow(unused_mut)]
    let mut config = Config::default();
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
    }
    let mut ws = Connection::client(&uri, ClientOptions::default(), config);
    let mut last_text = None;
    let mut buf = vec![0u8; 256 * 1024];
    let mut failure = None;
    loop {
        loop {
            match ws.poll_event() {
                Ok(Some(Event::Message(message))) if echo => ws.send(&message)?,
                Ok(Some(Event::Message(Message::Text(text)))) => last_text = Some(text.to_string()),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if let Err(e) = stream.write_all(ws.outbound()) {
            // The peer is gone; what it was owed cannot reach it any more.
            if !matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) {
                return Err(e.into());
            }
            ws.receive_eof();
        }
        ws.advance_outbound(ws.pending_outbound());
        if ws.should_close_transport() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return match failure {
                Some(e) => Err(e.into()),
                None => Ok(last_text),
            };
        }
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
            Err(e) => return Err(e.into()),
        }
        ws.handle_timeout(start.elapsed());
    }
}
