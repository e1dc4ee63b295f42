//! TLS for `wss://` clients, through tokio-rustls with the ring provider.

use std::sync::{Arc, OnceLock};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// The client settings `connect` uses for `wss://` unless
/// [`ConnectOptions::tls_config`](crate::ConnectOptions::tls_config) gives others: the
/// webpki roots (Mozilla's), no client certificate, ALPN `http/1.1`. Built once per
/// process, and shared.
pub fn default_client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let mut config = ClientConfig::builder_with_provider(Arc::new(
                tokio_rustls::rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
            // An HTTP/1.1 upgrade: a server that speaks both must not pick h2 for it.
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}
