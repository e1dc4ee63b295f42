//! `wss://` over loopback TCP with certificates generated per test: the client verifies
//! the server's certificate and name, and refuses what it cannot verify before any
//! WebSocket handshake.
#![cfg(feature = "rustls")]

use sockless_tokio::tokio_rustls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use sockless_tokio::tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, RootCertStore, ServerConfig,
};
use sockless_tokio::tokio_rustls::{TlsAcceptor, server::TlsStream};
use sockless_tokio::{
    CloseCode, CloseFrame, ConnectOptions, Error, MaybeTlsStream, Message, TlsError,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// Long enough for a loopback handshake on a loaded 2-core machine; a failure must come
/// well before it, as an error, not as this timeout.
const LIMIT: Duration = Duration::from_secs(20);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A self-signed certificate for `names`, and an acceptor serving it.
fn identity(names: &[&str]) -> (CertificateDer<'static>, TlsAcceptor) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let key = rcgen::generate_simple_self_signed(names).unwrap();
    let cert = key.cert.der().clone();
    let private = PrivatePkcs8KeyDer::from(key.signing_key.serialize_der());
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private.into())
        .unwrap();
    (cert, TlsAcceptor::from(Arc::new(config)))
}

/// A client configuration whose only root is `cert`.
fn trusting(cert: &CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts one TCP connection and runs the TLS handshake on it.
async fn accept_tls(
    listener: &TcpListener,
    acceptor: &TlsAcceptor,
) -> std::io::Result<TlsStream<TcpStream>> {
    let (tcp, _) = listener.accept().await?;
    acceptor.accept(tcp).await
}

/// The rustls error inside a transport error, if that is what it is.
fn rustls_error(e: &Error) -> Option<&rustls::Error> {
    match e {
        Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

#[tokio::test]
async fn client_trusting_the_certificate_exchanges_messages_and_closes_cleanly() {
    let (cert, acceptor) = identity(&["localhost", "127.0.0.1"]);
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let tls = accept_tls(&listener, &acceptor).await.unwrap();
        let mut ws = sockless_tokio::accept(tls).await.unwrap();
        while let Some(message) = ws.recv().await {
            ws.send(message.unwrap()).await.unwrap();
        }
        ws.close_frame().cloned()
    });

    let uri = format!("wss://localhost:{}/", addr.port());
    let options = ConnectOptions::new().tls_config(trusting(&cert));
    let mut ws = timeout(LIMIT, sockless_tokio::connect_with(&uri, options))
        .await
        .unwrap()
        .unwrap();
    // The socket runs over TLS, and the certificate it verified is the one served.
    let MaybeTlsStream::Rustls(tls) = ws.get_ref() else {
        panic!("wss:// gave a plain TCP stream");
    };
    let presented = tls.get_ref().1.peer_certificates().unwrap();
    assert_eq!(presented, std::slice::from_ref(&cert));

    ws.send("hello over tls").await.unwrap();
    let reply = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(reply, Message::from("hello over tls"));
    let binary = vec![0u8, 1, 2, 0xfe, 0xff];
    ws.send(binary.clone()).await.unwrap();
    let reply = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(reply, Message::from(binary));

    timeout(LIMIT, ws.close(CloseCode::NORMAL, "done"))
        .await
        .unwrap()
        .unwrap();
    let seen = timeout(LIMIT, server).await.unwrap().unwrap();
    let expected = CloseFrame {
        code: CloseCode::NORMAL,
        reason: "done".to_string().into(),
    };
    assert_eq!(seen, Some(expected));
    // The server's close answered ours: the client saw 1000 too.
    assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
}

#[tokio::test]
async fn client_verifies_the_certificate_for_an_ip_address_uri() {
    let (cert, acceptor) = identity(&["localhost", "127.0.0.1"]);
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let tls = accept_tls(&listener, &acceptor).await.unwrap();
        let mut ws = sockless_tokio::accept(tls).await.unwrap();
        while let Some(message) = ws.recv().await {
            ws.send(message.unwrap()).await.unwrap();
        }
    });

    let uri = format!("wss://{addr}/");
    let options = ConnectOptions::new().tls_config(trusting(&cert));
    let mut ws = timeout(LIMIT, sockless_tokio::connect_with(&uri, options))
        .await
        .unwrap()
        .unwrap();
    ws.send("by address").await.unwrap();
    let reply = timeout(LIMIT, ws.recv()).await.unwrap().unwrap().unwrap();
    assert_eq!(reply, Message::from("by address"));
    timeout(LIMIT, ws.close(CloseCode::NORMAL, ""))
        .await
        .unwrap()
        .unwrap();
    timeout(LIMIT, server).await.unwrap().unwrap();
}

