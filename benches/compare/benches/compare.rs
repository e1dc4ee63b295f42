//! The same in-memory workloads through sockless, tungstenite and fastwebsockets, each next to
//! floors measured on the same bytes in the same run: receiving masked client frames as a
//! server, receiving text, sending frames, and the server's opening handshake. The floors are
//! a deliberately minimal codec ([`floor`]: header, unmask, payload out; header, mask,
//! payload in), `memcpy`, `core::str::from_utf8` and simdutf8 on the text, and the accept
//! key alone; ratios are only ever taken between rows of one run (`report.py`).
//!
//! Fairness rules, kept by every group:
//! - Input arrives the way a socket hands it over: copied once into the implementation, at
//!   most [`READ`] bytes per read. sockless gets `receive(&chunk)` of the input's 64 KiB
//!   chunks; tungstenite reads from a `std::io::Read` and fastwebsockets from a tokio
//!   `AsyncRead` ([`Wire`]) that hand out the same input in reads of at most 64 KiB, starting
//!   over at its end (the peers own their stream and may read ahead; a pass is a count of
//!   messages, not of reads).
//! - Output goes to a sink that takes every byte at once ([`Wire`] for the peers,
//!   `advance_outbound` for sockless): what is measured is the work until the bytes are ready
//!   for the transport, not a copy into a socket.
//! - Each implementation runs with its default configuration, through the read path its
//!   users get by default: sockless's `poll_event` (and `poll_borrowed`, its lending
//!   variant), tungstenite's `WebSocket::read` over a `std::io::Read`, fastwebsockets'
//!   `FragmentCollector::read_frame` (the reader of its upgrade and client examples, and its
//!   only one that yields whole messages with their text checked, as the others do).
//! - Before anything is timed, each implementation's output is checked byte for byte against
//!   what the workload must give (payloads compared, messages counted, invalid UTF-8
//!   rejected, sent frames parsed back by an independent parser in this file); every timed
//!   pass also asserts its message and byte counts, so that a broken decoder fails the bench
//!   instead of speeding it up.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use fastwebsockets as fws;
use rand_core::{Rng, SeedableRng};
use sockless::handshake::Accept;
use sockless::{Config, Connection, Event, Message, Role};
use sockless_compare::floor;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::runtime::Runtime;
use tungstenite::protocol::Role as TungRole;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The most bytes one read hands over: a 64 KiB read buffer, as in sockless-tokio's driver.
const READ: usize = 64 * KIB;

/// Frames per pass in the small-frame receive benchmarks.
const FRAMES: usize = 100_000;

/// Frames per iteration in the small-frame send benchmarks.
const SENDS: usize = 1000;

/// The masking key of every client frame built here (RFC 6455 §5.7's example).
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;

/// "16B", "1KiB", "16MiB".
fn size_label(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{}MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{}KiB", n / KIB)
    } else {
        format!("{n}B")
    }
}

/// `n` bytes that vary, so that no implementation meets a constant it could shortcut.
fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(29) ^ ((i >> 9) as u8))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Frames on the wire, built and parsed here without any of the compared crates, so that no
// implementation checks itself.

