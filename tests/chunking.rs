//! Chunking invariance: a transport may hand over the peer's bytes in any pieces, so the
//! events (and the bytes written back) must not depend on where the reads happened to end.
//!
//! Every test feeds the same client→server traffic to a server `Connection` in different
//! chunkings and compares against feeding it all at once, which is itself checked against
//! the events the traffic was built to produce.

mod common;

use bytes::{Bytes, BytesMut};
use common::{client_frame, close_payload, drain};
use proptest::prelude::*;
use sockless::codec::{FrameHeader, OpCode};
use sockless::{
    CloseCode, Config, Connection, Error, Event, Message, MessageKind, ProtocolError, ReceiveMode,
    Role, State,
};
use std::ops::Range;
use std::sync::LazyLock;

/// The big message: over 65 535 bytes, so its frame needs the 64-bit length form.
const BIG_LEN: usize = 70_000;

fn big_payload() -> Vec<u8> {
    (0..BIG_LEN).map(|i| (i * 31 % 251) as u8).collect()
}

/// 256 bytes: the 16-bit length form.
fn medium_binary() -> Vec<u8> {
    (0..=255u8).collect()
}

/// 400 bytes of two-byte code points: a 16-bit-length text frame.
fn medium_text() -> String {
    "ü".repeat(200)
}

const GREEK: &str = "κόσμε · 𝄞 · €uro";
const FRAGMENTED_TEXT: &str = "a€𝄞ö, then ascii";

/// Client→server traffic of every shape the decoder handles, ending with a close frame.
fn mixed_traffic() -> &'static [u8] {
    static TRAFFIC: LazyLock<Vec<u8>> = LazyLock::new(|| mixed_traffic_and_big_payload().0);
    &TRAFFIC
}

/// The traffic, and where the big frame's payload lies in it.
fn mixed_traffic_and_big_payload() -> (Vec<u8>, Range<usize>) {
    let mut t = Vec::new();
    let mut big_range = 0..0;
    let text = FRAGMENTED_TEXT.as_bytes();
    // 'a' | first byte of '€' — the rest of '€' and half of '𝄞' | nothing | the rest.
    let (f1, rest) = text.split_at(2);
    let (f2, f4) = rest.split_at(4);
    let big = big_payload();
    let frames: Vec<Vec<u8>> = vec![
        client_frame(OpCode::Text, true, b"Hello", 1),
        client_frame(OpCode::Text, true, GREEK.as_bytes(), 2),
        client_frame(OpCode::Binary, true, &medium_binary(), 3),
        client_frame(OpCode::Text, true, b"", 4),
        client_frame(OpCode::Binary, true, b"", 5),
        // A text message in four fragments, split inside code points, with control frames
        // between the fragments.
        client_frame(OpCode::Text, false, f1, 6),
        client_frame(OpCode::Ping, true, b"between", 7),
        client_frame(OpCode::Continuation, false, f2, 8),
        client_frame(OpCode::Continuation, false, b"", 9),
        client_frame(OpCode::Pong, true, b"unsolicited", 10),
        client_frame(OpCode::Continuation, true, f4, 11),
        // A binary message in three fragments.
        client_frame(OpCode::Binary, false, &[1, 2, 3], 12),
        client_frame(OpCode::Continuation, false, &[4; 130], 13),
        client_frame(OpCode::Ping, true, &[0xee; 125], 14),
        client_frame(OpCode::Continuation, true, &[5], 15),
        client_frame(OpCode::Text, true, medium_text().as_bytes(), 16),
        client_frame(OpCode::Binary, true, &big, 17),
        client_frame(OpCode::Ping, true, b"", 18),
        client_frame(OpCode::Text, true, b"after the big one", 19),
        client_frame(OpCode::Close, true, &close_payload(1000, "done"), 20),
    ];
    for f in frames {
        if f.len() > BIG_LEN {
            big_range = t.len() + f.len() - BIG_LEN..t.len() + f.len();
        }
        t.extend_from_slice(&f);
    }
    (t, big_range)
}

fn text(s: &str) -> Event {
    Event::Message(Message::Text(s.into()))
}

fn binary(b: &[u8]) -> Event {
    Event::Message(Message::Binary(Bytes::copy_from_slice(b)))
}

