//! Errors, grouped by who is to blame: the peer ([`ProtocolError`], [`Error::Request`],
//! [`Error::Response`], [`Error::Rejected`]), the caller ([`SendError`]), or time
//! ([`Error::HandshakeTimeout`], [`Error::KeepaliveTimeout`], [`Error::CloseTimeout`]).

use crate::close::{CloseCode, ClosePayloadError};
use crate::frame::FrameError;
use crate::handshake;
use alloc::boxed::Box;
use bytes::Bytes;
use core::fmt;

/// What the peer did wrong after the handshake. Each maps to the close code RFC 6455 asks
/// for, which the connection has already queued for the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A frame with an opcode reserved for future use (1002).
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set (1002).
    LengthTopBitSet,
    /// RSV bits set that no negotiated extension defines (1002).
    ReservedBits {
        /// The three bits as RSV1 RSV2 RSV3 = 0b100 0b010 0b001.
        bits: u8,
    },
    /// A client sent an unmasked frame (1002).
    UnmaskedFrame,
    /// A server sent a masked frame (1002).
    MaskedFrame,
    /// A control frame with FIN clear (1002).
    FragmentedControlFrame,
    /// A control frame with more than 125 bytes of payload (1002).
    ControlFrameTooLong(u64),
    /// A continuation frame with no fragmented message to continue (1002).
    ContinuationWithoutMessage,
    /// A text or binary frame while a fragmented message was unfinished (1002).
    DataFrameInsideMessage,
    /// A text message (or its fragments so far) that is not valid UTF-8 (1007).
    InvalidUtf8,
    /// A close frame whose payload is malformed (1002), or whose reason is not UTF-8 (1007).
    InvalidClose(ClosePayloadError),
    /// A frame payload over [`Config::max_frame_size`](crate::Config::max_frame_size) (1009).
    FrameTooLarge {
        /// The declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A message over [`Config::max_message_size`](crate::Config::max_message_size) (1009).
    MessageTooLarge {
        /// The message's size with this frame.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// A message over [`Config::max_fragments`](crate::Config::max_fragments) frames (1009).
    TooManyFragments {
        /// The limit.
        max: usize,
    },
    /// A compressed message whose deflate data is corrupt (1007).
    InvalidCompressedData,
    /// More undecoded input than one frame plus
    /// [`Config::max_buffered_input`](crate::Config::max_buffered_input) (1009).
    InputBufferFull {
        /// The limit.
        max: usize,
    },
}

impl ProtocolError {
    /// The close code sent to the peer for this violation.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCompressedData
            | ProtocolError::InvalidClose(ClosePayloadError::InvalidReason) => {
                CloseCode::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooLarge { .. }
            | ProtocolError::MessageTooLarge { .. }
            | ProtocolError::TooManyFragments { .. }
            | ProtocolError::InputBufferFull { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl From<FrameError> for ProtocolError {
    fn from(e: FrameError) -> ProtocolError {
        match e {
            FrameError::ReservedOpcode(op) => ProtocolError::ReservedOpcode(op),
            FrameError::LengthTopBitSet => ProtocolError::LengthTopBitSet,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "peer sent reserved opcode {op:#x}"),
            ProtocolError::LengthTopBitSet => {
                f.write_str("peer sent a 64-bit length with the top bit set")
            }
            ProtocolError::ReservedBits { bits } => {
                write!(f, "peer set RSV bits {bits:03b} that no extension defines")
            }
            ProtocolError::UnmaskedFrame => f.write_str("client sent an unmasked frame"),
            ProtocolError::MaskedFrame => f.write_str("server sent a masked frame"),
            ProtocolError::FragmentedControlFrame => f.write_str("peer fragmented a control frame"),
            ProtocolError::ControlFrameTooLong(len) => {
                write!(f, "peer sent a control frame of {len} bytes (max 125)")
            }
            ProtocolError::ContinuationWithoutMessage => {
                f.write_str("peer sent a continuation frame with no message to continue")
            }
            ProtocolError::DataFrameInsideMessage => {
                f.write_str("peer started a new message inside a fragmented one")
            }
            ProtocolError::InvalidUtf8 => f.write_str("peer sent text that is not valid UTF-8"),
            ProtocolError::InvalidClose(e) => write!(f, "peer sent an invalid close frame: {e}"),
            ProtocolError::FrameTooLarge { len, max } => {
                write!(f, "peer sent a frame of {len} bytes (max {max})")
            }
            ProtocolError::MessageTooLarge { len, max } => {
                write!(f, "peer sent a message of at least {len} bytes (max {max})")
            }
            ProtocolError::TooManyFragments { max } => {
                write!(f, "peer sent a message of more than {max} fragments")
            }
            ProtocolError::InvalidCompressedData => {
                f.write_str("peer sent a compressed message with corrupt deflate data")
            }
            ProtocolError::InputBufferFull { max } => {
                write!(
                    f,
                    "more than {max} bytes of input were buffered without being decoded"
                )
            }
        }
    }
}

/// A non-101 answer to a client's opening handshake: the status, headers and body, for the
/// application to act on (a 401 to authenticate, a 3xx to follow `Location`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The response head.
    pub response: handshake::Response,
    /// The body, as much of it as `Content-Length` announced and
    /// [`Limits::max_head_size`](crate::handshake::Limits) allows (empty without one).
    pub body: Bytes,
}

/// Why a connection failed. The connection is closed afterwards; write out what
/// [`Connection::outbound`](crate::Connection::outbound) holds (the close frame or HTTP error
/// response owed to the peer), then close the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 after the handshake; the close frame with
    /// [`ProtocolError::close_code`] is queued.
    Protocol(ProtocolError),
    /// The client's upgrade request was invalid; the HTTP error response is queued.
    Request(handshake::RequestError),
    /// The server's upgrade response was invalid.
    Response(handshake::ResponseError),
    /// The server answered the upgrade with another status.
    Rejected(Box<Rejection>),
    /// The server's permessage-deflate answer does not fit the client's offer.
    #[cfg(feature = "deflate")]
    Deflate(crate::deflate::NegotiationError),
    /// The peer stayed silent past the keepalive timeout; a close frame with 1011 is queued.
    KeepaliveTimeout,
    /// The closing handshake did not finish within
    /// [`Config::close_timeout`](crate::Config::close_timeout).
    CloseTimeout,
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout): nothing is sent, and
    /// the transport should be closed.
    HandshakeTimeout,
}

