#!/usr/bin/env bash
# Memory and pacing over a long run: an open-model load
# of REQUESTS dry-runs (default one million) at RATE per second against the embedded stack
# (reference gateway and mock fleet, simulated model latency included), all in one gatedrill
# process. Reports resident memory at every 100k requests (target: under 64 MiB, growth from
# 100k to the end under 10%) and the achieved versus requested rate (target: within 1%).
#   bench/memory_1m.sh [REQUESTS] [RATE]   (CI runs 20000 2000 as a smoke test, figures not judged)
# PROVIDERS=path/to/providers.toml swaps the fleet (e.g. bench/providers.bench.toml: one provider,
# no simulated latency, no quota in reach), to tell the harness's own memory from the fleet's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requests=${1:-1000000}
rate=${2:-2500}
out=bench/results/memory
mkdir -p "$out"
secs=$(python3 -c "print(f'{$requests / $rate:.3f}s')")
providers_line=""
if [ -n "${PROVIDERS:-}" ]; then providers_line="providers = \"$(realpath "$PROVIDERS")\""; fi
cat >"$out/long_load.toml" <<TOML
name = "long_load"
description = "an open-model load of $requests dry-runs at $rate per second"
playbook = "model_outage"
$providers_line
window = "10s"
step_deadline = "20s"
gates = ["error_rate < 1%"]
[[steps]]
kind = "load"
against = "dry_run"
rate = $rate
duration = "$secs"
connections = 256
TOML
cargo build --release -q
timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v); fi
"${timer[@]}" target/release/gatedrill run "$out/long_load.toml" --out "$out/run" --progress never >"$out/console.txt" 2>"$out/time.txt" || true
cat "$out/console.txt"
# The summary says plainly when the load did not finish or missed its rate (a loaded machine),
# and fails only when there is nothing to read (gatedrill itself failed to write its trace).
python3 - "$out/run/long_load/trace.json" "$out/time.txt" "$requests" "$rate" <<'PY'
import json, os, re, sys
trace, timing, requests, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timing).read()) if os.path.exists(timing) else None
peak_line = f"peak rss (time -v)  {int(peak.group(1)) / 1024:.1f} MiB" if peak else "peak rss: /usr/bin/time not available"
if not os.path.exists(trace):
    print(f"NO TRACE: gatedrill wrote no {trace}; see the console output above")
    print(peak_line)
    sys.exit(1)
t = json.load(open(trace))
loads = t.get("load") or []
if not loads:
    steps = [s for s in t.get("steps", []) if s.get("kind") == "load"]
    why = "; ".join(f"{c['name']}: expected {c['expected']}, got {c['actual']}"
                    for s in steps for c in s.get("checks", []) if not c.get("passed"))
    print(f"RATE NOT MET: the load of {requests} requests at {rate:.0f}/s did not finish "
          f"({why or 'no load report'}); this machine could not keep that rate, so no rate, "
          "latency or per-100k memory figures exist for this run. Try a lower RATE.")
    print(peak_line)
    sys.exit(0)
load = loads[0]
achieved, requested = load["achieved_rate"], load.get("requested_rate") or rate
print(f"requests sent      {load['sent']}  errors {load['errors']}")
print(f"rate requested     {requested:.1f}/s  achieved {achieved:.1f}/s ({100 * (achieved / requested - 1):+.2f}%)")
if achieved < 0.99 * requested:
    print("RATE NOT MET: achieved more than 1% below the requested rate (target: within 1%)")
lat, unc = load.get("latency") or {}, load.get("uncorrected") or {}
if lat and unc:
    print(f"latency corrected  p50 {lat['p50_ms']:.2f} ms  p99 {lat['p99_ms']:.2f} ms")
    print(f"latency measured   p50 {unc['p50_ms']:.2f} ms  p99 {unc['p99_ms']:.2f} ms")
    if lat["p99_ms"] > 2 * unc["p99_ms"] + 10:
        print(f"BEHIND: requests left well after they were due (corrected p99 {lat['p99_ms']:.0f} ms against "
              f"{unc['p99_ms']:.0f} ms from the real send): the rate was kept on average, but with a backlog, "
              "and the RSS samples below include the memory of those queued requests")
rss = load.get("rss") or []
for s in rss:
    print(f"rss after {s['sent']:>8} requests: {s['rss_mib']:.1f} MiB")
if len(rss) >= 2:
    first, last = rss[0]["rss_mib"], rss[-1]["rss_mib"]
    print(f"growth from {rss[0]['sent']} to {rss[-1]['sent']}: {100 * (last / first - 1):+.1f}%")
else:
    print("rss samples: fewer than two (one is taken every 100k requests)")
print(peak_line)
PY
