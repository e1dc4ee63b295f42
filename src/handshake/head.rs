//! Finding the end of an HTTP/1.1 head in a growing buffer.
//!
//! httparse is lenient where a WebSocket endpoint should not be (it takes a
//! bare LF as a line end), and re-running it over a head that arrives a byte
//! at a time would be quadratic. So the scanner below walks the buffer once,
//! line by line, resuming where the previous call stopped; it rejects the
//! framing tricks used for request smuggling as soon as it sees them, and only
//! when it has found the empty line that ends the head does httparse run, once.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;
use core::fmt;
use core::ops::Range;

use super::header::is_tchar;
use super::{Header, Limits};

/// What was syntactically wrong with a peer's HTTP head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Syntax {
    /// A line ended with LF alone instead of CR LF.
    BareLf,
    /// The head contained a NUL byte.
    Nul,
    /// A header line began with a space or tab: an obsolete line folding
    /// (RFC 7230 §3.2.4), which must not be sent.
    ObsFold,
    /// The head began with an empty line instead of a request or status line.
    EmptyStartLine,
    /// The request line's method or target, or the framing of the start line,
    /// was invalid.
    StartLine,
    /// The status line's code was invalid.
    Status,
    /// A header name held a character that is not allowed in a token, or was
    /// followed by whitespace before the colon.
    HeaderName,
    /// A header value held a control character.
    HeaderValue,
    /// A CR was not followed by LF.
    LineEnding,
    /// The HTTP version was not `HTTP/1.0` or `HTTP/1.1`.
    Version,
}

impl fmt::Display for Syntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Syntax::BareLf => "a line ended with a bare LF instead of CR LF",
            Syntax::Nul => "the head contained a NUL byte",
            Syntax::ObsFold => "a header line began with whitespace (obsolete line folding)",
            Syntax::EmptyStartLine => "the head began with an empty line",
            Syntax::StartLine => "the start line was malformed",
            Syntax::Status => "the status code was malformed",
            Syntax::HeaderName => "a header name was malformed",
            Syntax::HeaderValue => "a header value held a control character",
            Syntax::LineEnding => "a CR was not followed by LF",
            Syntax::Version => "the HTTP version was malformed",
        })
    }
}

/// Why a head could not be delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ScanError {
    TooLarge,
    TooManyHeaders,
    Syntax(Syntax),
}

/// Where the end of the head is, once it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadEnd {
    /// Length of the head including the final CR LF CR LF.
    pub(crate) len: usize,
    /// Number of header lines (the start line and the final empty line not counted).
    pub(crate) headers: usize,
}

/// Incremental state for delimiting one head. The buffer passed to each call
/// must start with the same bytes as the one before.
///
/// Positions are kept as `u32` so that a server connection waiting for its
/// request holds the scanner inline, without a heap allocation; only the first
/// 4 GiB of a buffer are ever scanned, far beyond any sensible head limit.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct HeadScanner {
    /// Next byte not yet looked at.
    pos: u32,
    /// Start of the line being read.
    line_start: u32,
    /// Complete lines seen so far, the start line included.
    lines: u32,
}

/// [`HeadScanner`]'s state widened for the scan itself.
struct Progress {
    pos: usize,
    line_start: usize,
    lines: usize,
}

impl HeadScanner {
    /// Whether no byte of the current head has been looked at yet.
    pub(crate) fn is_fresh(&self) -> bool {
        self.pos == 0
    }

