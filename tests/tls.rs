//! TLS to real endpoints: the fault proxy in front of an `https://` provider, as it stands in
//! front of api.openai.com. The provider here is gatedrill's own mock behind a TLS terminator on
//! loopback, with a certificate from a test CA that only `SSL_CERT_FILE` makes trusted: trusted,
//! the answer comes through; not trusted, the client gets a typed upstream failure, journaled.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use gatedrill::mock::config::FleetConfig;
use gatedrill::mock::{FleetOptions, ProviderFleet};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Accepts TLS on loopback and relays each connection's bytes to `plain` (a mock's address).
async fn tls_terminator(plain: String) -> u16 {
    gatedrill::tls::ensure();
    let certs = CertificateDer::pem_file_iter("tests/data/tls/server.pem").unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file("tests/data/tls/server.key").unwrap();
    let config = rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, plain) = (acceptor.clone(), plain.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut up) = tokio::net::TcpStream::connect(&plain).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    port
}

/// `gatedrill proxy` in front of `upstream`, trusting `ca` when given; its URL.
fn proxy(upstream: &str, ca: Option<&str>) -> (Proc, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatedrill"));
    cmd.args(["proxy", "--upstream", &format!("openai={upstream}"), "--upstream-timeout", "5s"]);
    // Only the test CA, or no root at all: either way the machine's own roots play no part.
    cmd.env("SSL_CERT_FILE", ca.unwrap_or("/dev/null")).env("SSL_CERT_DIR", "/nonexistent");
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let line = BufReader::new(child.stdout.take().unwrap()).lines().next().unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    (Proc(child), v["url"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_speaks_tls_to_its_upstream_and_refuses_an_untrusted_one() {
    let fleet = ProviderFleet::start(FleetOptions::new(FleetConfig::embedded())).await.unwrap();
    let plain = fleet.url("openai").unwrap().trim_start_matches("http://").to_string();
    let port = tls_terminator(plain).await;
    let upstream = format!("https://localhost:{port}");
    let client = gatedrill::tls::builder().build().unwrap();
    let body = serde_json::json!({"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]});

    let chat = |url: String| {
        let (client, body) = (client.clone(), body.clone());
        async move {
            let to = format!("{url}/v1/chat/completions");
            client.post(to).bearer_auth("sk-gatedrill-openai-0001").json(&body).send().await.unwrap()
        }
    };

    let (_trusting, url) = proxy(&upstream, Some("tests/data/tls/ca.pem"));
    let r = chat(url).await;
    assert_eq!(r.status(), 200, "through TLS to the mock");
    let answer: serde_json::Value = r.json().await.unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(fleet.journal().len(), 1, "the mock behind the TLS terminator answered it");

    let (_doubting, url) = proxy(&upstream, None);
    let r = chat(url.clone()).await;
    assert_eq!(r.status(), 502, "an untrusted certificate is an upstream failure");
    let journal: serde_json::Value =
        client.get(format!("{url}/_gatedrill/journal")).send().await.unwrap().json().await.unwrap();
    assert_eq!(journal["records"][0]["refusal"], "upstream_unreachable", "{journal:#}");
    assert_eq!(fleet.journal().len(), 1, "nothing reached the mock");
    fleet.shutdown().await;
}
