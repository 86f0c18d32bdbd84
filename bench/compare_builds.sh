#!/usr/bin/env bash
# Two gatedrill builds side by side, rounds interleaved (bench/compare_builds.py says what is
# measured). Keep the build before a change with `cp target/release/gatedrill /tmp/gatedrill-before`.
#
# Usage: bench/compare_builds.sh BUILD_A BUILD_B [SECONDS] [ROUNDS] [STREAMS]   (defaults 10 3 20000)
#   CI runs it with the same build twice, `... 1 1 50`, as a smoke test (figures not judged).
a=${1:?usage: bench/compare_builds.sh BUILD_A BUILD_B [SECONDS] [ROUNDS] [STREAMS]}
b=${2:?usage: bench/compare_builds.sh BUILD_A BUILD_B [SECONDS] [ROUNDS] [STREAMS]}
a=$(realpath "$a"); b=$(realpath "$b")
shift 2
source "$(dirname "$0")/lib.sh"
cargo build --release --locked --quiet --bin gatedrill --example bare_axum --example stream_probe
python3 bench/compare_builds.py "$a" "$b" --seconds "$secs" --rounds "${2:-3}" --streams "${3:-20000}" \
  --results "$out" | tee "$out/compare_builds.md"
