//! A run split across machines with `--shard K/N` and joined with `gatedrill merge`: the merged
//! run gives the same scenarios, verdicts, failure modes, findings and gates as one run with the
//! same seed, and a merge refuses a missing or foreign shard by name unless told to merge a
//! partial result, which then does not pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::artifacts::json;

fn gatedrill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatedrill"))
        .args(args)
        .args(["--progress", "never"].iter().filter(|_| args[0] == "run"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap()
}

fn dir(name: &str) -> PathBuf {
    common::artifacts::temp_dir("shards", name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Per scenario: verdict, failure modes, findings and gate verdicts, from the launch-gate summary
/// and the traces.
fn outcomes(out: &Path) -> Vec<String> {
    let summary = json(&out.join("release/production-launch-gate-summary.json"));
    let mut rows: Vec<String> = summary["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sc| {
            let name = sc["name"].as_str().unwrap();
            let trace = json(&out.join(name).join("trace.json"));
            let gates: Vec<String> =
                trace["gates"].as_array().unwrap().iter().map(|g| format!("{}={}", g["gate"], g["verdict"])).collect();
            format!(
                "{name} passed={} modes={} findings={} gates={gates:?}",
                sc["passed"], sc["failureModes"], sc["findings"]
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn four_shards_merged_decide_as_one_run() {
    let whole = dir("whole");
    let one = gatedrill(&["run", "scenarios/", "--seed", "11", "--out", s(&whole)]);
    assert_eq!(one.status.code(), Some(0), "{}", String::from_utf8_lossy(&one.stdout));
    let shards: Vec<PathBuf> = (1..=4).map(|k| dir(&format!("shard{k}"))).collect();
    std::thread::scope(|scope| {
        for (k, out) in shards.iter().enumerate() {
            scope.spawn(move || {
                let shard = format!("{}/4", k + 1);
                let r = gatedrill(&["run", "scenarios/", "--seed", "11", "--shard", &shard, "--out", s(out)]);
                assert_eq!(r.status.code(), Some(0), "shard {shard}: {}", String::from_utf8_lossy(&r.stdout));
            });
        }
    });
    let counts: Vec<usize> =
        shards.iter().map(|d| json(&d.join("run.json"))["scenarios"].as_array().unwrap().len()).collect();
    let library = std::fs::read_dir("scenarios")
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(counts.iter().sum::<usize>(), library, "every scenario in exactly one shard: {counts:?}");

    let merged = dir("merged");
    let mut args = vec!["merge"];
    args.extend(shards.iter().map(|d| s(d)));
    args.extend(["--out", s(&merged)]);
    let m = gatedrill(&args);
    assert_eq!(m.status.code(), Some(0), "{}", String::from_utf8_lossy(&m.stderr));
    assert_eq!(outcomes(&merged), outcomes(&whole));
    let meta = json(&merged.join("run.json"));
    assert_eq!(meta["seed"], 11);
    assert_eq!(meta["incomplete"], false);

    // Shard 3 lost: refused, naming it and its scenarios.
    let partial = dir("partial");
    let without: Vec<&str> = vec!["merge", s(&shards[0]), s(&shards[1]), s(&shards[3]), "--out", s(&partial)];
    let r = gatedrill(&without);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("shard(s) missing: 3/4"), "{err}");
    // With --allow-partial: merged, marked incomplete, and not a pass.
    let mut allowed = without.clone();
    allowed.push("--allow-partial");
    let r = gatedrill(&allowed);
    assert_eq!(r.status.code(), Some(1), "{}", String::from_utf8_lossy(&r.stderr));
    let meta = json(&partial.join("run.json"));
    assert_eq!(meta["incomplete"], true);
    assert!(meta["missingParts"][0].as_str().unwrap().starts_with("3/4"), "{meta}");

    // A shard of another split (other seed) is foreign; so is one given twice.
    let foreign = dir("foreign");
    let f = gatedrill(&["run", "scenarios/", "--seed", "12", "--shard", "3/4", "--out", s(&foreign)]);
    assert_eq!(f.status.code(), Some(0));
    let r = gatedrill(&["merge", s(&shards[0]), s(&shards[1]), s(&foreign), s(&shards[3]), "--out", s(&dir("m2"))]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("a foreign shard: its seed differs") && err.contains("foreign"), "{err}");
    let r = gatedrill(&["merge", s(&shards[0]), s(&shards[0]), "--out", s(&dir("m3"))]);
    assert!(String::from_utf8_lossy(&r.stderr).contains("given twice"));
}

#[test]
fn a_strict_launch_gate_is_never_split() {
    for split in ["--shard", "--segment"] {
        let r = gatedrill(&["run", "scenarios/launch_gate.toml", "--strict", split, "1/2", "--out", s(&dir("strict"))]);
        assert_eq!(r.status.code(), Some(2), "{split}");
        assert!(String::from_utf8_lossy(&r.stderr).contains("hard-stop state counts whole runs"), "{split}");
    }
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    for bad in ["0/4", "5/4", "x"] {
        let r = gatedrill(&["run", "scenarios/launch_gate.toml", "--shard", bad, "--out", s(&dir("bad"))]);
        assert_eq!(r.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&r.stderr).contains("--shard"), "{bad}");
    }
}