/// Appends one masked frame, as a client sends it (RFC 6455 §5.2).
fn push_client_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8]) {
    out.push((u8::from(fin) << 7) | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
}

/// One frame as parsed back from an implementation's output.
struct ParsedFrame {
    fin: bool,
    opcode: u8,
    masked: bool,
    payload: Vec<u8>,
}

/// Parses a run of complete frames; panics on anything malformed or cut short.
fn parse_frames(mut wire: &[u8]) -> Vec<ParsedFrame> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        assert!(wire.len() >= 2, "truncated header");
        let (b0, b1) = (wire[0], wire[1]);
        assert_eq!(b0 & 0x70, 0, "reserved bits set");
        let masked = b1 & 0x80 != 0;
        let (len, mut at) = match b1 & 0x7f {
            126 => (u16::from_be_bytes([wire[2], wire[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(wire[2..10].try_into().expect("8 bytes")) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let key = if masked {
            let key: [u8; 4] = wire[at..at + 4].try_into().expect("4 bytes");
            at += 4;
            Some(key)
        } else {
            None
        };
        assert!(wire.len() >= at + len, "truncated payload");
        let mut payload = wire[at..at + len].to_vec();
        if let Some(key) = key {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        frames.push(ParsedFrame {
            fin: b0 & 0x80 != 0,
            opcode: b0 & 0x0f,
            masked,
            payload,
        });
        wire = &wire[at + len..];
    }
    frames
}

/// Checks that `wire` holds exactly `count` final binary frames carrying `payload`, masked
/// or not as `masked` says.
fn check_sent(name: &str, wire: &[u8], count: usize, payload: &[u8], masked: bool) {
    let frames = parse_frames(wire);
    assert_eq!(frames.len(), count, "{name}: frame count");
    for frame in frames {
        assert!(frame.fin && frame.opcode == OP_BINARY, "{name}: frame kind");
        assert_eq!(frame.masked, masked, "{name}: masking");
        assert!(frame.payload == payload, "{name}: payload differs");
    }
}

// ---------------------------------------------------------------------------------------
// The in-memory transport.

/// A socket stand-in for the peers: reads hand out `input` in order, at most [`READ`] bytes
/// at a time, and start over at its end when `looping` (an endless stream of the same
/// frames) or return end-of-stream otherwise. Writes take everything at once; they are
/// counted, and kept only when `keep` is set (to check them outside the timing).
struct Wire<'a> {
    input: &'a [u8],
    pos: usize,
    looping: bool,
    keep: bool,
    kept: Vec<u8>,
    /// Bytes written, shared so that it can be read while a peer owns the wire.
    written: Rc<Cell<u64>>,
}

impl<'a> Wire<'a> {
    /// Endless input: `input` over and over.
    fn looping(input: &'a [u8]) -> Wire<'a> {
        Wire {
            input,
            pos: 0,
            looping: true,
            keep: false,
            kept: Vec::new(),
            written: Rc::default(),
        }
    }

    /// `input` once, then end-of-stream; what is written is kept.
    fn once(input: &'a [u8]) -> Wire<'a> {
        Wire {
            looping: false,
            keep: true,
            ..Wire::looping(input)
        }
    }

    /// No input; writes counted and dropped (or kept, when `keep`).
    fn sink(keep: bool) -> Wire<'static> {
        Wire {
            keep,
            ..Wire::once(&[])
        }
    }

    /// The next read's bytes, for a reader with `room` bytes of space.
    fn next_read(&mut self, room: usize) -> &'a [u8] {
        if self.pos == self.input.len() {
            if !self.looping || self.input.is_empty() {
                return &[];
            }
            self.pos = 0;
        }
        let n = room.min(READ).min(self.input.len() - self.pos);
        let read = &self.input[self.pos..self.pos + n];
        self.pos += n;
        read
    }

    fn record(&mut self, data: &[u8]) {
        self.written.set(self.written.get() + data.len() as u64);
        if self.keep {
            self.kept.extend_from_slice(data);
        }
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.next_read(buf.len());
        buf[..read.len()].copy_from_slice(read);
        Ok(read.len())
    }
}

impl Write for Wire<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.record(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Wire<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read = this.next_read(buf.remaining());
        buf.put_slice(read);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().record(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut n = 0;
        for buf in bufs {
            this.record(buf);
            n += buf.len();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A runtime for fastwebsockets' async API; the in-memory wire never pends, so `block_on`
/// only polls.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
}

// ---------------------------------------------------------------------------------------
// One pass of receiving through each implementation. `each` sees every data message; any
// other event means the bench fed the wrong bytes.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

/// sockless: the input in 64 KiB reads, events polled after each, as a driver does.
fn sockless_pass(
    conn: &mut Connection,
    input: &[u8],
    mut each: impl FnMut(Kind, &[u8]),
) -> Result<(), sockless::Error> {
    for read in input.chunks(READ) {
        conn.receive(read);
        while let Some(event) = conn.poll_event()? {
            match event {
                Event::Message(Message::Binary(data)) => each(Kind::Binary, &data),
                Event::Message(Message::Text(text)) => each(Kind::Text, text.as_bytes()),
                other => panic!("sockless: unexpected event {other:?}"),
            }
        }
    }
    Ok(())
}

/// sockless with borrowed events (`poll_borrowed`): payloads lent from its buffers.
fn sockless_borrowed_pass(
    conn: &mut Connection,
    input: &[u8],
    mut each: impl FnMut(Kind, &[u8]),
) -> Result<(), sockless::Error> {
    for read in input.chunks(READ) {
        conn.receive(read);
        while let Some(event) = conn.poll_borrowed()? {
            match event {
                sockless::BorrowedEvent::Message(sockless::MessageRef::Binary(data)) => {
                    each(Kind::Binary, data)
                }
                sockless::BorrowedEvent::Message(sockless::MessageRef::Text(text)) => {
                    each(Kind::Text, text.as_bytes())
                }
                sockless::BorrowedEvent::Other(Event::Message(Message::Binary(data))) => {
                    each(Kind::Binary, &data)
                }
                sockless::BorrowedEvent::Other(Event::Message(Message::Text(text))) => {
                    each(Kind::Text, text.as_bytes())
                }
                other => panic!("sockless: unexpected event {other:?}"),
            }
        }
    }
    Ok(())
}

/// tungstenite: `messages` calls to `read`.
fn tungstenite_pass(
    ws: &mut tungstenite::WebSocket<Wire<'_>>,
    messages: usize,
    mut each: impl FnMut(Kind, &[u8]),
) -> tungstenite::Result<()> {
    for _ in 0..messages {
        match ws.read()? {
            tungstenite::Message::Binary(data) => each(Kind::Binary, &data),
            tungstenite::Message::Text(text) => each(Kind::Text, text.as_bytes()),
            other => panic!("tungstenite: unexpected message {other:?}"),
        }
    }
    Ok(())
}

/// fastwebsockets' message reader: a `FragmentCollector` around a server `WebSocket`.
///
/// The collector, not the bare `WebSocket`, because it is what fastwebsockets' own upgrade
/// and client examples read with, and the one of its readers that gives what sockless and
/// tungstenite give: whole messages, text checked across fragments (the bare `WebSocket`
/// hands out fragments and checks the UTF-8 of final frames only). On final frames it adds
/// almost nothing to the bare reader: it hands each frame through.
fn fastwebsockets_reader(wire: Wire<'_>) -> fws::FragmentCollector<Wire<'_>> {
    fws::FragmentCollector::new(fws::WebSocket::after_handshake(wire, fws::Role::Server))
}

/// fastwebsockets: `messages` calls to `read_frame`, under one `block_on`.
fn fastwebsockets_pass(
    rt: &Runtime,
    ws: &mut fws::FragmentCollector<Wire<'_>>,
    messages: usize,
    mut each: impl FnMut(Kind, &[u8]),
) -> Result<(), fws::WebSocketError> {
    rt.block_on(async {
        for _ in 0..messages {
            let frame = ws.read_frame().await?;
            assert!(frame.fin, "fastwebsockets: a non-final frame came out");
            match frame.opcode {
                fws::OpCode::Binary => each(Kind::Binary, &frame.payload),
                fws::OpCode::Text => each(Kind::Text, &frame.payload),
                other => panic!("fastwebsockets: unexpected opcode {other:?}"),
            }
        }
        Ok(())
    })
}

/// The kind of a data frame's opcode, for the floor, which leaves opcodes to its caller.
fn floor_kind(fin: bool, opcode: u8) -> Kind {
    assert!(fin, "floor: a non-final frame came out");
    match opcode {
        OP_TEXT => Kind::Text,
        OP_BINARY => Kind::Binary,
        other => panic!("floor: unexpected opcode {other:#x}"),
    }
}

/// The floor codec: the input in 64 KiB reads, as sockless gets it, each frame's payload
/// split off as `Bytes` (the owned variant, to set against `poll_event`).
fn floor_pass(dec: &mut floor::Decoder, input: &[u8], mut each: impl FnMut(Kind, &[u8])) {
    for read in input.chunks(READ) {
        dec.receive(read);
        while let Some(frame) = dec.poll().expect("a length that fits") {
            each(floor_kind(frame.fin, frame.opcode), &frame.payload);
        }
    }
}

/// The floor codec with payloads lent from its buffer (to set against `poll_borrowed`).
fn floor_borrowed_pass(dec: &mut floor::Decoder, input: &[u8], mut each: impl FnMut(Kind, &[u8])) {
    for read in input.chunks(READ) {
        dec.receive(read);
        while let Some(frame) = dec.poll_borrowed().expect("a length that fits") {
            each(floor_kind(frame.fin, frame.opcode), frame.payload);
        }
    }
}

/// Counts messages and payload bytes, asserting the kind: the check of every timed pass.
fn counter(kind: Kind, tally: &mut (usize, usize)) -> impl FnMut(Kind, &[u8]) + '_ {
    move |k, payload| {
        assert_eq!(k, kind);
        tally.0 += 1;
        tally.1 += payload.len();
    }
}

/// Compares every message with the expected payload: the check before timing.
fn comparer<'a>(
    name: &'a str,
    kind: Kind,
    expected: &'a [u8],
    seen: &'a mut usize,
) -> impl FnMut(Kind, &[u8]) + 'a {
    move |k, payload| {
        assert_eq!(k, kind, "{name}: message kind");
        assert!(payload == expected, "{name}: payload differs");
        *seen += 1;
    }
}

/// `dst.copy_from_slice(src)`: the floor for anything that moves the bytes once.
fn bench_memcpy(g: &mut BenchmarkGroup<'_, WallTime>, id: BenchmarkId, src: &[u8]) {
    let mut dst = vec![0u8; src.len()];
    g.bench_function(id, |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(src));
            black_box(&mut dst);
        })
    });
}