fn expected_events() -> Vec<Event> {
    let mut fragmented_binary = vec![1, 2, 3];
    fragmented_binary.extend_from_slice(&[4; 130]);
    fragmented_binary.push(5);
    vec![
        text("Hello"),
        text(GREEK),
        binary(&medium_binary()),
        text(""),
        binary(b""),
        Event::Ping(Bytes::from_static(b"between")),
        Event::Pong(Bytes::from_static(b"unsolicited")),
        text(FRAGMENTED_TEXT),
        Event::Ping(Bytes::from_static(&[0xee; 125])),
        binary(&fragmented_binary),
        text(&medium_text()),
        binary(&big_payload()),
        Event::Ping(Bytes::new()),
        text("after the big one"),
        Event::Close(sockless::CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".into(),
        }),
    ]
}

/// Valid traffic, then a text frame with a byte that can never appear in UTF-8 in the
/// middle of a long payload, then more traffic that must never be looked at.
fn traffic_with_invalid_utf8_mid_frame() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(client_frame(OpCode::Text, true, GREEK.as_bytes(), 1));
    t.extend(client_frame(OpCode::Ping, true, b"p", 2));
    t.extend(client_frame(OpCode::Binary, true, &medium_binary(), 3));
    let mut bad = "valid text κόσμε ".repeat(10).into_bytes();
    bad.push(0xff);
    bad.extend_from_slice("and a valid tail".repeat(10).as_bytes());
    t.extend(client_frame(OpCode::Text, true, &bad, 4));
    t.extend(client_frame(OpCode::Text, true, b"never delivered", 5));
    t
}

/// Valid traffic, then a fragmented text message whose last fragment ends inside a code
/// point: every byte is a valid prefix, and only the end of the message makes it invalid.
fn traffic_with_truncated_code_point() -> Vec<u8> {
    let euro = "€".as_bytes();
    let mut t = Vec::new();
    t.extend(client_frame(OpCode::Text, true, b"first", 1));
    t.extend(client_frame(OpCode::Text, false, b"starts fine ", 2));
    t.extend(client_frame(OpCode::Ping, true, b"", 3));
    t.extend(client_frame(OpCode::Continuation, true, &euro[..2], 4));
    t.extend(client_frame(OpCode::Binary, true, b"never delivered", 5));
    t
}

/// What a server did with some input.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<Event>,
    error: Option<Error>,
    outbound: Vec<u8>,
    state: State,
}

/// Feeds `pieces` to a fresh server in order, polling every event and writing out what it
/// owes after each piece (as a driver must), alternating between `receive` and `receive_bytes` when `use_bytes` is set.
fn feed<'a>(
    config: &Config,
    pieces: impl IntoIterator<Item = &'a [u8]>,
    use_bytes: bool,
) -> Outcome {
    let mut server = Connection::open(Role::Server, config.clone());
    let mut events = Vec::new();
    let mut error = None;
    let mut outbound = Vec::new();
    for (i, piece) in pieces.into_iter().enumerate() {
        if use_bytes && i % 2 == 1 {
            server.receive_bytes(BytesMut::from(piece));
        } else {
            server.receive(piece);
        }
        let (mut new, err) = drain(&mut server);
        if error.is_some() || matches!(events.last(), Some(Event::Close(_))) {
            assert!(new.is_empty(), "events after the end: {new:?}");
            assert!(err.is_none(), "a second error: {err:?}");
        }
        events.append(&mut new);
        if err.is_some() {
            error = err;
        }
        // Written before the next read, as a driver does: every pong goes out.
        outbound.extend_from_slice(&server.take_outbound());
    }
    Outcome {
        events,
        error,
        outbound,
        state: server.state(),
    }
}

/// Feeds all `pieces` to a fresh server before polling any event: the reads must not be
/// decoded out of order however much is buffered when they arrive.
fn feed_unpolled<'a>(config: &Config, pieces: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut server = Connection::open(Role::Server, config.clone());
    for piece in pieces {
        server.receive(piece);
    }
    let (events, error) = drain(&mut server);
    Outcome {
        events,
        error,
        outbound: server.take_outbound().to_vec(),
        state: server.state(),
    }
}

fn at_once(config: &Config, traffic: &[u8]) -> Outcome {
    feed(config, [traffic], false)
}

fn messages() -> Config {
    Config::default()
}

