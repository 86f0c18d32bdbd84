#!/usr/bin/env bash
# The side-by-side benchmark against the peers: gatedrill's mock, bare axum
# returning the same bytes, llmock and fakellm from PyPI; interleaved rounds, medians, a Markdown
# table and JSON in bench/results/peers.{md,json}. bench/peers.py says what is measured.
#
# Usage: bench/peers.sh [SECONDS_PER_RUN] [ROUNDS] [STREAMS]   (defaults 10 3 2000)
#   CI runs `bench/peers.sh 1 1 50` as a smoke test (figures not judged). When the peers cannot
#   be installed (no PyPI), the table has gatedrill and bare axum only, and says why.
source "$(dirname "$0")/lib.sh"
rounds=${2:-3}
streams=${3:-2000}
cargo build --release --locked --quiet --bin gatedrill --example bare_axum --example stream_probe

venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! timeout 300 "$venv/bin/pip" install --quiet --disable-pip-version-check "llmock==0.2.2" "fakellm==0.3.5"; then
  echo "peers unavailable: pip could not install llmock 0.2.2 and fakellm 0.3.5; measuring gatedrill and bare axum only" >&2
fi
python3 bench/peers.py --seconds "$secs" --rounds "$rounds" --streams "$streams" --venv "$venv" \
  --results "$out" --command "bench/peers.sh $secs $rounds $streams"
