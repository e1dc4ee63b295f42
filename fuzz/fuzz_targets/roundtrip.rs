//! Structure-aware: a list of operations applied to one endpoint, its output fed to the
//! other in chunks whose sizes come from the input, and the other way round.
//!
//! The sender is a `Connection::open_with_rng` (client or server, as the input says); the
//! receiver is the other role (the server from `Connection::open`), in messages or frames
//! mode. Sends that fail are skipped; those that succeed say what the receiver must see:
//! exactly the same messages, pings, pongs and close (code and reason), in order, with no
//! error. Then the receiver's output (its pongs and its close reply) goes back to the
//! sender, which must see the pongs (unless it closed, after which it drops them) and the
//! echo of its close code. The receiver's output is written out after each read's events
//! or only at the end: every ping of a read is answered, and the pongs of an earlier read
//! still unwritten are replaced by a later read's, so the sender must see the pongs of the
//! last read that brought pings before each drain, its latest ping always among them.
//!
//! Either endpoint may be `split()` into halves (sends and replies through the
//! `SendHalf`, input and events through the `ReceiveHalf`, the output drained with
//! `take_outbound`): the outcome must be the same. A whole sender may also be split after
//! its operations: that must succeed exactly when it is still open, keep what it owes, and
//! otherwise hand the connection back unchanged.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sockless::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, MessageKind, ReceiveHalf,
    ReceiveMode, Role, SendError, SendHalf, SplitError, State,
};
use sockless_fuzz::wire::{Inbound, peer};
use sockless_fuzz::{TestRng, TextCarry, chunk_size};

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Binary,
}

impl Kind {
    fn message_kind(self) -> MessageKind {
        match self {
            Kind::Text => MessageKind::Text,
            Kind::Binary => MessageKind::Binary,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    /// For text, `data` is made UTF-8 and cut up to 3 bytes before its end (inside a code
    /// point, maybe); the cut-off part starts the next text fragment.
    Fragment {
        kind: Kind,
        data: Vec<u8>,
        fin: bool,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close {
        code: u16,
        reason: String,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// The server sends and the client receives (else the other way round).
    server_sends: bool,
    /// The receiver delivers frame chunks instead of messages.
    frames: bool,
    seed: u64,
    /// The sender works as two halves.
    split_sender: bool,
    /// The receiver works as two halves.
    split_receiver: bool,
    /// A whole sender tries `split()` once its operations are done.
    split_sender_after: bool,
    /// The receiver's output is written out after each read's events (else at the end).
    write_between_reads: bool,
    /// Chunk sizes (each + 1), cycled; none: all at once.
    chunks: Vec<u8>,
    ops: Vec<Op>,
}

/// A connection, whole or split into halves.
enum Endpoint {
    Whole(Box<Connection>),
    Split(Box<ReceiveHalf>, Box<SendHalf>),
}

impl Endpoint {
    fn new(conn: Connection, split: bool) -> Endpoint {
        let endpoint = Endpoint::Whole(Box::new(conn));
        if split { endpoint.split() } else { endpoint }
    }

    /// Splits a whole endpoint: only an open connection splits, with what it owes moving
    /// to the halves; any other comes back in the `SplitError` unchanged.
    fn split(self) -> Endpoint {
        let Endpoint::Whole(conn) = self else {
            return self;
        };
        let state = conn.state();
        let owed = conn.outbound().to_vec();
        match conn.split() {
            Ok((rx, tx)) => {
                assert_eq!(state, State::Open, "split() took a {state:?} connection");
                assert_eq!(rx.state(), State::Open);
                assert_eq!(rx.pending_outbound(), owed.len(), "split() lost output");
                assert_eq!(tx.pending_outbound(), owed.len(), "split() lost output");
                Endpoint::Split(Box::new(rx), Box::new(tx))
            }
            Err(SplitError(back)) => {
                assert_ne!(state, State::Open, "split() refused an open connection");
                assert_eq!(back.state(), state, "a refused split() changed the state");
                assert_eq!(
                    back.outbound(),
                    owed,
                    "a refused split() changed the output"
                );
                Endpoint::Whole(back)
            }
        }
    }

    fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        match self {
            Endpoint::Whole(c) => c.send_text(text),
            Endpoint::Split(_, tx) => tx.send_text(text),
        }
    }

    fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        // Odd lengths go through `send` with a `Message`; the peer must get the same
        // message whichever way it was sent.
        let message = || Message::Binary(bytes::Bytes::copy_from_slice(data));
        match self {
            Endpoint::Whole(c) if data.len() % 2 == 1 => c.send(&message()),
            Endpoint::Split(_, tx) if data.len() % 2 == 1 => tx.send(&message()),
            Endpoint::Whole(c) => c.send_binary(data),
            Endpoint::Split(_, tx) => tx.send_binary(data),
        }
    }

    fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        match self {
            Endpoint::Whole(c) => c.send_fragment(kind, data, fin),
            Endpoint::Split(_, tx) => tx.send_fragment(kind, data, fin),
        }
    }

    fn send_ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        match self {
            Endpoint::Whole(c) => c.send_ping(data),
            Endpoint::Split(_, tx) => tx.send_ping(data),
        }
    }

