//! WebSockets over HTTP/2 (RFC 8441) on loopback TCP with h2 prior knowledge: the sockless
//! client's extended CONNECT against the sockless server, and raw h2 peers where a test
//! needs to send what a well-behaved socket never would.
#![cfg(feature = "h2")]

mod common;

use bytes::Bytes;
use futures_util::future::join_all;
use h2::RecvStream;
use h2::client::SendRequest;
use h2::server::SendResponse;
use sockless::handshake::{Accept, ClientOptions, H2Error, H2Request, Reject, ResponseError};
use sockless::{CloseCode, CloseFrame, Config, Message};
use sockless_tokio::Error;
use sockless_tokio::WebSocket;
use sockless_tokio::h2::{H2Failure, H2Stream};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Barrier, mpsc, oneshot};

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

/// Fails a test that hangs instead of letting it block the run.
async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("timed out")
}

/// An h2 server on loopback (prior knowledge, extended CONNECT enabled) handing each
/// request to `handler` in a task of its own. The counter is the TCP connections taken.
async fn h2_server<H, Fut>(handler: H) -> (SocketAddr, Arc<AtomicUsize>)
where
    H: Fn(http::Request<RecvStream>, SendResponse<Bytes>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (listener, addr) = common::listener().await;
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    tokio::spawn(async move {
        loop {
            let tcp = common::accept_tcp(&listener).await;
            counter.fetch_add(1, Ordering::SeqCst);
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut connection = sockless_tokio::h2::server_handshake(tcp).await.unwrap();
                // Accepting drives the whole connection, every stream's frames included.
                while let Some(Ok((request, respond))) = connection.accept().await {
                    tokio::spawn(handler(request, respond));
                }
            });
        }
    });
    (addr, connections)
}

/// An h2 client connection to `addr`, its connection task spawned.
async fn h2_client(addr: SocketAddr) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send_request, connection) = sockless_tokio::h2::client_handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    send_request
}

fn choose(request: &H2Request) -> Result<Accept, Reject> {
    Ok(match request.protocols().find(|p| PROTOCOLS.contains(p)) {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    })
}

/// How one server-side socket ended.
#[derive(Debug)]
struct Outcome {
    path: String,
    protocol: Option<String>,
    close: Option<CloseFrame>,
    end_stream: bool,
    error: Option<Error>,
}

/// A handler that accepts with `choose`, echoes until the socket ends, and reports how.
fn echo_handler(
    config: Config,
    outcomes: mpsc::UnboundedSender<Outcome>,
) -> impl Fn(
    http::Request<RecvStream>,
    SendResponse<Bytes>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>
+ Clone
+ Send
+ 'static {
    move |request, respond| {
        let config = config.clone();
        let outcomes = outcomes.clone();
        Box::pin(async move {
            let path = request.uri().path().to_owned();
            let mut ws = match sockless_tokio::h2::accept_with(request, respond, config, choose) {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = outcomes.send(Outcome {
                        path,
                        protocol: None,
                        close: None,
                        end_stream: false,
                        error: Some(e),
                    });
                    return;
                }
            };
            let mut error = None;
            while let Some(message) = ws.recv().await {
                let sent = match message {
                    Ok(message) => ws.send(message).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = sent {
                    error = Some(e);
                    break;
                }
            }
            let _ = outcomes.send(Outcome {
                path,
                protocol: ws.protocol().map(str::to_owned),
                close: ws.close_frame().cloned(),
                end_stream: ws.get_ref().is_end_stream(),
                error,
            });
        })
    }
}

fn offering_both() -> ClientOptions {
    ClientOptions::new()
        .protocol(PROTOCOLS[0])
        .protocol(PROTOCOLS[1])
}

async fn connect(
    send_request: &SendRequest<Bytes>,
    addr: SocketAddr,
    path: &str,
    options: ClientOptions,
    config: Config,
) -> Result<WebSocket<H2Stream>, Error> {
    let uri = format!("ws://{addr}{path}");
    sockless_tokio::h2::connect(&mut send_request.clone(), &uri, options, config).await
}