    /// [`scan`](Self::scan), starting over once it found the end of a head or an error, so
    /// the next call looks at a new head.
    pub(crate) fn next_head(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<HeadEnd>, ScanError> {
        let result = self.scan(buf, limits);
        if !matches!(result, Ok(None)) {
            *self = HeadScanner::default();
        }
        result
    }

    pub(crate) fn scan(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<HeadEnd>, ScanError> {
        // Bytes past the limit can never belong to an acceptable head, so they
        // are not even looked at.
        let window = &buf[..buf.len().min(limits.max_head_size).min(u32::MAX as usize)];
        let mut progress = Progress {
            pos: self.pos as usize,
            line_start: self.line_start as usize,
            lines: self.lines as usize,
        };
        // A shorter buffer than last time means the caller broke the contract;
        // starting over is the only safe reading of it.
        if progress.pos > window.len() {
            progress = Progress {
                pos: 0,
                line_start: 0,
                lines: 0,
            };
        }
        let result = progress.scan(window, limits);
        // Every position is within `window`, which is at most u32::MAX long.
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        *self = HeadScanner {
            pos: narrow(progress.pos),
            line_start: narrow(progress.line_start),
            lines: narrow(progress.lines),
        };
        match result {
            Ok(None) if buf.len() > limits.max_head_size => Err(ScanError::TooLarge),
            other => other,
        }
    }
}

impl Progress {
    fn scan(&mut self, window: &[u8], limits: &Limits) -> Result<Option<HeadEnd>, ScanError> {
        while let Some(off) = memchr::memchr2(b'\n', 0, &window[self.pos..]) {
            let at = self.pos + off;
            self.pos = at + 1;
            if window[at] == 0 {
                return Err(ScanError::Syntax(Syntax::Nul));
            }
            if at == 0 || window[at - 1] != b'\r' {
                return Err(ScanError::Syntax(Syntax::BareLf));
            }
            let line = &window[self.line_start..at - 1];
            self.line_start = at + 1;
            if line.is_empty() {
                if self.lines == 0 {
                    return Err(ScanError::Syntax(Syntax::EmptyStartLine));
                }
                return Ok(Some(HeadEnd {
                    len: at + 1,
                    headers: self.lines - 1,
                }));
            }
            // A header line that starts with whitespace is either a folded
            // continuation or whitespace between the start line and the first
            // header; RFC 7230 §3 and §3.2.4 require rejecting both, because
            // peers disagree on how to read them.
            if self.lines > 0 && matches!(line[0], b' ' | b'\t') {
                return Err(ScanError::Syntax(Syntax::ObsFold));
            }
            self.lines += 1;
            if self.lines - 1 > limits.max_headers {
                return Err(ScanError::TooManyHeaders);
            }
        }
        self.pos = window.len();
        Ok(None)
    }
}

/// Where one header line's name and value (without surrounding whitespace) are
/// in the head they were read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: Range<usize>,
    pub(crate) value: Range<usize>,
}

/// A request head read by [`parse_request_head`]; the headers went to a list
/// of [`Field`]s.
#[derive(Clone, Debug)]
pub(crate) struct RequestLine<'a> {
    pub(crate) method: &'a [u8],
    /// Where the request target is in the head.
    pub(crate) target: Range<usize>,
    /// The `x` of `HTTP/1.x`.
    pub(crate) minor: u8,
    /// Length of the whole head, the final empty line included.
    pub(crate) head_len: usize,
}

/// Why [`parse_request_head`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// The buffer ended before the head did.
    Incomplete,
    /// The head broke the grammar here.
    Syntax(Syntax),
    /// The head had more header lines than the caller allowed.
    TooManyFields,
}

impl From<Syntax> for HeadError {
    fn from(s: Syntax) -> Self {
        HeadError::Syntax(s)
    }
}

