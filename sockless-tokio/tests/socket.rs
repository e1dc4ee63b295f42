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
