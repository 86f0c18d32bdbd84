#!/usr/bin/env bash
# Reference gateway throughput and overhead.
#
# With a healthy, zero-latency mock provider, measures on this machine (wrk sharing the cores):
#   - dry-run probes/s through the gateway, with p50/p99;
#   - the same streamed provider call sent directly to the mock, with p50/p99;
#   - the latency the gateway adds: the difference of the two at p50 and p99;
#   - the same at a fixed rate (RATE per second, default 1000; examples/fixed_rate.rs, an open
#     model measured from each request's due time), ROUNDS rounds of direct then gateway
#     (default 3), medians: the runbook's goal is under 1 ms added at p99 at 1,000/s;
#   - a third leg, direct through examples/tcp_relay.rs: the same three processes on the cores as
#     the gateway leg (load, relay, mock) with no HTTP work in the middle, so what the gateway adds
#     over one more busy process shows apart from what any third process costs on two cores.
# Loopback only; every load is bounded in time.
#
# Usage: bench/gateway_overhead.sh [SECONDS_PER_RUN] [RATE] [ROUNDS]
#   (default 10 1000 3; CI runs 1 as a smoke test)
source "$(dirname "$0")/lib.sh"
rate=${2:-1000}
rounds=${3:-3}
cargo build --release --quiet --bin gatedrill --example fixed_rate --example tcp_relay

bench_mock gw-mock.url
mock=$(json_field "$out/gw-mock.url" url)

env -i PATH="$PATH" ADMIN_API_TOKEN=bench-admin-token AGENT_ORCHESTRATION_ENABLED=true \
  AI_RUNTIME_OPENAI_ENDPOINT="$mock" AI_RUNTIME_OPENAI_API_KEY=sk-bench-0001 AI_RUNTIME_OPENAI_MODEL=gpt-5 \
  AI_PROVIDER_COOLDOWN_MS=1000 \
  ./target/release/gatedrill gateway serve --bind 127.0.0.1:0 > "$out/gw.url" &
pids+=($!)
wait_line "$out/gw.url"
gw=$(json_field "$out/gw.url" gateway)
./target/release/examples/tcp_relay "${mock#http://}" > "$out/gw-relay.url" &
pids+=($!)
wait_line "$out/gw-relay.url"
relay=$(head -1 "$out/gw-relay.url")

to_ms() { python3 -c 'import sys; v=sys.argv[1]; print(float(v[:-2])/1000 if v.endswith("us") else float(v[:-2]) if v.endswith("ms") else float(v[:-1])*1000)' "$1"; }

wrk -t2 -c16 -d"${warm}s" -s bench/dry_run.lua "$gw/api/admin/ai-runtime/dry-run" >/dev/null
gw_out=$(wrk -t2 -c16 -d"${secs}s" --latency -s bench/dry_run.lua "$gw/api/admin/ai-runtime/dry-run")
direct_out=$(wrk -t2 -c16 -d"${secs}s" --latency -s bench/direct_stream.lua "$mock/v1/chat/completions")
errors=$(grep -E "Non-2xx|Socket errors" <<<"$gw_out" || true)

gw_p50=$(to_ms "$(field "$gw_out" 50%)"); gw_p99=$(to_ms "$(field "$gw_out" 99%)")
d_p50=$(to_ms "$(field "$direct_out" 50%)"); d_p99=$(to_ms "$(field "$direct_out" 99%)")
{
  echo "gateway dry-run: $(awk '/Requests\/sec/ {print $2}' <<<"$gw_out") probes/s, p50 ${gw_p50}ms, p99 ${gw_p99}ms ${errors:+($errors)}"
  echo "direct provider call: $(awk '/Requests\/sec/ {print $2}' <<<"$direct_out") req/s, p50 ${d_p50}ms, p99 ${d_p99}ms"
  python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print('gateway adds: p50 %.3fms, p99 %.3fms' % (a-c, b-d))" "$gw_p50" "$gw_p99" "$d_p50" "$d_p99"
} | tee "$out/gateway-summary.txt"