/// The same copy in [`READ`]-sized pieces into one 64 KiB buffer: the floor for reading
/// through a read buffer that stays in cache (but keeps nothing).
fn bench_memcpy_reads(g: &mut BenchmarkGroup<'_, WallTime>, id: BenchmarkId, src: &[u8]) {
    let mut dst = vec![0u8; READ];
    g.bench_function(id, |b| {
        b.iter(|| {
            for read in black_box(src).chunks(READ) {
                dst[..read.len()].copy_from_slice(read);
                black_box(&mut dst);
            }
        })
    });
}

// ---------------------------------------------------------------------------------------
// Receive: masked binary frames, server side.

/// Receives `count` masked binary frames of `payload` (all in `input`) through every
/// implementation, after checking that each gives back exactly those payloads.
fn receive_case(
    g: &mut BenchmarkGroup<'_, WallTime>,
    label: &str,
    input: &[u8],
    payload: &[u8],
    count: usize,
) {
    let expected = (count, count * payload.len());
    g.throughput(Throughput::ElementsAndBytes {
        elements: count as u64,
        bytes: input.len() as u64,
    });
    let rt = runtime();

    // Checked first, each on a fresh connection: every payload byte compared.
    let mut seen = 0;
    let mut conn = Connection::open(Role::Server, Config::default());
    sockless_pass(
        &mut conn,
        input,
        comparer("sockless", Kind::Binary, payload, &mut seen),
    )
    .expect("sockless accepts the frames");
    assert_eq!(seen, count, "sockless: message count");

    let mut seen = 0;
    let mut conn = Connection::open(Role::Server, Config::default());
    sockless_borrowed_pass(
        &mut conn,
        input,
        comparer("sockless_borrowed", Kind::Binary, payload, &mut seen),
    )
    .expect("sockless accepts the frames");
    assert_eq!(seen, count, "sockless_borrowed: message count");

    let mut seen = 0;
    let mut ws =
        tungstenite::WebSocket::from_raw_socket(Wire::looping(input), TungRole::Server, None);
    tungstenite_pass(
        &mut ws,
        count,
        comparer("tungstenite", Kind::Binary, payload, &mut seen),
    )
    .expect("tungstenite accepts the frames");
    assert_eq!(seen, count, "tungstenite: message count");

    let mut seen = 0;
    let mut ws = fastwebsockets_reader(Wire::looping(input));
    fastwebsockets_pass(
        &rt,
        &mut ws,
        count,
        comparer("fastwebsockets", Kind::Binary, payload, &mut seen),
    )
    .expect("fastwebsockets accepts the frames");
    assert_eq!(seen, count, "fastwebsockets: message count");

    let mut seen = 0;
    floor_pass(
        &mut floor::Decoder::new(),
        input,
        comparer("floor", Kind::Binary, payload, &mut seen),
    );
    assert_eq!(seen, count, "floor: message count");

    let mut seen = 0;
    floor_borrowed_pass(
        &mut floor::Decoder::new(),
        input,
        comparer("floor_borrowed", Kind::Binary, payload, &mut seen),
    );
    assert_eq!(seen, count, "floor_borrowed: message count");

    // Timed: the connections live across iterations, as on a long-lived socket.
    let mut conn = Connection::open(Role::Server, Config::default());
    g.bench_function(BenchmarkId::new("sockless", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            sockless_pass(
                &mut conn,
                black_box(input),
                counter(Kind::Binary, &mut tally),
            )
            .expect("valid frames");
            assert_eq!(tally, expected);
            tally
        })
    });

    let mut conn = Connection::open(Role::Server, Config::default());
    g.bench_function(BenchmarkId::new("sockless_borrowed", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            sockless_borrowed_pass(
                &mut conn,
                black_box(input),
                counter(Kind::Binary, &mut tally),
            )
            .expect("valid frames");
            assert_eq!(tally, expected);
            tally
        })
    });

    let mut ws =
        tungstenite::WebSocket::from_raw_socket(Wire::looping(input), TungRole::Server, None);
    g.bench_function(BenchmarkId::new("tungstenite", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            tungstenite_pass(&mut ws, count, counter(Kind::Binary, &mut tally))
                .expect("valid frames");
            assert_eq!(tally, expected);
            tally
        })
    });

    let mut ws = fastwebsockets_reader(Wire::looping(input));
    g.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            fastwebsockets_pass(&rt, &mut ws, count, counter(Kind::Binary, &mut tally))
                .expect("valid frames");
            assert_eq!(tally, expected);
            tally
        })
    });

    let mut dec = floor::Decoder::new();
    g.bench_function(BenchmarkId::new("floor", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            floor_pass(
                &mut dec,
                black_box(input),
                counter(Kind::Binary, &mut tally),
            );
            assert_eq!(tally, expected);
            tally
        })
    });

    let mut dec = floor::Decoder::new();
    g.bench_function(BenchmarkId::new("floor_borrowed", label), |b| {
        b.iter(|| {
            let mut tally = (0, 0);
            floor_borrowed_pass(
                &mut dec,
                black_box(input),
                counter(Kind::Binary, &mut tally),
            );
            assert_eq!(tally, expected);
            tally
        })
    });

    bench_memcpy(g, BenchmarkId::new("memcpy", label), input);
    bench_memcpy_reads(g, BenchmarkId::new("memcpy_64KiB_reads", label), input);
}