fn frames() -> Config {
    let mut config = Config::default();
    config.receive_mode = ReceiveMode::Frames;
    config
}

/// The pieces of `data` between consecutive `cuts` (sorted, each within `data`).
fn split_at_cuts<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &cut in cuts {
        pieces.push(&data[start..cut]);
        start = cut;
    }
    pieces.push(&data[start..]);
    pieces
}

/// How many split points at each end of the big payload are all tried.
const BIG_EDGE: usize = 256;
/// The step between split points tried in the rest of the big payload: 1 modulo 64, so
/// that the points still fall at every mask phase and every offset within the 64-byte
/// blocks the unmasking works in.
const BIG_STRIDE: usize = 129;

/// The split points for the mixed traffic: every position from the first byte to the last,
/// except in the middle of the 70 KB payload, where every `BIG_STRIDE`th.
///
/// Every run unmasks the whole 70 KB frame, which costs about 1.6 ms in a debug build, so
/// all 72 000 points would take minutes. A split anywhere inside that payload leaves the
/// decoder in the same state (payload partly received, at some mask phase and block
/// offset); the edges, where the state differs, are tried at every position.
fn mixed_traffic_split_points() -> Vec<usize> {
    let (traffic, big) = mixed_traffic_and_big_payload();
    let interior = big.start + BIG_EDGE..big.end - BIG_EDGE;
    let mut points: Vec<usize> = (0..=traffic.len())
        .filter(|p| !interior.contains(p))
        .collect();
    points.extend(interior.step_by(BIG_STRIDE));
    points.sort_unstable();
    points
}

#[test]
fn split_points_cover_every_byte_outside_the_big_payload_and_every_phase_inside() {
    let (traffic, big) = mixed_traffic_and_big_payload();
    let points = mixed_traffic_split_points();
    for p in (0..=big.start + BIG_EDGE).chain(big.end - BIG_EDGE..=traffic.len()) {
        assert!(points.binary_search(&p).is_ok(), "{p} missing");
    }
    let inside: Vec<usize> = points
        .iter()
        .map(|p| p.wrapping_sub(big.start))
        .filter(|p| (BIG_EDGE..BIG_LEN - BIG_EDGE).contains(p))
        .collect();
    let mut phases: Vec<usize> = inside.iter().map(|p| p % 64).collect();
    phases.sort_unstable();
    phases.dedup();
    assert_eq!(phases.len(), 64);
    assert!(inside.windows(2).all(|w| w[1] - w[0] <= BIG_STRIDE));
}

/// Runs `check` for each split point, on two threads.
fn for_each_split_point(points: &[usize], check: impl Fn(usize) + Sync) {
    let (low, high) = points.split_at(points.len() / 2);
    std::thread::scope(|s| {
        let check = &check;
        let first = s.spawn(move || low.iter().copied().for_each(check));
        high.iter().copied().for_each(check);
        first.join().unwrap();
    });
}

// ---- messages mode ----

#[test]
fn whole_stream_decodes_to_the_expected_events() {
    let outcome = at_once(&messages(), mixed_traffic());
    assert_eq!(outcome.events, expected_events());
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.state, State::Closed);
    // Pongs for the three pings (they arrived in one read, so each is answered), then the
    // close echoed with its code.
    let sent = common::parse_frames(&outcome.outbound, false);
    let sent: Vec<(OpCode, &[u8])> = sent.iter().map(|(op, _, p)| (*op, &p[..])).collect();
    assert_eq!(
        sent,
        [
            (OpCode::Pong, &b"between"[..]),
            (OpCode::Pong, &[0xee; 125][..]),
            (OpCode::Pong, &b""[..]),
            (OpCode::Close, &close_payload(1000, "")[..]),
        ]
    );
}

/// Two pieces, split at each of `mixed_traffic_split_points` (every position, except a
/// stride through the middle of the 70 KB payload).
#[test]
fn messages_are_the_same_when_split_at_every_point() {
    let traffic = mixed_traffic();
    let config = messages();
    let whole = at_once(&config, traffic);
    for_each_split_point(&mixed_traffic_split_points(), |cut| {
        let (a, b) = traffic.split_at(cut);
        let split = feed(&config, [a, b], cut % 2 == 0);
        assert!(split == whole, "split at {cut} differs");
    });
}

