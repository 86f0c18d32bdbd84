//! Handling of secrets (admin token, API keys, webhook secret): compared in constant time,
//! never printed. Artifacts and logs only ever see [`Redacted`] or a fingerprint.

use std::fmt;

/// Constant-time equality (length is not hidden; every byte is compared).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A string that prints as `[redacted]` in `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Redacted(pub String);

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eq_and_redaction() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert_eq!(format!("{:?} {}", Redacted("k".into()), Redacted("k".into())), "[redacted] [redacted]");
    }
}
