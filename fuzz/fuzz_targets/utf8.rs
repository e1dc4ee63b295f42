//! The public `codec::Utf8Validator` against `core::str::from_utf8`, for any bytes split at
//! any points.
//!
//! Input: `[n][n split bytes][text]`; each split byte is a cut position in the text (modulo
//! its length + 1), so pieces may be empty and cuts may fall inside code points.
//!
//! Checks, piece by piece: a feed fails exactly when the bytes so far can no longer begin
//! valid UTF-8 (fail fast: the piece holding the first byte that makes the prefix invalid,
//! and no earlier one); `is_boundary` after each successful feed says whether the bytes so
//! far are complete UTF-8; `finish` succeeds exactly when the whole text is UTF-8. And
//! `Utf8Bytes::try_from` agrees with `from_utf8`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockless::Utf8Bytes;
use sockless::codec::Utf8Validator;
use sockless_fuzz::Reader;

/// The index of the first byte after which `text[..=i]` cannot begin valid UTF-8.
fn first_bad_byte(text: &[u8]) -> Option<usize> {
    let e = core::str::from_utf8(text).err()?;
    e.error_len()?;
    let start = e.valid_up_to();
    // The invalid sequence starts at `start`; find the shortest prefix that shows it.
    (start..text.len()).find(|&i| {
        core::str::from_utf8(&text[..=i])
            .err()
            .is_some_and(|e| e.error_len().is_some())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut input = Reader::new(data);
    let n = usize::from(input.u8().unwrap_or(0) % 16);
    let splits = input.bytes(n);
    let text = input.rest();
    let mut cuts: Vec<usize> = splits
        .iter()
        .map(|&s| usize::from(s) % (text.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(text.len());

    let whole = core::str::from_utf8(text);
    let bad = first_bad_byte(text);
    assert_eq!(
        Utf8Bytes::try_from(bytes::Bytes::copy_from_slice(text)).is_ok(),
        whole.is_ok()
    );

    let mut validator = Utf8Validator::new();
    let mut start = 0;
    for &end in &cuts {
        let fed = validator.feed(&text[start..end]);
        match bad {
            Some(b) if b < end => {
                assert!(
                    fed.is_err(),
                    "feed accepted {:02x?} (bytes {start}..{end}) holding invalid byte {b}",
                    &text[start..end]
                );
                assert!(b >= start, "an earlier feed should have failed");
                return;
            }
            _ => assert!(
                fed.is_ok(),
                "feed refused bytes {start}..{end} of a valid beginning: {text:02x?}"
            ),
        }
        assert_eq!(
            validator.is_boundary(),
            core::str::from_utf8(&text[..end]).is_ok(),
            "is_boundary is wrong after {end} bytes of {text:02x?}"
        );
        start = end;
    }
    assert!(bad.is_none());
    assert_eq!(
        validator.finish().is_ok(),
        whole.is_ok(),
        "finish disagrees with from_utf8 on {text:02x?}"
    );
});