#[test]
fn messages_are_the_same_when_fed_one_byte_at_a_time() {
    let traffic = mixed_traffic();
    let config = messages();
    assert_eq!(
        feed(&config, traffic.chunks(1), false),
        at_once(&config, traffic)
    );
    assert_eq!(
        feed(&config, traffic.chunks(1), true),
        at_once(&config, traffic)
    );
}

/// Chunkings: `n` sorted cut points in `0..=len` (duplicates give empty pieces, which a
/// driver may well pass).
fn cuts(len: usize, max_cuts: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..=max_cuts).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

/// Cut points clustered where the structure is: a few anywhere, plus bursts of one-byte
/// pieces around a random position (headers and code points are small).
fn clustered_cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    (cuts(len, 40), 0..len, 1..64usize).prop_map(move |(mut cuts, around, width)| {
        cuts.extend(around..(around + width).min(len));
        cuts.sort_unstable();
        cuts
    })
}

proptest! {
    #[test]
    fn messages_are_the_same_for_random_chunkings(
        cuts in clustered_cuts(mixed_traffic().len()),
        use_bytes: bool,
    ) {
        static WHOLE: LazyLock<Outcome> = LazyLock::new(|| at_once(&messages(), mixed_traffic()));
        let pieces = split_at_cuts(mixed_traffic(), &cuts);
        prop_assert_eq!(&feed(&messages(), pieces, use_bytes), &*WHOLE);
    }

    #[test]
    fn frames_are_the_same_for_random_chunkings(
        cuts in clustered_cuts(mixed_traffic().len()),
        use_bytes: bool,
    ) {
        static WHOLE: LazyLock<Normalized> =
            LazyLock::new(|| Normalized::of(at_once(&frames(), mixed_traffic())));
        let pieces = split_at_cuts(mixed_traffic(), &cuts);
        let chunked = Normalized::of(feed(&frames(), pieces, use_bytes));
        prop_assert_eq!(&chunked, &*WHOLE);
    }

    #[test]
    fn invalid_utf8_fails_the_same_for_random_chunkings(
        cuts in cuts(traffic_with_invalid_utf8_mid_frame().len(), 30),
        use_bytes: bool,
    ) {
        let traffic = traffic_with_invalid_utf8_mid_frame();
        let pieces = split_at_cuts(&traffic, &cuts);
        prop_assert_eq!(feed(&messages(), pieces, use_bytes), at_once(&messages(), &traffic));
    }
}

// ---- the input buffer limit ----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Decoding needs at most one frame plus one read, for a driver that polls every event
    /// after each read: `max_buffered_input` set to the largest read is enough.
    #[test]
    fn a_buffer_of_one_frame_plus_one_read_is_enough_for_any_chunking(
        cuts in clustered_cuts(mixed_traffic().len()),
    ) {
        static WHOLE: LazyLock<Outcome> = LazyLock::new(|| at_once(&messages(), mixed_traffic()));
        let pieces = split_at_cuts(mixed_traffic(), &cuts);
        let largest_read = pieces.iter().map(|p| p.len()).max().unwrap_or(0);
        let mut config = messages();
        config.max_frame_size = BIG_LEN;
        config.max_buffered_input = largest_read;
        prop_assert_eq!(&feed(&config, pieces, false), &*WHOLE);
    }
}

/// A frame that `max_frame_size` allows is never refused for the input it needs, read in
/// small pieces or in one piece larger than the default limits.
#[test]
fn max_buffered_input_does_not_limit_a_frame_that_max_frame_size_allows() {
    let payload = vec![7u8; 20 << 20];
    let wire = common::client_frame(OpCode::Binary, true, &payload, 3);
    let mut config = messages();
    config.max_frame_size = 32 << 20;
    for read in [64 * 1024, wire.len()] {
        let mut conn = Connection::open(Role::Server, config.clone());
        let mut got = Vec::new();
        for piece in wire.chunks(read) {
            conn.receive(piece);
            let (events, error) = common::drain(&mut conn);
            assert_eq!(error, None, "reads of {read}");
            got.extend(events);
        }
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0], Event::Message(Message::Binary(b)) if b.len() == payload.len()));
    }
}

