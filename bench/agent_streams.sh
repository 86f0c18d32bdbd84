#!/usr/bin/env bash
# Agent-traffic stream throughput: SSE events/s of chat tool-call streams, Responses
# text streams and Responses function-call streams against plain chat text streams, in one run
# against one mock (examples/agent_stream_probe.rs), so the ratios compare like with like.
#
# Usage: bench/agent_streams.sh [SECONDS_PER_KIND] [--smoke]
#   --smoke: a debug build and 1 s per kind (a few seconds in all), to check the script runs;
#            its figures are not the release figures.
source "$(dirname "$0")/lib.sh"
profile=release
if [ "${2:-}" = "--smoke" ] || [ "${1:-}" = "--smoke" ]; then
  profile=debug; secs=1
  [ "${1:-}" = "--smoke" ] || secs=${1}
fi
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin gatedrill --example agent_stream_probe
else
  cargo build --quiet --bin gatedrill --example agent_stream_probe
fi
bin=target/$profile

"$bin/gatedrill" mock serve --config bench/providers.bench.toml > "$out/agent-mock.url" &
pids+=($!)
wait_line "$out/agent-mock.url"
mock=$(json_field "$out/agent-mock.url" url)

"$bin/examples/agent_stream_probe" "$mock" "$secs" 16 | tee "$out/agent-streams-$profile.txt"
