//! permessage-deflate throughput: compressing on send and inflating on receive, through a
//! whole `Connection`, on text (repetitive, like JSON) and binary (pseudo-random, barely
//! compressible), at 64 KiB and 1 MiB. Throughput is counted in uncompressed bytes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sockless::deflate::{DeflateConfig, DeflateParams};
use sockless::{Config, Connection, Event, Message, Role};

fn text(n: usize) -> Vec<u8> {
    let record = br#"{"id":12345,"user":"sockless","tags":["websocket","deflate"],"score":0.75},"#;
    record.iter().copied().cycle().take(n).collect()
}

fn binary(n: usize) -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn connection(role: Role) -> Connection {
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig::default());
    let mut conn = Connection::open(role, config);
    conn.enable_deflate(&DeflateParams::default());
    conn
}

fn deflate(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (kind, make) in [("text", text as fn(usize) -> Vec<u8>), ("binary", binary)] {
        for size in [64 << 10, 1 << 20] {
            let payload = make(size);
            let label = format!("{kind}/{}KiB", size >> 10);
            group.throughput(Throughput::Bytes(size as u64));

            let mut server = connection(Role::Server);
            group.bench_function(format!("compress/{label}"), |b| {
                b.iter(|| {
                    server.send_binary(black_box(&payload)).unwrap();
                    let n = server.pending_outbound();
                    server.advance_outbound(n);
                    n
                })
            });

            // One compressed message from a client, inflated by a fresh server each time so
            // that context takeover does not turn later messages into back-references.
            let mut client = connection(Role::Client);
            client.send_binary(&payload).unwrap();
            let wire = client.take_outbound();
            println!("{label}: {size} bytes compress to {}", wire.len());
            group.bench_function(format!("decompress/{label}"), |b| {
                b.iter_batched(
                    || connection(Role::Server),
                    |mut server| {
                        server.receive(&wire);
                        let Ok(Some(Event::Message(Message::Binary(data)))) = server.poll_event()
                        else {
                            panic!("no message")
                        };
                        assert_eq!(data.len(), size);
                        data
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, deflate);
criterion_main!(benches);
