//! Property tests for each layer: the frame codec, masking, incremental UTF-8, close codes
//! and payloads, the limits a hostile peer runs into, and a send→receive round trip.

mod common;

use bytes::{Bytes, BytesMut};
use common::{drain, parse_frames};
use proptest::prelude::*;
use sockless::ClosePayloadError;
use sockless::codec::Utf8Validator;
use sockless::codec::parse_close_payload as parse_payload;
use sockless::codec::{FrameError, FrameHeader, OpCode, apply_mask};
use sockless::{
    CloseCode, Config, Connection, Error, Event, Message, MessageKind, ProtocolError, ReceiveMode,
    Role, SendError, State,
};

// ---- frame headers ----

const OPCODES: [OpCode; 6] = [
    OpCode::Continuation,
    OpCode::Text,
    OpCode::Binary,
    OpCode::Close,
    OpCode::Ping,
    OpCode::Pong,
];

fn opcode() -> impl Strategy<Value = OpCode> {
    prop::sample::select(&OPCODES[..])
}

/// Lengths of every form, with the edges between forms weighted up.
fn payload_len() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0..=125u64,
        2 => 126..=0xFFFFu64,
        2 => 0x1_0000..=u64::MAX >> 1,
        1 => prop::sample::select(&[0, 125, 126, 127, 0xFFFF, 0x1_0000, u64::MAX >> 1][..]),
    ]
}

prop_compose! {
    fn header()(
        fin: bool,
        rsv1: bool,
        rsv2: bool,
        rsv3: bool,
        opcode in opcode(),
        mask: Option<[u8; 4]>,
        payload_len in payload_len(),
    ) -> FrameHeader {
        FrameHeader { fin, rsv1, rsv2, rsv3, opcode, mask, payload_len }
    }
}

/// The header RFC 6455 §5.2 describes for `bytes`, decoded the slow and obvious way:
/// `Err` for a reserved opcode or a 64-bit length with the top bit set, `Ok(None)` until the
/// whole header is there.
fn reference_decode(bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
    if bytes.len() < 2 {
        return Ok(None);
    }
    let opcode = match bytes[0] & 0x0F {
        0x0 => OpCode::Continuation,
        0x1 => OpCode::Text,
        0x2 => OpCode::Binary,
        0x8 => OpCode::Close,
        0x9 => OpCode::Ping,
        0xA => OpCode::Pong,
        reserved => return Err(FrameError::ReservedOpcode(reserved)),
    };
    let extended = match bytes[1] & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    if bytes.len() < 2 + extended {
        return Ok(None);
    }
    let mut len = u64::from(bytes[1] & 0x7F);
    if extended > 0 {
        len = 0;
        for &b in &bytes[2..2 + extended] {
            len = len << 8 | u64::from(b);
        }
        if extended == 8 && len >> 63 == 1 {
            return Err(FrameError::LengthTopBitSet);
        }
    }
    let masked = bytes[1] & 0x80 != 0;
    let header_len = 2 + extended + if masked { 4 } else { 0 };
    if bytes.len() < header_len {
        return Ok(None);
    }
    let header = FrameHeader {
        fin: bytes[0] & 0x80 != 0,
        rsv1: bytes[0] & 0x40 != 0,
        rsv2: bytes[0] & 0x20 != 0,
        rsv3: bytes[0] & 0x10 != 0,
        opcode,
        mask: masked.then(|| bytes[2 + extended..header_len].try_into().unwrap()),
        payload_len: len,
    };
    Ok(Some((header, header_len)))
}

proptest! {
    #[test]
    fn frame_header_encode_decode_round_trips(
        header in header(),
        trailing in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let (buf, n) = header.encode();
        prop_assert_eq!(n, header.encoded_len());
        // The shortest length form, then the mask.
        let form = match header.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        prop_assert_eq!(n, form + if header.mask.is_some() { 4 } else { 0 });
        prop_assert_eq!(buf[1] & 0x80 != 0, header.mask.is_some());
        prop_assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Some((header, n))));
        prop_assert_eq!(reference_decode(&buf[..n]), Ok(Some((header, n))));
        // What follows the header does not change it.
        let mut longer = buf[..n].to_vec();
        longer.extend_from_slice(&trailing);
        prop_assert_eq!(FrameHeader::decode(&longer), Ok(Some((header, n))));
        // Any cut inside the header asks for more bytes.
        for cut in 0..n {
            prop_assert_eq!(FrameHeader::decode(&buf[..cut]), Ok(None), "cut at {}", cut);
        }
        // `write` appends the same bytes.
        let mut out = BytesMut::from(&b"prefix"[..]);
        header.write(&mut out);
        prop_assert_eq!(&out[6..], &buf[..n]);
    }

    #[test]
    fn frame_header_decode_agrees_with_a_reference_decoder(
        bytes in prop::collection::vec(any::<u8>(), 0..16),
    ) {
        let decoded = FrameHeader::decode(&bytes);
        prop_assert_eq!(decoded, reference_decode(&bytes));
        // A decoded header re-encodes to the bytes it came from when they used the
        // shortest length form, and to a header that decodes the same in any case.
        if let Ok(Some((header, n))) = decoded {
            let (buf, m) = header.encode();
            prop_assert_eq!(FrameHeader::decode(&buf[..m]), Ok(Some((header, m))));
            if m == n {
                prop_assert_eq!(&buf[..m], &bytes[..n]);
            } else {
                prop_assert!(m < n, "encoded {} bytes for a {}-byte header", m, n);
            }
        }
    }
}

