//! The Autobahn|Testsuite client on sockless-tokio: runs every case of a
//! `wstest -m fuzzingserver`, echoing each message through a `WebSocket`.
//!
//! ```text
//! cargo run --release -p sockless-tokio --example tokio_autobahn_client -- ws://127.0.0.1:9001
//! ```
//!
//! The URL defaults to `$AUTOBAHN_URL`, then `ws://127.0.0.1:9001`. The agent name is
//! `sockless`, so that the same expectations apply as to the core's own client.

use sockless::Message;
use sockless_tokio::{ConnectOptions, Error};

const AGENT: &str = "sockless";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("AUTOBAHN_URL").ok())
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = base.trim_end_matches('/');
    let count: usize = last_text(&format!("{base}/getCaseCount"))
        .await?
        .ok_or("no case count received")?
        .trim()
        .parse()?;
    eprintln!("tokio_autobahn_client: {count} cases");
    for case in 1..=count {
        if let Err(e) = echo(&format!("{base}/runCase?case={case}&agent={AGENT}")).await {
            // A case may legitimately end in a failed connection; carry on with the next.
            eprintln!("tokio_autobahn_client: case {case}: {e}");
        }
    }
    last_text(&format!("{base}/updateReports?agent={AGENT}")).await?;
    eprintln!("tokio_autobahn_client: reports updated");
    Ok(())
}

fn options() -> ConnectOptions {
    ConnectOptions::new().deflate(sockless::deflate::DeflateConfig::default())
}

/// Echoes every message until the server closes.
async fn echo(url: &str) -> Result<(), Error> {
    let mut ws = sockless_tokio::connect_with(url, options()).await?;
    while let Some(message) = ws.recv().await {
        // Fed, not sent: the echoes of a burst go out together when the socket next waits
        // for input.
        ws.feed(message?).await?;
    }
    Ok(())
}

/// The last text message the server sent before closing.
async fn last_text(url: &str) -> Result<Option<String>, Error> {
    let mut ws = sockless_tokio::connect_with(url, options()).await?;
    let mut last = None;
    while let Some(message) = ws.recv().await {
        if let Message::Text(text) = message? {
            last = Some(text.as_str().to_owned());
        }
    }
    Ok(last)
}
