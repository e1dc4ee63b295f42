//! A yes/no UTF-8 check 64 bytes at a time with AVX-512: the "lookup" algorithm of Keiser
//! and Lemire (Validating UTF-8 In Less Than One Instruction Per Byte, 2021), the one in
//! simdjson and simdutf, on 512-bit registers. simdutf8 0.1.5 stops at AVX2 (32 bytes).
//!
//! Every byte is judged with the byte before it, through three 16-entry tables indexed by
//! nibbles (the high and low nibble of the previous byte, the high nibble of this one):
//! each table entry is a set of error classes that its nibble is consistent with, so an
//! error survives the AND of the three only when all three nibbles match it. That covers
//! every rule between two neighbouring bytes; what it cannot see (the third and fourth
//! byte of a long code point must be continuations, and nothing else may be two
//! continuations in a row) is checked with the bytes two and three back. A code point left
//! unfinished at the end of a block is checked by the next block, whose first bytes see the
//! last three bytes of this one.
//!
//! The lookups use AVX-512 VBMI's `permutexvar_epi8` rather than `shuffle_epi8` (the
//! `vpshufb` of simdjson and simdutf8): it reads only the low 6 bits of each index, so a
//! 16-entry table repeated four times is indexed by a nibble with the bits above it left
//! in, where `shuffle_epi8` needs them masked off. Three fewer instructions per block took
//! the multi-byte bench (`benches/core.rs`, `text/validator/multibyte`) from 50 to 44 µs
//! per MiB on Zen 4.

use core::arch::x86_64::{
    __m512i, _mm_setr_epi8, _mm512_alignr_epi8, _mm512_alignr_epi64, _mm512_broadcast_i32x4,
    _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_maskz_subs_epu8, _mm512_movepi8_mask,
    _mm512_or_si512, _mm512_permutexvar_epi8, _mm512_set1_epi8, _mm512_setzero_si512,
    _mm512_srli_epi16, _mm512_subs_epu8, _mm512_ternarylogic_epi64, _mm512_test_epi8_mask,
};

// The error classes, one bit each, as the tables below name them. Two classes share bit 6:
// the high-nibble table of the previous byte only sets it for `F_`, and the low nibbles
// then tell `F0` (overlong) from `F5..FF` (too large) apart.

/// A lead byte followed by a byte that is not a continuation.
const TOO_SHORT: u8 = 1 << 0;
/// An ASCII byte followed by a continuation.
const TOO_LONG: u8 = 1 << 1;
/// `E0 80..9F`: a code point below U+0800 in three bytes.
const OVERLONG_3: u8 = 1 << 2;
/// `F4 90..BF` and `F5..FF 90..BF`: above U+10FFFF.
const TOO_LARGE: u8 = 1 << 3;
/// `ED A0..BF`: a UTF-16 surrogate, U+D800..U+DFFF.
const SURROGATE: u8 = 1 << 4;
/// `C0..C1 80..BF`: a code point below U+0080 in two bytes.
const OVERLONG_2: u8 = 1 << 5;
/// `F5..FF 80..8F`: above U+10FFFF, the part `TOO_LARGE` leaves.
const TOO_LARGE_1000: u8 = 1 << 6;
/// `F0 80..8F`: a code point below U+10000 in four bytes.
const OVERLONG_4: u8 = 1 << 6;
/// Two continuations in a row: an error unless they are the third or fourth byte of a
/// code point, which the check of the bytes two and three back decides.
const TWO_CONTS: u8 = 1 << 7;
/// The classes that the previous byte's high nibble decides alone, so every low nibble
/// lets them through.
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

/// Indexed by the high nibble of the previous byte.
const PREV_HIGH: [u8; 16] = [
    // 0___ ____: ASCII.
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    // 10__ ____: a continuation.
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    // 1100 ____, 1101 ____: a two-byte lead.
    TOO_SHORT | OVERLONG_2,
    TOO_SHORT,
    // 1110 ____: a three-byte lead.
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    // 1111 ____: a four-byte lead, or a byte that can never appear.
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
];

