//! A deliberately minimal sans-IO WebSocket codec: the floor of the compare bench.
//!
//! **This is a floor, not a competitor.** It does the least work any RFC 6455 endpoint must
//! do to move a frame (read the header, wait for the whole frame, unmask, hand the payload
//! out; write a header, a masking key and the payload), so that the bench can say how far
//! a real implementation is from that least work on the same bytes and machine. It checks
//! nothing a real endpoint must check: no UTF-8 validation, no fragmentation or control
//! frame rules, no reserved bits, no close handshake, no size limits beyond what keeps it
//! from panicking on a declared length it could never hold. Never put it on a network.
//!
//! The decoder copies every read into one [`BytesMut`] (as a socket read would land in a
//! read buffer) and hands a frame's payload out either as [`Bytes`] split off that buffer
//! ([`Decoder::poll`]) or as a slice lent from it ([`Decoder::poll_borrowed`]). The encoder
//! ([`encode`]) appends one frame to a [`BytesMut`]. Unmasking is a plain loop over `u64`
//! words in safe Rust, which the compiler vectorises (SSE2 on the default x86-64 target).
//! Two choices keep the floor from losing time to things that are not protocol work: an
//! empty buffer starts over at the front of its allocation, and headers are appended in
//! pieces of fixed size. Nothing else is tuned, so that the floor stays what a careful first
//! version would be.

use bytes::{Bytes, BytesMut};

/// The longest frame header: 2 bytes, a 64-bit length, a 4-byte masking key.
pub const MAX_HEADER: usize = 14;

/// A declared payload length this process could never hold (more than `isize::MAX` bytes
/// with its header): the one input the floor refuses, because buffering it would panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

impl core::fmt::Display for TooLong {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("declared frame length exceeds what memory can hold")
    }
}

impl std::error::Error for TooLong {}

/// A frame with its payload owned (unmasked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    /// The 4-bit opcode, unchecked.
    pub opcode: u8,
    pub payload: Bytes,
}

/// A frame with its payload lent from the decoder's buffer (unmasked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef<'a> {
    pub fin: bool,
    /// The 4-bit opcode, unchecked.
    pub opcode: u8,
    pub payload: &'a [u8],
}

/// A parsed header: where the payload starts and how long it is.
struct Header {
    fin: bool,
    opcode: u8,
    start: usize,
    len: usize,
    key: Option<[u8; 4]>,
}

/// Reads the header at the start of `buf`; `None` until all of it is there.
fn header(buf: &[u8]) -> Result<Option<Header>, TooLong> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let masked = b1 & 0x80 != 0;
    let (len, at) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let start = at + if masked { 4 } else { 0 };
    let Some(key) = buf.get(at..start) else {
        return Ok(None);
    };
    // Not a limit but a guard: a length past isize::MAX would panic when buffered.
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= isize::MAX as usize - MAX_HEADER)
        .ok_or(TooLong)?;
    Ok(Some(Header {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0f,
        start,
        len,
        key: masked.then(|| [key[0], key[1], key[2], key[3]]),
    }))
}

/// XORs `data` with `key` repeated (RFC 6455 §5.3), `data` starting at payload offset 0.
///
/// Eight bytes at a time through a `u64`: both the words and the key pattern are read in
/// native byte order, so byte `i` of each word meets `key[i % 4]` on any endianness.
pub fn unmask(data: &mut [u8], key: [u8; 4]) {
    let [a, b, c, d] = key;
    let wide = u64::from_ne_bytes([a, b, c, d, a, b, c, d]);
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        let masked = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ wide;
        word.copy_from_slice(&masked.to_ne_bytes());
    }
    // The tail (up to 7 bytes) starts at a multiple of 8, hence of 4: the key starts over.
    for (byte, k) in words.into_remainder().iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// The receiving side: bytes in, whole frames out.
#[derive(Debug, Default)]
pub struct Decoder {
    buf: BytesMut,
    /// Bytes at the front of `buf` that belong to the frame last lent by `poll_borrowed`,
    /// dropped at the next call (the borrow has ended by then).
    lent: usize,
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Copies one read's bytes in.
    pub fn receive(&mut self, data: &[u8]) {
        self.release();
        if self.buf.is_empty() {
            // Start over at the front of the allocation when nothing else holds it (asking
            // for one byte more than is left behind the last frame makes `BytesMut` reclaim
            // all of it). Without this, a large frame that starts where the last one ended
            // runs past the allocation's end and is copied forward or reallocated as it
            // arrives, on every frame.
            let _ = self.buf.try_reclaim(self.buf.capacity() + 1);
        }
        self.buf.extend_from_slice(data);
    }

    fn release(&mut self) {
        let lent = core::mem::take(&mut self.lent);
        let _ = self.buf.split_to(lent);
    }

    /// The next whole frame, its payload split off the buffer as [`Bytes`].
    pub fn poll(&mut self) -> Result<Option<Frame>, TooLong> {
        self.release();
        let Some(h) = header(&self.buf)? else {
            return Ok(None);
        };
        if self.buf.len() - h.start < h.len {
            return Ok(None);
        }
        let _ = self.buf.split_to(h.start);
        let mut payload = self.buf.split_to(h.len);
        if let Some(key) = h.key {
            unmask(&mut payload, key);
        }
        Ok(Some(Frame {
            fin: h.fin,
            opcode: h.opcode,
            payload: payload.freeze(),
        }))
    }

