//! Coordinated-omission correction, shown the way it matters: a provider stalls at a fixed
//! rate under open-model load with one connection. Measured from when each request was really
//! sent, the stall touches so few requests that p99 does not see it; measured from when each
//! request was due (the corrected figure), every request queued behind the stall counts, and
//! p99 reflects it.

use clap::Parser;
use gatedrill::cli::{Cli, run};
use gatedrill::exit::Exit;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrected_p99_sees_a_periodic_stall_that_the_uncorrected_one_misses() {
    let dir = std::env::temp_dir().join(format!("gatedrill-co-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("stall.toml");
    // The embedded fleet without its simulated model latency, so one connection keeps up with
    // the schedule and only the injected stall queues requests.
    let fleet: String = std::fs::read_to_string("mocks/providers.toml")
        .unwrap()
        .lines()
        .map(|l| {
            if l.starts_with("latency") {
                "latency = { ttft = \"0ms\", jitter = \"0ms\", tokens_per_second = 100000000.0 }\n".to_string()
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("fast-providers.toml"), fleet).unwrap();
    // 100 requests/s for 6 s = 600 requests; every 200th call to the primary stalls 400 ms:
    // 3 stalled requests (0.5%, above the uncorrected p99), while about 40 requests wait behind
    // each stall (20%, inside the corrected p99).
    std::fs::write(
        &scenario,
        r#"name = "periodic_stall"
description = "the primary stalls 400 ms on every 200th request under open-model load"
playbook = "provider_failover"
providers = "fast-providers.toml"
[[faults]]
id = "stall"
fault = { kind = "delay", fixed = "400ms" }
match = { provider = "openai" }
every_nth = 200
[[steps]]
kind = "load"
against = "dry_run"
role = "author"
rate = 100.0
duration = "6s"
connections = 1
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let exit = run(Cli::parse_from(["gatedrill", "run", "--out", out.to_str().unwrap(), scenario.to_str().unwrap()]))
        .await
        .unwrap();
    let trace: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("periodic_stall/trace.json")).unwrap()).unwrap();
    assert_eq!(exit, Exit::Pass, "{:#?}", trace["problems"]);
    let load = &trace["load"][0];
    assert_eq!(load["sent"], 600);
    let corrected = load["latency"]["p99_ms"].as_f64().unwrap();
    let uncorrected = load["uncorrected"]["p99_ms"].as_f64().unwrap();
    let max = load["uncorrected"]["max_ms"].as_f64().unwrap();
    assert!(max >= 390.0, "the stall happened: uncorrected max {max} ms");
    assert!(corrected >= 250.0, "corrected p99 {corrected} ms must reflect the 400 ms stalls");
    assert!(uncorrected < 200.0, "uncorrected p99 {uncorrected} ms misses them (only 0.5% of requests stalled)");
    // Both series are in the interval log, tagged.
    let hlog = std::fs::read_to_string(out.join("periodic_stall/latency.hlog")).unwrap();
    assert!(hlog.contains("Tag=load:01:corrected,") && hlog.contains("Tag=load:01:uncorrected,"));
}
