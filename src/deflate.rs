//! permessage-deflate (RFC 7692): negotiation, and per-message compression with context
//! takeover, bounded inflation and the `00 00 ff ff` tail removed and restored.
//!
//! The codec is zlib-rs through `flate2`, streaming both ways. A compressed message is
//! recognised by RSV1 on its first frame; its frames are inflated as they complete, and the
//! inflated size counts against [`Config::max_message_size`](crate::Config::max_message_size)
//! while inflating, so a decompression bomb fails with 1009 without allocating past the
//! limit.
//!
//! # Memory per connection
//!
//! Measured with a counting allocator (`tests/alloc.rs`), zlib-rs through flate2:
//!
//! | window bits | inflate only | inflate + deflate |
//! |---:|---:|---:|
//! | 9 | 46 KiB | 293 KiB |
//! | 12 | 46 KiB | 307 KiB |
//! | 15 | 46 KiB | 419 KiB |
//!
//! The compressor's hash tables dominate whatever the window; the inflater allocates a full
//! window whatever was negotiated.
//!
//! A server that does not compress what it sends can accept offers while keeping only the
//! inflater: set [`DeflateConfig::compress`] to false.

use crate::config::Role;
use crate::handshake::{ExtensionOffer, ExtensionParam};
use alloc::string::ToString;
use alloc::vec::Vec;
use core::fmt;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's registered name.
pub const NAME: &str = "permessage-deflate";

/// The four octets a sender strips from the end of every compressed message and the
/// receiver appends again (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What this endpoint offers or accepts, and how it compresses.
///
/// The same settings serve both roles: a client offers them, a server accepts an offer
/// within them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server resets its compression context after each message (it then needs no
    /// memory of earlier messages between them). Client: request it. Server: always grant
    /// it when asked; with `true`, impose it.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message. Client: offer it.
    /// Server: with `true`, require it in the response.
    pub client_no_context_takeover: bool,
    /// The largest LZ77 window the server compresses with, 8-15 bits (default 15). A client
    /// asks for it below 15; a server uses at most this.
    pub server_max_window_bits: u8,
    /// The largest LZ77 window the client compresses with, 8-15 bits (default 15).
    pub client_max_window_bits: u8,
    /// zlib compression level, 0-9 (default 1: fast, most of the gain on text).
    pub level: u8,
    /// Messages shorter than this are sent uncompressed (default 32 bytes: below it the
    /// deflate block overhead wins).
    pub threshold: usize,
    /// Compress outgoing messages at all (default true). With `false`, offers are still
    /// accepted and compressed messages inflated, but everything is sent uncompressed, which
    /// RFC 7692 allows per message, and no compressor memory is held.
    pub compress: bool,
}

impl Default for DeflateConfig {
    fn default() -> DeflateConfig {
        DeflateConfig {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            level: 1,
            threshold: 32,
            compress: true,
        }
    }
}

/// The parameters both ends agreed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compression context after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after each message.
    pub client_no_context_takeover: bool,
    /// The server compresses with at most this window (bits).
    pub server_max_window_bits: u8,
    /// The client compresses with at most this window (bits).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// What is wrong with a permessage-deflate offer or response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NegotiationError {
    /// A parameter RFC 7692 does not define for this direction.
    UnknownParameter(alloc::string::String),
    /// A parameter given twice.
    DuplicateParameter(alloc::string::String),
    /// A value where none is allowed, none where one is required, or a window size outside
    /// 8-15.
    InvalidValue(alloc::string::String),
    /// The server answered with permessage-deflate more than once.
    DuplicateExtension,
    /// The server omitted `server_no_context_takeover`, which the client asked for.
    ContextTakeoverRefused,
    /// The server allowed itself a larger window than the client asked for.
    WindowTooLarge,
    /// The server set `client_max_window_bits` though the client did not offer it.
    ClientWindowNotOffered,
}

