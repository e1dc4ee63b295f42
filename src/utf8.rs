//! Incremental UTF-8 validation, and [`Utf8Bytes`], the text type that carries its proof.
//!
//! Text payloads arrive in pieces: partial reads of one frame, then more frames of the same
//! message. A code point may straddle any of those boundaries. [`Utf8Validator`] keeps the
//! at most 3 bytes of an unfinished code point between pieces, so each byte is checked once
//! (O(n) whatever the fragment count) and an invalid sequence is reported as soon as its
//! bytes arrive (fail fast), not when the message ends.

use bytes::Bytes;
use core::fmt;
use core::ops::Deref;

/// The bytes are not valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidUtf8;

impl fmt::Display for InvalidUtf8 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid UTF-8")
    }
}

/// The outcome of checking a few bytes (a pending code point, or the tail of a piece): where
/// the valid prefix ends, and whether the rest is invalid (`Some`) or only an unfinished code
/// point at the end (`None`).
///
/// Only ever given at most 4 bytes, so `core::str::from_utf8` even with the `simd` feature:
/// simdutf8's `compat` validator, which reports the same position, passes inputs under 64
/// bytes to `core::str::from_utf8` itself.
#[inline]
fn check(bytes: &[u8]) -> Result<(), (usize, Option<usize>)> {
    match core::str::from_utf8(bytes) {
        Ok(_) => Ok(()),
        Err(e) => Err((e.valid_up_to(), e.error_len())),
    }
}

/// Whether `bytes` is complete, valid UTF-8, without saying where it fails.
///
/// With the `simd` feature this is simdutf8's `basic` validator (AVX2, SSE4.2 or NEON, chosen
/// at run time under `std`), faster than its `compat` one because it reports no position:
/// [`Utf8Validator::feed`] gives it only slices cut at a code point boundary, where
/// "invalid" needs no position to be final.
#[inline]
fn is_complete(bytes: &[u8]) -> bool {
    #[cfg(feature = "simd")]
    let valid = simdutf8::basic::from_utf8(bytes).is_ok();
    #[cfg(not(feature = "simd"))]
    let valid = core::str::from_utf8(bytes).is_ok();
    valid
}

/// Where `piece` is cut so that everything before the cut can be judged on its own: before
/// the last lead (non-continuation) byte among its last 3 bytes, so that a code point the
/// piece ends inside is left after the cut. An ASCII last byte, or 3 continuation bytes at
/// the end, cut nothing off: a code point that is still valid so far after 3 continuation
/// bytes is complete (a 4-byte one), so such a piece either ends on a boundary or is invalid
/// already.
///
/// What precedes a lead byte is complete UTF-8 or invalid whatever follows, since no code
/// point runs past the start of the next one: so the part before the cut is validated with
/// a yes/no answer ([`is_complete`]), and only the at most 3 bytes after it may be pending.
#[inline]
fn boundary_cut(piece: &[u8]) -> usize {
    let n = piece.len();
    match piece.last() {
        None => 0,
        Some(&last) if last < 0x80 => n,
        Some(_) => (1..=n.min(3))
            .map(|back| n - back)
            .find(|&i| piece[i] & 0xC0 != 0x80)
            .unwrap_or(n),
    }
}