impl Error {
    /// The close code sent to the peer for this failure, if a close frame was sent.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::KeepaliveTimeout => Some(CloseCode::INTERNAL_ERROR),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Error {
        Error::Protocol(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Request(e) => write!(f, "invalid upgrade request: {e}"),
            Error::Response(e) => write!(f, "invalid upgrade response: {e}"),
            Error::Rejected(r) => write!(
                f,
                "server rejected the upgrade: {} {}",
                r.response.status(),
                r.response.reason()
            ),
            #[cfg(feature = "deflate")]
            Error::Deflate(e) => write!(f, "invalid permessage-deflate answer: {e}"),
            Error::KeepaliveTimeout => f.write_str("peer silent past the keepalive timeout"),
            Error::CloseTimeout => f.write_str("closing handshake timed out"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

/// The caller asked for something illegal in the current state. Nothing was sent and the
/// connection is unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// The opening handshake has not completed.
    NotOpen,
    /// A close frame was already sent (or the connection closed): no more data frames.
    Closing,
    /// The connection is closed.
    Closed,
    /// A control frame payload over 125 bytes.
    ControlTooLong(usize),
    /// A close reason over 123 bytes.
    ReasonTooLong(usize),
    /// A close code that may not be sent (see [`CloseCode::is_valid_on_wire`]).
    InvalidCloseCode(CloseCode),
    /// A whole message while a fragmented one is unfinished (it would interleave).
    MessageInProgress,
    /// A continuation fragment of another kind than the message in progress.
    FragmentKindMismatch,
    /// `accept`/`reject` without a pending handshake request, or twice.
    NoPendingRequest,
    /// The server's answer to the handshake could not be built.
    Accept(handshake::AcceptError),
    /// Queueing this would take the bytes owed to the transport past
    /// [`Config::max_pending_outbound`](crate::Config::max_pending_outbound): nothing was
    /// queued. Write out what is pending first.
    OutboundFull {
        /// Bytes already pending.
        pending: usize,
        /// The limit.
        max: usize,
    },
    /// A text fragment that does not continue the message as UTF-8 (or a final one that
    /// ends inside a code point): nothing was queued.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotOpen => f.write_str("the opening handshake has not completed"),
            SendError::Closing => f.write_str("a close frame was already sent"),
            SendError::Closed => f.write_str("the connection is closed"),
            SendError::ControlTooLong(n) => {
                write!(f, "control frame payload of {n} bytes (max 125)")
            }
            SendError::ReasonTooLong(n) => write!(f, "close reason of {n} bytes (max 123)"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::MessageInProgress => {
                f.write_str("a fragmented message is unfinished; finish it first")
            }
            SendError::FragmentKindMismatch => {
                f.write_str("continuation fragment of another kind than the message in progress")
            }
            SendError::NoPendingRequest => f.write_str("no handshake request awaits an answer"),
            SendError::Accept(e) => write!(f, "cannot accept: {e}"),
            SendError::OutboundFull { pending, max } => write!(
                f,
                "{pending} bytes are already owed to the transport; the limit is {max}"
            ),
            SendError::InvalidUtf8 => f.write_str("text fragment is not valid UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}
