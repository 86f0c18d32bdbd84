//! Bounded everything, checked at the door (DESIGN.md, "Verdicts fail closed"): every duration
//! and number of a scenario and of its fault rules is either refused by validation, with the
//! field located, or runs without a panic; and the loader survives a bounded fuzz of the
//! library's own files.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatedrill-bounds-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

const HEAD: &str = "name = \"bounds\"\ndescription = \"d\"\nplaybook = \"provider_failover\"\n";

/// Each field as a TOML fragment around `{v}`, with the key that must be named when refused.
const FIELDS: &[(&str, &str)] = &[
    ("step_deadline", "step_deadline = {v}\n[[steps]]\nkind = \"health\"\n"),
    ("window", "window = {v}\n[[steps]]\nkind = \"health\"\n"),
    ("duration", "[[steps]]\nkind = \"sleep\"\nduration = {v}\n"),
    (
        "deadline",
        "[[steps]]\nkind = \"wait_until\"\ncondition = { check = \"runtime_health\", health = \"ok\" }\ndeadline = {v}\n",
    ),
    ("timeout", "[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\ntimeout = {v}\n"),
    ("prompt_repeat", "[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\nprompt_repeat = {v}\n"),
    ("rate", "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nrate = {v}\nduration = \"1s\"\n"),
    ("duration", "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nrate = 10.0\nduration = {v}\n"),
    ("count", "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nconcurrency = 2\ncount = {v}\n"),
    ("concurrency", "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nconcurrency = {v}\ncount = 2\n"),
    (
        "connections",
        "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nrate = 10.0\nduration = \"1s\"\nconnections = {v}\n",
    ),
    (
        "max_error_rate",
        "[[steps]]\nkind = \"load\"\nagainst = \"dry_run\"\nconcurrency = 1\ncount = 1\nexpect = { max_error_rate = {v} }\n",
    ),
    ("keep_recent", "[[steps]]\nkind = \"session_compact\"\nkeep_recent = {v}\n"),
    ("cost_usd_above", "[[steps]]\nkind = \"dry_run\"\nrole = \"critic\"\nexpect = { cost_usd_above = {v} }\n"),
    (
        "retry_after",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"rate_limit\", retry_after = {v}, retry_after_style = \"http_date\" }\n[[steps]]\nkind = \"health\"\n",
    ),
    ("fixed", "[[faults]]\nid = \"r\"\nfault = { kind = \"delay\", fixed = {v} }\n[[steps]]\nkind = \"health\"\n"),
    (
        "sigma",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"delay\", lognormal = { median = \"10ms\", sigma = {v} } }\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "delay",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"slow_first_token\", delay = {v} }\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "max",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"stream_stall\", after_events = 1, max = {v} }\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "after_events",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"stream_cut\", after_events = {v} }\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "times",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\ntimes = {v}\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "after",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\nafter = {v}\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "every_nth",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\nevery_nth = {v}\n[[steps]]\nkind = \"health\"\n",
    ),
    (
        "probability",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\nprobability = {v}\n[[steps]]\nkind = \"health\"\n",
    ),
    ("cooldown", "[conduct]\ncooldown = {v}\n[[steps]]\nkind = \"health\"\n"),
    ("retry_storm", "[conduct]\nretry_storm = {v}\n[[steps]]\nkind = \"health\"\n"),
    ("failover_budget", "[conduct]\nfailover_budget = {v}\n[[steps]]\nkind = \"health\"\n"),
    ("from", "[[faults]]\nid = \"r\"\nfault = { kind = \"auth_invalid\" }\nfrom = {v}\n[[steps]]\nkind = \"health\"\n"),
    (
        "status",
        "[[faults]]\nid = \"r\"\nfault = { kind = \"http_error\", status = {v} }\n[[steps]]\nkind = \"health\"\n",
    ),
];

/// Values as TOML literals: durations, integers and floats at and past every edge.
fn value() -> impl Strategy<Value = String> {
    let fixed = prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just("-1".to_string()),
        Just("65535".to_string()),
        Just("4294967295".to_string()),
        Just("9223372036854775807".to_string()),
        Just("1e-20".to_string()),
        Just("0.0".to_string()),
        Just("-0.5".to_string()),
        Just("1e300".to_string()),
        Just("nan".to_string()),
        Just("inf".to_string()),
        Just("\"0ms\"".to_string()),
        Just("\"1ms\"".to_string()),
        Just("\"10m\"".to_string()),
        Just("\"24h\"".to_string()),
        Just("\"25h\"".to_string()),
        Just("\"99999h\"".to_string()),
        Just("\"18446744073709551615s\"".to_string()),
        Just("\"fast\"".to_string()),
        Just("\"\"".to_string()),
    ];
    prop_oneof![
        3 => fixed,
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
        1 => (0u64..100_000_000).prop_map(|ms| format!("\"{ms}ms\"")),
    ]
}

