#!/usr/bin/env bash
# Memory and pacing over a long run (issue "Latency, gates and evidence"): an open-model load
# of REQUESTS dry-runs (default one million) at RATE per second against the embedded stack
# (reference gateway and mock fleet, simulated model latency included), all in one gatedrill
# process. Reports resident memory at every 100k requests (target: under 64 MiB, growth from
# 100k to the end under 10%) and the achieved versus requested rate (target: within 1%).
#   bench/memory_1m.sh [REQUESTS] [RATE]
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
python3 - "$out/run/long_load/trace.json" "$out/time.txt" <<'PY'
import json, re, sys
t = json.load(open(sys.argv[1]))
load = t["load"][0]
print(f"requests sent      {load['sent']}  errors {load['errors']}")
print(f"rate requested     {load['requested_rate']:.1f}/s  achieved {load['achieved_rate']:.1f}/s "
      f"({100 * (load['achieved_rate'] / load['requested_rate'] - 1):+.2f}%)")
print(f"latency corrected  p50 {load['latency']['p50_ms']:.2f} ms  p99 {load['latency']['p99_ms']:.2f} ms")
print(f"latency measured   p50 {load['uncorrected']['p50_ms']:.2f} ms  p99 {load['uncorrected']['p99_ms']:.2f} ms")
for s in load["rss"]:
    print(f"rss after {s['sent']:>8} requests: {s['rss_mib']:.1f} MiB")
rss = load["rss"]
if len(rss) >= 2:
    first, last = rss[0]["rss_mib"], rss[-1]["rss_mib"]
    print(f"growth from {rss[0]['sent']} to {rss[-1]['sent']}: {100 * (last / first - 1):+.1f}%")
peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(sys.argv[2]).read())
if peak:
    print(f"peak rss (time -v)  {int(peak.group(1)) / 1024:.1f} MiB")
PY
