//! Throughput of the data path, layer by layer: unmasking, decoding many small frames,
//! decoding one large frame, UTF-8 validation of text, and encoding. Each group carries a
//! baseline (`memcpy`, `core::str::from_utf8`) measured on the same bytes, so the cost of
//! the protocol can be read as a ratio. `benches/README.md` says how to run it and what one
//! run gave.
//!
//! Runs are kept short (0.5 s warm-up, 2 s measurement, 20 samples): the bench shares a
//! small machine with other builds, and the whole of it should finish in a few minutes.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::BytesMut;
use criterion::measurement::WallTime;
use criterion::{
    BatchSize, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group,
    criterion_main,
};
use sockless::Utf8Bytes;
use sockless::codec::{FrameHeader, OpCode, apply_mask};
use sockless::{Config, Connection, Event, Message, Role};

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The masking key of RFC 6455 §5.7's example; any key costs the same.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// "16B", "64KiB", "16MiB": bench ids that read like the sizes they stand for.
fn size_label(n: usize) -> String {
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{}MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{}KiB", n / KIB)
    } else {
        format!("{n}B")
    }
}

/// `n` bytes that are neither constant nor trivially compressible, so no layer gets a
/// shortcut that real payloads would not.
fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add((i >> 8) as u8))
        .collect()
}

/// Appends one frame as a client sends it: masked with [`KEY`].
fn push_client_frame(out: &mut Vec<u8>, opcode: OpCode, fin: bool, payload: &[u8]) {
    let header = FrameHeader {
        fin,
        mask: Some(KEY),
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let (buf, n) = header.encode();
    out.extend_from_slice(&buf[..n]);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY, 0);
}

/// A server whose input limit fits the largest input fed in one `receive` here (100k frames
/// of 1 KiB, about 100 MB). The default (17 MiB) rightly refuses that much unread input
/// from a real socket; the bench hands it over at once only to time the decoder without a
/// read loop around it.
fn server() -> Connection {
    let mut config = Config::default();
    config.max_buffered_input = 128 * MIB;
    Connection::open(Role::Server, config)
}

/// Polls every event the input so far yields; returns (messages, payload bytes). Anything
/// but a data message means the bench fed the wrong bytes, so it panics.
fn drain(conn: &mut Connection) -> (usize, usize) {
    let (mut messages, mut bytes) = (0, 0);
    while let Some(event) = conn.poll_event().expect("the bench feeds valid frames") {
        match event {
            Event::Message(message) => {
                messages += 1;
                bytes += message.as_bytes().len();
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    (messages, bytes)
}

/// `dst.copy_from_slice(src)`, the floor for anything that must move the bytes once.
fn bench_memcpy(g: &mut BenchmarkGroup<'_, WallTime>, id: BenchmarkId, src: &[u8]) {
    let mut dst = vec![0u8; src.len()];
    g.bench_function(id, |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(src));
            black_box(&mut dst);
        })
    });
}

/// The textbook loop of RFC 6455 §5.3, one byte and one key lookup at a time.
fn naive_mask(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

fn unmask(c: &mut Criterion) {
    let mut g = c.benchmark_group("unmask");
    // 16 B is the payload of the small frames in `decode_small` and `encode`: where a
    // per-call setup cost shows, if unmasking has one.
    for size in [16, 125, 64 * KIB, 16 * MIB] {
        let label = size_label(size);
        g.throughput(Throughput::Bytes(size as u64));
        // Masking is its own inverse: iterations alternate masked and clear, same cost.
        let mut buf = pattern(size);
        g.bench_function(BenchmarkId::new("apply_mask", &label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY), 0))
        });
        if size == 16 || size == 64 * KIB {
            g.bench_function(BenchmarkId::new("naive_byte_loop", &label), |b| {
                b.iter(|| naive_mask(black_box(&mut buf), black_box(KEY)))
            });
        }
        bench_memcpy(&mut g, BenchmarkId::new("memcpy", &label), &buf);
    }
    g.finish();
}

