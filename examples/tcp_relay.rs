//! A byte-for-byte TCP relay, the control leg of `bench/gateway_overhead.sh`: the gateway leg runs
//! three processes (load generator, gateway, mock) on this machine's two cores, the direct leg
//! two. Sending the direct leg through this relay gives it the same process count and an extra
//! loopback hop, with no HTTP work at all, so the gateway's own cost can be told apart from the
//! cost of one more busy process on two cores.
//!
//! Bounded: at most 1,024 connections relayed at once (more wait for the accept loop); each
//! relay ends when either side closes. Loopback only.
//!
//! Usage: tcp_relay HOST:PORT   (prints `http://127.0.0.1:PORT` of its own listener, then relays)

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const MAX_CONNECTIONS: usize = 1024;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let target = std::env::args().nth(1).expect("usage: tcp_relay HOST:PORT");
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("http://{}", listener.local_addr()?);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else { return Ok(()) };
        let (mut inbound, _) = listener.accept().await?;
        let target = target.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
            let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
        });
    }
}
