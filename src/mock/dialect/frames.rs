//! Stream frames written straight from their parts (DESIGN.md, "Mock providers": the mock is
//! the product, and a stream's cost is per event). A stream's constant parts (the chunk's id,
//! model and fingerprint, an event's type) are written once per stream as text, and each event
//! adds only its own fields, escaped by serde_json as it writes them: no `serde_json::Value` is
//! built per event. Every frame of a stream goes into one buffer, so a stream costs one
//! allocation for all its frames, each handed out as a slice of it.
//!
//! The frames stay byte-identical to what the official SDKs were checked against; the corpus in
//! `tests/stream_frames.rs` holds them to it.

use bytes::Bytes;
use serde::Serialize;

/// The frames of one stream, written in order.
pub struct Frames {
    buf: Vec<u8>,
    /// Where each closed frame ends in `buf`.
    ends: Vec<usize>,
}

impl Frames {
    /// Room for `frames` frames of about `frame_bytes` each.
    pub fn new(frames: usize, frame_bytes: usize) -> Self {
        Frames { buf: Vec::with_capacity(frames * frame_bytes), ends: Vec::with_capacity(frames) }
    }

    /// Opens a frame: its `event:` line when named, then `data: `.
    pub fn open(&mut self, event: Option<&str>) -> &mut Self {
        if let Some(name) = event {
            self.buf.extend_from_slice(b"event: ");
            self.buf.extend_from_slice(name.as_bytes());
            self.buf.push(b'\n');
        }
        self.buf.extend_from_slice(b"data: ");
        self
    }

    /// Text already in its wire form (JSON punctuation, keys, constant values).
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// A JSON string, quoted and escaped.
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.json(s)
    }

    /// Any serialisable value (numbers, typed usage, an echoed request setting), as JSON.
    pub fn json<T: Serialize + ?Sized>(&mut self, v: &T) -> &mut Self {
        // Writing to a Vec cannot fail, and these types always serialise.
        let _ = serde_json::to_writer(&mut self.buf, v);
        self
    }

    /// Closes the frame with its blank line.
    pub fn close(&mut self) {
        self.buf.extend_from_slice(b"\n\n");
        self.ends.push(self.buf.len());
    }

    /// Frames closed so far.
    pub fn count(&self) -> usize {
        self.ends.len()
    }

    /// Every closed frame, as slices of one buffer.
    pub fn into_frames(self) -> Vec<Bytes> {
        let all = Bytes::from(self.buf);
        let mut start = 0;
        self.ends
            .into_iter()
            .map(|end| {
                let frame = all.slice(start..end);
                start = end;
                frame
            })
            .collect()
    }
}

/// A frame's data rendered as a JSON string, for parts written once and repeated (a chunk's
/// head, a response snapshot).
pub fn json_text<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_slices_in_order_and_escape_strings() {
        // Arrange
        let mut f = Frames::new(2, 32);

        // Act
        f.open(None).raw("{\"content\":").str("say \"hi\"\n").raw("}").close();
        f.open(Some("ping")).raw("{\"n\":").json(&7u64).raw("}").close();
        let count = f.count();
        let frames = f.into_frames();

        // Assert
        assert_eq!(count, 2);
        assert_eq!(&frames[0][..], b"data: {\"content\":\"say \\\"hi\\\"\\n\"}\n\n");
        assert_eq!(&frames[1][..], b"event: ping\ndata: {\"n\":7}\n\n");
    }
}
