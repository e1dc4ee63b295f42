//! The small pieces of HTTP grammar the handshake needs: tokens and comma
//! lists (RFC 7230 §3.2.6, §7) and the `Sec-WebSocket-Extensions` value
//! (RFC 6455 §9.1).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::head::trim_ows;

/// Whether `b` may appear in an HTTP token (`tchar`, RFC 7230 §3.2.6).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `b` is visible ASCII that can be part of a `host[:port]`
/// authority: not `/?#@\`.
pub(crate) fn is_authority_char(b: u8) -> bool {
    b.is_ascii_graphic() && !b"/?#@\\".contains(&b)
}

/// Whether `s` is a non-empty HTTP token.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// Whether every element of the comma list `value` is a token (empty
/// elements are skipped, RFC 7230 §7).
pub(crate) fn is_token_list(value: &[u8]) -> bool {
    list_elements(value).all(is_token)
}

/// Whether `v` may be sent as a header value: no control characters other
/// than tab, so that it cannot end the line or the head early.
pub(crate) fn is_field_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// A header that a builder refused to send.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidHeader {
    /// The name is not an HTTP token (it is empty, or holds a space, colon,
    /// control character or other separator).
    Name(String),
    /// The value of the header with this name holds CR, LF, NUL or another
    /// control character, which would let it end the line or the head early.
    Value(String),
    /// The handshake itself sets the header with this name, so a caller may
    /// not: sending it twice would make the handshake ambiguous.
    Reserved(String),
}

impl fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidHeader::Name(n) => write!(f, "header name {n:?} is not a token"),
            InvalidHeader::Value(n) => write!(f, "value of header {n:?} holds a control character"),
            InvalidHeader::Reserved(n) => write!(f, "header {n:?} is set by the handshake itself"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for InvalidHeader {}

/// Checks a caller-supplied header before it is written.
pub(crate) fn check_header(
    name: &str,
    value: &[u8],
    reserved: &[&str],
) -> Result<(), InvalidHeader> {
    if !is_token(name.as_bytes()) {
        return Err(InvalidHeader::Name(String::from(name)));
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(InvalidHeader::Reserved(String::from(name)));
    }
    if !is_field_value(value) {
        return Err(InvalidHeader::Value(String::from(name)));
    }
    Ok(())
}

/// The non-empty elements of a comma-separated header value, trimmed.
///
/// RFC 7230 §7 asks recipients to skip empty elements (`a, , b`). Only for
/// lists whose elements cannot contain quoted commas.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

/// Whether any element of any of `values` is `token`, ASCII case-insensitively.
pub(crate) fn lists_contain<'a>(values: impl Iterator<Item = &'a [u8]>, token: &str) -> bool {
    values
        .flat_map(list_elements)
        .any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
}

/// Appends the elements of a comma list of tokens to `out`; `Err` if an element
/// is not a token.
pub(crate) fn parse_token_list(value: &[u8], out: &mut Vec<String>) -> Result<(), ()> {
    for e in list_elements(value) {
        if !is_token(e) {
            return Err(());
        }
        // Tokens are ASCII, so this cannot fail.
        out.push(String::from(core::str::from_utf8(e).map_err(|_| ())?));
    }
    Ok(())
}

/// One element of a `Sec-WebSocket-Extensions` list: an extension name and its
/// parameters, as offered by a client or chosen by a server.
///
/// `Display` writes it back as a header element:
///
/// ```
/// use sockless::handshake::ExtensionOffer;
/// let offer = ExtensionOffer::new("permessage-deflate")
///     .param("client_max_window_bits")
///     .param_value("server_max_window_bits", "10");
/// assert_eq!(
///     offer.to_string(),
///     "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension's registered token, such as `permessage-deflate`.
    pub name: String,
    /// Its parameters, in the order given.
    pub params: Vec<ExtensionParam>,
}

/// One `; name[=value]` parameter of an [`ExtensionOffer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionParam {
    /// The parameter's name.
    pub name: String,
    /// Its value, if it had one; a quoted-string value is stored unquoted.
    pub value: Option<String>,
}

