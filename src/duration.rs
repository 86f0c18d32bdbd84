//! Durations as they appear in scenario, config and fault files: strings with units
//! (`"250ms"`, `"2s"`, `"1m 30s"`) or a bare integer meaning milliseconds. Drills compress
//! time, so millisecond precision matters and every duration keeps it.
//!
//! Also the Go-style duration text OpenAI uses in `x-ratelimit-reset-*` headers (`"12ms"`, `"6m0s"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// The longest duration any file may name (24 hours). Fields have tighter ceilings of their own;
/// this one keeps every value from a file far from where `Instant` or `SystemTime` arithmetic
/// could overflow.
pub const MAX: Duration = Duration::from_secs(24 * 3600);

fn bounded<E: de::Error>(d: Duration, shown: &dyn fmt::Display) -> Result<Dur, E> {
    if d > MAX { Err(E::custom(format!("duration {shown} is longer than the ceiling of 24h"))) } else { Ok(Dur(d)) }
}

/// A duration parsed from `"250ms"`-style text or integer milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub Duration);

impl Dur {
    pub const fn from_millis(ms: u64) -> Self {
        Dur(Duration::from_millis(ms))
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0.as_secs_f64() * 1000.0
    }
}

impl From<Duration> for Dur {
    fn from(d: Duration) -> Self {
        Dur(d)
    }
}

impl schemars::JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration with units (\"250ms\", \"2s\", \"1m 30s\") or integer milliseconds",
            "oneOf": [
                {"type": "string", "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]+(\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]+)*\\s*$"},
                {"type": "integer", "minimum": 0}
            ]
        })
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration with units such as \"250ms\" or \"2s\", or integer milliseconds")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                let d = humantime::parse_duration(v.trim()).map_err(|e| {
                    E::custom(format!("invalid duration {v:?}: {e} (use units, e.g. \"250ms\", \"2s\")"))
                })?;
                bounded(d, &format_args!("{v:?}"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                bounded(Duration::from_millis(v), &format_args!("{v}ms"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                let ms = u64::try_from(v).map_err(|_| E::custom(format!("a duration cannot be negative: {v}")))?;
                self.visit_u64(ms)
            }
        }
        d.deserialize_any(V)
    }
}

/// Formats like Go's `time.Duration.String()` at millisecond precision: `"0s"`, `"12ms"`,
/// `"1.5s"`, `"6m0s"`, `"1h2m3s"`.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms / 60_000) % 60;
    let secs = (ms / 1000) % 60;
    let frac = ms % 1000;
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if hours > 0 || minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    if frac == 0 {
        out.push_str(&format!("{secs}s"));
    } else {
        let f = format!("{frac:03}");
        out.push_str(&format!("{secs}.{}s", f.trim_end_matches('0')));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_matches_go() {
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_millis(12)), "12ms");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(360)), "6m0s");
        assert_eq!(go_duration(Duration::from_millis(3_723_250)), "1h2m3.25s");
    }

    #[test]
    fn parses_units_and_integer_millis() {
        let d: Dur = serde_json::from_str("\"250ms\"").unwrap();
        assert_eq!(d.0, Duration::from_millis(250));
        let d: Dur = serde_json::from_str("1500").unwrap();
        assert_eq!(d.0, Duration::from_millis(1500));
        let e = serde_json::from_str::<Dur>("\"fast\"").unwrap_err();
        assert!(e.to_string().contains("invalid duration"), "{e}");
        assert!(serde_json::from_str::<Dur>("-5").is_err());
        for huge in ["\"18446744073709551615s\"", "\"99999h\"", "18446744073709551615", "\"25h\""] {
            let e = serde_json::from_str::<Dur>(huge).unwrap_err();
            assert!(e.to_string().contains("ceiling"), "{huge}: {e}");
        }
        assert_eq!(serde_json::from_str::<Dur>("\"24h\"").unwrap().0, MAX);
    }
}
