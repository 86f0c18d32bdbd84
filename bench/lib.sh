# Shared set-up for the benchmark scripts (sourced, not run): the repository root as working
# directory, the results folder, wrk installed from Debian if missing, cleanup of started servers,
# and small helpers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
# Warm-up runs last 2 s, or less in a smoke run.
warm=$(( secs < 2 ? secs : 2 ))
out=bench/results
mkdir -p "$out"
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing wrk (Debian package)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
# Waits (bounded) for a server's first output line in FILE.
wait_line() { for _ in $(seq 100); do [ -s "$1" ] && return; sleep 0.1; done; echo "no output in $1" >&2; exit 1; }
# The value of KEY in the first JSON line of FILE.
# Starts the bench fleet (`mock serve` with bench/providers.bench.toml), its lines in $out/$1.
bench_mock() {
  ./target/release/gatedrill mock serve --config bench/providers.bench.toml > "$out/$1" &
  pids+=($!)
  wait_line "$out/$1"
}
json_field() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$1" "$2"; }
# A wrk --latency percentile line's value.
field() { awk -v k="$2" '$1 == k {print $2}' <<<"$1"; }
