#!/usr/bin/env bash
# The release-window watch over real time: `gatedrill watch` against the reference gateway
# (`gatedrill gateway serve`) and the mock fleet, the primary provider flapping (every other
# request fails, and it is down altogether for 5 s of every 20 s), for SECONDS (default 120).
# Reports the rules decided, the probe count and rounds, and the watch process's own peak
# memory and CPU time (from /usr/bin/time -v, when installed).
#   bench/watch.sh [SECONDS] [EVERY]   (default 120 1s; a smoke run: bench/watch.sh 5 500ms)
# Uses target/release/gatedrill when it is built, else target/debug/gatedrill (BUILD=release
# builds it first).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-120}
every=${2:-1s}
out=bench/results/watch
mkdir -p "$out"
if [ "${BUILD:-}" = release ]; then cargo build --release -q --bin gatedrill; fi
bin=target/release/gatedrill
[ -x "$bin" ] || { cargo build -q --bin gatedrill; bin=target/debug/gatedrill; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_line() { for _ in $(seq 100); do [ -s "$1" ] && return; sleep 0.1; done; echo "no output in $1" >&2; exit 1; }

# The flapping primary: every other request fails, and a full outage in windows.
{
  echo '[[rules]]'
  echo 'id = "flap"'
  echo 'fault = { kind = "http_error", status = 500 }'
  echo 'match = { provider = "openai" }'
  echo 'every_nth = 2'
  for start in $(seq 10 20 $((secs + 20))); do
    echo '[[rules]]'
    echo "id = \"down-$start\""
    echo 'fault = { kind = "outage", mode = "http_503" }'
    echo 'match = { provider = "openai" }'
    echo "from = \"${start}s\""
    echo "until = \"$((start + 5))s\""
  done
} > "$out/flapping.toml"
# A server's first line is read from a file: an old one must not be mistaken for it.
rm -f "$out/mock.jsonl" "$out/gw.jsonl"

"$bin" mock serve --faults "$out/flapping.toml" > "$out/mock.jsonl" &
pids+=($!)
wait_line "$out/mock.jsonl"
url_of() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("provider") == sys.argv[2]: print(e["url"])' "$out/mock.jsonl" "$1"; }
chain="openai:gpt-5,anthropic:claude-sonnet-4-5,deepseek:deepseek-chat"
env -i PATH="$PATH" ADMIN_API_TOKEN=bench-admin-token AGENT_ORCHESTRATION_ENABLED=true \
  AI_RUNTIME_OPENAI_ENDPOINT="$(url_of openai)" AI_RUNTIME_OPENAI_API_KEY=sk-gatedrill-openai-0001 AI_RUNTIME_OPENAI_MODEL=gpt-5 \
  AI_RUNTIME_ANTHROPIC_ENDPOINT="$(url_of anthropic)" AI_RUNTIME_ANTHROPIC_API_KEY=sk-ant-gatedrill-0001 AI_RUNTIME_ANTHROPIC_MODEL=claude-sonnet-4-5 \
  AI_RUNTIME_DEEPSEEK_ENDPOINT="$(url_of deepseek)" AI_RUNTIME_DEEPSEEK_API_KEY=sk-gatedrill-deepseek-0001 AI_RUNTIME_DEEPSEEK_MODEL=deepseek-chat \
  AI_AUTHOR_MODEL_CHAIN="$chain" AI_CRITIC_MODEL_CHAIN="$chain" AI_MAKER_MODEL_CHAIN="$chain" AI_JUDGE_MODEL_CHAIN="$chain" \
  AI_PROVIDER_COOLDOWN_MS=3000 AI_PROVIDER_TIMEOUT_MS=2000 \
  "$bin" gateway serve --bind 127.0.0.1:0 > "$out/gw.jsonl" &
pids+=($!)
wait_line "$out/gw.jsonl"
gw=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["gateway"])' "$out/gw.jsonl")

timer=()
if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -v -o "$out/time.txt"); fi
rm -f "$out/time.txt"
set +e
ADMIN_API_TOKEN=bench-admin-token "${timer[@]}" "$bin" watch --target "$gw" --for "${secs}s" --every "$every" \
  --out "$out/run" --state "$out/run/state.json" >"$out/console.txt" 2>"$out/progress.txt"
code=$?
set -e
tail -n 3 "$out/progress.txt"
cat "$out/console.txt"
python3 - "$out" "$code" "$secs" <<'PY' | tee "$out/summary.txt"
import json, re, sys, os
out, code, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rec = json.load(open(os.path.join(out, "run/release/watch.json")))
w = rec["watch"]
print(f"watch of {secs}s every {w['every_ms']:.0f} ms: exit {code}, {w['rounds']} rounds, {w['probes']} probes, {w['duration_ms']/1000:.1f}s")
for v in w["verdicts"]:
    vals = sorted({x["value"] for x in v["values"] if x["value"] is not None})
    print(f"  {v['rule']:<24} {v['outcome']:<10} {v['observations']} observations, longest hold {v['longest_held_ms']/1000:.1f}s, values seen {vals}")
t = os.path.join(out, "time.txt")
if os.path.exists(t):
    text = open(t).read()
    get = lambda k: re.search(re.escape(k) + r":\s*([0-9.:]+)", text).group(1)
    cpu = float(get("User time (seconds)")) + float(get("System time (seconds)"))
    print(f"watch process: peak RSS {int(get('Maximum resident set size (kbytes)'))/1024:.1f} MiB, CPU {cpu:.2f}s ({100*cpu/max(w['duration_ms']/1000, 0.001):.1f}% of one core)")
else:
    print("watch process: /usr/bin/time not installed, memory and CPU not measured")
PY
