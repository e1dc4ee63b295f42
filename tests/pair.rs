//! A client and a server `Connection` wired to each other in memory, with a virtual clock:
//! the closing handshake from either side and from both at once, keepalive, and the timers
//! that end a connection whose peer stopped answering.

mod common;

use bytes::Bytes;
use common::{SentFrame, close_payload, parse_frames};
use core::time::Duration;
use sockless::codec::OpCode;
use sockless::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Keepalive, Message, MessageKind, Role,
    SendError, State,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// One endpoint and what the harness saw of it.
struct End {
    conn: Connection,
    /// Events, with the virtual time at which `poll_event` returned them.
    events: Vec<(Duration, Event)>,
    errors: Vec<(Duration, Error)>,
    /// Every byte this end wrote that reached the transport.
    wrote: Vec<u8>,
    /// A hung process: reads nothing, writes nothing, runs no timers, polls nothing.
    frozen: bool,
    /// Whether the driver obeys `should_close_transport` (a misbehaving server may not).
    closes_transport: bool,
}

impl End {
    fn new(role: Role, config: Config) -> End {
        End {
            conn: Connection::open(role, config),
            events: Vec::new(),
            errors: Vec::new(),
            wrote: Vec::new(),
            frozen: false,
            closes_transport: true,
        }
    }

    /// Polls every event; returns whether there were any.
    fn poll(&mut self, now: Duration) -> bool {
        if self.frozen {
            return false;
        }
        let mut any = false;
        loop {
            match self.conn.poll_event() {
                Ok(Some(event)) => {
                    if let Some((_, Event::Close(_))) = self.events.last() {
                        panic!("{event:?} after a Close event");
                    }
                    self.events.push((now, event));
                    any = true;
                }
                Ok(None) => return any,
                Err(e) => {
                    self.errors.push((now, e));
                    any = true;
                }
            }
        }
    }

    fn events(&self) -> Vec<Event> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    fn close_events(&self) -> Vec<CloseFrame> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Close(frame) => Some(frame.clone()),
                _ => None,
            })
            .collect()
    }

    fn pings_at(&self) -> Vec<Duration> {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Ping(_)))
            .map(|(t, _)| *t)
            .collect()
    }

    fn messages(&self) -> Vec<Message> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A client and a server joined by a reliable, ordered, in-memory transport, and the
/// virtual clock both are driven by.
struct Pair {
    client: End,
    server: End,
    now: Duration,
    /// Who closed the transport, once someone did. After that nothing more is delivered.
    transport_closed_by: Option<Side>,
    /// The transport broke under both ends (a reset, a cable pulled).
    transport_lost: bool,
    /// A driver that also calls `handle_timeout` on a fixed tick, before deadlines are due
    /// (which must change nothing).
    tick: Option<Duration>,
}

impl Pair {
    fn new(client_config: Config, server_config: Config) -> Pair {
        Pair {
            client: End::new(Role::Client, client_config),
            server: End::new(Role::Server, server_config),
            now: Duration::ZERO,
            transport_closed_by: None,
            transport_lost: false,
            tick: None,
        }
    }

    fn default() -> Pair {
        Pair::new(Config::default(), Config::default())
    }