/// Indexed by the low nibble of the previous byte.
const PREV_LOW: [u8; 16] = [
    // ____ 0000: C0, E0, F0.
    CARRY | OVERLONG_2 | OVERLONG_3 | OVERLONG_4,
    // ____ 0001: C1.
    CARRY | OVERLONG_2,
    CARRY,
    CARRY,
    // ____ 0100: F4.
    CARRY | TOO_LARGE,
    // ____ 0101 and up: F5..FF.
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    // ____ 1101: ED.
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
];

/// Indexed by the high nibble of the byte itself.
const THIS_HIGH: [u8; 16] = [
    // 0___ ____: ASCII.
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    // 1000 ____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    // 1001 ____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE,
    // 101_ ____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | SURROGATE | TOO_LARGE,
    TOO_LONG | TWO_CONTS | OVERLONG_2 | SURROGATE | TOO_LARGE,
    // 11__ ____: a lead byte.
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
];

/// For the last three bytes of a 16-byte lane, the largest byte that does not start a code
/// point longer than the bytes left: up to EF at the third last (F0 and up need three
/// more), DF at the second last, BF (ASCII or a continuation) at the last.
const LAST_LEADS: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xEF, 0xDF, 0xBF];

/// The last three bytes of a block, as a byte mask: [`LAST_LEADS`] applies there only.
const LAST_THREE: u64 = 0b111 << 61;

/// `vpternlog` truth tables, bit `4a + 2b + c` for operands `a, b, c`.
const A_AND_B_AND_C: i32 = 0x80;
/// `(a | b) & c`.
const A_OR_B_AND_C: i32 = 0xA8;
/// `a | (b ^ c)`.
const A_OR_B_XOR_C: i32 = 0xF6;

/// Whether the CPU has what [`is_valid_avx512`] is compiled for (Ice Lake and Zen 4 on;
/// Skylake-X lacks VBMI). `is_x86_feature_detected!` keeps its answer in an atomic, so
/// asking per call costs three loads and tests, about a nanosecond.
#[inline]
fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
}

/// Whether `bytes` is complete, valid UTF-8, if the CPU has AVX-512 (F, BW and VBMI);
/// `None` when it has not, and the caller must ask another validator.
///
/// Short slices need no other path: the last, short block is loaded masked, so below 64
/// bytes this takes 6-8 ns where simdutf8 takes 5-10 ns on ASCII and 8-41 ns on
/// multi-byte text.
#[inline]
pub(super) fn is_valid(bytes: &[u8]) -> Option<bool> {
    if !available() {
        return None;
    }
    // SAFETY: `is_valid_avx512` needs AVX-512F, AVX-512BW and AVX-512VBMI, which the CPU
    // was just found to have. The tests below compare it with `core::str::from_utf8` for
    // every error class at every offset around the 64-byte blocks, and the `utf8` fuzz
    // target reaches it through `Utf8Validator`.
    #[allow(unsafe_code)]
    Some(unsafe { is_valid_avx512(bytes) })
}

/// The checker's state between 64-byte blocks.
struct Checker {
    /// Any error class found so far, as nonzero bytes.
    error: __m512i,
    /// The last block checked in full, whose last three bytes the next block's first bytes
    /// are judged with. ASCII blocks skip the checks and leave it as it was; see
    /// [`Checker::ascii`].
    prev: __m512i,
    /// Nonzero if `prev` ends inside a code point, so that what follows must go on with it.
    incomplete: __m512i,
}

impl Checker {
    /// A checker at the start of the text: as if after a block of zeros (ASCII).
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    fn new() -> Checker {
        Checker {
            error: _mm512_setzero_si512(),
            prev: _mm512_setzero_si512(),
            incomplete: _mm512_setzero_si512(),
        }
    }

    /// A block of ASCII: valid by itself, and an error if the block before ended inside a
    /// code point. `prev` is left as it was, which is sound: when it ended on a code point
    /// boundary, no lead among its last three bytes has a byte due after them, and the last
    /// one is ASCII or a continuation, so they judge the next block's first bytes as ASCII
    /// would, except that a continuation after them is caught as two continuations instead
    /// of as one after ASCII. (When it did not, this sets the error, for good.)
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    fn ascii(&mut self) {
        self.error = _mm512_or_si512(self.error, self.incomplete);
    }