/// A `Sec-WebSocket-Extensions` value did not follow the grammar of
/// RFC 6455 §9.1; each caller turns it into its own error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExtensionSyntaxError;

impl ExtensionOffer {
    /// An extension with no parameters.
    pub fn new(name: impl Into<String>) -> Self {
        ExtensionOffer {
            name: name.into(),
            params: Vec::new(),
        }
    }

    /// Adds a parameter without a value.
    pub fn param(mut self, name: impl Into<String>) -> Self {
        self.params.push(ExtensionParam {
            name: name.into(),
            value: None,
        });
        self
    }

    /// Adds a parameter with a value.
    pub fn param_value(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push(ExtensionParam {
            name: name.into(),
            value: Some(value.into()),
        });
        self
    }

    /// The first parameter called `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&ExtensionParam> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Parses a whole `Sec-WebSocket-Extensions` value into its elements, for
    /// tests; the handshake gathers the elements of several lines with
    /// [`parse_extension_list`].
    #[cfg(test)]
    pub(crate) fn parse_list(value: &[u8]) -> Result<Vec<ExtensionOffer>, ExtensionSyntaxError> {
        let mut out = Vec::new();
        parse_extension_list(value, &mut out)?;
        Ok(out)
    }

    /// Whether this offer can be sent: its name and parameter names are
    /// tokens and every value is a token, as RFC 6455 §9.1 requires even of
    /// values that are sent quoted.
    pub fn is_valid(&self) -> bool {
        is_token(self.name.as_bytes())
            && self.params.iter().all(|p| {
                is_token(p.name.as_bytes())
                    && p.value.as_ref().is_none_or(|v| is_token(v.as_bytes()))
            })
    }
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for p in &self.params {
            write!(f, "; {}", p.name)?;
            if let Some(v) = &p.value {
                if is_token(v.as_bytes()) {
                    write!(f, "={v}")?;
                } else {
                    // Never produced by the parser, but a caller may build one;
                    // quoting keeps the element's boundaries intact.
                    f.write_str("=\"")?;
                    for c in v.chars() {
                        if c == '"' || c == '\\' {
                            f.write_str("\\")?;
                        }
                        write!(f, "{c}")?;
                    }
                    f.write_str("\"")?;
                }
            }
        }
        Ok(())
    }
}

/// Writes offers as one comma-separated header value.
pub(crate) fn join_extensions(offers: &[ExtensionOffer]) -> String {
    use core::fmt::Write as _;
    let mut s = String::new();
    for (i, o) in offers.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{o}");
    }
    s
}

/// A cursor over one header value.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A token, as text (a token is ASCII).
    fn token(&mut self) -> Result<String, ExtensionSyntaxError> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        match core::str::from_utf8(&self.bytes[start..self.pos]) {
            Ok(token) if !token.is_empty() => Ok(String::from(token)),
            _ => Err(ExtensionSyntaxError),
        }
    }

    /// A quoted-string (RFC 7230 §3.2.6), unescaped; the opening quote is next.
    fn quoted(&mut self) -> Result<Vec<u8>, ExtensionSyntaxError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek().ok_or(ExtensionSyntaxError)? {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let escaped = *self.bytes.get(self.pos + 1).ok_or(ExtensionSyntaxError)?;
                    if !is_field_value(&[escaped]) {
                        return Err(ExtensionSyntaxError);
                    }
                    out.push(escaped);
                    self.pos += 2;
                }
                b if is_field_value(&[b]) => {
                    out.push(b);
                    self.pos += 1;
                }
                _ => return Err(ExtensionSyntaxError),
            }
        }
    }
}

