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

/// Replacements for a secret, the first that contains no secret's form is used.
const MASKS: [&str; 4] = ["[redacted]", "[REDACTED]", "***", "#"];

/// The secrets a run knows (its admin token, webhook secret, the provider keys it generated or
/// read, URL userinfo), each with every encoding a writer or a gateway could give it: raw,
/// JSON-escaped, percent-encoded, HTML/XML-escaped, base64 (standard, URL-safe, unpadded) and
/// hex. Redaction works on values before anything is serialized (DESIGN.md), so an artifact stays
/// valid JSON or XML whatever a secret holds, and a secret of any length is redacted.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    /// Every form, longest first.
    forms: Vec<String>,
    mask: &'static str,
}

impl Secrets {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(secrets: I) -> Self {
        let mut s = Secrets::default();
        for x in secrets {
            s.add(x.as_ref());
        }
        s
    }

    /// Adds a secret (and its encodings); an empty one is nothing to hide.
    pub fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let json = serde_json::to_string(secret).unwrap_or_default();
        let mut forms = vec![
            secret.to_string(),
            json.trim_matches('"').to_string(),
            percent(secret),
            xml_escape(secret),
            STANDARD.encode(secret),
            STANDARD_NO_PAD.encode(secret),
            URL_SAFE.encode(secret),
            URL_SAFE_NO_PAD.encode(secret),
            hex::encode(secret),
        ];
        forms.retain(|f| !f.is_empty());
        self.extend(&Secrets { forms, mask: "" });
    }

    /// Adds every form another set knows.
    pub fn extend(&mut self, other: &Secrets) {
        self.forms.extend(other.forms.iter().cloned());
        self.forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        self.forms.dedup();
        self.pick_mask();
    }

    fn pick_mask(&mut self) {
        self.mask = MASKS.iter().copied().find(|m| !self.forms.iter().any(|f| m.contains(f.as_str()))).unwrap_or("");
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// Whether any form of any secret appears in `text`.
    pub fn appears_in(&self, text: &str) -> bool {
        self.forms.iter().any(|f| text.contains(f.as_str()))
    }

    /// `text` with every form of every secret masked. Masking can, in a contrived case, join two
    /// pieces into a secret again: it repeats until nothing is left, and a text that still holds
    /// one after that is masked whole.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for _ in 0..4 {
            if !self.appears_in(&out) {
                return out;
            }
            for f in &self.forms {
                if out.contains(f.as_str()) {
                    out = out.replace(f.as_str(), self.mask);
                }
            }
        }
        if self.appears_in(&out) { self.mask.to_string() } else { out }
    }

    /// Masks secrets in every string of a JSON value (object keys included).
    pub fn redact_value(&self, v: &mut serde_json::Value) {
        self.redact_value_keeping(v, &|_| false);
    }

    /// Masks secrets in every string and object key of a JSON value, except keys and whole
    /// strings `keep` names (a type's own field names and enum ids, which are gatedrill's
    /// vocabulary and hold nothing secret).
    pub fn redact_value_keeping(&self, v: &mut serde_json::Value, keep: &dyn Fn(&str) -> bool) {
        use serde_json::Value;
        if self.forms.is_empty() {
            return;
        }
        match v {
            Value::String(s) if !keep(s) && self.appears_in(s) => *s = self.redact(s),
            Value::Array(a) => a.iter_mut().for_each(|x| self.redact_value_keeping(x, keep)),
            Value::Object(m) => {
                if m.keys().any(|k| !keep(k) && self.appears_in(k)) {
                    let old = std::mem::take(m);
                    for (k, mut x) in old {
                        self.redact_value_keeping(&mut x, keep);
                        let k = if keep(&k) { k } else { self.redact(&k) };
                        m.insert(k, x);
                    }
                } else {
                    m.values_mut().for_each(|x| self.redact_value_keeping(x, keep));
                }
            }
            _ => {}
        }
    }
}

fn percent(s: &str) -> String {
    crate::wire::percent_encode(s, b"-_.~")
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

#[cfg(test)]
mod secrets_tests {
    use super::*;

    #[test]
    fn every_encoding_of_every_secret_is_masked_however_short() {
        let s = Secrets::new(["a\"b\\c<d&e>", "Q7z"]);
        for text in [
            "x a\"b\\c<d&e> y",
            r#"{"t":"a\"b\\c<d&e>"}"#,
            "a%22b%5Cc%3Cd%26e%3E",
            "a&quot;b\\c&lt;d&amp;e&gt;",
            "basic UTd6",
            "Q7z",
        ] {
            let out = s.redact(text);
            assert!(!s.appears_in(&out), "{text} -> {out}");
        }
        let mut v = serde_json::json!({"Q7z": ["Q7z", 1, true], "k": "ok"});
        s.redact_value(&mut v);
        assert_eq!(v, serde_json::json!({"[redacted]": ["[redacted]", 1, true], "k": "ok"}));
    }

    #[test]
    fn the_mask_never_holds_a_secret() {
        let s = Secrets::new(["red"]);
        let out = s.redact("a red car");
        assert!(!out.contains("red"), "{out}");
    }
}
