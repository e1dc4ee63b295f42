//! The server's opening handshake over a transport the application accepted.

use crate::driver::Driver;
use crate::{Error, WebSocket};
use sockless::handshake::{Accept, Reject, Request};
use sockless::{Config, Connection, Event};
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// The decision [`accept`] makes: accept, choosing no subprotocol.
pub type Decide = fn(&Request) -> Result<Accept, Reject>;

/// Accepts a WebSocket on `io` with the default [`Config`], choosing no subprotocol.
///
/// An invalid upgrade request gets the core's HTTP answer (400, 426 with the supported
/// version, 431 for an oversized head) before the transport is shut down, and the error
/// is returned. A request that does not finish within
/// [`Config::handshake_timeout`] is dropped without an answer.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = sockless_tokio::accept(tcp).await?;
/// while let Some(message) = ws.recv().await {
///     ws.send(message?).await?;
/// }
/// # Ok(()) }
/// ```
pub fn accept<S>(io: S) -> Accepting<S, Decide>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(io, Config::default(), |_| Ok(Accept::new()))
}

/// Accepts a WebSocket on `io` if `decide` accepts its request: `decide` sees the path,
/// query, `Origin`, offered subprotocols and every header, and answers with an [`Accept`]
/// (naming the chosen subprotocol, extra headers) or a [`Reject`] (any HTTP status, with
/// headers and a body), which is written before [`Error::Refused`] is returned. With
/// [`Config::deflate`](sockless::Config) set, permessage-deflate is accepted when offered.
///
/// For a decision that has to `.await` (a session lookup), use [`incoming`].
pub fn accept_with<S, F>(io: S, config: Config, decide: F) -> Accepting<S, F>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    Accepting {
        driver: Some(Driver::new(io, Connection::server(config), Instant::now())),
        step: Step::Request(Some(decide)),
    }
}

/// The future of [`accept`] and [`accept_with`].
///
/// Written out by hand rather than as an `async fn`, so that it holds the driver and
/// nothing else: it lives inside the connection's task, whose size is memory per
/// connection.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Accepting<S, F> {
    driver: Option<Driver<S>>,
    step: Step<F>,
}

#[derive(Debug)]
enum Step<F> {
    /// Reading the request; the decision is made when it arrives.
    Request(Option<F>),
    /// Writing the `101`.
    Answer,
    /// Writing the refusal (with this status) and shutting down.
    Refusal(u16),
}

impl<S, F> Future for Accepting<S, F>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject> + Unpin,
{
    type Output = Result<WebSocket<S>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(driver) = this.driver.as_mut() else {
            panic!("`Accepting` polled after it completed");
        };
        loop {
            match &mut this.step {
                Step::Request(decide) => {
                    let request = match ready!(poll_request(driver, cx)) {
                        Ok(request) => request,
                        Err(e) => return Poll::Ready(Err(e)),
                    };
                    let decide = decide.take().expect("decided once");
                    this.step = match decide(&request) {
                        Ok(accept) => {
                            driver.conn.accept(&accept)?;
                            Step::Answer
                        }
                        Err(reject) => {
                            driver.conn.reject(&reject)?;
                            Step::Refusal(reject.status())
                        }
                    };
                }
                Step::Answer => {
                    ready!(driver.poll_write_out(cx))?;
                    let driver = this.driver.take().expect("checked above");
                    return Poll::Ready(Ok(opened(driver)));
                }
                Step::Refusal(status) => {
                    let status = *status;
                    while ready!(driver.poll_event(cx, true))?.is_some() {}
                    return Poll::Ready(Err(Error::Refused(status)));
                }
            }
        }
    }
}

/// Drives the handshake until the request arrived.
fn poll_request<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<Arc<Request>, Error>> {
    loop {
        match ready!(driver.poll_event(cx, true))? {
            Some(Event::HandshakeRequest(request)) => return Poll::Ready(Ok(request)),
            Some(_) => {}
            // The transport ended before a request arrived.
            None => {
                return Poll::Ready(Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into())));
            }
        }
    }
}

/// The socket, once the `101` is written.
fn opened<S: AsyncRead + AsyncWrite + Unpin>(mut driver: Driver<S>) -> WebSocket<S> {
    // The buffers sized for the handshake are not the ones messages need: an idle socket
    // should not keep them.
    driver.conn.shrink_buffers();
    WebSocket::from_driver(driver)
}

/// A valid upgrade request, read and waiting for the application's answer.
#[derive(Debug)]
pub struct Incoming<S> {
    driver: Driver<S>,
    request: Arc<Request>,
}

/// Reads the upgrade request on `io` and checks it, leaving the answer to the
/// application ([`Incoming::accept`] or [`Incoming::reject`]). Invalid requests are
/// answered and fail as in [`accept`]. The handshake timeout runs until the answer is
/// written.
pub async fn incoming<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    config: Config,
) -> Result<Incoming<S>, Error> {
    let mut driver = Driver::new(io, Connection::server(config), Instant::now());
    let request = poll_fn(|cx| poll_request(&mut driver, cx)).await?;
    Ok(Incoming { driver, request })
}

impl<S: AsyncRead + AsyncWrite + Unpin> Incoming<S> {
    /// The request: path, query, host, `Origin`, subprotocols, extensions, headers.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Answers `101 Switching Protocols` and returns the open socket, once the answer is
    /// written. Frames the client sent right behind its request are kept.
    pub async fn accept(mut self, accept: &Accept) -> Result<WebSocket<S>, Error> {
        self.driver.conn.accept(accept)?;
        poll_fn(|cx| self.driver.poll_write_out(cx)).await?;
        Ok(opened(self.driver))
    }

    /// Answers with `reject`'s status, headers and body, and shuts the transport down.
    pub async fn reject(mut self, reject: &Reject) -> Result<(), Error> {
        self.driver.conn.reject(reject)?;
        while poll_fn(|cx| self.driver.poll_event(cx, true))
            .await?
            .is_some()
        {}
        Ok(())
    }
}