/// Appends the elements of one `Sec-WebSocket-Extensions` value to `out`.
///
/// ```text
/// extension-list  = 1#extension
/// extension       = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
/// ```
/// A quoted value must be a token once unquoted (RFC 6455 §9.1).
pub(crate) fn parse_extension_list(
    value: &[u8],
    out: &mut Vec<ExtensionOffer>,
) -> Result<(), ExtensionSyntaxError> {
    let mut c = Cursor {
        bytes: value,
        pos: 0,
    };
    loop {
        // Empty list elements are allowed and ignored (RFC 7230 §7).
        c.skip_ows();
        while c.peek() == Some(b',') {
            c.pos += 1;
            c.skip_ows();
        }
        if c.peek().is_none() {
            return Ok(());
        }
        let mut offer = ExtensionOffer::new(c.token()?);
        loop {
            c.skip_ows();
            match c.peek() {
                None | Some(b',') => break,
                Some(b';') => c.pos += 1,
                Some(_) => return Err(ExtensionSyntaxError),
            }
            c.skip_ows();
            let name = c.token()?;
            c.skip_ows();
            let value = if c.peek() == Some(b'=') {
                c.pos += 1;
                c.skip_ows();
                if c.peek() == Some(b'"') {
                    let unquoted = c.quoted()?;
                    Some(
                        Cursor {
                            bytes: &unquoted,
                            pos: 0,
                        }
                        .whole_token()?,
                    )
                } else {
                    Some(c.token()?)
                }
            } else {
                None
            };
            offer.params.push(ExtensionParam { name, value });
        }
        out.push(offer);
    }
}

