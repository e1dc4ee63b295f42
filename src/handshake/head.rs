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
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    // The usual value has nothing to trim.
    if !value.first().is_some_and(is_ows) && !value.last().is_some_and(is_ows) {
        return value;
    }
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn trim_ows_strips_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