fn load(dir: &Path, text: &str) -> Result<gatedrill::scenario::Loaded, gatedrill::input::InputError> {
    let p = dir.join("bounds.toml");
    std::fs::write(&p, text).unwrap();
    gatedrill::scenario::load(&p)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    #[test]
    fn every_number_is_refused_with_its_location_or_within_the_ceilings(
        field in 0..FIELDS.len(),
        v in value(),
    ) {
        let dir = temp_dir("prop");
        let (key, fragment) = FIELDS[field];
        let text = format!("{HEAD}{}", fragment.replace("{v}", &v));
        match load(&dir, &text) {
            Err(e) => prop_assert!(
                e.line.is_some() || e.message.contains(key),
                "{key} = {v}: refused without naming where: {e}"
            ),
            Ok(l) => {
                let s = &l.scenario;
                let day = std::time::Duration::from_secs(24 * 3600);
                prop_assert!(s.step_deadline.0 <= std::time::Duration::from_secs(600));
                prop_assert!(s.window.0 <= std::time::Duration::from_secs(3600));
                let json = serde_json::to_string(&s).unwrap();
                prop_assert!(!json.contains("NaN") && !json.contains("inf"), "{key} = {v} accepted a non-finite number");
                let c = &s.conduct;
                prop_assert!(c.cooldown.is_none_or(|d| d.0 <= std::time::Duration::from_secs(3600)));
                prop_assert!(c.failover_budget.is_none_or(|d| !d.0.is_zero() && d.0 <= std::time::Duration::from_secs(600)));
                prop_assert!((2..=1000).contains(&c.retry_storm()));
                for rule in &s.faults {
                    for d in [rule.from, rule.until].into_iter().flatten() {
                        prop_assert!(d.0 <= day);
                    }
                }
            }
        }
    }

    #[test]
    fn the_loader_survives_mangled_library_files(
        file in proptest::sample::select(library()),
        cuts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let dir = temp_dir("fuzz");
        let mut bytes = std::fs::read(&file).unwrap();
        for (at, b) in cuts {
            let i = at.index(bytes.len().max(1));
            match b % 4 {
                0 => bytes.truncate(i),
                1 => bytes.insert(i.min(bytes.len()), b),
                2 => { if i < bytes.len() { bytes[i] = b; } }
                _ => { let tail = bytes[i.min(bytes.len())..].to_vec(); bytes.extend_from_slice(&tail); }
            }
        }
        let p = dir.join("fuzzed.toml");
        std::fs::write(&p, &bytes).unwrap();
        // Ok or a located error; never a panic (proptest reports a panic as a failure).
        if let Err(e) = gatedrill::scenario::load(&p) {
            prop_assert!(!e.message.is_empty());
        }
    }
}

fn library() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

/// Values at the ceilings are accepted, and a run with them ends without a panic or an abort
/// (exit 0 or 1), with its artifacts written.
#[test]
fn values_at_the_ceilings_run_without_a_panic() {
    let dir = temp_dir("ceilings");
    let text = format!(
        "{HEAD}step_deadline = \"3s\"\nwindow = \"1h\"\n{}",
        r#"
[[faults]]
id = "huge-retry-after"
fault = { kind = "rate_limit", retry_after = "24h", retry_after_style = "http_date" }
match = { provider = "openai" }
times = 1

[[steps]]
kind = "dry_run"
role = "critic"
prompt = "x"
prompt_repeat = 100000
timeout = "10m"

[[steps]]
kind = "runtime_health"

[[steps]]
kind = "load"
against = "dry_run"
rate = 100000.0
duration = "10ms"
connections = 512

[[steps]]
kind = "session_compact"
keep_recent = 1000000
"#
    );
    let p = dir.join("ceilings.toml");
    std::fs::write(&p, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(["run", "--progress", "never", "--out"])
        .arg(dir.join("out"))
        .arg(&p)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "exit {:?}: {stderr}", out.status.code());
    assert!(!stderr.contains("panicked"), "{stderr}");
    let trace = std::fs::read_to_string(dir.join("out/bounds/trace.json")).unwrap();
    assert!(!trace.contains("GATEDRILL_HARNESS_ERROR"), "no handler failed");
}

/// `[conduct]` out of bounds is refused at validate time, naming the key and its line.
#[test]
fn conduct_bounds_are_refused_with_the_key_located() {
    let dir = temp_dir("conduct");
    for (field, value) in [("retry_storm", "1"), ("cooldown", "\"2h\""), ("failover_budget", "\"0ms\"")] {
        let text = format!("{HEAD}\n[conduct]\n{field} = {value}\n\n[[steps]]\nkind = \"health\"\n");
        let e = load(&dir, &text).expect_err(field);
        assert!(e.message.contains(&format!("conduct.{field}")), "{e}");
        assert_eq!(e.line, Some(6), "{field}: {e}");
    }
    let text = format!("{HEAD}\n[conduct]\nretry_storms = 3\n\n[[steps]]\nkind = \"health\"\n");
    assert!(load(&dir, &text).is_err(), "an unknown key is refused");
    let text = format!(
        "{HEAD}\n[conduct]\nretry_storm = 2\ncooldown = \"1h\"\nfailover_budget = \"10m\"\n\n[[steps]]\nkind = \"health\"\n"
    );
    assert_eq!(load(&dir, &text).unwrap().scenario.conduct.retry_storm(), 2);
}

/// A finding expected that nothing could judge is refused at validate time, not left to fail.
#[test]
fn expecting_slow_failover_needs_a_failover_budget() {
    let dir = temp_dir("slow_failover");
    let text = format!("{HEAD}\n[[steps]]\nkind = \"health\"\n\n[expect]\nfindings = [\"slow_failover\"]\n");
    let e = load(&dir, &text).expect_err("no budget");
    assert!(e.message.contains("failover_budget") && e.line == Some(9), "{e}");
    let text = format!(
        "{HEAD}\n[conduct]\nfailover_budget = \"1s\"\n\n[[steps]]\nkind = \"health\"\n\n[expect]\nfindings = [\"slow_failover\"]\n"
    );
    assert!(load(&dir, &text).is_ok());
}
