//! The one reader of HTTP/1.1 heads, requests and responses alike.
//!
//! httparse is lenient where a WebSocket endpoint should not be (it takes a
//! bare LF as a line end), and re-running it over a head that arrives a byte
//! at a time would be quadratic. So the scanner below walks the buffer once,
//! line by line, resuming where the previous call stopped; it applies the
//! limits and rejects the framing tricks used for request smuggling as soon as
//! it sees them. Only when it has found the empty line that ends the head does
//! httparse run, once, over exactly that head, for the grammar of the start
//! line and the header lines.

use alloc::string::String;
use alloc::vec;
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

/// A request head as httparse read it, its parts borrowed from the head.
#[derive(Debug)]
pub(crate) struct RequestHead<'h> {
    pub(crate) method: &'h str,
    /// The request target as sent.
    pub(crate) target: &'h str,
    /// The `x` of `HTTP/1.x`.
    pub(crate) minor: u8,
    pub(crate) headers: Vec<httparse::Header<'h>>,
}

/// A response head as httparse read it, its parts borrowed from the head.
#[derive(Debug)]
pub(crate) struct ResponseHead<'h> {
    pub(crate) status: u16,
    /// The reason phrase; empty if it was missing or not UTF-8.
    pub(crate) reason: &'h str,
    /// The `x` of `HTTP/1.x`.
    pub(crate) minor: u8,
    pub(crate) headers: Vec<httparse::Header<'h>>,
}

/// Reads the grammar of a request head that [`HeadScanner`] delimited: `head`
/// ends with its empty line and has `headers` header lines.
pub(crate) fn parse_request_head(head: &[u8], headers: usize) -> Result<RequestHead<'_>, Syntax> {
    let mut slots = vec![httparse::EMPTY_HEADER; headers];
    let mut parsed = httparse::Request::new(&mut slots);
    let status = parsed.parse(head);
    let (method, target, minor) = (parsed.method, parsed.path, parsed.version);
    let count = parsed.headers.len();
    whole(status, head.len())?;
    slots.truncate(count);
    match (method, target, minor) {
        (Some(method), Some(target), Some(minor)) => Ok(RequestHead {
            method,
            target,
            minor,
            headers: slots,
        }),
        _ => Err(Syntax::StartLine),
    }
}

/// [`parse_request_head`] for a response head.
pub(crate) fn parse_response_head(head: &[u8], headers: usize) -> Result<ResponseHead<'_>, Syntax> {
    let mut slots = vec![httparse::EMPTY_HEADER; headers];
    let mut parsed = httparse::Response::new(&mut slots);
    let status = parsed.parse(head);
    let (code, reason, minor) = (parsed.code, parsed.reason, parsed.version);
    let count = parsed.headers.len();
    whole(status, head.len())?;
    slots.truncate(count);
    match (code, minor) {
        (Some(status), Some(minor)) => Ok(ResponseHead {
            status,
            reason: reason.unwrap_or(""),
            minor,
            headers: slots,
        }),
        _ => Err(Syntax::StartLine),
    }
}

