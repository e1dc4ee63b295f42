//! A line-oriented WebSocket client on sockless-tokio.
//!
//! ```text
//! cargo run -p sockless-tokio --example tokio_client -- ws://127.0.0.1:9001/path [--protocol NAME]...
//! ```
//!
//! Sends each line of stdin as a text message and prints each text message received as a
//! line on stdout. At the end of stdin it lets replies still in flight arrive (until the
//! server has been quiet for 250 ms), sends Close 1000, waits for the server's close, and
//! exits 0. A failed handshake exits non-zero with the reason on stderr. With the
//! `rustls` feature, `wss://` URIs work too (webpki roots).
//!
//! Reading and writing are one `select!` loop over one socket: `recv()` is cancel safe, so
//! a line arriving while a message is half received loses nothing.

use sockless::{CloseCode, Message};
use sockless_tokio::ConnectOptions;
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long the server must be quiet after the end of stdin before we close.
const QUIET: Duration = Duration::from_millis(250);

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(uri) = args.next() else {
        eprintln!("usage: tokio_client URI [--protocol NAME]...");
        return ExitCode::from(2);
    };
    // permessage-deflate is offered, as browsers offer it.
    let mut options = ConnectOptions::new().deflate(sockless::deflate::DeflateConfig::default());
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--protocol", Some(name)) => options = options.protocol(name),
            _ => {
                eprintln!("usage: tokio_client URI [--protocol NAME]...");
                return ExitCode::from(2);
            }
        }
    }
    match run(&uri, options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokio_client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(uri: &str, options: ConnectOptions) -> Result<(), sockless_tokio::Error> {
    let mut ws = sockless_tokio::connect_with(uri, options).await?;
    if let Some(protocol) = ws.protocol() {
        eprintln!("tokio_client: subprotocol {protocol}");
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) => ws.send(line).await?,
                None => stdin_open = false,
            },
            message = ws.recv() => match message {
                Some(message) => print(message?),
                // The server closed first.
                None => return Ok(()),
            },
            () = tokio::time::sleep(QUIET), if !stdin_open => break,
        }
    }
    ws.close(CloseCode::NORMAL, "").await
}

fn print(message: Message) {
    match message {
        Message::Text(text) => println!("{}", text.as_str()),
        Message::Binary(data) => eprintln!("tokio_client: {} bytes of binary", data.len()),
    }
}