#[test]
fn frame_header_non_minimal_lengths_are_accepted() {
    // 5 bytes in the 16-bit form, and in the 64-bit form.
    let sixteen = [0x82, 0x7E, 0x00, 0x05];
    let sixty_four = [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x05];
    for bytes in [&sixteen[..], &sixty_four[..]] {
        let (header, n) = FrameHeader::decode(bytes).unwrap().unwrap();
        assert_eq!((header.payload_len, n), (5, bytes.len()));
    }
}

// ---- masking ----

fn naive_mask(data: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
    data.iter()
        .enumerate()
        .map(|(i, b)| b ^ key[(offset.wrapping_add(i)) % 4])
        .collect()
}

#[test]
fn apply_mask_equals_a_byte_loop_at_every_length_and_offset() {
    let data: Vec<u8> = (0..300u32).map(|i| (i * 113 + 7) as u8).collect();
    let keys = [
        [0, 0, 0, 0],
        [0xFF, 0xFF, 0xFF, 0xFF],
        [0x37, 0xFA, 0x21, 0x3D],
        [1, 2, 3, 4],
        [0x80, 0x00, 0x01, 0xFE],
    ];
    for key in keys {
        for offset in 0..8 {
            for len in 0..300 {
                let mut fast = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                assert_eq!(
                    fast,
                    naive_mask(&data[..len], key, offset),
                    "key {key:x?} offset {offset} len {len}"
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn apply_mask_equals_a_byte_loop_for_any_key_and_offset(
        data in prop::collection::vec(any::<u8>(), 0..300),
        key: [u8; 4],
        offset in prop_oneof![0..8usize, any::<usize>()],
        split in any::<prop::sample::Index>(),
    ) {
        let mut fast = data.clone();
        apply_mask(&mut fast, key, offset);
        prop_assert_eq!(&fast, &naive_mask(&data, key, offset));
        // In two pieces, the second at the offset where the first ended.
        let mut pieces = data.clone();
        let at = split.index(data.len() + 1);
        let (a, b) = pieces.split_at_mut(at);
        apply_mask(a, key, offset);
        apply_mask(b, key, offset.wrapping_add(at));
        prop_assert_eq!(&pieces, &fast);
        // Masking is its own inverse.
        apply_mask(&mut fast, key, offset);
        prop_assert_eq!(fast, data);
    }
}

// ---- UTF-8 ----

/// Byte sequences at the edges of UTF-8: the last and first code point of each length,
/// surrogates, overlongs, bytes that never appear, lone continuation bytes.
const UTF8_EDGES: &[&[u8]] = &[
    b"a",
    b"\x7f",
    b"\xc2\x80",
    b"\xdf\xbf",
    b"\xe0\xa0\x80",
    b"\xef\xbf\xbf",
    b"\xf0\x90\x80\x80",
    b"\xf4\x8f\xbf\xbf",
    b"\xed\x9f\xbf",
    b"\xed\xa0\x80", // surrogate
    b"\xc0\xaf",     // overlong
    b"\xe0\x80\xaf",
    b"\xf0\x80\x80\xaf",
    b"\xf4\x90\x80\x80", // above U+10FFFF
    b"\xf5",
    b"\xff",
    b"\x80",
    b"\xbf",
    b"\xe2\x82", // truncated
    b"\xf0\x9f\x98",
];

/// Valid UTF-8 with a few random edits: bytes replaced, inserted, removed, or the text cut.
fn mostly_valid_utf8() -> impl Strategy<Value = Vec<u8>> {
    edited_utf8(0..24)
}

/// The same, mostly of 64 bytes and more: the size from which the validator takes its SIMD
/// path (smaller inputs go to `core::str::from_utf8`).
fn long_mostly_valid_utf8() -> impl Strategy<Value = Vec<u8>> {
    edited_utf8(64..200)
}

/// `chars` characters of valid UTF-8 with a few random edits.
fn edited_utf8(chars: core::ops::Range<usize>) -> impl Strategy<Value = Vec<u8>> {
    let edit = (any::<prop::sample::Index>(), 0..4u8, any::<u8>());
    (
        prop::collection::vec(any::<char>(), chars),
        prop::collection::vec(edit, 0..3),
    )
        .prop_map(|(chars, edits)| {
            let mut bytes = String::from_iter(chars).into_bytes();
            for (at, kind, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match kind {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    2 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => bytes.truncate(i),
                }
            }
            bytes
        })
}

fn utf8_candidates() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..48),
        mostly_valid_utf8(),
        long_mostly_valid_utf8(),
        prop::collection::vec(prop::sample::select(UTF8_EDGES), 0..8)
            .prop_map(|parts| parts.concat()),
    ]
}

/// Sorted cut points within `len`.
fn cuts_within(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..8).prop_map(|mut cuts| {
        cuts.sort_unstable();
        cuts
    })
}

