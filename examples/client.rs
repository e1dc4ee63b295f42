//! A line-oriented WebSocket client on blocking `std::net`.
//!
//! ```text
//! cargo run --example client -- ws://127.0.0.1:9001/path [--protocol NAME]...
//! ```
//!
//! Sends each line of stdin as a text message and prints each text message received as a
//! line on stdout. At the end of stdin it lets replies still in flight arrive (until the
//! server has been quiet for 250 ms: messages arriving after our close frame are dropped,
//! as RFC 6455 §1.4 and browsers do), sends Close 1000, waits for the server's close, and
//! exits 0. A failed handshake (wrong accept key, a non-101 status) exits non-zero with
//! the reason on stderr. `wss://` needs a TLS driver, which this example does not have.
//!
//! It shows a split connection: a reader thread owns the receiving half and the socket's
//! read side; the main thread owns the sending half, writes, and runs the connection's
//! timers (the handshake, keepalive and close timeouts), woken by stdin lines, by the reader
//! whenever the connection owes the server a pong or a close answer, and by the next
//! deadline. A server that never closes the transport after the closing handshake is left
//! at the close timeout.

use sockless::handshake::{ClientOptions, Uri};
use sockless::{CloseCode, Config, Connection, Event, Message};
use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// How long the server must be quiet after the end of stdin before we close.
const QUIET: Duration = Duration::from_millis(250);

enum Wake {
    Line(String),
    StdinDone,
    /// The receiving half has replies for the sending half to write.
    Replies,
    /// A message arrived.
    Received,
    /// The reader is done: the connection closed or failed.
    ReaderDone(Result<(), String>),
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or("usage: client ws://HOST:PORT/PATH [--protocol NAME]...")?;
    let mut options = ClientOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--protocol" => {
                let name = args.next().ok_or("--protocol needs a name")?;
                options = options.try_protocol(name)?;
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let uri = Uri::parse(&url)?;
    if uri.secure() {
        return Err("wss:// needs TLS, which this example does not drive".into());
    }
    let mut tcp = TcpStream::connect((uri.host(), uri.port()))?;
    tcp.set_nodelay(true)?;
    let start = std::time::Instant::now();
    let mut ws = Connection::client(&uri, options, Config::default());
    ws.handle_timeout(start.elapsed());

    // The handshake, on this thread: write the request, read until the 101 (or an error),
    // for at most the handshake timeout.
    tcp.write_all(&ws.take_outbound())?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let wait = ws.poll_timeout().map(|at| {
            at.saturating_sub(start.elapsed())
                .max(Duration::from_millis(1))
        });
        tcp.set_read_timeout(wait)?;
        match ws.poll_event()? {
            Some(Event::Connected(negotiated)) => {
                if let Some(protocol) = negotiated.protocol {
                    eprintln!("client: connected, subprotocol {protocol}");
                }
                break;
            }
            Some(_) => {}
            None => match tcp.read(&mut buf) {
                Ok(0) => ws.receive_eof(),
                Ok(n) => ws.receive(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    ws.handle_timeout(start.elapsed())
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    tcp.set_read_timeout(None)?;

    let (mut rx, mut tx) = ws.split().map_err(|e| e.to_string())?;
    let (wake, woken) = mpsc::channel();
    let mut reader_tcp = tcp.try_clone()?;
    let reader_wake = wake.clone();
    thread::spawn(move || {
        let result = read_loop(&mut rx, &mut reader_tcp, &reader_wake);
        let _ = reader_wake.send(Wake::ReaderDone(result.map_err(|e| e.to_string())));
    });
    let stdin_wake = wake;
    thread::spawn(move || {
        for line in io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if stdin_wake.send(Wake::Line(line)).is_err() {
                return;
            }
        }
        let _ = stdin_wake.send(Wake::StdinDone);
    });

    let mut outcome = Ok(());
    let mut stdin_done = false;
    let mut closing = false;
    loop {
        if tx.should_close_transport() {
            break;
        }
        // Wake for the next timer, or once the server has been quiet after our input ended.
        let timer = tx
            .poll_timeout()
            .map(|at| at.saturating_sub(start.elapsed()));
        let quiet = (stdin_done && !closing).then_some(QUIET);
        let wait = [timer, quiet].into_iter().flatten().min();
        let event = match wait {
            Some(wait) => match woken.recv_timeout(wait) {
                Ok(event) => Some(event),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match woken.recv() {
                Ok(event) => Some(event),
                Err(_) => break,
            },
        };
        tx.handle_timeout(start.elapsed());
        let Some(event) = event else {
            if stdin_done && !closing {
                let _ = tx.close(CloseCode::NORMAL, "");
                closing = true;
            }
            tcp.write_all(&tx.take_outbound())?;
            continue;
        };
        match event {
            Wake::Line(line) => {
                if let Err(e) = tx.send_text(&line) {
                    eprintln!("client: not sent: {e}");
                }
            }
            Wake::StdinDone => stdin_done = true,
            Wake::Replies | Wake::Received => {}
            Wake::ReaderDone(result) => {
                outcome = result;
                tcp.write_all(&tx.take_outbound())?;
                break;
            }
        }
        tcp.write_all(&tx.take_outbound())?;
    }
    let _ = tcp.shutdown(std::net::Shutdown::Both);
    outcome.map_err(Into::into)
}

fn read_loop(
    rx: &mut sockless::ReceiveHalf,
    tcp: &mut TcpStream,
    wake: &mpsc::Sender<Wake>,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut stdout = io::stdout().lock();
    loop {
        while let Some(event) = rx.poll_event()? {
            match event {
                Event::Message(Message::Text(text)) => {
                    writeln!(stdout, "{text}")?;
                    stdout.flush()?;
                    let _ = wake.send(Wake::Received);
                }
                Event::Message(Message::Binary(data)) => {
                    eprintln!("client: binary message of {} bytes", data.len());
                    let _ = wake.send(Wake::Received);
                }
                Event::Close(frame) if frame.code == CloseCode::ABNORMAL => {
                    return Err("the server dropped the connection without a close".into());
                }
                _ => {}
            }
        }
        if rx.pending_outbound() > 0 {
            let _ = wake.send(Wake::Replies);
        }
        if rx.should_close_transport() {
            return Ok(());
        }
        match tcp.read(&mut buf) {
            Ok(0) => rx.receive_eof(),
            Ok(n) => rx.receive(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}
