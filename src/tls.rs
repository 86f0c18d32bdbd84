//! TLS for every HTTP client gatedrill makes (DESIGN.md, "Targets"): a launch gate drives
//! production over `https://`, and the fault proxy forwards to real providers, which speak only
//! TLS. The crypto is rustls with ring (no system OpenSSL); the trusted roots are the machine's
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured). A machine with no roots still runs every drill
//! over plain HTTP; an `https://` exchange there fails its handshake, a typed transport failure.

use std::sync::{Arc, Once, OnceLock};

static INSTALL: Once = Once::new();
static CONFIG: OnceLock<Option<rustls::ClientConfig>> = OnceLock::new();

/// Installs ring as the process's TLS provider (once; a provider already installed is kept), so
/// no client can be built without one.
pub fn ensure() {
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The client configuration: ring, the default protocol versions, the machine's roots.
fn config() -> Option<rustls::ClientConfig> {
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut c = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .ok()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            c.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            Some(c)
        })
        .clone()
}

/// A client builder with TLS ready: every HTTP client in gatedrill starts here.
pub fn builder() -> reqwest::ClientBuilder {
    ensure();
    let b = reqwest::Client::builder();
    match config() {
        Some(c) => b.tls_backend_preconfigured(c),
        None => b,
    }
}
