//! What the fuzz targets share: a deterministic random source, a reader over the fuzzer's
//! bytes, the configurations the connection targets run with, and the checkers in
//! [`wire`] (what a connection wrote, what it delivered) and [`drive`] (a whole connection
//! driven by the input).
//!
//! Every check panics with a message that says which invariant broke, so that a crash
//! artifact explains itself.

#![forbid(unsafe_code)]

pub mod drive;
pub mod wire;

use core::convert::Infallible;
use core::time::Duration;
use sockless::handshake::{ClientOptions, ExtensionOffer, Limits, Uri, generate_key};
use sockless::{Config, Keepalive, ReceiveMode};

/// A deterministic random source (SplitMix64). The client targets draw their handshake key
/// from it, so that a seed can carry the matching `Sec-WebSocket-Accept`.
#[derive(Clone, Debug)]
pub struct TestRng(u64);

impl TestRng {
    /// A source that starts at `seed`.
    pub const fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    fn step(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl rand_core::TryRng for TestRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.step() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.step())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let word = self.step().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// The seed of the client connection's random source in `client_connection`.
pub const CLIENT_SEED: u64 = 0x50C4_1E55;

/// The URI the client connection target connects to.
pub const CLIENT_URI: &str = "ws://example.com/chat";

/// The `Sec-WebSocket-Key` the client target sends: the first draw of `TestRng(CLIENT_SEED)`.
pub fn client_key() -> [u8; 24] {
    generate_key(&mut TestRng::new(CLIENT_SEED))
}

/// The client target's URI.
pub fn client_uri() -> Uri {
    Uri::parse(CLIENT_URI).expect("CLIENT_URI is valid")
}

/// What the client target offers, from bits 6 and 7 of the flags byte.
pub fn client_options(flags: u8) -> ClientOptions {
    let mut opts = ClientOptions::new();
    if flags & 0x40 != 0 {
        opts = opts.protocol("chat").protocol("superchat");
    }
    if flags & 0x80 != 0 {
        opts = opts
            .extension(ExtensionOffer::new("permessage-deflate").param("client_max_window_bits"))
            .origin("http://example.com");
    }
    opts
}

/// The connection targets' settings, from the flags byte:
///
/// - bit 0: [`ReceiveMode::Frames`]; bit 1: `auto_pong` off;
/// - bits 2-3: one of four sets of small limits, so that inputs reach them (the output
///   limits of set 1 are the defaults, so that most sends go through there);
/// - bit 4: keepalive of 1 s / 1 s;
/// - bit 5: no close timeout and no handshake timeout (else 2 s and 3 s).
pub fn connection_config(flags: u8) -> Config {
    let mut config = Config::default();
    if flags & 0x01 != 0 {
        config.receive_mode = ReceiveMode::Frames;
    }
    config.auto_pong = flags & 0x02 == 0;
    // (max frame, max message, max fragments, max buffered input, max head, max headers,
    // max pending outbound, outbound high water)
    let defaults = Config::default();
    let (frame, message, fragments, buffered, head, headers, owed, high_water) =
        match (flags >> 2) & 3 {
            0 => (16, 40, 4, 1024, 1024, 16, 600, 100),
            1 => (
                125,
                300,
                8,
                2048,
                2048,
                32,
                defaults.max_pending_outbound,
                defaults.outbound_high_water,
            ),
            2 => (1000, 1000, 64, 4096, 8192, 64, 4096, 2000),
            // The tightest: a 125-byte ping fits only when at most 11 bytes are owed, and
            // anything owed at all is over the high water mark.
            _ => (64, 64, 2, 200, 512, 12, 150, 0),
        };
    config.max_frame_size = frame;
    config.max_message_size = message;
    config.max_fragments = fragments;
    config.max_buffered_input = buffered;
    config.max_pending_outbound = owed;
    config.outbound_high_water = high_water;
    config.handshake_limits = Limits::new()
        .with_max_head_size(head)
        .with_max_headers(headers);
    config.keepalive = (flags & 0x10 != 0).then_some(Keepalive {
        interval: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
    });
    config.close_timeout = (flags & 0x20 == 0).then_some(Duration::from_secs(2));
    config.handshake_timeout = (flags & 0x20 == 0).then_some(Duration::from_secs(3));
    config
}

/// Reads the fuzzer's bytes front to back; past the end, every read gives nothing.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        let (&first, rest) = self.data.split_first()?;
        self.data = rest;
        Some(first)
    }

    /// The next two bytes, little-endian; a missing second byte reads as 0.
    pub fn u16(&mut self) -> Option<u16> {
        let low = self.u8()?;
        let high = self.u8().unwrap_or(0);
        Some(u16::from_le_bytes([low, high]))
    }

    /// The next `n` bytes, or as many as are left.
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        taken
    }

    /// Everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }
}

/// Cuts valid text into the payloads of text fragments at any byte, inside a code point
/// too, holding back the cut-off tail for the next fragment so that the fragments of a
/// message always add up to valid UTF-8 (which `send_fragment` asks of its caller).
#[derive(Clone, Debug, Default)]
pub struct TextCarry {
    carry: Vec<u8>,
}

impl TextCarry {
    /// The payload of the next text fragment: the held-back tail, then `text`, less its last
    /// `back` bytes unless `fin`. Returns the payload and the tail to hold back if the
    /// fragment is sent; pass that to [`commit`](Self::commit) then.
    pub fn piece(&self, text: &str, back: usize, fin: bool) -> (Vec<u8>, Vec<u8>) {
        let mut all = self.carry.clone();
        all.extend_from_slice(text.as_bytes());
        if fin {
            return (all, Vec::new());
        }
        let tail = all.split_off(all.len() - back.min(all.len()));
        (all, tail)
    }

    /// The fragment went out: hold back `tail`.
    pub fn commit(&mut self, tail: Vec<u8>) {
        self.carry = tail;
    }
}

/// The next chunk size from a list of sizes taken from the input, cycling; `None` when
/// there are no sizes (hand everything over at once).
pub fn chunk_size(sizes: &[u8], i: usize) -> Option<usize> {
    if sizes.is_empty() {
        None
    } else {
        Some(usize::from(sizes[i % sizes.len()]) + 1)
    }
}