/// A control frame may carry 125 bytes whatever `max_frame_size` says, so the input it
/// needs counts as one frame too (found by the `server_connection` fuzz target).
#[test]
fn a_control_frame_larger_than_max_frame_size_fits_the_input_limit() {
    let mut config = messages();
    config.max_frame_size = 64;
    config.max_buffered_input = 200;
    let mut conn = Connection::open(Role::Server, config);
    let ping = common::client_frame(OpCode::Ping, true, &[7; 125], 2);
    let binary = common::client_frame(OpCode::Binary, true, &[8; 60], 3);
    conn.receive(&ping[..ping.len() - 1]);
    assert_eq!(common::drain(&mut conn), (vec![], None));
    let mut read = ping[ping.len() - 1..].to_vec();
    while read.len() + binary.len() <= 200 {
        read.extend_from_slice(&binary);
    }
    conn.receive(&read);
    let (events, error) = common::drain(&mut conn);
    assert_eq!(error, None);
    assert!(matches!(events[0], Event::Ping(ref p) if p.len() == 125));
    assert_eq!(events.len(), 1 + (read.len() - 1) / binary.len());
}

/// A driver that hands over more than one frame plus `max_buffered_input` without polling
/// fails the connection with 1009, after every event that was decodable.
#[test]
fn input_past_one_frame_and_the_buffer_limit_fails_with_1009_after_the_earlier_events() {
    let mut config = messages();
    config.max_frame_size = 1000;
    config.max_buffered_input = 100;
    let limit = 1000 + 14 + 100;
    let mut conn = Connection::open(Role::Server, config);
    let frame = common::client_frame(OpCode::Text, true, b"hello", 1);
    let mut fed = 0;
    while fed + frame.len() <= limit {
        conn.receive(&frame);
        fed += frame.len();
    }
    conn.receive(&frame);
    let (events, error) = common::drain(&mut conn);
    assert_eq!(events.len(), fed / frame.len());
    assert_eq!(
        error,
        Some(Error::Protocol(ProtocolError::InputBufferFull {
            max: limit
        }))
    );
    let sent = common::parse_frames(conn.outbound(), false);
    let Some((OpCode::Close, true, payload)) = sent.last() else {
        panic!("no close frame: {sent:?}")
    };
    assert_eq!(payload[..], 1009u16.to_be_bytes());
}

// ---- invalid input, messages mode ----

fn check_invalid_stream(traffic: &[u8], expected_events: usize) {
    check_failing_stream(
        &messages(),
        traffic,
        expected_events,
        ProtocolError::InvalidUtf8,
        1007,
    );
}

/// `traffic` gives `expected_events` events, then fails with `error` and sends a close
/// frame with `code`: at once, split at every point, one byte at a time, and with reads
/// that are not polled in between.
fn check_failing_stream(
    config: &Config,
    traffic: &[u8],
    expected_events: usize,
    error: ProtocolError,
    code: u16,
) {
    let whole = at_once(config, traffic);
    assert_eq!(whole.events.len(), expected_events, "{:?}", whole.events);
    assert_eq!(whole.error, Some(Error::Protocol(error)));
    assert_eq!(whole.state, State::Closed);
    let sent = common::parse_frames(&whole.outbound, false);
    let Some((OpCode::Close, true, payload)) = sent.last() else {
        panic!("no close frame: {sent:?}")
    };
    assert_eq!(payload[..], code.to_be_bytes());
    for cut in 0..=traffic.len() {
        let (a, b) = traffic.split_at(cut);
        assert_eq!(feed(config, [a, b], cut % 2 == 1), whole, "split at {cut}");
        assert_eq!(
            feed_unpolled(config, [a, b]),
            whole,
            "unpolled split at {cut}"
        );
    }
    assert_eq!(feed(config, traffic.chunks(1), false), whole);
    assert_eq!(feed(config, traffic.chunks(1), true), whole);
    assert_eq!(feed_unpolled(config, traffic.chunks(3)), whole);
}

/// Valid traffic, then a fragmented text message with a control frame between fragments
/// and a byte that can never appear in UTF-8 in its third fragment.
fn traffic_with_invalid_utf8_in_a_fragment() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend(client_frame(OpCode::Text, true, b"first", 1));
    t.extend(client_frame(
        OpCode::Text,
        false,
        "κόσμε ".repeat(30).as_bytes(),
        2,
    ));
    t.extend(client_frame(OpCode::Ping, true, b"p", 3));
    t.extend(client_frame(OpCode::Continuation, false, "€".as_bytes(), 4));
    t.extend(client_frame(OpCode::Continuation, false, b"ok \xff no", 5));
    t.extend(client_frame(OpCode::Continuation, true, b"never", 6));
    t.extend(client_frame(OpCode::Binary, true, b"never delivered", 7));
    t
}

