//! Helpers shared by the integration tests: building frames byte by byte the way a peer
//! would, and draining a connection's events.
//!
//! Each test crate includes this module and uses a different part of it.
#![allow(dead_code)]

use bytes::Bytes;
use sockless::codec::{FrameHeader, OpCode, apply_mask};
use sockless::{Connection, Error, Event};

/// One frame as it goes on the wire: the header (masked when `key` is given) then the
/// payload, masked with `key`.
pub fn frame(opcode: OpCode, fin: bool, payload: &[u8], key: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        mask: key,
        ..FrameHeader::new(opcode, payload.len() as u64)
    };
    let (buf, n) = header.encode();
    let mut out = buf[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A frame as a client sends it: masked, with a key that varies with `seed` so that masks
/// at every phase and with every byte value get exercised.
pub fn client_frame(opcode: OpCode, fin: bool, payload: &[u8], seed: u8) -> Vec<u8> {
    let key = [
        seed.wrapping_mul(37).wrapping_add(1),
        seed.wrapping_mul(91).wrapping_add(0x5a),
        seed ^ 0xa5,
        seed.wrapping_add(0x80),
    ];
    frame(opcode, fin, payload, Some(key))
}

/// A close frame payload: the code, big-endian, then the reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason.as_bytes());
    payload
}

/// Everything `poll_event` yields until it has nothing more: the events, then the error
/// that ended them, if any.
pub fn drain(conn: &mut Connection) -> (Vec<Event>, Option<Error>) {
    let mut events = Vec::new();
    loop {
        match conn.poll_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

/// A decoded outbound frame: opcode, FIN, payload (unmasked).
pub type SentFrame = (OpCode, bool, Bytes);

/// Splits bytes written by one endpoint into frames, the way its peer would read them:
/// `masked` says whether the writer is a client. Panics on anything malformed or partial,
/// since an endpoint must only ever write whole, well-formed frames.
pub fn parse_frames(mut bytes: &[u8], masked: bool) -> Vec<SentFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, n) = FrameHeader::decode(bytes)
            .expect("endpoint wrote a malformed header")
            .expect("endpoint wrote a partial header");
        assert_eq!(header.mask.is_some(), masked, "wrong masking: {header:?}");
        assert!(
            !header.rsv1 && !header.rsv2 && !header.rsv3,
            "RSV set: {header:?}"
        );
        let len = usize::try_from(header.payload_len).unwrap();
        assert!(bytes.len() >= n + len, "endpoint wrote a partial payload");
        let mut payload = bytes[n..n + len].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        frames.push((header.opcode, header.fin, Bytes::from(payload)));
        bytes = &bytes[n + len..];
    }
    frames
}
