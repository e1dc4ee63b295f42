//! `upgrade` behind a real hyper HTTP/1.1 server on loopback TCP: hyper parses and
//! answers, the core checks the request and builds the answer, and the upgraded
//! connection becomes a socket.
#![cfg(feature = "hyper")]

mod common;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sockless::handshake::{Accept, Reject, Request};
use sockless::{CloseCode, CloseFrame, Config, Message};
use sockless_tokio::{ConnectOptions, UpgradedIo, WebSocket, connect_with, upgrade};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The sample key of RFC 6455 §1.3.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// What RFC 6455 §1.3 computes from `KEY`.
#[cfg(feature = "deflate")]
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Fails a test that hangs instead of letting it block the run.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("timed out")
}

/// A hyper HTTP/1.1 server on loopback that passes every request to `upgrade` with
/// `config` and `decide`, and hands each socket to `on_socket` in a task of its own.
async fn hyper_server<D, F, Fut>(config: Config, decide: D, on_socket: F) -> SocketAddr
where
    D: Fn(&Request) -> Result<Accept, Reject> + Copy + Send + 'static,
    F: Fn(WebSocket<UpgradedIo>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = common::listener().await;
    tokio::spawn(async move {
        loop {
            let tcp = common::accept_tcp(&listener).await;
            let config = config.clone();
            let on_socket = on_socket.clone();
            let service = service_fn(move |mut request: hyper::Request<Incoming>| {
                let config = config.clone();
                let on_socket = on_socket.clone();
                async move {
                    Ok::<_, Infallible>(
                        match upgrade::<_, Full<Bytes>>(&mut request, config, decide) {
                            Ok((response, pending)) => {
                                tokio::spawn(async move {
                                    let ws = pending.await_socket().await.unwrap();
                                    on_socket(ws).await;
                                });
                                response
                            }
                            Err(response) => response,
                        },
                    )
                }
            });
            tokio::spawn(
                http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .with_upgrades(),
            );
        }
    });
    addr
}

fn accept_any(_: &Request) -> Result<Accept, Reject> {
    Ok(Accept::new())
}

/// Chooses `chat` when offered.
fn choose_chat(request: &Request) -> Result<Accept, Reject> {
    Ok(match request.protocols().find(|p| *p == "chat") {
        Some(p) => Accept::new().protocol(p),
        None => Accept::new(),
    })
}

async fn echo(mut ws: WebSocket<UpgradedIo>) {
    while let Some(message) = ws.recv().await {
        ws.send(message.unwrap()).await.unwrap();
    }
}

/// An HTTP response read off a raw connection.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads from `tcp` into `buf` until it holds at least `n` bytes.
async fn fill(tcp: &mut TcpStream, buf: &mut Vec<u8>, n: usize) {
    while buf.len() < n {
        let mut chunk = [0; 4096];
        let read = tcp.read(&mut chunk).await.unwrap();
        assert!(read > 0, "connection ended after {} bytes", buf.len());
        buf.extend_from_slice(&chunk[..read]);
    }
}

/// Sends `head` as raw bytes and reads the response (its `Content-Length` body too),
/// leaving the connection open for what follows a `101`.
async fn raw_request(addr: SocketAddr, head: &str) -> (TcpStream, RawResponse) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let head_len = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let len = buf.len();
        fill(&mut tcp, &mut buf, len + 1).await;
    };
    let text = std::str::from_utf8(&buf[..head_len - 4]).unwrap();
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
    let status = status_line[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let body_len: usize = response
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    fill(&mut tcp, &mut buf, head_len + body_len).await;
    response.body = buf[head_len..head_len + body_len].to_vec();
    assert_eq!(buf.len(), head_len + body_len, "bytes after the response");
    (tcp, response)
}

fn upgrade_head(extra: &str) -> String {
    format!(
        "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn accepted_upgrade_carries_the_chosen_protocol_text_binary_and_a_1000_close() {
    within(async {
        let (seen_tx, mut seen) = mpsc::unbounded_channel::<(Option<String>, Option<CloseFrame>)>();
        let addr = hyper_server(Config::default(), choose_chat, move |mut ws| {
            let seen_tx = seen_tx.clone();
            async move {
                let protocol = ws.protocol().map(str::to_owned);
                while let Some(message) = ws.recv().await {
                    ws.send(message.unwrap()).await.unwrap();
                }
                seen_tx.send((protocol, ws.close_frame().cloned())).unwrap();
            }
        })
        .await;

        let options = ConnectOptions::new().protocol("mqtt").protocol("chat");
        let mut ws = connect_with(&format!("ws://{addr}/chat"), options)
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("chat"));

        ws.send("hello over hyper").await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::from("hello over hyper")
        );
        let binary = vec![0u8, 1, 2, 0x80, 0xfe, 0xff];
        ws.send(binary.clone()).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Binary(binary.into())
        );

        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);

        let (protocol, frame) = seen.recv().await.unwrap();
        assert_eq!(protocol.as_deref(), Some("chat"), "server side protocol");
        let frame = frame.expect("the server saw no close frame");
        assert_eq!(frame.code, CloseCode::NORMAL);
        assert_eq!(frame.reason.as_str(), "done");
    })
    .await;
}