#[test]
fn invalid_utf8_in_a_fragment_fails_the_same_at_every_split_point() {
    // "first" and the ping.
    check_invalid_stream(&traffic_with_invalid_utf8_in_a_fragment(), 2);
}

#[test]
fn fragmented_message_over_the_limit_fails_the_same_at_every_split_point() {
    let mut config = messages();
    config.max_message_size = 300;
    let mut t = Vec::new();
    t.extend(client_frame(OpCode::Binary, true, &[1; 300], 1));
    t.extend(client_frame(OpCode::Binary, false, &[2; 200], 2));
    t.extend(client_frame(OpCode::Pong, true, b"", 3));
    t.extend(client_frame(OpCode::Continuation, false, &[3; 100], 4));
    // Crosses the limit at its header, before its payload arrives.
    t.extend(client_frame(OpCode::Continuation, true, &[4; 1], 5));
    t.extend(client_frame(OpCode::Text, true, b"never delivered", 6));
    let error = ProtocolError::MessageTooLarge { len: 301, max: 300 };
    check_failing_stream(&config, &t, 2, error, 1009);
}

#[test]
fn messages_are_the_same_when_reads_are_not_polled_in_between() {
    let whole = at_once(&messages(), mixed_traffic());
    for size in [1, 2, 3, 7, 64, 1000, 16_384] {
        assert_eq!(
            feed_unpolled(&messages(), mixed_traffic().chunks(size)),
            whole,
            "reads of {size}"
        );
    }
}

#[test]
fn invalid_utf8_mid_frame_fails_the_same_at_every_split_point() {
    // Greek text, ping, binary: three events, then the failure.
    check_invalid_stream(&traffic_with_invalid_utf8_mid_frame(), 3);
}

#[test]
fn code_point_truncated_at_message_end_fails_the_same_at_every_split_point() {
    // "first" and the ping.
    check_invalid_stream(&traffic_with_truncated_code_point(), 2);
}

// ---- frames mode ----

/// A frame-mode outcome with each frame's chunks joined: chunk boundaries depend on the
/// reads, but the frames, their headers and their payloads must not.
#[derive(Debug, PartialEq)]
struct Normalized {
    items: Vec<Item>,
    error: Option<Error>,
    outbound: Vec<u8>,
    state: State,
}

#[derive(Debug, PartialEq)]
enum Item {
    Frame {
        header: FrameHeader,
        kind: MessageKind,
        payload: Vec<u8>,
    },
    Other(Event),
}

impl Normalized {
    /// Joins chunks, checking that they arrive in order and that each frame's last chunk
    /// completes its declared length. A frame cut short by an error is left out: how much of
    /// it was handed out depends on the reads.
    fn of(outcome: Outcome) -> Normalized {
        let mut items = Vec::new();
        let mut open: Option<(FrameHeader, MessageKind, Vec<u8>)> = None;
        for event in outcome.events {
            let Event::Frame(chunk) = event else {
                assert!(open.is_none(), "{event:?} inside a frame");
                items.push(Item::Other(event));
                continue;
            };
            let (header, kind, mut payload) =
                open.take()
                    .unwrap_or((chunk.header, chunk.kind, Vec::new()));
            assert_eq!(chunk.header, header, "header changed within a frame");
            assert_eq!(chunk.kind, kind, "kind changed within a frame");
            assert_eq!(chunk.offset, payload.len() as u64, "chunk out of order");
            payload.extend_from_slice(&chunk.data);
            if chunk.is_last {
                assert_eq!(payload.len() as u64, header.payload_len);
                items.push(Item::Frame {
                    header,
                    kind,
                    payload,
                });
            } else {
                assert!(
                    !chunk.data.is_empty(),
                    "an empty chunk that does not end its frame"
                );
                open = Some((header, kind, payload));
            }
        }
        assert!(
            open.is_none() || outcome.error.is_some(),
            "a frame left unfinished without an error"
        );
        Normalized {
            items,
            error: outcome.error,
            outbound: outcome.outbound,
            state: outcome.state,
        }
    }
}

