//! The client's opening handshake: `connect` to a URI, or over a transport the caller
//! opened.

use crate::driver::Driver;
use crate::{Error, WebSocket};
use sockless::handshake::{ClientOptions, Uri};
use sockless::{Config, Connection, Event};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How a client connects: the handshake's subprotocols, origin and headers, the
/// connection's [`Config`] (deflate, limits, timers) and, with the `rustls` feature, the
/// TLS settings for `wss://`.
///
/// ```
/// use sockless_tokio::ConnectOptions;
/// let options = ConnectOptions::new()
///     .protocol("chat")
///     .protocol("superchat")
///     .header("Authorization", "Bearer abc");
/// ```
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    handshake: ClientOptions,
    config: Config,
    #[cfg(feature = "rustls")]
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ClientConfig>>,
}

impl ConnectOptions {
    /// No subprotocols, no extra headers, the default [`Config`].
    pub fn new() -> ConnectOptions {
        ConnectOptions::default()
    }

    /// Offers a subprotocol; repeat for more, most preferred first (as the browser's
    /// `new WebSocket(url, protocols)`).
    ///
    /// # Panics
    /// If `name` is not an HTTP token or is already offered (see
    /// [`ClientOptions::try_protocol`]).
    pub fn protocol(mut self, name: impl Into<String>) -> ConnectOptions {
        self.handshake = self.handshake.protocol(name);
        self
    }

    /// Adds a header to the upgrade request (a cookie, an authorization).
    ///
    /// # Panics
    /// If the name or value cannot be sent, or the name is one the handshake writes
    /// itself (see [`ClientOptions::try_header`]).
    pub fn header(mut self, name: impl Into<String>, value: impl AsRef<[u8]>) -> ConnectOptions {
        self.handshake = self.handshake.header(name, value);
        self
    }

    /// Sends an `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> ConnectOptions {
        self.handshake = self.handshake.origin(origin);
        self
    }

    /// The whole handshake request's options at once, replacing those set so far.
    pub fn handshake(mut self, options: ClientOptions) -> ConnectOptions {
        self.handshake = options;
        self
    }

    /// The connection's settings (limits, timers, keepalive, deflate).
    pub fn config(mut self, config: Config) -> ConnectOptions {
        self.config = config;
        self
    }

    /// Offers permessage-deflate with these settings (shorthand for setting
    /// [`Config::deflate`]).
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, deflate: sockless::deflate::DeflateConfig) -> ConnectOptions {
        self.config.deflate = Some(deflate);
        self
    }

    /// The TLS settings for `wss://` (root certificates, client certificates, ALPN); by
    /// default, the webpki roots and no client certificate.
    #[cfg(feature = "rustls")]
    pub fn tls_config(
        mut self,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> ConnectOptions {
        self.tls = Some(config);
        self
    }
}

/// A client transport from [`connect`]: TCP, or TLS over TCP for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to a `ws://` or `wss://` URI with the default options.
///
/// ```no_run
/// # async fn run() -> Result<(), sockless_tokio::Error> {
/// let mut ws = sockless_tokio::connect("ws://127.0.0.1:9001/chat").await?;
/// ws.send("hello").await?;
/// if let Some(reply) = ws.recv().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(sockless::CloseCode::NORMAL, "").await?;
/// # Ok(()) }
/// ```
pub async fn connect(uri: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with(uri, ConnectOptions::new()).await
}

/// Connects to a `ws://` or `wss://` URI: TCP (with `TCP_NODELAY`), TLS for `wss://`,
/// then the opening handshake. The handshake timeout covers the handshake, not the TCP
/// connect or TLS: bound those with `tokio::time::timeout` if needed.
pub async fn connect_with(
    uri: &str,
    options: ConnectOptions,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let uri = Uri::parse(uri)?;
    let tcp = TcpStream::connect((uri.host(), uri.port())).await?;
    tcp.set_nodelay(true)?;
    let io = if uri.secure() {
        tls(tcp, &uri, &options).await?
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    handshake(io, &uri, options).await
}

#[cfg(feature = "rustls")]
async fn tls(tcp: TcpStream, uri: &Uri, options: &ConnectOptions) -> Result<MaybeTlsStream, Error> {
    use tokio_rustls::rustls::pki_types::ServerName;
    let config = match &options.tls {
        Some(config) => config.clone(),
        None => crate::tls::default_client_config(),
    };
    let name = ServerName::try_from(uri.host().to_owned())
        .map_err(|_| Error::Tls(crate::TlsError::InvalidServerName(uri.host().to_owned())))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    Ok(MaybeTlsStream::Rustls(Box::new(stream)))
}

#[cfg(not(feature = "rustls"))]
async fn tls(_: TcpStream, _: &Uri, _: &ConnectOptions) -> Result<MaybeTlsStream, Error> {
    Err(Error::Tls(crate::TlsError::NotEnabled))
}

/// The opening handshake over a transport the caller opened (TCP through a proxy, TLS of
/// its own, a Unix socket): `uri` gives the request's path and `Host`; no TLS is started
/// for `wss://`.
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    uri: &str,
    options: ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    handshake(io, &Uri::parse(uri)?, options).await
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    uri: &Uri,
    options: ConnectOptions,
) -> Result<WebSocket<S>, Error> {
    let conn = Connection::client(uri, options.handshake, options.config);
    let mut driver = Driver::new(io, conn, Instant::now());
    loop {
        match poll_fn(|cx| driver.poll_event(cx, true)).await? {
            Some(Event::Connected(_)) => {
                driver.conn.shrink_buffers();
                return Ok(WebSocket::from_driver(driver));
            }
            Some(_) => {}
            None => return Err(Error::Io(io::ErrorKind::UnexpectedEof.into())),
        }
    }
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
