//! Heap use, measured with a counting global allocator: no allocation per message in the
//! steady state, and what a connection holds when idle, mid-message and after a large
//! message. One test function, so no other test allocates concurrently in this binary.

use sockless::codec::{FrameHeader, OpCode, apply_mask};
use sockless::{Config, Connection, Event, Message, Role};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::time::Duration;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    /// Counts only this test's thread: the test harness allocates on its own threads
    /// whenever it likes.
    static COUNTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(|c| c.get()).unwrap_or(false)
}
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        if counted() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller's layout is passed through as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counted() {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counted() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        if counted() {
            LIVE_BYTES.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.load(Ordering::Relaxed)
}

fn live() -> isize {
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn masked_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        mask: Some([1, 2, 3, 4]),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let (buf, n) = header.encode();
    let mut out = buf[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], [1, 2, 3, 4], 0);
    out
}

/// Server: one message per read, echoed; the driver drains the output in place.
fn server_echo_round(server: &mut Connection, read: &[u8]) {
    server.receive(read);
    while let Some(event) = server.poll_event().unwrap() {
        if let Event::Message(message) = event {
            server.send(&message).unwrap();
        }
    }
    server.advance_outbound(server.pending_outbound());
}

/// Client: sends a message, gets the server's answer (unmasked) in one read.
fn client_round(client: &mut Connection, answer: &[u8]) {
    client.send_text("ping over text").unwrap();
    client.advance_outbound(client.pending_outbound());
    client.receive(answer);
    while let Some(event) = client.poll_event().unwrap() {
        assert!(matches!(event, Event::Message(Message::Binary(_))));
    }
}