    /// Checks a block that follows `prev`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    fn block(&mut self, input: __m512i) {
        // The bytes 1, 2 and 3 back. `alignr_epi8` shifts within each 128-bit lane, so it is
        // given the lane before each lane of `input`: the last lane of `prev`, then the
        // first three of `input`.
        let lanes_before = _mm512_alignr_epi64::<6>(input, self.prev);
        let prev1 = _mm512_alignr_epi8::<15>(input, lanes_before);
        let prev2 = _mm512_alignr_epi8::<14>(input, lanes_before);
        let prev3 = _mm512_alignr_epi8::<13>(input, lanes_before);

        // The 16-bit shift brings each high nibble down, with bits of the neighbouring byte
        // above it that the lookup ignores.
        let prev_high = _mm512_permutexvar_epi8(_mm512_srli_epi16::<4>(prev1), table(PREV_HIGH));
        let prev_low = _mm512_permutexvar_epi8(prev1, table(PREV_LOW));
        let this_high = _mm512_permutexvar_epi8(_mm512_srli_epi16::<4>(input), table(THIS_HIGH));
        let special = _mm512_ternarylogic_epi64::<A_AND_B_AND_C>(prev_high, prev_low, this_high);

        // Bit 7 set where the byte must be a continuation after one: the third byte after
        // a lead of E0 and up, the fourth after F0 and up. The saturating subtractions bring
        // exactly those leads to 0x80 and up.
        let third = _mm512_subs_epu8(prev2, _mm512_set1_epi8((0xE0u8 - 0x80) as i8));
        let fourth = _mm512_subs_epu8(prev3, _mm512_set1_epi8((0xF0u8 - 0x80) as i8));
        let must_be_cont =
            _mm512_ternarylogic_epi64::<A_OR_B_AND_C>(third, fourth, _mm512_set1_epi8(-0x80));
        // Where a third or fourth byte is due, `TWO_CONTS` is what a valid one shows, and
        // its absence the error; elsewhere its presence is.
        self.error = _mm512_ternarylogic_epi64::<A_OR_B_XOR_C>(self.error, must_be_cont, special);

        // A lead among the last three bytes whose code point needs more bytes than are left:
        // 61 needs F0 and up, 62 E0 and up, 63 C0 and up to end inside one.
        self.incomplete = _mm512_maskz_subs_epu8(LAST_THREE, input, table(LAST_LEADS));
        self.prev = input;
    }

    /// Whether the text seen was valid UTF-8 and ended on a code point boundary.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    #[inline]
    fn finish(self) -> bool {
        let error = _mm512_or_si512(self.error, self.incomplete);
        _mm512_test_epi8_mask(error, error) == 0
    }
}

/// 16 bytes repeated to fill a register. For `permutexvar_epi8`, which reads 6 bits of each
/// index, the four copies make entry `index & 15` the answer whatever bits 4 and 5 are;
/// of [`LAST_LEADS`], only the last lane's last three bytes are used.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn table(t: [u8; 16]) -> __m512i {
    let t = t.map(|b| b as i8);
    _mm512_broadcast_i32x4(_mm_setr_epi8(
        t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10], t[11], t[12], t[13],
        t[14], t[15],
    ))
}

/// Whether any byte of `v` has its high bit set.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn any_non_ascii(v: __m512i) -> bool {
    _mm512_movepi8_mask(v) != 0
}

/// One 64-byte block.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn load(block: &[u8; 64]) -> __m512i {
    // SAFETY: `block` is 64 readable bytes, and `loadu` needs no alignment.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_loadu_si512(block.as_ptr().cast())
    }
}