fn bytes_and_cuts(
    bytes: impl Strategy<Value = Vec<u8>>,
) -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    bytes.prop_flat_map(|bytes| {
        let len = bytes.len();
        (Just(bytes), cuts_within(len))
    })
}

/// Whether `prefix` can still be continued into valid UTF-8.
fn is_valid_prefix(prefix: &[u8]) -> bool {
    match core::str::from_utf8(prefix) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

proptest! {
    #[test]
    fn utf8_validator_agrees_with_core_for_any_split(
        (bytes, cuts) in bytes_and_cuts(utf8_candidates()),
    ) {
        let mut validator = Utf8Validator::new();
        let mut start = 0;
        let mut accepted = true;
        for end in cuts.iter().copied().chain([bytes.len()]) {
            let fed = validator.feed(&bytes[start..end]);
            // Fails exactly when the bytes so far cannot begin valid UTF-8.
            prop_assert_eq!(fed.is_ok(), is_valid_prefix(&bytes[..end]), "fed up to {}", end);
            if fed.is_err() {
                accepted = false;
                break;
            }
            prop_assert_eq!(
                validator.is_boundary(),
                core::str::from_utf8(&bytes[..end]).is_ok(),
                "boundary after {}", end
            );
            start = end;
        }
        let accepted = accepted && validator.finish().is_ok();
        prop_assert_eq!(accepted, core::str::from_utf8(&bytes).is_ok());
    }

    #[test]
    fn utf8_validator_accepts_any_string_split_anywhere(
        (bytes, cuts) in bytes_and_cuts(any::<String>().prop_map(String::into_bytes)),
    ) {
        let mut validator = Utf8Validator::new();
        let mut start = 0;
        for end in cuts.iter().copied().chain([bytes.len()]) {
            prop_assert!(validator.feed(&bytes[start..end]).is_ok());
            start = end;
        }
        prop_assert!(validator.finish().is_ok());
    }
}

#[test]
fn utf8_validator_agrees_with_core_one_byte_at_a_time_on_every_edge_pair() {
    for a in UTF8_EDGES {
        for b in UTF8_EDGES {
            let bytes = [*a, *b].concat();
            let mut validator = Utf8Validator::new();
            let mut ok = true;
            for (i, byte) in bytes.iter().enumerate() {
                let fed = validator.feed(&[*byte]);
                assert_eq!(
                    fed.is_ok(),
                    is_valid_prefix(&bytes[..=i]),
                    "{bytes:x?} at {i}"
                );
                if fed.is_err() {
                    ok = false;
                    break;
                }
            }
            let ok = ok && validator.finish().is_ok();
            assert_eq!(ok, core::str::from_utf8(&bytes).is_ok(), "{bytes:x?}");
        }
    }
}

// ---- close codes and payloads ----

/// RFC 6455 §7.4.1 and §7.4.2, and the IANA registry for 1012-1014: may this code appear in
/// a close frame?
fn valid_on_wire_per_rfc(code: u16) -> bool {
    match code {
        0..=999 => false,     // not used
        1000 => true,         // normal closure
        1001 => true,         // going away
        1002 => true,         // protocol error
        1003 => true,         // unsupported data
        1004 => false,        // reserved
        1005 => false,        // no status: local only
        1006 => false,        // abnormal closure: local only
        1007 => true,         // invalid payload data
        1008 => true,         // policy violation
        1009 => true,         // message too big
        1010 => true,         // mandatory extension
        1011 => true,         // internal error
        1012..=1014 => true,  // service restart, try again later, bad gateway (IANA)
        1015 => false,        // TLS handshake: local only
        1016..=2999 => false, // reserved for the protocol, unassigned
        3000..=3999 => true,  // registered with IANA for libraries and frameworks
        4000..=4999 => true,  // private use
        5000..=u16::MAX => false,
    }
}

#[test]
fn close_code_validity_follows_rfc_6455_section_7_4_for_every_code() {
    for code in 0..=u16::MAX {
        assert_eq!(
            CloseCode(code).is_valid_on_wire(),
            valid_on_wire_per_rfc(code),
            "{code}"
        );
    }
}

/// Codes near every boundary of the table, or any code.
fn close_code() -> impl Strategy<Value = u16> {
    prop_oneof![
        prop::sample::select(
            &[
                0, 999, 1000, 1003, 1004, 1005, 1006, 1007, 1011, 1012, 1014, 1015, 1016, 2999,
                3000, 3999, 4000, 4999, 5000, 65535,
            ][..]
        ),
        any::<u16>(),
    ]
}

fn close_reason() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..30).prop_map(|c| String::from_iter(c).into_bytes()),
        mostly_valid_utf8(),
    ]
}

fn close_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (close_code(), close_reason()).prop_map(|(code, reason)| {
            let mut payload = code.to_be_bytes().to_vec();
            payload.extend(reason);
            payload
        }),
        1 => prop::collection::vec(any::<u8>(), 0..4),
    ]
}

