#!/usr/bin/env bash
# Mock provider throughput and memory.
#
# Measures, on this machine with wrk sharing the cores:
#   1. non-streaming chat completions/s and p50/p99 at 32 connections, against a bare axum
#      handler returning the same bytes (examples/bare_axum.rs), in the same run;
#   2. resident memory of the mock before and after MEMORY_REQUESTS requests;
#   3. streaming time to first byte and events/s (examples/stream_probe.rs);
#   4. 900-byte prompts, unique per request against repeated (bench/prompt900.lua).
# Every load is bounded in time and count and targets 127.0.0.1 only.
#
# Usage: bench/mock_throughput.sh [SECONDS_PER_RUN] [MEMORY_REQUESTS] [STREAMS]
#   defaults 10, 1000000, 2000; CI runs `1 20000 200` as a smoke test (figures not judged).
source "$(dirname "$0")/lib.sh"
memory_requests=${2:-1000000}
streams=${3:-2000}
cargo build --release --quiet --bin gatedrill --example bare_axum --example stream_probe

./target/release/gatedrill mock serve --config bench/providers.bench.toml > "$out/mock.url" &
pids+=($!); mock_pid=$!
wait_line "$out/mock.url"
mock=$(json_field "$out/mock.url" url)

curl -s "$mock/v1/chat/completions" -H 'Authorization: Bearer sk-bench-0001' -H 'content-type: application/json' \
  -d '{"model":"gpt-5","messages":[{"role":"user","content":"hello there"}]}' > "$out/answer.json"
./target/release/examples/bare_axum "$out/answer.json" > "$out/bare.url" &
pids+=($!)
wait_line "$out/bare.url"
bare=$(head -1 "$out/bare.url")

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
run_wrk() { wrk -t2 -c32 -d"${secs}s" --latency -s bench/chat.lua "$1/v1/chat/completions"; }

wrk -t2 -c32 -d"${warm}s" -s bench/chat.lua "$mock/v1/chat/completions" >/dev/null   # warm-up
wrk -t2 -c32 -d"${warm}s" -s bench/chat.lua "$bare/v1/chat/completions" >/dev/null
bare_out=$(run_wrk "$bare")
mock_out=$(run_wrk "$mock")
bare_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$bare_out")
mock_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$mock_out")

# Prompts of about 900 bytes, the same one again and again against a new one every request (which
# the count cache cannot serve): the rate of unique over repeated (goal: at least 0.7).
prompt_run() { UNIQUE=$1 wrk -t2 -c32 -d"${secs}s" -s bench/prompt900.lua "$mock/v1/chat/completions"; }
repeated_rps=$(prompt_run 0 | awk '/Requests\/sec/ {print $2}')
unique_rps=$(prompt_run 1 | awk '/Requests\/sec/ {print $2}')

# Memory over MEMORY_REQUESTS requests (bounded: at most 40 runs of at most 5s).
rss_before=$(rss "$mock_pid")
served() { curl -s "$mock/_gatedrill/health" | python3 -c 'import json,sys; print(json.load(sys.stdin)["journal"]["next_seq"])'; }
start_seq=$(served)
for _ in $(seq 40); do
  [ $(( $(served) - start_seq )) -ge "$memory_requests" ] && break
  wrk -t2 -c32 -d"$(( secs < 5 ? secs : 5 ))s" -s bench/chat.lua "$mock/v1/chat/completions" >/dev/null
done
served_n=$(( $(served) - start_seq ))
rss_after=$(rss "$mock_pid")

stream=$(./target/release/examples/stream_probe "$mock" "$streams" 16)

{
  echo "mock non-streaming: ${mock_rps} req/s, p50 $(field "$mock_out" 50%), p99 $(field "$mock_out" 99%)"
  echo "bare axum baseline: ${bare_rps} req/s, p50 $(field "$bare_out" 50%), p99 $(field "$bare_out" 99%)"
  python3 -c "print('mock / bare: %.1f%% (target >= 80%%)' % (100*$mock_rps/$bare_rps))"
  echo "900-byte prompts: repeated ${repeated_rps} req/s, unique ${unique_rps} req/s"
  python3 -c "print('unique / repeated: %.2f (target >= 0.70)' % ($unique_rps/$repeated_rps))"
  echo "memory: RSS ${rss_before} KiB before, ${rss_after} KiB after ${served_n} requests;" \
       "growth $(( (rss_after - rss_before) / 1024 )) MiB (target < 20 MiB)"
  echo "streaming: $stream"
} | tee "$out/summary.txt"