/// The smallest index in `s` of a control character (below 0x20, or 0x7F),
/// eight bytes at a time. Bytes from 0x80 up (obs-text) are not control
/// characters.
#[inline]
fn first_control(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // A high bit for each byte below 0x20 and each byte equal to 0x7F. A
        // borrow can only mark bytes above a marked one, so the lowest mark is
        // always a true one.
        let below_space = w.wrapping_sub(0x20 * ONES) & !w & HIGH;
        let del = w ^ (0x7F * ONES);
        let is_del = del.wrapping_sub(ONES) & !del & HIGH;
        let marks = below_space | is_del;
        if marks != 0 {
            return Some(at + (marks.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b < 0x20 || b == 0x7F)
        .map(|i| at + i)
}

/// Reads an HTTP/1.x request head (RFC 7230 §3) from the start of `buf`,
/// appending each header's position to `fields`, at most `max_fields` of them.
///
/// The grammar is checked as strictly as httparse checks it and with the
/// scanner's extra rules (every line ends in CR LF; no NUL; no whitespace
/// before a header name): a method token, one space, a target without spaces
/// or control characters, one space, `HTTP/1.0` or `HTTP/1.1`; then header
/// lines of a token, a colon and a value without control characters other
/// than tab; then an empty line. It runs once over a head that usually came in
/// one read, in about half the time httparse needs, because the values (most
/// of a browser's head) are checked eight bytes at a time.
pub(crate) fn parse_request_head<'a>(
    buf: &'a [u8],
    fields: &mut Vec<Field>,
    max_fields: usize,
) -> Result<RequestLine<'a>, HeadError> {
    let at = |i: usize| buf.get(i).copied().ok_or(HeadError::Incomplete);
    // The index of the first byte from `i` on that `keep` refuses.
    let run = |i: usize, keep: fn(u8) -> bool| {
        buf.get(i..)
            .and_then(|rest| rest.iter().position(|&b| !keep(b)))
            .map(|n| i + n)
            .ok_or(HeadError::Incomplete)
    };
    let method_end = run(0, is_tchar)?;
    if method_end == 0 && buf[0] == b'\r' {
        return Err(Syntax::EmptyStartLine.into());
    }
    if method_end == 0 || buf[method_end] != b' ' {
        return Err(Syntax::StartLine.into());
    }
    // Bytes above 0x7F pass here and are refused with the rest of the target's
    // rules (origin-form, RFC 7230 §5.3.1) by the request checks.
    let target_end = run(method_end + 1, |b| b > b' ' && b != 0x7F)?;
    if target_end == method_end + 1 || buf[target_end] != b' ' {
        return Err(Syntax::StartLine.into());
    }
    let version = buf
        .get(target_end + 1..target_end + 9)
        .ok_or(HeadError::Incomplete)?;
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        _ => return Err(Syntax::Version.into()),
    };
    let mut i = line_end(buf, target_end + 9, Syntax::Version)?;
    loop {
        if at(i)? == b'\r' {
            return Ok(RequestLine {
                method: &buf[..method_end],
                target: method_end + 1..target_end,
                minor,
                head_len: line_end(buf, i, Syntax::HeaderName)?,
            });
        }
        if fields.len() == max_fields {
            return Err(HeadError::TooManyFields);
        }
        let name_end = run(i, is_tchar)?;
        if name_end == i || buf[name_end] != b':' {
            return Err(Syntax::HeaderName.into());
        }
        let name = i..name_end;
        let value_start = run(name_end + 1, |b| b == b' ' || b == b'\t')?;
        let mut cr = value_start;
        loop {
            cr += first_control(&buf[cr..]).ok_or(HeadError::Incomplete)?;
            match buf[cr] {
                b'\t' => cr += 1,
                b'\r' => break,
                b'\n' => return Err(Syntax::BareLf.into()),
                0 => return Err(Syntax::Nul.into()),
                _ => return Err(Syntax::HeaderValue.into()),
            }
        }
        let mut value_end = cr;
        while value_end > value_start && matches!(buf[value_end - 1], b' ' | b'\t') {
            value_end -= 1;
        }
        fields.push(Field {
            name,
            value: value_start..value_end,
        });
        i = line_end(buf, cr, Syntax::HeaderValue)?;
    }
}

/// Checks that a line ends at `i` with CR LF and returns where the next line
/// starts; anything else at `i` is `otherwise`.
#[inline]
fn line_end(buf: &[u8], i: usize, otherwise: Syntax) -> Result<usize, HeadError> {
    match buf.get(i..i + 2) {
        Some(b"\r\n") => Ok(i + 2),
        Some([b'\r', _]) => Err(Syntax::LineEnding.into()),
        Some([b'\n', _]) => Err(Syntax::BareLf.into()),
        Some(_) => Err(otherwise.into()),
        None => match buf.get(i) {
            None | Some(b'\r') => Err(HeadError::Incomplete),
            Some(b'\n') => Err(Syntax::BareLf.into()),
            Some(_) => Err(otherwise.into()),
        },
    }
}

/// Maps httparse's error to ours; `Version` is returned as such so that the
/// request parser can report it as an unsupported HTTP version.
pub(crate) fn syntax_of(e: httparse::Error) -> Syntax {
    match e {
        httparse::Error::HeaderName => Syntax::HeaderName,
        httparse::Error::HeaderValue => Syntax::HeaderValue,
        httparse::Error::NewLine => Syntax::LineEnding,
        httparse::Error::Status => Syntax::Status,
        httparse::Error::Token => Syntax::StartLine,
        httparse::Error::Version => Syntax::Version,
        // The scanner counted the header lines and sized the array to fit, so
        // this cannot happen; calling it a malformed header is the safe answer.
        httparse::Error::TooManyHeaders => Syntax::HeaderName,
    }
}

