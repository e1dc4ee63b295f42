//! What can go wrong, by who is to blame.

use std::fmt;
use std::io;

/// Why a WebSocket operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (a reset, a broken pipe, a TLS failure): the connection is gone.
    Io(io::Error),
    /// The peer broke the protocol, refused or botched the opening handshake, or a timer ran
    /// out (keepalive, handshake, close). What the peer was owed (a close frame with the
    /// right code, an HTTP error response) was written before the transport was closed.
    Protocol(sockless::Error),
    /// The application asked for something the connection cannot do now (a message after
    /// the close, a control payload over 125 bytes, output over its limit): nothing was
    /// queued and the connection is unchanged.
    Send(sockless::SendError),
    /// The application refused the upgrade request with this HTTP status
    /// ([`accept_with`](crate::accept_with)); the answer was written.
    Refused(u16),
    /// The URI given to [`connect`](crate::connect) is not a `ws://` or `wss://` URI.
    Uri(sockless::handshake::UriError),
    /// `wss://` without the `rustls` feature, or a host name TLS cannot verify.
    Tls(TlsError),
    /// HTTP/2 under a WebSocket of [`h2`](crate::h2) failed, or its extended CONNECT
    /// request was invalid or cannot be sent.
    #[cfg(feature = "h2")]
    H2(crate::h2::H2Failure),
}

/// Why TLS could not start.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsError {
    /// `wss://` needs the `rustls` feature.
    NotEnabled,
    /// The URI's host is not a DNS name or IP address a certificate can name.
    InvalidServerName(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "transport: {e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::Refused(status) => write!(f, "upgrade refused with {status}"),
            Error::Uri(e) => write!(f, "invalid WebSocket URI: {e}"),
            Error::Tls(TlsError::NotEnabled) => {
                f.write_str("wss:// needs sockless-tokio's `rustls` feature")
            }
            Error::Tls(TlsError::InvalidServerName(host)) => {
                write!(f, "{host:?} is not a name a TLS certificate can carry")
            }
            #[cfg(feature = "h2")]
            Error::H2(e) => write!(f, "HTTP/2: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Uri(e) => Some(e),
            #[cfg(feature = "h2")]
            Error::H2(e) => Some(e),
            Error::Refused(_) | Error::Tls(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<sockless::Error> for Error {
    fn from(e: sockless::Error) -> Error {
        Error::Protocol(e)
    }
}

impl From<sockless::SendError> for Error {
    fn from(e: sockless::SendError) -> Error {
        Error::Send(e)
    }
}

impl From<sockless::handshake::UriError> for Error {
    fn from(e: sockless::handshake::UriError) -> Error {
        Error::Uri(e)
    }
}