    fn send_pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        match self {
            Endpoint::Whole(c) => c.send_pong(data),
            Endpoint::Split(_, tx) => tx.send_pong(data),
        }
    }

    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        match self {
            Endpoint::Whole(c) => c.close(code, reason),
            Endpoint::Split(_, tx) => tx.close(code, reason),
        }
    }

    fn take_outbound(&mut self) -> Vec<u8> {
        match self {
            // Piece by piece, as a driver writing `outbound()` in a loop does, in writes of
            // at most 1000 bytes, so that pieces are also cut short.
            Endpoint::Whole(c) => {
                let mut all = Vec::with_capacity(c.pending_outbound());
                while c.pending_outbound() > 0 {
                    let piece = c.outbound();
                    let n = piece.len().min(1000);
                    all.extend_from_slice(&piece[..n]);
                    c.advance_outbound(n);
                }
                all
            }
            Endpoint::Split(rx, tx) => {
                let owed = tx.pending_outbound();
                assert_eq!(
                    rx.pending_outbound(),
                    owed,
                    "the halves disagree on the output"
                );
                let all = tx.take_outbound().to_vec();
                assert_eq!(all.len(), owed, "take_outbound did not take what was owed");
                assert_eq!(rx.pending_outbound(), 0, "take_outbound left output behind");
                all
            }
        }
    }

    fn receive(&mut self, data: &[u8]) {
        match self {
            Endpoint::Whole(c) => c.receive(data),
            Endpoint::Split(rx, _) => rx.receive(data),
        }
    }

    fn pending_outbound(&self) -> usize {
        match self {
            Endpoint::Whole(c) => c.pending_outbound(),
            Endpoint::Split(rx, _) => rx.pending_outbound(),
        }
    }

    fn poll_event(&mut self) -> Result<Option<Event>, Error> {
        match self {
            Endpoint::Whole(c) => c.poll_event(),
            Endpoint::Split(rx, _) => rx.poll_event(),
        }
    }

    /// The state, as both halves see it.
    fn state(&mut self) -> State {
        match self {
            Endpoint::Whole(c) => c.state(),
            Endpoint::Split(rx, tx) => {
                let state = rx.state();
                assert_eq!(tx.state(), state, "the halves disagree on the state");
                state
            }
        }
    }

    /// Whether to close the transport, as both halves see it.
    fn should_close_transport(&self) -> bool {
        match self {
            Endpoint::Whole(c) => c.should_close_transport(),
            Endpoint::Split(rx, tx) => {
                let close = rx.should_close_transport();
                assert_eq!(
                    tx.should_close_transport(),
                    close,
                    "the halves disagree on closing the transport"
                );
                close
            }
        }
    }
}

/// What an endpoint delivers, with chunks put back together into messages.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Message(MessageKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(CloseCode, String),
}

/// What one endpoint did with its peer's bytes.
struct Delivered {
    got: Vec<Got>,
    /// What it wrote, drained after each read's events or only at the end.
    written: Vec<u8>,
    /// The pongs it owes: per drain of its output, the payloads of every ping of the last
    /// read that brought pings (the unwritten pongs of an earlier read are replaced).
    pongs: Vec<Vec<u8>>,
}

/// Hands `bytes` to `conn` (of `role`, configured with `config`) in chunks and collects
/// what it delivers; no error allowed. With `write_between_reads`, its output is drained
/// after each read's events, as a driver writing what it owes before reading again would.
fn deliver(
    conn: &mut Endpoint,
    role: Role,
    config: &Config,
    bytes: &[u8],
    sizes: &[u8],
    write_between_reads: bool,
) -> Delivered {
    let mut inbound = Inbound::new(config);
    let mut out = Delivered {
        got: Vec::new(),
        written: Vec::new(),
        pongs: Vec::new(),
    };
    // The pings of one read (its number) whose pongs are owed since the last drain.
    let mut owed: (usize, Vec<Vec<u8>>) = (0, Vec::new());
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let n = chunk_size(sizes, i).unwrap_or(rest.len()).min(rest.len());
        i += 1;
        conn.receive(&rest[..n]);
        rest = &rest[n..];
        loop {
            let event = match conn.poll_event() {
                Ok(Some(event)) => event,
                Ok(None) => break,
                Err(e) => panic!("the {role:?} failed on its peer's output: {e:?}"),
            };
            let item = match event {
                Event::Message(m) => {
                    inbound.message(&m);
                    Got::Message(m.kind(), m.as_bytes().to_vec())
                }
                Event::Frame(chunk) => match inbound.chunk(&chunk) {
                    Some((kind, data)) => Got::Message(kind, data),
                    None => continue,
                },
                Event::Ping(p) => {
                    assert!(
                        conn.pending_outbound() > 0,
                        "a ping was delivered with no pong owed"
                    );
                    if owed.0 != i {
                        owed = (i, Vec::new());
                    }
                    owed.1.push(p.to_vec());
                    Got::Ping(p.to_vec())
                }
                Event::Pong(p) => Got::Pong(p.to_vec()),
                Event::Close(CloseFrame { code, reason }) => {
                    Got::Close(code, reason.as_str().to_owned())
                }
                other => panic!("an open connection delivered {other:?}"),
            };
            assert!(
                !matches!(out.got.last(), Some(Got::Close(..))),
                "{item:?} was delivered after the close"
            );
            out.got.push(item);
        }
        if write_between_reads {
            out.pongs.append(&mut owed.1);
            out.written.extend(conn.take_outbound());
        }
    }
    out.pongs.append(&mut owed.1);
    out.written.extend(conn.take_outbound());
    out
}