#[tokio::test]
async fn client_whose_roots_lack_the_certificate_fails_verification_before_the_handshake() {
    let (_, acceptor) = identity(&["localhost", "127.0.0.1"]);
    // Trusts a certificate for the same names and with the same subject (rcgen's default
    // one), but another key: the client takes it for the issuer and its signature fails.
    let (other, _) = identity(&["localhost", "127.0.0.1"]);
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move { accept_tls(&listener, &acceptor).await.err() });

    let uri = format!("wss://localhost:{}/", addr.port());
    let options = ConnectOptions::new().tls_config(trusting(&other));
    let result = timeout(LIMIT, sockless_tokio::connect_with(&uri, options))
        .await
        .expect("a failed verification is an error, not a hang");
    let e = result.expect_err("a certificate the roots did not sign must fail");
    assert!(matches!(e, Error::Io(_)), "{e:?}");
    assert_eq!(
        rustls_error(&e),
        Some(&rustls::Error::InvalidCertificate(
            CertificateError::BadSignature
        )),
        "{e:?}"
    );
    // The server never got a finished TLS handshake, so never saw an upgrade request.
    let server_error = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(
        server_error.is_some(),
        "the server's TLS handshake completed"
    );
}

#[tokio::test]
async fn client_rejects_a_certificate_for_another_name() {
    let (cert, acceptor) = identity(&["example.com"]);
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move { accept_tls(&listener, &acceptor).await.err() });

    let uri = format!("wss://localhost:{}/", addr.port());
    let options = ConnectOptions::new().tls_config(trusting(&cert));
    let e = timeout(LIMIT, sockless_tokio::connect_with(&uri, options))
        .await
        .unwrap()
        .expect_err("a certificate for example.com must not pass for localhost");
    let name_error = matches!(
        rustls_error(&e),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ))
    );
    assert!(name_error, "{e:?}");
    let server_error = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(
        server_error.is_some(),
        "the server's TLS handshake completed"
    );
}

#[tokio::test]
async fn default_config_with_webpki_roots_rejects_a_self_signed_server() {
    let (_, acceptor) = identity(&["localhost", "127.0.0.1"]);
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move { accept_tls(&listener, &acceptor).await.err() });

    let uri = format!("wss://localhost:{}/", addr.port());
    let result = timeout(LIMIT, sockless_tokio::connect(&uri))
        .await
        .expect("a failed verification is an error, not a hang");
    let e = result.expect_err("the webpki roots must not trust a self-signed certificate");
    assert_eq!(
        rustls_error(&e),
        Some(&rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer
        )),
        "{e:?}"
    );
    let server_error = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(
        server_error.is_some(),
        "the server's TLS handshake completed"
    );
}

#[tokio::test]
async fn host_that_is_neither_a_dns_name_nor_an_ip_is_refused_before_tls_starts() {
    // `127.1` is a valid URI host and the C resolver reads it as 127.0.0.1 (the
    // inet_aton shorthand), so the TCP connect succeeds; but it is neither an IP address
    // in the strict form certificates use nor a DNS name (its last label is numeric).
    const HOST: &str = "127.1";
    let (listener, addr) = listener().await;
    let resolved = tokio::net::lookup_host((HOST, addr.port()))
        .await
        .map(|mut addrs| addrs.any(|a| a == addr))
        .unwrap_or(false);
    if !resolved {
        eprintln!("skipped: this resolver does not read {HOST:?} as 127.0.0.1");
        return;
    }
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        tcp.read_to_end(&mut received).await.unwrap();
        received
    });

    let (cert, _) = identity(&["localhost"]);
    let uri = format!("wss://{HOST}:{}/", addr.port());
    let options = ConnectOptions::new().tls_config(trusting(&cert));
    let e = timeout(LIMIT, sockless_tokio::connect_with(&uri, options))
        .await
        .unwrap()
        .expect_err("a host TLS cannot name must not be connected to");
    match &e {
        Error::Tls(TlsError::InvalidServerName(host)) => assert_eq!(host, HOST),
        other => panic!("expected InvalidServerName, got {other:?}"),
    }
    // Not even a ClientHello went out.
    let received = timeout(LIMIT, server).await.unwrap().unwrap();
    assert!(
        received.is_empty(),
        "the client sent {} bytes",
        received.len()
    );
}
