#!/usr/bin/env bash
# Fault proxy overhead: what `gatedrill proxy` adds in front of a provider with no fault loaded.
#
# With a healthy, zero-latency mock provider (bench/providers.bench.toml) and the proxy in front
# of it, measures in ONE run, ROUNDS rounds interleaved (direct, then through the proxy, each
# round), medians of each leg:
#   - requests/s at saturation (wrk, 32 connections): plain chat completions, and streamed ones;
#   - latency at a fixed rate (RATE per second; examples/fixed_rate.rs, an open model measured
#     from each request's due time), plain and streamed: p50 and p99, and what the proxy adds.
# Loopback only; every load is bounded in time. wrk and the servers share the machine's cores,
# so the figures are ratios and differences within this run, not absolutes.
#
# Usage: bench/proxy_overhead.sh [SECONDS_PER_RUN] [ROUNDS] [RATE]
#   (default 5 3 500; CI runs `1 1 200` as a smoke test, figures not judged)
source "$(dirname "$0")/lib.sh"
rounds=${2:-3}
rate=${3:-500}
cargo build --release --quiet --bin gatedrill --example fixed_rate

bench_mock px-mock.url
mock=$(json_field "$out/px-mock.url" url)
./target/release/gatedrill proxy --upstream "openai=$mock" --config bench/providers.bench.toml > "$out/px.url" &
pids+=($!)
wait_line "$out/px.url"
proxy=$(json_field "$out/px.url" url)

# Both legs answer the same bytes before anything is measured.
answer() { curl -s "$1/v1/chat/completions" -H 'Authorization: Bearer sk-bench-0001' -H 'content-type: application/json' \
  -d '{"model":"gpt-5","messages":[{"role":"user","content":"hello there"}]}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["message"]["content"])'; }
[ "$(answer "$mock")" = "$(answer "$proxy")" ] || { echo "the proxy answers differently from the mock" >&2; exit 1; }

to_ms() { python3 -c 'import sys; v=sys.argv[1]; print(float(v[:-2])/1000 if v.endswith("us") else float(v[:-2]) if v.endswith("ms") else float(v[:-1])*1000)' "$1"; }
body_of() { sed -n "s/^wrk.body = '\\(.*\\)'\$/\\1/p" "$1"; }
saturate() { wrk -t2 -c32 -d"${secs}s" --latency -s "$2" "$1/v1/chat/completions"; }
fixed() { ./target/release/examples/fixed_rate "$1/v1/chat/completions" "$rate" "$secs" 64 "$(body_of "$2")" \
  'authorization: Bearer sk-bench-0001'; }

wrk -t2 -c32 -d"${warm}s" -s bench/chat.lua "$proxy/v1/chat/completions" >/dev/null   # warm-up
log="$out/proxy-overhead.txt"
: > "$log"
for _ in $(seq "$rounds"); do
  for kind in plain stream; do
    script=bench/chat.lua
    [ "$kind" = stream ] && script=bench/direct_stream.lua
    for leg in direct proxy; do
      url=$mock
      [ "$leg" = proxy ] && url=$proxy
      w=$(saturate "$url" "$script")
      errors=$(grep -cE "Non-2xx|Socket errors" <<<"$w" || true)
      echo "wrk $kind $leg rps=$(awk '/Requests\/sec/ {print $2}' <<<"$w") p50_ms=$(to_ms "$(field "$w" 50%)")" \
           "p99_ms=$(to_ms "$(field "$w" 99%)") errors=$errors" >> "$log"
      echo "fixed $kind $leg $(fixed "$url" "$script")" >> "$log"
    done
  done
done
python3 - "$log" "$rate" <<'PY' | tee "$out/proxy-summary.txt"
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    tool, kind, leg, *pairs = line.split()
    runs.setdefault((tool, kind, leg), []).append(dict(p.split("=", 1) for p in pairs))
med = lambda key, k: statistics.median(float(r[k]) for r in runs[key])  # noqa: E731
n = len(runs[("wrk", "plain", "direct")])
for kind in ("plain", "stream"):
    d, p = med(("wrk", kind, "direct"), "rps"), med(("wrk", kind, "proxy"), "rps")
    bad = sum(int(r["errors"]) for leg in ("direct", "proxy") for r in runs[("wrk", kind, leg)])
    print(f"{kind}, saturated (wrk, 32 connections): direct {d:.0f} req/s, through the proxy {p:.0f} req/s "
          f"({100 * p / d:.0f}% of direct; {n} rounds, {bad} wrk error lines)")
    f = lambda leg, k: med(("fixed", kind, leg), k)  # noqa: E731
    errs = sum(int(r["errors"]) for leg in ("direct", "proxy") for r in runs[("fixed", kind, leg)])
    print(f"{kind}, fixed {sys.argv[2]}/s: direct p50 {f('direct', 'p50_ms'):.3f}ms p99 {f('direct', 'p99_ms'):.3f}ms; "
          f"proxy p50 {f('proxy', 'p50_ms'):.3f}ms p99 {f('proxy', 'p99_ms'):.3f}ms; "
          f"the proxy adds p50 {f('proxy', 'p50_ms') - f('direct', 'p50_ms'):.3f}ms, "
          f"p99 {f('proxy', 'p99_ms') - f('direct', 'p99_ms'):.3f}ms ({errs} errors); from the real send the proxy adds "
          f"p50 {f('proxy', 'sent_p50_ms') - f('direct', 'sent_p50_ms'):.3f}ms, "
          f"p99 {f('proxy', 'sent_p99_ms') - f('direct', 'sent_p99_ms'):.3f}ms")
PY