fn decode_small(c: &mut Criterion) {
    const FRAMES: usize = 100_000;
    let mut g = c.benchmark_group("decode_small");
    // One iteration of the 1 KiB case is ~100 MB: equal-sized samples keep the run short.
    g.sampling_mode(SamplingMode::Flat);
    for size in [16, 125, KIB] {
        let label = size_label(size);
        let payload = pattern(size);
        let mut input = Vec::with_capacity(FRAMES * (size + 8));
        for _ in 0..FRAMES {
            push_client_frame(&mut input, OpCode::Binary, true, &payload);
        }
        let expected = (FRAMES, FRAMES * size);
        g.throughput(Throughput::ElementsAndBytes {
            elements: FRAMES as u64,
            bytes: input.len() as u64,
        });

        // Everything in one read, copied once into the connection.
        let mut conn = server();
        g.bench_function(BenchmarkId::new("connection", &label), |b| {
            b.iter(|| {
                conn.receive(black_box(&input));
                let got = drain(&mut conn);
                assert_eq!(got, expected);
                got
            })
        });

        // The same, with payloads borrowed instead of handed out as `Bytes`: checksummed so
        // that every payload byte is read.
        let mut conn = server();
        g.bench_function(BenchmarkId::new("connection_borrowed", &label), |b| {
            b.iter(|| {
                conn.receive(black_box(&input));
                let (mut messages, mut bytes, mut sum) = (0, 0, 0u64);
                while let Some(event) = conn.poll_borrowed().expect("valid frames") {
                    let sockless::BorrowedEvent::Message(message) = event else {
                        panic!("unexpected {event:?}")
                    };
                    let data = message.as_bytes();
                    messages += 1;
                    bytes += data.len();
                    sum += u64::from(data[0]) + u64::from(data[data.len() - 1]);
                }
                assert_eq!((messages, bytes), expected);
                black_box(sum)
            })
        });

        // The same bytes in 64 KiB reads, as a driver with a 64 KiB read buffer would
        // hand them over: each read is decoded while it is still in cache.
        let mut conn = server();
        g.bench_function(BenchmarkId::new("connection_64KiB_reads", &label), |b| {
            b.iter(|| {
                let mut got = (0, 0);
                for read in black_box(&input).chunks(64 * KIB) {
                    conn.receive(read);
                    let (messages, bytes) = drain(&mut conn);
                    got.0 += messages;
                    got.1 += bytes;
                }
                assert_eq!(got, expected);
                got
            })
        });

        bench_memcpy(&mut g, BenchmarkId::new("memcpy", &label), &input);
    }
    g.finish();
}

fn decode_large(c: &mut Criterion) {
    let size = 16 * MIB;
    let label = size_label(size);
    let mut input = Vec::with_capacity(size + 14);
    push_client_frame(&mut input, OpCode::Binary, true, &pattern(size));
    let expected = (1, size);

    let mut g = c.benchmark_group("decode_large");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(input.len() as u64));

    // One copy into the connection's buffer, one unmasking pass in place.
    let mut conn = server();
    g.bench_function(BenchmarkId::new("connection_receive", &label), |b| {
        b.iter(|| {
            conn.receive(black_box(&input));
            let got = drain(&mut conn);
            assert_eq!(got, expected);
            got
        })
    });

    // The driver's own buffer handed over: no copy, only the unmasking pass. Filling the
    // fresh buffer is setup, outside the timing.
    let mut conn = server();
    g.bench_function(BenchmarkId::new("connection_receive_bytes", &label), |b| {
        b.iter_batched(
            || BytesMut::from(&input[..]),
            |read| {
                conn.receive_bytes(read);
                let got = drain(&mut conn);
                assert_eq!(got, expected);
                got
            },
            BatchSize::PerIteration,
        )
    });

    bench_memcpy(&mut g, BenchmarkId::new("memcpy", &label), &input);
    g.finish();
}

