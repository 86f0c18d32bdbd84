//! HdrHistogram interval logs (the format of the Java `HistogramLogWriter`, V2 compressed
//! histograms, base64): one `latency.hlog` per scenario. Each line is one window of one tagged
//! series, so logs from sharded runs merge exactly by adding the histograms of equal tags.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use super::{Hist, new_hist};

/// One encoded interval line.
#[derive(Clone, Debug)]
pub struct Interval {
    pub tag: String,
    /// Since the log's BaseTime (the scenario's start).
    pub start: Duration,
    line: String,
}

/// Makes a tag legal in the log format (no commas, spaces or line breaks).
pub fn clean_tag(tag: &str) -> String {
    tag.chars().map(|c| if matches!(c, ',' | ' ' | '\r' | '\n') { '_' } else { c }).collect()
}

impl Interval {
    /// Encodes one window; `None` only if compression failed, which is not expected.
    pub fn encode(tag: &str, start: Duration, duration: Duration, h: &Hist) -> Option<Interval> {
        let tag = clean_tag(tag);
        let mut buf = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut ser).ok()?;
        w.write_histogram(h, start, duration, Tag::new(&tag)).ok()?;
        Some(Interval { tag, start, line: String::from_utf8(buf).ok()? })
    }
}

/// The whole log: header, then the intervals in time order.
pub fn render(intervals: &[Interval], base: SystemTime, comment: &str) -> String {
    let secs = base.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
    let mut out = String::new();
    out.push_str(&format!("#{}\n", comment.replace('\n', " ")));
    out.push_str("#Values (and Interval_Max) are microseconds\n");
    out.push_str("#[Histogram log format version 1.3]\n");
    out.push_str(&format!("#[StartTime: {secs:.3} (seconds since epoch)]\n"));
    out.push_str(&format!("#[BaseTime: {secs:.3} (seconds since epoch)]\n"));
    out.push_str("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n");
    for i in intervals {
        out.push_str(&i.line);
    }
    out
}

/// A log that could not be read, with the byte offset where reading stopped.
#[derive(Debug, thiserror::Error)]
#[error("interval log: {message} (at byte {offset})")]
pub struct HlogError {
    pub offset: usize,
    pub message: String,
}

/// Every interval of a log, decoded: (tag, start since BaseTime, length, histogram).
pub fn parse(text: &str) -> Result<Vec<(String, Duration, Duration, Hist)>, HlogError> {
    let mut out = Vec::new();
    let mut de = Deserializer::new();
    let mut consumed = 0usize;
    for entry in IntervalLogIterator::new(text.as_bytes()) {
        match entry {
            Ok(LogEntry::Interval(i)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(i.encoded_histogram())
                    .map_err(|e| HlogError { offset: consumed, message: format!("bad base64: {e}") })?;
                let h: Hist = de
                    .deserialize(&mut bytes.as_slice())
                    .map_err(|e| HlogError { offset: consumed, message: format!("bad histogram: {e:?}") })?;
                let tag = i.tag().map_or_else(String::new, |t| t.as_str().to_string());
                out.push((tag, i.start_timestamp(), i.duration(), h));
                consumed += 1;
            }
            Ok(_) => {}
            Err(hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset }) => {
                return Err(HlogError { offset, message: "unparsable line".into() });
            }
        }
    }
    Ok(out)
}

/// Adds every interval of equal tag: the exact merge.
pub fn merge_parsed(parsed: impl IntoIterator<Item = (String, Duration, Duration, Hist)>) -> BTreeMap<String, Hist> {
    let mut out: BTreeMap<String, Hist> = BTreeMap::new();
    for (tag, _, _, h) in parsed {
        let total = out.entry(tag).or_insert_with(new_hist);
        let _ = total.add(&h);
    }
    out
}

/// Decodes and merges encoded intervals (the same path a merged log takes).
pub fn merge_intervals(intervals: &[Interval]) -> BTreeMap<String, Hist> {
    let text = render(intervals, SystemTime::UNIX_EPOCH, "merge");
    merge_parsed(parse(&text).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Summary, record};

    fn hist(values_ms: &[u64]) -> Hist {
        let mut h = new_hist();
        for v in values_ms {
            record(&mut h, Duration::from_millis(*v));
        }
        h
    }

    #[test]
    fn sharded_logs_merge_exactly() {
        // Two shards of one run; merging their logs must equal recording everything in one.
        let a = hist(&[1, 2, 3, 400]);
        let b = hist(&[5, 6, 7000]);
        let log_a = render(
            &[Interval::encode("scenario", Duration::ZERO, Duration::from_secs(1), &a).unwrap()],
            SystemTime::now(),
            "a",
        );
        let log_b = render(
            &[Interval::encode("scenario", Duration::from_secs(1), Duration::from_secs(1), &b).unwrap()],
            SystemTime::now(),
            "b",
        );
        let merged = merge_parsed(parse(&log_a).unwrap().into_iter().chain(parse(&log_b).unwrap()));
        let whole = hist(&[1, 2, 3, 400, 5, 6, 7000]);
        assert_eq!(merged["scenario"], whole);
        assert_eq!(Summary::of(&merged["scenario"]).count, 7);
    }

    #[test]
    fn tags_are_made_legal() {
        assert_eq!(clean_tag("endpoint:POST /x,y"), "endpoint:POST_/x_y");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse("Tag=x,0.0,1.0,2.0,@@@notbase64\n").is_err());
    }
}
