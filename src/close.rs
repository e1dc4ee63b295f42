//! Close codes and close frame payloads (RFC 6455 §5.5.1, §7.4).

use crate::utf8::{Utf8Bytes, Utf8Validator};
use bytes::Bytes;
use core::fmt;

/// A close status code (RFC 6455 §7.4).
///
/// The set is open (applications use 3000-4999), so this is a number with named constants
/// rather than an enum; the constants work in `match` patterns.
///
/// ```
/// use sockless::CloseCode;
/// assert!(CloseCode::NORMAL.is_valid_on_wire());
/// assert!(CloseCode(4000).is_valid_on_wire());
/// // 1005 and 1006 describe what happened locally; they are never sent.
/// assert!(!CloseCode::NO_STATUS.is_valid_on_wire());
/// assert!(!CloseCode::ABNORMAL.is_valid_on_wire());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: the close frame carried no code. Local only, never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection ended without a close frame. Local only, never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data did not match its type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a frame or message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client needed an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway got an invalid response upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Local only, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may appear in a close frame: 1000-1003, 1007-1014 and 3000-4999.
    /// 0-999 are unused, 1004 is reserved, 1005/1006/1015 are local-only, 1016-2999 are
    /// unassigned (reserved for future RFCs), and 5000+ do not exist.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> CloseCode {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

/// A close code and reason, as received from the peer or reported locally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The code: the peer's, or [`CloseCode::NO_STATUS`] when its close frame was empty, or
    /// [`CloseCode::ABNORMAL`] when the transport ended without one.
    pub code: CloseCode,
    /// The reason, empty when none was given.
    pub reason: Utf8Bytes,
}

/// The longest reason that fits a close frame next to its 2-byte code.
pub const MAX_REASON_LEN: usize = crate::frame::MAX_CONTROL_PAYLOAD - 2;

/// What is wrong with a received close payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosePayloadError {
    /// A 1-byte payload: too long to be empty, too short for a code.
    OneByte,
    /// A code that may not appear on the wire (see [`CloseCode::is_valid_on_wire`]).
    InvalidCode(u16),
    /// A reason that is not valid UTF-8.
    InvalidReason,
}

impl fmt::Display for ClosePayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClosePayloadError::OneByte => f.write_str("close payload of 1 byte"),
            ClosePayloadError::InvalidCode(c) => {
                write!(f, "close code {c} is not valid on the wire")
            }
            ClosePayloadError::InvalidReason => f.write_str("close reason is not valid UTF-8"),
        }
    }
}

/// Parses a received close payload. An empty payload gives `None` (no status).
///
/// ```
/// use sockless::codec::parse_close_payload as parse_payload;
/// use sockless::ClosePayloadError;
/// use sockless::CloseCode;
/// use bytes::Bytes;
/// let frame = parse_payload(Bytes::from_static(b"\x03\xe8bye"))?.unwrap();
/// assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::NORMAL, "bye"));
/// assert_eq!(parse_payload(Bytes::new())?, None);
/// assert_eq!(parse_payload(Bytes::from_static(b"\x03")), Err(ClosePayloadError::OneByte));
/// # Ok::<(), ClosePayloadError>(())
/// ```
pub fn parse_payload(payload: Bytes) -> Result<Option<CloseFrame>, ClosePayloadError> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(ClosePayloadError::OneByte),
        _ => {
            let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
            if !code.is_valid_on_wire() {
                return Err(ClosePayloadError::InvalidCode(code.0));
            }
            let mut utf8 = Utf8Validator::new();
            utf8.feed(&payload[2..])
                .and_then(|()| utf8.finish())
                .map_err(|_| ClosePayloadError::InvalidReason)?;
            Ok(Some(CloseFrame {
                code,
                reason: Utf8Bytes::from_validated(payload.slice(2..)),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §7.4.1 and §7.4.2, with the IANA registry's 1012-1014.
    #[test]
    fn close_codes_valid_on_the_wire_follow_the_rfc_table() {
        for code in 0..=u16::MAX {
            let expected = match code {
                1000..=1003 => true,
                1004 => false,        // reserved
                1005 | 1006 => false, // local only
                1007..=1011 => true,
                1012..=1014 => true, // IANA registry
                1015 => false,       // local only
                1016..=2999 => false,
                3000..=4999 => true,
                _ => false,
            };
            assert_eq!(CloseCode(code).is_valid_on_wire(), expected, "{code}");
        }
    }

    #[test]
    fn close_payload_of_one_byte_is_an_error() {
        assert_eq!(
            parse_payload(Bytes::from_static(&[3])),
            Err(ClosePayloadError::OneByte)
        );
    }

    #[test]
    fn close_code_invalid_on_wire_is_an_error() {
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let payload = Bytes::copy_from_slice(&code.to_be_bytes());
            assert_eq!(
                parse_payload(payload),
                Err(ClosePayloadError::InvalidCode(code))
            );
        }
    }

    #[test]
    fn close_reason_must_be_utf8() {
        let payload = Bytes::from_static(b"\x03\xe8\xce\xba\xe1\xbd");
        assert_eq!(
            parse_payload(payload),
            Err(ClosePayloadError::InvalidReason)
        );
    }

    #[test]
    fn close_payload_round_trips() {
        let mut payload = alloc::vec::Vec::from(3000u16.to_be_bytes());
        payload.extend_from_slice("κόσμε".as_bytes());
        let frame = parse_payload(Bytes::from(payload)).unwrap().unwrap();
        assert_eq!(frame.code, CloseCode(3000));
        assert_eq!(frame.reason, "κόσμε");
    }
}