    fn end(&mut self, side: Side) -> (&mut End, &mut End) {
        match side {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    /// Moves what `from` has written to its peer and lets the peer poll its events.
    /// Returns whether any byte moved.
    fn deliver(&mut self, from: Side) -> bool {
        let now = self.now;
        let open = self.transport_closed_by.is_none() && !self.transport_lost;
        let (sender, receiver) = self.end(from);
        // Bytes written after the transport closed stay in `outbound` for tests to see.
        if !open || sender.frozen || receiver.frozen || sender.conn.outbound().is_empty() {
            return false;
        }
        let bytes = sender.conn.take_outbound();
        sender.wrote.extend_from_slice(&bytes);
        receiver.conn.receive(&bytes);
        receiver.poll(now);
        true
    }

    /// The transport is closed by `by` after it wrote what it had: the peer reads the
    /// rest, then end of file.
    fn close_transport(&mut self, by: Side) {
        self.deliver(by);
        self.transport_closed_by = Some(by);
        let now = self.now;
        let (_, peer) = self.end(by);
        if !peer.frozen {
            peer.conn.receive_eof();
            peer.poll(now);
        }
    }

    /// The transport breaks: whatever is in flight is lost and both ends read end of file.
    fn lose_transport(&mut self) {
        self.transport_lost = true;
        let now = self.now;
        for end in [&mut self.client, &mut self.server] {
            if !end.frozen {
                end.conn.receive_eof();
                end.poll(now);
            }
        }
    }

    /// Shuttles bytes both ways, polls both ends and closes the transport when an end asks,
    /// until nothing changes.
    fn settle(&mut self) {
        for _ in 0..1000 {
            let now = self.now;
            let mut progress = self.client.poll(now) | self.server.poll(now);
            progress |= self.deliver(Side::Client);
            progress |= self.deliver(Side::Server);
            if self.transport_closed_by.is_none() && !self.transport_lost {
                for side in [Side::Client, Side::Server] {
                    let (end, _) = self.end(side);
                    if !end.frozen && end.closes_transport && end.conn.should_close_transport() {
                        self.close_transport(side);
                        progress = true;
                        break;
                    }
                }
            }
            if !progress {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// Runs the clock forward to `until`, stopping at every deadline either end asked for
    /// to run its timers, and settling after each.
    fn advance_to(&mut self, until: Duration) {
        for _ in 0..100_000 {
            self.settle();
            let due = |end: &End| {
                (!end.frozen)
                    .then(|| end.conn.poll_timeout())
                    .flatten()
                    .filter(|&at| at <= until)
            };
            let next_tick = self
                .tick
                .map(|tick| tick * (self.now.as_nanos() / tick.as_nanos() + 1) as u32)
                .filter(|&at| at <= until);
            let next = [due(&self.client), due(&self.server), next_tick]
                .into_iter()
                .flatten()
                .min();
            let Some(at) = next else {
                self.now = until;
                self.settle();
                return;
            };
            // `Duration::ZERO` (or any past deadline) means "now".
            self.now = self.now.max(at);
            let now = self.now;
            let ticking = next_tick == Some(now);
            for end in [&mut self.client, &mut self.server] {
                if due(end).is_some_and(|at| at <= now) || (ticking && !end.frozen) {
                    end.conn.handle_timeout(now);
                }
            }
        }
        panic!("the timers never stopped firing");
    }

    fn advance(&mut self, by: Duration) {
        self.advance_to(self.now + by);
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: CloseCode(code),
        reason: reason.into(),
    }
}

/// The frames `end` put on the wire, decoded.
fn frames_written(end: &End) -> Vec<SentFrame> {
    parse_frames(&end.wrote, end.conn.role() == Role::Client)
}

fn close_sent(code: u16, reason: &str) -> SentFrame {
    (
        OpCode::Close,
        true,
        Bytes::from(close_payload(code, reason)),
    )
}

#[test]
fn messages_flow_both_ways_in_order() {
    let mut pair = Pair::default();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let c = &mut pair.client.conn;
    c.send_text("hello server").unwrap();
    c.send_binary(&big).unwrap();
    c.send_fragment(MessageKind::Text, "κό".as_bytes(), false)
        .unwrap();
    c.send_ping(b"mid-message").unwrap();
    c.send_fragment(MessageKind::Text, "σμε".as_bytes(), true)
        .unwrap();
    c.send_text("").unwrap();
    let s = &mut pair.server.conn;
    s.send_text("hello client").unwrap();
    s.send_binary(&[0, 1, 2]).unwrap();
    pair.settle();

    assert_eq!(
        pair.server.events(),
        [
            Event::Message(Message::Text("hello server".into())),
            Event::Message(Message::Binary(Bytes::from(big))),
            Event::Ping(Bytes::from_static(b"mid-message")),
            Event::Message(Message::Text("κόσμε".into())),
            Event::Message(Message::Text("".into())),
        ]
    );
    assert_eq!(
        pair.client.events(),
        [
            Event::Message(Message::Text("hello client".into())),
            Event::Message(Message::Binary(Bytes::from_static(&[0, 1, 2]))),
            Event::Pong(Bytes::from_static(b"mid-message")),
        ]
    );
    assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());

    // An echo round: whatever the client sends comes back unchanged.
    let sent: Vec<String> = (0..20).map(|i| "é".repeat(i * 7)).collect();
    for text in &sent {
        pair.client.conn.send_text(text).unwrap();
    }
    pair.settle();
    let received = pair.server.messages();
    for message in &received[4..] {
        pair.server.conn.send(message).unwrap();
    }
    pair.settle();
    let echoed: Vec<String> = pair.client.messages()[2..]
        .iter()
        .map(|m| match m {
            Message::Text(t) => t.to_string(),
            Message::Binary(_) => panic!("binary echo"),
        })
        .collect();
    assert_eq!(echoed, sent);
    assert_eq!(pair.client.conn.state(), State::Open);
    assert_eq!(pair.server.conn.state(), State::Open);
    assert!(pair.transport_closed_by.is_none());
}

#[test]
fn client_initiated_close_ends_with_the_server_closing_the_transport() {
    let mut pair = Pair::default();
    pair.client.conn.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(pair.client.conn.state(), State::Closing);
    assert_eq!(pair.client.conn.send_text("late"), Err(SendError::Closing));

    // The close reaches the server, which answers and is done.
    pair.deliver(Side::Client);
    assert_eq!(
        pair.server.events(),
        [Event::Close(close_frame(1000, "bye"))]
    );
    assert_eq!(pair.server.conn.state(), State::Closed);
    assert!(pair.server.conn.should_close_transport());

    // The answer reaches the client, which is closed but waits for the server to close
    // the transport (RFC 6455 §7.1.1).
    pair.deliver(Side::Server);
    assert_eq!(pair.client.events(), [Event::Close(close_frame(1000, ""))]);
    assert_eq!(pair.client.conn.state(), State::Closed);
    assert!(!pair.client.conn.should_close_transport());

    pair.settle();
    assert_eq!(pair.transport_closed_by, Some(Side::Server));
    assert!(pair.client.conn.should_close_transport());
    // End of file after a clean close is not a second, abnormal close.
    assert_eq!(pair.client.events().len(), 1);
    assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());
    assert_eq!(frames_written(&pair.client), [close_sent(1000, "bye")]);
    assert_eq!(frames_written(&pair.server), [close_sent(1000, "")]);
}

#[test]
fn server_initiated_close_is_echoed_and_the_server_closes_the_transport() {
    let mut pair = Pair::default();
    pair.server.conn.send_text("last words").unwrap();
    pair.server
        .conn
        .close(CloseCode::GOING_AWAY, "restart")
        .unwrap();
    assert_eq!(pair.server.conn.state(), State::Closing);
    assert!(!pair.server.conn.should_close_transport());
    pair.settle();

    assert_eq!(
        pair.client.events(),
        [
            Event::Message(Message::Text("last words".into())),
            Event::Close(close_frame(1001, "restart")),
        ]
    );
    assert_eq!(pair.server.events(), [Event::Close(close_frame(1001, ""))]);
    assert_eq!(pair.transport_closed_by, Some(Side::Server));
    for end in [&pair.client, &pair.server] {
        assert_eq!(end.conn.state(), State::Closed);
        assert!(end.conn.should_close_transport());
        assert!(end.errors.is_empty());
    }
    assert_eq!(frames_written(&pair.client), [close_sent(1001, "")]);
}

#[test]
fn close_race_closes_both_sides_with_one_close_frame_each() {
    let mut pair = Pair::default();
    // Both decide to close before either close frame has arrived.
    pair.client.conn.close(CloseCode::NORMAL, "client").unwrap();
    pair.server
        .conn
        .close(CloseCode::GOING_AWAY, "server")
        .unwrap();
    pair.settle();

    // Each sees the other's close frame as the answer to its own.
    assert_eq!(
        pair.client.events(),
        [Event::Close(close_frame(1001, "server"))]
    );
    assert_eq!(
        pair.server.events(),
        [Event::Close(close_frame(1000, "client"))]
    );
    // No second close frame and nothing else: one close each way.
    assert_eq!(frames_written(&pair.client), [close_sent(1000, "client")]);
    assert_eq!(frames_written(&pair.server), [close_sent(1001, "server")]);
    assert_eq!(pair.transport_closed_by, Some(Side::Server));
    for end in [&mut pair.client, &mut pair.server] {
        assert_eq!(end.conn.state(), State::Closed);
        assert!(end.conn.should_close_transport());
        assert!(end.errors.is_empty());
        assert_eq!(end.conn.send_text("x"), Err(SendError::Closed));
        assert_eq!(end.conn.send_ping(b""), Err(SendError::Closed));
        assert!(end.conn.outbound().is_empty());
    }
    // The timers left running fire without effect.
    pair.advance(secs(60));
    for end in [&pair.client, &pair.server] {
        assert_eq!(end.events.len(), 1);
        assert!(end.errors.is_empty());
        assert!(end.conn.outbound().is_empty());
    }
}

fn keepalive(interval: u64, timeout: u64) -> Config {
    let mut config = Config::default();
    config.keepalive = Some(Keepalive {
        interval: secs(interval),
        timeout: secs(timeout),
    });
    config
}

#[test]
fn keepalive_pings_a_quiet_peer_and_its_pongs_keep_the_connection() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.advance_to(Duration::from_millis(9_999));
    assert!(pair.server.events.is_empty(), "pinged too early");
    pair.advance_to(secs(10));
    assert_eq!(pair.server.pings_at(), [secs(10)]);
    assert_eq!(pair.client.events(), [Event::Pong(Bytes::new())]);

    pair.advance_to(secs(300));
    let pings = pair.server.pings_at();
    assert!(pings.len() >= 300 / 15, "too few pings: {pings:?}");
    for gap in pings.windows(2).map(|w| w[1] - w[0]) {
        // Quiet for a whole interval since the last pong was noticed, at most one timeout
        // after it arrived.
        assert!(gap >= secs(10) && gap <= secs(15), "{pings:?}");
    }
    assert_eq!(
        pair.client.events.len(),
        pings.len(),
        "one pong per ping, nothing else"
    );
    assert_eq!(pair.client.conn.state(), State::Open);
    assert_eq!(pair.server.conn.state(), State::Open);
    assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());
}

#[test]
fn keepalive_sends_no_ping_while_the_peer_talks() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    for t in (0..=120).step_by(6) {
        pair.advance_to(secs(t));
        pair.server.conn.send_text("tick").unwrap();
    }
    pair.advance_to(secs(125));
    assert!(pair.server.events.is_empty(), "{:?}", pair.server.events);
    assert_eq!(pair.client.messages().len(), 21);
    assert_eq!(pair.client.conn.state(), State::Open);
}