proptest! {
    #[test]
    fn close_payload_accepts_exactly_a_valid_code_and_a_utf8_reason(payload in close_payload()) {
        let parsed = parse_payload(Bytes::from(payload.clone()));
        match payload.len() {
            0 => prop_assert_eq!(parsed, Ok(None)),
            1 => prop_assert_eq!(parsed, Err(ClosePayloadError::OneByte)),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                let reason = core::str::from_utf8(&payload[2..]);
                match (valid_on_wire_per_rfc(code), reason) {
                    (false, _) => {
                        prop_assert_eq!(parsed, Err(ClosePayloadError::InvalidCode(code)));
                    }
                    (true, Err(_)) => {
                        prop_assert_eq!(parsed, Err(ClosePayloadError::InvalidReason));
                    }
                    (true, Ok(reason)) => {
                        let frame = parsed.unwrap().unwrap();
                        prop_assert_eq!(frame.code, CloseCode(code));
                        prop_assert_eq!(frame.reason.as_str(), reason);
                    }
                }
            }
        }
    }

    #[test]
    fn close_frame_from_a_peer_is_accepted_exactly_when_its_payload_is(payload in close_payload()) {
        prop_assume!(payload.len() <= 125);
        let mut server = Connection::open(Role::Server, Config::default());
        server.receive(&common::client_frame(OpCode::Close, true, &payload, 7));
        let (events, error) = drain(&mut server);
        let sent = parse_frames(&server.take_outbound(), false);
        match parse_payload(Bytes::from(payload.clone())) {
            Ok(frame) => {
                prop_assert_eq!(error, None);
                let [Event::Close(got)] = &events[..] else {
                    panic!("{events:?}")
                };
                let expected_code = frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code);
                prop_assert_eq!(got.code, expected_code);
                // The answer echoes the code alone, or is empty for an empty close.
                let echo = frame.map_or(Vec::new(), |f| f.code.0.to_be_bytes().to_vec());
                prop_assert_eq!(sent, [(OpCode::Close, true, Bytes::from(echo))]);
            }
            Err(e) => {
                prop_assert!(events.is_empty());
                let error = error.expect("an invalid close frame must fail the connection");
                prop_assert_eq!(&error, &Error::Protocol(ProtocolError::InvalidClose(e)));
                let code = if e == ClosePayloadError::InvalidReason { 1007u16 } else { 1002 };
                prop_assert_eq!(error.close_code(), Some(CloseCode(code)));
                prop_assert_eq!(sent.len(), 1);
                prop_assert_eq!(&sent[0].2[..], &code.to_be_bytes()[..]);
            }
        }
        prop_assert_eq!(server.state(), State::Closed);
    }
}

// ---- limits against hostile input ----

const MAX_FRAME: usize = 20;
const MAX_MESSAGE: usize = 32;
const MAX_FRAGMENTS: usize = 4;

fn limited(mode: ReceiveMode) -> Config {
    let mut config = Config::default();
    config.max_frame_size = MAX_FRAME;
    config.max_message_size = MAX_MESSAGE;
    config.max_fragments = MAX_FRAGMENTS;
    config.receive_mode = mode;
    config
}

/// One frame as a hostile client might write it: usually plausible, sometimes not.
#[derive(Clone, Debug)]
struct RawFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    /// A length other than the payload's (the frame then runs into the next one).
    declared_len: Option<u64>,
    /// 0: shortest length form, 1: 16-bit, 2: 64-bit.
    form: u8,
    payload: Vec<u8>,
}

impl RawFrame {
    /// Appends the frame as sent to an endpoint of `to`: the mask is drawn for a server,
    /// so for a client its presence is flipped (a masked frame is the violation there).
    fn encode(&self, out: &mut Vec<u8>, to: Role) {
        let mask = match (to, self.mask) {
            (Role::Server, mask) => mask,
            (Role::Client, Some(_)) => None,
            (Role::Client, None) => Some([0x12, 0x34, 0x56, 0x78]),
        };
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        out.push(u8::from(self.fin) << 7 | (self.rsv & 7) << 4 | (self.opcode & 0xF));
        let mask_bit = if mask.is_some() { 0x80 } else { 0 };
        match (self.form, len) {
            (0, 0..=125) => out.push(mask_bit | len as u8),
            (0 | 1, 0..=0xFFFF) => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        if let Some(key) = mask {
            out.extend_from_slice(&key);
        }
        let payload_start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = mask {
            apply_mask(&mut out[payload_start..], key, 0);
        }
    }
}

/// The UTF-8 of up to `max_chars - 1` arbitrary characters.
fn short_text(max_chars: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<char>(), 0..max_chars)
        .prop_map(|c| String::from_iter(c).into_bytes())
}

fn raw_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => short_text(6),
        2 => prop::collection::vec(any::<u8>(), 0..20),
        1 => mostly_valid_utf8(),
        1 => close_payload(),
        1 => prop::collection::vec(any::<u8>(), 0..130),
    ]
}

prop_compose! {
    /// A frame with every field drawn on its own: mostly plausible, each field sometimes
    /// not.
    fn raw_frame()(
        fin in prop::bool::weighted(0.7),
        rsv in prop_oneof![30 => Just(0u8), 1 => 0..8u8],
        opcode in prop_oneof![
            30 => prop::sample::select(&[0u8, 1, 2, 8, 9, 10][..]),
            1 => 0..16u8,
        ],
        mask in prop_oneof![30 => any::<[u8; 4]>().prop_map(Some), 1 => Just(None)],
        declared_len in prop_oneof![
            40 => Just(None),
            1 => (0..200u64).prop_map(Some),
            1 => any::<u64>().prop_map(Some),
        ],
        form in prop_oneof![8 => Just(0u8), 1 => 1..3u8],
        payload in raw_payload(),
    ) -> RawFrame {
        RawFrame { fin, rsv, opcode, mask, declared_len, form, payload }
    }
}

