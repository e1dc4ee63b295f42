//! Payloads sent by reference ([`Connection::send_shared`](super::Connection::send_shared)):
//! queued beside the outbound buffer instead of copied into it, and handed to the transport
//! in order, between the buffered bytes around them.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

/// Payloads to go out between the bytes of the outbound buffer.
///
/// Positions count the bytes ever written to the buffer since `advanced` was 0, so that
/// they stay valid as the front of the buffer is written out and dropped.
#[derive(Debug)]
pub(crate) struct Spliced {
    /// Each payload, after the buffer's bytes before its position (and before the rest).
    queue: VecDeque<(usize, Bytes)>,
    /// Bytes dropped from the front of the buffer since the queue was last empty.
    advanced: usize,
    /// The queued payloads' total length.
    len: usize,
}

impl Spliced {
    /// Nothing queued.
    pub(crate) const fn new() -> Spliced {
        Spliced {
            queue: VecDeque::new(),
            advanced: 0,
            len: 0,
        }
    }

    /// Queues `payload` to follow what `out` holds now.
    pub(crate) fn push(&mut self, out: &BytesMut, payload: Bytes) {
        self.len += payload.len();
        self.queue.push_back((self.advanced + out.len(), payload));
    }

    /// How many bytes wait in the queue.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The outbound bytes in the order they go out: the buffer up to the first payload, the
    /// payload, the buffer up to the next, and so on; no empty piece. With nothing queued,
    /// the buffer alone.
    pub(crate) fn chunks<'a>(&'a self, out: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut from = 0;
        let mut queue = self.queue.iter();
        let mut payload = None;
        core::iter::from_fn(move || {
            loop {
                if let Some(p) = payload.take() {
                    return Some(p);
                }
                match queue.next() {
                    Some((at, data)) => {
                        let to = at - self.advanced;
                        payload = Some(&data[..]);
                        let before = &out[from..to];
                        from = to;
                        if !before.is_empty() {
                            return Some(before);
                        }
                    }
                    None => {
                        let rest = &out[from..];
                        from = out.len();
                        return (!rest.is_empty()).then_some(rest);
                    }
                }
            }
        })
        .filter(|chunk| !chunk.is_empty())
    }

    /// Drops the first `n` outbound bytes, from `out` and the queue in their order.
    ///
    /// # Panics
    /// If `n` exceeds what `out` and the queue hold together.
    pub(crate) fn advance(&mut self, out: &mut BytesMut, mut n: usize) {
        assert!(
            n <= out.len() + self.len,
            "advance_outbound({n}) past the {} bytes pending",
            out.len() + self.len
        );
        while n > 0 {
            let Some((at, data)) = self.queue.front_mut() else {
                out.advance(n);
                self.advanced += n;
                break;
            };
            let before = *at - self.advanced;
            if before > 0 {
                let k = n.min(before);
                out.advance(k);
                self.advanced += k;
                n -= k;
                continue;
            }
            let k = n.min(data.len());
            data.advance(k);
            self.len -= k;
            n -= k;
            if data.is_empty() {
                self.queue.pop_front();
            }
        }
        // Empty payloads queued last go too, so that an empty outbound leaves an empty queue.
        while self
            .queue
            .front()
            .is_some_and(|(at, data)| data.is_empty() && *at == self.advanced)
        {
            self.queue.pop_front();
        }
        if self.queue.is_empty() {
            self.advanced = 0;
        }
    }

    /// Everything pending, `out` and the queue, in one buffer; both are left empty.
    pub(crate) fn take_all(&mut self, out: &mut BytesMut) -> BytesMut {
        let mut all = BytesMut::with_capacity(out.len() + self.len);
        for chunk in self.chunks(out) {
            all.extend_from_slice(chunk);
        }
        out.clear();
        self.queue.clear();
        self.advanced = 0;
        self.len = 0;
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// A buffer with "ab", payload "XYZ", then "cd", payload "", payload "Q", then "e".
    fn sample() -> (BytesMut, Spliced) {
        let mut out = BytesMut::new();
        let mut spliced = Spliced::new();
        out.extend_from_slice(b"ab");
        spliced.push(&out, Bytes::from_static(b"XYZ"));
        out.extend_from_slice(b"cd");
        spliced.push(&out, Bytes::new());
        spliced.push(&out, Bytes::from_static(b"Q"));
        out.extend_from_slice(b"e");
        (out, spliced)
    }

    fn pending(out: &BytesMut, spliced: &Spliced) -> Vec<u8> {
        spliced.chunks(out).flatten().copied().collect()
    }

    #[test]
    fn chunks_interleave_the_buffer_and_the_payloads_in_order() {
        let (out, spliced) = sample();
        let chunks: Vec<&[u8]> = spliced.chunks(&out).collect();
        assert_eq!(chunks, [&b"ab"[..], b"XYZ", b"cd", b"Q", b"e"]);
        assert_eq!(spliced.len(), 4);
    }

    #[test]
    fn advancing_by_any_steps_drops_bytes_in_order() {
        let whole = b"abXYZcdQe";
        for step in 1..=whole.len() {
            let (mut out, mut spliced) = sample();
            let mut gone = 0;
            while gone < whole.len() {
                let n = step.min(whole.len() - gone);
                spliced.advance(&mut out, n);
                gone += n;
                assert_eq!(pending(&out, &spliced), whole[gone..], "step {step}");
                assert_eq!(out.len() + spliced.len(), whole.len() - gone);
            }
            assert!(spliced.is_empty() && out.is_empty(), "step {step}");
            // Positions start over once the queue is empty.
            out.extend_from_slice(b"f");
            spliced.push(&out, Bytes::from_static(b"G"));
            assert_eq!(pending(&out, &spliced), b"fG");
        }
    }

    #[test]
    fn writes_after_a_partial_advance_keep_their_place() {
        let (mut out, mut spliced) = sample();
        spliced.advance(&mut out, 3); // "ab" and "X"
        out.extend_from_slice(b"h");
        spliced.push(&out, Bytes::from_static(b"I"));
        assert_eq!(pending(&out, &spliced), b"YZcdQehI");
    }

    #[test]
    fn take_all_joins_everything_and_empties_both() {
        let (mut out, mut spliced) = sample();
        spliced.advance(&mut out, 1);
        assert_eq!(&spliced.take_all(&mut out)[..], b"bXYZcdQe");
        assert!(out.is_empty() && spliced.is_empty());
        assert_eq!(spliced.len(), 0);
    }

    #[test]
    #[should_panic(expected = "past the")]
    fn advancing_past_the_end_panics() {
        let (mut out, mut spliced) = sample();
        spliced.advance(&mut out, 10);
    }
}