#[test]
fn keepalive_on_both_sides_over_a_quiet_connection_keeps_it_open() {
    let mut pair = Pair::new(keepalive(10, 5), keepalive(7, 3));
    pair.advance_to(secs(600));
    // The server's pings come more often than the client's interval, so the client hears
    // from its peer often enough never to ping itself.
    let server_pings = pair.client.pings_at();
    assert!(server_pings.len() >= 600 / 10, "{server_pings:?}");
    assert_eq!(pair.server.pings_at(), []);
    assert_eq!(
        pair.server.events.len(),
        server_pings.len(),
        "one pong per ping"
    );
    assert!(pair.client.errors.is_empty() && pair.server.errors.is_empty());
    assert_eq!(pair.client.conn.state(), State::Open);
    assert_eq!(pair.server.conn.state(), State::Open);
}

#[test]
fn keepalive_fails_a_silent_peer_with_1011() {
    // A driver that calls `handle_timeout` only when due, and one that also ticks.
    for tick in [None, Some(Duration::from_millis(700)), Some(secs(3))] {
        check_keepalive_fails_a_silent_peer(tick);
    }
}

fn check_keepalive_fails_a_silent_peer(tick: Option<Duration>) {
    // A server that reads but never answers pings and never sends anything.
    let mut server_config = Config::default();
    server_config.auto_pong = false;
    let mut pair = Pair::new(keepalive(10, 5), server_config);
    pair.tick = tick;
    pair.advance_to(Duration::from_millis(14_999));
    assert!(pair.client.errors.is_empty());
    assert_eq!(pair.client.conn.state(), State::Open);
    pair.advance_to(secs(60));

    assert_eq!(pair.client.errors, [(secs(15), Error::KeepaliveTimeout)]);
    assert_eq!(
        pair.client.errors[0].1.close_code(),
        Some(CloseCode::INTERNAL_ERROR)
    );
    let written = frames_written(&pair.client);
    assert_eq!(written[0], (OpCode::Ping, true, Bytes::new()));
    let (OpCode::Close, true, payload) = &written[1] else {
        panic!("{written:?}")
    };
    assert_eq!(payload[..2], 1011u16.to_be_bytes());
    assert_eq!(written.len(), 2);
    // The client closes the transport at once; the server learns why.
    assert_eq!(pair.transport_closed_by, Some(Side::Client));
    assert_eq!(pair.client.conn.state(), State::Closed);
    assert!(pair.client.conn.should_close_transport());
    assert_eq!(pair.server.pings_at(), [secs(10)]);
    let closes = pair.server.close_events();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].code, CloseCode::INTERNAL_ERROR);
    assert!(pair.client.events.is_empty());
}

