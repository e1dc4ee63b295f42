//! The frame layer (RFC 6455 §5.2, §5.3): header encode/decode and masking.
//!
//! This layer knows bytes only. Which frames are *allowed* (masking direction, RSV bits,
//! control frame rules, continuation order) depends on the role, the negotiated
//! extensions and the message in progress, so those rules live in the connection.

use bytes::BytesMut;

/// The longest possible frame header: 2 fixed bytes, 8 length bytes, 4 mask bytes.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (RFC 6455 §5.2). Reserved opcodes are not representable: decoding one
/// is an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: a close frame.
    Close,
    /// `0x9`: a ping.
    Ping,
    /// `0xA`: a pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for a reserved one (3-7, 0xB-0xF).
    ///
    /// ```
    /// use sockless::codec::OpCode;
    /// assert_eq!(OpCode::from_u8(0x9), Some(OpCode::Ping));
    /// assert_eq!(OpCode::from_u8(0x3), None);
    /// ```
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong are control frames (the high bit of the opcode is set).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// A structurally invalid frame header: no role or state can make it valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The opcode is one of the reserved values 3-7 or 0xB-0xF.
    ReservedOpcode(u8),
    /// A 64-bit payload length with its most significant bit set (RFC 6455 §5.2).
    LengthTopBitSet,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FrameError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            FrameError::LengthTopBitSet => {
                f.write_str("64-bit payload length with the top bit set")
            }
        }
    }
}

