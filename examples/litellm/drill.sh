#!/usr/bin/env bash
# Drills LiteLLM proxy with gatedrill's OpenAI-compatible library: installs LiteLLM into a
# virtual environment (target/litellm-venv), then runs scenarios/openai_compatible/ against a
# LiteLLM that gatedrill spawns per scenario, once with a fallback chain and once with a priority
# group, each configured from the templates here with the mocks' URLs.
#
#   examples/litellm/drill.sh [fallbacks|priority|both]   (default: both)
#
# Artifacts go to artifacts/litellm-<profile>/ (report.html, traces with the providers' journal).
# gatedrill's verdicts are the result: exit 0 when it ran (whatever it found), 2 on a set-up error.
set -euo pipefail
cd "$(dirname "$0")/../.."
which="${1:-both}"
version="${LITELLM_VERSION:-1.108.7}"
venv="${LITELLM_VENV:-target/litellm-venv}"
if ! "$venv/bin/litellm" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "litellm[proxy]==$version"
fi
bin="${GATEDRILL_BIN:-target/release/gatedrill}"
[ -x "$bin" ] || cargo build --release --quiet
export PATH="$PWD/$venv/bin:$PATH"
case "$which" in both) profiles="fallbacks priority" ;; fallbacks|priority) profiles="$which" ;;
  *) echo "usage: $0 [fallbacks|priority|both]" >&2; exit 2 ;; esac
for p in $profiles; do
  out="artifacts/litellm-$p"
  set +e
  "$bin" run scenarios/openai_compatible/ \
    --target 'cmd:litellm --config "$LITELLM_CONFIG" --host 127.0.0.1 --port "$GATEDRILL_GATEWAY_PORT"' \
    --profile "examples/litellm/profile-$p.toml" --gateway-version "litellm-$version" \
    --out "$out" --progress never
  code=$?
  set -e
  if [ "$code" -ne 0 ] && [ "$code" -ne 1 ] && [ "$code" -ne 4 ]; then
    echo "gatedrill could not drill LiteLLM ($p): exit $code" >&2
    exit 2
  fi
  echo "LiteLLM ($p): gatedrill exit $code; verdicts in $out/report.html and $out/drill-evidence.md"
done