impl fmt::Display for NegotiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NegotiationError::UnknownParameter(p) => write!(f, "unknown parameter {p}"),
            NegotiationError::DuplicateParameter(p) => write!(f, "parameter {p} given twice"),
            NegotiationError::InvalidValue(p) => write!(f, "invalid value for {p}"),
            NegotiationError::DuplicateExtension => {
                f.write_str("permessage-deflate answered twice")
            }
            NegotiationError::ContextTakeoverRefused => {
                f.write_str("server_no_context_takeover was requested but not granted")
            }
            NegotiationError::WindowTooLarge => {
                f.write_str("server_max_window_bits larger than requested")
            }
            NegotiationError::ClientWindowNotOffered => {
                f.write_str("client_max_window_bits set though not offered")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for NegotiationError {}

/// One offer's parameters, checked (RFC 7692 §7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Parsed {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value ("I can limit my window if you ask").
    client_max_window_bits: Option<Option<u8>>,
}

/// A window size value: exactly the decimal digits 8 to 15.
fn window_bits(param: &ExtensionParam) -> Result<u8, NegotiationError> {
    let value = param.value.as_deref().unwrap_or("");
    let bits: u8 = match value.as_bytes() {
        [d @ b'8'..=b'9'] => d - b'0',
        [b'1', d @ b'0'..=b'5'] => 10 + d - b'0',
        _ => return Err(NegotiationError::InvalidValue(param.name.clone())),
    };
    Ok(bits)
}

fn parse(element: &ExtensionOffer) -> Result<Parsed, NegotiationError> {
    let mut parsed = Parsed::default();
    let mut seen = [false; 4];
    for param in &element.params {
        let name = param.name.to_ascii_lowercase();
        let index = match name.as_str() {
            "server_no_context_takeover" => 0,
            "client_no_context_takeover" => 1,
            "server_max_window_bits" => 2,
            "client_max_window_bits" => 3,
            _ => return Err(NegotiationError::UnknownParameter(param.name.clone())),
        };
        if core::mem::replace(&mut seen[index], true) {
            return Err(NegotiationError::DuplicateParameter(param.name.clone()));
        }
        match index {
            0 | 1 if param.value.is_some() => {
                return Err(NegotiationError::InvalidValue(param.name.clone()));
            }
            0 => parsed.server_no_context_takeover = true,
            1 => parsed.client_no_context_takeover = true,
            2 => parsed.server_max_window_bits = Some(window_bits(param)?),
            _ => {
                parsed.client_max_window_bits = Some(match param.value {
                    Some(_) => Some(window_bits(param)?),
                    None => None,
                })
            }
        }
    }
    Ok(parsed)
}

fn is_deflate(element: &ExtensionOffer) -> bool {
    element.name.eq_ignore_ascii_case(NAME)
}

/// The offer a client sends for `config`: it always says it can limit its own window
/// (`client_max_window_bits` without a value) so that servers with small windows accept.
///
/// ```
/// use sockless::deflate::{client_offer, DeflateConfig};
/// let offer = client_offer(&DeflateConfig::default());
/// assert_eq!(offer.to_string(), "permessage-deflate; client_max_window_bits");
/// ```
pub fn client_offer(config: &DeflateConfig) -> ExtensionOffer {
    let mut offer = ExtensionOffer::new(NAME);
    if config.server_no_context_takeover {
        offer = offer.param("server_no_context_takeover");
    }
    if config.client_no_context_takeover {
        offer = offer.param("client_no_context_takeover");
    }
    if config.server_max_window_bits < 15 {
        offer = offer.param_value(
            "server_max_window_bits",
            config.server_max_window_bits.to_string(),
        );
    }
    if config.client_max_window_bits < 15 {
        offer = offer.param_value(
            "client_max_window_bits",
            config.client_max_window_bits.to_string(),
        );
    } else {
        offer = offer.param("client_max_window_bits");
    }
    offer
}