/// Copies httparse's borrowed headers into owned ones, trimming the value.
pub(crate) fn own_headers(parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| Header {
            name: String::from(h.name),
            value: Bytes::copy_from_slice(trim_ows(h.value)),
        })
        .collect()
}

/// `value` without leading and trailing spaces and tabs (RFC 7230 §3.2.3 OWS).
pub(crate) fn trim_ows(value: &[u8]) -> &[u8] {
    &value[ows_trimmed(value)]
}

/// Where [`trim_ows`] of `value` is in it.
pub(crate) fn ows_trimmed(value: &[u8]) -> Range<usize> {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    // The usual value has nothing to trim.
    if !value.first().is_some_and(is_ows) && !value.last().is_some_and(is_ows) {
        return 0..value.len();
    }
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    start..end
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    /// Up to four edits of a head at random places, each replacing, removing
    /// or inserting one of `bytes`: the way the property tests reach the
    /// corners of the grammar from a valid request.
    pub(crate) fn head_edits(
        bytes: &'static [u8],
        span: usize,
    ) -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
        proptest::collection::vec((0..span, proptest::sample::select(bytes), 0u8..3), 0..4)
    }

    /// `head` with `edits` (from [`head_edits`]) applied in order.
    pub(crate) fn edited(head: &[u8], edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
        let mut buf = head.to_vec();
        for (at, byte, how) in edits {
            let at = at % (buf.len() + 1);
            match how {
                0 if at < buf.len() => buf[at] = byte,
                1 if at < buf.len() => {
                    buf.remove(at);
                }
                _ => buf.insert(at, byte),
            }
        }
        buf
    }

    fn scan_all(buf: &[u8], limits: &Limits) -> Result<Option<HeadEnd>, ScanError> {
        HeadScanner::default().scan(buf, limits)
    }

    fn scan_bytewise(buf: &[u8], limits: &Limits) -> Result<Option<HeadEnd>, ScanError> {
        let mut s = HeadScanner::default();
        let mut last = Ok(None);
        for n in 0..=buf.len() {
            last = s.scan(&buf[..n], limits);
            if !matches!(last, Ok(None)) {
                return last;
            }
        }
        last
    }

    #[test]
    fn end_of_head_is_found_and_counts_header_lines() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\nrest";
        let end = scan_all(head, &Limits::default()).unwrap().unwrap();
        assert_eq!(end.len, head.len() - 4);
        assert_eq!(end.headers, 2);
        assert_eq!(scan_bytewise(head, &Limits::default()), Ok(Some(end)));
    }

    #[test]
    fn bare_lf_is_rejected_wherever_it_appears() {
        for head in [
            &b"GET / HTTP/1.1\nHost: a\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: a\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
            b"\n",
        ] {
            assert_eq!(
                scan_all(head, &Limits::default()),
                Err(ScanError::Syntax(Syntax::BareLf))
            );
            assert_eq!(
                scan_bytewise(head, &Limits::default()),
                Err(ScanError::Syntax(Syntax::BareLf))
            );
        }
    }

    #[test]
    fn nul_byte_is_rejected() {
        let head = b"GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
        assert_eq!(
            scan_all(head, &Limits::default()),
            Err(ScanError::Syntax(Syntax::Nul))
        );
    }

    #[test]
    fn obs_fold_and_leading_whitespace_are_rejected() {
        let folded = b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n";
        let leading = b"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n";
        for head in [&folded[..], &leading[..]] {
            assert_eq!(
                scan_all(head, &Limits::default()),
                Err(ScanError::Syntax(Syntax::ObsFold))
            );
        }
    }

    #[test]
    fn empty_start_line_is_rejected() {
        assert_eq!(
            scan_all(b"\r\nGET / HTTP/1.1\r\n\r\n", &Limits::default()),
            Err(ScanError::Syntax(Syntax::EmptyStartLine))
        );
    }

    #[test]
    fn head_exactly_at_the_size_limit_is_accepted_one_byte_over_is_not() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\n\r\n";
        let exact = Limits {
            max_head_size: head.len(),
            ..Limits::default()
        };
        assert!(matches!(scan_all(head, &exact), Ok(Some(_))));
        let short = Limits {
            max_head_size: head.len() - 1,
            ..Limits::default()
        };
        assert_eq!(scan_all(head, &short), Err(ScanError::TooLarge));
        assert_eq!(scan_bytewise(head, &short), Err(ScanError::TooLarge));
    }

    #[test]
    fn incomplete_head_is_partial_until_over_the_limit() {
        let limits = Limits {
            max_head_size: 32,
            ..Limits::default()
        };
        let mut buf = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        assert_eq!(scan_all(&buf, &limits), Ok(None));
        buf.resize(32, b'x');
        assert_eq!(scan_all(&buf, &limits), Ok(None));
        buf.push(b'x');
        assert_eq!(scan_all(&buf, &limits), Err(ScanError::TooLarge));
    }

    #[test]
    fn header_lines_beyond_max_headers_are_refused_before_the_head_ends() {
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert!(matches!(
            scan_all(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", &limits),
            Ok(Some(_))
        ));
        assert_eq!(
            scan_all(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n", &limits),
            Err(ScanError::TooManyHeaders)
        );
    }

    #[test]
    fn first_control_finds_the_first_control_byte_at_every_position() {
        for len in 0..40 {
            for bad in [0u8, b'\t', b'\r', b'\n', 0x1F, 0x7F] {
                for at in 0..=len {
                    let mut s = alloc::vec![b'a'; len];
                    // Bytes around the control byte that a borrow could confuse.
                    for (i, b) in s.iter_mut().enumerate() {
                        *b = [b'a', 0x20, 0x80, 0xFF, 0x7E][i % 5];
                    }
                    if at < len {
                        s[at] = bad;
                    }
                    let want = s.iter().position(|&b| b < 0x20 || b == 0x7F);
                    assert_eq!(first_control(&s), want, "len {len} at {at} byte {bad:#x}");
                }
            }
        }
    }

    fn parse(buf: &[u8]) -> Result<(RequestLine<'_>, Vec<Field>), HeadError> {
        let mut fields = Vec::new();
        parse_request_head(buf, &mut fields, usize::MAX).map(|line| (line, fields))
    }

    #[test]
    fn request_head_parts_and_trimmed_values_are_found() {
        let head = b"GET /a?b HTTP/1.1\r\nHost:  x \r\nX-Empty:\r\nT:\ta\tb\t\r\n\r\nrest";
        let (line, fields) = parse(head).unwrap();
        assert_eq!(
            (line.method, &head[line.target.clone()], line.minor),
            (&b"GET"[..], &b"/a?b"[..], 1)
        );
        assert_eq!(line.head_len, head.len() - 4);
        let got: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|f| (&head[f.name.clone()], &head[f.value.clone()]))
            .collect();
        assert_eq!(
            got,
            [
                (&b"Host"[..], &b"x"[..]),
                (b"X-Empty", b""),
                (b"T", b"a\tb")
            ]
        );
    }

    #[test]
    fn request_head_lists_no_more_headers_than_allowed() {
        let head = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let mut fields = Vec::new();
        assert_eq!(
            parse_request_head(head, &mut fields, 2).map(|_| ()),
            Err(HeadError::TooManyFields)
        );
        assert_eq!(fields.len(), 2);
        fields.clear();
        assert!(parse_request_head(head, &mut fields, 3).is_ok());
    }

    #[test]
    fn request_head_grammar_errors_are_named() {
        let cases: &[(&[u8], HeadError)] = &[
            (b"GET / HTTP/1.1\r\n", HeadError::Incomplete),
            (b"GET / HTTP/1.", HeadError::Incomplete),
            (b"\r\n", HeadError::Syntax(Syntax::EmptyStartLine)),
            (
                b"GET  / HTTP/1.1\r\n\r\n",
                HeadError::Syntax(Syntax::StartLine),
            ),
            (
                b"G(T / HTTP/1.1\r\n\r\n",
                HeadError::Syntax(Syntax::StartLine),
            ),
            (
                b"GET /\x7f HTTP/1.1\r\n\r\n",
                HeadError::Syntax(Syntax::StartLine),
            ),
            (
                b"GET / HTTP/2.0\r\n\r\n",
                HeadError::Syntax(Syntax::Version),
            ),
            (
                b"GET / HTTP/1.1 \r\n\r\n",
                HeadError::Syntax(Syntax::Version),
            ),
            (b"GET / HTTP/1.1\n\r\n", HeadError::Syntax(Syntax::BareLf)),
            (
                b"GET / HTTP/1.1\r\nA : b\r\n\r\n",
                HeadError::Syntax(Syntax::HeaderName),
            ),
            (
                b"GET / HTTP/1.1\r\n b\r\n\r\n",
                HeadError::Syntax(Syntax::HeaderName),
            ),
            (
                b"GET / HTTP/1.1\r\n: b\r\n\r\n",
                HeadError::Syntax(Syntax::HeaderName),
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",
                HeadError::Syntax(Syntax::HeaderValue),
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\0\r\n\r\n",
                HeadError::Syntax(Syntax::Nul),
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\nB: c\r\n\r\n",
                HeadError::Syntax(Syntax::BareLf),
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\rB: c\r\n\r\n",
                HeadError::Syntax(Syntax::LineEnding),
            ),
            (
                b"GET / HTTP/1.1\r\n\rX",
                HeadError::Syntax(Syntax::LineEnding),
            ),
        ];
        for (head, want) in cases {
            assert_eq!(
                parse(head).map(|_| ()),
                Err(*want),
                "{}",
                head.escape_ascii()
            );
        }
    }

    proptest::proptest! {
        /// Against httparse on mutated requests: whatever this parser accepts,
        /// httparse reads the same way; whatever httparse accepts with CR LF line
        /// ends and without NUL, this parser accepts too.
        #[test]
        fn request_head_parser_agrees_with_httparse(
            edits in head_edits(b"\r\n \t:\0\x7f\x80\xffa/?#\"(Hh1.", 200),
        ) {
            let buf = edited(b"GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n\
                X-Long: 0123456789abcdef0123456789 \t \r\nX-Empty:\r\n\r\n", edits);
            let mut slots = [httparse::EMPTY_HEADER; 16];
            let mut theirs = httparse::Request::new(&mut slots);
            let their_result = theirs.parse(&buf);
            match parse(&buf) {
                // httparse refuses some bytes above 0x7F in a target that this
                // parser leaves to the origin-form check; neither accepts them.
                Ok((line, _)) if !buf[line.target.clone()].is_ascii() => {}
                Ok((line, fields)) => {
                    let Ok(httparse::Status::Complete(n)) = their_result else {
                        return Err(proptest::test_runner::TestCaseError::fail(
                            alloc::format!("httparse refused what we accepted: {their_result:?}")));
                    };
                    proptest::prop_assert_eq!(n, line.head_len);
                    proptest::prop_assert_eq!(theirs.method.map(str::as_bytes), Some(line.method));
                    proptest::prop_assert_eq!(theirs.path.map(str::as_bytes), Some(&buf[line.target.clone()]));
                    proptest::prop_assert_eq!(theirs.version, Some(line.minor));
                    proptest::prop_assert_eq!(theirs.headers.len(), fields.len());
                    for (h, f) in theirs.headers.iter().zip(&fields) {
                        proptest::prop_assert_eq!(h.name.as_bytes(), &buf[f.name.clone()]);
                        proptest::prop_assert_eq!(trim_ows(h.value), &buf[f.value.clone()]);
                    }
                }
                Err(ours) => {
                    if let Ok(httparse::Status::Complete(n)) = their_result {
                        let head = &buf[..n];
                        let strict = !head.starts_with(b"\r")
                            && !head.starts_with(b"\n")
                            && !head.contains(&0)
                            && head.iter().enumerate().all(|(i, &b)| b != b'\n' || (i > 0 && head[i - 1] == b'\r'));
                        proptest::prop_assert!(!strict, "httparse accepted {}, we said {ours:?}", head.escape_ascii());
                    }
                }
            }
        }
    }

    #[test]
    fn trim_ows_strips_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
