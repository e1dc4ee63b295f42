//! `wss://` with sockless-tokio and rustls: an echo server with a self-signed certificate
//! made at start, a client that trusts that certificate, and a demo running both.
//!
//! ```text
//! # Both in one process: a text and a binary message, then the close; exits 0 if all
//! # came back as sent.
//! cargo run -p sockless-tokio --features rustls --example wss -- demo
//!
//! # The server, echoing text and binary, choosing the first offered of chat and superchat;
//! # it writes its certificate (for localhost and 127.0.0.1) as PEM.
//! cargo run -p sockless-tokio --features rustls --example wss -- \
//!     server 127.0.0.1:9443 --cert-out /tmp/wss.pem
//!
//! # The client: sends each line of standard input as a text message, prints what comes
//! # back, and closes with 1000 at the end of input.
//! cargo run -p sockless-tokio --features rustls --example wss -- \
//!     client wss://localhost:9443/ --ca /tmp/wss.pem
//! ```
//!
//! The server wraps each `TcpStream` in a `tokio_rustls::TlsAcceptor` and hands the TLS
//! stream to `sockless_tokio::accept_with`; the client gives `connect_with` a rustls
//! `ClientConfig` whose only root is that certificate. A real server loads a certificate a
//! public CA issued, and its clients need no `--ca`: `connect` trusts the webpki roots.

use sockless::handshake::{Accept, Reject, Request};
use sockless_tokio::tokio_rustls::TlsAcceptor;
use sockless_tokio::tokio_rustls::rustls::pki_types::pem::PemObject;
use sockless_tokio::tokio_rustls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sockless_tokio::tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore, ServerConfig, crypto::CryptoProvider,
};
use sockless_tokio::{CloseCode, CloseFrame, ConnectOptions, Message};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];
/// The names the generated certificate carries: what a local client may dial.
const NAMES: [&str; 2] = ["localhost", "127.0.0.1"];
/// A client that connects and never finishes TLS must not hold its task forever; the
/// WebSocket handshake has its own timeout in `Config`, TLS has none.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client waits, once its input ended, for replies that are not coming.
const REPLY_GRACE: Duration = Duration::from_secs(1);

const USAGE: &str = "usage:
  wss server ADDR [--cert-out PATH]
  wss client URI --ca PATH
  wss demo";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["server", addr, rest @ ..] => {
            let cert_out = match rest {
                [] => std::env::temp_dir().join("sockless-wss-localhost.pem"),
                ["--cert-out", path] => PathBuf::from(path),
                _ => return usage(),
            };
            server(addr, &cert_out).await
        }
        ["client", uri, "--ca", ca] => client(uri, Path::new(ca)).await,
        ["demo"] => demo().await,
        _ => usage(),
    }
}

fn usage() -> Result<()> {
    Err(USAGE.into())
}

/// Ring, as `sockless_tokio::default_client_config` uses: one provider for the process,
/// rather than relying on a process-wide default that another dependency might set.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A fresh self-signed certificate for [`NAMES`], and an acceptor serving it.
fn self_signed() -> Result<(CertificateDer<'static>, String, TlsAcceptor)> {
    let generated = rcgen::generate_simple_self_signed(NAMES.map(String::from).to_vec())?;
    let der = generated.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key.into())?;
    // The upgrade is HTTP/1.1: a client that offers only h2 has no WebSocket to get here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((
        der,
        generated.cert.pem(),
        TlsAcceptor::from(Arc::new(config)),
    ))
}

/// A client configuration that trusts these certificates and nothing else.
fn trusting(certs: impl IntoIterator<Item = CertificateDer<'static>>) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots.add(cert)?;
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // As the default configuration does: a server speaking h2 too must not pick it here.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn decide(request: &Request) -> Result<Accept, Reject> {
    Ok(match request.protocols().find(|p| PROTOCOLS.contains(p)) {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    })
}

/// One connection: TLS, the opening handshake, then echoes until the peer closes.
/// Returns the peer's close frame.
async fn serve(tcp: TcpStream, acceptor: TlsAcceptor) -> Result<Option<CloseFrame>> {
    tcp.set_nodelay(true)?;
    let tls = tokio::time::timeout(TLS_TIMEOUT, acceptor.accept(tcp)).await??;
    let mut ws = sockless_tokio::accept_with(tls, sockless::Config::default(), decide).await?;
    while let Some(message) = ws.recv().await {
        // Fed, not sent: a burst of messages read together goes back in few TLS records.
        ws.feed(message?).await?;
    }
    Ok(ws.close_frame().cloned())
}