/// A control frame a well-behaved client could send.
fn plausible_control() -> impl Strategy<Value = RawFrame> {
    (
        prop_oneof![6 => Just(0x9u8), 4 => Just(0xA), 1 => Just(0x8)],
        any::<[u8; 4]>(),
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..8),
            1 => close_payload(),
        ],
    )
        .prop_map(|(opcode, key, payload)| RawFrame {
            fin: true,
            rsv: 0,
            opcode,
            mask: Some(key),
            declared_len: None,
            form: 0,
            payload,
        })
}

/// A data message a well-behaved client could send, cut into fragments with control frames
/// between them; near the limits, so that some go over.
fn plausible_message() -> impl Strategy<Value = Vec<RawFrame>> {
    let payload = prop_oneof![
        3 => short_text(16).prop_map(|t| (true, t)),
        2 => prop::collection::vec(any::<u8>(), 0..44).prop_map(|b| (false, b)),
        1 => mostly_valid_utf8().prop_map(|b| (true, b)),
    ];
    payload
        .prop_flat_map(|(is_text, payload)| {
            let len = payload.len();
            (
                Just(is_text),
                Just(payload),
                prop::collection::vec(0..=len, 0..5),
                prop::collection::vec(prop::option::weighted(0.2, plausible_control()), 6),
                prop::collection::vec(any::<[u8; 4]>(), 6),
            )
        })
        .prop_map(|(is_text, payload, mut cuts, controls, keys)| {
            cuts.sort_unstable();
            let pieces = pieces_at(&payload, &cuts);
            let last = pieces.len() - 1;
            let mut frames = Vec::new();
            for (i, piece) in pieces.into_iter().enumerate() {
                frames.push(RawFrame {
                    fin: i == last,
                    rsv: 0,
                    opcode: match (i, is_text) {
                        (0, true) => 1,
                        (0, false) => 2,
                        _ => 0,
                    },
                    mask: Some(keys[i]),
                    declared_len: None,
                    form: 0,
                    payload: piece.to_vec(),
                });
                if let (false, Some(control)) = (i == last, &controls[i]) {
                    frames.push(control.clone());
                }
            }
            frames
        })
}

fn encode_all(frames: &[RawFrame], to: Role) -> Vec<u8> {
    let mut out = Vec::new();
    for frame in frames {
        frame.encode(&mut out, to);
    }
    out
}