#[test]
fn keepalive_fails_a_frozen_peer_with_1011() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.server.frozen = true;
    pair.advance_to(secs(60));
    assert_eq!(pair.client.errors, [(secs(15), Error::KeepaliveTimeout)]);
    assert!(pair.client.conn.should_close_transport());
    let out = pair.client.conn.outbound().to_vec();
    let frames = parse_frames(&out, true);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].0, OpCode::Ping);
    assert_eq!(
        (frames[1].0, &frames[1].2[..2]),
        (OpCode::Close, &[3, 243][..])
    );
}

#[test]
fn close_times_out_when_the_peer_never_answers() {
    let mut config = Config::default();
    config.close_timeout = Some(secs(2));
    let mut pair = Pair::new(config, Config::default());
    pair.server.frozen = true;
    pair.client.conn.close(CloseCode::NORMAL, "").unwrap();
    pair.advance_to(Duration::from_millis(1_999));
    assert_eq!(pair.client.conn.state(), State::Closing);
    assert!(pair.client.errors.is_empty());
    assert!(!pair.client.conn.should_close_transport());
    pair.advance_to(secs(30));

    assert_eq!(pair.client.errors, [(secs(2), Error::CloseTimeout)]);
    assert_eq!(pair.client.conn.state(), State::Closed);
    assert!(pair.client.conn.should_close_transport());
    assert_eq!(pair.transport_closed_by, Some(Side::Client));
    // Only the one close frame was written.
    let out = pair.client.conn.outbound().to_vec();
    assert_eq!(parse_frames(&out, true), [close_sent(1000, "")]);
}

