//! The driving loop against a peer under the test's control: any chunking of the input,
//! cancel safety, pings answered by a task that only reads, backpressure, and the timers.
//!
//! The peer is a core `Connection` driven by hand over an in-memory duplex pipe, so the
//! tests choose exactly which bytes arrive when, and whether the peer reads at all.

use sockless::{CloseCode, Config, Connection, Event, Message, Role};
use sockless_tokio::{Error, WebSocket};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::time::timeout;

/// Long enough for anything that should happen at once, short enough to fail fast.
const PROMPTLY: Duration = Duration::from_secs(5);
/// How long to watch for something that must not happen.
const A_WHILE: Duration = Duration::from_millis(200);

/// A client endpoint driven by hand.
struct Peer {
    io: DuplexStream,
    conn: Connection,
    eof: bool,
}

impl Peer {
    fn new(io: DuplexStream) -> Peer {
        Peer {
            io,
            conn: Connection::open(Role::Client, Config::default()),
            eof: false,
        }
    }

    /// Writes everything the peer's connection owes.
    async fn flush(&mut self) {
        let out = self.conn.take_outbound();
        self.io.write_all(&out).await.unwrap();
    }

    /// The next event from the server, `None` at the end of the stream.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.conn.poll_event().unwrap() {
                return Some(event);
            }
            self.flush().await;
            if self.eof {
                return None;
            }
            let mut buf = [0u8; 4096];
            let n = self.io.read(&mut buf).await.unwrap();
            if n == 0 {
                self.conn.receive_eof();
                self.eof = true;
            } else {
                self.conn.receive(&buf[..n]);
            }
        }
    }

    async fn next_message(&mut self) -> Message {
        loop {
            match timeout(PROMPTLY, self.next_event()).await.unwrap() {
                Some(Event::Message(m)) => return m,
                Some(_) => {}
                None => panic!("the stream ended before a message"),
            }
        }
    }
}

fn server(io: DuplexStream, config: Config) -> WebSocket<DuplexStream> {
    WebSocket::from_connection(io, Connection::open(Role::Server, config))
}

/// The bytes of these messages as a client sends them, the second one in three fragments.
fn client_bytes() -> (Vec<u8>, Vec<Message>) {
    let mut c = Connection::open(Role::Client, Config::default());
    c.send_text("first").unwrap();
    c.send_fragment(sockless::MessageKind::Binary, b"ab", false)
        .unwrap();
    c.send_ping(b"in between").unwrap();
    c.send_fragment(sockless::MessageKind::Binary, b"cd", false)
        .unwrap();
    c.send_fragment(sockless::MessageKind::Binary, b"ef", true)
        .unwrap();
    c.send_text(&"é".repeat(3000)).unwrap();
    c.close(CloseCode::NORMAL, "bye").unwrap();
    let expected = vec![
        Message::from("first"),
        Message::from(b"abcdef".to_vec()),
        Message::from("é".repeat(3000)),
    ];
    (c.take_outbound().to_vec(), expected)
}