/// Server: picks the first permessage-deflate offer it can accept within `config` and
/// returns the response element and the agreed parameters. Offers with unknown, duplicate
/// or invalid parameters are declined, as RFC 7692 §7.1 requires; `None` when none is
/// acceptable.
///
/// ```
/// use sockless::deflate::{negotiate, DeflateConfig};
/// use sockless::handshake::ExtensionOffer;
/// let offers = [ExtensionOffer::new("permessage-deflate").param("client_max_window_bits")];
/// let (response, params) = negotiate(&offers, &DeflateConfig::default()).unwrap();
/// assert_eq!(response.to_string(), "permessage-deflate");
/// assert_eq!(params.client_max_window_bits, 15);
/// ```
pub fn negotiate(
    offers: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Option<(ExtensionOffer, DeflateParams)> {
    offers
        .iter()
        .filter(|offer| is_deflate(offer))
        .find_map(|offer| parse(offer).ok())
        .map(|offer| answer(offer, config))
}

fn answer(offer: Parsed, config: &DeflateConfig) -> (ExtensionOffer, DeflateParams) {
    let server_bits = offer
        .server_max_window_bits
        .unwrap_or(15)
        .min(config.server_max_window_bits.clamp(8, 15));
    let client_bits = match offer.client_max_window_bits {
        // The client cannot limit its window: it will use up to 15.
        None => 15,
        Some(offered) => offered
            .unwrap_or(15)
            .min(config.client_max_window_bits.clamp(8, 15)),
    };
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut response = ExtensionOffer::new(NAME);
    if params.server_no_context_takeover {
        response = response.param("server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response = response.param("client_no_context_takeover");
    }
    if offer.server_max_window_bits.is_some() || server_bits < 15 {
        response = response.param_value("server_max_window_bits", server_bits.to_string());
    }
    if offer.client_max_window_bits.is_some() && client_bits < 15 {
        response = response.param_value("client_max_window_bits", client_bits.to_string());
    }
    (response, params)
}

/// Client: checks the server's answer (the extensions of its 101) against what
/// `config` offered. `Ok(None)`: the server declined compression.
pub fn accept_response(
    extensions: &[ExtensionOffer],
    config: &DeflateConfig,
) -> Result<Option<DeflateParams>, NegotiationError> {
    let mut answers = extensions.iter().filter(|e| is_deflate(e));
    let Some(answer) = answers.next() else {
        return Ok(None);
    };
    if answers.next().is_some() {
        return Err(NegotiationError::DuplicateExtension);
    }
    let parsed = parse(answer)?;
    if config.server_no_context_takeover && !parsed.server_no_context_takeover {
        return Err(NegotiationError::ContextTakeoverRefused);
    }
    let server_bits = parsed.server_max_window_bits.unwrap_or(15);
    if config.server_max_window_bits < 15 && server_bits > config.server_max_window_bits {
        return Err(NegotiationError::WindowTooLarge);
    }
    let client_bits = match parsed.client_max_window_bits {
        None => config.client_max_window_bits.clamp(8, 15),
        // A response must give the value it settles on.
        Some(None) => {
            return Err(NegotiationError::InvalidValue(
                "client_max_window_bits".into(),
            ));
        }
        Some(Some(bits)) => bits.min(config.client_max_window_bits.clamp(8, 15)),
    };
    Ok(Some(DeflateParams {
        server_no_context_takeover: parsed.server_no_context_takeover,
        client_no_context_takeover: parsed.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}

/// Why a compressed message could not be inflated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// Not valid deflate data.
    Corrupt,
    /// Inflating would pass the message size limit.
    TooLarge,
}

/// The receiving side: inflates compressed messages.
pub(crate) struct Inflater {
    state: Decompress,
    reset_each_message: bool,
    /// The inflated message so far, in messages mode.
    pub(crate) message: Vec<u8>,
}

impl fmt::Debug for Inflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inflater")
            .field("reset_each_message", &self.reset_each_message)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater for messages sent by the peer of `role` under `params`.
    pub(crate) fn new(role: Role, params: &DeflateParams) -> Inflater {
        let (bits, reset) = match role {
            // A server inflates what the client compressed.
            Role::Server => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
        };
        Inflater {
            // zlib cannot inflate with an 8-bit window, and a larger window reads any stream
            // a smaller one wrote.
            state: Decompress::new_with_window_bits(false, bits.clamp(9, 15)),
            reset_each_message: reset,
            message: Vec::new(),
        }
    }

    /// Inflates one frame's compressed payload, appending to `out`, which may not grow past
    /// `limit` bytes. With `last`, the message ends here: the stripped tail is restored.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), InflateError> {
        let mut tail: &[u8] = if last { &TAIL } else { &[] };
        loop {
            if input.is_empty() {
                if tail.is_empty() {
                    break;
                }
                input = core::mem::take(&mut tail);
            }
            // One byte past the limit tells "exactly at the limit" from "over it".
            let room = limit.saturating_add(1).saturating_sub(out.len());
            if room == 0 {
                return Err(InflateError::TooLarge);
            }
            out.reserve(room.min(64 * 1024).max(input.len().min(room)));
            let (before_in, before_out) = (self.state.total_in(), self.state.total_out());
            let status = self
                .state
                .decompress_vec(input, out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let consumed = (self.state.total_in() - before_in) as usize;
            let produced = self.state.total_out() - before_out;
            input = &input[consumed..];
            if out.len() > limit {
                return Err(InflateError::TooLarge);
            }
            match status {
                // A final block ends the stream: the next message starts a new one.
                Status::StreamEnd => {
                    if !input.is_empty() {
                        return Err(InflateError::Corrupt);
                    }
                    self.state.reset(false);
                    input = &[];
                    tail = &[];
                }
                // No progress with room to spare and input left: the data is stuck.
                _ if consumed == 0
                    && produced == 0
                    && out.len() < out.capacity()
                    && !input.is_empty() =>
                {
                    return Err(InflateError::Corrupt);
                }
                _ => {}
            }
        }
        if last && self.reset_each_message {
            self.state.reset(false);
        }
        Ok(())
    }
}

/// The sending side: compresses messages.
pub(crate) struct Deflater {
    state: Compress,
    reset_each_message: bool,
    threshold: usize,
    scratch: Vec<u8>,
}

impl fmt::Debug for Deflater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deflater")
            .field("reset_each_message", &self.reset_each_message)
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor for an endpoint of `role`, or `None` when it must not compress: turned
    /// off, or limited to an 8-bit window, which zlib cannot produce for raw deflate (RFC 7692
    /// lets any message go uncompressed, so refusing to compress stays within the agreement).
    pub(crate) fn new(
        role: Role,
        params: &DeflateParams,
        config: &DeflateConfig,
    ) -> Option<Deflater> {
        let (bits, reset) = match role {
            Role::Server => (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            ),
            Role::Client => (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            ),
        };
        if !config.compress || bits < 9 {
            return None;
        }
        let level = Compression::new(u32::from(config.level.min(9)));
        Some(Deflater {
            state: Compress::new_with_window_bits(level, false, bits.min(15)),
            reset_each_message: reset,
            threshold: config.threshold,
            scratch: Vec::new(),
        })
    }

    /// Forgets the history: what follows refers to nothing before it.
    pub(crate) fn reset(&mut self) {
        self.state.reset();
    }

    /// Whether the output buffer (empty between calls) holds more than `keep` bytes.
    pub(crate) fn holds_over(&self, keep: usize) -> bool {
        self.scratch.capacity() > keep
    }

    /// Frees the output buffer if it holds more than `keep` bytes.
    pub(crate) fn shrink(&mut self, keep: usize) {
        if self.holds_over(keep) {
            self.scratch = Vec::new();
        }
    }

    /// Whether a whole message of `len` bytes is worth compressing.
    pub(crate) fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// Compresses one piece of a message; with `last`, the message ends and the tail is
    /// stripped. The result is valid until the next call.
    pub(crate) fn compress(&mut self, mut input: &[u8], last: bool) -> &[u8] {
        self.scratch.clear();
        loop {
            // A sync flush needs a few bytes beyond the data; deflate rarely expands by more
            // than 0.1% + 12 bytes.
            self.scratch.reserve(input.len() / 2 + 64);
            let before = self.state.total_in();
            // `compress_vec` fails only on a stream error, impossible with valid arguments;
            // if it ever did, the partial output is still a well-formed prefix to flush.
            let _ = self
                .state
                .compress_vec(input, &mut self.scratch, FlushCompress::Sync);
            input = &input[(self.state.total_in() - before) as usize..];
            if input.is_empty() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        if last {
            if self.scratch.ends_with(&TAIL) {
                self.scratch.truncate(self.scratch.len() - TAIL.len());
            }
            if self.reset_each_message {
                self.state.reset();
            }
        }
        &self.scratch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offers(header: &str) -> Vec<ExtensionOffer> {
        ExtensionOffer::parse_list(header.as_bytes()).unwrap()
    }

    #[test]
    fn rfc_7692_example_hello_compresses_to_the_rfc_bytes() {
        // RFC 7692 §7.2.3.1: "Hello" as one compressed frame.
        let params = DeflateParams::default();
        let mut deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default()).unwrap();
        let mut inflater = Inflater::new(Role::Client, &params);
        let compressed = deflater.compress(b"Hello", true).to_vec();
        let mut out = Vec::new();
        inflater.inflate(&compressed, true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello");
        let mut out = Vec::new();
        Inflater::new(Role::Client, &params)
            .inflate(
                &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
                true,
                &mut out,
                100,
            )
            .unwrap();
        assert_eq!(out, b"Hello");
    }

    #[test]
    fn rfc_7692_example_context_takeover_shrinks_the_second_message() {
        let params = DeflateParams::default();
        let mut deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default()).unwrap();
        let first = deflater.compress(b"Hello", true).to_vec();
        let second = deflater.compress(b"Hello", true).to_vec();
        assert!(second.len() < first.len(), "{first:x?} then {second:x?}");
        let mut inflater = Inflater::new(Role::Client, &params);
        for message in [&first, &second] {
            let mut out = Vec::new();
            inflater.inflate(message, true, &mut out, 100).unwrap();
            assert_eq!(out, b"Hello");
        }
    }

    #[test]
    fn no_context_takeover_resets_between_messages() {
        let params = DeflateParams {
            server_no_context_takeover: true,
            ..DeflateParams::default()
        };
        let mut deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default()).unwrap();
        let first = deflater.compress(b"Hello", true).to_vec();
        let second = deflater.compress(b"Hello", true).to_vec();
        assert_eq!(first, second);
        // Each message inflates on its own, with a fresh inflater each time.
        for message in [&first, &second] {
            let mut out = Vec::new();
            Inflater::new(Role::Client, &params)
                .inflate(message, true, &mut out, 100)
                .unwrap();
            assert_eq!(out, b"Hello");
        }
    }

    #[test]
    fn empty_message_compresses_to_one_zero_byte() {
        // RFC 7692 §7.2.3.6.
        let params = DeflateParams::default();
        let mut deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default()).unwrap();
        assert_eq!(deflater.compress(b"", true), &[0x00]);
    }

    #[test]
    fn inflating_past_the_limit_fails_without_allocating_past_it() {
        let params = DeflateParams::default();
        let config = DeflateConfig {
            level: 9,
            ..DeflateConfig::default()
        };
        let mut deflater = Deflater::new(Role::Server, &params, &config).unwrap();
        let bomb = deflater.compress(&alloc::vec![0u8; 1 << 20], true).to_vec();
        assert!(bomb.len() < 2048, "{}", bomb.len());
        let mut out = Vec::new();
        let result = Inflater::new(Role::Client, &params).inflate(&bomb, true, &mut out, 1000);
        assert_eq!(result, Err(InflateError::TooLarge));
        assert!(out.capacity() <= 64 * 1024 + 1001, "{}", out.capacity());
    }

    #[test]
    fn message_exactly_at_the_limit_is_accepted() {
        let params = DeflateParams::default();
        let mut deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default()).unwrap();
        let data = deflater.compress(&[7u8; 1000], true).to_vec();
        let mut out = Vec::new();
        Inflater::new(Role::Client, &params)
            .inflate(&data, true, &mut out, 1000)
            .unwrap();
        assert_eq!(out.len(), 1000);
    }

    #[test]
    fn corrupt_data_is_an_error() {
        let mut out = Vec::new();
        let result = Inflater::new(Role::Client, &DeflateParams::default()).inflate(
            &[0xff, 0xff, 0xff, 0xff],
            true,
            &mut out,
            100,
        );
        assert_eq!(result, Err(InflateError::Corrupt));
    }

    #[test]
    fn window_bits_8_and_15_round_trip() {
        for bits in [8u8, 9, 15] {
            let params = DeflateParams {
                server_max_window_bits: bits,
                client_max_window_bits: bits,
                ..DeflateParams::default()
            };
            let text: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
            let deflater = Deflater::new(Role::Server, &params, &DeflateConfig::default());
            if bits == 8 {
                // zlib cannot write an 8-bit window: this side sends uncompressed.
                assert!(deflater.is_none());
                continue;
            }
            let compressed = deflater.unwrap().compress(&text, true).to_vec();
            let mut out = Vec::new();
            Inflater::new(Role::Client, &params)
                .inflate(&compressed, true, &mut out, 1 << 20)
                .unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn fragmented_compression_inflates_piece_by_piece() {
        let params = DeflateParams::default();
        let mut deflater = Deflater::new(Role::Client, &params, &DeflateConfig::default()).unwrap();
        let a = deflater.compress(b"Hello, ", false).to_vec();
        let b = deflater.compress(b"world", true).to_vec();
        let mut inflater = Inflater::new(Role::Server, &params);
        let mut out = Vec::new();
        inflater.inflate(&a, false, &mut out, 100).unwrap();
        inflater.inflate(&b, true, &mut out, 100).unwrap();
        assert_eq!(out, b"Hello, world");
    }

    #[test]
    fn server_accepts_the_first_supported_offer() {
        let list = offers(
            "permessage-deflate; unknown_param, permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        );
        let (response, params) = negotiate(&list, &DeflateConfig::default()).unwrap();
        assert_eq!(params.server_max_window_bits, 10);
        assert_eq!(
            response.to_string(),
            "permessage-deflate; server_max_window_bits=10"
        );
    }

    #[test]
    fn server_declines_duplicate_and_invalid_parameters() {
        for offer in [
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=7",
            "permessage-deflate; server_max_window_bits=08",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=0",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; x_param",
        ] {
            assert_eq!(
                negotiate(&offers(offer), &DeflateConfig::default()),
                None,
                "{offer}"
            );
        }
    }

    #[test]
    fn server_grants_requested_no_context_takeover() {
        let (response, params) = negotiate(
            &offers("permessage-deflate; server_no_context_takeover"),
            &DeflateConfig::default(),
        )
        .unwrap();
        assert!(params.server_no_context_takeover);
        assert_eq!(
            response.to_string(),
            "permessage-deflate; server_no_context_takeover"
        );
    }

    #[test]
    fn server_limits_client_window_only_when_offered() {
        let config = DeflateConfig {
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let (_, params) = negotiate(&offers("permessage-deflate"), &config).unwrap();
        assert_eq!(params.client_max_window_bits, 15);
        let (response, params) = negotiate(
            &offers("permessage-deflate; client_max_window_bits"),
            &config,
        )
        .unwrap();
        assert_eq!(params.client_max_window_bits, 10);
        assert_eq!(
            response.to_string(),
            "permessage-deflate; client_max_window_bits=10"
        );
    }

    #[test]
    fn quoted_window_value_is_accepted() {
        let (_, params) = negotiate(
            &offers("permessage-deflate; server_max_window_bits=\"12\""),
            &DeflateConfig::default(),
        )
        .unwrap();
        assert_eq!(params.server_max_window_bits, 12);
    }

    #[test]
    fn client_validates_the_response() {
        let config = DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let ok = accept_response(
            &offers("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
            &config,
        )
        .unwrap()
        .unwrap();
        assert_eq!(ok.server_max_window_bits, 9);
        assert_eq!(
            accept_response(
                &offers("permessage-deflate; server_max_window_bits=9"),
                &config
            ),
            Err(NegotiationError::ContextTakeoverRefused)
        );
        assert_eq!(
            accept_response(
                &offers(
                    "permessage-deflate; server_no_context_takeover; server_max_window_bits=12"
                ),
                &config
            ),
            Err(NegotiationError::WindowTooLarge)
        );
        assert_eq!(
            accept_response(
                &offers("permessage-deflate, permessage-deflate"),
                &DeflateConfig::default()
            ),
            Err(NegotiationError::DuplicateExtension)
        );
        assert_eq!(
            accept_response(
                &offers("permessage-deflate; client_max_window_bits"),
                &DeflateConfig::default()
            ),
            Err(NegotiationError::InvalidValue(
                "client_max_window_bits".into()
            ))
        );
        assert_eq!(accept_response(&[], &config), Ok(None));
    }
}