fn receive(c: &mut Criterion) {
    let mut g = c.benchmark_group("receive");
    // One iteration is milliseconds (100k frames, or 16 MiB): equal-sized samples.
    g.sampling_mode(SamplingMode::Flat);
    for size in [16, 125, KIB] {
        let payload = pattern(size);
        let mut input = Vec::with_capacity(FRAMES * (size + 14));
        for _ in 0..FRAMES {
            push_client_frame(&mut input, true, OP_BINARY, &payload);
        }
        receive_case(&mut g, &size_label(size), &input, &payload, FRAMES);
    }
    let payload = pattern(16 * MIB);
    let mut input = Vec::with_capacity(payload.len() + 14);
    push_client_frame(&mut input, true, OP_BINARY, &payload);
    receive_case(&mut g, "16MiB", &input, &payload, 1);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Text: 1 MiB of multi-byte UTF-8, one frame or 64 fragments.

/// 1 MiB of Korean and emoji, words separated by spaces, padded to exactly 1 MiB.
fn korean_text() -> String {
    const WORDS: [&str; 8] = [
        "웹소켓은",
        "양방향",
        "통신을",
        "🚀",
        "제공합니다",
        "😀🎉",
        "메시지가",
        "도착했어요🌏",
    ];
    let mut text = String::with_capacity(MIB);
    for word in WORDS.iter().cycle() {
        if text.len() + word.len() + 1 > MIB {
            break;
        }
        text.push_str(word);
        text.push(' ');
    }
    while text.len() < MIB {
        text.push(' ');
    }
    text
}

/// `bytes` as one masked text frame, or as `pieces` fragments of equal size (which end
/// inside code points wherever the size says so).
fn text_frames(bytes: &[u8], pieces: usize) -> Vec<u8> {
    data_frames(OP_TEXT, bytes, pieces)
}

/// `bytes` as one masked frame of `opcode`, or as `pieces` fragments of equal size.
fn data_frames(opcode: u8, bytes: &[u8], pieces: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + pieces * 14);
    let size = bytes.len().div_ceil(pieces);
    let count = bytes.chunks(size).count();
    for (i, piece) in bytes.chunks(size).enumerate() {
        let opcode = if i == 0 { opcode } else { OP_CONTINUATION };
        push_client_frame(&mut out, i + 1 == count, opcode, piece);
    }
    out
}