    /// The next whole frame, its payload unmasked in place and lent until the next call.
    pub fn poll_borrowed(&mut self) -> Result<Option<FrameRef<'_>>, TooLong> {
        self.release();
        let Some(h) = header(&self.buf)? else {
            return Ok(None);
        };
        let end = h.start + h.len;
        if self.buf.len() < end {
            return Ok(None);
        }
        let payload = &mut self.buf[h.start..end];
        if let Some(key) = h.key {
            unmask(payload, key);
        }
        self.lent = end;
        Ok(Some(FrameRef {
            fin: h.fin,
            opcode: h.opcode,
            payload,
        }))
    }
}

/// Appends one frame to `out`: masked with `key` (a client's frame) or not (a server's).
/// `opcode` is written as given; `payload` may be of any length.
#[inline]
pub fn encode(out: &mut BytesMut, fin: bool, opcode: u8, payload: &[u8], key: Option<[u8; 4]>) {
    let b0 = (u8::from(fin) << 7) | (opcode & 0x0f);
    let mask_bit = if key.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    out.reserve(MAX_HEADER + len);
    // Each piece of the header is appended whole, at a size the compiler sees, so that it
    // becomes one store. (Assembling the header byte by byte in a stack array and copying
    // it out as one load made the CPU wait on store-to-load forwarding: most of the time
    // of a 16-byte frame, as measured.)
    if len < 126 {
        out.extend_from_slice(&[b0, mask_bit | len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        out.extend_from_slice(&[b0, mask_bit | 126]);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, mask_bit | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = key {
        out.extend_from_slice(&key);
    }
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = key {
        // Copy, then mask in place: a second pass over bytes still in cache, kept simple.
        unmask(&mut out[start..], key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7's masking key.
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

    /// One of RFC 6455 §5.7's examples: the bytes on the wire and what they carry.
    struct Example {
        wire: Vec<u8>,
        frame: Frame,
        key: Option<[u8; 4]>,
    }

    fn example(head: &[u8], rest: &[u8], opcode: u8, payload: &[u8]) -> Example {
        let masked = head[1] & 0x80 != 0;
        Example {
            wire: [head, rest].concat(),
            frame: Frame {
                fin: head[0] & 0x80 != 0,
                opcode,
                payload: Bytes::copy_from_slice(payload),
            },
            key: masked.then_some(KEY),
        }
    }

    fn examples() -> Vec<Example> {
        let hello = b"Hello";
        let masked_hello = [0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        let b256 = [0xab; 256];
        let b64k: Vec<u8> = (0..65536).map(|i| i as u8).collect();
        vec![
            // A single-frame unmasked text message, and the same masked.
            example(&[0x81, 0x05], hello, 0x1, hello),
            example(&[0x81, 0x85], &masked_hello, 0x1, hello),
            // A fragmented unmasked text message.
            example(&[0x01, 0x03], b"Hel", 0x1, b"Hel"),
            example(&[0x80, 0x02], b"lo", 0x0, b"lo"),
            // An unmasked ping, and a masked pong answering it.
            example(&[0x89, 0x05], hello, 0x9, hello),
            example(&[0x8a, 0x85], &masked_hello, 0xa, hello),
            // 256 bytes in a single unmasked frame: a 16-bit length.
            example(&[0x82, 0x7e, 0x01, 0x00], &b256, 0x2, &b256),
            // 64 KiB in a single unmasked frame: a 64-bit length.
            example(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0], &b64k, 0x2, &b64k),
        ]
    }

    #[test]
    fn encodes_the_rfc_examples() {
        for Example { wire, frame, key } in examples() {
            let mut out = BytesMut::new();
            encode(&mut out, frame.fin, frame.opcode, &frame.payload, key);
            assert_eq!(&out[..], &wire[..], "opcode {:#x}", frame.opcode);
        }
    }

    #[test]
    fn decodes_the_rfc_examples() {
        let all = examples();
        let wire: Vec<u8> = all.iter().flat_map(|e| e.wire.clone()).collect();
        let expected: Vec<Frame> = all.into_iter().map(|e| e.frame).collect();
        // Owned: one byte per read, so that every header and payload arrives cut everywhere.
        let mut decoder = Decoder::new();
        let mut owned = Vec::new();
        for byte in &wire {
            decoder.receive(core::slice::from_ref(byte));
            while let Some(frame) = decoder.poll().expect("fits") {
                owned.push(frame);
            }
        }
        assert_eq!(owned, expected);
        // Borrowed: the whole stream in one read, frames lent one after the other.
        let mut decoder = Decoder::new();
        decoder.receive(&wire);
        let mut borrowed = Vec::new();
        while let Some(f) = decoder.poll_borrowed().expect("fits") {
            borrowed.push(Frame {
                fin: f.fin,
                opcode: f.opcode,
                payload: Bytes::copy_from_slice(f.payload),
            });
        }
        assert_eq!(borrowed, expected);
    }

    #[test]
    fn unmask_matches_the_bytewise_definition() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut fast = data.clone();
            unmask(&mut fast, KEY);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ KEY[i % 4])
                .collect();
            assert_eq!(fast, slow, "length {len}");
        }
    }

    #[test]
    fn an_unholdable_length_is_refused_not_a_panic() {
        let mut decoder = Decoder::new();
        decoder.receive(&[
            0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
        ]);
        assert_eq!(decoder.poll(), Err(TooLong));
        assert_eq!(decoder.poll_borrowed(), Err(TooLong));
    }
}
