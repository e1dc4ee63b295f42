//! Where the bytes that give an HTTP head its shape are: control characters (CR
//! and LF among them) and the ends of header names, found 64 bytes at a time.
//!
//! The head parser asks "where does the name end" and "where does the value
//! end" once per header line. Answered from a bitmap of the block at hand,
//! each question costs a shift and a count of trailing zeros instead of a walk
//! over the bytes, and every byte of a head is classified once: with AVX-512
//! where the CPU has it, else with SSE2 compares. AVX-512 also marks every
//! byte that cannot be in a token, which proves a name a token as it is found
//! and lets an extension list be read a token at a time. This module is for
//! x86-64 only: the same marks made eight bytes at a time in a `u64` (SWAR)
//! left the one-pass parser slower than the plain one (401 against 372 ns for
//! Chrome's request).

/// What [`Scan::find`] stops at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A control character: a byte below 0x20, or 0x7F (DEL). Bytes from 0x80
    /// up (obs-text) are not control characters.
    Control,
    /// Where a header name may end: a control character or a colon. Where the
    /// scan [`checks_names`](Scan::checks_names), also any other byte that
    /// cannot be in a token (`tchar`, RFC 7230 §3.2.6), so that a name ends at
    /// its colon only if it is a token.
    NameEnd,
}

/// The marks of one 64-byte block: bit `i` of each stands for byte `i`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Block {
    control: u64,
    /// What [`Stop::NameEnd`] stops at, control characters included.
    name_end: u64,
}

/// How blocks are classified: chosen once per scan, from what the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// Sixteen bytes per compare; every x86-64 CPU has SSE2.
    Sse2,
    /// A whole block per compare, straight into a bitmap, and the short last
    /// block loaded masked instead of patched together.
    #[cfg(feature = "std")]
    Avx512,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(feature = "std")]
        if avx512::available() {
            return Kernel::Avx512;
        }
        Kernel::Sse2
    }
}

impl Block {
    /// The marks of the (up to) 64 bytes of `buf` from `at`, which is inside it.
    #[inline]
    fn of(kernel: Kernel, buf: &[u8], at: usize) -> Block {
        match kernel {
            // SAFETY: `avx512::classify` needs AVX-512F and AVX-512BW, which
            // `Kernel::detect` found the CPU to have before choosing this kernel.
            #[cfg(feature = "std")]
            #[allow(unsafe_code)]
            Kernel::Avx512 => unsafe { avx512::classify(&buf[at..]) },
            Kernel::Sse2 => Block::of_sse2(buf, at),
        }
    }

    /// [`of`](Self::of) with SSE2.
    #[inline]
    fn of_sse2(buf: &[u8], at: usize) -> Block {
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
                name_end: marks.name_end >> before,
            };
        }
        // `a` is in no class, so the padding marks nothing.
        let mut padded = [b'a'; 64];
        padded[..buf.len() - at].copy_from_slice(&buf[at..]);
        classify_block(&padded)
    }

    #[inline(always)]
    fn bits(&self, stop: Stop) -> u64 {
        match stop {
            Stop::Control => self.control,
            Stop::NameEnd => self.name_end,
        }
    }
}

/// A buffer read from the front, with the marks of the block being read.
///
/// A head parser's questions move forward through the head (a header line's
/// colon, then its end, then the next line), so each block is classified
/// once, when the scan first reaches it, and nothing is kept for the blocks
/// behind.
pub(crate) struct Scan<'a> {
    buf: &'a [u8],
    kernel: Kernel,
    /// The block whose marks `marks` holds.
    block: usize,
    marks: Block,
}