#[test]
fn whole_stream_in_frames_mode_gives_each_frame_whole() {
    let whole = Normalized::of(at_once(&frames(), mixed_traffic()));
    let data_frames: Vec<(OpCode, bool, MessageKind, usize)> = whole
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Frame {
                header,
                kind,
                payload,
            } => Some((header.opcode, header.fin, *kind, payload.len())),
            Item::Other(_) => None,
        })
        .collect();
    use MessageKind::{Binary as B, Text as T};
    use OpCode::{Binary, Continuation as Cont, Text};
    let greek = GREEK.len();
    let tail = FRAGMENTED_TEXT.len() - 6;
    let medium = medium_text().len();
    assert_eq!(
        data_frames,
        [
            (Text, true, T, 5),
            (Text, true, T, greek),
            (Binary, true, B, 256),
            (Text, true, T, 0),
            (Binary, true, B, 0),
            (Text, false, T, 2),
            (Cont, false, T, 4),
            (Cont, false, T, 0),
            (Cont, true, T, tail),
            (Binary, false, B, 3),
            (Cont, false, B, 130),
            (Cont, true, B, 1),
            (Text, true, T, medium),
            (Binary, true, B, BIG_LEN),
            (Text, true, T, 17),
        ]
    );
    // The payloads are those of the messages mode, frame by frame.
    let joined: Vec<u8> = whole
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Frame { payload, .. } => Some(&payload[..]),
            Item::Other(_) => None,
        })
        .flatten()
        .copied()
        .collect();
    let expected: Vec<u8> = expected_events()
        .iter()
        .filter_map(|event| match event {
            Event::Message(m) => Some(m.as_bytes()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    assert_eq!(joined, expected);
    let controls: Vec<&Event> = whole
        .items
        .iter()
        .filter_map(|item| match item {
            Item::Other(event) => Some(event),
            Item::Frame { .. } => None,
        })
        .collect();
    let expected_controls: Vec<Event> = expected_events()
        .into_iter()
        .filter(|event| !matches!(event, Event::Message(_)))
        .collect();
    assert_eq!(controls, expected_controls.iter().collect::<Vec<_>>());
    assert_eq!(whole.error, None);
    assert_eq!(whole.state, State::Closed);
    assert_eq!(
        whole.outbound,
        at_once(&messages(), mixed_traffic()).outbound
    );
}

/// Two pieces, split at each of `mixed_traffic_split_points`, as for messages.
#[test]
fn frames_are_the_same_when_split_at_every_point() {
    let traffic = mixed_traffic();
    let config = frames();
    let whole = Normalized::of(at_once(&config, traffic));
    for_each_split_point(&mixed_traffic_split_points(), |cut| {
        let (a, b) = traffic.split_at(cut);
        let split = Normalized::of(feed(&config, [a, b], cut % 2 == 1));
        assert!(split == whole, "split at {cut} differs");
    });
}

#[test]
fn frames_are_the_same_when_fed_one_byte_at_a_time() {
    let traffic = mixed_traffic();
    let config = frames();
    let whole = Normalized::of(at_once(&config, traffic));
    assert_eq!(
        Normalized::of(feed(&config, traffic.chunks(1), false)),
        whole
    );
    assert_eq!(
        Normalized::of(feed(&config, traffic.chunks(1), true)),
        whole
    );
}

#[test]
fn frames_mode_fails_on_invalid_utf8_the_same_at_every_split_point() {
    for traffic in [
        traffic_with_invalid_utf8_mid_frame(),
        traffic_with_truncated_code_point(),
    ] {
        let config = frames();
        let whole = Normalized::of(at_once(&config, &traffic));
        assert_eq!(
            whole.error,
            Some(Error::Protocol(ProtocolError::InvalidUtf8))
        );
        for cut in 0..=traffic.len() {
            let (a, b) = traffic.split_at(cut);
            let split = Normalized::of(feed(&config, [a, b], false));
            assert_eq!(split, whole, "split at {cut}");
        }
        let one_by_one = Normalized::of(feed(&config, traffic.chunks(1), false));
        assert_eq!(one_by_one, whole);
    }
}