impl Cursor<'_> {
    /// The rest of the value, which must be one token.
    fn whole_token(&mut self) -> Result<String, ExtensionSyntaxError> {
        let token = self.token()?;
        if self.peek().is_some() {
            return Err(ExtensionSyntaxError);
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn authority_chars_are_visible_ascii_without_delimiters_or_userinfo() {
        for b in b"az09-._~:[]!$&'()*+,;=%" {
            assert!(is_authority_char(*b), "{}", *b as char);
        }
        for b in [b'/', b'?', b'#', b'@', b'\\', b' ', b'\t', 0x7f, 0x80, 0] {
            assert!(!is_authority_char(b), "{b:#x}");
        }
    }

    #[test]
    fn token_list_check_reads_lists_as_rfc_7230_section_7_does() {
        for valid in [
            "chat",
            "chat, superchat",
            " a ,, b\t",
            "",
            ",",
            "v1.json-rpc,x_~!",
        ] {
            assert!(is_token_list(valid.as_bytes()), "{valid:?}");
        }
        for invalid in ["a b", "a;b", "chat, super chat", "a,\"b\"", "a/b", "\u{e9}"] {
            assert!(!is_token_list(invalid.as_bytes()), "{invalid:?}");
        }
    }

    #[test]
    fn token_chars_follow_rfc_7230() {
        assert!(is_token(b"chat"));
        assert!(is_token(b"v1.json-rpc+x_~!"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,b"));
        assert!(!is_token(b"a/b"));
        assert!(!is_token(b"\"a\""));
        assert!(!is_token("é".as_bytes()));
    }

    #[test]
    fn field_values_may_not_hold_cr_lf_nul_or_del() {
        assert!(is_field_value(b"a b\tc\x80"));
        for bad in [&b"a\rb"[..], b"a\nb", b"a\0b", b"a\x7fb", b"a\x1bb"] {
            assert!(!is_field_value(bad));
        }
    }

    #[test]
    fn comma_lists_skip_empty_elements_and_whitespace() {
        let got: Vec<&[u8]> = list_elements(b" ,a ,, \tb,").collect();
        assert_eq!(got, vec![&b"a"[..], b"b"]);
    }

    #[test]
    fn list_membership_is_case_insensitive_across_lines() {
        let lines = [&b"keep-alive"[..], b"foo, UPGRADE"];
        assert!(lists_contain(lines.iter().copied(), "upgrade"));
        assert!(!lists_contain(
            [&b"upgraded"[..]].iter().copied(),
            "upgrade"
        ));
    }

    #[test]
    fn token_lists_reject_non_tokens() {
        let mut out = Vec::new();
        assert!(parse_token_list(b"chat, superchat", &mut out).is_ok());
        assert_eq!(out, ["chat", "superchat"]);
        assert!(parse_token_list(b"chat, \"x\"", &mut Vec::new()).is_err());
        assert!(parse_token_list(b"a b", &mut Vec::new()).is_err());
    }

    #[test]
    fn extension_params_with_and_without_values() {
        let offers = ExtensionOffer::parse_list(
            b"permessage-deflate; client_max_window_bits; server_max_window_bits=10",
        )
        .unwrap();
        assert_eq!(
            offers,
            [ExtensionOffer::new("permessage-deflate")
                .param("client_max_window_bits")
                .param_value("server_max_window_bits", "10")]
        );
    }

    #[test]
    fn extension_quoted_values_are_unquoted_and_unescaped() {
        let offers = ExtensionOffer::parse_list(b"x; a=\"10\"; b = \"1\\2\" ;c=\"\\t\"").unwrap();
        let values: Vec<_> = offers[0]
            .params
            .iter()
            .map(|p| p.value.as_deref().unwrap())
            .collect();
        assert_eq!(values, ["10", "12", "t"]);
    }

    #[test]
    fn extension_quoted_values_must_be_tokens_once_unquoted() {
        assert!(ExtensionOffer::parse_list(b"x; a=\"1 0\"").is_err());
        assert!(ExtensionOffer::parse_list(b"x; a=\"1,0\"").is_err());
        assert!(ExtensionOffer::parse_list(b"x; a=\"\"").is_err());
    }

    #[test]
    fn extension_list_with_several_elements_and_empty_ones() {
        let offers = ExtensionOffer::parse_list(b", foo, bar; baz=2 ,, ").unwrap();
        assert_eq!(offers.len(), 2);
        assert_eq!(offers[0], ExtensionOffer::new("foo"));
        assert_eq!(
            offers[1],
            ExtensionOffer::new("bar").param_value("baz", "2")
        );
        assert_eq!(ExtensionOffer::parse_list(b"").unwrap(), []);
    }

    #[test]
    fn extension_syntax_errors() {
        for bad in [
            &b"foo;"[..],
            b"foo; =1",
            b"foo; a=",
            b"foo bar",
            b"foo; a=\"unterminated",
            b"foo; a=1 2",
            b"\"foo\"",
            b"foo; a=\"x\\",
        ] {
            assert_eq!(
                ExtensionOffer::parse_list(bad),
                Err(ExtensionSyntaxError),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
    }

    #[test]
    fn extension_lists_follow_rfc_6455_section_9_1() {
        for (list, valid) in [
            ("", true),
            ("  ", true),
            (",", true),
            (" , ,a , ", true),
            ("a", true),
            ("a;b", true),
            ("a ; b = c , d;e=f;g", true),
            ("a;b=1,c;d", true),
            ("a;b=\"1\"", true),
            ("a b", false),
            ("a;", false),
            ("a;b=", false),
            ("a;=1", false),
            (";a", false),
            ("a,;b", false),
            ("a;b=c=d", false),
            ("a;b=c d", false),
            ("a:b", false),
            ("a;b=\"1 2\"", false),
        ] {
            assert_eq!(
                ExtensionOffer::parse_list(list.as_bytes()).is_ok(),
                valid,
                "{list:?}"
            );
        }
    }

    #[test]
    fn extension_display_round_trips_through_the_parser() {
        let offer = ExtensionOffer::new("permessage-deflate")
            .param("client_max_window_bits")
            .param_value("server_max_window_bits", "10");
        let text = offer.to_string();
        assert_eq!(
            text,
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10"
        );
        assert_eq!(
            ExtensionOffer::parse_list(text.as_bytes()).unwrap(),
            [offer]
        );
    }

    #[test]
    fn extension_display_quotes_values_that_are_not_tokens() {
        let offer = ExtensionOffer::new("x").param_value("a", "b \"c\"");
        assert_eq!(offer.to_string(), "x; a=\"b \\\"c\\\"\"");
        assert!(!offer.is_valid());
    }

    #[test]
    fn join_extensions_separates_with_commas() {
        let offers = [
            ExtensionOffer::new("a").param("p"),
            ExtensionOffer::new("b"),
        ];
        assert_eq!(join_extensions(&offers), "a; p, b");
    }
}