impl<'a> Scan<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Scan::with(Kernel::detect(), buf)
    }

    fn with(kernel: Kernel, buf: &'a [u8]) -> Self {
        Scan {
            buf,
            kernel,
            block: 0,
            marks: if buf.is_empty() {
                Block::default()
            } else {
                Block::of(kernel, buf, 0)
            },
        }
    }

    /// Whether [`Stop::NameEnd`] stops at every byte that cannot be in a
    /// token, so that a name that ends at a colon needs no other check.
    pub(crate) fn checks_names(&self) -> bool {
        match self.kernel {
            Kernel::Sse2 => false,
            #[cfg(feature = "std")]
            Kernel::Avx512 => true,
        }
    }

    /// The position of the first byte at or after `from` that `stop` stops
    /// at, or `None` if the buffer ends first. Fastest when `from` is never
    /// behind the previous answer; a step back costs classifying again.
    #[inline(always)]
    pub(crate) fn find(&mut self, stop: Stop, from: usize) -> Option<usize> {
        if from / 64 != self.block {
            self.enter(from / 64)?;
        }
        let mut bits = self.marks.bits(stop) & (u64::MAX << (from % 64));
        while bits == 0 {
            self.enter(self.block + 1)?;
            bits = self.marks.bits(stop);
        }
        Some(64 * self.block + bits.trailing_zeros() as usize)
    }

    /// Moves to block `k`, or `None` past the end of the buffer.
    #[inline(never)]
    fn enter(&mut self, k: usize) -> Option<()> {
        if 64 * k >= self.buf.len() {
            return None;
        }
        self.block = k;
        self.marks = Block::of(self.kernel, self.buf, 64 * k);
        Some(())
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
        let name_end = _mm_or_si128(control, colon);
        marks.control |= u64::from(_mm_movemask_epi8(control) as u16) << (16 * k);
        marks.name_end |= u64::from(_mm_movemask_epi8(name_end) as u16) << (16 * k);
    }
    marks
}