fuzz_target!(|input: Input| {
    let sender_role = if input.server_sends {
        Role::Server
    } else {
        Role::Client
    };
    let mut receiver_config = Config::default();
    if input.frames {
        receiver_config.receive_mode = ReceiveMode::Frames;
    }
    let sender_config = Config::default();
    let receiver_role = peer(sender_role);
    let sender =
        Connection::open_with_rng(sender_role, sender_config.clone(), TestRng::new(input.seed));
    let receiver = match receiver_role {
        Role::Server => Connection::open(Role::Server, receiver_config.clone()),
        Role::Client => Connection::open_with_rng(
            Role::Client,
            receiver_config.clone(),
            TestRng::new(!input.seed),
        ),
    };
    let mut sender = Endpoint::new(sender, input.split_sender);
    let mut receiver = Endpoint::new(receiver, input.split_receiver);

    let mut expected = Vec::new();
    let mut pings = Vec::new();
    let mut closed_with = None;
    let mut fragments: Option<(MessageKind, Vec<u8>)> = None;
    let mut carry = TextCarry::default();
    for op in &input.ops {
        match op {
            Op::Text(text) => {
                if sender.send_text(text).is_ok() {
                    expected.push(Got::Message(MessageKind::Text, text.as_bytes().to_vec()));
                }
            }
            Op::Binary(data) => {
                if sender.send_binary(data).is_ok() {
                    expected.push(Got::Message(MessageKind::Binary, data.clone()));
                }
            }
            Op::Fragment { kind, data, fin } => {
                let kind = kind.message_kind();
                let (payload, tail) = match kind {
                    MessageKind::Text => {
                        let text = String::from_utf8_lossy(data);
                        carry.piece(&text, data.len() % 4, *fin)
                    }
                    MessageKind::Binary => (data.clone(), Vec::new()),
                };
                if sender.send_fragment(kind, &payload, *fin).is_err() {
                    continue;
                }
                if kind == MessageKind::Text {
                    carry.commit(tail);
                }
                let message = fragments.get_or_insert_with(|| (kind, Vec::new()));
                message.1.extend_from_slice(&payload);
                if *fin {
                    let (kind, data) = fragments.take().expect("set above");
                    expected.push(Got::Message(kind, data));
                }
            }
            Op::Ping(data) => {
                if sender.send_ping(data).is_ok() {
                    expected.push(Got::Ping(data.clone()));
                    pings.push(data.clone());
                }
            }
            Op::Pong(data) => {
                if sender.send_pong(data).is_ok() {
                    expected.push(Got::Pong(data.clone()));
                }
            }
            Op::Close { code, reason } => {
                if sender.close(CloseCode(*code), reason).is_ok() {
                    expected.push(Got::Close(CloseCode(*code), reason.clone()));
                    closed_with = Some(CloseCode(*code));
                }
            }
        }
    }

    if input.split_sender_after {
        sender = sender.split();
    }

    let forth = sender.take_outbound();
    let there = deliver(
        &mut receiver,
        receiver_role,
        &receiver_config,
        &forth,
        &input.chunks,
        input.write_between_reads,
    );
    assert_eq!(
        there.got, expected,
        "the receiver did not get what was sent"
    );
    // The pongs owed answer pings that were sent, in order, the latest always among them.
    assert_eq!(
        there.pongs.last(),
        pings.last(),
        "no pong for the latest ping"
    );
    let mut unanswered = pings.iter();
    assert!(
        there
            .pongs
            .iter()
            .all(|pong| unanswered.any(|ping| ping == pong)),
        "pongs {:?} are not answers, in order, to pings {:?}",
        there.pongs,
        pings
    );

    let back = deliver(
        &mut sender,
        sender_role,
        &sender_config,
        &there.written,
        &input.chunks,
        input.write_between_reads,
    );
    let want: Vec<Got> = match closed_with {
        // A closing endpoint drops the pongs; the close comes back with its code alone.
        Some(code) => vec![Got::Close(code, String::new())],
        None => there.pongs.into_iter().map(Got::Pong).collect(),
    };
    assert_eq!(back.got, want, "the sender did not get the replies");
    assert!(
        back.written.is_empty(),
        "the sender answered its peer's replies"
    );
    if closed_with.is_some() {
        assert_eq!(receiver.state(), State::Closed);
        assert_eq!(sender.state(), State::Closed);
        assert_eq!(
            receiver.should_close_transport(),
            receiver_role == Role::Server
        );
    }
});
