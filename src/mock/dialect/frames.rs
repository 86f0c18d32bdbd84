//! Stream frames written straight from their parts, in the shapes of ../shared/WIRE.md (the
//! mocks are the product, and a stream's cost is paid per event). A stream's constant parts
//! (the chunk's id, model and fingerprint, an event's type) are written once per stream as
//! text, and each event adds only its own fields, escaped by serde_json as it writes them: no
//! `serde_json::Value` is built per event. Every frame of a stream goes into one buffer, so a
//! stream costs one allocation for all its frames, each handed out as a slice of it.
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

    /// Every closed frame.
    pub fn into_list(self) -> FrameList {
        FrameList { all: Bytes::from(self.buf), ends: self.ends }
    }
}

/// A stream's frames: one buffer and where each frame ends. Consecutive frames are one slice of
/// it, so frames due at the same moment leave in one write.
#[derive(Clone, Debug, Default)]
pub struct FrameList {
    all: Bytes,
    ends: Vec<usize>,
}

impl FrameList {
    /// A single frame (a plain body sent through the stream machinery).
    pub fn one(frame: Bytes) -> Self {
        FrameList { ends: vec![frame.len()], all: frame }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Frames `range` (clamped to the list) as one slice, without copying.
    pub fn span(&self, range: std::ops::Range<usize>) -> Bytes {
        let end = range.end.min(self.ends.len());
        if range.start >= end {
            return Bytes::new();
        }
        let from = if range.start == 0 { 0 } else { self.ends[range.start - 1] };
        self.all.slice(from..self.ends[end - 1])
    }

    /// Frame `i`, or nothing past the end.
    pub fn get(&self, i: usize) -> Bytes {
        self.span(i..i + 1)
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
        let frames = f.into_list();

        // Assert
        assert_eq!(count, 2);
        assert_eq!(&frames.get(0)[..], b"data: {\"content\":\"say \\\"hi\\\"\\n\"}\n\n");
        assert_eq!(&frames.get(1)[..], b"event: ping\ndata: {\"n\":7}\n\n");
        assert_eq!(frames.span(0..2), [frames.get(0), frames.get(1)].concat());
        assert!(frames.get(2).is_empty() && frames.span(1..1).is_empty());
    }
}
