//! Server-sent events framing, both ways. The mocks encode with it, and the gateway and the
//! runner decode provider streams with it, so one piece of code decides what a frame is.
//!
//! The decoder is incremental and byte-exact: chunks may split anywhere (inside a field, inside
//! a UTF-8 character), complete frames come out as they close, and whatever is left when the
//! stream ends is handed back as raw bytes. That is how a cut stream is told from a clean end:
//! a clean end leaves nothing behind, a cut usually leaves a partial frame.

use bytes::{Bytes, BytesMut};

/// Encodes one event: an optional `event:` line, then the data (one `data:` line per line of
/// `data`), then the blank line that closes the frame.
pub fn encode(event: Option<&str>, data: &str) -> Bytes {
    let mut out = BytesMut::with_capacity(data.len() + 32);
    if let Some(name) = event {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"\n");
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"\n");
    out.freeze()
}

/// Encodes a comment frame such as `: keep-alive`.
pub fn comment(text: &str) -> Bytes {
    Bytes::from(format!(": {text}\n\n"))
}

/// One decoded frame. `raw` holds the exact bytes of the frame including its closing blank line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub event: Option<String>,
    /// `data:` lines joined with `\n`; `None` when the frame had no data line (comments only).
    pub data: Option<String>,
    pub comments: Vec<String>,
    pub raw: Bytes,
}

impl Frame {
    /// True when the frame carries only comments (keep-alives).
    pub fn is_comment(&self) -> bool {
        self.data.is_none() && self.event.is_none()
    }
}

/// Incremental decoder.
///
/// ```
/// use gatedrill::sse::{Decoder, encode};
///
/// // Arrange: two frames, delivered in chunks that split the first one.
/// let bytes = [encode(Some("ping"), "{}"), encode(None, "[DONE]")].concat();
/// let mut decoder = Decoder::new();
///
/// // Act
/// let mut frames = decoder.feed(&bytes[..9]);
/// frames.extend(decoder.feed(&bytes[9..]));
///
/// // Assert: both frames, and nothing left over (a clean end).
/// assert_eq!(frames[0].event.as_deref(), Some("ping"));
/// assert_eq!(frames[1].data.as_deref(), Some("[DONE]"));
/// assert!(decoder.finish().is_empty());
/// ```
#[derive(Default, Debug)]
pub struct Decoder {
    buf: BytesMut,
    /// How far `buf` has already been searched for a frame end.
    scanned: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk and returns the frames it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(chunk);
        let mut frames = Vec::new();
        while let Some(end) = find_frame_end(&self.buf, self.scanned.saturating_sub(3)) {
            let raw = self.buf.split_to(end).freeze();
            self.scanned = 0;
            frames.push(parse_frame(raw));
        }
        self.scanned = self.buf.len();
        frames
    }

    /// Bytes received that do not (yet) form a complete frame.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Ends the stream, returning the raw bytes of an unterminated frame (empty on a clean end).
    pub fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

/// Position just past the blank line that closes the first frame, if any.
/// Accepts `\n\n`, `\r\n\r\n` and mixed forms, as the SSE specification does.
fn find_frame_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i < buf.len() {
        if buf[i] == b'\n' {
            let next = i + 1;
            if buf.get(next) == Some(&b'\n') {
                return Some(next + 1);
            }
            if buf.get(next) == Some(&b'\r') && buf.get(next + 1) == Some(&b'\n') {
                return Some(next + 2);
            }
        }
        i += 1;
    }
    None
}

fn parse_frame(raw: Bytes) -> Frame {
    let text = String::from_utf8_lossy(&raw);
    let mut event = None;
    let mut data: Option<String> = None;
    let mut comments = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some(c) = line.strip_prefix(':') {
            comments.push(c.trim_start().to_string());
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => event = Some(value.to_string()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_string()),
            },
            _ => {}
        }
    }
    Frame { event, data, comments, raw }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn events() -> impl Strategy<Value = Vec<(Option<String>, String)>> {
        let name = proptest::option::of("[a-z_]{1,12}");
        // Data may hold any character but CR/LF inside a line; multi-line data is covered by
        // joining lines with \n, which `encode` splits into several data: lines.
        let data = proptest::collection::vec("[^\r\n]{0,24}", 1..3).prop_map(|l| l.join("\n"));
        proptest::collection::vec((name, data), 0..12)
    }

    fn encoded(evs: &[(Option<String>, String)]) -> Vec<u8> {
        evs.iter().flat_map(|(n, d)| encode(n.as_deref(), d).to_vec()).collect()
    }

    proptest! {
        #[test]
        fn any_split_decodes_the_same(evs in events(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8)) {
            let bytes = encoded(&evs);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut dec = Decoder::new();
            let mut got = Vec::new();
            let mut last = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                got.extend(dec.feed(&bytes[last..p]));
                last = p;
            }
            prop_assert!(dec.finish().is_empty());
            let got: Vec<_> = got.into_iter().map(|f| (f.event, f.data.unwrap())).collect();
            prop_assert_eq!(got, evs);
        }

        #[test]
        fn a_cut_keeps_a_prefix_and_the_raw_tail(evs in events(), cut in any::<prop::sample::Index>()) {
            let bytes = encoded(&evs);
            let at = cut.index(bytes.len() + 1);
            let mut dec = Decoder::new();
            let frames = dec.feed(&bytes[..at]);
            let tail = dec.finish();
            // Nothing is lost or replaced: frames plus tail are exactly the bytes received,
            // even when the cut lands inside a UTF-8 character.
            let mut rebuilt: Vec<u8> = frames.iter().flat_map(|f| f.raw.to_vec()).collect();
            rebuilt.extend_from_slice(&tail);
            prop_assert_eq!(&rebuilt[..], &bytes[..at]);
            // The decoded frames are a prefix of what was sent.
            prop_assert!(frames.len() <= evs.len());
            for (f, (n, d)) in frames.iter().zip(&evs) {
                prop_assert_eq!(&f.event, n);
                prop_assert_eq!(f.data.as_deref(), Some(d.as_str()));
            }
        }
    }

    #[test]
    fn comments_and_crlf() {
        let mut dec = Decoder::new();
        let frames = dec.feed(b": keep-alive\r\n\r\nevent: ping\r\ndata: {}\r\n\r\n");
        assert_eq!(frames.len(), 2);
        assert!(frames[0].is_comment());
        assert_eq!(frames[0].comments, vec!["keep-alive"]);
        assert_eq!(frames[1].event.as_deref(), Some("ping"));
        assert_eq!(frames[1].data.as_deref(), Some("{}"));
    }
}