/// What a hostile peer might send to an endpoint of role `to`: plausible traffic with a
/// few bytes corrupted, frames with arbitrary fields, or noise.
fn hostile_input(to: Role) -> impl Strategy<Value = Vec<u8>> {
    let plausible = prop::collection::vec(
        prop_oneof![
            3 => plausible_message(),
            1 => plausible_control().prop_map(|f| vec![f]),
        ],
        0..6,
    )
    .prop_map(move |messages| encode_all(&messages.concat(), to));
    let corruption = (any::<prop::sample::Index>(), any::<u8>());
    let corrupted = (plausible.clone(), prop::collection::vec(corruption, 1..3)).prop_map(
        |(mut bytes, corruptions)| {
            if !bytes.is_empty() {
                for (at, xor) in corruptions {
                    let i = at.index(bytes.len());
                    bytes[i] ^= xor;
                }
            }
            bytes
        },
    );
    prop_oneof![
        4 => plausible,
        2 => corrupted,
        3 => prop::collection::vec(raw_frame(), 0..10).prop_map(move |f| encode_all(&f, to)),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

/// Feeds `pieces` to an endpoint of `role`, checking after every piece what must hold
/// whatever the input; returns everything it reported.
fn feed_hostile(
    role: Role,
    config: &Config,
    pieces: &[&[u8]],
    eof: bool,
) -> (Vec<Event>, Option<Error>) {
    let mut conn = Connection::open(role, config.clone());
    let mut events = Vec::new();
    let mut error = None;
    let mut ended = false;
    for (i, piece) in pieces.iter().enumerate() {
        if i % 3 == 2 {
            conn.receive_bytes(BytesMut::from(*piece));
        } else {
            conn.receive(piece);
        }
        let (new, err) = drain(&mut conn);
        if ended {
            assert!(
                new.is_empty() && err.is_none(),
                "after the end: {new:?} {err:?}"
            );
        }
        for event in &new {
            assert!(!ended, "{event:?} after the end");
            if matches!(event, Event::Close(_)) {
                ended = true;
            }
        }
        events.extend(new);
        if err.is_some() {
            assert!(!ended, "an error after the end: {err:?}");
            ended = true;
            error = err;
        }
    }
    if eof {
        conn.receive_eof();
        let (new, err) = drain(&mut conn);
        if ended {
            assert!(
                new.is_empty() && err.is_none(),
                "after the end: {new:?} {err:?}"
            );
        } else {
            // Everything decodable was polled already: the transport ended without a
            // close frame.
            let abnormal = Event::Close(sockless::CloseFrame {
                code: CloseCode::ABNORMAL,
                reason: "".into(),
            });
            assert_eq!((&new[..], &err), (&[abnormal][..], &None));
            ended = true;
        }
        events.extend(new);
    }
    check_outbound(&mut conn, &events, error.as_ref());
    assert_eq!(conn.state() == State::Closed, ended);
    // After a clean closing handshake a client waits for the conn to close the
    // transport; in every other end the transport is closed at once.
    let clean = error.is_none()
        && matches!(events.last(), Some(Event::Close(f)) if f.code != CloseCode::ABNORMAL);
    let waits = role == Role::Client && clean && !eof;
    assert_eq!(conn.should_close_transport(), ended && !waits);
    if ended {
        // Nothing more, whatever arrives.
        conn.receive(&common::client_frame(OpCode::Text, true, b"late", 1));
        assert_eq!(drain(&mut conn), (Vec::new(), None));
        assert!(conn.outbound().is_empty());
    }
    (events, error)
}

/// The pongs in `sent` answer the pings among `events` in order, the latest always, every
/// one of a read: what was not written before the next read's pings arrived may be
/// replaced by their pongs.
fn assert_answers_pings(events: &[Event], sent: &[common::SentFrame]) {
    let pings: Vec<&Bytes> = events
        .iter()
        .filter_map(|e| match e {
            Event::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let pongs: Vec<&Bytes> = sent
        .iter()
        .filter(|(op, _, _)| *op == OpCode::Pong)
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(pongs.last(), pings.last(), "the latest ping is answered");
    let mut rest = pings.iter();
    for pong in pongs {
        assert!(
            rest.any(|ping| *ping == pong),
            "pong {pong:?} answers no later ping"
        );
    }
}

/// The endpoint wrote whole frames, masked if it is a client: pongs for the pings (see
/// `assert_answers_pings`), then at most one close frame, which carries the failure's code
/// or echoes the peer's.
fn check_outbound(conn: &mut Connection, events: &[Event], error: Option<&Error>) {
    let sent = parse_frames(&conn.take_outbound(), conn.role() == Role::Client);
    assert_answers_pings(events, &sent);
    let closes: Vec<&Bytes> = sent
        .iter()
        .filter(|(op, _, _)| *op == OpCode::Close)
        .map(|(_, _, p)| p)
        .collect();
    assert!(sent.iter().all(|(op, fin, _)| *fin && op.is_control()));
    match (error, events.last()) {
        (Some(error), _) => {
            let code = error
                .close_code()
                .expect("a protocol error has a close code");
            assert_eq!(closes.len(), 1);
            assert_eq!(closes[0][..], code.0.to_be_bytes());
        }
        (None, Some(Event::Close(frame))) if frame.code == CloseCode::ABNORMAL => {
            assert!(closes.is_empty())
        }
        (None, Some(Event::Close(frame))) if frame.code == CloseCode::NO_STATUS => {
            assert_eq!(closes, [&Bytes::new()])
        }
        (None, Some(Event::Close(frame))) => {
            assert_eq!(closes.len(), 1);
            assert_eq!(closes[0][..], frame.code.0.to_be_bytes());
        }
        (None, _) => assert!(closes.is_empty()),
    }
    if !closes.is_empty() {
        assert_eq!(
            sent.last().map(|f| f.0),
            Some(OpCode::Close),
            "a frame after the close"
        );
    }
}

/// Checks the events of one hostile run against the limits, returning the messages (whole
/// or reassembled from frames).
fn check_limits(events: &[Event]) -> Vec<Message> {
    let mut messages = Vec::new();
    // Frames mode: the message being reassembled, and the frame being received.
    let mut kind: Option<MessageKind> = None;
    let mut assembly: Vec<u8> = Vec::new();
    let mut fragments = 0;
    let mut frame_received = 0u64;
    for event in events {
        match event {
            Event::Message(message) => {
                assert!(message.as_bytes().len() <= MAX_MESSAGE, "{message:?}");
                if let Message::Text(text) = message {
                    assert!(core::str::from_utf8(text.as_bytes()).is_ok());
                }
                messages.push(message.clone());
            }
            Event::Frame(chunk) => {
                let header = &chunk.header;
                assert!(header.payload_len <= MAX_FRAME as u64, "{chunk:?}");
                assert!(!header.opcode.is_control());
                assert_eq!(chunk.offset, frame_received, "{chunk:?}");
                frame_received += chunk.data.len() as u64;
                assert!(frame_received <= header.payload_len);
                assert_eq!(chunk.is_last, frame_received == header.payload_len);
                if chunk.offset == 0 {
                    // A new frame: the first of a message, or a continuation of one.
                    match (header.opcode, kind) {
                        (OpCode::Continuation, Some(k)) => assert_eq!(chunk.kind, k),
                        (OpCode::Text, None) => assert_eq!(chunk.kind, MessageKind::Text),
                        (OpCode::Binary, None) => assert_eq!(chunk.kind, MessageKind::Binary),
                        other => panic!("frame out of order: {other:?}"),
                    }
                    kind = Some(chunk.kind);
                    fragments += 1;
                    assert!(fragments <= MAX_FRAGMENTS);
                }
                assembly.extend_from_slice(&chunk.data);
                assert!(assembly.len() <= MAX_MESSAGE);
                if chunk.kind == MessageKind::Text {
                    assert!(is_valid_prefix(&assembly), "invalid text delivered");
                }
                if chunk.is_last {
                    frame_received = 0;
                    if header.fin {
                        let data = core::mem::take(&mut assembly);
                        messages.push(match chunk.kind {
                            MessageKind::Text => Message::Text(
                                String::from_utf8(data)
                                    .expect("a text message ended inside a code point")
                                    .into(),
                            ),
                            MessageKind::Binary => Message::Binary(data.into()),
                        });
                        kind = None;
                        fragments = 0;
                    }
                }
            }
            Event::Ping(p) | Event::Pong(p) => assert!(p.len() <= 125),
            Event::Close(frame) => assert!(frame.reason.len() <= 123),
            other => panic!("unexpected {other:?}"),
        }
    }
    messages
}

fn role_and_hostile_input() -> impl Strategy<Value = (Role, (Vec<u8>, Vec<usize>))> {
    prop_oneof![3 => Just(Role::Server), 1 => Just(Role::Client)]
        .prop_flat_map(|role| (Just(role), bytes_and_cuts(hostile_input(role))))
}

fn pieces_at<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in cuts {
        pieces.push(&data[start..cut]);
        start = cut;
    }
    pieces.push(&data[start..]);
    pieces
}

/// The events that are not data: pings, pongs and the close, in order.
fn control_events(events: &[Event]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| !matches!(e, Event::Message(_) | Event::Frame(_)))
        .cloned()
        .collect()
}

proptest! {
    #[test]
    fn hostile_input_never_breaks_the_limits(
        (role, (input, cuts)) in role_and_hostile_input(),
        frames_mode: bool,
        eof: bool,
    ) {
        let mode = if frames_mode { ReceiveMode::Frames } else { ReceiveMode::Messages };
        let (events, _) = feed_hostile(role, &limited(mode), &pieces_at(&input, &cuts), eof);
        check_limits(&events);
    }

    #[test]
    fn frames_mode_reassembles_to_the_messages_of_messages_mode(
        (role, (input, cuts)) in role_and_hostile_input(),
        eof: bool,
    ) {
        let pieces = pieces_at(&input, &cuts);
        let messages = limited(ReceiveMode::Messages);
        let frames = limited(ReceiveMode::Frames);
        let (message_events, message_error) = feed_hostile(role, &messages, &pieces, eof);
        let (frame_events, frame_error) = feed_hostile(role, &frames, &pieces, eof);
        prop_assert_eq!(check_limits(&frame_events), check_limits(&message_events));
        prop_assert_eq!(control_events(&frame_events), control_events(&message_events));
        prop_assert_eq!(frame_error, message_error);
    }
}

// ---- send → receive round trip ----

/// Something the client application does.
#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    /// A message sent in fragments, with something done between each two.
    Fragmented {
        kind: MessageKind,
        payload: Vec<u8>,
        cuts: Vec<usize>,
        between: Vec<Between>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Between {
    Nothing,
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A whole message: refused, a fragmented one is unfinished.
    WholeMessage,
    /// A fragment of the other kind: refused.
    OtherKind,
}

fn control_payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..=125),
        1 => prop::collection::vec(any::<u8>(), 126..=130),
    ]
}

