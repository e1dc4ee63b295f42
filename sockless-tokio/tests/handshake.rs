//! The opening handshake over loopback TCP: answers to invalid and refused requests, and
//! the handshake timeout on both sides.

mod common;

use sockless::Config;
use sockless::handshake::{Accept, Reject};
use sockless_tokio::{ConnectOptions, Error};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

const PROMPTLY: Duration = Duration::from_secs(5);

fn short_handshake() -> Config {
    let mut config = Config::default();
    config.handshake_timeout = Some(Duration::from_millis(200));
    config
}

/// Sends `request` raw and returns everything the server wrote until it closed.
async fn answer_to(request: &[u8], config: Config) -> (String, Result<(), Error>) {
    let (listener, addr) = common::listener().await;
    let server = tokio::spawn(async move {
        let tcp = common::accept_tcp(&listener).await;
        sockless_tokio::accept_with(tcp, config, |_| Ok(Accept::new()))
            .await
            .map(drop)
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    timeout(PROMPTLY, tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes the transport after its answer")
        .unwrap();
    let result = timeout(PROMPTLY, server).await.unwrap().unwrap();
    (String::from_utf8_lossy(&answer).into_owned(), result)
}

#[tokio::test]
async fn an_invalid_request_gets_the_http_answer_before_the_transport_closes() {
    let (answer, result) = answer_to(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
        Config::default(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert!(
        matches!(result, Err(Error::Protocol(sockless::Error::Request(_)))),
        "{result:?}"
    );

    let (answer, _) = answer_to(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        Config::default(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"), "{answer}");

    let mut bomb = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..2000 {
        bomb.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    bomb.extend_from_slice(b"\r\n");
    let (answer, _) = answer_to(&bomb, Config::default()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
}

#[tokio::test]
async fn a_request_that_never_finishes_is_dropped_at_the_handshake_timeout() {
    let started = std::time::Instant::now();
    let (answer, result) = answer_to(b"GET / HTTP/1.1\r\nHost: x\r\n", short_handshake()).await;
    assert_eq!(answer, "", "no answer to a request that never ended");
    assert!(
        matches!(
            result,
            Err(Error::Protocol(sockless::Error::HandshakeTimeout))
        ),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_client_gives_up_on_a_server_that_never_answers() {
    let (listener, addr) = common::listener().await;
    let silent = tokio::spawn(async move {
        // Accepts the TCP connection and reads the request, never answering.
        let mut tcp = common::accept_tcp(&listener).await;
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink).await;
    });
    let options = ConnectOptions::new().config(short_handshake());
    let result = timeout(
        PROMPTLY,
        sockless_tokio::connect_with(&format!("ws://{addr}/"), options),
    )
    .await
    .expect("the handshake timeout ends the wait");
    assert!(
        matches!(
            result,
            Err(Error::Protocol(sockless::Error::HandshakeTimeout))
        ),
        "{result:?}"
    );
    silent.abort();
}

#[tokio::test]
async fn a_refused_request_gets_the_applications_status_and_the_client_sees_it() {
    let (listener, addr) = common::listener().await;
    let server = tokio::spawn(async move {
        let tcp = common::accept_tcp(&listener).await;
        sockless_tokio::accept_with(tcp, Config::default(), |req| {
            if req.origin() == Some("https://good.example") {
                Ok(Accept::new())
            } else {
                Err(Reject::new(403).body("not from here"))
            }
        })
        .await
        .map(drop)
    });
    let options = ConnectOptions::new().origin("https://evil.example");
    let result = sockless_tokio::connect_with(&format!("ws://{addr}/"), options).await;
    match result {
        Err(Error::Protocol(sockless::Error::Rejected(rejection))) => {
            assert_eq!(rejection.response.status(), 403);
            assert_eq!(&rejection.body[..], b"not from here");
        }
        other => panic!("{other:?}"),
    }
    let refused = timeout(PROMPTLY, server).await.unwrap().unwrap();
    assert!(matches!(refused, Err(Error::Refused(403))), "{refused:?}");
}

#[tokio::test]
async fn an_async_decision_through_incoming_accepts_with_the_chosen_protocol() {
    let (listener, addr) = common::listener().await;
    let server = tokio::spawn(async move {
        let tcp = common::accept_tcp(&listener).await;
        let incoming = sockless_tokio::incoming(tcp, Config::default())
            .await
            .unwrap();
        assert_eq!(incoming.request().path(), "/room/7");
        assert_eq!(incoming.request().query(), Some("token=abc"));
        // A decision that awaits something, as a session lookup would.
        tokio::task::yield_now().await;
        let mut ws = incoming
            .accept(&Accept::new().protocol("v2"))
            .await
            .unwrap();
        let message = ws.recv().await.unwrap().unwrap();
        ws.send(message).await.unwrap();
        ws.close(sockless::CloseCode::NORMAL, "").await.unwrap();
    });
    let options = ConnectOptions::new().protocol("v1").protocol("v2");
    let mut ws = sockless_tokio::connect_with(&format!("ws://{addr}/room/7?token=abc"), options)
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("v2"));
    ws.send("ping?").await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        sockless::Message::from("ping?")
    );
    assert!(
        ws.recv().await.is_none(),
        "the server's close ends the stream"
    );
    assert_eq!(ws.close_frame().unwrap().code, sockless::CloseCode::NORMAL);
    timeout(PROMPTLY, server).await.unwrap().unwrap();
}