# Fixed rate: the same program for both legs, rounds interleaved, medians of each leg's figures.
body_of() { sed -n "s/^wrk.body = '\\(.*\\)'\$/\\1/p" "$1"; }
fixed() { ./target/release/examples/fixed_rate "$@"; }
: > "$out/gateway-fixed-rate.txt"
for _ in $(seq "$rounds"); do
  echo "direct $(fixed "$mock/v1/chat/completions" "$rate" "$secs" 256 "$(body_of bench/direct_stream.lua)" \
    'authorization: Bearer sk-bench-0001')" >> "$out/gateway-fixed-rate.txt"
  echo "gateway $(fixed "$gw/api/admin/ai-runtime/dry-run" "$rate" "$secs" 256 "$(body_of bench/dry_run.lua)" \
    'x-admin-token: bench-admin-token')" >> "$out/gateway-fixed-rate.txt"
  echo "relayed $(fixed "$relay/v1/chat/completions" "$rate" "$secs" 256 "$(body_of bench/direct_stream.lua)" \
    'authorization: Bearer sk-bench-0001')" >> "$out/gateway-fixed-rate.txt"
done
python3 - "$out/gateway-fixed-rate.txt" "$rate" <<'PY' | tee -a "$out/gateway-summary.txt"
import statistics, sys
legs = {}
for line in open(sys.argv[1]):
    leg, *pairs = line.split()
    legs.setdefault(leg, []).append(dict(p.split("=", 1) for p in pairs))
med = lambda leg, k: statistics.median(float(r[k]) for r in legs[leg])  # noqa: E731
for leg, runs in legs.items():
    bad = sum(int(r["errors"]) for r in runs)
    late = sum(int(r["late_sends"]) for r in runs)
    print(f"fixed {sys.argv[2]}/s, {leg}: achieved {med(leg, 'achieved_rate'):.0f}/s, p50 {med(leg, 'p50_ms'):.3f}ms, "
          f"p99 {med(leg, 'p99_ms'):.3f}ms, p99.9 {med(leg, 'p999_ms'):.3f}ms; from the real send p50 "
          f"{med(leg, 'sent_p50_ms'):.3f}ms, p99 {med(leg, 'sent_p99_ms'):.3f}ms ({len(runs)} runs, {bad} errors, "
          f"{late} sends over 1 ms late)")
diff = lambda k, base="direct": med("gateway", k) - med(base, k)  # noqa: E731
print("gateway adds at a fixed %s/s: p50 %.3fms, p99 %.3fms (goal: p99 under 1 ms); from the real send p50 %.3fms, "
      "p99 %.3fms" % (sys.argv[2], diff("p50_ms"), diff("p99_ms"), diff("sent_p50_ms"), diff("sent_p99_ms")))
print("a third process alone (relay leg over direct) adds: p50 %.3fms, p99 %.3fms; the gateway over the relay leg "
      "(same process count): p50 %.3fms, p99 %.3fms; from the real send p50 %.3fms, p99 %.3fms" % (
      med("relayed", "p50_ms") - med("direct", "p50_ms"), med("relayed", "p99_ms") - med("direct", "p99_ms"),
      diff("p50_ms", "relayed"), diff("p99_ms", "relayed"), diff("sent_p50_ms", "relayed"), diff("sent_p99_ms", "relayed")))
late = {leg: sum(int(r["late_sends"]) for r in runs) / max(1, sum(int(r["requests"]) for r in runs)) for leg, runs in legs.items()}
if max(late.values()) > 0.05:
    print("note: %s of the sends left over 1 ms after they were due (tokio's timer ticks in whole milliseconds, and "
          "the generator shares the cores), so latencies from the due time carry the generator's own delay in "
          "every leg; the differences between legs, and the figures from the real send, do not"
          % ", ".join(f"{leg} {100 * v:.0f}%" for leg, v in late.items()))
PY