#[test]
fn heap_use_per_message_and_per_connection() {
    COUNTED.with(|c| c.set(true));
    kept_messages_hold_little_more_than_their_bytes();
    // ---- zero allocations per message in the steady state ----
    let text = masked_frame(OpCode::Text, "κόσμε, hello".repeat(10).as_bytes());
    let binary = masked_frame(OpCode::Binary, &[7; 1000]);
    let mut server = Connection::open(Role::Server, Config::default());
    for _ in 0..100 {
        server_echo_round(&mut server, &text);
        server_echo_round(&mut server, &binary);
    }
    let before = allocations();
    for _ in 0..10_000 {
        server_echo_round(&mut server, &text);
        server_echo_round(&mut server, &binary);
    }
    let server_allocs = allocations() - before;

    let answer = {
        let (buf, n) = FrameHeader::new(OpCode::Binary, 100).encode();
        let mut a = buf[..n].to_vec();
        a.extend_from_slice(&[9; 100]);
        a
    };
    let mut client = Connection::open(Role::Client, Config::default());
    for _ in 0..100 {
        client_round(&mut client, &answer);
    }
    let before = allocations();
    for _ in 0..10_000 {
        client_round(&mut client, &answer);
    }
    let client_allocs = allocations() - before;
    assert_eq!(
        (server_allocs, client_allocs),
        (0, 0),
        "allocations in 20 000 server and 10 000 client steady-state messages"
    );

    // ---- memory per connection ----
    let struct_size = size_of::<Connection>();
    // The test's own inputs, made before the baseline so they are not counted.
    let big = masked_frame(OpCode::Binary, &vec![3; 1 << 20]);
    let huge = masked_frame(OpCode::Binary, &vec![5; 16 << 20]);
    let base = live();
    let mut idle = Box::new(Connection::open(Role::Server, Config::default()));
    server_echo_round(&mut idle, &binary);
    idle.shrink_buffers();
    let idle_total = (live() - base) as usize;
    println!("size_of::<Connection>() = {struct_size} bytes");
    println!("idle server after shrink_buffers: {idle_total} bytes (struct + heap)");
    assert!(
        idle_total <= 512,
        "an idle open server connection holds {idle_total} bytes"
    );

    // Mid-message: half of a 1 MiB frame received.
    idle.receive(&big[..big.len() / 2]);
    assert_eq!(idle.poll_event().unwrap(), None);
    let mid = (live() - base) as usize;
    println!("mid-message (512 KiB of a 1 MiB frame buffered): {mid} bytes");
    idle.receive(&big[big.len() / 2..]);
    assert!(matches!(
        idle.poll_event().unwrap(),
        Some(Event::Message(_))
    ));

    // A 16 MiB message, without any explicit shrinking. Its frame is held whole; the
    // input buffer grows by doubling as the bytes arrive (never ahead of them), so the
    // allocations are logarithmic in the frame's size.
    let receive_huge = |conn: &mut Connection| {
        for piece in huge.chunks(64 * 1024) {
            conn.receive(piece);
            while let Some(event) = conn.poll_event().unwrap() {
                drop(event);
            }
        }
    };
    let before = allocations();
    receive_huge(&mut idle);
    let grow = allocations() - before;
    println!("allocations while receiving a 16 MiB frame in 64 KiB reads: {grow}");
    assert!(grow <= 10, "{grow} allocations for one 16 MiB frame");

    // The next one, within the buffer's linger, grows nothing: the buffer is reused.
    let before = allocations();
    receive_huge(&mut idle);
    let regrow = allocations() - before;
    println!("allocations for a second 16 MiB frame right after: {regrow}");
    assert_eq!(regrow, 0, "allocations for a second 16 MiB frame");

    // A second after its last use, at a `handle_timeout`, the large buffer is released.
    assert_eq!(
        idle.poll_timeout(),
        Some(Duration::ZERO),
        "the linger asks for the time"
    );
    idle.handle_timeout(Duration::from_secs(10));
    assert_eq!(idle.poll_timeout(), Some(Duration::from_secs(11)));
    idle.handle_timeout(Duration::from_millis(10_999));
    let lingering = (live() - base) as usize;
    println!("a 16 MiB message (dropped) later, within the linger: {lingering} bytes");
    assert!(
        lingering > 16 << 20,
        "{lingering} bytes: the large buffer was released before its linger ended"
    );
    idle.handle_timeout(Duration::from_secs(11));
    let after = (live() - base) as usize;
    println!("after the linger, buffers released: {after} bytes");
    assert!(
        after <= 64 * 1024 + 1024,
        "{after} bytes kept after a 16 MiB message"
    );
    assert_eq!(idle.poll_timeout(), None, "no timer is left running");
    drop(idle);

    // After a fragmented message (reassembled in the decoder's own buffer, which the message
    // then shares), dropped: `shrink_buffers` frees that buffer too.
    let fragmented: Vec<u8> = {
        let text = "κόσμε 🚀 ".repeat(100_000);
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(16 * 1024).collect();
        let mut out = Vec::new();
        for (i, piece) in pieces.iter().enumerate() {
            let opcode = if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            let header = FrameHeader {
                fin: i + 1 == pieces.len(),
                mask: Some([1, 2, 3, 4]),
                ..FrameHeader::new(opcode, piece.len() as u64)
            };
            let (buf, n) = header.encode();
            out.extend_from_slice(&buf[..n]);
            let start = out.len();
            out.extend_from_slice(piece);
            apply_mask(&mut out[start..], [1, 2, 3, 4], 0);
        }
        out
    };
    let base = live();
    let mut conn = Box::new(Connection::open(Role::Server, Config::default()));
    conn.receive(&fragmented);
    assert!(matches!(
        conn.poll_event().unwrap(),
        Some(Event::Message(Message::Text(_)))
    ));
    conn.shrink_buffers();
    let after_fragmented = (live() - base) as usize;
    println!("idle server after a fragmented message and shrink_buffers: {after_fragmented} bytes");
    assert!(
        after_fragmented <= 512,
        "an idle server holds {after_fragmented} bytes after a fragmented message"
    );
    drop(conn);

    // permessage-deflate state, per window size (both directions, one connection).
    #[cfg(feature = "deflate")]
    for bits in [9u8, 12, 15] {
        let params = sockless::deflate::DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: bits,
            client_max_window_bits: bits,
        };
        let mut client = Connection::open(Role::Client, Config::default());
        client.enable_deflate(&params);
        client.send_binary(&[1; 4096]).unwrap();
        let compressed = client.take_outbound();
        drop(client);
        for compress in [true, false] {
            let mut config = Config::default();
            let mut deflate = sockless::deflate::DeflateConfig::default();
            deflate.compress = compress;
            config.deflate = Some(deflate);
            let before = live();
            let mut conn = Connection::open(Role::Server, config);
            conn.enable_deflate(&params);
            // Inflate and compress once, so that lazily allocated state exists.
            conn.receive(&compressed);
            assert!(matches!(
                conn.poll_event().unwrap(),
                Some(Event::Message(_))
            ));
            conn.send_binary(&[1; 4096]).unwrap();
            conn.advance_outbound(conn.pending_outbound());
            conn.shrink_buffers();
            let heap = (live() - before) as usize;
            let what = if compress {
                "inflate + deflate"
            } else {
                "inflate only"
            };
            println!(
                "deflate at {bits} window bits, {what}: {} KiB of heap",
                heap / 1024
            );
            drop(conn);
        }
    }

    // ---- the server handshake: a few allocations, whatever the request ----
    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    let handshake = |read: &dyn Fn(&mut Connection)| {
        let before = allocations();
        let mut conn = Connection::server(Config::default());
        read(&mut conn);
        let Some(Event::HandshakeRequest(request)) = conn.poll_event().unwrap() else {
            panic!("no request");
        };
        assert_eq!(request.key(), "dGhlIHNhbXBsZSBub25jZQ==");
        conn.accept(&sockless::handshake::Accept::new()).unwrap();
        assert!(conn.outbound().starts_with(b"HTTP/1.1 101 "));
        allocations() - before
    };
    // The input buffer; httparse's header slots; the request's copy of the head and its
    // list of header lines; the shared request; the response.
    assert_eq!(handshake(&|conn| conn.receive(REQUEST)), 6);
    // A read handed over whole becomes the input buffer (the request copies its head, so
    // it does not keep the read).
    let roomy = handshake(&|conn| {
        let mut read = bytes::BytesMut::with_capacity(64 * 1024);
        read.extend_from_slice(REQUEST);
        conn.receive_bytes(read);
    });
    assert_eq!(
        roomy,
        1 + 5,
        "the caller's read buffer, then the same but the input"
    );
    // A request the application keeps holds its head, not the caller's read buffer,
    // even when the read came as an exact view of it (`split`, as `tokio`'s
    // `read_buf` users do).
    let before = live();
    let kept = {
        let mut reads = bytes::BytesMut::with_capacity(64 * 1024);
        reads.extend_from_slice(REQUEST);
        let mut conn = Connection::server(Config::default());
        conn.receive_bytes(reads.split());
        let Some(Event::HandshakeRequest(request)) = conn.poll_event().unwrap() else {
            panic!("no request");
        };
        request
    };
    let held = live() - before;
    assert!(
        held < 4096,
        "a kept request holds {held} bytes for a {}-byte head",
        REQUEST.len()
    );
    drop(kept);
}

