//! A server handshake done outside the core (a hyper upgrade, an HTTP/2 extended
//! CONNECT): permessage-deflate settled the way the core's own `accept` settles it, and
//! the open connection that carries on from there. One place, so that every transport
//! negotiates alike.

use sockless::handshake::{Accept, ExtensionOffer};
use sockless::{Config, Connection, Role};

/// What the answer to the client settled on.
#[derive(Debug)]
pub(crate) struct Settled {
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<sockless::deflate::DeflateParams>,
}

/// Adds the permessage-deflate answer to `accept` when `config` enables it and `offers`
/// hold an offer it can take.
pub(crate) fn settle(
    accept: Accept,
    offers: &[ExtensionOffer],
    config: &Config,
) -> (Accept, Settled) {
    #[cfg(feature = "deflate")]
    let (accept, deflate) = match config
        .deflate
        .as_ref()
        .and_then(|d| sockless::deflate::negotiate(offers, d))
    {
        Some((answer, params)) => (accept.extension(answer), Some(params)),
        None => (accept, None),
    };
    #[cfg(not(feature = "deflate"))]
    let _ = (offers, config);
    let settled = Settled {
        protocol: accept.chosen_protocol().map(str::to_owned),
        #[cfg(feature = "deflate")]
        deflate,
    };
    (accept, settled)
}

impl Settled {
    /// The server connection, open, with the chosen subprotocol and deflate.
    pub(crate) fn open(&self, config: Config) -> Connection {
        let mut conn = Connection::open(Role::Server, config);
        conn.set_protocol(self.protocol.as_deref());
        #[cfg(feature = "deflate")]
        if let Some(params) = &self.deflate {
            conn.enable_deflate(params);
        }
        conn
    }
}
