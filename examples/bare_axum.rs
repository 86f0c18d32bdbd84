//! The benchmark's baseline: a bare axum handler that returns fixed bytes (the mock's own answer
//! to the benchmark request, read from a file) with no parsing, faults, journal or quotas.
//! `bench/mock_throughput.sh` measures the mock against it in the same run.
//!
//! Usage: cargo run --release --example bare_axum -- ANSWER.json

use axum::Router;
use axum::http::header;
use axum::routing::post;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: bare_axum ANSWER.json");
    let body: &'static [u8] = Vec::leak(std::fs::read(path)?);
    let app = Router::new().route(
        "/v1/chat/completions",
        post(move || async move { ([(header::CONTENT_TYPE, "application/json")], body) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
