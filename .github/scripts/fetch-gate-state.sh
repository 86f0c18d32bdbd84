#!/usr/bin/env bash
# Restores the launch gate's hard-stop state for one environment from the newest earlier run of
# the launch-gate workflow that saved it (an artifact named launch-gate-state-<environment>).
# The Actions cache is not used: it is scoped per ref (a release could not see the previous tag's
# state), collides on re-runs and can be written by other workflows. A re-run never reads its
# own run's state. Any API failure fails the step: a gate without its memory could miss the
# runbook's "more than one consecutive strict run" and release a rollout it should pause.
#
# usage: fetch-gate-state.sh ENVIRONMENT DEST_DIR   (needs GH_TOKEN with actions: read)
set -euo pipefail
environment=$1 dest=$2
name="launch-gate-state-${environment}"
mkdir -p "$dest"
runs=$(gh api "repos/${GITHUB_REPOSITORY}/actions/artifacts?name=${name}&per_page=100" \
  --jq '.artifacts | sort_by(.created_at) | reverse | .[] | select(.expired | not) | .workflow_run.id')
for run in $runs; do
  [ "$run" = "$GITHUB_RUN_ID" ] && continue
  path=$(gh api "repos/${GITHUB_REPOSITORY}/actions/runs/${run}" --jq .path)
  [ "$path" = ".github/workflows/launch-gate.yml" ] || continue
  gh run download "$run" --repo "$GITHUB_REPOSITORY" --name "$name" --dir "$dest"
  echo "hard-stop state for ${environment} restored from run ${run}"
  exit 0
done
echo "no earlier launch-gate state for ${environment}: this is its first strict run"
