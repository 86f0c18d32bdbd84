#!/usr/bin/env bash
# Reference gateway throughput and overhead.
#
# With a healthy, zero-latency mock provider, measures on this machine (wrk sharing the cores):
#   - dry-run probes/s through the gateway, with p50/p99;
#   - the same streamed provider call sent directly to the mock, with p50/p99;
#   - the latency the gateway adds: the difference of the two at p50 and p99.
# Loopback only; every load is bounded in time.
#
# Usage: bench/gateway_overhead.sh [SECONDS_PER_RUN]   (default 10; CI runs 1 as a smoke test)
source "$(dirname "$0")/lib.sh"
cargo build --release --quiet --bin gatedrill

./target/release/gatedrill mock serve --config bench/providers.bench.toml > "$out/gw-mock.url" &
pids+=($!)
wait_line "$out/gw-mock.url"
mock=$(json_field "$out/gw-mock.url" url)

env -i PATH="$PATH" ADMIN_API_TOKEN=bench-admin-token AGENT_ORCHESTRATION_ENABLED=true \
  AI_RUNTIME_OPENAI_ENDPOINT="$mock" AI_RUNTIME_OPENAI_API_KEY=sk-bench-0001 AI_RUNTIME_OPENAI_MODEL=gpt-5 \
  AI_PROVIDER_COOLDOWN_MS=1000 \
  ./target/release/gatedrill gateway serve --bind 127.0.0.1:0 > "$out/gw.url" &
pids+=($!)
wait_line "$out/gw.url"
gw=$(json_field "$out/gw.url" gateway)

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