/// The length of the code point that starts with `lead`, for a lead byte that
/// [`core::str::from_utf8`] called incomplete (so it is a valid 2-, 3- or 4-byte lead).
#[inline]
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// Validates UTF-8 fed in pieces.
///
/// ```
/// use sockless::codec::Utf8Validator;
/// let text = "κόσμε".as_bytes();
/// let mut v = Utf8Validator::new();
/// // Split inside the two-byte 'ό'.
/// v.feed(&text[..3])?;
/// v.feed(&text[3..])?;
/// v.finish()?;
/// // Invalid bytes fail as soon as they arrive.
/// assert!(Utf8Validator::new().feed(&[0xF4, 0x90]).is_err());
/// # Ok::<(), sockless::codec::InvalidUtf8>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8Validator {
    /// The start of a code point that the last piece ended inside.
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Utf8Validator {
        Utf8Validator {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Checks the next piece. Fails as soon as the bytes seen so far cannot begin valid
    /// UTF-8; an unfinished code point at the end of `piece` is kept for the next call.
    #[inline]
    pub fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.pending_len > 0 {
            piece = self.complete_pending(piece)?;
            if self.pending_len > 0 {
                // `piece` was too short to finish the code point; all of it is pending now.
                return Ok(());
            }
        }
        let (bulk, tail) = piece.split_at(boundary_cut(piece));
        if !is_complete(bulk) {
            return Err(InvalidUtf8);
        }
        match check(tail) {
            Ok(()) => Ok(()),
            Err((_, Some(_))) => Err(InvalidUtf8),
            Err((valid, None)) => {
                let tail = &tail[valid..];
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Moves bytes from `piece` into the pending code point until it is complete (or `piece`
    /// runs out), checks it, and returns what is left of `piece`.
    fn complete_pending<'a>(&mut self, piece: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = usize::from(self.pending_len);
        let want = sequence_len(self.pending[0]) - have;
        let take = want.min(piece.len());
        self.pending[have..have + take].copy_from_slice(&piece[..take]);
        let now = have + take;
        match check(&self.pending[..now]) {
            Ok(()) => self.pending_len = 0,
            Err((_, None)) => self.pending_len = now as u8,
            Err((_, Some(_))) => return Err(InvalidUtf8),
        }
        Ok(&piece[take..])
    }

    /// Checks that the text does not end inside a code point.
    #[inline]
    pub fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.pending_len == 0 {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }

    /// True when every byte fed so far ends a complete code point.
    pub fn is_boundary(&self) -> bool {
        self.pending_len == 0
    }
}

/// Views bytes a [`Utf8Validator`] accepted as a `str`, without checking them again.
///
/// The caller must pass a whole text that a validator accepted (every byte fed, `finish`
/// passed) and that was not changed since; `debug_assert!` checks it in debug builds.
pub(crate) fn validated_str(bytes: &[u8]) -> &str {
    debug_assert!(core::str::from_utf8(bytes).is_ok());
    // SAFETY: the invariant is that `bytes` is a whole text a `Utf8Validator` accepted,
    // unchanged since, and the validator accepts only what `core::str::from_utf8` accepts:
    // the differential tests here and in `tests/properties.rs` check that, and
    // `validator_accepted_text_is_utf8_for_the_unchecked_views` checks this function's input
    // in release builds too. Checking again would cost every borrowed text message a second
    // pass over its bytes.
    #[allow(unsafe_code)]
    unsafe {
        core::str::from_utf8_unchecked(bytes)
    }
}

/// An immutable, cheaply cloneable UTF-8 string backed by [`Bytes`], so a received text
/// message is handed out without copying its payload.
///
/// ```
/// use sockless::Utf8Bytes;
/// let text = Utf8Bytes::from_static("hello");
/// assert_eq!(text.as_str(), "hello");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(&[0xff])).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps a static string.
    pub const fn from_static(s: &'static str) -> Utf8Bytes {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes that the caller has already validated.
    ///
    /// Only this crate calls it, and only with a whole text a [`Utf8Validator`] accepted
    /// (every byte fed, `finish` passed); `debug_assert!` checks it in debug builds.
    pub(crate) fn from_validated(bytes: Bytes) -> Utf8Bytes {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: the invariant is that a `Utf8Bytes` holds UTF-8 from construction on:
        // `from_static`, `From<String>` and `From<&str>` take a `str`, `Default` is empty,
        // `TryFrom<Bytes>` runs `from_utf8`, `from_validated` takes only text a
        // `Utf8Validator` accepted, and `Bytes` never changes its contents.
        // `every_constructor_holds_utf8` checks each constructor against
        // `core::str::from_utf8` in release builds too. Checking again here would make every
        // read of a received text message O(n).
        #[allow(unsafe_code)]
        unsafe {
            core::str::from_utf8_unchecked(&self.0)
        }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives up the UTF-8 guarantee for the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<alloc::string::String> for Utf8Bytes {
    fn from(s: alloc::string::String) -> Utf8Bytes {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Utf8Bytes {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = InvalidUtf8;
    fn try_from(bytes: Bytes) -> Result<Utf8Bytes, InvalidUtf8> {
        match core::str::from_utf8(&bytes) {
            Ok(_) => Ok(Utf8Bytes(bytes)),
            Err(_) => Err(InvalidUtf8),
        }
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Bytes {
        text.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn feed_split(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            v.feed(&bytes[start..cut])?;
            start = cut;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn code_point_may_straddle_every_split() {
        let text = "a€𝄞ö".as_bytes();
        for a in 0..=text.len() {
            for b in a..=text.len() {
                assert_eq!(feed_split(text, &[a, b]), Ok(()), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time_agrees_with_core() {
        let cases: &[&[u8]] = &[
            b"hello",
            "κόσμε".as_bytes(),
            &[
                0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xf4, 0x90,
            ],
            &[0xed, 0xa0, 0x80], // a UTF-16 surrogate
            &[0xc0, 0xaf],       // overlong
            &[0xf0, 0x9f],       // truncated
            &[0xe2, 0x82],
            &[0x80],
        ];
        for case in cases {
            let cuts: Vec<usize> = (1..case.len()).collect();
            assert_eq!(
                feed_split(case, &cuts).is_ok(),
                core::str::from_utf8(case).is_ok(),
                "{case:x?}"
            );
        }
    }

    #[test]
    fn invalid_sequence_fails_before_the_text_ends() {
        // Autobahn 6.4.1: the code point above U+10FFFF fails at its second byte.
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert_eq!(v.feed(&[0xf4]), Ok(()));
        assert_eq!(v.feed(&[0x90]), Err(InvalidUtf8));
    }

    #[test]
    fn unfinished_code_point_fails_at_finish() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xe2, 0x82]).unwrap();
        assert!(!v.is_boundary());
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    /// Feeds `pieces` in turn and returns the index of the piece that failed, if any, and
    /// whether the text then finished on a boundary.
    fn first_failure(pieces: &[&[u8]]) -> (Option<usize>, bool) {
        let mut v = Utf8Validator::new();
        for (i, piece) in pieces.iter().enumerate() {
            if v.feed(piece).is_err() {
                return (Some(i), false);
            }
        }
        (None, v.finish().is_ok())
    }

    /// Long enough that the bulk before the cut takes the SIMD path (64 bytes and up).
    fn long_prefix() -> Vec<u8> {
        "plain ASCII, then κόσμε and 𝄞, to reach the vector width: 0123456789"
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn cut_keeps_an_unfinished_code_point_pending_at_each_of_its_bytes() {
        for ch in ["é", "€", "𝄞"] {
            let ch = ch.as_bytes();
            for end in 1..ch.len() {
                let mut first = long_prefix();
                first.extend_from_slice(&ch[..end]);
                let mut v = Utf8Validator::new();
                assert_eq!(v.feed(&first), Ok(()), "{ch:x?} cut after {end}");
                assert!(!v.is_boundary(), "{ch:x?} cut after {end}");
                assert_eq!(v.feed(&ch[end..]), Ok(()), "{ch:x?} cut after {end}");
                assert!(v.is_boundary());
                assert_eq!(v.finish(), Ok(()));
            }
        }
    }

    #[test]
    fn cut_at_a_complete_code_point_leaves_nothing_pending() {
        for ch in ["a", "é", "€", "𝄞"] {
            let mut piece = long_prefix();
            piece.extend_from_slice(ch.as_bytes());
            let mut v = Utf8Validator::new();
            assert_eq!(v.feed(&piece), Ok(()), "{ch}");
            assert!(v.is_boundary(), "{ch}");
        }
    }

    #[test]
    fn piece_of_only_continuation_bytes_finishes_the_pending_code_point() {
        let clef = "𝄞".as_bytes();
        // The lead byte alone, then the three continuation bytes as one piece.
        assert_eq!(first_failure(&[&clef[..1], &clef[1..]]), (None, true));
        // Then one at a time, each piece nothing but a continuation byte.
        assert_eq!(
            first_failure(&[&clef[..1], &clef[1..2], &clef[2..3], &clef[3..]]),
            (None, true)
        );
    }

    #[test]
    fn piece_of_only_continuation_bytes_with_nothing_pending_fails() {
        assert_eq!(first_failure(&[b"ok", &[0x80]]), (Some(1), false));
        assert_eq!(
            first_failure(&[b"ok", &[0x80, 0xbf, 0x80]]),
            (Some(1), false)
        );
        // One continuation byte more than the pending code point takes.
        let euro = "€".as_bytes();
        assert_eq!(
            first_failure(&[&euro[..1], &[euro[1], euro[2], 0x80]]),
            (Some(1), false)
        );
    }

    #[test]
    fn three_continuation_bytes_at_the_end_cut_nothing_and_may_be_a_stray() {
        // A whole 4-byte code point ends the piece: valid, nothing pending.
        let mut clef = long_prefix();
        clef.extend_from_slice("𝄞".as_bytes());
        assert_eq!(first_failure(&[&clef]), (None, true));
        // A 3-byte code point and a stray continuation byte: invalid at once.
        let mut stray = long_prefix();
        stray.extend_from_slice("€".as_bytes());
        stray.push(0x80);
        assert_eq!(first_failure(&[&stray, b"more"]), (Some(0), false));
    }

    #[test]
    fn invalid_bytes_just_before_the_cut_fail_in_that_piece() {
        let euro = "€".as_bytes();
        for bad in [
            &[0xff][..],
            &[0xc0, 0xaf],
            &[0xed, 0xa0, 0x80],
            &[0xe2, 0x82],
        ] {
            // `bad` is followed by the lead byte the piece is cut at, with or without the
            // SIMD-sized bulk before it.
            for prefix in [Vec::new(), long_prefix()] {
                let mut piece = prefix;
                piece.extend_from_slice(bad);
                piece.push(euro[0]);
                assert_eq!(
                    first_failure(&[&piece, &euro[1..]]),
                    (Some(0), false),
                    "{piece:x?}"
                );
            }
        }
    }

    #[test]
    fn invalid_unfinished_code_point_after_the_cut_fails_at_once() {
        // Above U+10FFFF, a surrogate, an overlong: each fails at its second byte although
        // the piece ends inside what would be its code point.
        for bad in [
            &[0xf4, 0x90][..],
            &[0xed, 0xa0],
            &[0xe0, 0x80],
            &[0xf0, 0x80],
        ] {
            for prefix in [Vec::new(), long_prefix()] {
                let mut piece = prefix;
                piece.extend_from_slice(bad);
                assert_eq!(first_failure(&[&piece]), (Some(0), false), "{piece:x?}");
            }
        }
    }

    /// Every string of up to 4 bytes from a set of edge bytes (ASCII, the ends of the
    /// continuation ranges, the leads whose second byte is restricted), after a prefix long
    /// enough for the SIMD path.
    fn edge_texts() -> Vec<Vec<u8>> {
        const EDGES: [u8; 12] = [
            0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc2, 0xe0, 0xed, 0xf0, 0xf4,
        ];
        let mut texts = Vec::new();
        for len in 1..=4u32 {
            for n in 0..EDGES.len().pow(len) {
                let mut bytes = long_prefix();
                let mut k = n;
                for _ in 0..len {
                    bytes.push(EDGES[k % EDGES.len()]);
                    k /= EDGES.len();
                }
                texts.push(bytes);
            }
        }
        texts
    }

    /// Every [`edge_texts`] string split at every point of its suffix: each piece fails
    /// exactly when the bytes so far cannot begin valid UTF-8, as `core::str::from_utf8`
    /// says.
    #[test]
    fn every_short_suffix_at_every_split_agrees_with_core() {
        let valid_prefix = |bytes: &[u8]| match core::str::from_utf8(bytes) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        };
        let prefix_len = long_prefix().len();
        for bytes in edge_texts() {
            for cut in prefix_len..=bytes.len() {
                let mut v = Utf8Validator::new();
                let first = v.feed(&bytes[..cut]);
                assert_eq!(
                    first.is_ok(),
                    valid_prefix(&bytes[..cut]),
                    "{bytes:x?} {cut}"
                );
                if first.is_err() {
                    continue;
                }
                let second = v.feed(&bytes[cut..]);
                assert_eq!(second.is_ok(), valid_prefix(&bytes), "{bytes:x?} {cut}");
                if second.is_ok() {
                    assert_eq!(
                        v.finish().is_ok(),
                        core::str::from_utf8(&bytes).is_ok(),
                        "{bytes:x?} {cut}"
                    );
                }
            }
        }
    }

    /// Checks, without trusting `text`, that it holds UTF-8 and that `as_str` shows exactly
    /// its bytes. The check runs before `as_str`, so a breach fails here instead of making
    /// an invalid `str`.
    fn assert_holds_utf8(text: &Utf8Bytes) {
        let checked = core::str::from_utf8(text.as_bytes())
            .unwrap_or_else(|e| panic!("a Utf8Bytes holds {:x?}: {e}", text.as_bytes()));
        assert_eq!(text.as_str(), checked);
    }

    /// The invariant `as_str` relies on, for every constructor, in release builds as in
    /// debug ones (not only through `from_validated`'s `debug_assert!`).
    #[test]
    fn every_constructor_holds_utf8() {
        assert_holds_utf8(&Utf8Bytes::default());
        assert_holds_utf8(&Utf8Bytes::from_static("κόσμε 𝄞"));
        assert_holds_utf8(&Utf8Bytes::from("κόσμε 𝄞"));
        assert_holds_utf8(&Utf8Bytes::from(alloc::string::String::from("κόσμε 𝄞")));
        let mut accepted = 0;
        for bytes in edge_texts() {
            let core_accepts = core::str::from_utf8(&bytes).is_ok();
            match Utf8Bytes::try_from(Bytes::from(bytes.clone())) {
                Ok(text) => {
                    assert!(core_accepts, "try_from accepted {bytes:x?}");
                    assert_holds_utf8(&text);
                    assert_holds_utf8(&text.clone());
                    accepted += 1;
                }
                Err(InvalidUtf8) => assert!(!core_accepts, "try_from refused {bytes:x?}"),
            }
            let lossy = alloc::string::String::from_utf8_lossy(&bytes).into_owned();
            assert_holds_utf8(&Utf8Bytes::from(lossy));
        }
        assert!(accepted > 100, "the edge texts hold valid ones too");
    }

    /// The invariant `validated_str` and `from_validated` rely on: a text the validator
    /// accepts whole, in any two pieces, is UTF-8 as `core::str::from_utf8` says. Checked
    /// before each view is made, in every build.
    #[test]
    fn validator_accepted_text_is_utf8_for_the_unchecked_views() {
        let prefix_len = long_prefix().len();
        let mut accepted = 0;
        for bytes in edge_texts() {
            for cut in prefix_len..=bytes.len() {
                let mut v = Utf8Validator::new();
                if v.feed(&bytes[..cut]).is_err()
                    || v.feed(&bytes[cut..]).is_err()
                    || v.finish().is_err()
                {
                    continue;
                }
                accepted += 1;
                assert!(
                    core::str::from_utf8(&bytes).is_ok(),
                    "the validator accepted {bytes:x?} cut at {cut}"
                );
                assert_eq!(validated_str(&bytes).as_bytes(), &bytes[..]);
                assert_holds_utf8(&Utf8Bytes::from_validated(Bytes::from(bytes.clone())));
            }
        }
        assert!(accepted > 100, "the edge texts hold valid ones too");
    }

    /// The debug builds' net under `from_validated`: bytes no validator accepted panic
    /// instead of becoming a `Utf8Bytes`.
    #[cfg(debug_assertions)]
    #[test]
    #[should_panic]
    fn from_validated_of_invalid_bytes_panics_in_debug_builds() {
        let _ = Utf8Bytes::from_validated(Bytes::from_static(b"\xff"));
    }

    #[test]
    fn utf8_bytes_rejects_invalid_input() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(
            Utf8Bytes::try_from(Bytes::from_static(b"ok")).unwrap(),
            "ok"
        );
    }
}
