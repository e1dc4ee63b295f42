//! A chat room on axum 0.8: `/` serves a page whose script connects to `/chat`, and every
//! text message a client sends on `/chat` goes to all connected clients (the sender too),
//! through a `tokio::sync::broadcast` channel. The upgrade is `sockless_tokio::upgrade`
//! called from an ordinary handler, so axum's own `ws` feature (and tungstenite) is not
//! needed.
//!
//! ```text
//! cargo run -p sockless-tokio --features hyper --example axum_chat -- 127.0.0.1:3000
//! ```
//!
//! Then open <http://127.0.0.1:3000/> in two browser tabs.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{Html, Response};
use axum::routing::get;
use sockless::handshake::{Accept, Reject};
use sockless::{Config, Keepalive, Message, Utf8Bytes};
use sockless_tokio::{PendingUpgrade, upgrade};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// How many messages a client may fall behind before it misses some.
const BACKLOG: usize = 64;

/// The room: a sender every socket clones a receiver from.
#[derive(Clone)]
struct Room {
    tx: broadcast::Sender<Utf8Bytes>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let room = Room {
        tx: broadcast::channel(BACKLOG).0,
    };
    let app = Router::new()
        .route("/", get(index))
        .route("/chat", get(chat))
        .with_state(room);
    let listener = TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    eprintln!("axum_chat: listening on http://{local}/ (WebSocket on ws://{local}/chat)");
    axum::serve(listener, app).await
}

async fn index() -> Html<&'static str> {
    Html(PAGE)
}

fn config() -> Config {
    let mut config = Config::default();
    // Each message is copied to every client, so one client's large message would cost
    // memory in all of them: chat lines are short.
    config.max_message_size = 4 << 10;
    config.max_frame_size = 4 << 10;
    // A client that vanished without closing (a laptop lid shut) would otherwise stay in
    // the room, and subscribed, forever.
    config.keepalive = Some(Keepalive {
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(10),
    });
    config
}

/// Refuses cross-site pages: a browser sends its cookies with a WebSocket request from any
/// site, so a page elsewhere could otherwise join the room as this site's user. Clients
/// that are not browsers send no `Origin` and are let in.
fn decide(request: &sockless::handshake::Request) -> Result<Accept, Reject> {
    let Some(origin) = request.origin() else {
        return Ok(Accept::new());
    };
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if origin_host == Some(request.host()) {
        Ok(Accept::new())
    } else {
        Err(Reject::new(403).body("cross-origin WebSocket refused\n"))
    }
}

async fn chat(State(room): State<Room>, mut request: Request) -> Response {
    match upgrade::<_, Body>(&mut request, config(), decide) {
        Ok((response, pending)) => {
            // The socket only exists once axum has written this 101, so it is awaited
            // in a task of its own.
            tokio::spawn(async move {
                if let Err(e) = join(room, pending).await {
                    eprintln!("axum_chat: {e}");
                }
            });
            response
        }
        Err(response) => response,
    }
}

async fn join(room: Room, pending: PendingUpgrade) -> Result<(), sockless_tokio::Error> {
    let ws = pending.await_socket().await?;
    // Subscribed before reading, so that the client sees its own first message.
    let mut lines = room.tx.subscribe();
    let (mut reader, mut writer) = ws.split();
    // The writer waits on the room and the reader on the client; neither holds the
    // other up, and a client slow to read only falls behind in its own receiver.
    let writing = tokio::spawn(async move {
        loop {
            let line = match lines.recv().await {
                Ok(line) => line,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Utf8Bytes::from(format!("[{missed} messages missed]"))
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if writer.send(Message::Text(line)).await.is_err() {
                // Closing or closed: the reader sees why.
                return;
            }
        }
    });
    let result = async {
        while let Some(message) = reader.recv().await {
            if let Message::Text(line) = message? {
                // An error only means nobody is listening, not even this client's writer.
                let _ = room.tx.send(line);
            }
        }
        Ok(())
    }
    .await;
    // The room never closes, so the writer would wait on it forever.
    writing.abort();
    result
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>sockless chat</title>
<style>
  body { font: 16px system-ui, sans-serif; max-width: 40em; margin: 2em auto; }
  #log { list-style: none; padding: 0; min-height: 10em; }
</style>
<h1>sockless chat</h1>
<ul id="log"></ul>
<form id="form">
  <input id="text" autocomplete="off" autofocus size="40">
  <button>Send</button>
</form>
<script>
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const text = document.getElementById("text");
  const line = (t) => {
    const li = document.createElement("li");
    li.textContent = t;
    log.append(li);
  };
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + "/chat");
  ws.onopen = () => line("[connected]");
  ws.onmessage = (e) => line(e.data);
  ws.onclose = (e) => line(`[closed: ${e.code} ${e.reason}]`);
  form.onsubmit = (e) => {
    e.preventDefault();
    if (text.value && ws.readyState === WebSocket.OPEN) ws.send(text.value);
    text.value = "";
  };
</script>
</html>
"#;
