//! A sockless server and a sockless client over smoltcp TCP sockets on smoltcp's
//! `Loopback` device, in one process, on a virtual clock that only the test moves: the
//! library's `no_std` loop end to end, deterministic and without a single real sleep.

use smoltcp::iface::{
    Config as IfaceConfig, Interface, PollIngressSingleResult, SocketHandle, SocketSet,
};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use sockless::handshake::{Accept, ClientOptions, Uri};
use sockless::{CloseCode, Config, Connection, Error, Event, Keepalive, Message, MessageKind};
use sockless_bare_metal::{WsSocket, earliest};

/// TEST ONLY: a deterministic random source (SplitMix64), so that runs repeat exactly.
///
/// Its keys are predictable, which is what RFC 6455 §10.3 forbids on a real connection:
/// a real device must use its hardware RNG (or a CSPRNG seeded from it).
struct TestOnlyRng(u64);

impl rand_core::TryRng for TestOnlyRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

const PORT: u16 = 8080;
/// Small TCP buffers, so that a message larger than them needs many partial writes.
const TCP_BUFFER: usize = 4096;
/// How far the clock moves when nothing is due: a quiet loop still has to reach the
/// connection's far deadlines, and every turn costs a test only microseconds.
const IDLE_STEP: Duration = Duration::from_millis(100);

/// Which sides the test drives: a silent peer is one whose WebSocket is no longer
/// polled, while its TCP socket (smoltcp, in the same interface) still acknowledges.
#[derive(Clone, Copy, PartialEq)]
enum Drive {
    Both,
    ServerOnly,
}

struct Net {
    now: Instant,
    device: Loopback,
    iface: Interface,
    sockets: SocketSet<'static>,
    server: WsSocket,
    client: WsSocket,
    server_events: Vec<Event>,
    client_events: Vec<Event>,
    server_errors: Vec<(Instant, Error)>,
    client_errors: Vec<(Instant, Error)>,
}

fn tcp_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
        tcp::SocketBuffer::new(vec![0; TCP_BUFFER]),
    )
}

impl Net {
    fn new(server_config: Config, client_config: Config) -> Net {
        let now = Instant::ZERO;
        let mut device = Loopback::new(Medium::Ip);
        let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut device, now);
        iface.update_ip_addrs(|addrs| {
            addrs
                .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
                .unwrap()
        });
        let mut sockets = SocketSet::new(Vec::new());
        let server_handle = sockets.add(tcp_socket());
        let client_handle = sockets.add(tcp_socket());
        sockets
            .get_mut::<tcp::Socket>(server_handle)
            .listen(PORT)
            .unwrap();
        sockets
            .get_mut::<tcp::Socket>(client_handle)
            .connect(iface.context(), (IpAddress::v4(127, 0, 0, 1), PORT), 49152)
            .unwrap();