/// 1 MiB of text: ASCII, or Korean and emoji with the spaces between words.
fn text_of(kind: &str) -> String {
    let words: &[&str] = match kind {
        "ascii" => &[
            "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog.",
        ],
        _ => &[
            "안녕하세요",
            "🌏🎉",
            "웹소켓",
            "메시지",
            "😀",
            "한국어",
            "텍스트",
            "🚀✨",
        ],
    };
    let mut text = String::with_capacity(MIB);
    'fill: loop {
        for word in words {
            if text.len() + word.len() + 1 > MIB {
                break 'fill;
            }
            text.push_str(word);
            text.push(' ');
        }
    }
    // Pad to exactly 1 MiB so that throughput figures are per MiB of text.
    while text.len() < MIB {
        text.push('.');
    }
    text
}

fn text(c: &mut Criterion) {
    const FRAGMENTS: usize = 64;
    let mut g = c.benchmark_group("text");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(MIB as u64));
    let mut received = None;
    for kind in ["ascii", "multibyte"] {
        let text = text_of(kind);
        let bytes = text.as_bytes();
        let expected = (1, bytes.len());

        let mut one_frame = Vec::with_capacity(bytes.len() + 14);
        push_client_frame(&mut one_frame, OpCode::Text, true, bytes);

        // In the multi-byte text, 38 of the 63 fragment boundaries fall inside a code point,
        // so the validator's carry-over between fragments is exercised.
        let piece = bytes.len() / FRAGMENTS;
        let mut fragmented = Vec::with_capacity(bytes.len() + FRAGMENTS * 8);
        for (i, chunk) in bytes.chunks(piece).enumerate() {
            let opcode = if i == 0 {
                OpCode::Text
            } else {
                OpCode::Continuation
            };
            push_client_frame(&mut fragmented, opcode, i == FRAGMENTS - 1, chunk);
        }

        let mut conn = server();
        g.bench_function(BenchmarkId::new("connection_1_frame", kind), |b| {
            b.iter(|| {
                conn.receive(black_box(&one_frame));
                let got = drain(&mut conn);
                assert_eq!(got, expected);
                got
            })
        });

        let mut conn = server();
        g.bench_function(BenchmarkId::new("connection_64_fragments", kind), |b| {
            b.iter(|| {
                conn.receive(black_box(&fragmented));
                let got = drain(&mut conn);
                assert_eq!(got, expected);
                got
            })
        });

        g.bench_function(BenchmarkId::new("from_utf8", kind), |b| {
            b.iter(|| core::str::from_utf8(black_box(bytes)).is_ok())
        });

        // The incremental validator alone (simdutf8 with the `simd` feature), in the 16 KiB
        // blocks the decoder feeds it.
        g.bench_function(BenchmarkId::new("validator", kind), |b| {
            b.iter(|| {
                let mut v = sockless::codec::Utf8Validator::new();
                for block in black_box(bytes).chunks(16 * KIB) {
                    v.feed(block).unwrap();
                }
                v.finish().is_ok()
            })
        });

        if kind == "multibyte" {
            let mut conn = server();
            conn.receive(&one_frame);
            match conn.poll_event() {
                Ok(Some(Event::Message(Message::Text(text)))) => received = Some(text),
                other => panic!("expected a text message, got {other:?}"),
            }
        }
    }

    // Reading a received text: `Utf8Bytes::as_str` trusts the validation done on receipt
    // (one of the crate's two `unsafe` blocks); without it every read would re-validate, as here.
    let received: Utf8Bytes = received.expect("received above");
    assert_eq!(received.len(), MIB);
    g.bench_function(BenchmarkId::new("received_as_str", "multibyte"), |b| {
        b.iter(|| black_box(&received).as_str().len())
    });
    g.bench_function(BenchmarkId::new("received_from_utf8", "multibyte"), |b| {
        b.iter(|| {
            core::str::from_utf8(black_box(&received).as_bytes())
                .expect("validated on receipt")
                .len()
        })
    });
    g.finish();
}

/// A xorshift64 generator: masking keys at almost no cost, to tell the encoder's own cost
/// from that of the OS random source a default client draws its keys from.
struct XorShift(u64);

