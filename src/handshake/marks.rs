//! Where the bytes that give an HTTP head its shape are: control characters (CR
//! and LF among them) and colons, found 64 bytes at a time.
//!
//! The head parser asks "where is the next colon" once per header name and
//! "where is the next control character" once per header value. Answered from
//! a bitmap of the block at hand, each question costs a shift and a count of
//! trailing zeros instead of a walk over the bytes, and every byte of a head is
//! classified once, with SSE2 compares. This module is for x86-64 only: the
//! same marks made eight bytes at a time in a `u64` (SWAR) left the one-pass
//! parser slower than the plain one (401 against 372 ns for Chrome's request).

/// What [`Marks::next`] looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A byte below 0x20 or 0x7F (DEL). Bytes from 0x80 up (obs-text) are not
    /// control characters.
    Control,
    /// `:`.
    Colon,
}

/// The marks of one 64-byte block: bit `i` of each stands for byte `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Block {
    control: u64,
    colon: u64,
}

impl Block {
    /// The marks of the (up to) 64 bytes of `buf` from `at`.
    #[inline]
    fn of(buf: &[u8], at: usize) -> Block {
        if let Some(block) = buf[at..].first_chunk::<64>() {
            return classify_block(block);
        }
        // A short last block: classify the last 64 bytes of the buffer and
        // drop the marks of the bytes before `at`, instead of copying the tail
        // into a padded block.
        if let Some(last) = buf.last_chunk::<64>() {
            let before = 64 - (buf.len() - at);
            let marks = classify_block(last);
            return Block {
                control: marks.control >> before,
                colon: marks.colon >> before,
            };
        }
        // `a` is in no class, so the padding marks nothing.
        let mut padded = [b'a'; 64];
        padded[..buf.len() - at].copy_from_slice(&buf[at..]);
        classify_block(&padded)
    }

    #[inline(always)]
    fn bits(&self, class: Class) -> u64 {
        match class {
            Class::Control => self.control,
            Class::Colon => self.colon,
        }
    }
}

/// How many bytes at the start of a buffer [`Marks`] keeps the marks of:
/// more than the heads browsers send, cookies and all. Blocks past it are
/// classified each time they are asked about.
const KEPT: usize = 2048;

/// How many blocks are classified at once. The parser's questions depend on
/// each other's answers; classifying a few blocks ahead lets the processor
/// overlap them instead of waiting for each in turn.
const AHEAD: usize = 8;

/// A buffer and the marks of its blocks, classified on demand a few at a time
/// as the parser moves forward through a head.
pub(crate) struct Marks<'a> {
    buf: &'a [u8],
    blocks: [Block; KEPT / 64],
    /// How many blocks from the start are classified.
    ready: usize,
}

impl<'a> Marks<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Marks {
            buf,
            blocks: [Block::default(); KEPT / 64],
            ready: 0,
        }
    }

    /// The marks of block `k`, or `None` past the end of the buffer.
    #[inline(always)]
    fn block(&mut self, k: usize) -> Option<Block> {
        match self.blocks.get(k) {
            Some(block) if k < self.ready => Some(*block),
            _ => self.classify(k),
        }
    }

    #[inline(never)]
    fn classify(&mut self, k: usize) -> Option<Block> {
        let blocks = self.buf.len().div_ceil(64);
        if k >= blocks {
            return None;
        }
        if k >= self.blocks.len() {
            return Some(Block::of(self.buf, 64 * k));
        }
        let end = (k + AHEAD).min(blocks).min(self.blocks.len());
        for (j, slot) in self.blocks[self.ready..end].iter_mut().enumerate() {
            *slot = Block::of(self.buf, 64 * (self.ready + j));
        }
        self.ready = end;
        Some(self.blocks[k])
    }

    /// The position of the first byte of `class` at or after `from`, or `None`
    /// if the buffer ends first.
    #[inline(always)]
    pub(crate) fn next(&mut self, class: Class, from: usize) -> Option<usize> {
        let mut k = from / 64;
        let mut bits = self.block(k)?.bits(class) & (u64::MAX << (from % 64));
        while bits == 0 {
            k += 1;
            bits = self.block(k)?.bits(class);
        }
        Some(64 * k + bits.trailing_zeros() as usize)
    }
}