#[test]
fn server_close_times_out_when_the_client_never_answers() {
    let mut pair = Pair::default();
    pair.client.frozen = true;
    pair.server.conn.close(CloseCode::NORMAL, "").unwrap();
    pair.advance_to(secs(9));
    assert!(pair.server.errors.is_empty());
    pair.advance_to(secs(100));
    // The default close timeout is 10 s.
    assert_eq!(pair.server.errors, [(secs(10), Error::CloseTimeout)]);
    assert!(pair.server.conn.should_close_transport());
    assert_eq!(pair.transport_closed_by, Some(Side::Server));
}

#[test]
fn client_stops_waiting_for_the_servers_end_of_file_after_the_close_timeout() {
    let mut pair = Pair::default();
    pair.server.closes_transport = false;
    pair.advance_to(secs(1));
    pair.client.conn.close(CloseCode::NORMAL, "").unwrap();
    pair.settle();
    assert_eq!(pair.client.conn.state(), State::Closed);
    assert!(!pair.client.conn.should_close_transport());
    pair.advance_to(Duration::from_millis(10_999));
    assert!(!pair.client.conn.should_close_transport());
    assert!(pair.transport_closed_by.is_none());
    pair.advance_to(secs(100));
    assert!(pair.client.conn.should_close_transport());
    assert_eq!(pair.transport_closed_by, Some(Side::Client));
    // A clean close that only ended late: no error, and the server learns nothing new.
    assert!(pair.client.errors.is_empty());
    assert_eq!(pair.client.events(), [Event::Close(close_frame(1000, ""))]);
    assert_eq!(pair.server.events(), [Event::Close(close_frame(1000, ""))]);
}