#[tokio::test]
async fn refusal_by_decide_is_answered_with_its_status_and_body() {
    fn only_good_origin(request: &Request) -> Result<Accept, Reject> {
        if request.origin() == Some("https://good.example") {
            Ok(Accept::new())
        } else {
            Err(Reject::new(403).body("no"))
        }
    }
    within(async {
        let addr = hyper_server(Config::default(), only_good_origin, echo).await;
        let uri = format!("ws://{addr}/chat");

        let refused = ConnectOptions::new().origin("https://evil.example");
        match connect_with(&uri, refused).await {
            Err(sockless_tokio::Error::Protocol(sockless::Error::Rejected(r))) => {
                assert_eq!(r.response.status(), 403);
                assert_eq!(&r.body[..], b"no");
            }
            Err(e) => panic!("expected a rejection, got {e}"),
            Ok(_) => panic!("expected a rejection, the upgrade was accepted"),
        }

        // The same server lets the right origin in, so the refusal above was decide's.
        let allowed = ConnectOptions::new().origin("https://good.example");
        let mut ws = connect_with(&uri, allowed).await.unwrap();
        ws.send("in").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("in"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn missing_sec_websocket_key_is_answered_400_with_the_core_error_body() {
    within(async {
        let addr = hyper_server(Config::default(), accept_any, echo).await;
        let (_, response) = raw_request(addr, &upgrade_head("Sec-WebSocket-Version: 13\r\n")).await;
        assert_eq!(response.status, 400);
        assert_eq!(response.body, b"missing Sec-WebSocket-Key header\n");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(response.header("sec-websocket-accept"), None);
    })
    .await;
}

#[tokio::test]
async fn unsupported_version_is_answered_426_naming_version_13() {
    within(async {
        let addr = hyper_server(Config::default(), accept_any, echo).await;
        let extra = format!("Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 8\r\n");
        let (_, response) = raw_request(addr, &upgrade_head(&extra)).await;
        assert_eq!(response.status, 426);
        assert_eq!(response.header("sec-websocket-version"), Some("13"));
        assert_eq!(response.header("upgrade"), Some("websocket"));
    })
    .await;
}

#[tokio::test]
async fn accepting_a_protocol_the_client_did_not_offer_is_answered_500() {
    fn choose_unoffered(_: &Request) -> Result<Accept, Reject> {
        Ok(Accept::new().protocol("superchat"))
    }
    within(async {
        let addr = hyper_server(Config::default(), choose_unoffered, echo).await;
        let options = ConnectOptions::new().protocol("chat");
        match connect_with(&format!("ws://{addr}/"), options).await {
            Err(sockless_tokio::Error::Protocol(sockless::Error::Rejected(r))) => {
                assert_eq!(r.response.status(), 500);
            }
            Err(e) => panic!("expected a 500, got {e}"),
            Ok(_) => panic!("expected a 500, the upgrade was accepted"),
        }
    })
    .await;
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_is_negotiated_and_used_only_when_configured() {
    within(async {
        let mut with_deflate = Config::default();
        with_deflate.deflate = Some(sockless::deflate::DeflateConfig::default());
        let deflating = hyper_server(with_deflate, accept_any, echo).await;
        let plain = hyper_server(Config::default(), accept_any, echo).await;
        let extra = format!(
            "Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n"
        );

        let (_, response) = raw_request(plain, &upgrade_head(&extra)).await;
        assert_eq!(response.status, 101);
        assert_eq!(response.header("sec-websocket-extensions"), None);

        let (mut tcp, response) = raw_request(deflating, &upgrade_head(&extra)).await;
        assert_eq!(response.status, 101);
        assert_eq!(response.header("sec-websocket-accept"), Some(ACCEPT));
        let extensions = response.header("sec-websocket-extensions").unwrap();
        assert!(extensions.starts_with("permessage-deflate"), "{extensions}");

        // An uncompressed, masked (with a zero key) text frame of 1000 repeated bytes: the
        // echo comes back compressed (RSV1 set, far shorter) only if the socket hyper
        // handed over was set up with the negotiated parameters.
        let payload = vec![b'a'; 1000];
        let mut frame = vec![0x81, 0x80 | 126, 0x03, 0xe8, 0, 0, 0, 0];
        frame.extend_from_slice(&payload);
        tcp.write_all(&frame).await.unwrap();
        let mut buf = Vec::new();
        fill(&mut tcp, &mut buf, 2).await;
        assert_eq!(buf[0], 0xc1, "FIN, RSV1 and text");
        let len = usize::from(buf[1]);
        assert!(len < 100, "echo of {len} bytes is not compressed");
        fill(&mut tcp, &mut buf, 2 + len).await;
    })
    .await;
}