/// The marks of a block, sixteen bytes per compare with SSE2.
#[inline]
fn classify_block(block: &[u8; 64]) -> Block {
    // SAFETY: `classify_sse2` needs SSE2 and nothing else, and SSE2 is part of
    // the x86-64 baseline that every x86-64 target enables.
    #[allow(unsafe_code)]
    unsafe {
        classify_sse2(block)
    }
}

/// One vector compare per class and 16 bytes, and one `movemask` to turn each
/// into bits.
#[target_feature(enable = "sse2")]
fn classify_sse2(block: &[u8; 64]) -> Block {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut marks = Block::default();
    for (k, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: `lane` holds the 16 bytes `_mm_loadu_si128` reads, and the
        // load takes any alignment.
        #[allow(unsafe_code)]
        let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast::<__m128i>()) };
        // Unsigned: "below 0x20" is "at most 0x1F"; and 0x7F (DEL) besides.
        let below_space = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
        let control = _mm_or_si128(below_space, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
        let colon = _mm_cmpeq_epi8(v, _mm_set1_epi8(b':' as i8));
        // Each movemask holds 16 bits, one per byte.
        marks.control |= u64::from(_mm_movemask_epi8(control) as u16) << (16 * k);
        marks.colon |= u64::from(_mm_movemask_epi8(colon) as u16) << (16 * k);
    }
    marks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(block: &[u8]) -> Block {
        let mut marks = Block::default();
        for (i, &b) in block.iter().enumerate() {
            marks.control |= u64::from(b < 0x20 || b == 0x7F) << i;
            marks.colon |= u64::from(b == b':') << i;
        }
        marks
    }

    /// Every byte value at every position of a block, amid neighbours that a
    /// sign or an off-by-one could confuse.
    #[test]
    fn classify_marks_every_byte_value_at_every_position() {
        for at in 0..64 {
            for b in 0..=255u8 {
                let mut block = [0u8; 64];
                for (i, x) in block.iter_mut().enumerate() {
                    *x = [b'a', 0x20, 0x80, 0xFF, 0x7E, 0x1F, b':', 0][i % 8];
                }
                block[at] = b;
                assert_eq!(
                    classify_block(&block),
                    scalar(&block),
                    "byte {b:#x} at {at}"
                );
            }
        }
    }

    #[test]
    fn next_finds_each_class_across_blocks_and_in_the_padded_tail() {
        let mut buf = alloc::vec![b'a'; 150];
        buf[3] = b':';
        buf[130] = b'\r';
        buf[149] = 0x7F;
        let mut marks = Marks::new(&buf);
        assert_eq!(marks.next(Class::Colon, 0), Some(3));
        assert_eq!(marks.next(Class::Colon, 4), None);
        assert_eq!(marks.next(Class::Control, 4), Some(130));
        assert_eq!(marks.next(Class::Control, 131), Some(149));
        assert_eq!(marks.next(Class::Control, 150), None);
        assert_eq!(Marks::new(&buf[..149]).next(Class::Control, 131), None);
    }

    proptest::proptest! {
        #[test]
        fn next_agrees_with_a_plain_search(
            buf in proptest::collection::vec(proptest::sample::select(
                b"a \r\n\t:\x7f\x80\0".to_vec()), 0..300),
            from in 0usize..320,
        ) {
            let mut marks = Marks::new(&buf);
            for (class, hit) in [
                (Class::Control, (|b: u8| b < 0x20 || b == 0x7F) as fn(u8) -> bool),
                (Class::Colon, |b| b == b':'),
            ] {
                let want = buf.get(from..).and_then(|r| r.iter().position(|&b| hit(b))).map(|i| from + i);
                proptest::prop_assert_eq!(marks.next(class, from), want);
            }
        }
    }
}