        let uri = Uri::parse("ws://127.0.0.1:8080/chat").unwrap();
        let options = ClientOptions::new()
            .try_protocol("superchat")
            .unwrap()
            .try_protocol("chat")
            .unwrap();
        let client = Connection::client_with_rng(&uri, options, client_config, TestOnlyRng(7));
        Net {
            now,
            device,
            iface,
            sockets,
            server: WsSocket::new(server_handle, Connection::server(server_config), now),
            client: WsSocket::new(client_handle, client, now),
            server_events: Vec::new(),
            client_events: Vec::new(),
            server_errors: Vec::new(),
            client_errors: Vec::new(),
        }
    }

    /// One turn of the device's main loop at the current time, without moving the clock.
    fn turn(&mut self, drive: Drive) {
        self.iface
            .poll(self.now, &mut self.device, &mut self.sockets);
        let events = &mut self.server_events;
        if let Err(e) = self
            .server
            .poll(self.now, &mut self.sockets, |conn, event| {
                if let Event::HandshakeRequest(request) = &event {
                    // The server speaks only "chat": the client offers "superchat" first, so
                    // the answer shows that the server's choice, not the first offer, wins.
                    let mut accept = Accept::new();
                    if request.protocols().any(|p| p == "chat") {
                        accept = accept.protocol("chat");
                    }
                    conn.accept(&accept).unwrap();
                }
                events.push(event);
            })
        {
            self.server_errors.push((self.now, e));
        }
        if drive == Drive::Both {
            let events = &mut self.client_events;
            if let Err(e) = self
                .client
                .poll(self.now, &mut self.sockets, |_, event| events.push(event))
            {
                self.client_errors.push((self.now, e));
            }
        }
        self.iface
            .poll(self.now, &mut self.device, &mut self.sockets);
    }

    /// Sleeps as the device would: to the sooner of smoltcp's and the connections'
    /// deadlines, or by `IDLE_STEP` when nothing is due, unless a packet came in.
    fn sleep(&mut self, drive: Drive) {
        // A packet waiting in the loopback's queue is the network interrupt that would end
        // a device's sleep at once; smoltcp's delay only counts its own timers.
        let packet = self
            .iface
            .poll_ingress_single(self.now, &mut self.device, &mut self.sockets);
        if packet != PollIngressSingleResult::None {
            return;
        }
        let delay = match drive {
            Drive::Both => earliest(
                self.now,
                &mut self.iface,
                &self.sockets,
                [&self.server, &self.client],
            ),
            Drive::ServerOnly => earliest(self.now, &mut self.iface, &self.sockets, [&self.server]),
        };
        self.now += delay.unwrap_or(IDLE_STEP).min(IDLE_STEP);
    }

    /// Runs the loop until `done`, failing the test if it takes more than `limit` of
    /// virtual time (a loop that stopped moving bytes would hang here otherwise).
    fn run_until(&mut self, drive: Drive, limit: Duration, mut done: impl FnMut(&Net) -> bool) {
        let give_up = self.now + limit;
        // Turns at one instant are bounded too: a loop that kept asking for an immediate
        // wake-up without making progress would never let the clock reach `give_up`.
        for _ in 0..1_000_000 {
            self.turn(drive);
            if done(self) {
                return;
            }
            assert!(
                self.now < give_up,
                "not done after {limit} of virtual time (now {}); server events {:?}, client events {:?}",
                self.now,
                self.server_events,
                self.client_events
            );
            self.sleep(drive);
        }
        panic!("the loop spun without the clock moving");
    }

    fn connect(&mut self) {
        self.run_until(Drive::Both, Duration::from_secs(5), |net| {
            net.client_events
                .iter()
                .any(|e| matches!(e, Event::Connected(_)))
        });
    }

    fn tcp(&self, handle: SocketHandle) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket>(handle)
    }

    fn messages(events: &[Event]) -> Vec<Message> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }
}

fn net() -> Net {
    Net::new(Config::default(), Config::default())
}