#[test]
fn keepalive_accepts_an_answer_that_comes_late_but_within_the_timeout() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.advance_to(secs(9));
    // The server stalls just before the ping and wakes up just before the deadline.
    pair.server.frozen = true;
    pair.advance_to(Duration::from_millis(14_900));
    pair.server.frozen = false;
    pair.advance_to(secs(60));
    assert!(pair.client.errors.is_empty(), "{:?}", pair.client.errors);
    assert_eq!(pair.client.conn.state(), State::Open);
    assert_eq!(pair.server.pings_at()[0], Duration::from_millis(14_900));
    assert_eq!(pair.client.events[0].0, Duration::from_millis(14_900));
}

#[test]
fn keepalive_gives_up_at_the_timeout_on_an_answer_still_to_come() {
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.advance_to(secs(9));
    pair.server.frozen = true;
    pair.advance_to(Duration::from_millis(15_100));
    assert_eq!(pair.client.errors, [(secs(15), Error::KeepaliveTimeout)]);
    assert!(pair.client.conn.should_close_transport());
    // Waking up after that changes nothing for the client.
    pair.server.frozen = false;
    pair.advance_to(secs(60));
    assert_eq!(pair.client.errors.len(), 1);
    assert!(pair.client.events.is_empty());
}

#[test]
fn transport_lost_mid_message_reports_1006_on_both_sides() {
    let mut pair = Pair::default();
    pair.client
        .conn
        .send_fragment(MessageKind::Text, b"half a mess", false)
        .unwrap();
    pair.server.conn.send_text("unread").unwrap();
    pair.deliver(Side::Client);
    pair.lose_transport();
    for end in [&pair.client, &pair.server] {
        assert_eq!(end.events(), [Event::Close(close_frame(1006, ""))]);
        assert!(end.errors.is_empty());
        assert_eq!(end.conn.state(), State::Closed);
        assert!(end.conn.should_close_transport());
    }
    // No close frame is owed to a peer that is gone; only what was queued before remains.
    assert!(pair.client.conn.outbound().is_empty());
    let unsent = pair.server.conn.outbound().to_vec();
    let unsent = parse_frames(&unsent, false);
    assert_eq!(
        unsent,
        [(OpCode::Text, true, Bytes::from_static(b"unread"))]
    );
}

/// `Keepalive::interval` reads "send a ping after this long without receiving anything".
/// A connection is not told when bytes arrive, only that some did between two
/// `handle_timeout` calls, so what it can keep is: no ping before a whole interval of
/// silence, and a ping at most two intervals after the last byte received.
#[test]
fn keepalive_pings_after_one_to_two_intervals_of_silence() {
    // A driver that calls `handle_timeout` only when due, and one that also ticks.
    for tick in [None, Some(Duration::from_millis(700)), Some(secs(3))] {
        check_keepalive_silence_bounds(tick);
    }
}

fn check_keepalive_silence_bounds(tick: Option<Duration>) {
    let interval = secs(10);
    let horizon = secs(300);
    let mut pair = Pair::new(keepalive(10, 5), Config::default());
    pair.tick = tick;
    // The server speaks at irregular times, just before and after the client's checks.
    for ms in [
        500, 3_000, 9_500, 10_500, 17_000, 29_999, 61_200, 95_700, 96_000,
    ] {
        pair.advance_to(Duration::from_millis(ms));
        pair.server.conn.send_text("now and then").unwrap();
    }
    pair.advance_to(horizon);

    // What the client received (messages and pongs), counting the start as heard.
    let mut heard: Vec<Duration> = vec![Duration::ZERO];
    heard.extend(pair.client.events.iter().map(|(t, _)| *t));
    let pings = pair.server.pings_at();
    assert!(!pings.is_empty());
    for &ping in &pings {
        let last = heard.iter().rev().find(|&&t| t < ping).unwrap();
        assert!(
            ping - *last >= interval,
            "pinged at {ping:?}, heard at {last:?}, tick {tick:?}"
        );
    }
    for &at in heard.iter().filter(|&&t| t + 2 * interval <= horizon) {
        let next = heard
            .iter()
            .chain(&pings)
            .filter(|&&t| t > at)
            .min()
            .unwrap();
        assert!(
            *next - at <= 2 * interval,
            "silent from {at:?} to {next:?} without a ping, tick {tick:?}"
        );
    }
    assert!(pair.client.errors.is_empty());
}