/// The last, short block, with zeros (ASCII) after its end.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
#[inline]
fn load_tail(tail: &[u8]) -> __m512i {
    debug_assert!(tail.len() < 64);
    let mask = (1u64 << tail.len()) - 1;
    // SAFETY: the mask selects the first `tail.len()` bytes, all in `tail`; a masked load
    // does not read the bytes its mask leaves out (nor fault on them), it zeroes them.
    #[allow(unsafe_code)]
    unsafe {
        _mm512_maskz_loadu_epi8(mask, tail.as_ptr().cast())
    }
}

/// [`is_valid`] for a CPU with AVX-512F, AVX-512BW and AVX-512VBMI.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn is_valid_avx512(bytes: &[u8]) -> bool {
    let mut checker = Checker::new();
    let (blocks, tail) = bytes.as_chunks::<64>();
    // Four blocks per turn, with one ASCII test for all four: 44 µs per MiB of multi-byte
    // text with two, 42.7 with four.
    let (quads, single) = blocks.as_chunks::<4>();
    for [a, b, c, d] in quads {
        let (a, b, c, d) = (load(a), load(b), load(c), load(d));
        if any_non_ascii(_mm512_or_si512(
            _mm512_or_si512(a, b),
            _mm512_or_si512(c, d),
        )) {
            checker.block(a);
            checker.block(b);
            checker.block(c);
            checker.block(d);
        } else {
            checker.ascii();
        }
    }
    for block in single {
        let block = load(block);
        if any_non_ascii(block) {
            checker.block(block);
        } else {
            checker.ascii();
        }
    }
    if !tail.is_empty() {
        checker.block(load_tail(tail));
    }
    checker.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// Where the checked sequence goes: far enough to land at every position of the first
    /// two blocks, in the third block, and in the tail.
    const OFFSETS: core::ops::Range<usize> = 0..130;

    /// Asserts that the kernel agrees with `core::str::from_utf8` on `bytes`. Without
    /// AVX-512 there is nothing to test (the callers return first).
    fn agrees(bytes: &[u8]) -> bool {
        let expected = core::str::from_utf8(bytes).is_ok();
        assert_eq!(
            is_valid(bytes),
            Some(expected),
            "kernel disagrees with from_utf8 on {} bytes: {bytes:02x?}",
            bytes.len()
        );
        expected
    }

    /// Valid text of exactly `len` bytes, mostly of 3- and 4-byte code points (Korean and an
    /// emoji) with 2-byte ones and one ASCII byte to make the length exact.
    fn multibyte(len: usize) -> Vec<u8> {
        let mut text = String::new();
        for c in ['한', '🚀', 'é', '글'].iter().cycle() {
            if text.len() + c.len_utf8() > len {
                break;
            }
            text.push(*c);
        }
        while text.len() + 2 <= len {
            text.push('é');
        }
        if text.len() < len {
            text.push('a');
        }
        assert_eq!(text.len(), len);
        text.into_bytes()
    }

    /// The backgrounds a sequence is put into: ASCII (so the ASCII fast path runs before
    /// and after it), multi-byte text (so every block is checked in full), and multi-byte
    /// text for one block then ASCII (so an ASCII block follows a checked one).
    fn backgrounds(len: usize) -> [Vec<u8>; 3] {
        let ascii = alloc::vec![b'a'; len];
        let mut mixed = multibyte(len.min(64));
        mixed.resize(len, b'b');
        [ascii, multibyte(len), mixed]
    }

    /// Puts `seq` at every offset of every background, with valid text after it and with
    /// nothing after it, and checks that the kernel agrees with `from_utf8` each time.
    /// Returns whether `seq` alone is valid.
    fn agrees_at_every_offset(seq: &[u8]) -> bool {
        // Built once: the sweeps put thousands of sequences into the same texts.
        static BEFORE: std::sync::OnceLock<Vec<[Vec<u8>; 3]>> = std::sync::OnceLock::new();
        static AFTER: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let befores = BEFORE.get_or_init(|| OFFSETS.map(backgrounds).collect());
        let after = AFTER.get_or_init(|| multibyte(70));
        let mut text = Vec::new();
        for before in befores.iter().flatten() {
            for after in [&[][..], after] {
                text.clear();
                text.extend_from_slice(before);
                text.extend_from_slice(seq);
                text.extend_from_slice(after);
                agrees(&text);
            }
        }
        agrees(seq)
    }

    /// The bytes where some rule changes its answer: ASCII, the continuation ranges that
    /// the second byte of E0, ED, F0, F4 is checked against, every kind of lead, and the
    /// bytes that never appear.
    const BYTES: [u8; 26] = [
        0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
        0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFF,
    ];
    /// After the second byte, what matters is only continuation or not, and which end of
    /// the continuation range.
    const LATER: [u8; 3] = [0x80, 0xBF, 0x41];

    fn skip() -> bool {
        !available()
    }

    #[test]
    fn every_one_byte_value_at_every_offset_agrees_with_core() {
        if skip() {
            return;
        }
        for b in 0..=u8::MAX {
            agrees_at_every_offset(&[b]);
        }
    }

    #[test]
    fn every_two_byte_class_at_every_offset_agrees_with_core() {
        if skip() {
            return;
        }
        for a in BYTES {
            for b in BYTES {
                agrees_at_every_offset(&[a, b]);
            }
        }
    }

    #[test]
    fn every_three_byte_class_at_every_offset_agrees_with_core() {
        if skip() {
            return;
        }
        // A second byte that is not a continuation ends the sequence, which the two-byte
        // sweep covers; one such byte is kept.
        let second = BYTES
            .into_iter()
            .filter(|&b| (0x80..0xC0).contains(&b) || b == 0x41);
        for a in BYTES.into_iter().filter(|&a| a >= 0xC0) {
            for b in second.clone() {
                for c in LATER {
                    agrees_at_every_offset(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn every_four_byte_class_at_every_offset_agrees_with_core() {
        if skip() {
            return;
        }
        for a in BYTES.into_iter().filter(|&a| a >= 0xE0) {
            for b in BYTES.into_iter().filter(|&b| (0x80..0xC0).contains(&b)) {
                for c in LATER {
                    for d in LATER {
                        agrees_at_every_offset(&[a, b, c, d]);
                    }
                }
            }
        }
    }

    /// Complete code points of every length, at the ends of their ranges.
    const VALID: [&[u8]; 12] = [
        &[0xC2, 0x80],
        &[0xDF, 0xBF],
        &[0xE0, 0xA0, 0x80],
        &[0xE1, 0x80, 0x80],
        &[0xED, 0x9F, 0xBF],
        &[0xEE, 0x80, 0x80],
        &[0xEF, 0xBF, 0xBF],
        &[0xF0, 0x90, 0x80, 0x80],
        &[0xF1, 0x80, 0x80, 0x80],
        &[0xF3, 0xBF, 0xBF, 0xBF],
        &[0xF4, 0x80, 0x80, 0x80],
        &[0xF4, 0x8F, 0xBF, 0xBF],
    ];

    #[test]
    fn complete_code_points_are_valid_at_every_offset() {
        if skip() {
            return;
        }
        for seq in VALID {
            assert!(agrees_at_every_offset(seq), "{seq:02x?}");
        }
    }

    #[test]
    fn code_point_cut_short_at_the_end_is_invalid() {
        if skip() {
            return;
        }
        // Every total length up to three blocks, so the cut code point ends the tail, and
        // ends a whole block at each of the last three positions.
        for seq in VALID {
            for cut in 1..seq.len() {
                for before in 0..200 {
                    for mut text in backgrounds(before) {
                        text.extend_from_slice(&seq[..cut]);
                        assert!(!agrees(&text), "{seq:02x?} cut to {cut} after {before}");
                    }
                }
            }
        }
    }

    #[test]
    fn code_point_cut_short_by_ascii_is_invalid() {
        if skip() {
            return;
        }
        for seq in VALID {
            for cut in 1..seq.len() {
                let mut cut_seq = seq[..cut].to_vec();
                cut_seq.push(b'a');
                assert!(!agrees_at_every_offset(&cut_seq), "{cut_seq:02x?}");
            }
        }
    }

    /// Asserts that each sequence is invalid wherever it stands.
    fn all_invalid(seqs: &[&[u8]]) {
        for seq in seqs {
            assert!(!agrees_at_every_offset(seq), "{seq:02x?}");
        }
    }

    #[test]
    fn overlong_encodings_are_invalid() {
        if skip() {
            return;
        }
        all_invalid(&[
            &[0xC0, 0x80],
            &[0xC0, 0xBF],
            &[0xC1, 0x80],
            &[0xC1, 0xBF],
            &[0xE0, 0x80, 0x80],
            &[0xE0, 0x9F, 0xBF],
            &[0xF0, 0x80, 0x80, 0x80],
            &[0xF0, 0x8F, 0xBF, 0xBF],
        ]);
    }

    #[test]
    fn surrogates_are_invalid() {
        if skip() {
            return;
        }
        all_invalid(&[
            &[0xED, 0xA0, 0x80],
            &[0xED, 0xAF, 0xBF],
            &[0xED, 0xB0, 0x80],
            &[0xED, 0xBF, 0xBF],
        ]);
    }

    #[test]
    fn code_points_above_u10ffff_are_invalid() {
        if skip() {
            return;
        }
        all_invalid(&[
            &[0xF4, 0x90, 0x80, 0x80],
            &[0xF4, 0xBF, 0xBF, 0xBF],
            &[0xF5, 0x80, 0x80, 0x80],
            &[0xF7, 0xBF, 0xBF, 0xBF],
            &[0xF8, 0x88, 0x80, 0x80, 0x80],
            &[0xFC, 0x84, 0x80, 0x80, 0x80, 0x80],
            &[0xFE],
            &[0xFF],
        ]);
    }

    #[test]
    fn stray_continuations_are_invalid() {
        if skip() {
            return;
        }
        all_invalid(&[
            &[0x80],
            &[0xBF],
            &[0x80, 0x80],
            &[b'a', 0x9F],
            &[0xBF, 0xBF, 0xBF],
        ]);
    }

    #[test]
    fn too_many_continuations_are_invalid() {
        if skip() {
            return;
        }
        all_invalid(&[
            &[0xC2, 0x80, 0x80],
            &[0xE1, 0x80, 0x80, 0x80],
            &[0xF1, 0x80, 0x80, 0x80, 0x80],
            &[0xF4, 0x8F, 0xBF, 0xBF, 0xBF],
        ]);
    }

    #[test]
    fn unfinished_code_point_before_ascii_blocks_is_invalid() {
        if skip() {
            return;
        }
        // A block ends inside a code point, then come ASCII blocks, then the rest of the
        // code point. The ASCII blocks are skipped (blocks 4 to 7 as a group of four, or
        // the ones after the last whole group one at a time), so the next full check sees
        // the code point's end right after its start: only the skip itself can tell that
        // ASCII came between.
        for seq in [
            &[0xC2, 0x80][..],
            &[0xE1, 0x80, 0x80],
            &[0xF1, 0x80, 0x80, 0x80],
        ] {
            for cut in 1..seq.len() {
                for blocks_before in [1, 2, 4, 5] {
                    for ascii_blocks in 1..=5 {
                        for after in [0, 50, 100] {
                            let mut text = multibyte(64 * blocks_before - cut);
                            text.extend_from_slice(&seq[..cut]);
                            text.resize(64 * (blocks_before + ascii_blocks), b'a');
                            text.extend_from_slice(&seq[cut..]);
                            text.extend_from_slice(&multibyte(after));
                            assert!(!agrees(&text), "{text:02x?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn valid_text_of_every_length_is_valid() {
        if skip() {
            return;
        }
        for len in 0..200 {
            for text in backgrounds(len) {
                assert!(agrees(&text), "{len}");
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_agree_with_core(
            bytes in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            if !skip() {
                agrees(&bytes);
            }
        }

        #[test]
        fn valid_text_with_one_byte_replaced_agrees_with_core(
            chars in proptest::collection::vec(any::<char>(), 1..150),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            if !skip() {
                let mut bytes = String::from_iter(chars).into_bytes();
                let at = at.index(bytes.len());
                bytes[at] = byte;
                agrees(&bytes);
            }
        }
    }
}
