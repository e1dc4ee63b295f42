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

/// The outcome of checking one complete slice: where the valid prefix ends, and whether the
/// rest is invalid (`Some`) or only an unfinished code point at the end (`None`).
///
/// With the `simd` feature this is simdutf8's `compat` validator, which reports the same
/// `valid_up_to`/`error_len` as `core::str::from_utf8` at SIMD speed.
#[inline]
fn check(bytes: &[u8]) -> Result<(), (usize, Option<usize>)> {
    #[cfg(feature = "simd")]
    let result = simdutf8::compat::from_utf8(bytes);
    #[cfg(not(feature = "simd"))]
    let result = core::str::from_utf8(bytes);
    match result {
        Ok(_) => Ok(()),
        Err(e) => Err((e.valid_up_to(), e.error_len())),
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
/// use sockless::utf8::Utf8Validator;
/// let text = "κόσμε".as_bytes();
/// let mut v = Utf8Validator::new();
/// // Split inside the two-byte 'ό'.
/// v.feed(&text[..3])?;
/// v.feed(&text[3..])?;
/// v.finish()?;
/// // Invalid bytes fail as soon as they arrive.
/// assert!(Utf8Validator::new().feed(&[0xF4, 0x90]).is_err());
/// # Ok::<(), sockless::utf8::InvalidUtf8>(())
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
        match check(piece) {
            Ok(()) => Ok(()),
            Err((_, Some(_))) => Err(InvalidUtf8),
            Err((valid, None)) => {
                let tail = &piece[valid..];
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
pub(crate) fn validated_str(bytes: &[u8]) -> &str {
    debug_assert!(core::str::from_utf8(bytes).is_ok());
    // SAFETY: callers pass only text bytes the decoder's `Utf8Validator` accepted whole
    // (every byte fed and `finish` passed) and that were not changed since; the differential
    // tests against `core::str::from_utf8` check the validator. Checking again would make
    // every borrowed text message cost a second pass (`benches/core.rs`, `text/as_str`).
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
    /// Only this crate calls it, right after a [`Utf8Validator`] accepted every byte.
    pub(crate) fn from_validated(bytes: Bytes) -> Utf8Bytes {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor validates the bytes (`from_static` takes a `&str`,
        // `TryFrom` runs `from_utf8`, `From<String>` takes a `String`, and `from_validated`
        // is called only with bytes a `Utf8Validator` accepted, which `debug_assert!` and the
        // differential tests against `core::str::from_utf8` check), and `Bytes` never changes
        // its contents. Re-validating here would make every read of a received text message
        // O(n); `benches/core.rs` (`text/as_str`) measures the difference.
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

    #[test]
    fn utf8_bytes_rejects_invalid_input() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xff")).is_err());
        assert_eq!(
            Utf8Bytes::try_from(Bytes::from_static(b"ok")).unwrap(),
            "ok"
        );
    }
}
