//! A WebSocket echo server and a client on one smoltcp interface, in one process:
//! the driving loop a bare-metal device runs, on smoltcp's `Loopback` device and a
//! virtual clock.
//!
//! ```text
//! cargo run -p sockless-bare-metal --example loopback
//! ```
//!
//! Only the printing uses `std` (examples run on the host); everything that moves bytes
//! is `sockless_bare_metal::WsSocket`, which is `no_std` + `alloc`. On a device:
//! - `Loopback` becomes your network driver (anything that implements
//!   `smoltcp::phy::Device`),
//! - the virtual clock becomes a hardware timer read as a `smoltcp::time::Instant`,
//! - "advance the clock by the delay" becomes "sleep (WFI) until the timer fires or the
//!   network interrupt does",
//! - `ExampleOnlyRng` becomes the chip's hardware RNG.

use smoltcp::iface::{Config as IfaceConfig, Interface, PollIngressSingleResult, SocketSet};
use smoltcp::phy::{Loopback, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};
use sockless::handshake::{Accept, ClientOptions, Uri};
use sockless::{CloseCode, Config, Connection, Event, Message, MessageKind};
use sockless_bare_metal::{WsSocket, earliest};

/// EXAMPLE ONLY: a predictable random source (SplitMix64) so that every run prints the
/// same. RFC 6455 §10.3 requires masking keys the application cannot predict: on a real
/// device, implement `rand_core::TryRng` over the hardware RNG (or a CSPRNG seeded from
/// it) instead.
struct ExampleOnlyRng(u64);

impl rand_core::TryRng for ExampleOnlyRng {
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
            chunk.copy_from_slice(&self.try_next_u64()?.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

fn tcp_socket() -> tcp::Socket<'static> {
    // Small buffers, as on a microcontroller: a message larger than them simply takes
    // several turns of the loop (partial writes), nothing else changes.
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 2048]),
        tcp::SocketBuffer::new(vec![0; 2048]),
    )
}

