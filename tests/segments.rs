//! One scenario's load split across four machines with `--segment K/4` and joined with
//! `gatedrill merge`: together the segments send the whole schedule once (the same request
//! count and rate as one run), the joined latency is the exact sum of the segments' histograms,
//! and every gate is decided again on the joined windows, not taken from any one segment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;

use common::artifacts::json;

const SCENARIO: &str = "scenarios/total_outage_recovery.toml";

fn gatedrill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatedrill")).args(args).env_remove("GITHUB_STEP_SUMMARY").output().unwrap()
}

fn dir(name: &str) -> PathBuf {
    common::artifacts::temp_dir("segments", name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn trace(run: &Path) -> serde_json::Value {
    json(&run.join("total_outage_recovery/trace.json"))
}

#[test]
fn four_segments_send_the_whole_load_once_and_the_merge_redecides_the_gates() {
    let whole = dir("whole");
    let one = gatedrill(&["run", SCENARIO, "--out", s(&whole), "--progress", "never"]);
    assert_eq!(one.status.code(), Some(0), "{}", String::from_utf8_lossy(&one.stdout));
    let start_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now() + std::time::Duration::from_secs(2));
    let segments: Vec<PathBuf> = (1..=4).map(|k| dir(&format!("segment{k}"))).collect();
    let codes: Vec<Option<i32>> = std::thread::scope(|scope| {
        let handles: Vec<_> = segments
            .iter()
            .enumerate()
            .map(|(k, out)| {
                let (segment, start_at) = (format!("{}/4", k + 1), start_at.to_string());
                scope.spawn(move || {
                    let args = ["run", SCENARIO, "--segment", &segment, "--start-at", &start_at, "--out", s(out)];
                    gatedrill(&[&args[..], &["--progress", "never"]].concat()).status.code()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // Segment 1 also counts the scenario's three failing probe dry-runs against its quarter of
    // the load: alone, its tool_success_rate gate fails. The others carry load only.
    assert_eq!(codes, [Some(1), Some(0), Some(0), Some(0)]);
    let gate = |t: &serde_json::Value, name: &str| {
        t["gates"].as_array().unwrap().iter().find(|g| g["gate"] == name).unwrap().clone()
    };
    assert_eq!(gate(&trace(&segments[0]), "tool_success_rate >= 0.9")["verdict"], "fail");

    let merged = dir("merged");
    let mut args = vec!["merge"];
    args.extend(segments.iter().map(|d| s(d)));
    args.extend(["--out", s(&merged)]);
    let m = gatedrill(&args);
    assert_eq!(m.status.code(), Some(0), "{}", String::from_utf8_lossy(&m.stdout));
    let (joined, single) = (trace(&merged), trace(&whole));

    // The whole schedule, once: the same requests and tasks as one machine, at the same rate.
    let load = |t: &serde_json::Value, k: &str| t["load"][0][k].clone();
    assert_eq!(load(&joined, "sent"), load(&single, "sent"));
    assert_eq!(load(&joined, "requested_rate"), load(&single, "requested_rate"));
    assert_eq!(joined["totals"]["tasks"], single["totals"]["tasks"]);
    let per_segment: Vec<u64> = segments.iter().map(|d| trace(d)["load"][0]["sent"].as_u64().unwrap()).collect();
    assert_eq!(per_segment, [10, 10, 10, 10]);

    // The joined corrected latency counts every segment's requests.
    assert_eq!(load(&joined, "latency")["count"], load(&single, "sent"));
    // Re-decided on the joined windows: the gate segment 1 failed passes, with the whole's value.
    let g = gate(&joined, "tool_success_rate >= 0.9");
    assert_eq!(g["verdict"], "pass", "{g}");
    assert_eq!(g["value"], gate(&single, "tool_success_rate >= 0.9")["value"]);
    assert_eq!(joined["passed"], true);
    let meta = json(&merged.join("run.json"));
    assert_eq!(meta["incomplete"], false);

    // A segment missing is refused by name; a shard cannot stand in for a segment.
    let r = gatedrill(&["merge", s(&segments[0]), s(&segments[1]), s(&segments[2]), "--out", s(&dir("m2"))]);
    let err = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(err.contains("segment(s) missing: 4/4"), "{err}");
}
