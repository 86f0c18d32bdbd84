//! Hostile gateways: small real servers on loopback that do what a broken or malicious gateway
//! does (hang, trickle, garbage, an invalid status line, resets, huge answers, control
//! characters, redirects). Plain threads and blocking sockets, so they behave the same whatever
//! runtime the code under test uses.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Reads the request, never answers.
    Hang,
    /// A 200 whose body arrives one byte a second.
    Trickle,
    /// A complete 200 with an HTML page.
    Html200,
    /// Not HTTP at all.
    InvalidStatusLine,
    /// Reads the request, then resets the connection.
    Reset,
    /// A 200 of this many bytes.
    Huge(u64),
    /// 201/200 with JSON whose strings hold ANSI and control characters.
    ControlCharacters,
    /// A 307 to another address.
    Redirect(String),
}

pub struct Hostile {
    pub url: String,
    pub hits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request's head and its `content-length` body (bounded); `None` at EOF.
pub fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
                .unwrap_or(0);
            while buf.len() < end + 4 + len.min(4 << 20) {
                let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
                buf.extend_from_slice(&chunk[..n]);
            }
            return Some(buf);
        }
        let n = s.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 8 << 20 {
            return None;
        }
    }
}

fn wait(stop: &AtomicBool, d: Duration) -> bool {
    let until = std::time::Instant::now() + d;
    while std::time::Instant::now() < until {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

fn reset(s: TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger`.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

fn answer(status: &str, ctype: &str, body: &[u8]) -> Vec<u8> {
    let mut out =
        format!("HTTP/1.1 {status}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

fn handle(mut s: TcpStream, b: &Behaviour, stop: &AtomicBool) {
    while let Some(req) = read_request(&mut s) {
        let ingest = req.windows(7).any(|w| w == b"/ingest");
        match b {
            Behaviour::Hang => {
                while wait(stop, Duration::from_millis(200)) {}
                return;
            }
            Behaviour::Trickle => {
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 600\r\n\r\n";
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for _ in 0..600 {
                    if !wait(stop, Duration::from_secs(1)) || s.write_all(b" ").is_err() {
                        return;
                    }
                }
            }
            Behaviour::Html200 => {
                let page = b"<html><body><h1>It works!</h1><script>alert(1)</script></body></html>";
                if s.write_all(&answer("200 OK", "text/html", page)).is_err() {
                    return;
                }
            }
            Behaviour::InvalidStatusLine => {
                let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff garbage\r\n\r\n");
                return;
            }
            Behaviour::Reset => return reset(s),
            Behaviour::Huge(n) => {
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {n}\r\n\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = *n;
                while left > 0 && !stop.load(Ordering::SeqCst) {
                    let k = left.min(chunk.len() as u64) as usize;
                    if s.write_all(&chunk[..k]).is_err() {
                        return;
                    }
                    left -= k as u64;
                }
            }
            Behaviour::ControlCharacters => {
                let text = "\u{1b}[31mRED\u{1b}[0m\u{7}\u{0}\u{8}<&>\"'\u{202e}";
                let body = if ingest {
                    serde_json::json!({"ingestApplied": false, "rejectReason": text, "sessionId": text})
                } else {
                    serde_json::json!({"status": text, "summary": {"health": text}})
                };
                let status = if ingest { "201 Created" } else { "200 OK" };
                if s.write_all(&answer(status, "application/json", body.to_string().as_bytes())).is_err() {
                    return;
                }
            }
            Behaviour::Redirect(to) => {
                let head =
                    format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {to}/steal\r\ncontent-length: 0\r\n\r\n");
                if s.write_all(head.as_bytes()).is_err() {
                    return;
                }
            }
        }
    }
}

/// Serves `b` on a loopback port until dropped.
pub fn serve(b: Behaviour) -> Hostile {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicU64::new(0));
    let (st, h) = (stop.clone(), hits.clone());
    std::thread::spawn(move || {
        while !st.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((s, _)) => {
                    h.fetch_add(1, Ordering::SeqCst);
                    let _ = s.set_nonblocking(false);
                    let (b, st) = (b.clone(), st.clone());
                    std::thread::spawn(move || handle(s, &b, &st));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Hostile { url, hits, stop }
}

/// A proxy in front of `upstream` that hangs every ingest of one connector and forwards the
/// rest (one upstream connection per request).
pub fn hang_one_connector(upstream: &str, connector: &str) -> Hostile {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let up = upstream.trim_start_matches("http://").to_string();
    let needle = format!("\"{connector}\"").into_bytes();
    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(AtomicU64::new(0));
    let (st, h) = (stop.clone(), hits.clone());
    std::thread::spawn(move || {
        while !st.load(Ordering::SeqCst) {
            let Ok((mut s, _)) = l.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let _ = s.set_nonblocking(false);
            let (up, needle, st, h) = (up.clone(), needle.clone(), st.clone(), h.clone());
            std::thread::spawn(move || {
                while let Some(req) = read_request(&mut s) {
                    if req.windows(needle.len()).any(|w| w == needle.as_slice()) {
                        h.fetch_add(1, Ordering::SeqCst);
                        while wait(&st, Duration::from_millis(200)) {}
                        return;
                    }
                    let end = req.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
                    let mut fwd = req[..end].to_vec();
                    fwd.extend_from_slice(b"\r\nconnection: close");
                    fwd.extend_from_slice(&req[end..]);
                    let Ok(mut u) = TcpStream::connect(&up) else { return };
                    let mut resp = Vec::new();
                    if u.write_all(&fwd).is_err() || u.read_to_end(&mut resp).is_err() {
                        return;
                    }
                    if s.write_all(&resp).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Hostile { url, hits, stop }
}