fn between() -> impl Strategy<Value = Between> {
    prop_oneof![
        3 => Just(Between::Nothing),
        1 => control_payload().prop_map(Between::Ping),
        1 => control_payload().prop_map(Between::Pong),
        1 => Just(Between::WholeMessage),
        1 => Just(Between::OtherKind),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        Just(String::new()),
        (1..400usize).prop_map(|n| "€".repeat(n)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let fragmented = (
        any::<bool>(),
        text(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_flat_map(|(is_text, text, binary)| {
            let (kind, payload) = if is_text {
                (MessageKind::Text, text.into_bytes())
            } else {
                (MessageKind::Binary, binary)
            };
            let len = payload.len();
            (Just(kind), Just(payload), cuts_within(len))
        })
        .prop_flat_map(|(kind, payload, cuts)| {
            let gaps = cuts.len();
            (
                Just(kind),
                Just(payload),
                Just(cuts),
                prop::collection::vec(between(), gaps..=gaps),
            )
        })
        .prop_map(|(kind, payload, cuts, between)| Op::Fragmented {
            kind,
            payload,
            cuts,
            between,
        });
    prop_oneof![
        3 => text().prop_map(Op::Text),
        2 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        1 => (1..70_000usize).prop_map(|n| Op::Binary(vec![0xA5; n])),
        3 => fragmented,
        1 => control_payload().prop_map(Op::Ping),
        1 => control_payload().prop_map(Op::Pong),
    ]
}

fn other(kind: MessageKind) -> MessageKind {
    match kind {
        MessageKind::Text => MessageKind::Binary,
        MessageKind::Binary => MessageKind::Text,
    }
}

fn control(client: &mut Connection, expected: &mut Vec<Event>, opcode: OpCode, payload: &[u8]) {
    let result = match opcode {
        OpCode::Ping => client.send_ping(payload),
        _ => client.send_pong(payload),
    };
    if payload.len() > 125 {
        assert_eq!(result, Err(SendError::ControlTooLong(payload.len())));
    } else {
        result.unwrap();
        let payload = Bytes::copy_from_slice(payload);
        expected.push(match opcode {
            OpCode::Ping => Event::Ping(payload),
            _ => Event::Pong(payload),
        });
    }
}

/// Performs `ops` on a client, checking each call's result, and returns the events the
/// server must see.
fn perform(client: &mut Connection, ops: &[Op]) -> Vec<Event> {
    let mut expected = Vec::new();
    for op in ops {
        match op {
            Op::Text(text) => {
                client.send_text(text).unwrap();
                expected.push(Event::Message(Message::Text(text.as_str().into())));
            }
            Op::Binary(data) => {
                client.send_binary(data).unwrap();
                expected.push(Event::Message(Message::Binary(Bytes::copy_from_slice(
                    data,
                ))));
            }
            Op::Ping(p) => control(client, &mut expected, OpCode::Ping, p),
            Op::Pong(p) => control(client, &mut expected, OpCode::Pong, p),
            Op::Fragmented {
                kind,
                payload,
                cuts,
                between,
            } => {
                let pieces = pieces_at(payload, cuts);
                let last = pieces.len() - 1;
                for (i, piece) in pieces.iter().enumerate() {
                    client.send_fragment(*kind, piece, i == last).unwrap();
                    let Some(between) = between.get(i) else {
                        continue;
                    };
                    let unchanged = client.pending_outbound();
                    match between {
                        Between::Nothing => {}
                        Between::Ping(p) => control(client, &mut expected, OpCode::Ping, p),
                        Between::Pong(p) => control(client, &mut expected, OpCode::Pong, p),
                        Between::WholeMessage => {
                            assert_eq!(client.send_text("x"), Err(SendError::MessageInProgress));
                            assert_eq!(client.send_binary(b"x"), Err(SendError::MessageInProgress));
                            assert_eq!(client.pending_outbound(), unchanged);
                        }
                        Between::OtherKind => {
                            assert_eq!(
                                client.send_fragment(other(*kind), b"x", true),
                                Err(SendError::FragmentKindMismatch)
                            );
                            assert_eq!(client.pending_outbound(), unchanged);
                        }
                    }
                }
                expected.push(Event::Message(match kind {
                    MessageKind::Text => {
                        Message::Text(String::from_utf8(payload.clone()).unwrap().into())
                    }
                    MessageKind::Binary => Message::Binary(Bytes::copy_from_slice(payload)),
                }));
            }
        }
    }
    expected
}

prop_compose! {
    fn close_call()(
        code in close_code(),
        reason in prop::collection::vec(any::<char>(), 0..50).prop_map(String::from_iter),
    ) -> (u16, String) {
        (code, reason)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sends_from_a_client_arrive_at_a_server_unchanged(
        ops in prop::collection::vec(op(), 0..10),
        close in prop::option::of(close_call()),
        chunk in prop_oneof![Just(usize::MAX), 1..200usize],
    ) {
        let mut client = Connection::open(Role::Client, Config::default());
        let mut server = Connection::open(Role::Server, Config::default());
        let mut expected = perform(&mut client, &ops);
        if let Some((code, reason)) = &close {
            let result = client.close(CloseCode(*code), reason);
            if !valid_on_wire_per_rfc(*code) {
                prop_assert_eq!(result, Err(SendError::InvalidCloseCode(CloseCode(*code))));
            } else if reason.len() > 123 {
                prop_assert_eq!(result, Err(SendError::ReasonTooLong(reason.len())));
            } else {
                prop_assert_eq!(result, Ok(()));
                expected.push(Event::Close(sockless::CloseFrame {
                    code: CloseCode(*code),
                    reason: reason.as_str().into(),
                }));
            }
        }
        let wire = client.take_outbound();
        // Every client frame is masked and whole.
        let frames = parse_frames(&wire, true);
        prop_assert!(frames.iter().all(|(op, _, p)| !op.is_control() || p.len() <= 125));
        let mut events = Vec::new();
        for piece in wire.chunks(chunk) {
            server.receive(piece);
            let (new, error) = drain(&mut server);
            prop_assert_eq!(error, None);
            events.extend(new);
        }
        prop_assert_eq!(&events, &expected);
        // The server answered the pings (see `assert_answers_pings`), then the close if
        // there was one.
        let answers = parse_frames(&server.take_outbound(), false);
        assert_answers_pings(&expected, &answers);
        let answers: Vec<_> = answers.iter().filter(|(op, _, _)| *op != OpCode::Pong).cloned().collect();
        let expected_answers: Vec<(OpCode, bool, Bytes)> = expected
            .iter()
            .filter_map(|e| match e {
                Event::Close(f) => Some((
                    OpCode::Close,
                    true,
                    Bytes::copy_from_slice(&f.code.0.to_be_bytes()),
                )),
                _ => None,
            })
            .collect();
        prop_assert_eq!(answers, expected_answers);
        let closed = matches!(expected.last(), Some(Event::Close(_)));
        prop_assert_eq!(server.state() == State::Closed, closed);
    }
}