/// `Ok` if httparse read the whole head, `len` bytes, and nothing less.
fn whole(status: httparse::Result<usize>, len: usize) -> Result<(), Syntax> {
    match status {
        Ok(httparse::Status::Complete(n)) if n == len => Ok(()),
        // The scanner found the empty line that ends the head after this many
        // header lines, so httparse cannot stop short of it or want more.
        Ok(_) => Err(Syntax::StartLine),
        Err(e) => Err(syntax_of(e)),
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
    use proptest::strategy::Strategy;

    /// Up to four edits of a head at random places, each replacing, removing
    /// or inserting one of `bytes`: the way the property tests reach the
    /// corners of the grammar from a valid request.
    fn head_edits(
        bytes: &'static [u8],
        span: usize,
    ) -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
        proptest::collection::vec((0..span, proptest::sample::select(bytes), 0u8..3), 0..4)
    }

    /// `head` with `edits` (from [`head_edits`]) applied in order.
    fn edited(head: &[u8], edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
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
    fn scan_resumes_where_it_stopped_without_looking_back() {
        let limits = Limits::default();
        let mut s = HeadScanner::default();
        assert_eq!(s.scan(b"GET / HTTP/1.1\r\nX: ab", &limits), Ok(None));
        // The bytes already looked at are not read again: a bare LF planted
        // among them goes unseen (callers must not change them; this only shows
        // that a head fed a byte at a time is read once in total).
        let planted = b"GET / HTTP/1.1\r\nX: \nb\r\n\r\n";
        assert!(matches!(s.scan(planted, &limits), Ok(Some(_))));
        assert_eq!(
            scan_all(planted, &limits),
            Err(ScanError::Syntax(Syntax::BareLf))
        );
    }

    /// The scanner, then httparse: what a request head reads as.
    fn read(buf: &[u8]) -> Result<Option<RequestHead<'_>>, ScanError> {
        let Some(end) = scan_all(buf, &Limits::default())? else {
            return Ok(None);
        };
        parse_request_head(&buf[..end.len], end.headers)
            .map(Some)
            .map_err(ScanError::Syntax)
    }

    #[test]
    fn request_head_parts_and_trimmed_values_are_found() {
        let head = b"GET /a?b HTTP/1.1\r\nHost:  x \r\nX-Empty:\r\nT:\ta\tb\t\r\n\r\nrest";
        let line = read(head).unwrap().unwrap();
        assert_eq!((line.method, line.target, line.minor), ("GET", "/a?b", 1));
        let got: Vec<(&str, &[u8])> = line
            .headers
            .iter()
            .map(|h| (h.name, trim_ows(h.value)))
            .collect();
        assert_eq!(got, [("Host", &b"x"[..]), ("X-Empty", b""), ("T", b"a\tb")]);
    }

    #[test]
    fn response_head_parts_are_found() {
        let head = b"HTTP/1.0 404 Not Found\r\nA: 1\r\n\r\n";
        let end = scan_all(head, &Limits::default()).unwrap().unwrap();
        let line = parse_response_head(head, end.headers).unwrap();
        assert_eq!(
            (line.status, line.reason, line.minor),
            (404, "Not Found", 0)
        );
        assert_eq!(line.headers.len(), 1);
    }

    #[test]
    fn request_head_grammar_errors_are_named() {
        let syntax = |s| Err(ScanError::Syntax(s));
        let cases: &[(&[u8], Result<(), ScanError>)] = &[
            (b"GET / HTTP/1.1\r\n", Ok(())),
            (b"GET / HTTP/1.", Ok(())),
            (b"GET / HTTP/1.1\r\n\rX", Ok(())),
            (b"\r\n", syntax(Syntax::EmptyStartLine)),
            (b"GET  / HTTP/1.1\r\n\r\n", syntax(Syntax::StartLine)),
            (b"G(T / HTTP/1.1\r\n\r\n", syntax(Syntax::StartLine)),
            (b"GET /\x7f HTTP/1.1\r\n\r\n", syntax(Syntax::StartLine)),
            (b"GET / HTTP/2.0\r\n\r\n", syntax(Syntax::Version)),
            (b"GET / HTTP/1.1 \r\n\r\n", syntax(Syntax::LineEnding)),
            (b"GET / HTTP/1.1\n\r\n", syntax(Syntax::BareLf)),
            (
                b"GET / HTTP/1.1\r\nA : b\r\n\r\n",
                syntax(Syntax::HeaderName),
            ),
            (b"GET / HTTP/1.1\r\n b\r\n\r\n", syntax(Syntax::ObsFold)),
            (b"GET / HTTP/1.1\r\n: b\r\n\r\n", syntax(Syntax::HeaderName)),
            (
                b"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",
                syntax(Syntax::HeaderValue),
            ),
            (b"GET / HTTP/1.1\r\nA: b\0\r\n\r\n", syntax(Syntax::Nul)),
            (
                b"GET / HTTP/1.1\r\nA: b\nB: c\r\n\r\n",
                syntax(Syntax::BareLf),
            ),
            (
                b"GET / HTTP/1.1\r\nA: b\rB: c\r\n\r\n",
                syntax(Syntax::HeaderValue),
            ),
        ];
        for (head, want) in cases {
            let got = read(head).map(|r| assert!(r.is_none(), "{}", head.escape_ascii()));
            assert_eq!(&got, want, "{}", head.escape_ascii());
        }
    }

    proptest::proptest! {
        /// Against httparse alone on mutated requests: whatever the head reader
        /// accepts, httparse reads the same way, to the same end; whatever
        /// httparse accepts with CR LF line ends, without NUL, without folded
        /// lines and without a leading empty line, the head reader accepts too.
        #[test]
        fn head_reader_agrees_with_httparse(
            edits in head_edits(b"\r\n \t:\0\x7f\x80\xffa/?#\"(Hh1.", 200),
        ) {
            let buf = edited(b"GET /chat?x=1 HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n\
                X-Long: 0123456789abcdef0123456789 \t \r\nX-Empty:\r\n\r\n", edits);
            let mut slots = [httparse::EMPTY_HEADER; 64];
            let mut theirs = httparse::Request::new(&mut slots);
            let their_result = theirs.parse(&buf);
            match read(&buf) {
                Ok(Some(ours)) => {
                    let end = scan_all(&buf, &Limits::default()).unwrap().unwrap();
                    proptest::prop_assert_eq!(their_result, Ok(httparse::Status::Complete(end.len)));
                    proptest::prop_assert_eq!(theirs.method, Some(ours.method));
                    proptest::prop_assert_eq!(theirs.path, Some(ours.target));
                    proptest::prop_assert_eq!(theirs.version, Some(ours.minor));
                    proptest::prop_assert_eq!(&theirs.headers[..], &ours.headers[..]);
                }
                Ok(None) => {
                    proptest::prop_assert!(!matches!(their_result, Ok(httparse::Status::Complete(_))) || !strict(&buf));
                }
                Err(e) => {
                    if let Ok(httparse::Status::Complete(n)) = their_result {
                        let head = &buf[..n];
                        proptest::prop_assert!(!strict(head), "httparse accepted {}, we said {e:?}", head.escape_ascii());
                    }
                }
            }
        }
    }

    /// Whether `head` keeps the rules the scanner adds to httparse's grammar.
    fn strict(head: &[u8]) -> bool {
        let crlf = head
            .iter()
            .enumerate()
            .all(|(i, &b)| b != b'\n' || (i > 0 && head[i - 1] == b'\r'));
        let folded = head
            .windows(3)
            .any(|w| w[..2] == *b"\r\n" && matches!(w[2], b' ' | b'\t'));
        crlf && !folded && !head.starts_with(b"\r") && !head.contains(&0)
    }

    #[test]
    fn trim_ows_strips_spaces_and_tabs_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }
}