async fn server(addr: &str, cert_out: &Path) -> Result<()> {
    let (_, pem, acceptor) = self_signed()?;
    std::fs::write(cert_out, pem)?;
    eprintln!(
        "wss: certificate for {} written to {}",
        NAMES.join(", "),
        cert_out.display()
    );
    let listener = TcpListener::bind(addr).await?;
    eprintln!("wss: listening on wss://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            match serve(tcp, acceptor).await {
                Ok(Some(frame)) => eprintln!("wss: {peer}: closed with {}", frame.code.0),
                Ok(None) => eprintln!("wss: {peer}: ended without a close"),
                Err(e) => eprintln!("wss: {peer}: {e}"),
            }
        });
    }
}

async fn client(uri: &str, ca: &Path) -> Result<()> {
    let certs = CertificateDer::pem_file_iter(ca)?.collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", ca.display()).into());
    }
    let options = ConnectOptions::new()
        .protocol(PROTOCOLS[0])
        .protocol(PROTOCOLS[1])
        .tls_config(Arc::new(trusting(certs)?));
    let mut ws = sockless_tokio::connect_with(uri, options).await?;
    eprintln!(
        "wss: connected to {uri}, subprotocol {}",
        ws.protocol().unwrap_or("(none)")
    );

    // Standard input is read on a thread of its own: tokio's stdin reads on its blocking
    // pool, and a read still waiting there would keep the runtime from shutting down once
    // the server closed.
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let Ok(line) = line else { break };
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let mut input_open = true;
    let mut unanswered = 0usize;
    loop {
        tokio::select! {
            line = lines.recv(), if input_open => match line {
                Some(line) => {
                    ws.send(line).await?;
                    unanswered += 1;
                }
                None => input_open = false,
            },
            message = ws.recv() => match message {
                Some(message) => {
                    match message? {
                        Message::Text(text) => println!("{text}"),
                        Message::Binary(bytes) => println!("({} bytes of binary)", bytes.len()),
                    }
                    unanswered = unanswered.saturating_sub(1);
                }
                // The server closed: what is left of the input has nowhere to go.
                None => break,
            },
            // A server that does not answer every line would otherwise keep us here.
            () = tokio::time::sleep(REPLY_GRACE), if !input_open => break,
        }
        // Closing drops what arrives after our close frame, so the replies to the last
        // lines are awaited first: piped input ends right behind its last line.
        if !input_open && unanswered == 0 {
            break;
        }
    }
    ws.close(CloseCode::NORMAL, "").await?;
    match ws.close_frame() {
        Some(frame) => eprintln!("wss: closed with {}", frame.code.0),
        None => eprintln!("wss: ended without a close"),
    }
    Ok(())
}

async fn demo() -> Result<()> {
    let (der, _, acceptor) = self_signed()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    println!("wss: listening on wss://127.0.0.1:{port}");
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        serve(tcp, acceptor).await
    });

    // By name, so that the certificate's DNS name is what gets verified.
    let uri = format!("wss://localhost:{port}/");
    let options = ConnectOptions::new()
        .protocol(PROTOCOLS[0])
        .protocol(PROTOCOLS[1])
        .tls_config(Arc::new(trusting([der])?));
    let mut ws = sockless_tokio::connect_with(&uri, options).await?;
    println!(
        "client: connected to {uri}, subprotocol {:?}",
        ws.protocol()
    );
    if ws.protocol() != Some(PROTOCOLS[0]) {
        return Err("the server did not choose the first offered subprotocol".into());
    }

    let sent = [
        Message::from("hello over TLS"),
        Message::from(vec![0u8, 1, 2, 0xfe, 0xff]),
    ];
    for message in sent {
        ws.send(message.clone()).await?;
        let reply = ws.recv().await.ok_or("the server ended the connection")??;
        println!("client: sent {message:?}, got back {reply:?}");
        if reply != message {
            return Err("the echo differs from what was sent".into());
        }
    }

    ws.close(CloseCode::NORMAL, "done").await?;
    let seen = server.await??;
    println!("server: saw close {:?}", seen.as_ref().map(|f| f.code.0));
    if seen.map(|f| f.code) != Some(CloseCode::NORMAL) {
        return Err("the server did not see a close with 1000".into());
    }
    println!("demo: ok");
    Ok(())
}