/// An extended CONNECT with these regular headers, sent without sockless's client.
async fn raw_connect(
    send_request: &SendRequest<Bytes>,
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> (http::Response<RecvStream>, h2::SendStream<Bytes>) {
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{addr}/raw"))
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    for (name, value) in headers {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    let mut send_request = send_request.clone().ready().await.unwrap();
    let (response, send) = send_request.send_request(request, false).unwrap();
    (response.await.unwrap(), send)
}

/// Everything the peer sends on `body` until its END_STREAM.
async fn read_to_end(body: &mut RecvStream) -> Vec<u8> {
    let mut got = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        got.extend_from_slice(&chunk);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_connect_chooses_offered_subprotocol_echoes_and_closes_with_end_stream() {
    within(async {
        let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(echo_handler(Config::default(), outcomes_tx)).await;
        let send_request = h2_client(addr).await;

        let mut ws = connect(
            &send_request,
            addr,
            "/chat",
            offering_both(),
            Config::default(),
        )
        .await
        .unwrap();
        assert_eq!(ws.protocol(), Some("chat"));

        for message in [
            Message::from("hello over h2"),
            Message::from(vec![0u8, 1, 2, 0xfe, 0xff]),
        ] {
            ws.send(message.clone()).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), message);
        }

        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
        assert!(
            ws.get_ref().is_end_stream(),
            "the server ended its side with a reset, not END_STREAM"
        );

        let outcome = outcomes.recv().await.unwrap();
        assert!(outcome.error.is_none(), "{outcome:?}");
        assert_eq!(outcome.path, "/chat");
        assert_eq!(outcome.protocol.as_deref(), Some("chat"));
        let close = outcome.close.expect("the server saw the close frame");
        assert_eq!(
            (close.code, close.reason.as_str()),
            (CloseCode::NORMAL, "bye")
        );
        assert!(
            outcome.end_stream,
            "the client ended its side with a reset, not END_STREAM"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_request_gets_the_callbacks_status_and_the_client_a_typed_error() {
    within(async {
        let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(move |request, respond| {
            let outcomes = outcomes_tx.clone();
            async move {
                let refuse = |_: &H2Request| Err(Reject::new(403).body("no"));
                let result =
                    sockless_tokio::h2::accept_with(request, respond, Config::default(), refuse);
                let _ = outcomes.send(result.err());
            }
        })
        .await;
        let send_request = h2_client(addr).await;

        let error = connect(&send_request, addr, "/", offering_both(), Config::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                Error::Protocol(sockless::Error::Response(ResponseError::Rejected {
                    status: 403
                }))
            ),
            "{error:?}"
        );
        let server_error = outcomes.recv().await.unwrap();
        assert!(
            matches!(server_error, Some(Error::Refused(403))),
            "{server_error:?}"
        );

        // The refusal's body reaches a client that reads it.
        let (addr2, _) = h2_server(|request, respond| async move {
            let refuse = |_: &H2Request| Err(Reject::new(403).body("no"));
            let _ = sockless_tokio::h2::accept_with(request, respond, Config::default(), refuse);
        })
        .await;
        let raw = h2_client(addr2).await;
        let (response, _send) = raw_connect(&raw, addr2, &[("sec-websocket-version", "13")]).await;
        assert_eq!(response.status(), 403);
        assert_eq!(read_to_end(&mut response.into_body()).await, b"no");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_version_is_answered_426_naming_version_13() {
    within(async {
        let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(echo_handler(Config::default(), outcomes_tx)).await;
        let send_request = h2_client(addr).await;

        let (response, _send) =
            raw_connect(&send_request, addr, &[("sec-websocket-version", "8")]).await;
        assert_eq!(response.status(), 426);
        assert_eq!(response.headers()["sec-websocket-version"], "13");

        let outcome = outcomes.recv().await.unwrap();
        assert!(
            matches!(
                outcome.error,
                Some(Error::H2(H2Failure::Request(H2Error::UnsupportedVersion)))
            ),
            "{outcome:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_refuses_a_server_that_did_not_enable_extended_connect() {
    within(async {
        let (listener, addr) = common::listener().await;
        tokio::spawn(async move {
            let tcp = common::accept_tcp(&listener).await;
            // Plain h2 defaults: no SETTINGS_ENABLE_CONNECT_PROTOCOL.
            let mut connection = h2::server::handshake(tcp).await.unwrap();
            while let Some(Ok(_)) = connection.accept().await {}
        });
        let send_request = h2_client(addr).await;
        let error = connect(&send_request, addr, "/", offering_both(), Config::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::H2(H2Failure::ExtendedConnectDisabled)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_streams_on_one_connection_echo_while_one_fails_alone() {
    const STREAMS: usize = 100;
    const ROUNDS: usize = 20;
    within(async {
        let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
        let (addr, connections) = h2_server(echo_handler(Config::default(), outcomes_tx)).await;
        let send_request = h2_client(addr).await;
        // Every socket is open before any of them sends: the failure happens while all
        // 100 streams are live on the connection.
        let barrier = Arc::new(Barrier::new(STREAMS));

        let mut tasks = Vec::new();
        for i in 1..STREAMS {
            let send_request = send_request.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let path = format!("/ws/{i}");
                let mut ws = connect(
                    &send_request,
                    addr,
                    &path,
                    offering_both(),
                    Config::default(),
                )
                .await
                .unwrap();
                barrier.wait().await;
                for round in 0..ROUNDS {
                    let text = Message::from(format!("stream {i} round {round}"));
                    ws.send(text.clone()).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), text);
                    let binary = Message::from(vec![i as u8; round + 1]);
                    ws.send(binary.clone()).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), binary);
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                ws.close_frame().map(|f| f.code)
            }));
        }

        // Stream 0 breaks RFC 6455: an unmasked frame from a client.
        let (response, mut send) =
            raw_connect(&send_request, addr, &[("sec-websocket-version", "13")]).await;
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        barrier.wait().await;
        send.send_data(Bytes::from_static(&[0x81, 0x02, b'h', b'i']), false)
            .unwrap();
        let close = read_to_end(&mut body).await;
        assert_eq!(close[0], 0x88, "a close frame: {close:?}");
        assert_eq!(
            u16::from_be_bytes([close[2], close[3]]),
            CloseCode::PROTOCOL_ERROR.0,
            "{close:?}"
        );
        send.send_data(Bytes::new(), true).unwrap();

        for code in join_all(tasks).await {
            assert_eq!(code.unwrap(), Some(CloseCode::NORMAL));
        }

        let mut failed = 0;
        let mut clean = 0;
        for _ in 0..STREAMS {
            let outcome = outcomes.recv().await.unwrap();
            if outcome.path == "/raw" {
                assert!(
                    matches!(
                        outcome.error,
                        Some(Error::Protocol(sockless::Error::Protocol(
                            sockless::ProtocolError::UnmaskedFrame
                        )))
                    ),
                    "{outcome:?}"
                );
                failed += 1;
            } else {
                assert!(outcome.error.is_none(), "{outcome:?}");
                assert_eq!(outcome.close.map(|f| f.code), Some(CloseCode::NORMAL));
                clean += 1;
            }
        }
        assert_eq!((failed, clean), (1, STREAMS - 1));

        // The connection outlived the failed stream: one more socket on it still works.
        let mut ws = connect(
            &send_request,
            addr,
            "/after",
            offering_both(),
            Config::default(),
        )
        .await
        .unwrap();
        ws.send("still here").await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::from("still here")
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_socket_resets_its_stream_and_the_peer_sees_an_abrupt_close() {
    within(async {
        let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(echo_handler(Config::default(), outcomes_tx)).await;
        let send_request = h2_client(addr).await;

        let mut ws = connect(
            &send_request,
            addr,
            "/dropped",
            offering_both(),
            Config::default(),
        )
        .await
        .unwrap();
        ws.send("one").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("one"));
        drop(ws);

        let outcome = outcomes.recv().await.unwrap();
        assert!(outcome.error.is_none(), "{outcome:?}");
        assert_eq!(
            outcome.close.as_ref().map(|f| f.code),
            Some(CloseCode::ABNORMAL)
        );
        assert!(!outcome.end_stream, "{outcome:?}");

        // A reset stream does not take the connection with it.
        let mut ws = connect(
            &send_request,
            addr,
            "/next",
            offering_both(),
            Config::default(),
        )
        .await
        .unwrap();
        ws.send("two").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::from("two"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_control_holds_back_a_sender_whose_peer_does_not_read() {
    const MESSAGES: usize = 256;
    const SIZE: usize = 16 * 1024;
    within(async {
        let (sockets_tx, mut sockets) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(move |request, respond| {
            let sockets = sockets_tx.clone();
            async move {
                let ws = sockless_tokio::h2::accept(request, respond).unwrap();
                // Held, not read.
                let _ = sockets.send(ws);
            }
        })
        .await;
        let send_request = h2_client(addr).await;
        let mut ws = connect(
            &send_request,
            addr,
            "/",
            ClientOptions::new(),
            Config::default(),
        )
        .await
        .unwrap();
        let mut server_ws = sockets.recv().await.unwrap();

        let queued = Arc::new(AtomicUsize::new(0));
        let progress = queued.clone();
        let (done_tx, done) = oneshot::channel();
        tokio::spawn(async move {
            for i in 0..MESSAGES {
                ws.feed(Message::from(vec![i as u8; SIZE])).await.unwrap();
                progress.fetch_add(1, Ordering::SeqCst);
            }
            ws.flush().await.unwrap();
            let _ = done_tx.send(ws);
        });

        // 4 MiB to send, against one stream window (64 KiB) and the core's high-water
        // mark (1 MiB): the sender has to stop well short of the end, and stay stopped.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stalled = queued.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(queued.load(Ordering::SeqCst), stalled, "still sending");
        let bound = (Config::default().outbound_high_water + 64 * 1024) / SIZE + 2;
        assert!(
            stalled > 0 && stalled <= bound,
            "{stalled} messages queued before the sender waited (at most {bound} expected)"
        );

        // Reading releases the window, and everything arrives, in order.
        for i in 0..MESSAGES {
            let message = server_ws.recv().await.unwrap().unwrap();
            assert_eq!(message, Message::from(vec![i as u8; SIZE]), "message {i}");
        }
        let mut ws = done.await.unwrap();
        // The server has to read on for the close to be answered.
        tokio::spawn(async move { while server_ws.recv().await.is_some() {} });
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[cfg(feature = "deflate")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permessage_deflate_is_negotiated_over_h2() {
    within(async {
        let mut config = Config::default();
        config.deflate = Some(sockless::deflate::DeflateConfig::default());
        let (outcomes_tx, _outcomes) = mpsc::unbounded_channel();
        let (addr, _) = h2_server(echo_handler(config.clone(), outcomes_tx)).await;
        let send_request = h2_client(addr).await;

        let (response, _send) = raw_connect(
            &send_request,
            addr,
            &[
                ("sec-websocket-version", "13"),
                (
                    "sec-websocket-extensions",
                    "permessage-deflate; client_max_window_bits",
                ),
            ],
        )
        .await;
        assert_eq!(response.status(), 200);
        let answer = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(answer.starts_with("permessage-deflate"), "{answer}");

        // Compressed both ways: a client that had not enabled it would fail on RSV1.
        let mut ws = connect(&send_request, addr, "/", ClientOptions::new(), config)
            .await
            .unwrap();
        let text = Message::from("compressible ".repeat(1000));
        ws.send(text.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}
