//! Redaction on values (DESIGN.md, "Artifacts"): every report is redacted before any writer
//! renders it, so no writer ever sees a secret and no rendered text is ever rewritten. A report
//! goes through its JSON value, where every string (and key) is masked, and back. The ids of
//! gatedrill's own vocabulary (failure modes, outcomes, endpoints) are not secrets: should a
//! short secret happen to occur inside one, masking would break the id, so that one string is
//! restored and the report read back again. Likewise the field names of gatedrill's own types
//! (collected from their JSON Schemas) are never masked: a short secret such as `x` would
//! otherwise turn `expected` into a field no reader knows. Keys of free-form JSON (a gateway's
//! answers) are masked.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::drill::runner::ScenarioReport;
use crate::secret::Secrets;

/// Most vocabulary ids restored before giving up on a report.
const RESTORE_LIMIT: usize = 256;

/// The field names and enum ids of every type an artifact serializes.
static VOCABULARY: std::sync::LazyLock<std::collections::HashSet<String>> = std::sync::LazyLock::new(|| {
    fn collect(v: &Value, out: &mut std::collections::HashSet<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(props)) = m.get("properties") {
                    out.extend(props.keys().cloned());
                }
                if let Some(Value::Array(ids)) = m.get("enum") {
                    out.extend(ids.iter().filter_map(|v| v.as_str().map(str::to_string)));
                }
                if let Some(Value::String(id)) = m.get("const") {
                    out.insert(id.clone());
                }
                m.values().for_each(|x| collect(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
            _ => {}
        }
    }
    let mut keys = std::collections::HashSet::new();
    for schema in [
        schemars::schema_for!(ScenarioReport),
        schemars::schema_for!(super::RunMeta),
        schemars::schema_for!(super::launch_gate::Summary),
    ] {
        collect(&serde_json::to_value(schema).unwrap_or(Value::Null), &mut keys);
    }
    // The channel-traces file's own wrapper (`launch_gate::traces`).
    for k in [
        "runId",
        "target",
        "commit",
        "generatedAt",
        "incomplete",
        "channels",
        "scenario",
        "firstOperatorAction",
        "escalateTo",
    ] {
        keys.insert(k.to_string());
    }
    keys
});

fn vocabulary(key: &str) -> bool {
    VOCABULARY.contains(key)
}

/// `value` with every secret masked, as JSON.
pub fn redacted_value<T: Serialize>(value: &T, secrets: &Secrets) -> Value {
    let mut v = serde_json::to_value(value).unwrap_or(Value::Null);
    secrets.redact_value_keeping(&mut v, &vocabulary);
    v
}

/// `value` with every secret masked, read back as its type.
pub fn redacted<T: Serialize + DeserializeOwned>(value: &T, secrets: &Secrets) -> Result<T, String> {
    let original = serde_json::to_value(value).map_err(|e| e.to_string())?;
    let mut v = original.clone();
    secrets.redact_value_keeping(&mut v, &vocabulary);
    for _ in 0..RESTORE_LIMIT {
        match serde_path_to_error::deserialize::<_, T>(v.clone()) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let pointer = pointer_of(e.path());
                let Some(orig) = original.pointer(&pointer).filter(|o| o.is_string()) else {
                    return Err(e.to_string());
                };
                match v.pointer_mut(&pointer) {
                    Some(slot) if slot != orig => *slot = orig.clone(),
                    _ => return Err(e.to_string()),
                }
            }
        }
    }
    Err("too many vocabulary ids hold a secret".into())
}

/// A report with every secret masked (its interval log, which holds no text, is kept).
pub fn report(r: &ScenarioReport, secrets: &Secrets) -> Result<ScenarioReport, String> {
    if secrets.is_empty() {
        return Ok(r.clone());
    }
    let mut out = redacted(r, secrets).map_err(|e| format!("redacting scenario {}: {e}", r.name))?;
    out.intervals = r.intervals.clone();
    // A scenario's name is a snake_case id from its own file, and names its folder: an id, not
    // a secret, even when a one-character secret occurs in it.
    out.name = r.name.clone();
    Ok(out)
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = String::new();
    for seg in path.iter() {
        p.push('/');
        match seg {
            Segment::Seq { index } => p.push_str(&index.to_string()),
            Segment::Map { key } => p.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => p.push_str(variant),
            Segment::Unknown => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::FailureMode;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct R {
        mode: FailureMode,
        note: String,
    }

    #[test]
    fn ids_survive_a_secret_inside_them_and_text_does_not_keep_it() {
        let r = R { mode: FailureMode::IngestHttpError, note: "token http here".into() };
        let out = redacted(&r, &Secrets::new(["http"])).unwrap();
        assert_eq!(out.mode, FailureMode::IngestHttpError);
        assert_eq!(out.note, "token [redacted] here");
    }
}