/// A transport that hands over its input `chunk` bytes at a time, saying "not ready"
/// before every other read (and waking at once), and keeps what is written.
struct Chunked {
    input: Vec<u8>,
    at: usize,
    chunk: usize,
    stall: bool,
    written: Vec<u8>,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.stall = !self.stall;
        if self.stall {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = self
            .chunk
            .min(self.input.len() - self.at)
            .min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.input[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Chunked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A server over `input` handed over `chunk` bytes at a time: every message it received,
/// and the socket (whose transport keeps what the server wrote).
async fn serve_in_chunks(input: &[u8], chunk: usize) -> (Vec<Message>, WebSocket<Chunked>) {
    let io = Chunked {
        input: input.to_vec(),
        at: 0,
        chunk,
        stall: false,
        written: Vec::new(),
    };
    let mut ws = WebSocket::from_connection(io, Connection::open(Role::Server, Config::default()));
    let mut got = Vec::new();
    while let Some(message) = ws.recv().await {
        got.push(message.unwrap());
    }
    (got, ws)
}

#[tokio::test]
async fn every_chunking_of_the_input_gives_the_same_messages_pong_and_close() {
    let (input, expected) = client_bytes();
    for chunk in [1, 2, 3, 5, 7, 13, 64, 1000, input.len()] {
        let (got, ws) = serve_in_chunks(&input, chunk).await;
        assert_eq!(got, expected, "chunk {chunk}");
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
        // What the server wrote: the pong, then the close answer.
        let mut peer = Connection::open(Role::Client, Config::default());
        peer.receive(&ws.get_ref().written);
        assert_eq!(
            peer.poll_event().unwrap(),
            Some(Event::Pong(bytes::Bytes::from_static(b"in between"))),
            "chunk {chunk}"
        );
        assert!(
            matches!(peer.poll_event().unwrap(), Some(Event::Close(f)) if f.code == CloseCode::NORMAL),
            "chunk {chunk}"
        );
    }
}

/// Frames larger than a read are read into the connection's own buffer after their first
/// read: the same messages, whatever the chunking and however many reads stall.
#[tokio::test]
async fn large_frames_arrive_whole_whatever_the_chunking() {
    let mut c = Connection::open(Role::Client, Config::default());
    let binary: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let text = "κόσμε 🚀 ".repeat(20_000);
    c.send_binary(&binary).unwrap();
    c.send_text(&text).unwrap();
    c.send_binary(&binary[..100_000]).unwrap();
    c.close(CloseCode::NORMAL, "").unwrap();
    let input = c.take_outbound().to_vec();
    let expected = vec![
        Message::from(binary.clone()),
        Message::from(text.clone()),
        Message::from(binary[..100_000].to_vec()),
    ];
    for chunk in [1000, 65_539, 1 << 20, input.len()] {
        let (got, ws) = serve_in_chunks(&input, chunk).await;
        assert!(got == expected, "chunk {chunk}: the messages differ");
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    }
}

#[tokio::test]
async fn recv_dropped_mid_message_loses_nothing() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let mut ws = server(a, Config::default());
    let mut peer = Peer::new(b);
    peer.conn.send_binary(&[7u8; 10_000]).unwrap();
    let bytes = peer.conn.take_outbound();
    // Half a frame, then a recv that is given up on.
    peer.io.write_all(&bytes[..5_000]).await.unwrap();
    assert!(
        timeout(A_WHILE, ws.recv()).await.is_err(),
        "half a message is no message"
    );
    peer.io.write_all(&bytes[5_000..]).await.unwrap();
    let message = timeout(PROMPTLY, ws.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(message, Message::from(vec![7u8; 10_000]));
}

#[tokio::test]
async fn a_reader_that_never_writes_answers_pings_and_completes_the_close() {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (mut reader, _writer) = server(a, Config::default()).split();
    let reading = tokio::spawn(async move {
        let mut messages = 0;
        while let Some(message) = reader.recv().await {
            message.unwrap();
            messages += 1;
        }
        (messages, reader.close_frame())
    });
    let mut peer = Peer::new(b);
    for i in 0..3u8 {
        peer.conn.send_ping(&[i]).unwrap();
        peer.flush().await;
        let pong = loop {
            match timeout(PROMPTLY, peer.next_event()).await.unwrap() {
                Some(Event::Pong(p)) => break p,
                Some(_) => {}
                None => panic!("closed before the pong"),
            }
        };
        assert_eq!(&pong[..], &[i]);
    }
    peer.conn.send_text("one").unwrap();
    peer.conn.close(CloseCode::GOING_AWAY, "leaving").unwrap();
    peer.flush().await;
    let answer = loop {
        match timeout(PROMPTLY, peer.next_event()).await.unwrap() {
            Some(Event::Close(frame)) => break frame,
            Some(_) => {}
            None => panic!("no close answer"),
        }
    };
    assert_eq!(answer.code, CloseCode::GOING_AWAY);
    // The server shuts the transport down after the answer.
    assert_eq!(timeout(PROMPTLY, peer.next_event()).await.unwrap(), None);
    let (messages, close) = reading.await.unwrap();
    assert_eq!(messages, 1);
    assert_eq!(close.unwrap().code, CloseCode::GOING_AWAY);
}

#[tokio::test]
async fn a_send_waits_above_the_high_water_mark_and_a_dropped_one_queues_all_or_nothing() {
    let mut config = Config::default();
    config.outbound_high_water = 16 * 1024;
    // A pipe that holds 4 KiB: the peer does not read until told to.
    let (a, b) = tokio::io::duplex(4 * 1024);
    let mut ws = server(a, config);
    let mut peer = Peer::new(b);

    // The first send queues its 64 KiB whole, then cannot finish writing: dropped there,
    // the message stays queued.
    let big = vec![1u8; 64 * 1024];
    assert!(timeout(A_WHILE, ws.send(big.clone())).await.is_err());
    let queued = ws.connection().pending_outbound();
    assert!(queued > 16 * 1024, "{queued} bytes queued");

    // Above the mark, a send waits for room and queues nothing when dropped.
    assert!(timeout(A_WHILE, ws.send("dropped")).await.is_err());
    assert_eq!(ws.connection().pending_outbound(), queued);

    // Once the peer reads, the output drains and sends go through again.
    let sending = tokio::spawn(async move {
        ws.send("after").await.unwrap();
        ws
    });
    assert_eq!(peer.next_message().await, Message::from(big));
    assert_eq!(peer.next_message().await, Message::from("after"));
    let ws = timeout(PROMPTLY, sending).await.unwrap().unwrap();
    assert_eq!(ws.connection().pending_outbound(), 0);
}

#[tokio::test]
async fn reading_pauses_while_the_peer_does_not_take_its_echoes() {
    let mut config = Config::default();
    config.outbound_high_water = 64 * 1024;
    let (a, b) = tokio::io::duplex(16 * 1024);
    let mut ws = server(a, config);
    let echo = tokio::spawn(async move {
        let mut most_owed = 0;
        while let Some(message) = ws.recv().await {
            ws.feed(message.unwrap()).await.unwrap();
            most_owed = most_owed.max(ws.connection().pending_outbound());
        }
        most_owed
    });
    let (mut rd, mut wr) = tokio::io::split(b);
    // 8 MiB of 1 KiB messages, and nobody reads the echoes: the server stops reading, so
    // the writes stall long before all of it is taken.
    let mut c = Connection::open(Role::Client, Config::default());
    for _ in 0..8 * 1024 {
        c.send_binary(&[3u8; 1024]).unwrap();
    }
    let flood = c.take_outbound();
    let total = flood.len();
    let writing = tokio::spawn(async move {
        wr.write_all(&flood).await.unwrap();
        wr
    });
    tokio::time::sleep(A_WHILE).await;
    assert!(
        !writing.is_finished(),
        "the server kept reading with its echoes unread"
    );

    // Reading the echoes releases it: every echo arrives.
    let mut echoed = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while echoed < total - 8 * 1024 * 4 {
        echoed += timeout(PROMPTLY, rd.read(&mut buf)).await.unwrap().unwrap();
    }
    let wr = timeout(PROMPTLY, writing).await.unwrap().unwrap();
    drop((rd, wr));
    let most_owed = timeout(PROMPTLY, echo).await.unwrap().unwrap();
    // The high-water mark, plus what one read's worth of messages adds.
    assert!(most_owed <= 64 * 1024 + 32 * 1024, "{most_owed} bytes owed");
}

#[tokio::test]
async fn keepalive_pings_a_quiet_peer_and_fails_a_silent_one() {
    let mut config = Config::default();
    config.keepalive = Some(sockless::Keepalive {
        interval: Duration::from_millis(50),
        timeout: Duration::from_millis(100),
    });
    let (a, b) = tokio::io::duplex(64 * 1024);
    let mut ws = server(a, config);
    let mut peer = Peer::new(b);
    let reading = tokio::spawn(async move { ws.recv().await });
    // The peer answers the first pings, then goes silent.
    for _ in 0..2 {
        loop {
            match timeout(PROMPTLY, peer.next_event()).await.unwrap() {
                Some(Event::Ping(_)) => break,
                Some(_) => {}
                None => panic!("closed while the peer answered"),
            }
        }
        peer.flush().await;
    }
    let result = timeout(PROMPTLY, reading).await.unwrap().unwrap();
    assert!(
        matches!(
            result,
            Some(Err(Error::Protocol(sockless::Error::KeepaliveTimeout)))
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_close_times_out_against_a_peer_that_never_answers() {
    let mut config = Config::default();
    config.close_timeout = Some(Duration::from_millis(200));
    let (a, _b) = tokio::io::duplex(64 * 1024);
    let mut ws = server(a, config);
    let started = std::time::Instant::now();
    let result = timeout(PROMPTLY, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap();
    assert!(
        matches!(result, Err(Error::Protocol(sockless::Error::CloseTimeout))),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
}

/// A peer that sends its close, and then never reads the reply (nor anything else owed).
async fn closed_by_a_peer_that_stops_reading(role: Role) -> Option<Result<Event, Error>> {
    let (ours, mut theirs) = tokio::io::duplex(64);
    let mut config = Config::default();
    config.close_timeout = Some(Duration::from_secs(2));
    let mut ws = WebSocket::from_connection(ours, Connection::open(role, config));
    ws.feed(Message::Binary(vec![0u8; 10_000].into()))
        .await
        .unwrap();
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut peer = Connection::open(peer_role, Config::default());
    peer.close(CloseCode::NORMAL, "").unwrap();
    theirs.write_all(&peer.take_outbound()).await.unwrap();
    let mut last = None;
    let ended = timeout(Duration::from_secs(3600), async {
        while let Some(event) = ws.recv_event().await {
            last = Some(event);
        }
    })
    .await;
    assert!(
        ended.is_ok(),
        "{role:?}: still open an hour after the peer's close (state {:?})",
        ws.connection().state()
    );
    drop(theirs);
    last
}

#[tokio::test(start_paused = true)]
async fn a_closed_connection_ends_within_the_close_timeout_when_the_peer_stops_reading() {
    for role in [Role::Server, Role::Client] {
        let started = tokio::time::Instant::now();
        let last = closed_by_a_peer_that_stops_reading(role).await;
        assert!(
            matches!(last, Some(Ok(Event::Close(_)))),
            "{role:?}: {last:?}"
        );
        assert!(
            started.elapsed() <= Duration::from_secs(5),
            "{role:?}: took {:?}",
            started.elapsed()
        );
    }
}

/// A transport whose reads fail (a TLS alert, say) and whose writes are counted.
struct FailingReads {
    inner: DuplexStream,
    written: usize,
}

impl AsyncRead for FailingReads {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, "tls alert")))
    }
}

impl AsyncWrite for FailingReads {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = written {
            self.written += n;
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn after_a_transport_error_sends_fail_instead_of_vanishing() {
    let (a, _b) = tokio::io::duplex(1 << 16);
    let io = FailingReads {
        inner: a,
        written: 0,
    };
    let mut ws = WebSocket::from_connection(io, Connection::open(Role::Server, Config::default()));
    let read = timeout(PROMPTLY, ws.recv()).await.unwrap();
    assert!(matches!(read, Some(Err(Error::Io(_)))), "{read:?}");
    let sent = timeout(PROMPTLY, ws.send("important")).await.unwrap();
    assert!(sent.is_err(), "send after the transport failed: {sent:?}");
    assert_eq!(ws.get_ref().written, 0);
    let (reader, mut writer) = ws.split();
    drop(reader);
    assert!(writer.send("also important").await.is_err());
}
