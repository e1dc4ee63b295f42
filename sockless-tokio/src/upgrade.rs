//! Upgrading a hyper (or axum) HTTP/1.1 request to a WebSocket.
//!
//! hyper parses the request and writes the response; the core checks the request with the
//! same RFC 6455 rules it applies to raw bytes and builds the same answers, and the
//! upgraded connection becomes a [`WebSocket`] once hyper hands it over.

use crate::settled::Settled;
use crate::{Error, WebSocket};
use bytes::Bytes;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sockless::Config;
use sockless::handshake::{Accept, Reject, Request, RequestError};

/// The transport of an upgraded hyper connection.
pub type UpgradedIo = TokioIo<Upgraded>;

/// The accepted half of an upgrade: resolves to the [`WebSocket`] once hyper has sent the
/// `101` and handed the connection over.
#[derive(Debug)]
pub struct PendingUpgrade {
    on_upgrade: OnUpgrade,
    config: Config,
    settled: Settled,
}

/// Checks `request` as a WebSocket upgrade and lets `decide` accept or refuse it.
///
/// `Ok((response, pending))`: return `response` (the `101`) from the handler, and await
/// `pending` (in a task of its own) for the socket. `Err(response)`: return it: the
/// error answer to an invalid request (400, or 426 naming version 13), or `decide`'s
/// [`Reject`]. With [`Config::deflate`](sockless::Config) set, permessage-deflate is
/// accepted when the client offers it.
///
/// The response body type is the caller's (`http_body_util::Full<Bytes>` for hyper,
/// `axum::body::Body` for axum).
///
/// ```no_run
/// # use bytes::Bytes;
/// # use http_body_util::Full;
/// use sockless::handshake::Accept;
/// use sockless_tokio::upgrade;
///
/// async fn handle(
///     mut req: http::Request<hyper::body::Incoming>,
/// ) -> Result<http::Response<Full<Bytes>>, std::convert::Infallible> {
///     Ok(match upgrade(&mut req, sockless::Config::default(), |_| Ok(Accept::new())) {
///         Ok((response, pending)) => {
///             tokio::spawn(async move {
///                 let mut ws = pending.await_socket().await?;
///                 while let Some(message) = ws.recv().await {
///                     ws.send(message?).await?;
///                 }
///                 Ok::<_, sockless_tokio::Error>(())
///             });
///             response
///         }
///         Err(response) => response,
///     })
/// }
/// ```
#[allow(clippy::result_large_err)]
pub fn upgrade<B, R: From<Bytes>>(
    request: &mut http::Request<B>,
    config: Config,
    decide: impl FnOnce(&Request) -> Result<Accept, Reject>,
) -> Result<(http::Response<R>, PendingUpgrade), http::Response<R>> {
    let checked = match Request::from_http(request) {
        Ok(checked) => checked,
        Err(e) => return Err(error_response(&e)),
    };
    let accept = match decide(&checked) {
        Ok(accept) => accept,
        Err(reject) => return Err(reject_response(&reject)),
    };
    let (accept, settled) = crate::settled::settle(accept, checked.extensions(), &config);
    let response = match accept.to_http_response(&checked) {
        Ok(response) => response,
        // The application chose something the request did not offer: a server bug, told
        // to the client as a 500 rather than as a handshake it would have to refuse.
        Err(e) => return Err(reject_response(&Reject::new(500).body(e.to_string()))),
    };
    let pending = PendingUpgrade {
        on_upgrade: hyper::upgrade::on(request),
        config,
        settled,
    };
    Ok((response.map(|()| R::from(Bytes::new())), pending))
}

impl PendingUpgrade {
    /// Waits until hyper hands the upgraded connection over (after it wrote the `101`),
    /// and returns the open socket.
    pub async fn await_socket(self) -> Result<WebSocket<UpgradedIo>, Error> {
        let upgraded = self.on_upgrade.await.map_err(std::io::Error::other)?;
        let conn = self.settled.open(self.config);
        Ok(WebSocket::from_connection(TokioIo::new(upgraded), conn))
    }
}

fn error_response<R: From<Bytes>>(e: &RequestError) -> http::Response<R> {
    let mut wire = bytes::BytesMut::new();
    e.write_response(&mut wire);
    from_wire(&wire)
}

fn reject_response<R: From<Bytes>>(reject: &Reject) -> http::Response<R> {
    let mut wire = bytes::BytesMut::new();
    reject.write_response(&mut wire);
    from_wire(&wire)
}

/// The `http` form of a response the core wrote as bytes, so that both paths answer with
/// the same status, headers and body. hyper writes its own framing headers.
fn from_wire<R: From<Bytes>>(wire: &[u8]) -> http::Response<R> {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut parsed = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = parsed.parse(wire) else {
        // The core writes complete, valid heads; should that ever fail, still answer.
        return plain(500);
    };
    let mut response = http::Response::new(R::from(Bytes::copy_from_slice(&wire[head_len..])));
    *response.status_mut() = http::StatusCode::from_u16(parsed.code.unwrap_or(500))
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    for header in parsed.headers.iter() {
        let name = header.name.to_ascii_lowercase();
        if name == "content-length" || name == "transfer-encoding" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(header.value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

fn plain<R: From<Bytes>>(status: u16) -> http::Response<R> {
    let mut response = http::Response::new(R::from(Bytes::new()));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}