/// Classification with AVX-512 (Ice Lake, Zen 4 and later), where the CPU has it.
///
/// Its bench: `cargo bench --bench core -- handshake/server`, 581 ns against
/// 598-604 ns with SSE2, run back to back on Zen 4.
#[cfg(feature = "std")]
mod avx512 {
    use super::Block;
    use crate::handshake::header::{CLASS_TABLE, TCHAR};
    use core::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask,
        _mm512_maskz_loadu_epi8, _mm512_set1_epi8, _mm512_set4_epi32, _mm512_shuffle_epi8,
        _mm512_srli_epi16, _mm512_test_epi8_mask,
    };

    /// For each low nibble, the high nibbles (one bit each) that make a
    /// `tchar` with it.
    const TCHAR_BY_LOW: [u8; 16] = {
        let mut table = [0u8; 16];
        let mut b = 0;
        while b < 0x80 {
            if CLASS_TABLE[b] & TCHAR != 0 {
                table[b & 0xF] |= 1 << (b >> 4);
            }
            b += 1;
        }
        table
    };

    /// The bit of each high nibble in [`TCHAR_BY_LOW`]; none from 8 up, as no
    /// byte from 0x80 is a `tchar`.
    const HIGH_BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0];

    /// A 16-byte table in each 128-bit lane, as `_mm512_shuffle_epi8` looks up.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    fn lanes(table: [u8; 16]) -> __m512i {
        let word =
            |i: usize| i32::from_le_bytes([table[i], table[i + 1], table[i + 2], table[i + 3]]);
        _mm512_set4_epi32(word(12), word(8), word(4), word(0))
    }

    /// Whether the CPU has what [`classify`] is compiled for. The answer is
    /// cached by `is_x86_feature_detected!`.
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
    }

    /// The marks of the first 64 bytes of `rest`, or of all of it if shorter.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) fn classify(rest: &[u8]) -> Block {
        // A whole block (all but the last) is loaded without waiting on a
        // mask made from the length: the branch is predicted, the mask's
        // dependency would not be.
        let whole = rest.len() >= 64;
        let inside = if whole {
            u64::MAX
        } else {
            (1 << rest.len()) - 1
        };
        // SAFETY: each load reads only the bytes whose bits are set in its
        // mask, the first 64 bytes of `rest` or all of it if shorter; a
        // masked load neither reads nor faults on the bytes masked off, which
        // come out as zeros.
        #[allow(unsafe_code)]
        let v = unsafe {
            if whole {
                _mm512_maskz_loadu_epi8(u64::MAX, rest.as_ptr().cast())
            } else {
                _mm512_maskz_loadu_epi8(inside, rest.as_ptr().cast())
            }
        };
        // Unsigned: "below 0x20" is "at most 0x1F"; and 0x7F (DEL) besides.
        let control = _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1F))
            | _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(0x7F));
        // A byte is a `tchar` if its low nibble's entry holds its high
        // nibble's bit: two lookups in 16-byte tables for all 64 bytes. A
        // colon and the control characters are not `tchar`s.
        let low = _mm512_and_si512(v, _mm512_set1_epi8(0x0F));
        let high = _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));
        let tchar = _mm512_test_epi8_mask(
            _mm512_shuffle_epi8(lanes(TCHAR_BY_LOW), low),
            _mm512_shuffle_epi8(lanes(HIGH_BIT), high),
        );
        // The zeros loaded for the bytes past the end are control characters.
        Block {
            control: control & inside,
            name_end: !tchar & inside,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `kernel` stops a name at `b`, one byte at a time.
    fn ends_name(kernel: Kernel, b: u8) -> bool {
        let checks_names = Scan::with(kernel, b"").checks_names();
        b < 0x20
            || b == 0x7F
            || b == b':'
            || (checks_names && !crate::handshake::header::is_tchar(b))
    }

    fn scalar(kernel: Kernel, block: &[u8]) -> Block {
        let mut marks = Block::default();
        for (i, &b) in block.iter().enumerate() {
            marks.control |= u64::from(b < 0x20 || b == 0x7F) << i;
            marks.name_end |= u64::from(ends_name(kernel, b)) << i;
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
                for kernel in kernels() {
                    assert_eq!(
                        Block::of(kernel, &block, 0),
                        scalar(kernel, &block),
                        "{kernel:?}: byte {b:#x} at {at}"
                    );
                }
            }
        }
    }

    /// The kernels this CPU can run.
    fn kernels() -> impl Iterator<Item = Kernel> {
        let mut all = alloc::vec![Kernel::Sse2];
        #[cfg(feature = "std")]
        if avx512::available() {
            all.push(Kernel::Avx512);
        }
        all.into_iter()
    }

    /// A short last block marks its own bytes only, whichever kernel loads it
    /// and wherever in the buffer it starts.
    #[test]
    fn classify_marks_only_the_bytes_of_a_short_last_block() {
        let buf: alloc::vec::Vec<u8> = (0..200u8)
            .map(|i| [b':', b'\r', b'a', 0][usize::from(i % 4)])
            .collect();
        for len in 0..buf.len() {
            for at in (0..len).step_by(64) {
                for kernel in kernels() {
                    assert_eq!(
                        Block::of(kernel, &buf[..len], at),
                        scalar(kernel, &buf[at..len.min(at + 64)]),
                        "{kernel:?}: {len} bytes, block at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn find_stops_across_blocks_and_in_the_short_tail() {
        let mut buf = alloc::vec![b'a'; 150];
        buf[3] = b':';
        buf[130] = b'\r';
        buf[149] = 0x7F;
        let mut scan = Scan::new(&buf);
        assert_eq!(scan.find(Stop::NameEnd, 0), Some(3));
        assert_eq!(scan.find(Stop::Control, 0), Some(130));
        assert_eq!(scan.find(Stop::NameEnd, 4), Some(130));
        assert_eq!(scan.find(Stop::Control, 131), Some(149));
        assert_eq!(scan.find(Stop::Control, 150), None);
        // A step back classifies again.
        assert_eq!(scan.find(Stop::NameEnd, 1), Some(3));
        assert_eq!(Scan::new(&buf[..149]).find(Stop::Control, 131), None);
        // Buffers shorter than a block.
        assert_eq!(Scan::new(b"ab:\n").find(Stop::NameEnd, 0), Some(2));
        assert_eq!(Scan::new(b"ab:\n").find(Stop::Control, 0), Some(3));
        assert_eq!(Scan::new(b"").find(Stop::Control, 0), None);
    }

    proptest::proptest! {
        /// A scan answers as a plain search does, for questions that move
        /// forward as a parser's do (and for the odd one that steps back).
        #[test]
        fn find_agrees_with_a_plain_search(
            buf in proptest::collection::vec(proptest::sample::select(
                b"a-( \r\n\t:\x7f\x80\0".to_vec()), 0..300),
            questions in proptest::collection::vec((0usize..320, proptest::bool::ANY), 0..12),
        ) {
            for kernel in kernels() {
            let mut scan = Scan::with(kernel, &buf);
            let mut froms: alloc::vec::Vec<_> = questions.clone();
            froms.sort();
            for (from, colon) in froms.into_iter().chain(questions.iter().copied()) {
                let stop = if colon { Stop::NameEnd } else { Stop::Control };
                let hit = |b: u8| if colon { ends_name(kernel, b) } else { b < 0x20 || b == 0x7F };
                let want = buf.get(from..).and_then(|r| r.iter().position(|&b| hit(b))).map(|i| from + i);
                proptest::prop_assert_eq!(scan.find(stop, from), want, "{:?}", kernel);
            }
            }
        }
    }
}