/// Whether each implementation rejects `input` (invalid text): (sockless, sockless
/// borrowed, tungstenite, fastwebsockets).
fn rejects(input: &[u8], rt: &Runtime) -> (bool, bool, bool, bool) {
    let mut conn = Connection::open(Role::Server, Config::default());
    let sockless = sockless_pass(&mut conn, input, |_, _| {}).is_err();
    let mut conn = Connection::open(Role::Server, Config::default());
    let borrowed = sockless_borrowed_pass(&mut conn, input, |_, _| {}).is_err();
    let mut ws = tungstenite::WebSocket::from_raw_socket(Wire::once(input), TungRole::Server, None);
    let tungstenite = tungstenite_pass(&mut ws, 1, |_, _| {}).is_err();
    let mut ws = fastwebsockets_reader(Wire::once(input));
    let fastwebsockets = fastwebsockets_pass(rt, &mut ws, 1, |_, _| {}).is_err();
    (sockless, borrowed, tungstenite, fastwebsockets)
}

fn text(c: &mut Criterion) {
    let text = korean_text();
    let bytes = text.as_bytes();
    assert_eq!(bytes.len(), MIB);
    let expected = (1, MIB);
    let rt = runtime();

    let mut g = c.benchmark_group("text");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(MIB as u64));
    for (label, pieces) in [("1_frame", 1), ("64_fragments", 64)] {
        let input = text_frames(bytes, pieces);

        // A 0xff byte halfway through (inside fragment 33 of 64) must fail every one.
        let mut broken = bytes.to_vec();
        broken[MIB / 2 + 1] = 0xff;
        assert_eq!(
            rejects(&text_frames(&broken, pieces), &rt),
            (true, true, true, true),
            "{label}: invalid UTF-8 accepted by \
             (sockless, sockless_borrowed, tungstenite, fastwebsockets)"
        );

        let mut seen = 0;
        let mut conn = Connection::open(Role::Server, Config::default());
        sockless_pass(
            &mut conn,
            &input,
            comparer("sockless", Kind::Text, bytes, &mut seen),
        )
        .expect("valid text");
        assert_eq!(seen, 1);
        let mut seen = 0;
        let mut conn = Connection::open(Role::Server, Config::default());
        sockless_borrowed_pass(
            &mut conn,
            &input,
            comparer("sockless_borrowed", Kind::Text, bytes, &mut seen),
        )
        .expect("valid text");
        assert_eq!(seen, 1);
        let mut seen = 0;
        let mut ws =
            tungstenite::WebSocket::from_raw_socket(Wire::looping(&input), TungRole::Server, None);
        tungstenite_pass(
            &mut ws,
            1,
            comparer("tungstenite", Kind::Text, bytes, &mut seen),
        )
        .expect("valid text");
        assert_eq!(seen, 1);
        let mut seen = 0;
        let mut ws = fastwebsockets_reader(Wire::looping(&input));
        fastwebsockets_pass(
            &rt,
            &mut ws,
            1,
            comparer("fastwebsockets", Kind::Text, bytes, &mut seen),
        )
        .expect("valid text");
        assert_eq!(seen, 1);

        let mut conn = Connection::open(Role::Server, Config::default());
        g.bench_function(BenchmarkId::new("sockless", label), |b| {
            b.iter(|| {
                let mut tally = (0, 0);
                sockless_pass(
                    &mut conn,
                    black_box(&input),
                    counter(Kind::Text, &mut tally),
                )
                .expect("valid text");
                assert_eq!(tally, expected);
                tally
            })
        });

        let mut conn = Connection::open(Role::Server, Config::default());
        g.bench_function(BenchmarkId::new("sockless_borrowed", label), |b| {
            b.iter(|| {
                let mut tally = (0, 0);
                sockless_borrowed_pass(
                    &mut conn,
                    black_box(&input),
                    counter(Kind::Text, &mut tally),
                )
                .expect("valid text");
                assert_eq!(tally, expected);
                tally
            })
        });

        let mut ws =
            tungstenite::WebSocket::from_raw_socket(Wire::looping(&input), TungRole::Server, None);
        g.bench_function(BenchmarkId::new("tungstenite", label), |b| {
            b.iter(|| {
                let mut tally = (0, 0);
                tungstenite_pass(&mut ws, 1, counter(Kind::Text, &mut tally)).expect("valid text");
                assert_eq!(tally, expected);
                tally
            })
        });

        // The same bytes as a binary message: what sockless spends besides validating, so
        // that text minus binary is the cost of validation, next to simdutf8 alone.
        let binary = data_frames(OP_BINARY, bytes, pieces);
        let mut seen = 0;
        let mut conn = Connection::open(Role::Server, Config::default());
        sockless_pass(
            &mut conn,
            &binary,
            comparer("sockless_binary", Kind::Binary, bytes, &mut seen),
        )
        .expect("valid frames");
        assert_eq!(seen, 1);
        let mut conn = Connection::open(Role::Server, Config::default());
        g.bench_function(BenchmarkId::new("sockless_binary", label), |b| {
            b.iter(|| {
                let mut tally = (0, 0);
                sockless_pass(
                    &mut conn,
                    black_box(&binary),
                    counter(Kind::Binary, &mut tally),
                )
                .expect("valid frames");
                assert_eq!(tally, expected);
                tally
            })
        });

        // The collector: the bare WebSocket would not check fragmented text at all.
        let mut ws = fastwebsockets_reader(Wire::looping(&input));
        g.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
            b.iter(|| {
                let mut tally = (0, 0);
                fastwebsockets_pass(&rt, &mut ws, 1, counter(Kind::Text, &mut tally))
                    .expect("valid text");
                assert_eq!(tally, expected);
                tally
            })
        });
    }
    // Validation alone on the same 1 MiB: the standard library's, and simdutf8's (the
    // target is text at simdutf8's speed). Its `basic` API: a yes or no, as a receiver
    // needs, which is its fastest.
    let mut broken = bytes.to_vec();
    broken[MIB / 2 + 1] = 0xff;
    assert!(simdutf8::basic::from_utf8(&broken).is_err());
    assert!(core::str::from_utf8(&broken).is_err());
    g.bench_function(BenchmarkId::new("from_utf8", "1MiB"), |b| {
        b.iter(|| core::str::from_utf8(black_box(bytes)).expect("valid").len())
    });
    g.bench_function(BenchmarkId::new("simdutf8", "1MiB"), |b| {
        b.iter(|| {
            simdutf8::basic::from_utf8(black_box(bytes))
                .expect("valid")
                .len()
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Send: binary frames, server (unmasked) and client (masked).

/// Sends `count` binary messages of `payload` per iteration through each implementation,
/// as `role`, after checking one batch of each one's output frame by frame.
fn send_case(
    g: &mut BenchmarkGroup<'_, WallTime>,
    label: &str,
    role: Role,
    payload: &[u8],
    count: usize,
) {
    // An equality test rather than a match: `Role` may grow `#[non_exhaustive]`.
    let masked = role == Role::Client;
    let (tung_role, fws_role) = if masked {
        (TungRole::Client, fws::Role::Client)
    } else {
        (TungRole::Server, fws::Role::Server)
    };
    let rt = runtime();
    // tungstenite's messages own their payload as `Bytes`; a clone is a reference count, the
    // cheapest way to hand it the same message again and again.
    let shared = Bytes::copy_from_slice(payload);

    let sockless_batch = |conn: &mut Connection| {
        for _ in 0..count {
            conn.send_binary(black_box(payload)).expect("open");
        }
    };
    let tungstenite_batch = |ws: &mut tungstenite::WebSocket<Wire<'_>>| {
        for _ in 0..count {
            ws.write(tungstenite::Message::Binary(black_box(&shared).clone()))
                .expect("in-memory sink");
        }
        ws.flush().expect("in-memory sink");
    };
    let fastwebsockets_batch = |ws: &mut fws::WebSocket<Wire<'_>>| {
        rt.block_on(async {
            for _ in 0..count {
                let frame = fws::Frame::binary(fws::Payload::Borrowed(black_box(payload)));
                ws.write_frame(frame).await.expect("in-memory sink");
            }
        })
    };
    let floor_batch = |sender: &mut FloorSender| {
        for _ in 0..count {
            let key = sender.rng.as_mut().map(|rng| rng.next_u32().to_ne_bytes());
            floor::encode(&mut sender.out, true, OP_BINARY, black_box(payload), key);
        }
    };

    // Checked first: one batch of each, parsed back frame by frame.
    let mut conn = Connection::open(role, Config::default());
    sockless_batch(&mut conn);
    check_sent("sockless", &conn.take_outbound(), count, payload, masked);
    let mut ws = tungstenite::WebSocket::from_raw_socket(Wire::sink(true), tung_role, None);
    tungstenite_batch(&mut ws);
    check_sent("tungstenite", &ws.get_ref().kept, count, payload, masked);
    let mut ws = fws::WebSocket::after_handshake(Wire::sink(true), fws_role);
    fastwebsockets_batch(&mut ws);
    check_sent(
        "fastwebsockets",
        &ws.into_inner().kept,
        count,
        payload,
        masked,
    );
    let mut sender = FloorSender::new(masked);
    floor_batch(&mut sender);
    check_sent("floor", &sender.out, count, payload, masked);

    // The wire size of one batch (a client adds a 4-byte key per frame), for throughput and
    // to check every timed batch against.
    let mut conn = Connection::open(role, Config::default());
    sockless_batch(&mut conn);
    let wire = conn.pending_outbound() as u64;
    conn.advance_outbound(wire as usize);
    g.throughput(Throughput::ElementsAndBytes {
        elements: count as u64,
        bytes: wire,
    });

    g.bench_function(BenchmarkId::new("sockless", label), |b| {
        b.iter(|| {
            sockless_batch(&mut conn);
            let n = conn.pending_outbound();
            assert_eq!(n as u64, wire);
            conn.advance_outbound(n);
            n
        })
    });

    let sink = Wire::sink(false);
    let written = sink.written.clone();
    let mut ws = tungstenite::WebSocket::from_raw_socket(sink, tung_role, None);
    g.bench_function(BenchmarkId::new("tungstenite", label), |b| {
        b.iter(|| {
            let before = written.get();
            tungstenite_batch(&mut ws);
            assert_eq!(written.get() - before, wire);
        })
    });

    let sink = Wire::sink(false);
    let written = sink.written.clone();
    let mut ws = fws::WebSocket::after_handshake(sink, fws_role);
    g.bench_function(BenchmarkId::new("fastwebsockets", label), |b| {
        b.iter(|| {
            let before = written.get();
            fastwebsockets_batch(&mut ws);
            assert_eq!(written.get() - before, wire);
        })
    });

    let mut sender = FloorSender::new(masked);
    g.bench_function(BenchmarkId::new("floor", label), |b| {
        b.iter(|| {
            floor_batch(&mut sender);
            let n = sender.out.len();
            assert_eq!(n as u64, wire);
            // Taken by the transport, as `advance_outbound(n)` is for sockless.
            sender.out.clear();
            n
        })
    });
}

/// The floor's sending side: an output buffer, and for a client the masking keys' source.
struct FloorSender {
    out: BytesMut,
    /// ChaCha12, as sockless's default `SystemRng` (seeded here with a constant: the keys'
    /// cost is what is measured, not their secrecy).
    rng: Option<chacha20::ChaCha12Rng>,
}

impl FloorSender {
    fn new(client: bool) -> FloorSender {
        FloorSender {
            out: BytesMut::new(),
            rng: client.then(|| chacha20::ChaCha12Rng::from_seed([7; 32])),
        }
    }
}

fn send(c: &mut Criterion) {
    let mut g = c.benchmark_group("send");
    let small = pattern(16);
    send_case(&mut g, "server_16B_x1000", Role::Server, &small, SENDS);
    send_case(&mut g, "client_16B_x1000", Role::Client, &small, SENDS);
    g.sampling_mode(SamplingMode::Flat);
    let large = pattern(16 * MIB);
    send_case(&mut g, "server_16MiB", Role::Server, &large, 1);
    send_case(&mut g, "client_16MiB", Role::Client, &large, 1);
    g.throughput(Throughput::Bytes(large.len() as u64));
    bench_memcpy(&mut g, BenchmarkId::new("memcpy", "16MiB"), &large);
    g.finish();
}

// ---------------------------------------------------------------------------------------
// Handshake: the upgrade request in, the 101 response out.

/// A browser's upgrade request (Chrome's headers, with the key of RFC 6455 §1.3), offering
/// permessage-deflate, which none of the servers here is configured to accept.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
Host: server.example.com\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,ko;q=0.8\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

const CLIENT_KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";
const EXPECTED_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// `Sec-WebSocket-Accept` for `key` (RFC 6455 §4.2.2): base64 of SHA-1 of the key and the
/// GUID, with the SHA-1 and base64 crates sockless itself uses, so that the row measures the
/// least a server's handshake must compute, written here because sockless's own function is
/// not part of the API this package may rely on.
fn accept_key(key: &[u8]) -> [u8; 28] {
    use base64::Engine as _;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key);
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let mut out = [0u8; 28];
    base64::engine::general_purpose::STANDARD
        .encode_slice(sha.digest().bytes(), &mut out)
        .expect("20 bytes encode to 28 base64 characters");
    out
}

/// sockless: a server connection from scratch to the queued 101 response.
fn sockless_handshake(request: &[u8]) -> usize {
    sockless_handshake_with(request, |response| {
        black_box(response);
    })
}

/// [`sockless_handshake`], handing the 101 response to `sink` before it is consumed, as
/// the other groups' sink takes every byte at once (`outbound`, then `advance_outbound`).
fn sockless_handshake_with(request: &[u8], sink: impl FnOnce(&[u8])) -> usize {
    let mut conn = Connection::server(Config::default());
    conn.receive(request);
    match conn.poll_event() {
        Ok(Some(Event::HandshakeRequest(_))) => {}
        other => panic!("sockless: expected the request, got {other:?}"),
    }
    conn.accept(&Accept::new()).expect("a valid request");
    sink(conn.outbound());
    let n = conn.pending_outbound();
    conn.advance_outbound(n);
    n
}

/// tungstenite: `accept` over an in-memory stream, to the written 101 response.
fn tungstenite_handshake(request: &[u8]) -> Vec<u8> {
    let ws = tungstenite::accept(Wire::once(request)).expect("a valid request");
    ws.into_inner().kept
}

/// A 101 response that carries the right accept key and no extension.
fn check_response(name: &str, response: &[u8]) {
    let text = std::str::from_utf8(response).expect("an HTTP head");
    let lower = text.to_ascii_lowercase();
    assert!(text.starts_with("HTTP/1.1 101 "), "{name}: {text}");
    assert!(text.ends_with("\r\n\r\n"), "{name}: {text}");
    assert!(
        lower.contains(&format!(
            "sec-websocket-accept: {}",
            EXPECTED_ACCEPT.to_ascii_lowercase()
        )),
        "{name}: {text}"
    );
    assert!(
        !lower.contains("sec-websocket-extensions"),
        "{name}: {text}"
    );
}

fn handshake(c: &mut Criterion) {
    sockless_handshake_with(REQUEST, |response| check_response("sockless", response));
    check_response("tungstenite", &tungstenite_handshake(REQUEST));
    assert_eq!(&accept_key(CLIENT_KEY), EXPECTED_ACCEPT.as_bytes());

    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("sockless", "request_to_101"), |b| {
        b.iter(|| sockless_handshake(black_box(REQUEST)))
    });
    g.bench_function(BenchmarkId::new("tungstenite", "request_to_101"), |b| {
        b.iter(|| tungstenite_handshake(black_box(REQUEST)))
    });
    g.bench_function(BenchmarkId::new("accept_key", "alone"), |b| {
        b.iter(|| accept_key(black_box(CLIENT_KEY)))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(2500))
        .sample_size(20);
    targets = receive, text, send, handshake
}
criterion_main!(benches);