/// Messages the application keeps hold at most a small multiple of their own size
/// (`MAX_PIN_FACTOR`, 8, plus the allocator's and `Bytes`' fixed overhead), whatever read
/// they came in: 10,000 kept 16-byte messages from 10,000 reads, and one kept message cut
/// from a read of 64 KiB.
fn kept_messages_hold_little_more_than_their_bytes() {
    let frame = masked_frame(OpCode::Binary, &[5; 16]);
    let mut conn = Connection::open(Role::Server, Config::default());
    let before = live();
    let mut kept = Vec::with_capacity(10_000);
    let vec_bytes = (live() - before) as usize;
    for _ in 0..10_000 {
        conn.receive(&frame);
        while let Some(event) = conn.poll_event().unwrap() {
            kept.push(event);
        }
    }
    let held = (live() - before) as usize - vec_bytes;
    println!("10,000 kept 16-byte messages from 10,000 reads: {held} bytes");
    assert_eq!(kept.len(), 10_000);
    assert!(held <= 10_000 * 16 * 8, "{held} bytes held");
    drop(kept);

    let mut read = Vec::new();
    while read.len() < 64 * 1024 {
        read.extend(masked_frame(OpCode::Binary, &[6; 16]));
    }
    let before = live();
    let one = {
        let mut conn = Connection::open(Role::Server, Config::default());
        conn.receive(&read);
        let first = conn.poll_event().unwrap();
        while conn.poll_event().unwrap().is_some() {}
        first
    };
    let held = (live() - before) as usize;
    println!("one kept 16-byte message from a 64 KiB read: {held} bytes");
    assert!(matches!(one, Some(Event::Message(Message::Binary(ref b))) if b.len() == 16));
    assert!(held <= 16 * 8, "{held} bytes held");
}