#[test]
fn the_handshake_completes_over_tcp_and_settles_on_the_servers_subprotocol() {
    let mut net = net();
    net.connect();
    let request = net
        .server_events
        .iter()
        .find_map(|e| match e {
            Event::HandshakeRequest(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the server saw the upgrade request");
    assert_eq!(request.path(), "/chat");
    assert_eq!(
        request.protocols().collect::<Vec<_>>(),
        ["superchat", "chat"]
    );
    let negotiated = net
        .client_events
        .iter()
        .find_map(|e| match e {
            Event::Connected(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
    assert_eq!(net.server.connection().protocol(), Some("chat"));
    assert_eq!(net.server.connection().state(), sockless::State::Open);
    assert_eq!(net.client.connection().state(), sockless::State::Open);
}

#[test]
fn text_and_binary_messages_cross_both_ways() {
    let mut net = net();
    net.connect();
    net.client
        .connection_mut()
        .send_text("hello, server")
        .unwrap();
    net.client
        .connection_mut()
        .send_binary(&[0, 1, 2, 255])
        .unwrap();
    net.server
        .connection_mut()
        .send_text("hello, client")
        .unwrap();
    net.server
        .connection_mut()
        .send_binary(b"\x00bin\xff")
        .unwrap();
    net.run_until(Drive::Both, Duration::from_secs(5), |net| {
        Net::messages(&net.server_events).len() == 2 && Net::messages(&net.client_events).len() == 2
    });
    assert_eq!(
        Net::messages(&net.server_events),
        [
            Message::Text("hello, server".into()),
            Message::Binary(vec![0, 1, 2, 255].into())
        ]
    );
    assert_eq!(
        Net::messages(&net.client_events),
        [
            Message::Text("hello, client".into()),
            Message::Binary(b"\x00bin\xff".to_vec().into())
        ]
    );
}

#[test]
fn a_message_larger_than_the_tcp_send_buffer_goes_out_in_partial_writes_intact() {
    let mut net = net();
    net.connect();
    let big: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
    net.client.connection_mut().send_binary(&big).unwrap();
    net.server.connection_mut().send_binary(&big).unwrap();
    net.turn(Drive::Both);
    // One turn can only hand TCP what its send buffer holds; the rest must stay owed to
    // it, not be dropped nor counted as written.
    assert!(net.client.connection().pending_outbound() > big.len() - 2 * TCP_BUFFER);
    assert!(net.server.connection().pending_outbound() > big.len() - 2 * TCP_BUFFER);
    net.run_until(Drive::Both, Duration::from_secs(30), |net| {
        !Net::messages(&net.server_events).is_empty()
            && !Net::messages(&net.client_events).is_empty()
    });
    assert_eq!(
        Net::messages(&net.server_events),
        [Message::Binary(big.clone().into())]
    );
    assert_eq!(
        Net::messages(&net.client_events),
        [Message::Binary(big.into())]
    );
    assert_eq!(net.client.connection().pending_outbound(), 0);
    assert_eq!(net.server.connection().pending_outbound(), 0);
}

#[test]
fn a_ping_is_answered_with_a_pong_carrying_its_payload() {
    let mut net = net();
    net.connect();
    net.client
        .connection_mut()
        .send_ping(b"are you there")
        .unwrap();
    net.run_until(Drive::Both, Duration::from_secs(5), |net| {
        net.client_events
            .iter()
            .any(|e| matches!(e, Event::Pong(_)))
    });
    assert!(
        net.server_events
            .contains(&Event::Ping(b"are you there"[..].into()))
    );
    assert!(
        net.client_events
            .contains(&Event::Pong(b"are you there"[..].into()))
    );
}

#[test]
fn a_fragmented_message_arrives_as_one_message_with_a_ping_between_its_fragments() {
    let mut net = net();
    net.connect();
    let client = net.client.connection_mut();
    client
        .send_fragment(MessageKind::Text, b"hello, ", false)
        .unwrap();
    // Control frames may come between fragments (RFC 6455 §5.4).
    client.send_ping(b"mid").unwrap();
    // A fragment may end inside a code point: "é" is split across the last two.
    client
        .send_fragment(MessageKind::Text, b"fragm\xc3", false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, b"\xa9nt", true)
        .unwrap();
    let server = net.server.connection_mut();
    server
        .send_fragment(MessageKind::Binary, &[1, 2], false)
        .unwrap();
    server
        .send_fragment(MessageKind::Binary, &[3], true)
        .unwrap();
    net.run_until(Drive::Both, Duration::from_secs(5), |net| {
        !Net::messages(&net.server_events).is_empty()
            && !Net::messages(&net.client_events).is_empty()
    });
    assert_eq!(
        Net::messages(&net.server_events),
        [Message::Text("hello, fragmént".into())]
    );
    assert_eq!(
        Net::messages(&net.client_events),
        [Message::Binary(vec![1, 2, 3].into())]
    );
    assert!(net.server_events.contains(&Event::Ping(b"mid"[..].into())));
}

#[test]
fn the_close_handshake_gives_1000_on_both_sides_and_ends_both_tcp_sockets() {
    let mut net = net();
    net.connect();
    net.client
        .connection_mut()
        .close(CloseCode::NORMAL, "bye")
        .unwrap();
    net.run_until(Drive::Both, Duration::from_secs(5), |net| {
        net.server.is_finished(&net.sockets) && net.client.is_finished(&net.sockets)
    });
    let close_code = |events: &[Event]| {
        events.iter().find_map(|e| match e {
            Event::Close(frame) => Some(frame.code),
            _ => None,
        })
    };
    assert_eq!(close_code(&net.server_events), Some(CloseCode::NORMAL));
    assert_eq!(close_code(&net.client_events), Some(CloseCode::NORMAL));
    assert!(net.server.connection().is_closed() && net.client.connection().is_closed());
    assert!(net.server_errors.is_empty() && net.client_errors.is_empty());
    // The server closed first (RFC 6455 §7.1.1), so the server holds TIME-WAIT and the
    // client, which closed after the server's FIN, is fully closed.
    assert_eq!(net.tcp(net.server.handle()).state(), tcp::State::TimeWait);
    assert_eq!(net.tcp(net.client.handle()).state(), tcp::State::Closed);
    // TIME-WAIT ends on the virtual clock too.
    net.run_until(Drive::Both, Duration::from_secs(30), |net| {
        net.tcp(net.server.handle()).state() == tcp::State::Closed
    });
}

#[test]
fn a_tcp_fin_without_a_close_frame_is_reported_as_1006_and_the_other_side_closes() {
    let mut net = net();
    net.connect();
    // The client's TCP ends without any WebSocket close frame: only the loop's FIN
    // detection can tell the server.
    let client = net.client.handle();
    net.sockets.get_mut::<tcp::Socket>(client).close();
    net.run_until(Drive::ServerOnly, Duration::from_secs(5), |net| {
        net.server.is_finished(&net.sockets)
    });
    assert!(
        net.server_events
            .iter()
            .any(|e| matches!(e, Event::Close(f) if f.code == CloseCode::ABNORMAL))
    );
    assert!(net.server.connection().is_closed());
}

#[test]
fn reading_stops_while_the_connection_owes_more_than_its_high_water_mark() {
    let mut server_config = Config::default();
    server_config.outbound_high_water = 1024;
    let mut net = Net::new(server_config, Config::default());
    net.connect();
    // The client stops reading its TCP socket, so the server's output backs up...
    let owed: Vec<u8> = vec![7; 64 * 1024];
    net.server.connection_mut().send_binary(&owed).unwrap();
    net.run_until(Drive::ServerOnly, Duration::from_secs(5), |net| {
        net.tcp(net.client.handle()).recv_queue() == TCP_BUFFER
    });
    assert!(!net.server.connection().wants_read());
    // ...and what the client sends meanwhile must stay in the server's TCP buffer, where
    // TCP's window holds the client back, instead of in the connection.
    net.client
        .connection_mut()
        .send_text("while you are busy")
        .unwrap();
    net.client.transmit(net.now, &mut net.sockets);
    net.run_until(Drive::ServerOnly, Duration::from_secs(5), |net| {
        net.tcp(net.server.handle()).recv_queue() > 0
    });
    for _ in 0..10 {
        net.turn(Drive::ServerOnly);
        net.sleep(Drive::ServerOnly);
    }
    assert!(net.tcp(net.server.handle()).recv_queue() > 0);
    assert!(Net::messages(&net.server_events).is_empty());
    // Once the client reads again, the output drains and the server reads again.
    net.run_until(Drive::Both, Duration::from_secs(30), |net| {
        !Net::messages(&net.server_events).is_empty()
            && !Net::messages(&net.client_events).is_empty()
    });
    assert_eq!(
        Net::messages(&net.server_events),
        [Message::Text("while you are busy".into())]
    );
    assert_eq!(
        Net::messages(&net.client_events),
        [Message::Binary(owed.into())]
    );
}

#[test]
fn a_failure_behind_a_large_message_is_written_after_it_before_the_tcp_close() {
    let mut net = net();
    net.connect();
    let owed: Vec<u8> = (0..64 * 1024u32).map(|i| i as u8).collect();
    net.server.connection_mut().send_binary(&owed).unwrap();
    net.turn(Drive::Both);
    assert!(net.server.connection().pending_outbound() > TCP_BUFFER);
    // An unmasked frame from a client breaks RFC 6455 §5.1: the server fails at once,
    // with most of the message still owed. Written straight into the client's TCP
    // socket, because a sockless client would never send it.
    let client = net.client.handle();
    let raw = [0x81, 0x02, b'h', b'i'];
    assert_eq!(
        net.sockets.get_mut::<tcp::Socket>(client).send_slice(&raw),
        Ok(raw.len())
    );
    net.run_until(Drive::Both, Duration::from_secs(30), |net| {
        net.server.is_finished(&net.sockets) && net.client.is_finished(&net.sockets)
    });
    assert!(
        matches!(net.server_errors[..], [(_, Error::Protocol(_))]),
        "{:?}",
        net.server_errors
    );
    // Closing the TCP socket before the output drained would have cut the message short
    // and lost the close frame behind it.
    assert_eq!(
        Net::messages(&net.client_events),
        [Message::Binary(owed.into())]
    );
    assert!(
        net.client_events
            .iter()
            .any(|e| matches!(e, Event::Close(f) if f.code == CloseCode::PROTOCOL_ERROR))
    );
}

#[test]
fn a_peer_that_takes_nothing_more_is_reset_once_the_close_timeout_has_passed() {
    let close_timeout = core::time::Duration::from_secs(2);
    let mut server_config = Config::default();
    server_config.keepalive = Some(keepalive());
    server_config.close_timeout = Some(close_timeout);
    let mut net = Net::new(server_config, Config::default());
    net.connect();
    // A message far larger than both TCP buffers, to a client that has stopped reading:
    // the failure's close frame can never get past it.
    net.server
        .connection_mut()
        .send_binary(&vec![1; 64 * 1024])
        .unwrap();
    net.run_until(Drive::ServerOnly, Duration::from_secs(60), |net| {
        !net.server_errors.is_empty()
    });
    let failed_at = net.server_errors[0].0;
    assert!(matches!(net.server_errors[0].1, Error::KeepaliveTimeout));
    assert!(net.server.connection().pending_outbound() > 0);
    // The device must wake for the reset even if TCP has nothing due by then.
    assert_eq!(
        net.server.poll_at(),
        Some(failed_at + Duration::from(close_timeout))
    );
    net.run_until(Drive::ServerOnly, Duration::from_secs(10), |net| {
        net.server.is_finished(&net.sockets)
    });
    // Reset (CLOSED at once), not closed (which would sit in FIN-WAIT-1 behind the full
    // send buffer), and not before the grace the connection's close timeout gives.
    assert_eq!(net.tcp(net.server.handle()).state(), tcp::State::Closed);
    assert!(
        net.now >= failed_at + Duration::from(close_timeout),
        "reset at {}",
        net.now
    );
    assert!(
        net.now <= failed_at + Duration::from(close_timeout) + IDLE_STEP,
        "reset at {}",
        net.now
    );
}

fn keepalive() -> Keepalive {
    Keepalive {
        interval: core::time::Duration::from_secs(2),
        timeout: core::time::Duration::from_secs(3),
    }
}

fn keepalive_net() -> Net {
    let mut server_config = Config::default();
    server_config.keepalive = Some(keepalive());
    Net::new(server_config, Config::default())
}

#[test]
fn a_silent_peer_fails_the_keepalive_once_interval_and_timeout_have_passed() {
    let mut net = keepalive_net();
    net.connect();
    let silent_since = net.now;
    // The client's WebSocket goes quiet; its TCP socket still acknowledges, as a peer
    // whose application hung would.
    net.run_until(Drive::ServerOnly, Duration::from_secs(60), |net| {
        !net.server_errors.is_empty()
    });
    let (failed_at, error) = &net.server_errors[0];
    assert!(matches!(error, Error::KeepaliveTimeout), "{error:?}");
    let Keepalive { interval, timeout } = keepalive();
    let (interval, timeout) = (Duration::from(interval), Duration::from(timeout));
    // The ping goes out one to two intervals after the last byte received, and the
    // connection gives up `timeout` after it.
    assert!(
        *failed_at >= silent_since + interval + timeout,
        "failed at {failed_at}"
    );
    assert!(
        *failed_at <= silent_since + interval * 2 + timeout + IDLE_STEP,
        "failed at {failed_at}"
    );
    // The failure's close frame (1011) is written, then the TCP socket closed.
    net.run_until(Drive::ServerOnly, Duration::from_secs(5), |net| {
        !net.tcp(net.server.handle()).may_send()
    });
    assert!(net.server.connection().is_closed());
    assert_eq!(net.server.connection().pending_outbound(), 0);
}

#[test]
fn an_idle_connection_sleeps_until_its_own_deadline_when_tcp_has_none() {
    let mut net = keepalive_net();
    net.connect();
    // Until smoltcp has nothing due (the handshake's last ACKs are out).
    for _ in 0..100 {
        if net.iface.poll_at(net.now, &net.sockets).is_none() {
            break;
        }
        net.turn(Drive::Both);
        net.sleep(Drive::Both);
    }
    assert_eq!(net.iface.poll_delay(net.now, &net.sockets), None);
    // smoltcp alone would let the device sleep until a packet came: the keepalive ping
    // would never go out.
    let delay = net
        .server
        .poll_delay(net.now, &mut net.iface, &net.sockets)
        .expect("the keepalive deadline");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from(keepalive().interval),
        "{delay}"
    );
}

#[test]
fn a_peer_that_answers_keepalive_pings_stays_connected() {
    let mut net = keepalive_net();
    net.connect();
    let start = net.now;
    let Keepalive { interval, timeout } = keepalive();
    let quiet = (Duration::from(interval) + Duration::from(timeout)) * 4;
    net.run_until(Drive::Both, quiet + Duration::from_secs(1), |net| {
        net.now >= start + quiet
    });
    assert!(net.server_errors.is_empty(), "{:?}", net.server_errors);
    assert_eq!(net.server.connection().state(), sockless::State::Open);
    // The pongs that kept it alive were the client's automatic answers to the pings.
    assert!(
        net.client_events
            .iter()
            .filter(|e| matches!(e, Event::Ping(_)))
            .count()
            >= 3
    );
}
