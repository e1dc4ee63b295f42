//! Shared by the tests: a loopback listener and an echo server on it.
#![allow(dead_code)]

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};

/// A listener on an ephemeral loopback port.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts one TCP connection.
pub async fn accept_tcp(listener: &TcpListener) -> TcpStream {
    listener.accept().await.unwrap().0
}
