//! The socket end to end over loopback TCP: handshake, messages both ways, close.

mod common;

use futures_util::{SinkExt, StreamExt};
use sockless::handshake::Accept;
use sockless::{CloseCode, Config, Message};
use sockless_tokio::{ConnectOptions, accept_with, connect_with};

#[tokio::test]
async fn echo_round_trip_with_subprotocol_and_close() {
    let (listener, addr) = common::listener().await;
    let server = tokio::spawn(async move {
        let tcp = common::accept_tcp(&listener).await;
        let mut ws = accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.path(), "/chat");
            Ok(Accept::new().protocol("superchat"))
        })
        .await
        .unwrap();
        assert_eq!(ws.protocol(), Some("superchat"));
        while let Some(message) = ws.recv().await {
            ws.send(message.unwrap()).await.unwrap();
        }
        ws.close_frame().cloned()
    });
    let options = ConnectOptions::new().protocol("chat").protocol("superchat");
    let mut ws = connect_with(&format!("ws://{addr}/chat"), options)
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("superchat"));
    ws.send("hello").await.unwrap();
    ws.send(vec![1u8, 2, 3]).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("hello"));
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::from(vec![1u8, 2, 3])
    );
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(ws.recv().await.is_none());
    let frame = server
        .await
        .unwrap()
        .expect("the server saw the close frame");
    assert_eq!(frame.code, CloseCode::NORMAL);
    assert_eq!(&*frame.reason, "done");
    assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
}

#[tokio::test]
async fn stream_and_sink_carry_messages_without_a_flush_per_item() {
    let (listener, addr) = common::listener().await;
    tokio::spawn(async move {
        let tcp = common::accept_tcp(&listener).await;
        let ws = sockless_tokio::accept(tcp).await.unwrap();
        let (mut reader, mut writer) = ws.split();
        while let Some(message) = reader.next().await {
            writer.feed(message.unwrap()).await.unwrap();
        }
    });
    let mut ws = sockless_tokio::connect(&format!("ws://{addr}/"))
        .await
        .unwrap();
    let messages: Vec<Message> = (0..100).map(|i| Message::from(format!("m{i}"))).collect();
    for m in &messages {
        ws.feed(m.clone()).await.unwrap();
    }
    SinkExt::flush(&mut ws).await.unwrap();
    for m in &messages {
        assert_eq!(&ws.next().await.unwrap().unwrap(), m);
    }
    SinkExt::close(&mut ws).await.unwrap();
    assert!(ws.next().await.is_none());
}

#[tokio::test]
async fn a_client_stops_waiting_for_a_server_that_answers_the_close_but_never_closes_tcp() {
    use sockless::{Connection, Event};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (listener, addr) = common::listener().await;
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    // A server driven by hand that answers everything, the close frame included, and then
    // keeps the TCP connection open until the test ends.
    tokio::spawn(async move {
        let mut tcp = common::accept_tcp(&listener).await;
        let mut conn = Connection::server(Config::default());
        let mut buf = vec![0u8; 4096];
        loop {
            while let Some(event) = conn.poll_event().unwrap() {
                if let Event::HandshakeRequest(_) = event {
                    conn.accept(&Accept::new()).unwrap();
                }
            }
            let out = conn.take_outbound();
            tcp.write_all(&out).await.unwrap();
            if conn.is_closed() {
                break;
            }
            let n = tcp.read(&mut buf).await.unwrap();
            conn.receive(&buf[..n]);
        }
        let _ = closed_rx.await;
        drop(tcp);
    });
    let mut config = Config::default();
    config.close_timeout = Some(std::time::Duration::from_millis(300));
    let options = ConnectOptions::new().config(config);
    let mut ws = connect_with(&format!("ws://{addr}/"), options)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        ws.close(CloseCode::NORMAL, ""),
    )
    .await
    .expect("the close timeout ends the wait");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(300),
        "gave up after {waited:?}, before the close timeout"
    );
    // The server did answer, so the closing handshake completed: only the transport was
    // left open, and the client closed it itself.
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
    let _ = closed_tx.send(());
}