impl rand_core::TryRng for XorShift {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        Ok(x)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// How the outbound buffer is emptied after each batch of sends.
#[derive(Clone, Copy)]
enum Drain {
    /// `advance_outbound(n)`, as after a write that took everything.
    Advance,
    /// `take_outbound()`, handing the bytes to a writer that owns them.
    Take,
}

/// A bench id, how to open the connection, and how to empty its outbound buffer.
type EncodeCase = (&'static str, fn() -> Connection, Drain);

fn encode(c: &mut Criterion) {
    const FRAMES: usize = 1000;
    let small = pattern(16);
    let mut g = c.benchmark_group("encode");

    let cases: [EncodeCase; 4] = [
        (
            "server",
            || Connection::open(Role::Server, Config::default()),
            Drain::Advance,
        ),
        (
            "server_take_outbound",
            || Connection::open(Role::Server, Config::default()),
            Drain::Take,
        ),
        (
            "client",
            || Connection::open(Role::Client, Config::default()),
            Drain::Advance,
        ),
        (
            "client_xorshift_rng",
            || Connection::open_with_rng(Role::Client, Config::default(), XorShift(0x9E37_79B9)),
            Drain::Advance,
        ),
    ];
    for (name, open, drain) in cases {
        let mut conn = open();
        // The wire size differs by role (a client adds a 4-byte key to every header).
        for _ in 0..FRAMES {
            conn.send_binary(&small).expect("open");
        }
        let wire = conn.take_outbound().len();
        g.throughput(Throughput::ElementsAndBytes {
            elements: FRAMES as u64,
            bytes: wire as u64,
        });
        g.bench_function(BenchmarkId::new(name, "16B_x1000"), |b| {
            b.iter(|| {
                for _ in 0..FRAMES {
                    conn.send_binary(black_box(&small)).expect("open");
                }
                let n = conn.pending_outbound();
                match drain {
                    Drain::Advance => conn.advance_outbound(n),
                    Drain::Take => drop(black_box(conn.take_outbound())),
                }
                n
            })
        });
    }

    let size = 16 * MIB;
    let label = size_label(size);
    let large = pattern(size);
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(size as u64));
    for role in [Role::Server, Role::Client] {
        let name = match role {
            Role::Server => "server",
            Role::Client => "client",
        };
        let mut conn = Connection::open(role, Config::default());
        g.bench_function(BenchmarkId::new(name, &label), |b| {
            b.iter(|| {
                conn.send_binary(black_box(&large)).expect("open");
                let n = conn.pending_outbound();
                conn.advance_outbound(n);
                n
            })
        });
    }
    bench_memcpy(&mut g, BenchmarkId::new("memcpy", &label), &large);
    g.finish();
}

/// The opening handshake as a server sees it: a browser's upgrade request in, the 101 out;
/// beside it, computing the `Sec-WebSocket-Accept` key alone (SHA-1 and base64), the part
/// no implementation can skip.
fn handshake(c: &mut Criterion) {
    const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n\
Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
Sec-WebSocket-Version: 13\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0\r\n\r\n";
    let mut g = c.benchmark_group("handshake");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    g.bench_function("server_request_to_101", |b| {
        b.iter(|| {
            let mut conn = Connection::server(Config::default());
            conn.receive(black_box(REQUEST));
            let Ok(Some(Event::HandshakeRequest(_))) = conn.poll_event() else {
                panic!("no request")
            };
            conn.accept(&sockless::handshake::Accept::new()).unwrap();
            // Written out as a transport would take it: borrowed, then consumed.
            assert!(black_box(conn.outbound()).starts_with(b"HTTP/1.1 101"));
            let n = conn.pending_outbound();
            conn.advance_outbound(n);
            n
        })
    });
    g.bench_function("accept_key_alone", |b| {
        b.iter(|| sockless::handshake::accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = unmask, decode_small, decode_large, text, encode, handshake
}
criterion_main!(benches);