/// A decoded or to-be-encoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final fragment of a message.
    pub fin: bool,
    /// RSV1: claimed by permessage-deflate ("compressed message") when negotiated.
    pub rsv1: bool,
    /// RSV2: no extension here defines it.
    pub rsv2: bool,
    /// RSV3: no extension here defines it.
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly when the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A header with FIN set, no RSV bits and no mask.
    pub const fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds only part of a header, and `Ok(Some((header, n)))`
    /// when the header is `buf[..n]`. Any non-minimal length encoding is accepted, as the RFC
    /// only obliges the sender.
    ///
    /// ```
    /// use sockless::codec::{FrameHeader, OpCode};
    /// // RFC 6455 §5.7: a single-frame masked text message "Hello".
    /// let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, n) = FrameHeader::decode(&bytes)?.unwrap();
    /// assert_eq!((header.opcode, header.payload_len, n), (OpCode::Text, 5, 6));
    /// assert_eq!(header.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// # Ok::<(), sockless::codec::FrameError>(())
    /// ```
    #[inline]
    pub fn decode(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, FrameError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(FrameError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_end) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    if be[0] & 0x80 != 0 {
                        return Err(FrameError::LengthTopBitSet);
                    }
                    (u64::from_be_bytes(be), 10)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), 2),
        };
        let (mask, header_len) = if masked {
            match buf.get(len_end..len_end + 4) {
                Some(&[a, b, c, d]) => (Some([a, b, c, d]), len_end + 4),
                _ => return Ok(None),
            }
        } else {
            (None, len_end)
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, header_len)))
    }

    /// The number of bytes [`encode`](Self::encode) writes: 2 to 14.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Encodes the header with the shortest length form, returning the buffer and how many
    /// of its bytes are used.
    ///
    /// ```
    /// use sockless::codec::{FrameHeader, OpCode};
    /// // RFC 6455 §5.7: a 256-byte unmasked binary message.
    /// let (buf, n) = FrameHeader::new(OpCode::Binary, 256).encode();
    /// assert_eq!(&buf[..n], &[0x82, 0x7E, 0x01, 0x00]);
    /// ```
    #[inline]
    pub fn encode(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut buf = [0u8; MAX_HEADER_LEN];
        buf[0] = (u8::from(self.fin) << 7)
            | (u8::from(self.rsv1) << 6)
            | (u8::from(self.rsv2) << 5)
            | (u8::from(self.rsv3) << 4)
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                buf[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                buf[1] = mask_bit | 126;
                buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                buf[1] = mask_bit | 127;
                buf[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            buf[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        (buf, n)
    }

    /// Appends the encoded header to `out`.
    #[inline]
    pub fn write(&self, out: &mut BytesMut) {
        let (buf, n) = self.encode();
        out.extend_from_slice(&buf[..n]);
    }
}

/// XORs `buf` with the masking `key` (RFC 6455 §5.3), in place. Masking is its own inverse,
/// so this both masks and unmasks.
///
/// `offset` is the position of `buf[0]` within the frame payload, so a payload that arrives
/// in pieces can be unmasked piece by piece.
///
/// ```
/// use sockless::codec::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, key, 0);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// // The same, in two pieces.
/// let mut again = *b"Hello";
/// let (a, b) = again.split_at_mut(2);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 2);
/// assert_eq!(again, payload);
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let (key, wide) = key_at(key, offset);
    // Whole words with no dependence between them: LLVM turns this loop into XORs as wide
    // as the target's vectors (SSE2 on the x86-64 baseline, AVX2 or wider when the
    // embedder builds with `-C target-cpu`), with no unsafe code or CPU detection here.
    let (words, rest) = buf.as_chunks_mut::<8>();
    for w in words {
        *w = (u64::from_ne_bytes(*w) ^ wide).to_ne_bytes();
    }
    for (i, b) in rest.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

/// The key as seen from payload position `offset`, and repeated in a word so that 8 bytes
/// are XORed at a time: native byte order on both sides keeps the bytes in place, and every
/// word starts at key phase 0. Building the word costs nothing, so short payloads (most
/// control frames and small messages) pay no setup.
#[inline]
fn key_at(key: [u8; 4], offset: usize) -> ([u8; 4], u64) {
    let key = u32::from_be_bytes(key)
        .rotate_left(8 * (offset & 3) as u32)
        .to_be_bytes();
    let word = u32::from_ne_bytes(key);
    (key, u64::from(word) | (u64::from(word) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn decode_all(bytes: &[u8]) -> (FrameHeader, Vec<u8>) {
        let (header, n) = FrameHeader::decode(bytes).unwrap().unwrap();
        let mut payload = bytes[n..].to_vec();
        assert_eq!(payload.len() as u64, header.payload_len);
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        (header, payload)
    }

    // RFC 6455 §5.7, byte for byte.
    #[test]
    fn rfc_example_unmasked_text() {
        let bytes = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let (h, p) = decode_all(&bytes);
        assert!(h.fin && h.mask.is_none() && h.opcode == OpCode::Text);
        assert_eq!(p, b"Hello");
        let (buf, n) = FrameHeader::new(OpCode::Text, 5).encode();
        assert_eq!(&buf[..n], &bytes[..2]);
    }

    #[test]
    fn rfc_example_masked_text() {
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, p) = decode_all(&bytes);
        assert_eq!(p, b"Hello");
        let (buf, n) = h.encode();
        assert_eq!(&buf[..n], &bytes[..6]);
    }

    #[test]
    fn rfc_example_fragmented_text() {
        let first = [0x01, 0x03, 0x48, 0x65, 0x6c];
        let second = [0x80, 0x02, 0x6c, 0x6f];
        let (h1, p1) = decode_all(&first);
        let (h2, p2) = decode_all(&second);
        assert!(!h1.fin && h1.opcode == OpCode::Text);
        assert!(h2.fin && h2.opcode == OpCode::Continuation);
        assert_eq!([p1, p2].concat(), b"Hello");
    }

    #[test]
    fn rfc_example_ping_and_masked_pong() {
        let ping = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
        let pong = [
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(decode_all(&ping).0.opcode, OpCode::Ping);
        let (h, p) = decode_all(&pong);
        assert_eq!((h.opcode, p.as_slice()), (OpCode::Pong, &b"Hello"[..]));
    }

    #[test]
    fn rfc_example_16_and_64_bit_lengths() {
        let (buf, n) = FrameHeader::new(OpCode::Binary, 256).encode();
        assert_eq!(&buf[..n], &[0x82, 0x7E, 0x01, 0x00]);
        let (buf, n) = FrameHeader::new(OpCode::Binary, 65536).encode();
        assert_eq!(
            &buf[..n],
            &[0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00]
        );
        let (h, len) = FrameHeader::decode(&buf[..n]).unwrap().unwrap();
        assert_eq!((h.payload_len, len), (65536, 10));
    }

    #[test]
    fn reserved_opcodes_are_rejected() {
        for op in (3..=7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0]),
                Err(FrameError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn length_with_top_bit_set_is_rejected() {
        let bytes = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            FrameHeader::decode(&bytes),
            Err(FrameError::LengthTopBitSet)
        );
    }

    #[test]
    fn partial_headers_need_more_bytes() {
        let (buf, n) = FrameHeader {
            mask: Some([1, 2, 3, 4]),
            ..FrameHeader::new(OpCode::Binary, 70000)
        }
        .encode();
        for cut in 0..n {
            assert_eq!(FrameHeader::decode(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        assert!(FrameHeader::decode(&buf[..n]).unwrap().is_some());
    }

    #[test]
    fn rsv_bits_round_trip() {
        let h = FrameHeader {
            fin: false,
            rsv1: true,
            rsv2: false,
            rsv3: true,
            ..FrameHeader::new(OpCode::Text, 3)
        };
        let (buf, n) = h.encode();
        assert_eq!(FrameHeader::decode(&buf[..n]), Ok(Some((h, n))));
    }

    /// Every masking function against a byte loop: every length up to a few vector blocks
    /// (so every split between the word loop and the byte tail), a few long ones, at every
    /// key phase.
    #[test]
    fn masking_matches_a_byte_loop_at_every_length_and_offset() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 + 5) as u8).collect();
        for key in [[0xde, 0xad, 0xbe, 0xef], [0x37, 0xfa, 0x21, 0x3d]] {
            for len in (0..=300).chain([1024, 1031, 4096, 4999]) {
                for offset in 0..8 {
                    let slow: Vec<u8> = data[..len]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ key[(i + offset) % 4])
                        .collect();
                    let mut fast = data[..len].to_vec();
                    apply_mask(&mut fast, key, offset);
                    assert_eq!(fast, slow, "apply_mask len {len} offset {offset}");
                }
            }
        }
    }
}