fn main() {
    // The virtual clock. A device reads its timer here instead.
    let mut now = Instant::ZERO;

    // --- the network: one IP interface on a loopback device ---
    let mut device = Loopback::new(Medium::Ip);
    let mut iface = Interface::new(IfaceConfig::new(HardwareAddress::Ip), &mut device, now);
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(127, 0, 0, 1), 8))
            .unwrap()
    });

    // --- two TCP sockets: smoltcp has no accept(), a listening socket becomes the
    // connection, so a server that serves N clients at once keeps N listening sockets ---
    let mut sockets = SocketSet::new(Vec::new());
    let server_tcp = sockets.add(tcp_socket());
    let client_tcp = sockets.add(tcp_socket());
    sockets
        .get_mut::<tcp::Socket>(server_tcp)
        .listen(80)
        .unwrap();
    sockets
        .get_mut::<tcp::Socket>(client_tcp)
        .connect(iface.context(), (IpAddress::v4(127, 0, 0, 1), 80), 49152)
        .unwrap();

    // --- the WebSockets: a sockless connection per TCP socket ---
    let mut server_config = Config::default();
    // Bounds that fit a small heap: one message may hold at most 16 KiB.
    server_config.max_frame_size = 16 * 1024;
    server_config.max_message_size = 16 * 1024;
    let mut server = WsSocket::new(server_tcp, Connection::server(server_config), now);

    let uri = Uri::parse("ws://127.0.0.1/echo").unwrap();
    let options = ClientOptions::new().try_protocol("echo").unwrap();
    // The client's upgrade request is queued at once; the loop sends it as soon as TCP
    // is connected.
    let conn = Connection::client_with_rng(&uri, options, Config::default(), ExampleOnlyRng(1));
    let mut client = WsSocket::new(client_tcp, conn, now);

    // What the client will do, one step per reply it gets.
    let mut replies = 0;

    // --- the main loop ---
    loop {
        // 1. smoltcp: packets in and out of the TCP sockets.
        iface.poll(now, &mut device, &mut sockets);

        // 2. Each WebSocket: bytes in, timers, events, bytes out.
        let result = server.poll(now, &mut sockets, |conn, event| match event {
            Event::HandshakeRequest(request) => {
                println!("[{now}] server: upgrade request for {}", request.path());
                let mut accept = Accept::new();
                if request.protocols().any(|p| p == "echo") {
                    accept = accept.protocol("echo");
                }
                conn.accept(&accept).unwrap();
            }
            Event::Message(message) => {
                println!("[{now}] server: echoing {}", describe(&message));
                // A send can be refused (e.g. too much already owed); an echo server
                // just drops that one.
                let _ = conn.send(&message);
            }
            Event::Ping(payload) => {
                println!("[{now}] server: ping {payload:?} (the pong is queued already)")
            }
            Event::Close(frame) => println!(
                "[{now}] server: peer closed with {} {:?}",
                frame.code.0, frame.reason
            ),
            _ => {}
        });
        if let Err(e) = result {
            // What the client is owed (a close frame) is queued; the loop still writes it.
            println!("[{now}] server: connection failed: {e}");
        }

        let result = client.poll(now, &mut sockets, |conn, event| match event {
            Event::Connected(negotiated) => {
                println!(
                    "[{now}] client: connected, subprotocol {:?}",
                    negotiated.protocol
                );
                conn.send_text("hello from a microcontroller").unwrap();
            }
            Event::Message(message) => {
                println!("[{now}] client: got {}", describe(&message));
                replies += 1;
                match replies {
                    // Larger than both TCP buffers: it leaves in several partial writes.
                    1 => conn.send_binary(&vec![0xA5; 6000]).unwrap(),
                    // A message produced piece by piece, e.g. from a sensor's buffer.
                    2 => {
                        conn.send_fragment(MessageKind::Text, b"temp=21.", false)
                            .unwrap();
                        conn.send_fragment(MessageKind::Text, b"5C", true).unwrap();
                    }
                    3 => conn.send_ping(b"still there?").unwrap(),
                    _ => {}
                }
            }
            Event::Pong(payload) => {
                println!("[{now}] client: pong {payload:?}; closing");
                conn.close(CloseCode::NORMAL, "done").unwrap();
            }
            Event::Close(frame) => println!(
                "[{now}] client: server answered the close with {}",
                frame.code.0
            ),
            _ => {}
        });
        if let Err(e) = result {
            println!("[{now}] client: connection failed: {e}");
        }

        // 3. Send what step 2 queued now, rather than after the next sleep.
        iface.poll(now, &mut device, &mut sockets);

        // Both connections closed and their TCP sockets done with: a device would make
        // a new `WsSocket` for the next connection on the same TCP socket here.
        if server.is_finished(&sockets) && client.is_finished(&sockets) {
            break;
        }

        // 4. Sleep until the sooner of smoltcp's timers (retransmits, delayed ACKs) and
        //    the connections' (handshake, keepalive, close timeouts), or until a packet
        //    arrives. On a device the network interrupt ends the sleep early; the
        //    loopback's stand-in for it is a packet already waiting in its queue (what
        //    step 3 just sent to ourselves), which smoltcp's delay does not count.
        if iface.poll_ingress_single(now, &mut device, &mut sockets)
            != PollIngressSingleResult::None
        {
            continue; // "interrupt": a packet came in, run the loop again at once
        }
        // `None`: nothing is due until a packet arrives, and on the loopback none will
        // (a device would sleep until its next interrupt); take a small step instead.
        let delay = earliest(now, &mut iface, &sockets, [&server, &client])
            .unwrap_or(Duration::from_millis(10));
        now += delay;
        if now > Instant::from_secs(60) {
            panic!("the example should finish in well under a minute of virtual time");
        }
    }

    println!(
        "[{now}] done: server TCP {} (it closed first, so it holds TIME-WAIT), client TCP {}",
        sockets.get::<tcp::Socket>(server_tcp).state(),
        sockets.get::<tcp::Socket>(client_tcp).state()
    );
}

fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text {:?}", text.as_str()),
        Message::Binary(data) => format!("{} binary bytes", data.len()),
    }
}
